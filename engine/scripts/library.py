"""The documented script library: directory, catalogs, dates, numbers and records.

Every function here is visible by name to BPMN scripts, conditions, timer expressions and DMN
cells (see docs/scripting.md). Task data must stay JSON, so values meant to be stored (dates,
people) come back as ISO strings and plain dicts.
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from engine.people.directory import DirectorySnapshot, PersonInfo
from engine.scripts.context import ScriptError, active_context, current_context, script_function

DateLike = str | date

# --------------------------------------------------------------------------- directory


def _directory() -> DirectorySnapshot:
    ctx = active_context()
    if ctx is None or ctx.directory is None:
        raise ScriptError("no directory is available to this script")
    return ctx.directory


def _person_info(ref: Any) -> PersonInfo | None:
    if isinstance(ref, Mapping):
        ref = ref.get("id")
    if isinstance(ref, bool) or (ref is not None and not isinstance(ref, int | str)):
        raise ScriptError(f"not a person reference: {ref!r}")
    return _directory().person(ref)


def _person_data(info: PersonInfo | None) -> dict[str, Any] | None:
    return info.as_data() if info is not None else None


@script_function
def person(ref: Any) -> dict[str, Any] | None:
    """The person for an id, key, "person:<key>" or person dict; None when unknown."""
    return _person_data(_person_info(ref))


@script_function
def manager_of(ref: Any) -> dict[str, Any] | None:
    """The person's line manager, or None."""
    info = _person_info(ref)
    return _person_data(_directory().manager_of(info.id)) if info else None


@script_function
def skip_level_of(ref: Any) -> dict[str, Any] | None:
    """The manager's manager, or None."""
    manager = manager_of(ref)
    return manager_of(manager) if manager else None


@script_function
def people_in_group(name: str) -> list[dict[str, Any]]:
    """Everyone in a group, by name."""
    directory = _directory()
    members = (directory.people[pid] for pid in directory.members(name))
    return [p.as_data() for p in sorted(members, key=lambda p: (p.name, p.id))]


@script_function
def in_group(ref: Any, name: str) -> bool:
    """Whether the person belongs to the group."""
    info = _person_info(ref)
    return info is not None and _directory().in_group(info.id, name)


@script_function
def org_unit_of(ref: Any) -> dict[str, Any] | None:
    """The person's org unit as a dict (id, code, name, parent_id, head_id), or None."""
    info = _person_info(ref)
    unit = _directory().unit(info.org_unit_id) if info else None
    if unit is None:
        return None
    return {
        "id": unit.id,
        "code": unit.code,
        "name": unit.name,
        "parent_id": unit.parent_id,
        "head_id": unit.head_id,
    }


# --------------------------------------------------------------------------- catalogs


@script_function
def catalog(name: str) -> dict[str, Any]:
    """A pack catalog (rating scale, competency framework, ...) by name."""
    ctx = active_context()
    catalogs = ctx.catalogs if ctx else {}
    if name not in catalogs:
        known = ", ".join(sorted(catalogs)) or "none"
        raise ScriptError(f"unknown catalog {name!r}; known catalogs: {known}")
    # A copy: scripts may edit what they get without changing the pack for the next run.
    # (A JSON round trip through orjson copies a catalog ten times faster than deepcopy.)
    copy: dict[str, Any] = orjson.loads(orjson.dumps(catalogs[name]))
    return copy


# --------------------------------------------------------------------------- dates


def _clock() -> datetime:
    ctx = active_context()
    return ctx.clock() if ctx else datetime.now(UTC)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            pass
    raise ScriptError(f"not a date: {value!r} (expected an ISO date such as '2026-03-31')")


@script_function
def today() -> str:
    """Today's date from the run's clock, as an ISO string."""
    return _clock().date().isoformat()


@script_function
def now() -> str:
    """The run's current time as an ISO string (to the second)."""
    return _clock().isoformat(timespec="seconds")


@script_function
def add_days(d: DateLike, n: int) -> str:
    """The ISO date n days after d (before, when n is negative)."""
    return (_as_date(d) + timedelta(days=n)).isoformat()


