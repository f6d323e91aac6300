"""The directory: people, org units, reporting lines and groups, as an in-memory snapshot.

Scripts and lane resolution run synchronously inside SpiffWorkflow, so they read an immutable
snapshot that is reloaded only when the directory changes (DirectoryVersion is bumped).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tortoise.expressions import F

from engine.base.db import clears_on_connect
from engine.base.models import DirectoryVersion, GroupMembership, OrgUnit, Person, User


@dataclass(frozen=True)
class PersonInfo:
    """A person as scripts and lanes see them."""

    id: int
    key: str
    name: str
    email: str = ""
    title: str = ""
    job_family: str = ""
    org_unit_id: int | None = None
    manager_id: int | None = None
    groups: frozenset[str] = frozenset()
    active: bool = True
    attributes: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    # The code of the person's position (engine.talent.positions), "" for none.
    position: str = ""

    def as_data(self) -> dict[str, Any]:
        """A JSON-safe dict for task data and scripts."""
        return {
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "email": self.email,
            "title": self.title,
            "job_family": self.job_family,
            "org_unit_id": self.org_unit_id,
            "manager_id": self.manager_id,
        }


@dataclass(frozen=True)
class UnitInfo:
    """An org unit as scripts and lanes see it."""

    id: int
    code: str
    name: str
    parent_id: int | None = None
    head_id: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class DirectorySnapshot:
    """Everyone and every unit at one directory version."""

    version: int = 0
    people: dict[int, PersonInfo] = field(default_factory=dict)
    units: dict[int, UnitInfo] = field(default_factory=dict)
    # The language each person chose with their login (person id -> "de"), for the emails
    # the engine writes them while it runs without a database at hand; absent: the default.
    languages: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_key: dict[str, PersonInfo] = {p.key: p for p in self.people.values()}
        self.reports: dict[int, list[int]] = {}
        self.groups: dict[str, set[int]] = {}
        for p in self.people.values():
            if p.manager_id is not None:
                self.reports.setdefault(p.manager_id, []).append(p.id)
            for g in p.groups:
                self.groups.setdefault(g, set()).add(p.id)
        self.unit_children: dict[int, list[int]] = {}
        for u in self.units.values():
            if u.parent_id is not None:
                self.unit_children.setdefault(u.parent_id, []).append(u.id)

    def person(self, ref: int | str | None) -> PersonInfo | None:
        """A person by id, by key, or by a "person:<key-or-id>" reference."""
        if ref is None:
            return None
        if isinstance(ref, str):
            ref = ref.removeprefix("person:")
            if ref in self.by_key:
                return self.by_key[ref]
            if not ref.isdigit():
                return None
            ref = int(ref)
        return self.people.get(ref)

    def manager_of(self, ref: int | str | None) -> PersonInfo | None:
        """The person's line manager, or None."""
        p = self.person(ref)
        return self.people.get(p.manager_id) if p and p.manager_id is not None else None

    def unit(self, unit_id: int | None) -> UnitInfo | None:
        """An org unit by id."""
        return self.units.get(unit_id) if unit_id is not None else None

    def members(self, group: str) -> set[int]:
        """Ids of the people in a group."""
        return self.groups.get(group, set())

    def in_group(self, person_id: int, group: str) -> bool:
        """Whether the person belongs to the group."""
        return person_id in self.groups.get(group, ())

    def reports_of(self, manager_id: int, indirect: bool = False) -> list[int]:
        """Direct reports, or everyone below the manager when indirect."""
        direct = self.reports.get(manager_id, [])
        if not indirect:
            return list(direct)
        out: list[int] = []
        stack = list(direct)
        seen: set[int] = set()
        while stack:
            pid = stack.pop()
            if pid in seen:
                continue
            seen.add(pid)
            out.append(pid)
            stack.extend(self.reports.get(pid, []))
        return out

    def unit_and_descendants(self, unit_id: int) -> Iterator[int]:
        """The unit's id and the ids of every unit below it."""
        stack = [unit_id]
        while stack:
            uid = stack.pop()
            yield uid
            stack.extend(self.unit_children.get(uid, []))

    # -- questions the web app and scripts ask of the snapshot ---------------------------------

    def skip_level_of(self, ref: int | str | None) -> PersonInfo | None:
        """The manager's manager, or None."""
        manager = self.manager_of(ref)
        return self.manager_of(manager.id) if manager else None

    def is_manager_of(self, manager_id: int, person_id: int, indirect: bool = True) -> bool:
        """Whether manager_id is the person's line manager (or above them, when indirect)."""
        person = self.people.get(person_id)
        seen: set[int] = set()
        while person is not None and person.manager_id is not None:
            if person.manager_id == manager_id:
                return True
            if not indirect or person.id in seen:
                return False
            seen.add(person.id)
            person = self.people.get(person.manager_id)
        return False

    def people_in_unit(
        self, unit_id: int, include_subunits: bool = False, include_inactive: bool = False
    ) -> list[PersonInfo]:
        """People whose org unit is the unit (or any unit below it), sorted by name."""
        unit_ids = set(self.unit_and_descendants(unit_id)) if include_subunits else {unit_id}
        found = [
            p
            for uid in unit_ids
            for p in self._unit_members.get(uid, ())
            if include_inactive or p.active
        ]
        return sorted(found, key=lambda p: (p.name, p.id))

    def people_with_job_family(
        self, job_family: str, include_inactive: bool = False
    ) -> list[PersonInfo]:
        """People in a job family (e.g. "engineering"), sorted by name."""
        found = [
            p
            for p in self.people.values()
            if p.job_family == job_family and (include_inactive or p.active)
        ]
        return sorted(found, key=lambda p: (p.name, p.id))

    def unit_by_code(self, code: str) -> UnitInfo | None:
        """An org unit by its code."""
        return self._units_by_code.get(code)

    @property
    def _unit_members(self) -> dict[int, list[PersonInfo]]:
        # Built on first use: most snapshots only ever answer manager and group questions.
        cached = self.__dict__.get("_unit_members_cache")
        if cached is None:
            cached = {}
            for p in self.people.values():
                if p.org_unit_id is not None:
                    cached.setdefault(p.org_unit_id, []).append(p)
            self.__dict__["_unit_members_cache"] = cached
        return cached

    @property
    def _units_by_code(self) -> dict[str, UnitInfo]:
        cached = self.__dict__.get("_units_by_code_cache")
        if cached is None:
            cached = {u.code: u for u in self.units.values()}
            self.__dict__["_units_by_code_cache"] = cached
        return cached


