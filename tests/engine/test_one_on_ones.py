"""Recurring 1:1s on a real database: scheduling, the cadence, actions carried over, private
notes, who may see what, and the reminder that reaches the outbox the day before."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from engine.base import clock
from engine.base.errors import NotFound
from engine.base.models import (
    HumanTask,
    OneOnOneMeeting,
    OneOnOneSeries,
    OutboxEmail,
    Person,
    ProcessInstance,
    Record,
)
from engine.performance import one_on_ones as oo
from engine.workflow import runtime

# Far-future dates: SpiffWorkflow compares timeDate timers with the real clock as well.
NOW = datetime(2099, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
FIRST = datetime(2099, 3, 10, 10, 0, tzinfo=UTC)  # the Tuesday after next


@dataclass(frozen=True)
class Viewer:
    person_id: int
    groups: frozenset[str] = frozenset()


async def ids() -> dict[str, int]:
    return {p.key: p.id for p in await Person.all()}


async def scheduled(cadence: str = "weekly") -> tuple[int, dict[str, int]]:
    """Morgan schedules a 1:1 with Eve; returns the first meeting's id."""
    people = await ids()
    morgan = await runtime.actor_for("M1")
    with clock.frozen_at(NOW):
        meeting_id = await oo.schedule_series(morgan, people["E1"], cadence, FIRST, 30)
    return meeting_id, people


# --- cadence arithmetic ------------------------------------------------------------------------


def test_monthly_meetings_keep_their_day_across_short_months() -> None:
    first = datetime(2099, 1, 31, 10, 0, tzinfo=UTC)
    days = [oo.occurrence(first, "monthly", n).date().isoformat() for n in range(4)]
    assert days == ["2099-01-31", "2099-02-28", "2099-03-31", "2099-04-30"]
    # Held late on 3 March: the next meeting is the one of the rhythm, on 31 March.
    after = datetime(2099, 3, 3, 12, 0, tzinfo=UTC)
    assert oo.next_occurrence(first, "monthly", after).date().isoformat() == "2099-03-31"


def test_weekly_and_fortnightly_step_over_month_and_year_ends() -> None:
    first = datetime(2099, 12, 29, 9, 30, tzinfo=UTC)
    assert oo.next_occurrence(first, "weekly", first) == datetime(2100, 1, 5, 9, 30, tzinfo=UTC)
    assert oo.next_occurrence(first, "fortnightly", first + timedelta(days=1)) == datetime(
        2100, 1, 12, 9, 30, tzinfo=UTC)
    # A meeting moved to Wednesday does not move the rhythm: the next is still a Tuesday.
    moved = first + timedelta(days=1)
    assert oo.next_occurrence(first, "weekly", moved).weekday() == first.weekday()


# --- scheduling --------------------------------------------------------------------------------


async def test_a_manager_schedules_and_the_next_meeting_exists(standard: None) -> None:
    meeting_id, people = await scheduled()

    [summary] = await oo.my_series(people["M1"])
    assert summary.other.name == "Eve Employee" and summary.role == "manager"
    assert summary.next_meeting is not None and summary.next_meeting.id == meeting_id
    assert summary.next_meeting.scheduled_at == FIRST
    [as_report] = await oo.my_series(people["E1"])
    assert as_report.role == "report" and as_report.other.name == "Morgan Manager"
    # The meeting's process waits with the manager's task, due at the meeting.
    series = await OneOnOneSeries.get(report_id=people["E1"])
    task = await HumanTask.get(instance_id=series.instance_id, bpmn_id="hold_one_on_one",
                               status="ready")
    assert task.assignee_id == people["M1"] and task.due_at == FIRST
    assert [p.name for p in await oo.reports_without_series(people["M1"])] == ["Eli Employee"]


