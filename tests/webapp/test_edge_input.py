"""Edge input gets a form error or a plain 400, never a server error: numbers no one can store,
control characters, ids beyond any row — on the real standard pack and every database."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from engine.base.models import Cycle, HumanTask, OrgGoal, PackDraftFile, ProcessInstance
from engine.packs.definitions import deploy_pack
from engine.workflow import runtime
from tests.support.org import DANA, EVE, HANA, MORGAN, org_csv

ROOT = Path(__file__).resolve().parents[2]

ORG = org_csv(DANA, MORGAN, EVE, f"{HANA};designer")  # Hana designs too

Login = Callable[..., Awaitable[httpx.Response]]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
UNSTORABLE = "The input contained characters that cannot be stored"
TOO_LARGE = "This number is too large to store; use at most 15 digits before the decimal point."


@pytest.fixture
async def objective_setting(db: str) -> ProcessInstance:
    """The org with logins, the standard pack deployed, and Eve's objective setting started."""
    from engine.operations.demo import create_logins
    from engine.people.org_import import import_org

    report = await import_org(ORG)
    assert not report.errors, report.errors
    await create_logins()
    await deploy_pack(ROOT / "processes" / "standard", "test", search=[ROOT / "processes"])
    cycle = await Cycle.create(name="2026 objectives")
    hr = await runtime.actor_for("H1")
    return await runtime.start_process(
        "objective_setting", subject="E1", actor=hr, cycle_id=cycle.id
    )


async def draft_task(instance: ProcessInstance) -> HumanTask:
    return await HumanTask.get(instance_id=instance.id, bpmn_id="draft_objectives")


async def as_user(client: httpx.AsyncClient, login: Login, username: str) -> str:
    """Log in as `username`; returns the session's CSRF token."""
    client.cookies.clear()
    answer = await login(username)
    assert answer.status_code == 303, answer.text
    page = await client.get("/inbox")
    match = META_CSRF.search(page.text)
    assert match, page.text
    return match.group(1)


def row(**values: str) -> dict[str, str]:
    base = {"kra": "Delivery", "title": "Ship billing", "target": "1", "weight": "100"}
    return {f"objectives-0-{key}": value for key, value in {**base, **values}.items()}


async def test_numbers_no_one_can_store_are_field_errors_that_keep_what_was_typed(
    client: httpx.AsyncClient, login: Login, objective_setting: ProcessInstance
) -> None:
    task = await draft_task(objective_setting)
    token = await as_user(client, login, "e1")
    expected = {
        "NaN": "Enter a number, such as 42 or 3.5.",
        "sNaN": "Enter a number, such as 42 or 3.5.",
        "Infinity": TOO_LARGE,
        "-Infinity": TOO_LARGE,
        "1e400": TOO_LARGE,
        "9007199254740993": TOO_LARGE,
        "1e-400": "This number is too close to zero to store; use fewer decimal places.",
    }
    for typed, message in expected.items():
        answer = await client.post(
            f"/tasks/{task.id}",
            data={"csrf_token": token, "_submit": "submit", **row(target=typed)},
        )
        assert answer.status_code == 422, (typed, answer.text)
        assert f"Objectives › row 1 › Target</a>: {message}" in answer.text or (
            "Objectives › row 1 › Target" in answer.text and message in answer.text
        ), typed
        assert f'value="{typed}"' in answer.text  # what was typed, to correct
    # The weight's own range says what fits.
    answer = await client.post(
        f"/tasks/{task.id}",
        data={"csrf_token": token, "_submit": "submit", **row(weight="Infinity")},
    )
    assert answer.status_code == 422
    assert "Enter a number from 1 to 100." in answer.text and 'value="Infinity"' in answer.text
    assert (await draft_task(objective_setting)).status == "ready"


