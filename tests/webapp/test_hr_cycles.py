"""The HR area: cycles with completion, the launch form, the launch job and its progress page.

A launch is a job a worker runs: these tests play the worker with `drain()` where a deployment
would have `sightline worker` (or the web process's own worker) pick it up."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.base import clock
from engine.base.models import Cycle, HumanTask, Job, ProcessInstance
from engine.operations.worker import drain
from engine.packs.definitions import deploy_pack
from engine.people.org_import import import_org
from engine.performance import cycles
from engine.workflow import jobs, runtime
from tests.support.app import csrf_from
from tests.support.html import row_cells

ROOT = Path(__file__).resolve().parents[2]
STANDARD = ROOT / "processes" / "standard"

ORG = """employee_id,name,email,title,job_family,org_unit_code,org_unit_name,\
parent_org_unit_code,manager_id,groups
E100,Maria Okafor,maria@example.com,Director,people_manager,CO,Company,,,
E200,Sam Patel,sam@example.com,Engineering Manager,people_manager,ENG,Engineering,CO,E100,
E300,Ada Lovelace,ada@example.com,Software Engineer,engineering,APP,Apps team,ENG,E200,
E310,Alan Turing,alan@example.com,Software Engineer,engineering,ENG,Engineering,CO,E200,
E400,Hal Ruiz,hal@example.com,HR Business Partner,individual_contributor,CO,Company,,E100,hr
"""


@pytest.fixture
async def org(db: str) -> None:
    """A small organisation with units and job families, logins, and the standard pack."""
    from engine.operations.demo import create_logins

    report = await import_org(ORG)
    assert not report.errors, report.errors
    await create_logins()
    await deploy_pack(STANDARD, "test", search=[ROOT / "processes"])


# A quarter ahead of the engine's clock: a launch due in the past is refused.
DUE = (clock.now() + timedelta(days=90)).date()


def form(token: str, **fields: str) -> dict[str, str]:
    base = {
        "csrf_token": token,
        "process": "standard:objective_setting",
        "population": "unit",
        "unit": "ENG",
        "include_subunits": "yes",
        "cycle_name": "2026 objectives",
        "due_on": DUE.isoformat(),
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


async def review(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    """Fill the launch form and press Review: the confirmation page, or the form with errors."""
    page = await client.get("/hr/cycles/new")
    return await client.post("/hr/cycles/launch", data=form(csrf_from(page.text), **fields))


def confirm_count(page: str) -> str:
    found = re.search(r'name="confirm_count" value="(\d+)"', page)
    assert found, "no confirmation on the page"
    return found.group(1)


async def launch(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    """Review the launch and confirm it as shown (or return the form's errors)."""
    answer = await review(client, **fields)
    if answer.status_code != 200:
        return answer
    data = form(csrf_from(answer.text), **fields)
    data.update(action="launch", confirm_count=confirm_count(answer.text))
    return await client.post("/hr/cycles/launch", data=data)


async def finished_fragment(client: httpx.AsyncClient, page_url: str) -> str:
    """Poll the progress fragment as htmx does while a worker runs the launch, until it
    reports."""
    fragment = await client.get(f"{page_url}/progress", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "Waiting for a worker to start the launch" in fragment.text
    await drain()
    fragment = await client.get(f"{page_url}/progress", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "hx-trigger" not in fragment.text, "the launch did not finish"
    return fragment.text


@pytest.mark.parametrize("path", ["/hr", "/hr/cycles/new", "/hr/launches/nope"])
async def test_only_hr_sees_the_hr_area(client, org, login, path: str) -> None:
    await login("e300")
    page = await client.get(path)
    assert page.status_code == 404
    assert "Launch a cycle" not in page.text


async def test_others_cannot_launch(client, org, login) -> None:
    await login("e200")
    token = csrf_from((await client.get("/inbox")).text)
    answer = await client.post("/hr/cycles/launch", data=form(token))
    assert answer.status_code == 404
    assert await ProcessInstance.all().count() == 0


async def test_hr_home_without_cycles_invites_a_launch(client, org, login) -> None:
    await login("e400")
    page = await client.get("/hr")
    assert "No cycle has been launched yet" in page.text
    assert 'href="/hr/cycles/new"' in page.text
    assert 'href="/hr/dashboard"' in page.text
    assert 'href="/admin/outbox"' in page.text


async def test_the_form_offers_processes_units_and_job_families(client, org, login) -> None:
    await login("e400")
    page = await client.get("/hr/cycles/new")
    assert '<option value="standard:objective_setting"' in page.text
    assert "Engineering (ENG)" in page.text and "Apps team (APP)" in page.text
    assert '<option value="engineering">engineering (2)</option>' in page.text


async def test_launch_runs_in_the_background_and_reports(client, org, login) -> None:
    await login("e400")
    answer = await launch(client)
    assert answer.status_code == 303
    page_url = answer.headers["location"]
    assert re.fullmatch(r"/hr/launches/\d+", page_url)
    page = await client.get(page_url)
    assert page.status_code == 200
    assert "Objective setting — 2026 objectives" in page.text
    report = await finished_fragment(client, page_url)
    assert "<strong>3</strong> instances of Objective setting" in report
    # Sam, Ada (Apps team, a sub-unit) and Alan; nobody outside Engineering.
    subjects = await ProcessInstance.all().values_list("subject__key", flat=True)
    assert sorted(subjects) == ["E200", "E300", "E310"]
    cycle = await Cycle.get(name="2026 objectives")
    assert cycle.due_on == DUE
    home = await client.get("/hr")
    assert "2026 objectives" in home.text and f"Due {DUE:%-d %b %Y}" in home.text
    assert row_cells(home.text, "Objective setting")[:2] == ["3", "0"]


async def test_a_relaunch_names_who_was_skipped(client, org, login) -> None:
    await login("e400")
    first = await launch(client, unit="APP")
    await finished_fragment(client, first.headers["location"])
    again = await launch(client, population="job_family", job_family="engineering")
    report = await finished_fragment(client, again.headers["location"])
    assert "<strong>1</strong> instance of Objective setting" in report
    assert "1 skipped" in report and "Ada Lovelace" in report


async def test_a_launch_without_sub_units_and_from_a_pasted_list(client, org, login) -> None:
    await login("e400")
    answer = await launch(client, include_subunits="", cycle_name="Engineering only")
    await finished_fragment(client, answer.headers["location"])
    answer = await launch(client, population="people", people="E300,\nE100  ", cycle_name="Pilot")
    await finished_fragment(client, answer.headers["location"])
    by_cycle = await ProcessInstance.all().values_list("cycle__name", "subject__key")
    assert sorted(by_cycle) == [
        ("Engineering only", "E200"), ("Engineering only", "E310"),
        ("Pilot", "E100"), ("Pilot", "E300"),
    ]


async def test_a_due_date_already_past_is_refused_and_nothing_starts(client, org, login) -> None:
    await login("e400")
    yesterday = clock.now().date() - timedelta(days=1)
    answer = await launch(client, due_on=yesterday.isoformat())
    assert answer.status_code == 400
    assert "Nothing was launched" in answer.text
    assert f"{yesterday:%-d %b %Y} has passed: give a due date from today" in answer.text
    assert await ProcessInstance.all().count() == 0
    assert yesterday.isoformat() in answer.text  # what was typed is kept


async def test_mistakes_are_shown_on_the_form_and_nothing_starts(client, org, login) -> None:
    await login("e400")
    answer = await launch(
        client, population="people", people="E300 E999", cycle_name="", due_on="31/03/2026"
    )
    assert answer.status_code == 400
    assert "Nothing was launched" in answer.text
    assert "No one in the directory has the name or employee ID &#39;E999&#39;." in answer.text
    assert "Give the cycle a name" in answer.text
    assert "Give the due date as a date" in answer.text
    # What was typed is kept.
    assert "E300 E999" in answer.text
    assert await ProcessInstance.all().count() == 0


async def test_a_failed_launch_is_shown_and_starts_nobody(
    client, org, login, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def disk_full(batch: Any) -> None:
        raise OSError("disk I/O error")

    monkeypatch.setattr(cycles, "apply", disk_full)
    await login("e400")
    answer = await launch(client)
    report = await finished_fragment(client, answer.headers["location"])
    assert "The launch failed" in report
    assert "OSError: disk I/O error. Nothing was started." in report
    assert await ProcessInstance.all().count() == 0
    assert await HumanTask.all().count() == 0


async def test_a_running_launch_polls_and_refreshes_without_javascript(
    client, org, login
) -> None:
    hal = await runtime.actor_for("E400")
    job = await cycles.enqueue_launch(
        "objective_setting", cycles.Population.of_unit("ENG"), cycle_name="2026",
        due_on=None, actor=hal, claimed_by="worker:elsewhere",
    )
    await jobs.save_progress(job, 2)
    await login("e400")
    page = await client.get(f"/hr/launches/{job.id}")
    assert 'hx-trigger="every 500ms"' in page.text
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page.text
    assert '<progress value="2" max="3"' in page.text
    # Whichever web process answers reads the job's row.
    await jobs.finish(job, cycles.LaunchReport(1, "2026", "objective_setting",
                                               "Objective setting", "x").as_result())
    fragment = await client.get(f"/hr/launches/{job.id}/progress",
                                headers={"HX-Request": "true"})
    assert "hx-trigger" not in fragment.text and "<h2>Launched</h2>" in fragment.text
    assert "<html" not in fragment.text


async def test_completion_counts_follow_the_work(client, org, login) -> None:
    hal = await runtime.actor_for("E400")
    report = await cycles.launch_cycle(
        "objective_setting", cycles.Population.of_people(["E300", "E310"]),
        cycle_name="2026", due_on=None, actor=hal,
    )
    await ProcessInstance.filter(id=report.instance_ids[0]).update(status="completed")
    await ProcessInstance.filter(id=report.instance_ids[1]).update(status="error")
    await login("e400")
    home = await client.get("/hr")
    cells = row_cells(home.text, "Objective setting")
    assert cells[:3] == ["0", "1", "1"]
    assert cells[3] == "50%"  # done


# Paula partners the Apps team; Hal, who partners no unit, administers everyone.
APPS_PARTNER = """employee_id,name,email,title,org_unit_code,org_unit_name,groups,unit.hr_partner
E410,Paula Partner,paula@example.com,HR partner,PEOPLE,People team,hr,
E300,Ada Lovelace,ada@example.com,Software Engineer,APP,Apps team,,E410
"""


@pytest.fixture
async def apps_partner(org: None) -> None:
    from engine.operations.demo import create_logins

    report = await import_org(APPS_PARTNER)
    assert not report.errors, report.errors
    await create_logins()


def field_error(page: str, name: str) -> str:
    found = re.search(rf'<small class="form-error" id="{name}-error">(.*?)</small>', page, re.S)
    assert found, f"no error under {name}"
    return found.group(1)


async def test_an_hr_partner_is_offered_and_launches_for_their_units_only(
    client, apps_partner, login
) -> None:
    await login("e410")
    form_page = (await client.get("/hr/cycles/new")).text
    assert '<option value="APP"' in form_page
    assert '<option value="ENG"' not in form_page and '<option value="CO"' not in form_page

    answer = await launch(client, unit="APP")
    assert answer.status_code == 303
    await finished_fragment(client, answer.headers["location"])
    assert await ProcessInstance.all().values_list("subject__key", flat=True) == ["E300"]


@pytest.mark.parametrize(("fields", "field", "outside"), [
    ({"unit": "ENG"}, "unit", "2 people are outside the units Paula Partner looks after as HR "
                              "partner (Apps team (APP) and below): Alan Turing, Sam Patel"),
    ({"population": "job_family", "job_family": "engineering"}, "job_family",
     "1 person is outside the units Paula Partner looks after as HR partner (Apps team (APP) "
     "and below): Alan Turing"),
    ({"population": "people", "people": "E300 E100"}, "people",
     "1 person is outside the units Paula Partner looks after as HR partner (Apps team (APP) "
     "and below): Maria Okafor"),
], ids=["unit", "job-family", "list"])
async def test_a_partners_launch_outside_their_units_is_refused_on_the_form(
    client, apps_partner, login, fields: dict[str, str], field: str, outside: str
) -> None:
    await login("e410")
    answer = await launch(client, **fields)
    assert answer.status_code == 400
    assert "Nothing was launched" in answer.text
    assert field_error(answer.text, field) == outside
    assert await Job.all().count() == 0
    assert await ProcessInstance.all().count() == 0


async def test_an_hr_admin_still_launches_for_anyone(client, apps_partner, login) -> None:
    await login("e400")
    form_page = (await client.get("/hr/cycles/new")).text
    assert '<option value="CO"' in form_page and '<option value="PEOPLE"' in form_page
    answer = await launch(client, unit="CO")
    assert answer.status_code == 303
    await finished_fragment(client, answer.headers["location"])
    subjects = await ProcessInstance.all().values_list("subject__key", flat=True)
    assert sorted(subjects) == ["E100", "E200", "E300", "E310", "E400"]


async def test_the_launch_shows_what_it_will_start_and_starts_nothing_until_confirmed(
    client, org, login
) -> None:
    await login("e400")
    answer = await review(client)
    assert answer.status_code == 200
    assert ("This will start 3 reviews (Objective setting, 2026 objectives) for:"
            in answer.text)
    for name in ("Sam Patel", "Ada Lovelace", "Alan Turing"):
        assert name in answer.text
    assert "Maria Okafor" not in answer.text
    assert "Start 3 reviews" in answer.text
    assert await Job.all().count() == 0 and await Cycle.all().count() == 0

    # "Change the launch" goes back to the form with everything as it was.
    data = form(csrf_from(answer.text), action="edit")
    back = await client.post("/hr/cycles/launch", data=data)
    assert back.status_code == 200 and 'value="2026 objectives"' in back.text
    assert await Job.all().count() == 0


async def test_a_confirmation_whose_count_no_longer_holds_is_shown_again(
    client, org, login
) -> None:
    await login("e400")
    page = await client.get("/hr/cycles/new")
    data = form(csrf_from(page.text), action="launch", confirm_count="2")
    answer = await client.post("/hr/cycles/launch", data=data)
    assert answer.status_code == 200
    assert "The population changed since you looked" in answer.text
    assert "This will start 3 reviews" in answer.text
    assert await Job.all().count() == 0


async def test_people_are_named_by_name_or_id_and_an_ambiguous_name_offers_a_choice(
    client, org, login
) -> None:
    await login("e400")
    answer = await review(client, population="people", people="ada lovelace\nE310\nAl")
    assert answer.status_code == 400
    assert "Nothing was launched" in answer.text
    assert "“Al” could be Alan Turing (E310), Hal Ruiz (E400)" in answer.text
    assert "ada lovelace\nE310\nAl" in answer.text  # kept as typed
    answer = await review(client, population="people", people="ada lovelace\nE310")
    assert "This will start 2 reviews (Objective setting, 2026 objectives) for:" in answer.text
    assert "Ada Lovelace" in answer.text and "Alan Turing" in answer.text


async def test_the_add_button_puts_a_searched_person_on_the_list(client, org, login) -> None:
    await login("e400")
    page = await client.get("/hr/cycles/new")
    token = csrf_from(page.text)
    added = await client.post("/hr/cycles/launch", data=form(
        token, action="add", person_search="Ada Lovelace", people="E310"))
    assert added.status_code == 200
    assert "E310\nAda Lovelace (E300)</textarea>" in added.text
    # A part of a name gives the people it could mean, each a button that adds them.
    unclear = await client.post("/hr/cycles/launch", data=form(
        token, action="add", person_search="al", people=""))
    assert unclear.status_code == 400
    assert "people match “al”: choose one below." in unclear.text
    assert 'name="add_key" value="E310"' in unclear.text
    assert 'value="al"' in unclear.text  # the search box keeps what was typed
    picked = await client.post("/hr/cycles/launch", data=form(
        token, add_key="E310", person_search="al", people=""))
    assert "Alan Turing (E310)</textarea>" in picked.text
    assert await Job.all().count() == 0