async def test_bad_schedules_are_refused_with_a_reason_and_nothing_is_stored(
    standard: None,
) -> None:
    people = await ids()
    morgan, eve = await runtime.actor_for("M1"), await runtime.actor_for("E1")
    with clock.frozen_at(NOW):
        with pytest.raises(oo.OneOnOneError, match="own direct reports"):
            await oo.schedule_series(morgan, people["D1"], "weekly", FIRST)
        with pytest.raises(oo.OneOnOneError, match="own direct reports"):
            # A report does not schedule: they ask their manager.
            await oo.schedule_series(eve, people["M1"], "weekly", FIRST)
        with pytest.raises(oo.OneOnOneError, match="weekly, every two weeks, monthly"):
            await oo.schedule_series(morgan, people["E1"], "daily", FIRST)
        with pytest.raises(oo.OneOnOneError, match="in the future"):
            await oo.schedule_series(morgan, people["E1"], "weekly", NOW - timedelta(days=1))
        with pytest.raises(oo.OneOnOneError, match="minutes"):
            await oo.schedule_series(morgan, people["E1"], "weekly", FIRST, 7)
    assert await OneOnOneSeries.all().count() == 0
    with pytest.raises(oo.OneOnOneError, match="not a date and time"):
        oo.parse_when("next tuesday")
    await scheduled()
    with clock.frozen_at(NOW), pytest.raises(oo.OneOnOneError, match="already have"):
        await oo.schedule_series(morgan, people["E1"], "weekly", FIRST)


# --- the meeting -------------------------------------------------------------------------------


async def test_open_actions_carry_over_until_done_and_say_where_they_were_done(
    standard: None,
) -> None:
    first, people = await scheduled()
    morgan = await runtime.actor_for("M1")
    m, e = people["M1"], people["E1"]
    with clock.frozen_at(NOW):
        await oo.add_item(first, e, "agenda", "Conference budget")
        await oo.add_item(first, m, "action", "Book the course", owner_id=m)
        await oo.add_item(first, e, "action", "Draft the release scope", owner_id=e)
        await oo.save_shared_notes(first, e, "Talked about the release.")
    with clock.frozen_at(FIRST + timedelta(minutes=40)):
        second = await oo.mark_held(first, morgan)
    view = await oo.meeting_view(second, e)
    assert view.meeting.scheduled_at == FIRST + timedelta(weeks=1)
    assert [a.text for a in view.carried_actions] == ["Book the course", "Draft the release scope"]
    assert view.agenda == []  # agenda items belong to their meeting; actions carry

    [course, scope] = view.carried_actions
    with clock.frozen_at(FIRST + timedelta(days=3)):
        await oo.set_item_done(course.id, e, True, second)
    with clock.frozen_at(FIRST + timedelta(weeks=1, minutes=30)):
        third = await oo.mark_held(second, morgan)
    view = await oo.meeting_view(third, m)
    # Done in the second meeting: it no longer carries; the open one still does.
    assert [a.text for a in view.carried_actions] == ["Draft the release scope"]
    assert view.carried_actions[0].meeting_id == first
    second_view = await oo.meeting_view(second, m)
    done = [a for a in second_view.carried_actions if a.done]
    assert [(a.text, a.done_meeting_id) for a in done] == [("Book the course", second)]
    assert [p.status for p in view.past] == ["held", "held"]


async def test_holding_completes_the_task_and_the_process_records_the_meeting(
    standard: None,
) -> None:
    first, people = await scheduled()
    morgan = await runtime.actor_for("M1")
    with clock.frozen_at(NOW):
        await oo.add_item(first, people["E1"], "action", "Draft the scope", owner_id=people["E1"])
        await oo.save_shared_notes(first, people["M1"], "Scope agreed.")
    series = await OneOnOneSeries.get(report_id=people["E1"])
    first_instance = series.instance_id
    with clock.frozen_at(FIRST):
        await oo.mark_held(first, morgan)
    task = await HumanTask.get(instance_id=first_instance, bpmn_id="hold_one_on_one")
    assert task.status == "completed" and task.completed_by_id == people["M1"]
    [record] = await Record.filter(kind="one_on_one")
    assert record.person_id == people["E1"]
    assert record.data["shared_notes"] == "Scope agreed."
    assert record.data["actions"] == [
        {"text": "Draft the scope", "owner": "Eve Employee", "done": False}]
    # The next meeting runs its own process.
    await series.refresh_from_db()
    assert series.instance_id != first_instance
    assert (await ProcessInstance.get(id=series.instance_id)).status == "running"
    with clock.frozen_at(FIRST), pytest.raises(oo.OneOnOneError, match="already held"):
        await oo.mark_held(first, morgan)


async def hold_from_inbox(people: dict[str, int]) -> OneOnOneSeries:
    """The manager completes "Hold the 1:1" from the inbox, not the meeting page."""
    morgan = await runtime.actor_for("M1")
    series = await OneOnOneSeries.get(report_id=people["E1"])
    task = await HumanTask.get(instance_id=series.instance_id, bpmn_id="hold_one_on_one")
    with clock.frozen_at(FIRST):
        await runtime.complete_task(task.id, morgan, {"held_on": "2099-03-10",
                                                      "shared_notes": "From the inbox."})
    return series


