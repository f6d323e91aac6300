"""HR's trends page: its table, the CSV and the XLSX say the same numbers; HR only."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

from engine.base.models import Cycle
from tests.support.org import TEAM

ROOT = Path(__file__).resolve().parents[2]
LoginHelper = Callable[..., Awaitable[httpx.Response]]


async def _team(history: int) -> None:
    from engine.operations.demo import create_logins
    from engine.operations.demo_history import seed_history
    from engine.packs.definitions import deploy_pack
    from engine.people.org_import import import_org

    report = await import_org(TEAM)
    assert not report.errors, report.errors
    await create_logins()
    await deploy_pack(ROOT / "processes" / "standard", "test", search=[ROOT / "processes"])
    if history:
        await seed_history(history)


@pytest.fixture
async def three_years(db: str) -> None:
    """The engineering team with three closed year-end cycles of history."""
    await _team(3)


async def _as(client: httpx.AsyncClient, login: LoginHelper, username: str) -> None:
    client.cookies.clear()
    assert (await login(username)).status_code == 303


def _cells(html: str, table_id: str) -> list[list[str]]:
    """The rows of one table of the page as the text of their cells."""
    table = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    rows = []
    for row in body.split("<tr>")[1:]:
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        rows.append([re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c)).strip() for c in cells])
    return rows


def _value(value: object) -> object:
    """A cell as a number when it is one (CSV holds text, the workbook numbers)."""
    if value in (None, ""):
        return None
    try:
        return float(str(value))
    except ValueError:
        return str(value)


def _shown(value: object) -> str:
    return "—" if value in (None, "") else f"{value} %"


async def test_page_csv_and_xlsx_carry_the_same_numbers(
    client: httpx.AsyncClient, login: LoginHelper, three_years: None
) -> None:
    await _as(client, login, "h1")
    page = await client.get("/hr/trends")
    assert page.status_code == 200
    assert "Trends across cycles" in page.text
    assert 'role="img"' in page.text and "<title id=\"rates-title-wide\">" in page.text
    rows = _cells(page.text, "trend-cycles")
    assert len(rows) == 3

    answer = await client.get("/hr/trends.csv?cycles=4")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    header, *lines = list(csv.reader(io.StringIO(answer.text)))
    assert header[:6] == ["Cycle", "Starts", "People", "Started", "Completed", "Completion %"]
    assert len(lines) == 3
    for shown, line in zip(rows, lines, strict=True):
        name, starts, people, started, completed, completion, done, on_time, on_time_rate = \
            line[:9]
        assert shown[0] == f"{name} {starts}"
        assert shown[1:] == [people, started, completed, _shown(completion), done, on_time,
                             _shown(on_time_rate)]

    answer = await client.get("/hr/trends.xlsx")
    assert answer.status_code == 200
    book = load_workbook(io.BytesIO(answer.content))
    assert book.sheetnames == ["Cycles", "Ratings", "Units"]
    sheet_rows = [[cell.value for cell in row] for row in book["Cycles"].iter_rows(min_row=2)]
    assert [[_value(v) for v in row] for row in sheet_rows] == [
        [_value(v) for v in line] for line in lines
    ]
    assert isinstance(sheet_rows[0][5], float | int)  # numbers stay numbers

    # The ratings table: each cycle's shares equal the workbook's, level by level.
    ratings = _cells(page.text, "trend-ratings")
    by_level = {row[0].split()[0]: row for row in ratings if row[0][:1].isdigit()}
    for sheet_row in book["Ratings"].iter_rows(min_row=2, values_only=True):
        cycle, level, _, count, share, guideline, _ = sheet_row
        column = [name for name, *_ in lines].index(cycle) + 2
        cell = by_level[str(level)][column]
        assert float(cell.split(" %")[0]) == share
        assert f"{count} {'person' if count == 1 else 'people'}" in cell
        assert float(by_level[str(level)][1].split(" %")[0]) == guideline

    # The unit table: Engineering holds everyone; its completion per cycle is the cycles'.
    units = _cells(page.text, "trend-units")
    assert units[0][0] == "Engineering"
    for cell, line in zip(units[0][1:], lines, strict=True):
        assert cell.startswith(f"{line[5]} %")


async def test_hr_only_and_bad_input_is_explained(
    client: httpx.AsyncClient, login: LoginHelper, three_years: None
) -> None:
    await _as(client, login, "e1")
    for path in ("/hr/trends", "/hr/trends.csv", "/hr/trends.xlsx"):
        assert (await client.get(path)).status_code == 404
    await _as(client, login, "h1")
    page = await client.get("/hr/trends?cycles=many")
    assert page.status_code == 422
    assert "Choose between 1 and 12 cycles" in page.text
    assert "showing the last 4 year-end appraisal cycles instead" in page.text
    assert len(_cells(page.text, "trend-cycles")) == 3  # the page still shows the trend
    assert (await client.get("/hr/trends.csv?cycles=0")).status_code == 400
    assert (await client.get("/hr/trends?unit=abc")).status_code == 404
    assert (await client.get("/hr/trends?unit=999999")).status_code == 404
    two = await client.get("/hr/trends?cycles=2")
    assert len(_cells(two.text, "trend-cycles")) == 2
    assert "the last 2 cycles" in two.text


async def test_empty_states(client: httpx.AsyncClient, login: LoginHelper, db: str) -> None:
    await _team(0)
    await _as(client, login, "h1")
    page = await client.get("/hr/trends")
    assert page.status_code == 200 and "No cycle yet" in page.text
    assert "/hr/trends.csv" not in page.text

    await _team_cycle_of_one()
    page = await client.get("/hr/trends")
    assert "Only one objective setting cycle so far" in page.text
    assert len(_cells(page.text, "trend-cycles")) == 1


async def _team_cycle_of_one() -> None:
    from engine.workflow import runtime

    cycle = await Cycle.create(name="2026 objectives")
    await runtime.start_process("objective_setting", subject="E1",
                                actor=await runtime.actor_for("H1"), cycle_id=cycle.id)


async def _this_years_cycles() -> None:
    """This year's objectives and year-end appraisals launched for the team, both running."""
    from datetime import timedelta

    from engine.base import clock
    from engine.performance.cycles import Population, launch_cycle
    from engine.workflow import runtime

    hr = await runtime.actor_for("H1")
    today = clock.now().date()
    for process, name in (("objective_setting", "objectives"), ("year_end_appraisal", "year-end")):
        await launch_cycle(process, Population.of_people(["E1", "E2", "M1"]),
                           cycle_name=f"{today.year} {name}", due_on=today + timedelta(days=30),
                           actor=hr)


