"""The year so far: feedback with its responses, check-ins and praise of a subject, each only as
the person looking may read it, and only on the tasks the pack names."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from engine.base.errors import NotFound
from engine.base.models import HumanTask
from engine.packs.loading import Features
from engine.people.directory import current_directory
from engine.performance import feedback, recognition
from engine.performance.year_context import (
    SECTIONS,
    YearContext,
    cycle_period,
    task_year_context,
    year_so_far,
)
from engine.workflow import runtime

pytestmark = pytest.mark.usefixtures("standard")


@dataclass(frozen=True)
class Viewer:
    person_id: int
    groups: frozenset[str] = field(default_factory=frozenset)


async def _people() -> dict[str, int]:
    directory = await current_directory()
    return {p.key: p.id for p in directory.people.values()}


async def _feedback(giver: str, about: str, text: str, visibility: str) -> None:
    actor = await runtime.actor_for(giver)
    write = await feedback.start_feedback(actor, {"mode": "give", "colleague": about,
                                                  "topic": None, "request_message": None})
    assert write is not None
    await runtime.complete_task(write, actor, {"feedback_text": text, "visibility": visibility})


async def _year(subject: int, viewer: Viewer) -> YearContext:
    return await year_so_far(subject, None, viewer, Features(), await current_directory())


def _texts(year: YearContext, key: str) -> list[str]:
    [section] = [s for s in year.sections if s.key == key]
    return [item.text for item in section.items]


async def test_each_viewer_sees_only_what_they_may_read() -> None:
    ids = await _people()
    await _feedback("M1", "E1", "Clear design review.", "shared")
    await _feedback("E2", "E1", "Ready to lead the next project.", "manager")
    await _feedback("E2", "E1", "Note to self about Eve.", "private")
    eli = await runtime.actor_for("E2")
    await recognition.praise_colleague(eli, {"colleague": "E1", "message": "Saved the launch.",
                                             "tag": "Own it", "visibility": "public"})
    await recognition.praise_colleague(eli, {"colleague": "E1", "message": "Quiet thanks.",
                                             "tag": "Collaboration", "visibility": "private"})
    eve, morgan, hana, dana = (Viewer(ids["E1"]), Viewer(ids["M1"]),
                               Viewer(ids["H1"], frozenset({"hr"})), Viewer(ids["D1"]))
    own = await _year(ids["E1"], eve)
    assert _texts(own, "feedback") == ["Clear design review."]
    assert _texts(own, "praise") == ["Quiet thanks.", "Saved the launch."]
    managers = await _year(ids["E1"], morgan)
    assert _texts(managers, "feedback") == ["Ready to lead the next project.",
                                            "Clear design review."]
    assert _texts(await _year(ids["E1"], dana), "praise") == ["Quiet thanks.",
                                                             "Saved the launch."]
    hr = await _year(ids["E1"], hana)
    assert _texts(hr, "feedback") == ["Clear design review."]
    # HR reads private praise as it reads feedback shared with its subject.
    assert _texts(hr, "praise") == ["Quiet thanks.", "Saved the launch."]
    # The sections are the extension point, in order.
    assert [s.key for s in own.sections] == ["feedback", "checkins", "praise", "one_on_ones"]
    assert len(SECTIONS) == len(own.sections)


async def test_a_response_shows_under_the_feedback_it_answers() -> None:
    ids = await _people()
    await _feedback("M1", "E1", "Good on-call handover.", "shared")
    step = await HumanTask.get(bpmn_id="respond_feedback", status="ready")
    eve = await runtime.actor_for("E1")
    with pytest.raises(feedback.ResponseError):
        await feedback.respond_to_feedback(eve, step.id, "reply", "   ")
    await feedback.respond_to_feedback(eve, step.id, "reply", "Thanks, I wrote it up.")
    [item] = (await _year(ids["E1"], Viewer(ids["M1"]))).sections[0].items
    assert (item.note_label, item.note) == ("Reply", "Thanks, I wrote it up.")


async def test_only_the_tasks_the_pack_names_show_the_panel() -> None:
    ids = await _people()
    await _feedback("M1", "E1", "Thanks.", "shared")
    step = await HumanTask.get(bpmn_id="respond_feedback", status="ready")
    assert await task_year_context(step.id, Viewer(ids["E1"])) is None
    with pytest.raises(NotFound):
        await task_year_context(step.id, Viewer(ids["E2"]))


def test_the_period_is_the_cycles() -> None:
    from datetime import date

    from engine.base.models import Cycle

    today = date(2031, 6, 1)
    assert cycle_period(None, today) == (date(2030, 6, 1), today)
    cycle = Cycle(name="x", starts_on=date(2031, 1, 1), due_on=date(2031, 12, 15))
    assert cycle_period(cycle, today) == (date(2031, 1, 1), date(2031, 12, 15))