# -- loading from the database ----------------------------------------------------------------

_cached: DirectorySnapshot | None = None
_checked_at = 0.0
# How long a snapshot is trusted without asking the database whether the directory moved.
# Changes made in this process are seen at once (they forget the snapshot); another app
# process's import is seen within this window.
RECHECK_SECONDS = 1.0


async def _stored_version() -> int:
    rows = await DirectoryVersion.filter(id=1).values("version")
    return int(rows[0]["version"]) if rows else 0


async def load_directory() -> DirectorySnapshot:
    """Read every person, unit, group membership and chosen language into a new snapshot
    (five queries)."""
    # The version is read first: if the directory changes while we read, the snapshot carries
    # the older version and the next current_directory() call reloads it.
    version = await _stored_version()
    groups: dict[int, set[str]] = {}
    for person_id, group in await GroupMembership.all().values_list("person_id", "group"):
        groups.setdefault(person_id, set()).add(group)
    people = {
        row["id"]: PersonInfo(
            id=row["id"],
            key=row["key"],
            name=row["name"],
            email=row["email"],
            title=row["title"],
            job_family=row["job_family"],
            org_unit_id=row["org_unit_id"],
            manager_id=row["manager_id"],
            groups=frozenset(groups.get(row["id"], ())),
            active=row["active"],
            attributes=row["attributes"] or {},
            position=row["position"] or "",
        )
        for row in await Person.all().values(
            "id",
            "key",
            "name",
            "email",
            "title",
            "job_family",
            "org_unit_id",
            "manager_id",
            "active",
            "attributes",
            "position",
        )
    }
    units = {
        row["id"]: UnitInfo(
            id=row["id"],
            code=row["code"],
            name=row["name"],
            parent_id=row["parent_id"],
            head_id=row["head_id"],
            attributes=row["attributes"] or {},
        )
        for row in await OrgUnit.all().values(
            "id", "code", "name", "parent_id", "head_id", "attributes"
        )
    }
    languages = {
        int(person_id): str(language)
        for person_id, language in await User.exclude(language="").values_list(
            "person_id", "language")
    }
    return DirectorySnapshot(version=version, people=people, units=units, languages=languages)


async def current_directory() -> DirectorySnapshot:
    """The cached snapshot, reloaded only when the stored directory version has moved."""
    global _cached, _checked_at
    now = time.monotonic()
    if _cached is not None and now - _checked_at < RECHECK_SECONDS:
        return _cached
    version = await _stored_version()
    if _cached is None or _cached.version != version:
        _cached = await load_directory()
    _checked_at = now
    return _cached


@clears_on_connect
def forget_directory() -> None:
    """Drop the cached snapshot (the next current_directory() reloads)."""
    global _cached
    _cached = None


async def bump_directory_version() -> None:
    """Mark the directory as changed; call inside the transaction that changed it."""
    updated = await DirectoryVersion.filter(id=1).update(version=F("version") + 1)
    if not updated:
        await DirectoryVersion.create(id=1, version=1)
    forget_directory()


async def person_by_key(key: str) -> PersonInfo | None:
    """A person by their organisation key (employee number), from the current snapshot."""
    return (await current_directory()).by_key.get(key)