async def test_fifteen_digits_are_stored_exactly(
    client: httpx.AsyncClient, login: Login, objective_setting: ProcessInstance
) -> None:
    task = await draft_task(objective_setting)
    token = await as_user(client, login, "e1")

    answer = await client.post(
        f"/tasks/{task.id}",
        data={"csrf_token": token, "_submit": "submit",
              **row(target="999999999999999", baseline="-0.125")},
    )

    assert answer.status_code == 303, answer.text
    stored = (await HumanTask.get(id=task.id)).submitted["objectives"][0]
    assert stored["target"] == 999999999999999 and stored["baseline"] == -0.125


async def test_live_validation_of_a_non_finite_number_shows_the_error(
    client: httpx.AsyncClient, login: Login, objective_setting: ProcessInstance
) -> None:
    task = await draft_task(objective_setting)
    token = await as_user(client, login, "e1")

    answer = await client.post(
        f"/tasks/{task.id}/validate",
        data={"csrf_token": token, "_field": "objectives-0-target", **row(target="-Infinity")},
        headers={"HX-Request": "true", "HX-Trigger-Name": "objectives-0-target"},
    )

    assert answer.status_code == 200
    assert answer.text.lstrip().startswith('<div id="field-objectives"')
    assert TOO_LARGE in answer.text and 'value="-Infinity"' in answer.text


async def test_a_line_break_in_a_one_line_field_is_a_field_error_and_a_textarea_keeps_it(
    client: httpx.AsyncClient, login: Login, objective_setting: ProcessInstance
) -> None:
    task = await draft_task(objective_setting)
    token = await as_user(client, login, "e1")

    refused = await client.post(
        f"/tasks/{task.id}",
        data={"csrf_token": token, "_submit": "submit", **row(title="Ship\tbilling")},
    )
    assert refused.status_code == 422
    assert "Keep this on one line: remove the tabs and line breaks." in refused.text

    accepted = await client.post(
        f"/tasks/{task.id}",
        data={"csrf_token": token, "_submit": "submit", "comments": "First line\r\n\tsecond",
              **row()},
    )
    assert accepted.status_code == 303, accepted.text
    assert (await HumanTask.get(id=task.id)).submitted["comments"] == "First line\r\n\tsecond"