async def test_completing_the_task_from_the_inbox_marks_the_meeting_held(
    standard: None,
) -> None:
    first, people = await scheduled()
    await hold_from_inbox(people)
    [summary] = await oo.my_series(people["E1"])
    assert summary.held == 1
    meeting = await OneOnOneMeeting.get(id=first)
    assert meeting.status == "held" and meeting.shared_notes == "From the inbox."
    assert summary.next_meeting is not None
    assert summary.next_meeting.scheduled_at == FIRST + timedelta(weeks=1)


async def test_hr_and_the_year_so_far_count_a_meeting_held_from_the_inbox(
    standard: None,
) -> None:
    """Nobody opened their 1:1s since the manager completed the task in the inbox: HR's
    overview and the year-end context read the meeting as held all the same."""
    first, people = await scheduled()
    series = await hold_from_inbox(people)
    [row] = await oo.hr_overview()
    assert row.held == 1
    [entry] = await oo.one_on_one_history(people["E1"], None, None, Viewer(people["M1"]))
    assert entry.meeting_id == first and entry.shared_notes == "From the inbox."
    # Settled once: the next meeting is scheduled once, whoever reads next.
    [summary] = await oo.my_series(people["E1"])
    assert summary.held == 1
    assert await OneOnOneMeeting.filter(series_id=series.id, status="scheduled").count() == 1


async def test_private_notes_are_read_by_their_author_only(standard: None) -> None:
    first, people = await scheduled()
    m, e = people["M1"], people["E1"]
    await oo.save_private_notes(first, m, "Eve seems tired; ask about workload.")
    await oo.save_private_notes(first, e, "Ask about the conference.")
    assert (await oo.meeting_view(first, m)).private_notes == (
        "Eve seems tired; ask about workload.")
    assert (await oo.meeting_view(first, e)).private_notes == "Ask about the conference."
    with clock.frozen_at(FIRST):
        await oo.mark_held(first, await runtime.actor_for("M1"))
    # Neither the record nor the history nor HR's overview carries them.
    [record] = await Record.filter(kind="one_on_one")
    assert "tired" not in str(record.data) and "conference" not in str(record.data)
    history = await oo.one_on_one_history(e, None, None, Viewer(m))
    assert len(history) == 1 and "tired" not in str(history)
    assert "notes" not in str([r.__dict__ for r in await oo.hr_overview()])


async def test_only_the_two_people_see_a_1_1(standard: None) -> None:
    first, people = await scheduled()
    series = await OneOnOneSeries.get(report_id=people["E1"])
    for outsider in ("D1", "E2", "H1"):
        pid = people[outsider]
        with pytest.raises(NotFound):
            await oo.meeting_view(first, pid)
        with pytest.raises(NotFound):
            await oo.add_item(first, pid, "agenda", "Sneaky")
        with pytest.raises(NotFound):
            await oo.save_private_notes(first, pid, "Sneaky")
        with pytest.raises(NotFound):
            await oo.end_series(series.id, await runtime.actor_for(outsider))
        assert await oo.my_series(pid) == []
    # HR sees that the series exists and how many meetings were held, nothing else.
    [row] = await oo.hr_overview()
    assert (row.manager and row.manager.name, row.report and row.report.name, row.held) == (
        "Morgan Manager", "Eve Employee", 0)
    # The history: the two people and the report's manager; HR and colleagues get nothing.
    with clock.frozen_at(FIRST):
        await oo.mark_held(first, await runtime.actor_for("M1"))
    assert len(await oo.one_on_one_history(people["E1"], None, None, Viewer(people["E1"]))) == 1
    hr = Viewer(people["H1"], frozenset({"hr"}))
    assert await oo.one_on_one_history(people["E1"], None, None, hr) == []
    assert await oo.one_on_one_history(people["E1"], None, None, Viewer(people["E2"])) == []


async def test_the_report_may_not_hold_skip_or_end(standard: None) -> None:
    first, people = await scheduled()
    eve = await runtime.actor_for("E1")
    series = await OneOnOneSeries.get(report_id=people["E1"])
    with pytest.raises(oo.OneOnOneError, match="Only the manager"):
        await oo.mark_held(first, eve)
    with pytest.raises(oo.OneOnOneError, match="Only the manager"):
        await oo.skip_meeting(first, eve)
    with pytest.raises(oo.OneOnOneError, match="Only the manager"):
        await oo.end_series(series.id, eve)