async def test_hr_compares_cycles_of_one_kind_and_sees_the_running_one(
    client: httpx.AsyncClient, login: LoginHelper, three_years: None
) -> None:
    from engine.base import clock

    await _this_years_cycles()
    year = clock.now().year
    await _as(client, login, "h1")

    # Year-end appraisals by default, this year's marked in progress, not a fall to 0 %.
    page = await client.get("/hr/trends")
    assert page.status_code == 200
    assert re.search(r'<option value="year_end_appraisal" selected>Year-end appraisal \(4\)',
                     page.text)
    assert '<option value="objective_setting">Objective setting (1)' in page.text
    rows = _cells(page.text, "trend-cycles")
    assert [row[0].split()[0] for row in rows] == [str(year - n) for n in (3, 2, 1, 0)]
    assert "in progress" not in " ".join(rows[0]) and rows[-1][0].endswith("in progress")
    assert rows[-1][4] == "0.0 % so far"
    # Its completion so far as a hollow point (no step done yet: no on-time point), per layout.
    assert page.text.count('class="trend-in-progress"') == 2
    assert page.text.count('class="trend-progress-label">in progress') >= 2
    # The closed cycles' completion is a line; the running one is off it.
    wide = page.text.split('id="rates-chart"', 1)[1].split("</svg>", 1)[0]
    completion_line = re.findall(r'<polyline points="([^"]+)" fill="none" stroke="#1565c0" '
                                 r'stroke-width="3"/>', wide)
    assert [len(line.split()) for line in completion_line] == [3]
    answer = await client.get("/hr/trends.csv")
    statuses = [line[-1] for line in csv.reader(io.StringIO(answer.text))][1:]
    assert statuses == ["closed", "closed", "closed", "in progress"]

    # Objective setting: its one cycle, no rating spread, a way to the cycles that rate.
    page = await client.get("/hr/trends?process=objective_setting&cycles=4")
    assert page.status_code == 200
    assert [row[0].split()[:2] for row in _cells(page.text, "trend-cycles")] == [
        [str(year), "objectives"]]
    assert 'id="trend-ratings"' not in page.text and 'id="ratings-chart"' not in page.text
    assert "Objective setting cycles record no final ratings" in page.text
    assert 'href="/hr/trends?cycles=4&amp;process=year_end_appraisal"' in page.text
    assert "Mean final rating" not in page.text
    book = load_workbook(io.BytesIO((await client.get(
        "/hr/trends.xlsx?process=objective_setting")).content))
    assert list(book["Ratings"].iter_rows(min_row=2)) == []

    # A kind the team never had is explained, and the default shown.
    page = await client.get("/hr/trends?process=rewards")
    assert page.status_code == 422
    assert "No cycle runs the process" in page.text and "Year-end appraisal" in page.text
    assert (await client.get("/hr/trends.csv?process=rewards")).status_code == 400
