"""The directory: people, org units, reporting lines and groups, as an in-memory snapshot.

Scripts and lane resolution run synchronously inside SpiffWorkflow, so they read an immutable
snapshot that is reloaded only when the directory changes (DirectoryVersion is bumped).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


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