async def test_bad_items_are_refused_and_lose_nothing(standard: None) -> None:
    first, people = await scheduled()
    e = people["E1"]
    with clock.frozen_at(NOW):
        await oo.add_item(first, e, "agenda", "Keep me")
        with pytest.raises(oo.OneOnOneError, match="Write the agenda item first"):
            await oo.add_item(first, e, "agenda", "   ")
        with pytest.raises(oo.OneOnOneError, match="keep it to 500"):
            await oo.add_item(first, e, "agenda", "x" * 501)
        with pytest.raises(oo.OneOnOneError, match="one of the two people"):
            await oo.add_item(first, e, "action", "Hand it to Dana", owner_id=people["D1"])
        with pytest.raises(oo.OneOnOneError, match="not one of the objectives"):
            await oo.set_objectives(first, e, ["made-up"])
    view = await oo.meeting_view(first, e)
    assert [a.text for a in view.agenda] == ["Keep me"] and view.actions == []


async def test_skip_and_end_cancel_the_waiting_process(standard: None) -> None:
    first, people = await scheduled()
    morgan = await runtime.actor_for("M1")
    series = await OneOnOneSeries.get(report_id=people["E1"])
    first_instance = series.instance_id
    with clock.frozen_at(NOW):
        second = await oo.skip_meeting(first, morgan)
    assert (await ProcessInstance.get(id=first_instance)).status == "completed"
    assert not await HumanTask.filter(instance_id=first_instance, status="ready").exists()
    assert (await OneOnOneMeeting.get(id=first)).status == "skipped"
    assert (await OneOnOneMeeting.get(id=second)).scheduled_at == FIRST + timedelta(weeks=1)
    assert await Record.filter(kind="one_on_one").count() == 0

    with clock.frozen_at(NOW):
        await oo.reschedule(second, morgan, FIRST + timedelta(weeks=1, days=1))
    await series.refresh_from_db()
    moved = await HumanTask.get(instance_id=series.instance_id, status="ready")
    assert moved.due_at == FIRST + timedelta(weeks=1, days=1)

    with clock.frozen_at(NOW):
        await oo.end_series(series.id, morgan)
    assert not await HumanTask.filter(bpmn_id="hold_one_on_one", status="ready").exists()
    [summary] = await oo.my_series(people["M1"])
    assert summary.ended_at is not None and summary.next_meeting is None
    # Morgan may start a new series with Eve once the old one ended.
    assert [p.name for p in await oo.reports_without_series(people["M1"])] == [
        "Eli Employee", "Eve Employee"]


async def test_the_reminder_reaches_both_the_day_before(standard: None) -> None:
    first, people = await scheduled()
    await OutboxEmail.all().delete()  # the manager's "task waiting" email at scheduling
    # Two days before: nothing yet.
    with clock.frozen_at(FIRST - timedelta(days=2)):
        await runtime.fire_due_timers()
    assert await OutboxEmail.all().count() == 0
    # The day before, at the meeting's time: the manager is reminded, Eve is asked to prepare.
    with clock.frozen_at(FIRST - timedelta(days=1) + timedelta(minutes=1)):
        await runtime.fire_due_timers()
    emails = {e.to: e for e in await OutboxEmail.all()}
    assert set(emails) == {"Morgan Manager <morgan@example.com>",
                           "Eve Employee <eve@example.com>"}
    morgan_mail = emails["Morgan Manager <morgan@example.com>"]
    assert "Hold the 1:1" in morgan_mail.body and "due tomorrow" in morgan_mail.body
    eve_mail = emails["Eve Employee <eve@example.com>"]
    assert "Prepare for your 1:1" in eve_mail.subject
    # Holding the meeting closes Eve's preparation task with it.
    with clock.frozen_at(FIRST):
        await oo.mark_held(first, await runtime.actor_for("M1"))
    assert not await HumanTask.filter(bpmn_id="prepare_one_on_one", status="ready").exists()


async def test_the_report_preparing_first_leaves_the_meeting_to_hold(standard: None) -> None:
    first, people = await scheduled()
    eve = await runtime.actor_for("E1")
    with clock.frozen_at(FIRST - timedelta(hours=23)):
        await runtime.fire_due_timers()
    prepare = await HumanTask.get(bpmn_id="prepare_one_on_one", status="ready")
    assert prepare.assignee_id == people["E1"]
    with clock.frozen_at(FIRST - timedelta(hours=22)):
        await runtime.complete_task(prepare.id, eve, {"prepared": True})
    series = await OneOnOneSeries.get(report_id=people["E1"])
    assert (await ProcessInstance.get(id=series.instance_id)).status == "running"
    with clock.frozen_at(FIRST):
        await oo.mark_held(first, await runtime.actor_for("M1"))
    assert await Record.filter(kind="one_on_one").count() == 1


