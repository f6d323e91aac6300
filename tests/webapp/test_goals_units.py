"""The Goals page for a large scope: units with their progress and people counts, and a unit's
people loaded when it is opened (htmx) or followed as a link (without JavaScript)."""

from __future__ import annotations

import re

import httpx
import pytest

from engine.base.models import Cycle
from tests.webapp.test_dashboards import (
    OBJECTIVES,
    LoginHelper,
    _as,
    _records,
    org,  # noqa: F401  (the fixture)
)
from webapp.routes import goals as goal_pages

PANEL = re.compile(r'<a href="(/goals/units/\d+\?cycle=\d+)">Show the (\d+) (?:person|people) of')


async def test_a_large_scope_lists_units_and_loads_a_units_people_when_opened(
    client: httpx.AsyncClient, login: LoginHelper, org: Cycle,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _records("E1", org, objectives={"objectives": [{**OBJECTIVES[0], "actual": 2}]})
    # Every scope counts as large here: the page must not list anyone inline.
    monkeypatch.setattr(goal_pages, "PEOPLE_INLINE", 0)
    await _as(client, login, "h1")
    page = await client.get(f"/goals?cycle={org.id}")
    assert page.status_code == 200
    assert 'class="dash-table"' not in page.text and "/scorecard/" not in page.text
    panels = PANEL.findall(page.text)
    assert panels, page.text
    found = []
    for url, _count in panels:
        fragment = await client.get(url, headers={"HX-Request": "true"})
        assert fragment.status_code == 200 and "<html" not in fragment.text
        found.append(fragment.text)
    everyone = "".join(found)
    assert "Ship the appraisal module" not in everyone  # people, not objectives
    assert re.search(r">\s*50 %\s*<", everyone)  # E1's progress: 2 of 4
    plain = await client.get(panels[0][0])
    assert plain.status_code == 200 and "<html" in plain.text and "Back to Goals" in plain.text


async def test_a_unit_the_viewer_sees_no_one_in_is_not_found(
    client: httpx.AsyncClient, login: LoginHelper, org: Cycle,  # noqa: F811
) -> None:
    await _as(client, login, "h1")
    assert (await client.get(f"/goals/units/999999?cycle={org.id}")).status_code == 404
    assert (await client.get(f"/goals/units/x?cycle={org.id}")).status_code == 404
