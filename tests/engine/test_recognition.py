"""Recognition: who sees which praise in the feed (public for everyone; private for the
colleague, the giver, the colleague's managers up the line and HR — the readers of feedback
shared with its subject), the feed a page at a time, per-person counts by tag, and praise the
pack's process refuses."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from engine.base.models import ProcessInstance, Record
from engine.people.directory import DirectorySnapshot, current_directory
from engine.performance import recognition
from engine.performance.scorecard import may_read_feedback
from engine.workflow import runtime

pytestmark = pytest.mark.usefixtures("standard")

# Dana directs Morgan, who leads Eve and Eli; Hana is HR (and reports to Dana).


@dataclass(frozen=True)
class Viewer:
    person_id: int
    groups: frozenset[str] = field(default_factory=frozenset)


async def _viewers() -> dict[str, Viewer]:
    directory = await current_directory()
    return {
        p.key: Viewer(p.id, frozenset({"hr"}) if p.key == "H1" else frozenset())
        for p in directory.people.values()
    }


async def _praise(giver: str, about: str, message: str, visibility: str,
                  tag: str = "Own it") -> None:
    actor = await runtime.actor_for(giver)
    await recognition.praise_colleague(actor, {"colleague": about, "message": message,
                                               "tag": tag, "visibility": visibility})


async def _feed(viewer: Viewer, limit: int = 50, before: int | None = None) -> list[str]:
    page = await recognition.recognition_feed(viewer, await current_directory(), limit, before)
    return [p.message for p in page.praise]


async def test_public_praise_reaches_everyone_and_private_only_whom_it_concerns() -> None:
    await _praise("E2", "E1", "Saved the launch.", "public")
    await _praise("E2", "E1", "Quiet thanks for covering.", "private")
    await _praise("E1", "M1", "Good call on the rollback.", "private")
    v = await _viewers()
    both = ["Quiet thanks for covering.", "Saved the launch."]
    # The colleague, the giver, her manager, his manager (up the line) and HR read it.
    for key in ("E1", "E2", "M1", "D1", "H1"):
        assert [m for m in await _feed(v[key]) if m in both] == both, key
    # Praise of the manager is not his report's business, nor his peers'.
    assert "Good call on the rollback." not in await _feed(v["E2"])
    assert "Good call on the rollback." in await _feed(v["D1"])
    assert "Good call on the rollback." in await _feed(v["E1"])  # she gave it


async def test_private_praise_has_the_readers_of_feedback_shared_with_its_subject() -> None:
    """The rule is feedback's, for the same audience: whoever may read feedback "shared" with
    the colleague may read private praise of them — no more, no fewer."""
    directory: DirectorySnapshot = await current_directory()
    v = await _viewers()
    for giver in ("E2", "M1", "H1"):
        for about in ("E1", "M1", "D1"):
            if giver == about:
                continue
            data = {"from_id": v[giver].person_id, "about_id": v[about].person_id,
                    "visibility": "private"}
            for viewer in v.values():
                shared = {**data, "visibility": "shared"}
                assert recognition.may_see_praise(data, viewer, directory) == may_read_feedback(
                    shared, v[about].person_id, viewer, directory
                ), (giver, about, viewer)
    # Public praise: everyone, whatever feedback's rule says.
    public = {"from_id": v["E2"].person_id, "about_id": v["D1"].person_id,
              "visibility": "public"}
    assert all(recognition.may_see_praise(public, viewer, directory) for viewer in v.values())


async def test_hidden_private_praise_never_crowds_older_public_praise_out_of_the_feed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Small batches, so a handful of records spans several of them.
    monkeypatch.setattr(recognition, "FEED_BATCH", 3)
    await _praise("M1", "D1", "The oldest public praise.", "public")
    await _praise("D1", "M1", "Older public praise.", "public")
    for n in range(7):
        await _praise("E1", "M1", f"Private to Morgan {n}.", "private")
    v = await _viewers()
    # Eli sees none of the seven newer private pieces, and still gets a full page.
    assert await _feed(v["E2"], limit=2) == ["Older public praise.",
                                             "The oldest public praise."]
    first = await recognition.recognition_feed(v["M1"], await current_directory(), 4)
    assert [p.message for p in first.praise] == [f"Private to Morgan {n}." for n in (6, 5, 4, 3)]
    # "Older praise" continues after the last one shown, until there is no more.
    assert first.older_before == first.praise[-1].id
    second = await recognition.recognition_feed(v["M1"], await current_directory(), 4,
                                                first.older_before)
    assert [p.message for p in second.praise] == [
        "Private to Morgan 2.", "Private to Morgan 1.", "Private to Morgan 0.",
        "Older public praise."]
    assert second.older_before is not None
    last = await recognition.recognition_feed(v["M1"], await current_directory(), 4,
                                              second.older_before)
    assert [p.message for p in last.praise] == ["The oldest public praise."]
    assert last.older_before is None
    # A page that ends exactly at the oldest praise offers no older page.
    exact = await recognition.recognition_feed(v["E2"], await current_directory(), 2)
    assert exact.older_before is None
    with pytest.raises(ValueError, match="at least one"):
        await recognition.recognition_feed(v["E2"], await current_directory(), 0)


async def test_counts_by_person_and_tag_as_the_viewer_may_see_them() -> None:
    await _praise("E2", "E1", "Saved the launch.", "public", "Own it")
    await _praise("M1", "E1", "Great demo.", "public", "Customers first")
    await _praise("D1", "E1", "Took the on-call week.", "private", "Own it")
    await _praise("E1", "E2", "Thanks for the review.", "private", "Collaboration")
    v = await _viewers()
    directory = await current_directory()
    own = await recognition.praise_counts(v["E1"].person_id, v["E1"], directory)
    assert (own.received, own.given) == (3, 1)
    assert own.by_tag == [("Own it", 2), ("Customers first", 1)]
    # Eli sees Eve's public praise, and the private praise he received from her.
    eli = await recognition.praise_counts(v["E1"].person_id, v["E2"], directory)
    assert (eli.received, eli.given) == (2, 1)
    assert eli.by_tag == [("Customers first", 1), ("Own it", 1)]
    # Morgan manages both: he sees everything; so does HR.
    for key in ("M1", "H1"):
        seen = await recognition.praise_counts(v["E1"].person_id, v[key], directory)
        assert (seen.received, seen.given) == (3, 1), key
    # Someone nobody praised.
    assert await recognition.praise_counts(v["H1"].person_id, v["H1"], directory) == (
        recognition.PraiseCounts())


async def test_bad_praise_is_refused_before_anything_starts() -> None:
    eve = await runtime.actor_for("E1")
    good = {"colleague": "E2", "message": "Thanks.", "tag": "Own it", "visibility": "public"}
    for change, error in (
        ({"message": "   "}, "needs a message"),
        ({"message": "x" * 2001}, "over 2000 characters"),
        ({"visibility": "everyone"}, "visibility must be one of public, private"),
        ({"tag": "Made up"}, "'Made up' is none of the pack's values"),
        ({"colleague": "NOBODY"}, "no colleague 'NOBODY'"),
        ({"colleague": "E1"}, "praise is for someone else"),
    ):
        with pytest.raises(recognition.PraiseError, match=error):
            await recognition.praise_colleague(eve, {**good, **change})
    assert await Record.filter(kind="recognition").count() == 0
    assert not await ProcessInstance.filter(process_id="recognition").exists()
    # The same praise, put right, is recorded (the message trimmed).
    await recognition.praise_colleague(eve, {**good, "message": "  Thanks.  "})
    [row] = await Record.filter(kind="recognition")
    assert row.data["message"] == "Thanks." and row.data["visibility"] == "public"


def test_tags_are_the_values_then_the_competencies_of_the_pack() -> None:
    catalogs = {
        "values": {"values": {"own": {"name": "Own it", "description": "Act like an owner."},
                              "broken": {"description": "no name"}}},
        "competencies": {"competencies": {"comm": {"name": "Communication"}}},
    }
    groups = recognition.tag_groups(catalogs)
    assert [(g.label, g.tags) for g in groups] == [
        ("Company values", (("Own it", "Act like an owner."),)),
        ("Competencies", (("Communication", ""),)),
    ]
    assert recognition.tag_groups({}) == []


async def test_the_demo_praise_and_feedback_go_through_the_packs_processes(db: str) -> None:
    """`make run`: a lively feed, and feedback the demo employee answered and one to answer."""
    from pathlib import Path

    from engine.operations import demo
    from engine.operations.demo_recognition import DEMO_PRAISE
    from engine.performance import feedback

    await demo.seed([Path(__file__).resolve().parents[2] / "processes"])
    directory = await current_directory()
    employee, manager, peer = (directory.by_key[k] for k in ("E1021", "E1009", "E1020"))
    # Every piece is a finished instance of the recognition process, none in error.
    assert await ProcessInstance.filter(process_id="recognition",
                                        status="completed").count() == len(DEMO_PRAISE)
    assert not await ProcessInstance.filter(status="error").exists()
    own = await recognition.recognition_feed(Viewer(employee.id), directory)
    messages = [p.message for p in own.praise]
    assert any("customer portal release" in m for m in messages)
    assert any(p.is_private and p.about_id == employee.id for p in own.praise)
    # A colleague from another team sees the public praise only.
    outsider = directory.by_key["E1060"]
    seen = await recognition.recognition_feed(Viewer(outsider.id), directory)
    assert seen.praise and not any(p.is_private for p in seen.praise)
    counts = await recognition.praise_counts(employee.id, Viewer(employee.id), directory)
    assert counts.received == 3 and counts.given == 2
    assert {tag for tag, _ in counts.by_tag} == {"Own it", "Customers first", "Better together"}
    # Feedback: the peer's is answered with a reply, the manager's waits for her.
    lists = await feedback.feedback_lists(Viewer(employee.id), directory)
    # (The positions demo adds colleagues' feedback rating competencies: not this story's.)
    by_giver = {e.data["from_id"]: e for e in lists.received
                if not e.data.get("competency_ratings")}
    assert set(by_giver) == {peer.id, manager.id}
    answered, waiting = by_giver[peer.id], by_giver[manager.id]
    assert answered.response is not None and answered.response.is_reply
    assert "checklist" in answered.response.text and answered.respond_task_id is None
    assert waiting.response is None and waiting.respond_task_id is not None
    # The giver sees the reply under the feedback they gave.
    [given] = [e for e in (await feedback.feedback_lists(Viewer(peer.id), directory)).given
               if not e.data.get("competency_ratings")]
    assert given.response is not None and "checklist" in given.response.text
