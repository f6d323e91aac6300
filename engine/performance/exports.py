"""Exports for HR: the dashboard's tables and a cycle's results as CSV and XLSX.

A `Table` is a name, column titles and rows of plain values; numbers stay numbers in both
formats. Every piece of text an export writes — column titles (process titles come from a
pack), cells (names come from the org import) and sheet names — is written as text, never as
something a spreadsheet runs: in CSV, text that would start a formula (= + - @, a tab or a
carriage return, also after leading blanks) is prefixed with an apostrophe; in XLSX every text
cell is stored as a string, so neither a formula nor an error value (`#N/A`) can be smuggled
in, and characters a workbook may not hold are dropped.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.base.errors import NotFound
from engine.base.models import Cycle, ProcessInstance, Record
from engine.people.directory import current_directory
from engine.performance.deployed_pack import cycle_pack
from engine.performance.hr_dashboard import HrDashboard
from engine.performance.populations import hr_scope
from engine.workflow.access import SeesSubjects
from engine.workflow.inbox import process_titles

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_COLUMN_WIDTH = 60
# Control characters the workbook's XML cannot hold (tab, line feed and carriage return can).
_NOT_IN_WORKBOOK = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Characters Excel forbids in a sheet name; a name may not start or end with an apostrophe.
_NOT_IN_SHEET_NAME = "[]:*?/\\"
MAX_SHEET_NAME = 31
# Excel keeps this sheet name for itself.
RESERVED_SHEET_NAMES = ("history",)


@dataclass
class Table:
    """One exported table (a CSV file, or a sheet of the workbook)."""

    name: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)


def dashboard_tables(dashboard: HrDashboard) -> list[Table]:
    """The HR dashboard as tables: funnel by unit, overdue steps, calibration, errors."""
    funnel = Table("Funnel", ["Unit code", "Unit", "Process", "Step", "Started", "At step",
                              "Overdue", "Open", "Completed", "Error", "Cancelled"])
    for unit in dashboard.units:
        for process in unit.processes:
            funnel.rows.append([unit.code, "  " * unit.depth + unit.name, process.title, "",
                                process.started, None, None, process.open, process.completed,
                                process.error, process.cancelled])
            for step in process.steps:
                funnel.rows.append([unit.code, "  " * unit.depth + unit.name, process.title,
                                    step.name, None, step.at_step, step.overdue,
                                    None, None, None, None])
    overdue = Table("Overdue", ["Process", "Step", "Open tasks", "Overdue tasks"])
    overdue.rows = [[o.process_title, o.name, o.open, o.overdue] for o in dashboard.overdue]
    calibration = Table("Calibration", ["Population", "Rated", "Level", "Label", "Count",
                                        "Share %", "Guideline %", "Guideline count", "Gap"])
    for dist in dashboard.calibration:
        for level in dist.levels:
            calibration.rows.append([dist.population, dist.rated, level.value, level.label,
                                     level.count, level.share, level.guideline_share,
                                     level.guideline_count, level.gap])
        for group in dist.groups:
            calibration.rows.append([dist.population, dist.rated, "-".join(
                str(v) for v in group.levels), group.label, group.count, group.share,
                group.guideline_share, group.guideline_count, group.gap])
    errors = Table("Errors", ["Instance", "Process", "Employee", "Task", "Message"])
    errors.rows = [[e.instance_id, e.process_id, e.subject_name, e.task, e.message]
                   for e in dashboard.errors]
    return [funnel, overdue, calibration, errors]


async def cycle_results(cycle_id: int, viewer: SeesSubjects) -> Table:
    """One row per employee of the cycle in the HR viewer's population: unit, manager, each
    process's status, final rating and weighted score."""
    directory = await current_directory()
    scope = hr_scope(viewer, directory)
    cycle = await Cycle.get_or_none(id=cycle_id)
    if cycle is None:
        raise NotFound(f"no cycle {cycle_id}")
    instances = await ProcessInstance.filter(
        cycle_id=cycle_id, subject_id__not_isnull=True
    ).order_by("id").values_list("subject_id", "process_id", "status")
    kinds = (await cycle_pack(cycle_id)).features.records
    records = await Record.filter(
        cycle_id=cycle_id, kind__in=(kinds.final_rating, kinds.kpi_results)
    ).order_by("id").values_list("person_id", "kind", "data")
    titles = await process_titles()
    processes = sorted({str(p) for _, p, _ in instances},
                       key=lambda p: str(titles.get(p, p)).casefold())
    status: dict[int, dict[str, str]] = {}
    for subject, process, state in instances:
        status.setdefault(subject, {})[process] = state  # the newest instance wins
    results: dict[int, dict[str, Any]] = {}
    for person_id, kind, data in records:
        results.setdefault(person_id, {})[kind] = data if isinstance(data, dict) else {}

    def in_scope(pid: int) -> bool:
        person = directory.people.get(pid)
        return scope is None or (person is not None and person.org_unit_id in scope)

    people = [pid for pid in set(status) | set(results) if in_scope(pid)]
    table = Table(cycle.name[:31] or "Results", [
        "Employee id", "Name", "Unit", "Manager",
        *[titles.get(p, p) for p in processes],
        "Final rating", "Rating label", "Weighted score",
    ])
    for pid in sorted(people, key=lambda p: (directory.people[p].name, p)
                      if p in directory.people else ("", p)):
        person = directory.people.get(pid)
        unit = directory.unit(person.org_unit_id) if person else None
        manager = directory.manager_of(pid)
        final = results.get(pid, {}).get(kinds.final_rating, {})
        kpi = results.get(pid, {}).get(kinds.kpi_results, {})
        score = kpi.get("weighted_score", final.get("kpi_score"))
        rating = final.get("rating")
        table.rows.append([
            person.key if person else str(pid),
            person.name if person else "",
            unit.name if unit else "",
            manager.name if manager else "",
            *[status.get(pid, {}).get(p, "") for p in processes],
            rating if _is_number(rating) else None,
            final.get("label") or "",
            score if _is_number(score) else None,
        ])
    return table


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _looks_like_formula(text: str) -> bool:
    # Spreadsheets skip leading blanks when they decide whether a cell is a formula.
    return text.startswith(FORMULA_STARTS) or text.lstrip().startswith(FORMULA_STARTS)


