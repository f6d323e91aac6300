"""The Goals page: HR edits, re-weights, retires and restores goals; bad input is refused with
the reason and keeps what was typed; people see who contributes; the score card shows the chain;
the objective form picks its goal from the cycle's open goals."""

from __future__ import annotations

import re

import httpx

from engine.base.models import Cycle, OrgGoal
from tests.webapp.test_dashboards import (
    OBJECTIVES,
    LoginHelper,
    TokenOf,
    _as,
    _records,
    org,  # noqa: F401  (the fixture)
)


async def _add(client: httpx.AsyncClient, token: str, cycle: Cycle, **values: str) -> int:
    answer = await client.post(f"/goals?cycle={cycle.id}", data={"csrf_token": token, **values})
    assert answer.status_code == 303, answer.text
    return (await OrgGoal.filter(title=values["title"]).first().values_list("id", flat=True))


async def test_hr_edits_reweights_retires_and_restores_a_goal(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, org: Cycle  # noqa: F811
) -> None:
    await _as(client, login, "h1")
    token = await page_csrf("/goals")
    top = await _add(client, token, org, title="Launch Sightline 1.0", weight="1",
                     measure="Releases shipped", target="1", unit="release",
                     period_start="2026-01-01", period_end="2026-12-31", owner="H1")
    form = await client.get(f"/goals/{top}/edit", headers={"HX-Request": "true"})
    assert form.status_code == 200 and "<html" not in form.text
    assert 'value="Releases shipped"' in form.text
    saved = await client.post(f"/goals/{top}", data={
        "csrf_token": token, "title": "Launch Sightline 1.0", "weight": "3", "target": "2",
        "unit": "releases", "measure": "Releases shipped", "period_start": "2026-01-01",
        "period_end": "2026-12-31", "org_unit_id": "", "parent_id": "", "owner": "",
    })
    assert saved.status_code == 303
    page = await client.get(saved.headers["location"])
    assert "Goal “Launch Sightline 1.0” saved." in page.text
    assert "2 releases" in page.text and "<dd>3</dd>" in page.text

    retired = await client.post(f"/goals/{top}/retire", data={"csrf_token": token})
    page = await client.get(retired.headers["location"])
    assert "Retired" in page.text and "Restore" in page.text
    restored = await client.post(f"/goals/{top}/restore", data={"csrf_token": token})
    page = await client.get(restored.headers["location"])
    assert "Restore" not in page.text


async def test_bad_goal_input_is_refused_with_the_reason_and_keeps_what_was_typed(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, org: Cycle  # noqa: F811
) -> None:
    await _as(client, login, "h1")
    token = await page_csrf("/goals")
    top = await _add(client, token, org, title="Grow", weight="1")
    bad = await client.post(f"/goals/{top}", data={
        "csrf_token": token, "title": "Grow faster", "weight": "-1", "target": "lots",
        "period_start": "2026-06-01", "period_end": "2026-05-01", "owner": "Nobody Known",
        "org_unit_id": "", "parent_id": "",
    })
    assert bad.status_code == 422
    assert "The weight is a number of 0 or more" in bad.text
    assert "The target is a number" in bad.text
    assert "The period cannot end before it starts." in bad.text
    assert "No one in the directory is called “Nobody Known”." in bad.text
    assert 'value="Grow faster"' in bad.text  # what was typed stays
    loop = await client.post(f"/goals/{top}", data={
        "csrf_token": token, "title": "Grow", "weight": "1", "parent_id": str(top),
        "org_unit_id": "",
    })
    assert loop.status_code == 422 and "cannot support itself" in loop.text
    (row,) = await OrgGoal.all()
    assert (row.title, row.weight, row.target, row.parent_id) == ("Grow", 1.0, None, None)


async def test_an_employee_sees_who_contributes_but_cannot_edit(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, org: Cycle  # noqa: F811
) -> None:
    await _as(client, login, "h1")
    token = await page_csrf("/goals")
    top = await _add(client, token, org, title="Launch Sightline 1.0", weight="1")
    await _records("E1", org, kpi_results={"objectives": [
        {**OBJECTIVES[0], "actual": 4, "aligned_goal": f"goal:{top}"}]})
    await _as(client, login, "e1")
    page = await client.get("/goals")
    assert "Who contributes (1)" in page.text and "Ship the appraisal module" in page.text
    assert f"/goals/{top}/edit" not in page.text
    assert (await client.get(f"/goals/{top}/edit")).status_code == 404
    token = await page_csrf("/goals")
    refused = await client.post(f"/goals/{top}/retire", data={"csrf_token": token})
    assert refused.status_code == 404
    card = await client.get("/scorecard")
    assert "Line of sight" in card.text
    assert re.search(r"Organisation</span>\s*<a href=\"/goals\?cycle=\d+#goal-\d+\">Launch",
                     card.text)
