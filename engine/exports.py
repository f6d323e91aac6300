"""Exports for HR: the dashboard's tables and a cycle's results as CSV and XLSX.

A `Table` is a name, column titles and rows of plain values; numbers stay numbers in both
formats. Text that a spreadsheet would run as a formula (starting with = + - @) is written as
text, so a name typed into the directory cannot execute in HR's spreadsheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.access import SeesSubjects
from engine.dashboards import HrDashboard, hr_scope
from engine.directory import current_directory
from engine.errors import NotFound
from engine.models import Cycle, ProcessDefinition, ProcessInstance, Record

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_COLUMN_WIDTH = 60


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
    records = await Record.filter(
        cycle_id=cycle_id, kind__in=("final_rating", "kpi_results")
    ).order_by("id").values_list("person_id", "kind", "data")
    titles: dict[str, str] = {
        r["process_id"]: r["title"] or r["process_id"]
        for r in await ProcessDefinition.all().order_by("id").values("process_id", "title")
    }
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
        final = results.get(pid, {}).get("final_rating", {})
        kpi = results.get(pid, {}).get("kpi_results", {})
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


def _safe_text(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def as_csv(table: Table) -> str:
    """The table as CSV text (header row first)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow(["" if v is None else _safe_text(v) for v in row])
    return out.getvalue()


def _sheet_title(name: str, taken: set[str]) -> str:
    # Excel forbids these characters and names longer than 31.
    base = "".join("_" if c in "[]:*?/\\" else c for c in name)[:31] or "Sheet"
    title, n = base, 2
    while title.casefold() in taken:
        suffix = f" ({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(title.casefold())
    return title


def as_xlsx(tables: Sequence[Table] | Iterable[Table]) -> bytes:
    """A workbook with a sheet per table: bold header row, fitted columns, numbers as numbers."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    taken: set[str] = set()
    bold = Font(bold=True)
    for table in tables:
        sheet = book.create_sheet(_sheet_title(table.name, taken))
        sheet.append(table.columns)
        for cell in sheet[1]:
            cell.font = bold
        widths = [len(str(c)) for c in table.columns]
        for r, row in enumerate(table.rows, start=2):
            for c, value in enumerate(row, start=1):
                cell = sheet.cell(row=r, column=c, value=value)
                if isinstance(value, str) and value.startswith("="):
                    cell.data_type = TYPE_STRING  # text, never a formula
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