def _csv_text(value: Any) -> Any:
    """A CSV field: blanks empty, text that would start a formula behind an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and _looks_like_formula(value):
        return "'" + value
    return value


def as_csv(table: Table) -> str:
    """The table as CSV text (header row first), every text field safe to open."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_csv_text(c) for c in table.columns])
    for row in table.rows:
        writer.writerow([_csv_text(v) for v in row])
    return out.getvalue()


def _sheet_title(name: str, taken: set[str]) -> str:
    """A sheet name Excel accepts, unique in the workbook (`taken` holds those used)."""
    cleaned = "".join("_" if c in _NOT_IN_SHEET_NAME else c
                      for c in _NOT_IN_WORKBOOK.sub("", name))
    base = cleaned.strip("'")[:MAX_SHEET_NAME].strip("'").strip() or "Sheet"
    title, n = base, 2
    while title.casefold() in taken or title.casefold() in RESERVED_SHEET_NAMES:
        suffix = f" ({n})"
        title, n = base[: MAX_SHEET_NAME - len(suffix)] + suffix, n + 1
    taken.add(title.casefold())
    return title


def _put(sheet: Any, row: int, column: int, value: Any) -> Any:
    """Write one cell: text always as a string (never a formula or an error value)."""
    from openpyxl.cell.cell import TYPE_STRING

    if isinstance(value, str):
        value = _NOT_IN_WORKBOOK.sub("", value)
    cell = sheet.cell(row=row, column=column, value=value)
    if isinstance(value, str):
        cell.data_type = TYPE_STRING
    return cell


def as_xlsx(tables: Sequence[Table] | Iterable[Table]) -> bytes:
    """A workbook with a sheet per table: bold header row, fitted columns, numbers as numbers."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    taken: set[str] = set()
    bold = Font(bold=True)
    for table in tables:
        sheet = book.create_sheet(_sheet_title(table.name, taken))
        for c, title in enumerate(table.columns, start=1):
            _put(sheet, 1, c, title).font = bold
        widths = [len(str(c)) for c in table.columns]
        for r, row in enumerate(table.rows, start=2):
            for c, value in enumerate(row, start=1):
                _put(sheet, r, c, value)
                if c <= len(widths):
                    widths[c - 1] = max(widths[c - 1], len(str(value)) if value is not None else 0)
        for c, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(c)].width = min(width + 2, MAX_COLUMN_WIDTH)
        sheet.freeze_panes = "A2"
    if not book.sheetnames:
        book.create_sheet("Empty")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