async def test_a_nul_in_a_task_form_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, login: Login, objective_setting: ProcessInstance
) -> None:
    task = await draft_task(objective_setting)
    token = await as_user(client, login, "e1")

    for submit in ("submit", "draft"):
        answer = await client.post(
            f"/tasks/{task.id}",
            data={"csrf_token": token, "_submit": submit, "comments": "ok\x00", **row()},
        )
        assert answer.status_code == 400, answer.text
        assert UNSTORABLE in answer.text and "NUL (U+0000)" in answer.text
        assert "<html" in answer.text  # the error page, in the app's layout
    after = await HumanTask.get(id=task.id)
    assert after.status == "ready" and after.draft is None and after.submitted is None

    # htmx gets the error fragment (app.js shows it above the form, which keeps the input).
    fragment = await client.post(
        f"/tasks/{task.id}",
        data={"_submit": "submit", **row(title="Ship\x1b[31m")},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert fragment.status_code == 400
    assert "<html" not in fragment.text and "U+001B" in fragment.text
    live = await client.post(
        f"/tasks/{task.id}/validate",
        data={"csrf_token": token, "_field": "comments", "comments": "\x00"},
        headers={"HX-Request": "true"},
    )
    assert live.status_code == 400 and UNSTORABLE in live.text


async def test_control_characters_never_reach_any_route(
    client: httpx.AsyncClient, login: Login, objective_setting: ProcessInstance
) -> None:
    # Anonymous: the login form (the CSRF check comes first, so send the token).
    page = await client.get("/login")
    token = CSRF.search(page.text)
    assert token
    answer = await client.post(
        "/login", data={"username": "x\x00", "password": "p", "csrf_token": token.group(1)}
    )
    assert answer.status_code == 400 and UNSTORABLE in answer.text

    token_hr = await as_user(client, login, "h1")
    assert (await client.get("/inbox?process=x%00")).status_code == 400
    assert (await client.get("/inbox?subject=%7F")).status_code == 400
    assert (await client.get("/scorecard/E1%00")).status_code == 400
    assert (await client.get("/inbox?subject=a%09b")).status_code == 200  # a tab is text

    goal = await client.post(
        "/goals", data={"csrf_token": token_hr, "title": "Grow\x00", "weight": "1"}
    )
    assert goal.status_code == 400 and UNSTORABLE in goal.text
    multipart = await client.post(
        "/goals", data={"csrf_token": token_hr, "title": "Grow", "description": "\x01"},
        files={"attachment": ("a\x00.txt", b"\x00binary is fine in a file")},
    )
    assert multipart.status_code == 400 and "U+0001" in multipart.text
    assert await OrgGoal.all().count() == 0

    saved = await client.post(
        "/designer/standard/files/forms/objectives-schema.json",
        content=b"{\x00}", headers={"X-CSRF-Token": token_hr},
    )
    assert saved.status_code == 400
    assert await PackDraftFile.all().count() == 0


async def test_designer_paths_and_names_no_file_or_process_can_have_are_refused(
    client: httpx.AsyncClient, login: Login, objective_setting: ProcessInstance
) -> None:
    token = await as_user(client, login, "h1")
    for path in ("x" * 300 + ".bpmn", "é" * 200 + ".bpmn"):
        saved = await client.post(f"/designer/standard/files/{path}", content=b"<x/>",
                                  headers={"X-CSRF-Token": token})
        assert saved.status_code == 400 and "A file path is at most 255 characters." in (
            saved.text)
        discard = await client.post("/designer/standard/discard",
                                    data={"csrf_token": token, "path": path})
        assert discard.status_code == 400
    assert await PackDraftFile.all().count() == 0
    long_process = "p" * 200
    assert (await client.get(f"/designer/standard/{long_process}/migrate")).status_code == 404
    posted = await client.post(f"/designer/standard/{long_process}/migrate",
                               data={"csrf_token": token, "instance": "1"})
    assert posted.status_code == 404


async def test_a_goal_with_a_weight_no_one_can_store_is_refused_with_the_input_kept(
    client: httpx.AsyncClient, login: Login, objective_setting: ProcessInstance
) -> None:
    token = await as_user(client, login, "h1")
    for weight in ("NaN", "Infinity", "1e400", "-1"):
        answer = await client.post(
            "/goals", data={"csrf_token": token, "title": "Grow", "weight": weight}
        )
        assert answer.status_code == 422, answer.text
        assert "The weight is a number of 0 or more" in answer.text
        assert f'value="{weight}"' in answer.text
    long_title = await client.post(
        "/goals", data={"csrf_token": token, "title": "x" * 300, "weight": "1"}
    )
    assert long_title.status_code == 422 and "Keep the title under 255 characters." in (
        long_title.text
    )
    assert await OrgGoal.all().count() == 0


async def test_ids_beyond_any_row_are_not_found(
    client: httpx.AsyncClient, login: Login, objective_setting: ProcessInstance
) -> None:
    token = await as_user(client, login, "h1")
    huge = "99999999999"
    for path in (f"/tasks/{huge}", f"/instances/{huge}", f"/instances/{huge}/print",
                 f"/scorecard?cycle={huge}", "/scorecard?cycle=%C2%B2", f"/goals?cycle={huge}",
                 f"/hr/dashboard?cycle={huge}", "/goals?cycle=%C2%B2",
                 # "²" is a digit to str.isdigit(), not to int(): it names no one.
                 "/scorecard/%C2%B2", "/development/%C2%B2", "/scorecard/" + "9" * 5000):
        assert (await client.get(path)).status_code == 404, path
    feedback = await client.post("/feedback", data={"csrf_token": token, "mode": "give",
                                                    "colleague": "²", "topic": "x"})
    assert feedback.status_code == 422
    assert "No one in the directory has the name or employee ID &#39;²&#39;." in feedback.text
    for path in (f"/tasks/{huge}", f"/tasks/{huge}/validate", f"/tasks/{huge}/claim",
                 f"/tasks/{huge}/release", f"/hr/dashboard/retry/{huge}"):
        assert (await client.post(path, data={"csrf_token": token})).status_code == 404, path