async def test_objectives_discussed_name_the_reports_objectives_by_key(standard: None) -> None:
    first, people = await scheduled()
    await Record.create(kind="objectives", person_id=people["E1"], data={"objectives": [
        {"title": "Ship the release", "weight": 60}, {"title": "Mentor Eli", "weight": 40}]},
        created_at=NOW)
    view = await oo.meeting_view(first, people["M1"])
    assert [(o.key, o.chosen) for o in view.objectives] == [
        ("ship-the-release", False), ("mentor-eli", False)]
    with clock.frozen_at(NOW):
        await oo.set_objectives(first, people["E1"], ["ship-the-release"])
        await oo.save_shared_notes(first, people["M1"], "On track.")
    with clock.frozen_at(FIRST):
        await oo.mark_held(first, await runtime.actor_for("M1"))
    [entry] = await oo.one_on_one_history(people["E1"], None, None, Viewer(people["M1"]))
    assert entry.objectives == ["Ship the release"] and entry.shared_notes == "On track."
    # A window that ends before the meeting holds nothing.
    assert await oo.one_on_one_history(people["E1"], None, NOW, Viewer(people["M1"])) == []


async def test_the_demo_has_two_meetings_held_and_an_action_carried_over(standard: None) -> None:
    people = await ids()
    with clock.frozen_at(NOW):
        next_id = await oo.seed_demo("M1", "E1")
    assert next_id is not None
    view = await oo.meeting_view(next_id, people["E1"])
    assert view.meeting.scheduled_at.date() == (NOW + timedelta(days=1)).date()
    assert [a.text for a in view.carried_actions] == ["Write up the on-call runbook"]
    assert [p.status for p in view.past] == ["held", "held"]
    assert await Record.filter(kind="one_on_one").count() == 2
    # Morgan's private note is his alone.
    first = view.past[-1].id
    assert (await oo.meeting_view(first, people["E1"])).private_notes == ""
    assert "workload" in (await oo.meeting_view(first, people["M1"])).private_notes
    assert await oo.seed_demo("E1", "M1") is None  # not manager and report


async def test_the_year_so_far_shows_held_1_1s_to_the_manager_not_to_hr(standard: None) -> None:
    from engine.packs.loading import Features
    from engine.people.directory import current_directory
    from engine.performance.year_context import year_so_far

    first, people = await scheduled()
    with clock.frozen_at(NOW):
        await oo.add_item(first, people["E1"], "action", "Draft the scope", owner_id=people["E1"])
        await oo.save_shared_notes(first, people["M1"], "Scope agreed.")
        await oo.save_private_notes(first, people["M1"], "Private thought.")
    with clock.frozen_at(FIRST):
        await oo.mark_held(first, await runtime.actor_for("M1"))
    directory = await current_directory()
    with clock.frozen_at(FIRST + timedelta(days=30)):
        year = await year_so_far(people["E1"], None, Viewer(people["M1"]), Features(), directory)
        hr = await year_so_far(people["E1"], None, Viewer(people["H1"], frozenset({"hr"})),
                               Features(), directory)
    [section] = [s for s in year.sections if s.key == "one_on_ones"]
    [item] = section.items
    assert item.headline == "1:1 with Morgan Manager" and item.text == "Scope agreed."
    assert item.note == "Draft the scope (Eve Employee, open)"
    assert "Private thought" not in str(year.sections)
    [hr_section] = [s for s in hr.sections if s.key == "one_on_ones"]
    assert hr_section.items == []


def test_each_pack_chooses_its_cadences() -> None:
    from pathlib import Path

    from engine.packs.loading import discover_packs, load_pack

    processes = Path(__file__).resolve().parents[2] / "processes"
    standard = load_pack(processes / "standard").features.one_on_ones
    acme = load_pack(processes / "acme", discover_packs([processes])).features.one_on_ones
    assert standard.cadences == ("weekly", "fortnightly", "monthly")
    assert acme.cadences == ("weekly", "fortnightly")
    # The rest ACME inherits key by key.
    assert (acme.process, acme.reminder) == ("one_on_one", "P1D")