@script_function
def add_months(d: DateLike, n: int) -> str:
    """The ISO date n months after d, clamped to the end of a shorter month."""
    start = _as_date(d)
    index = start.month - 1 + n
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day).isoformat()


@script_function
def days_between(a: DateLike, b: DateLike) -> int:
    """Days from a to b (negative when b is earlier)."""
    return (_as_date(b) - _as_date(a)).days


@script_function
def parse_date(s: DateLike) -> date:
    """A date object for arithmetic and comparison; store `.isoformat()`, not the object."""
    return _as_date(s)


@script_function
def format_date(d: DateLike, fmt: str = "%d %b %Y") -> str:
    """A date for people to read, e.g. "31 Mar 2026"."""
    return _as_date(d).strftime(fmt)


_DURATION = re.compile(
    r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_DAYS_PER = {"years": 365, "months": 30, "weeks": 7, "days": 1}


@script_function
def iso_duration_days(duration: str) -> int:
    """Whole days in an ISO 8601 duration such as "P14D" or "P2W" (a month counts 30 days)."""
    m = _DURATION.match(duration.strip().upper()) if isinstance(duration, str) else None
    if m is None or duration.strip().upper() in ("P", "PT"):
        raise ScriptError(f"not an ISO 8601 duration: {duration!r} (e.g. 'P14D')")
    days = sum(int(m[unit] or 0) * per for unit, per in _DAYS_PER.items())
    seconds = int(m["hours"] or 0) * 3600 + int(m["minutes"] or 0) * 60 + int(m["seconds"] or 0)
    return days + seconds // 86400


# --------------------------------------------------------------------------- numbers


@script_function
def percent(a: float, b: float) -> float | None:
    """a as a percentage of b; None when b is zero (no target is not 0%)."""
    if not b:
        return None
    return a / b * 100


@script_function
def clamp(x: float, lo: float, hi: float) -> float:
    """x limited to the range lo..hi."""
    return max(lo, min(hi, x))


@script_function
def weighted_average(
    items: Iterable[Mapping[str, Any]], value_key: str, weight_key: str
) -> float | None:
    """Average of item[value_key] weighted by item[weight_key]; items with no value are skipped.

    None when nothing carries weight.
    """
    total = weights = 0.0
    for item in items:
        value, weight = item.get(value_key), item.get(weight_key)
        if value is None or weight is None:
            continue
        total += float(value) * float(weight)
        weights += float(weight)
    return total / weights if weights else None


# --------------------------------------------------------------------------- records


@script_function
def write_record(kind: str, data: dict[str, Any], person: Any = None) -> None:
    """Queue a structured result (objectives, rating, reward) for the runtime to store."""
    ctx = current_context()
    if not isinstance(kind, str) or not kind:
        raise ScriptError("write_record needs a kind such as 'final_rating'")
    if not isinstance(data, dict):
        raise ScriptError(f"write_record data must be a dict, not {type(data).__name__}")
    try:
        # A JSON round trip both proves the record is storable and detaches it from task data.
        stored = json.loads(json.dumps(data))
    except (TypeError, ValueError) as err:
        raise ScriptError(f"write_record data is not JSON: {err}") from None
    if isinstance(person, Mapping):
        person = person.get("id")
    _check_record_scope(ctx, person)
    ctx.records.append({"kind": kind, "data": stored, "person": person})


def _check_record_scope(ctx: Any, person: Any) -> None:
    """A record may be about the instance's subject, or about someone a task-data field the
    process declares in `records_about` names — never about anyone a script picks."""
    if ctx.records_about is None or person is None:
        return
    directory = ctx.directory
    target = directory.person(person) if directory is not None else None
    if target is None:
        raise ScriptError(f"write_record: nobody '{person}' in the directory")
    allowed = {ctx.subject_id}
    data = ctx.task_data or {}
    for source in ctx.records_about:
        value = data.get(source.removeprefix("data:"))
        if isinstance(value, Mapping):
            value = value.get("id")
        named = directory.person(value) if value is not None else None
        if named is not None:
            allowed.add(named.id)
    if target.id not in allowed:
        declared = ", ".join(ctx.records_about) or "none"
        raise ScriptError(
            f"write_record may write only about the instance's subject or the people its "
            f"process names in records_about ({declared}); {target.name} is neither"
        )
