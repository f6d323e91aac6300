"""The audit trail against someone with access to the database: rows rewritten with hashes
computed again, rows appended, the newest rows cut off — each shows in `audit verify`, thanks to
the audit key and the anchors kept outside the database."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.base.models import AuditEvent, AuditStream, HumanTask, ProcessInstance
from engine.operations.worker import Worker, WorkerSettings
from engine.workflow import audit, runtime
from engine.workflow.audit import seal_with_key, verify_chain

OBJECTIVES = [{"kra": "Delivery", "title": "Ship", "kpi": "Releases",
               "measure_type": "higher_is_better", "baseline": 0, "target": 2, "weight": 100}]
KEY = "a-key-kept-outside-the-database"


@pytest.fixture
def anchors(tmp_path: Path) -> Iterator[Path]:
    """The audit key set and an anchor file, for one test."""
    file = tmp_path / "anchors.jsonl"
    audit.configure(KEY, file)
    yield file
    audit.configure("", None)


async def an_instance_with_history() -> ProcessInstance:
    hr, eve = await runtime.actor_for("H1"), await runtime.actor_for("E1")
    inst = await runtime.start_process("objective_setting", subject="E1", actor=hr)
    draft = await HumanTask.get(instance_id=inst.id, bpmn_id="draft_objectives")
    await runtime.complete_task(draft.id, eve, {"objectives": OBJECTIVES, "comments": ""})
    return await ProcessInstance.get(id=inst.id)


def plain_hash(row: AuditEvent, prev: str) -> str:
    """What someone without the key computes for a row: SHA-256 as the old trail did."""
    body = json.dumps([prev, row.stream, row.seq, row.at.isoformat(), row.actor, row.action,
                       row.instance_id, row.task_id, row.detail],
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


async def anchor() -> None:
    await Worker(WorkerSettings()).anchor_audit()


async def test_a_keyed_trail_verifies_and_records_its_anchors_outside(
    standard: None, anchors: Path
) -> None:
    await an_instance_with_history()
    await anchor()
    report = await verify_chain()
    assert report.ok, str(report)
    assert "sealed with the audit key" in str(report)
    assert "1 anchors matched outside the database" in str(report)
    [line] = anchors.read_text().splitlines()
    assert json.loads(line)["seq"] == 1


async def test_rows_rewritten_with_their_hashes_computed_again_show(
    standard: None, anchors: Path
) -> None:
    inst = await an_instance_with_history()
    rows = await AuditEvent.filter(instance_id=inst.id).order_by("seq")
    completed = next(r for r in rows if r.action == "task_completed")
    completed.detail = {**completed.detail, "data": {"objectives": [], "comments": "forged"}}
    # The forger recomputes every hash from there on, and the head — without the key.
    prev = next(r.hash for r in rows if r.seq == completed.seq - 1)
    for row in rows[completed.seq - 1:]:
        if row.id == completed.id:
            row.detail = completed.detail
        row.prev_hash, row.hash = prev, plain_hash(row, prev)
        await row.save()
        prev = row.hash
    await ProcessInstance.filter(id=inst.id).update(audit_head=prev)
    report = await verify_chain()
    assert not report.ok and report.first_bad_id == completed.id
    assert "content does not match its hash" in report.reason


async def test_an_appended_forgery_shows(standard: None, anchors: Path) -> None:
    inst = await an_instance_with_history()
    last = await AuditEvent.filter(instance_id=inst.id).order_by("-seq").first()
    assert last is not None
    forged = AuditEvent(stream=last.stream, seq=last.seq + 1, at=last.at, actor="person:H1",
                        action="task_completed", instance_id=inst.id, detail={"data": {}},
                        prev_hash=last.hash, keyed=True)
    forged.hash = plain_hash(forged, last.hash)
    await forged.save()
    await ProcessInstance.filter(id=inst.id).update(audit_seq=forged.seq, audit_head=forged.hash)
    report = await verify_chain()
    assert not report.ok and report.first_bad_id == forged.id


async def test_a_row_sealed_without_the_key_shows(standard: None, anchors: Path) -> None:
    inst = await an_instance_with_history()
    last = await AuditEvent.filter(instance_id=inst.id).order_by("-seq").first()
    assert last is not None
    plain = AuditEvent(stream=last.stream, seq=last.seq + 1, at=last.at, actor="person:H1",
                       action="note", instance_id=inst.id, detail={}, prev_hash=last.hash)
    plain.hash = plain_hash(plain, last.hash)
    await plain.save()
    await ProcessInstance.filter(id=inst.id).update(audit_seq=plain.seq, audit_head=plain.hash)
    report = await verify_chain()
    assert not report.ok and "not sealed with the audit key" in report.reason


async def test_the_newest_rows_cut_off_show_through_the_anchors(
    standard: None, anchors: Path
) -> None:
    inst = await an_instance_with_history()
    await anchor()
    rows = await AuditEvent.filter(instance_id=inst.id).order_by("seq")
    # Cut the last event off and set the head back to the one before: a consistent chain.
    await rows[-1].delete()
    await ProcessInstance.filter(id=inst.id).update(audit_seq=rows[-2].seq,
                                                    audit_head=rows[-2].hash)
    report = await verify_chain()
    assert not report.ok and f"event {rows[-1].seq}, anchored by" in report.reason
    # Cutting the anchor off too still shows: the file outside remembers it.
    await AuditEvent.filter(stream=audit.ANCHOR).delete()
    await AuditStream.filter(name=audit.ANCHOR).delete()
    report = await verify_chain()
    assert not report.ok
    assert "anchor 1 of" in report.reason and "is gone in the database" in report.reason


async def test_a_trail_begun_without_the_key_is_sealed_with_it_once(
    standard: None, tmp_path: Path
) -> None:
    await an_instance_with_history()
    await anchor()
    assert (await verify_chain()).ok
    file = tmp_path / "anchors.jsonl"
    file.write_text(json.dumps({"seq": 1, "hash": (await AuditEvent.get(stream="anchor")).hash,
                                "at": "2026-12-01T00:00:00+00:00"}) + "\n")
    audit.configure(KEY, file)
    try:
        report = await verify_chain()
        assert not report.ok and "not sealed with the audit key" in report.reason
        sealed, anchors_note = await seal_with_key()
        assert sealed == await AuditEvent.all().count()
        assert "anchors.jsonl.before-seal" in anchors_note
        report = await verify_chain()
        assert report.ok, str(report)
        assert "1 anchors matched outside the database" in str(report)
    finally:
        audit.configure("", None)


async def test_sealing_refuses_a_trail_that_does_not_verify(
    standard: None, anchors: Path
) -> None:
    audit.configure("", None)
    inst = await an_instance_with_history()
    row = await AuditEvent.filter(instance_id=inst.id).first()
    assert row is not None
    row.actor = "person:someone-else"
    await row.save()
    audit.configure(KEY, anchors)
    with pytest.raises(ValueError, match="does not verify, nothing was sealed"):
        await seal_with_key()
    assert not await AuditEvent.filter(keyed=True).exists()
