"""Org-chart import from CSV (`sightline org import FILE.csv`).

The file has a header row; column names are case-insensitive and may come in any order.

| column               | meaning                                                            |
|----------------------|--------------------------------------------------------------------|
| employee_id          | required; the person's key in the directory (used by lanes)        |
| name                 | required; display name                                             |
| email                | optional; must look like an address when given                     |
| title                | optional; job title                                                |
| job_family           | optional; e.g. "engineering"                                       |
| org_unit_code        | optional; the unit the person belongs to (created when new)       |
| org_unit_name        | optional; the unit's name (first non-empty value wins; new units   |
|                      | without one are named after their code)                            |
| parent_org_unit_code | optional; the unit's parent unit, in the file or the directory;    |
|                      | when the column is present, a unit given no parent on any of its   |
|                      | rows becomes top-level                                             |
| manager_id           | optional; the manager's employee_id, anywhere in the file (later   |
|                      | rows too) or already in the directory; blank means no manager      |
| groups               | optional; semicolon separated group names, e.g. "hr;designer";    |
|                      | names are lower-cased; they REPLACE the person's groups            |
| active               | optional; yes/no/true/false/1/0, blank means yes                   |
| unit_head            | optional; "yes" makes the person head of their org unit            |
| unit.<attribute>     | optional; sets an org-unit attribute, e.g. `unit.hr_partner` holding |
|                      | a person key or "group:x" for the lane `subject.org_unit.hr_partner` |
| person.<attribute>   | optional; sets a free attribute on the person                      |
| external_id          | optional; the identity provider's id for the person (SCIM)         |
| position             | optional; the code of the person's position (a position profile    |
|                      | HR keeps at /positions); an unknown or retired code is an error    |

Re-importing updates people by employee_id and units by org_unit_code, in place. A column that
is absent from the header leaves that field untouched for existing people; a present column with
a blank cell clears it. People and units that are not in the file are left alone: to deactivate
someone, list them with `active = no`. A unit's head changes only when a row says `unit_head =
yes`.

Every row is validated before anything is written; if any row is bad, every problem is
reported as `line N: message` and nothing is written. Otherwise the whole file is written in one
transaction with bulk statements, and the directory version is bumped.

`import_rows` is the same import for rows that come from elsewhere than a file (SCIM
provisioning hands in one row per user): one implementation of "apply these directory changes".
The report names the leavers (people the import made inactive) so that the caller re-routes
their open tasks (engine.workflow.directory_changes does, for the CLI and SCIM alike).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tortoise.transactions import in_transaction

from engine.base.models import GroupMembership, OrgUnit, Person, Position
from engine.people.directory import bump_directory_version

COLUMNS = (
    "employee_id",
    "name",
    "email",
    "title",
    "job_family",
    "org_unit_code",
    "org_unit_name",
    "parent_org_unit_code",
    "manager_id",
    "groups",
    "active",
    "unit_head",
    "external_id",
    "position",
)
REQUIRED = ("employee_id", "name")
# Person fields a re-import compares and writes (column -> model source field).
PERSON_FIELDS = (
    "name", "email", "title", "job_family", "org_unit_id", "manager_id", "active", "external_id",
    "position",
)

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
GROUP_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
YES = {"yes", "y", "true", "1"}
NO = {"no", "n", "false", "0"}
BATCH = 250


@dataclass
class ImportReport:
    """What an org import did, or why it refused to do anything."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    units_created: int = 0
    units_updated: int = 0
    errors: list[str] = field(default_factory=list)
    # Ids of the people this import made inactive (their open tasks need re-routing).
    leavers: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the file was imported."""
        return not self.errors

    def __str__(self) -> str:
        if self.errors:
            head = f"Nothing imported: {len(self.errors)} problem(s) in the file."
            return "\n".join([head, *self.errors])
        return (
            f"Imported people: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged; units: {self.units_created} created, "
            f"{self.units_updated} updated."
        )


@dataclass
class _Row:
    line: int
    key: str
    values: dict[str, str]
    groups: set[str] = field(default_factory=set)
    active: bool = True
    unit_head: bool = False
    unit_attributes: dict[str, str] = field(default_factory=dict)
    person_attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class _UnitPlan:
    code: str
    line: int
    name: str = ""
    name_line: int = 0
    parent: str = ""
    parent_line: int = 0
    head: str = ""
    head_line: int = 0
    attributes: dict[str, str] = field(default_factory=dict)


def _flag(value: str, column: str, line: int, errors: list[str], default: bool) -> bool:
    text = value.strip().lower()
    if not text:
        return default
    if text in YES:
        return True
    if text in NO:
        return False
    errors.append(f"line {line}: {column} must be yes or no, not {value!r}")
    return default


# A row as it came: its line number (for messages) and its cells in the header's order.
RawRow = tuple[int, list[str]]


def _parse_csv(csv_text: str, errors: list[str]) -> tuple[list[str], int, list[RawRow]]:
    """The header, its line and the non-blank rows of a CSV file."""
    reader = csv.reader(io.StringIO(csv_text.lstrip("\ufeff")))
    header: list[str] = []
    for raw in reader:
        if any(cell.strip() for cell in raw):
            header = [cell.strip().lower() for cell in raw]
            break
    if not header:
        errors.append("line 1: the file has no header row")
        return [], 1, []
    header_line = reader.line_num
    rows = [(reader.line_num, raw) for raw in reader if any(cell.strip() for cell in raw)]
    return header, header_line, rows


def _read_rows(
    header: list[str], header_line: int, raw_rows: Iterable[RawRow], errors: list[str]
) -> list[_Row]:
    """Check the header and each row on its own; cross-row checks come later."""
    for column in header:
        if column not in COLUMNS and not column.startswith(("unit.", "person.")):
            errors.append(f"line {header_line}: unknown column {column!r}")
    for column in REQUIRED:
        if column not in header:
            errors.append(f"line {header_line}: missing column {column!r}")
    if len(set(header)) != len(header):
        errors.append(f"line {header_line}: a column is named twice")
    if errors:
        return []

    rows: list[_Row] = []
    first_line: dict[str, int] = {}
    for line, raw in raw_rows:
        if len(raw) > len(header):
            errors.append(f"line {line}: {len(raw)} cells but the header has {len(header)}")
            continue
        values = {c: v.strip() for c, v in zip(header, raw + [""] * len(header), strict=False)}
        row = _Row(line=line, key=values["employee_id"], values=values)
        if not row.key:
            errors.append(f"line {line}: missing employee_id")
        elif row.key in first_line:
            errors.append(
                f"line {line}: duplicate employee_id {row.key!r} (first on line "
                f"{first_line[row.key]})"
            )
        else:
            first_line[row.key] = line
        if not values["name"]:
            errors.append(f"line {line}: missing name")
        email = values.get("email", "")
        if email and not EMAIL.match(email):
            errors.append(f"line {line}: bad email {email!r}")
        for group in values.get("groups", "").split(";"):
            group = group.strip().lower()
            if not group:
                continue
            if GROUP_NAME.match(group):
                row.groups.add(group)
            else:
                errors.append(f"line {line}: bad group name {group!r}")
        row.active = _flag(values.get("active", ""), "active", line, errors, True)
        row.unit_head = _flag(values.get("unit_head", ""), "unit_head", line, errors, False)
        if row.key and values.get("manager_id") == row.key:
            errors.append(f"line {line}: reporting cycle: {row.key} cannot manage themselves")
        unit_code = values.get("org_unit_code", "")
        if not unit_code:
            for column in ("org_unit_name", "parent_org_unit_code"):
                if values.get(column):
                    errors.append(f"line {line}: {column} given without org_unit_code")
            if row.unit_head:
                errors.append(f"line {line}: unit_head is yes but the row has no org_unit_code")
        for column, value in values.items():
            if value and column.startswith("unit."):
                if not unit_code:
                    errors.append(f"line {line}: {column} given without org_unit_code")
                row.unit_attributes[column.removeprefix("unit.")] = value
            elif value and column.startswith("person."):
                row.person_attributes[column.removeprefix("person.")] = value
        rows.append(row)
    return rows


def _plan_units(rows: Iterable[_Row], errors: list[str]) -> dict[str, _UnitPlan]:
    """Gather what the file says about each unit; contradictions are errors."""
    plans: dict[str, _UnitPlan] = {}
    for row in rows:
        code = row.values.get("org_unit_code", "")
        if not code:
            continue
        plan = plans.setdefault(code, _UnitPlan(code=code, line=row.line))
        wanted = {
            "name": row.values.get("org_unit_name", ""),
            "parent": row.values.get("parent_org_unit_code", ""),
        }
        for what, value in wanted.items():
            if not value:
                continue
            current, since = getattr(plan, what), getattr(plan, f"{what}_line")
            if not current:
                setattr(plan, what, value)
                setattr(plan, f"{what}_line", row.line)
            elif current != value:
                label = "name" if what == "name" else "parent unit"
                errors.append(
                    f"line {row.line}: unit {code!r} has {label} {value!r} here but "
                    f"{current!r} on line {since}"
                )
        if row.unit_head and row.key:
            if plan.head:
                errors.append(
                    f"line {row.line}: unit {code!r} already has head {plan.head!r} "
                    f"(line {plan.head_line})"
                )
            else:
                plan.head, plan.head_line = row.key, row.line
        for attribute, value in row.unit_attributes.items():
            if plan.attributes.setdefault(attribute, value) != value:
                errors.append(
                    f"line {row.line}: unit {code!r} has {attribute} {value!r} here but "
                    f"{plan.attributes[attribute]!r} on an earlier line"
                )
    return plans


def _cycles(parents: dict[str, str | None], starts: Iterable[str]) -> list[list[str]]:
    """Every cycle reachable from the starting nodes, each as the list of its members."""
    done: set[str] = set()
    found: list[list[str]] = []
    for start in starts:
        path: list[str] = []
        on_path: dict[str, int] = {}
        node: str | None = start
        while node is not None and node not in done:
            if node in on_path:
                found.append(path[on_path[node] :])
                break
            on_path[node] = len(path)
            path.append(node)
            node = parents.get(node)
        done.update(path)
    return found


def _check_references(
    header: list[str],
    rows: list[_Row],
    plans: dict[str, _UnitPlan],
    known_people: dict[str, dict[str, Any]],
    id_to_key: dict[int, str],
    known_units: dict[str, dict[str, Any]],
    errors: list[str],
) -> None:
    """Managers and parent units must exist; reporting lines and units must not loop."""
    by_key = {row.key: row for row in rows if row.key}
    unit_code_by_id = {u["id"]: code for code, u in known_units.items()}

    managers: dict[str, str | None] = {}
    for key, person in known_people.items():
        manager_id = person["manager_id"]
        managers[key] = id_to_key.get(manager_id) if manager_id is not None else None
    for row in by_key.values():
        if "manager_id" not in header:
            managers.setdefault(row.key, None)
            continue
        manager = row.values["manager_id"] or None
        if manager and manager not in by_key and manager not in known_people:
            errors.append(
                f"line {row.line}: manager_id {manager!r} is neither in the file nor in the "
                "directory"
            )
            manager = None
        if manager != row.key:  # self-management was reported while reading the row
            managers[row.key] = manager
    for cycle in _cycles(managers, by_key):
        loop = " → ".join([*cycle, cycle[0]])
        for key in cycle:
            if key in by_key:
                errors.append(f"line {by_key[key].line}: reporting cycle {loop}")

    parents: dict[str, str | None] = {
        code: unit_code_by_id.get(u["parent_id"]) for code, u in known_units.items()
    }
    for plan in plans.values():
        if "parent_org_unit_code" not in header:
            parents.setdefault(plan.code, None)
            continue
        if plan.parent and plan.parent not in plans and plan.parent not in known_units:
            errors.append(
                f"line {plan.parent_line}: parent unit {plan.parent!r} is neither in the file "
                "nor in the directory"
            )
            parents[plan.code] = None
        elif plan.parent == plan.code:
            errors.append(f"line {plan.parent_line}: unit cycle: {plan.code} is its own parent")
            parents[plan.code] = None
        else:
            parents[plan.code] = plan.parent or None
    for cycle in _cycles(parents, plans):
        loop = " → ".join([*cycle, cycle[0]])
        for code in cycle:
            if code in plans:
                plan = plans[code]
                errors.append(f"line {plan.parent_line or plan.line}: unit cycle {loop}")


async def _check_positions(rows: list[_Row], errors: list[str]) -> None:
    """Each position code must name an active position profile."""
    wanted = {row.values["position"] for row in rows if row.values.get("position")}
    if not wanted:
        return
    active = dict(await Position.filter(code__in=sorted(wanted)).values_list("code", "active"))
    for row in rows:
        code = row.values.get("position", "")
        if code and code not in active:
            errors.append(f"line {row.line}: position {code!r} is not a position (HR keeps "
                          "them at /positions)")
        elif code and not active[code]:
            errors.append(f"line {row.line}: position {code!r} is retired")


def _line_of(error: str) -> int:
    return int(error.split(":", 1)[0].removeprefix("line "))


async def import_org(csv_text: str) -> ImportReport:
    """Validate the whole org-chart CSV, then create or update people, units and groups."""
    errors: list[str] = []
    header, header_line, raw_rows = _parse_csv(csv_text, errors)
    if errors:
        return ImportReport(errors=errors)
    return await import_rows(header, raw_rows, header_line=header_line)


async def import_rows(
    header: list[str], raw_rows: Iterable[RawRow], *, header_line: int = 1
) -> ImportReport:
    """The org import of rows given as cells under `header` (lower-case column names): the
    same checks, the same writes, all or nothing."""
    report = ImportReport()
    header = [column.strip().lower() for column in header]
    rows = _read_rows(header, header_line, raw_rows, report.errors)
    if report.errors and not rows:  # the header itself is unusable
        return report
    plans = _plan_units(rows, report.errors)

    async with in_transaction():
        known_people = {
            p["key"]: p
            for p in await Person.all().values("id", "key", *PERSON_FIELDS, "attributes")
        }
        id_to_key = {p["id"]: key for key, p in known_people.items()}
        known_units = {
            u["code"]: u
            for u in await OrgUnit.all().values(
                "id", "code", "name", "parent_id", "head_id", "attributes"
            )
        }
        _check_references(header, rows, plans, known_people, id_to_key, known_units, report.errors)
        if "position" in header:
            await _check_positions(rows, report.errors)
        if report.errors:
            report.errors.sort(key=_line_of)
            return report
        await _write(header, rows, plans, known_people, known_units, report)
        await bump_directory_version()
    return report


async def _write(
    header: list[str],
    rows: list[_Row],
    plans: dict[str, _UnitPlan],
    known_people: dict[str, dict[str, Any]],
    known_units: dict[str, dict[str, Any]],
    report: ImportReport,
) -> None:
    """Write a validated file with bulk statements (inside the caller's transaction)."""
    new_units = [
        OrgUnit(code=p.code, name=p.name or p.code, attributes=p.attributes)
        for p in plans.values()
        if p.code not in known_units
    ]
    await OrgUnit.bulk_create(new_units, batch_size=BATCH)
    report.units_created = len(new_units)
    unit_ids = dict(await OrgUnit.all().values_list("code", "id"))

    # New people are created complete except for their manager, who may be created alongside.
    new_rows = [row for row in rows if row.key not in known_people]
    await Person.bulk_create(
        [
            Person(key=row.key, **_person_fields(header, row, None, unit_ids, {}))
            for row in new_rows
        ],
        batch_size=BATCH,
    )
    report.created = len(new_rows)
    person_ids = dict(await Person.all().values_list("key", "id"))

    changed_people: list[Person] = []
    new_managers: list[Person] = []
    groups_changed = await _replace_groups(header, rows, person_ids)
    for row in rows:
        before = known_people.get(row.key)
        wanted = _person_fields(header, row, before, unit_ids, person_ids)
        if before is None:
            if wanted["manager_id"] is not None:
                new_managers.append(Person(id=person_ids[row.key], manager_id=wanted["manager_id"]))
            continue
        changed = any(before[f] != v for f, v in wanted.items())
        if before["active"] and not wanted["active"]:
            report.leavers.append(person_ids[row.key])
        if changed:
            changed_people.append(Person(id=person_ids[row.key], key=row.key, **wanted))
        if changed or person_ids[row.key] in groups_changed:
            report.updated += 1
        else:
            report.unchanged += 1
    # CASE-based bulk updates cost rows x batch per field: update only what moved.
    await Person.bulk_update(new_managers, fields=["manager_id"], batch_size=BATCH)
    await Person.bulk_update(
        changed_people, fields=[*PERSON_FIELDS, "attributes"], batch_size=BATCH
    )

    changed_units: list[OrgUnit] = []
    for plan in plans.values():
        before = known_units.get(plan.code)
        wanted_unit: dict[str, Any] = {
            "name": plan.name or (before["name"] if before else plan.code),
            "parent_id": before["parent_id"] if before else None,
            "head_id": before["head_id"] if before else None,
            "attributes": {**(before["attributes"] if before else {}), **plan.attributes},
        }
        if "parent_org_unit_code" in header:
            wanted_unit["parent_id"] = unit_ids[plan.parent] if plan.parent else None
        if plan.head:
            wanted_unit["head_id"] = person_ids[plan.head]
        if before is None or any(before[f] != v for f, v in wanted_unit.items()):
            changed_units.append(OrgUnit(id=unit_ids[plan.code], code=plan.code, **wanted_unit))
            if before is not None:
                report.units_updated += 1
    await OrgUnit.bulk_update(
        changed_units, fields=["name", "parent_id", "head_id", "attributes"], batch_size=BATCH
    )


def _person_fields(
    header: list[str],
    row: _Row,
    before: dict[str, Any] | None,
    unit_ids: dict[str, int],
    person_ids: dict[str, int],
) -> dict[str, Any]:
    """The person's fields after the import: absent columns keep what the directory had."""
    values = row.values
    wanted: dict[str, Any] = {}
    for column in ("name", "email", "title", "job_family", "position"):
        if column in header:
            wanted[column] = values[column]
        else:
            wanted[column] = before[column] if before else ""
    if "org_unit_code" in header:
        code = values["org_unit_code"]
        wanted["org_unit_id"] = unit_ids[code] if code else None
    else:
        wanted["org_unit_id"] = before["org_unit_id"] if before else None
    if "manager_id" in header:
        manager = values["manager_id"]
        wanted["manager_id"] = person_ids.get(manager) if manager else None
    else:
        wanted["manager_id"] = before["manager_id"] if before else None
    if "external_id" in header:
        wanted["external_id"] = values["external_id"] or None
    else:
        wanted["external_id"] = before["external_id"] if before else None
    wanted["active"] = row.active if "active" in header or before is None else before["active"]
    wanted["attributes"] = {**(before["attributes"] if before else {}), **row.person_attributes}
    return wanted


async def _replace_groups(
    header: list[str], rows: list[_Row], person_ids: dict[str, int]
) -> set[int]:
    """Make each listed person's groups exactly the file's; returns whose groups changed."""
    if "groups" not in header:
        return set()
    wanted = {person_ids[row.key]: row.groups for row in rows}
    held: dict[int, dict[str, int]] = {}
    for membership_id, person_id, group in await GroupMembership.all().values_list(
        "id", "person_id", "group"
    ):
        if person_id in wanted:
            held.setdefault(person_id, {})[group] = membership_id
    stale: list[int] = []
    fresh: list[GroupMembership] = []
    changed: set[int] = set()
    for person_id, groups in wanted.items():
        have = held.get(person_id, {})
        for group, membership_id in have.items():
            if group not in groups:
                stale.append(membership_id)
                changed.add(person_id)
        for group in groups - have.keys():
            fresh.append(GroupMembership(person_id=person_id, group=group))
            changed.add(person_id)
    for start in range(0, len(stale), BATCH):
        await GroupMembership.filter(id__in=stale[start : start + BATCH]).delete()
    await GroupMembership.bulk_create(fresh, batch_size=BATCH)
    return changed
