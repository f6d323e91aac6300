"""Lane assignment: who a BPMN lane names for one instance, and who may act on a task.

A pack's `[lanes]` maps each lane name to a resolver (see `parse_resolver`). For each new user
task the runtime asks `resolve_lane`, which answers with an `Assignment`:

- one person                  -> `assignee_id` (the task is theirs);
- one group                   -> `candidate_group` (any member may claim it);
- several people and/or groups -> no assignee and no candidate group; `candidates` lists them all
  and any of them may act (nobody is picked arbitrarily);
- nobody (no manager, an inactive person, an empty group, an unmapped lane, a missing unit
  attribute, a bad resolver) -> `candidate_group = "hr"` with a `note` saying exactly why,
  never a silent orphan.

Task data `lane_owners = {"<lane>": ["<person id or key>", "group:<name>"]}` overrides the pack
for that lane, as in SpiffArena. Entries that resolve to nobody are dropped (and named in the
note); the task goes to HR only when every entry is dropped.

A task with no lane goes to the instance's starter, or to its subject when there is no (active)
starter — the person who started the process is the one waiting on its lane-less steps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from engine.people.directory import DirectorySnapshot, PersonInfo

HR_GROUP = "hr"
ROOTS = ("subject", "starter")
_GROUP = re.compile(r"group:([A-Za-z0-9_.-]+)")
_PERSON = re.compile(r"person:([A-Za-z0-9_.@-]+)")
_ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
GRAMMAR = (
    "subject, starter, group:<name>, person:<id or key>, or a dotted path from subject or "
    "starter through manager and org_unit.<attribute> (e.g. subject.manager.manager, "
    "subject.org_unit.hr_partner, subject.org_unit.head)"
)


class ResolverError(ValueError):
    """A lane resolver that does not follow the grammar."""


@dataclass(frozen=True)
class Resolver:
    """A parsed lane resolver.

    kind is "subject", "starter", "group" or "person"; `steps` walks from the root person
    ("manager" or "org_unit.<attribute>"); `value` is the group name or the person id/key.
    """

    kind: str
    steps: tuple[str, ...] = ()
    value: str = ""

    def __str__(self) -> str:
        if self.kind in ("group", "person"):
            return f"{self.kind}:{self.value}"
        return ".".join([self.kind, *self.steps])


@dataclass(frozen=True)
class Assignment:
    """Who a task goes to: one assignee, a claimable group, or several candidates."""

    assignee_id: int | None
    candidate_group: str | None
    candidates: list[str | int] = field(default_factory=list)
    # Why the task is not where its lane says (set whenever something resolved to nobody).
    note: str | None = None


def parse_resolver(text: str) -> Resolver:
    """Parse a lane resolver such as `subject.manager` or `group:hr`; ResolverError if bad."""
    if not isinstance(text, str):
        raise ResolverError(f"a lane resolver must be text, not {type(text).__name__}")
    text = text.strip()
    if match := _GROUP.fullmatch(text):
        return Resolver("group", value=match.group(1))
    if match := _PERSON.fullmatch(text):
        return Resolver("person", value=match.group(1))
    if text.startswith(("group:", "person:")):
        raise ResolverError(f"resolver {text!r}: nothing (or an odd character) after the colon")
    parts = text.split(".")
    if parts[0] not in ROOTS:
        raise ResolverError(f"resolver {text!r} is not one of: {GRAMMAR}")
    steps: list[str] = []
    rest = parts[1:]
    while rest:
        step = rest.pop(0)
        if step == "manager":
            steps.append(step)
        elif step == "org_unit":
            if not rest or not _ATTRIBUTE.fullmatch(rest[0]):
                raise ResolverError(
                    f"resolver {text!r}: org_unit must be followed by .<attribute> "
                    "(e.g. org_unit.head or org_unit.hr_partner)"
                )
            steps.append(f"org_unit.{rest.pop(0)}")
        else:
            raise ResolverError(
                f"resolver {text!r}: unknown step {step!r} (expected manager or org_unit.<x>)"
            )
    return Resolver(parts[0], steps=tuple(steps))


# An owner is a person id or "group:<name>"; a miss is the reason something resolved to nobody.
Owner = int | str


def _group_owner(name: str, directory: DirectorySnapshot) -> tuple[Owner | None, str | None]:
    if not any(
        directory.people[p].active for p in directory.members(name) if p in directory.people
    ):
        return None, f"group '{name}' has no active members"
    return f"group:{name}", None


def _person_owner(person: PersonInfo, how: str = "") -> tuple[Owner | None, str | None]:
    if not person.active:
        return None, f"{person.name}{how} is inactive"
    return person.id, None


def _follow(
    resolver: Resolver,
    directory: DirectorySnapshot,
    subject_id: int | None,
    starter_id: int | None,
) -> tuple[Owner | None, str | None]:
    """Walk a parsed resolver to one owner, or to the reason there is none."""
    if resolver.kind == "group":
        return _group_owner(resolver.value, directory)
    if resolver.kind == "person":
        person = directory.person(resolver.value)
        if person is None:
            return None, f"person '{resolver.value}' is not in the directory"
        return _person_owner(person)
    root_id = subject_id if resolver.kind == "subject" else starter_id
    if root_id is None:
        return None, f"the process has no {resolver.kind}"
    person = directory.person(root_id)
    if person is None:
        return None, f"the {resolver.kind} (person #{root_id}) is not in the directory"
    how = ""
    for number, step in enumerate(resolver.steps, start=1):
        if step == "manager":
            manager = directory.manager_of(person.id)
            if manager is None:
                return None, f"{person.name} has no manager"
            person, how = manager, f", manager of {person.name},"
            continue
        attribute = step.removeprefix("org_unit.")
        unit = directory.unit(person.org_unit_id)
        if unit is None:
            return None, f"{person.name} has no org unit"
        if attribute == "head":
            head = directory.person(unit.head_id)
            if head is None:
                return None, f"unit {unit.name} ({unit.code}) has no head"
            person, how = head, f", head of {unit.name},"
            continue
        value = unit.attributes.get(attribute)
        if value in (None, ""):
            return None, f"unit {unit.name} ({unit.code}) has no {attribute}"
        if isinstance(value, str) and value.startswith("group:"):
            if number < len(resolver.steps):
                return None, (
                    f"the {attribute} of unit {unit.name} is a group ({value}), "
                    "so the path cannot go on from it"
                )
            return _group_owner(value.removeprefix("group:"), directory)
        found = directory.person(value) if isinstance(value, int | str) else None
        if found is None:
            return None, f"the {attribute} of unit {unit.name} ({value!r}) is not in the directory"
        person, how = found, f", {attribute} of {unit.name},"
    return _person_owner(person, how)


def _owner_entry(entry: object, directory: DirectorySnapshot) -> tuple[Owner | None, str | None]:
    """One `lane_owners` entry: a person id, a person key, person:<x> or group:<name>."""
    if isinstance(entry, bool) or not isinstance(entry, int | str):
        return None, f"{entry!r} is neither a person nor a group"
    if isinstance(entry, str) and entry.startswith("group:"):
        return _group_owner(entry.removeprefix("group:"), directory)
    person = directory.person(entry)
    if person is None:
        return None, f"person '{entry}' is not in the directory"
    return _person_owner(person)


def _assignment(owners: Iterable[Owner], note: str | None) -> Assignment:
    unique = list(dict.fromkeys(owners))
    if len(unique) == 1 and isinstance(unique[0], int):
        return Assignment(unique[0], None, unique, note)
    if len(unique) == 1:
        return Assignment(None, str(unique[0]).removeprefix("group:"), unique, note)
    return Assignment(None, None, unique, note)


def to_hr(note: str, lane: str | None = None, misses: Sequence[str] = ()) -> Assignment:
    """The assignment of a task whose lane resolved to nobody: HR, with the reason — a plain
    sentence for HR first (who, why, what to do), then the technical detail."""
    plain = plain_reason(lane, misses) if misses else None
    text = f"{plain} Details: {note}" if plain else note
    return Assignment(None, HR_GROUP, [f"group:{HR_GROUP}"], text)


_PLAIN: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"(?P<who>.+?) has no manager$"),
     "{who} has no manager in the directory",
     "record {who}'s manager in the directory, or do this step yourself"),
    (re.compile(r"(?P<who>.+?), manager of (?P<of>.+?), is inactive$"),
     "{who}, the manager of {of}, has left (inactive in the directory)",
     "give {of} a new manager in the directory, or do this step yourself"),
    (re.compile(r"(?P<who>.+?)(?:, .+,)? is inactive$"),
     "{who} has left (inactive in the directory)",
     "update the directory, or do this step yourself"),
    (re.compile(r"group '(?P<group>.+)' has no active members$"),
     "the group “{group}” has nobody in it who is still active",
     "add someone to the group “{group}”, or do this step yourself"),
    (re.compile(r"the process has no (?P<role>subject|starter)$"),
     "the process has no {role}",
     "do this step yourself"),
    (re.compile(r"it is not mapped in the pack's \[lanes\]$|resolver .*"),
     "the pack does not say who works in this lane",
     "ask the process designer to map the lane in the pack, and do this step yourself"),
    (re.compile(r"(?P<who>.+?) has no org unit$"),
     "{who} belongs to no unit in the directory",
     "put {who} in a unit in the directory, or do this step yourself"),
    (re.compile(r"unit (?P<unit>.+) has no (?P<what>.+)$"),
     "unit {unit} has no {what} in the directory",
     "record the unit's {what} in the directory, or do this step yourself"),
)


def plain_reason(lane: str | None, misses: Sequence[str]) -> str:
    """Why a step came to HR, for HR: "Nobody could take the “Manager” step: Grace Hopper has
    no manager in the directory. It came to HR instead: record Grace Hopper's manager in the
    directory, or do this step yourself."."""
    why: list[str] = []
    fix = "check the directory, or do this step yourself"
    for miss in misses:
        for pattern, reason, advice in _PLAIN:
            found = pattern.fullmatch(miss)
            if found:
                values = found.groupdict()
                why.append(reason.format(**values))
                fix = advice.format(**values)
                break
        else:
            why.append(miss)
    step = f"the “{lane}” step" if lane else "this step (it has no lane)"
    return (f"Nobody could take {step}: {'; '.join(why)}. "
            f"It came to HR instead: {fix}.")


