"""Launching a cycle: populations, one instance each, relaunch skips, nothing half launched."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.base import clock
from engine.base.errors import EngineError, NotAllowed, NotFound
from engine.base.models import AuditEvent, Cycle, HumanTask, OutboxEmail, ProcessInstance
from engine.base.serialization import load_state, state_dict
from engine.packs.definitions import deploy_pack, latest
from engine.people.directory import current_directory
from engine.people.org_import import import_org
from engine.performance import cycles, launch_pool
from engine.performance.cycles import Population, launch_cycle
from engine.workflow import runtime
from engine.workflow.instance import script_engine

ROOT = Path(__file__).resolve().parents[2]
STANDARD = ROOT / "processes" / "standard"

# Sales has a sub-unit (North); engineers sit in Engineering and in North's tech team.
ORG = """employee_id,name,email,title,job_family,org_unit_code,org_unit_name,\
parent_org_unit_code,manager_id,groups,active
D1,Dana Director,dana@example.com,Director,people_manager,HQ,Head office,,,,
H1,Hana HR,hana@example.com,HR admin,individual_contributor,HQ,Head office,,D1,hr,
S1,Sol Sales,sol@example.com,Head of sales,people_manager,SALES,Sales,HQ,D1,,
S2,Sia Seller,sia@example.com,Account executive,sales,SALES,Sales,HQ,S1,,
N1,Nia North,nia@example.com,Regional manager,people_manager,NORTH,North,SALES,S1,,
N2,Ned Nordic,ned@example.com,Account executive,sales,NORTH,North,SALES,N1,,
N3,Noor Gone,noor@example.com,Account executive,sales,NORTH,North,SALES,N1,,no
E1,Eve Engineer,eve@example.com,Engineer,engineering,HQ,Head office,,D1,,
E2,Eli Engineer,eli@example.com,Engineer,engineering,NORTH,North,SALES,N1,,
"""

DUE = date(2026, 3, 31)


@pytest.fixture
async def hr(db: str) -> runtime.Actor:
    report = await import_org(ORG)
    assert not report.errors, report.errors
    await deploy_pack(STANDARD, "test", search=[STANDARD.parent])
    return await runtime.actor_for("H1")


async def subjects_in(cycle_name: str) -> list[str]:
    rows = await ProcessInstance.filter(cycle__name=cycle_name).prefetch_related("subject")
    return sorted(r.subject.key for r in rows)  # type: ignore[union-attr]


async def test_a_unit_with_its_sub_units_gets_one_instance_per_active_person(
    hr: runtime.Actor,
) -> None:
    report = await launch_cycle(
        "objective_setting", Population.of_unit("SALES"), cycle_name="2026 objectives",
        due_on=DUE, actor=hr,
    )
    # Noor is inactive: nobody launches work for a leaver.
    assert await subjects_in("2026 objectives") == ["E2", "N1", "N2", "S1", "S2"]
    assert report.started == 5 and report.skipped == [] and report.errors == []
    cycle = await Cycle.get(name="2026 objectives")
    assert cycle.due_on == DUE and report.cycle_id == cycle.id
    drafts = await HumanTask.filter(bpmn_id="draft_objectives", status="ready").count()
    assert drafts == 5
    assert await OutboxEmail.filter(to__contains="ned@example.com").count() == 1


async def test_a_unit_without_sub_units_and_a_job_family(hr: runtime.Actor) -> None:
    only = await launch_cycle(
        "objective_setting", Population.of_unit("SALES", include_subunits=False),
        cycle_name="Sales only", due_on=None, actor=hr,
    )
    assert only.population == "Sales (SALES) only"
    assert await subjects_in("Sales only") == ["S1", "S2"]
    engineers = await launch_cycle(
        "objective_setting", Population.of_job_family("engineering"),
        cycle_name="Engineers", due_on=None, actor=hr,
    )
    assert engineers.started == 2
    assert await subjects_in("Engineers") == ["E1", "E2"]


async def test_an_explicit_list_and_the_cycle_reaches_the_process_data(hr: runtime.Actor) -> None:
    await launch_cycle(
        "objective_setting", Population.of_people(["E1", " S2 ", "E1"]),
        cycle_name="Pilot", due_on=DUE, actor=hr, data={"note": "pilot group"},
    )
    assert await subjects_in("Pilot") == ["E1", "S2"]
    row = await ProcessInstance.get(subject__key="E1")
    dep = await latest("objective_setting")
    workflow = load_state(row.state, dep.built.spec, dep.built.subprocess_specs,
                          script_engine())
    assert workflow.data["cycle"] == {"name": "Pilot", "due_on": "2026-03-31"}
    assert workflow.data["note"] == "pilot group"
    assert workflow.data["subject"]["key"] == "E1"


async def test_unknown_unit_or_employee_is_refused_before_anything_starts(
    hr: runtime.Actor,
) -> None:
    with pytest.raises(NotFound, match="no org unit with code 'NOPE'"):
        await launch_cycle("objective_setting", Population.of_unit("NOPE"),
                           cycle_name="X", due_on=None, actor=hr)
    with pytest.raises(NotFound, match="unknown employee id.*ZZ9"):
        await launch_cycle("objective_setting", Population.of_people(["E1", "ZZ9"]),
                           cycle_name="X", due_on=None, actor=hr)
    assert await ProcessInstance.all().count() == 0
    assert not await Cycle.exists(name="X")


async def test_only_the_packs_starters_may_launch(hr: runtime.Actor) -> None:
    eve = await runtime.actor_for("E1")
    with pytest.raises(NotAllowed):
        await launch_cycle("objective_setting", Population.of_unit("HQ"),
                           cycle_name="X", due_on=None, actor=eve)
    assert await ProcessInstance.all().count() == 0


async def test_relaunch_skips_people_with_an_open_instance_and_names_them(
    hr: runtime.Actor,
) -> None:
    first = await launch_cycle("objective_setting", Population.of_unit("NORTH"),
                               cycle_name="2026", due_on=None, actor=hr)
    assert first.started == 3
    # One of them finished meanwhile (e.g. cancelled by HR): a relaunch starts them again.
    finished = await ProcessInstance.get(subject__key="N2")
    finished.status = "cancelled"
    await finished.save()
    again = await launch_cycle("objective_setting", Population.of_unit("SALES"),
                               cycle_name="2026", due_on=DUE, actor=hr)
    assert sorted(again.skipped) == ["Eli Engineer", "Nia North"]
    assert again.started == 3  # S1, S2 and N2 again
    assert again.cycle_id == first.cycle_id
    assert (await Cycle.get(id=first.cycle_id)).due_on == DUE
    assert await ProcessInstance.filter(cycle_id=first.cycle_id).count() == 6
    assert "skipped 2 with an open instance already: " in "\n".join(again.summary_lines())


async def test_progress_is_reported_after_each_chunk(hr: runtime.Actor) -> None:
    calls: list[tuple[int, int]] = []
    await launch_cycle("objective_setting", Population.of_unit("HQ"), cycle_name="2026",
                       due_on=None, actor=hr, chunk_size=3,
                       progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 8), (3, 8), (6, 8), (8, 8)]


async def nothing_written(reason: str) -> None:
    """Nobody has an instance, a task or an email, the cycle is gone, and the audit trail says
    why the launch failed — and still verifies."""
    from engine.workflow.audit import verify_chain

    assert await ProcessInstance.all().count() == 0
    assert await HumanTask.all().count() == 0
    assert await OutboxEmail.all().count() == 0
    assert await Cycle.all().count() == 0
    [failed] = await AuditEvent.filter(action="launch_failed")
    assert reason in failed.detail["reason"]
    assert (await verify_chain()).ok


async def test_a_failure_while_preparing_starts_nobody(
    hr: runtime.Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = runtime.start_in_batch
    seen: list[int] = []

    def third_fails(*args: Any, **kwargs: Any) -> Any:
        seen.append(1)
        if len(seen) == 3:
            raise RuntimeError("out of memory")
        return real(*args, **kwargs)

    # Prepared in this process, where the failure is planted (not in a pool process).
    monkeypatch.setattr(launch_pool, "processes", 0)
    monkeypatch.setattr(runtime, "start_in_batch", third_fails)
    with pytest.raises(EngineError, match="out of memory.*Nothing was started"):
        await launch_cycle("objective_setting", Population.of_unit("HQ"), cycle_name="2026",
                           due_on=DUE, actor=hr, chunk_size=2)
    await nothing_written("out of memory")


async def test_a_database_failure_after_some_chunks_were_written_removes_them_all(
    hr: runtime.Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = cycles.apply
    written: list[int] = []

    async def second_chunk_fails(batch: Any) -> None:
        await real(batch)
        written.append(1)
        if len(written) == 2:
            # As a constraint violation would: after the chunk's statements ran.
            raise RuntimeError("disk full")

    monkeypatch.setattr(cycles, "apply", second_chunk_fails)
    with pytest.raises(EngineError, match="disk full"):
        await launch_cycle("objective_setting", Population.of_unit("HQ"), cycle_name="2026",
                           due_on=DUE, actor=hr, chunk_size=2)
    assert len(written) == 2
    await nothing_written("disk full")
    # The database is usable afterwards and the same launch then works.
    monkeypatch.setattr(cycles, "apply", real)
    report = await launch_cycle("objective_setting", Population.of_unit("HQ"),
                                cycle_name="2026", due_on=DUE, actor=hr, chunk_size=2)
    assert report.started == 8


async def test_cycle_progress_counts_instances_per_process_and_status(
    hr: runtime.Actor,
) -> None:
    await launch_cycle("objective_setting", Population.of_unit("NORTH"), cycle_name="2026",
                       due_on=DUE, actor=hr)
    done = await ProcessInstance.get(subject__key="N2")
    done.status = "completed"
    await done.save()
    [cycle] = await cycles.cycle_progress()
    assert (cycle.name, cycle.due_on, cycle.instances) == ("2026", DUE, 3)
    [proc] = cycle.processes
    assert (proc.title, proc.open, proc.completed, proc.error) == ("Objective setting", 2, 1, 0)
    assert proc.percent_done == 33


async def test_launchable_processes_lists_per_employee_processes_for_their_starters(
    hr: runtime.Actor,
) -> None:
    offered = await cycles.launchable_processes(hr.person_id)
    assert ("objective_setting", "standard:objective_setting", "Objective setting") in [
        (p.process_id, p.choice, p.title) for p in offered
    ]
    eve = await runtime.actor_for("E1")
    assert await cycles.launchable_processes(eve.person_id) == []


async def test_the_demo_gives_every_demo_login_work(db: str) -> None:
    from engine.operations import demo

    await demo.seed([ROOT / "processes"])
    directory_people = {key: (await runtime.actor_for(key)).person_id
                        for _, key, _ in demo.DEMO_LOGINS}
    assert 55 <= await ProcessInstance.filter(process_id="objective_setting").count() <= 65
    employee, manager = directory_people["E1021"], directory_people["E1009"]
    # Most people agreed their objectives before the year-end began: the employee's
    # self-appraisal starts from them.
    self_appraisal = await HumanTask.get(assignee_id=employee, bpmn_id="self_appraisal",
                                         status="ready").prefetch_related("instance")
    state = json.dumps(state_dict(self_appraisal.instance.state))
    assert "Ship the customer portal" in state
    assert await HumanTask.filter(assignee_id=manager, bpmn_id="review_objectives",
                                  status="ready").count() == 3
    # The CEO has no manager: their review waits for HR, with the reason.
    hr_task = await HumanTask.get(candidate_group="hr", bpmn_id="review_objectives",
                                  status="ready")
    assert hr_task.routing_note
    for key in ("E1003", "E1005"):
        assert await HumanTask.exists(assignee_id=directory_people[key], status="ready")


async def test_a_concurrent_launch_of_the_same_cycle_fails_this_one_whole(
    hr: runtime.Actor,
) -> None:
    first = await launch_cycle("objective_setting", Population.of_people(["E1"]),
                               cycle_name="2026", due_on=None, actor=hr)

    async def someone_else_launches(done: int, total: int) -> None:
        # While this launch runs, another HR member starts Sol's instance in the cycle.
        if done == 0:
            await runtime.start_process("objective_setting", subject="S1", actor=hr,
                                        cycle_id=first.cycle_id)

    with pytest.raises(EngineError, match="another launch of cycle '2026' ran meanwhile"):
        await launch_cycle("objective_setting", Population.of_unit("SALES"), cycle_name="2026",
                           due_on=None, actor=hr, progress=someone_else_launches)
    assert await subjects_in("2026") == ["E1", "S1"]


async def test_a_year_end_launch_starts_with_each_persons_agreed_objectives(
    hr: runtime.Actor,
) -> None:
    from engine.base.models import Person, Record

    objectives = [{"kra": "Delivery", "title": "Ship billing", "weight": 100}]
    eve = await Person.get(key="E1")
    await Record.create(kind="objectives", person=eve, data={"objectives": objectives})
    report = await launch_cycle("year_end_appraisal", Population.of_job_family("engineering"),
                                cycle_name="2026 year-end", due_on=DUE, actor=hr)
    assert report.started == 2
    dep = await latest("year_end_appraisal")
    data = {}
    for row in await ProcessInstance.filter(cycle_id=report.cycle_id).prefetch_related("subject"):
        workflow = load_state(row.state, dep.built.spec, dep.built.subprocess_specs, None)
        data[row.subject.key] = workflow.task_tree.data  # type: ignore[union-attr]
    assert data["E1"]["objectives"] == objectives
    assert "objectives" not in data["E2"]
    assert data["E2"]["cycle"]["name"] == "2026 year-end"


# Pia partners Sales (and so North below it); Hana, who partners no unit, administers everyone.
SALES_PARTNER = """employee_id,name,email,title,org_unit_code,org_unit_name,groups,unit.hr_partner
P1,Pia Partner,pia@example.com,HR partner,PEOPLE,People team,hr,
S1,Sol Sales,sol@example.com,Head of sales,SALES,Sales,,P1
"""
OUTSIDE_SALES = "outside the units Pia Partner looks after as HR partner (Sales (SALES) and below)"


@pytest.fixture
async def partner(hr: runtime.Actor) -> runtime.Actor:
    report = await import_org(SALES_PARTNER)
    assert not report.errors, report.errors
    return await runtime.actor_for("P1")


async def test_an_hr_partner_launches_for_the_people_of_their_units(
    partner: runtime.Actor,
) -> None:
    report = await launch_cycle("objective_setting", Population.of_unit("NORTH"),
                                cycle_name="North", due_on=None, actor=partner)
    assert report.started == 3
    assert await subjects_in("North") == ["E2", "N1", "N2"]
    await launch_cycle("objective_setting", Population.of_people(["S2", "N1"]),
                       cycle_name="Pilot", due_on=None, actor=partner)
    assert await subjects_in("Pilot") == ["N1", "S2"]


@pytest.mark.parametrize(("population", "message"), [
    (Population.of_unit("HQ"), f"3 people are {OUTSIDE_SALES}: "
                               "Dana Director, Eve Engineer, Hana HR"),
    # Eli, the other engineer, sits in North: only Eve is outside.
    (Population.of_job_family("engineering"), f"1 person is {OUTSIDE_SALES}: Eve Engineer"),
    (Population.of_people(["S2", "E1", "D1"]), f"2 people are {OUTSIDE_SALES}: "
                                              "Eve Engineer, Dana Director"),
], ids=["unit", "job-family", "list"])
async def test_an_hr_partner_cannot_launch_for_anyone_outside_their_units(
    partner: runtime.Actor, hr: runtime.Actor, population: Population, message: str
) -> None:
    with pytest.raises(NotAllowed) as refused:
        await launch_cycle("objective_setting", population, cycle_name="2026",
                           due_on=None, actor=partner)
    assert str(refused.value) == message
    assert await ProcessInstance.all().count() == 0
    assert not await Cycle.exists(name="2026")
    # An HR administrator still launches for anyone.
    report = await launch_cycle("objective_setting", population, cycle_name="2026",
                                due_on=None, actor=hr)
    assert report.started == len(population.resolve(await current_directory()))


def test_the_launch_command_refuses_a_partner_outside_their_units(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from config import settings
    from engine.base import db as engine_db
    from webapp.cli import main

    url = f"sqlite://{tmp_path / 'cli.db'}"
    monkeypatch.setattr(settings, "DATABASE_URL", url)

    async def prepare() -> None:
        await engine_db.create_schema(url)
        try:
            assert not (await import_org(ORG)).errors
            assert not (await import_org(SALES_PARTNER)).errors
            await deploy_pack(STANDARD, "test", search=[STANDARD.parent])
        finally:
            await engine_db.disconnect()

    asyncio.run(prepare())
    assert main(["cycle", "launch", "objective_setting", "--cycle", "2026",
                 "--people", "S2,E1", "--as", "P1"]) == 1
    assert f"1 person is {OUTSIDE_SALES}: Eve Engineer" in capsys.readouterr().err


async def test_emails_worded_in_the_launch_s_pool_processes_use_the_organisation_s_zone(
    hr: runtime.Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Launched at 03:00 UTC with 14 days to go, Ned's task is due at 03:00 UTC on Sunday the
    15th: in Los Angeles that is still Saturday the 14th, and his email says so even though
    a pool process, not this one, wrote it."""
    monkeypatch.setattr(launch_pool, "processes", 1)
    with clock.frozen_at(datetime(2026, 3, 1, 3, 0, tzinfo=UTC)), \
            clock.in_zone("America/Los_Angeles"):
        await launch_cycle("objective_setting", Population.of_unit("NORTH"), cycle_name="2026",
                           due_on=DUE, actor=hr, chunk_size=2)
    [email] = await OutboxEmail.filter(to__contains="ned@example.com")
    assert "due on Saturday 14 March 2026" in email.body