def resolve_lane(
    lane: str | None,
    lanes: Mapping[str, str],
    directory: DirectorySnapshot,
    subject_id: int | None,
    starter_id: int | None,
    lane_owners: Mapping[str, Sequence[object] | object] | None = None,
    default_resolver: str | None = None,
) -> Assignment:
    """Who a new task in `lane` goes to for this instance (see the module docstring)."""
    if lane is None:
        misses: list[str] = []
        for root in ("starter", "subject"):
            owner, miss = _follow(Resolver(root), directory, subject_id, starter_id)
            if owner is not None:
                return _assignment([owner], None)
            misses.append(miss or "")
        return to_hr(f"Task with no lane resolved to nobody: {'; '.join(misses)}", None, misses)

    if isinstance(lane_owners, Mapping) and lane in lane_owners:
        entries = lane_owners[lane]
        if isinstance(entries, str | int) or not isinstance(entries, Sequence):
            entries = [entries]
        owners: list[Owner] = []
        misses = []
        for entry in entries:
            owner, miss = _owner_entry(entry, directory)
            if owner is not None:
                owners.append(owner)
            elif miss:
                misses.append(miss)
        if not owners:
            reason = "; ".join(misses) or "the list is empty"
            return to_hr(f"Lane {lane!r} (lane_owners) resolved to nobody: {reason}", lane,
                         misses or ["the list of owners is empty"])
        note = f"Lane {lane!r} (lane_owners): ignored {'; '.join(misses)}" if misses else None
        return _assignment(owners, note)

    text = lanes.get(lane, default_resolver)
    if text is None:
        return to_hr(f"Lane {lane!r} resolved to nobody: it is not mapped in the pack's [lanes]",
                     lane, ["it is not mapped in the pack's [lanes]"])
    try:
        resolver = parse_resolver(text)
    except ResolverError as error:
        return to_hr(f"Lane {lane!r} resolved to nobody: {error}", lane, [str(error)])
    owner, miss = _follow(resolver, directory, subject_id, starter_id)
    if owner is None:
        return to_hr(f"Lane {lane!r} ({resolver}) resolved to nobody: {miss}", lane,
                     [miss or ""])
    return _assignment([owner], None)


def may_act(
    person_id: int,
    task_assignee_id: int | None,
    candidate_group: str | None,
    candidates: Iterable[str | int] | None,
    directory: DirectorySnapshot,
) -> bool:
    """Whether an active person may work the task: its assignee, or (unclaimed) a candidate."""
    person = directory.people.get(person_id)
    if person is None or not person.active:
        return False
    if task_assignee_id is not None:
        return task_assignee_id == person_id
    if candidate_group and candidate_group in person.groups:
        return True
    for candidate in candidates or ():
        if isinstance(candidate, str) and candidate.startswith("group:"):
            if candidate.removeprefix("group:") in person.groups:
                return True
        elif isinstance(candidate, int | str) and not isinstance(candidate, bool):
            found = directory.person(candidate)
            if found is not None and found.id == person_id:
                return True
    return False
