"""What happened to a process instance, told for people: its timeline, where it stands now,
what was submitted at each step, and which diagram elements to highlight.

Everything here reads the audit trail, the human-task rows and the stored state; nothing
runs the workflow. Submitted data is described with the task's own form (titles, choice
labels, table columns), so pages can lay it out as a document instead of raw JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.util.task import TaskState

from engine.base import clock
from engine.base.errors import NotFound
from engine.base.i18n import pack_text, said, said_together
from engine.base.models import AuditEvent, Cycle, HumanTask, ProcessInstance
from engine.base.serialization import state_dict
from engine.packs.definitions import Deployed, deployed
from engine.packs.specs import BPMN_NS, parse_xml
from engine.people.directory import DirectorySnapshot, current_directory
from forms import form_spec, render_schema_template
from forms.schema import FieldNode, humanise

STATUS_LABELS = {
    "running": said("In progress"),
    "waiting": said("Waiting"),
    "completed": said("Completed"),
    "error": said("Stopped on an error"),
    "cancelled": said("Cancelled"),
}
# Task states that mean "the process is at this element now".
_CURRENT_STATES = {TaskState.READY, TaskState.STARTED, TaskState.WAITING, TaskState.ERROR}
_CHOICE_KINDS = {"radio", "select", "rating"}
_MULTI_KINDS = {"checkboxes", "multiselect"}


# -- what pages show ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    """One signature on a submitted form: who, when, and what they added."""

    name: str
    signed_at: datetime | None
    comment: str = ""
    signer_id: int | None = None


@dataclass(frozen=True)
class ShownValue:
    """One submitted field, ready to lay out: text, a table, a signature or a group of fields."""

    label: str
    kind: str  # text | choice | long_text | table | signature | group
    text: str = ""
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    footer: str = ""
    signature: Signature | None = None
    children: tuple[ShownValue, ...] = ()


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened, oldest first: who did what, when, and what they submitted."""

    at: datetime
    action: str
    actor_name: str
    actor_id: int | None
    headline: str
    summary: str = ""
    bpmn_id: str | None = None
    step_name: str | None = None
    fields: tuple[ShownValue, ...] = ()
    signatures: tuple[Signature, ...] = ()
    # For errors: the engine's message (pages show it to HR only).
    error_message: str = ""
    # A submission that a later round of the same step replaced (e.g. returned for rework).
    superseded: bool = False

    @property
    def is_submission(self) -> bool:
        """Whether someone submitted a form here."""
        return self.action == "task_completed"


@dataclass(frozen=True)
class OpenStep:
    """A human task waiting now, and who holds it."""

    task_id: int
    name: str
    bpmn_id: str
    holder: str
    assignee_id: int | None
    candidate_group: str | None
    candidates: tuple[str, ...]
    due_at: datetime | None
    routing_note: str | None = None

    @property
    def overdue(self) -> bool:
        """Whether the due moment has passed."""
        return self.due_at is not None and self.due_at < clock.now()


@dataclass
class InstanceHistory:
    """Everything the instance page and its print view need, read once."""

    instance: ProcessInstance
    subject_id: int | None
    subject_name: str
    process_id: str
    process_title: str
    version: int
    pack: str
    cycle_name: str | None
    status: str
    error_message: str
    error_step: str | None
    open_steps: list[OpenStep]
    timeline: list[TimelineEntry]
    completed_ids: set[str]
    current_ids: set[str]
    failed_ids: set[str]
    bpmn_xml: str
    started_at: datetime | None = None
    completed_at: datetime | None = None
    started_by: str = ""

    @property
    def status_label(self) -> str:
        """The status in words."""
        return STATUS_LABELS.get(self.status, self.status.capitalize())

    @property
    def submissions(self) -> list[TimelineEntry]:
        """Every submitted form, oldest first."""
        return [entry for entry in self.timeline if entry.is_submission]

    @property
    def signatures(self) -> list[Signature]:
        """Every signature given in this process, oldest first."""
        return [sig for entry in self.submissions for sig in entry.signatures]


@dataclass(frozen=True)
class ReviewLine:
    """One of a person's own processes, for "My reviews"."""

    instance_id: int
    process_title: str
    version: int
    cycle_name: str | None
    status: str
    started_at: datetime
    completed_at: datetime | None
    now_with: tuple[OpenStep, ...] = field(default_factory=tuple)

    @property
    def status_label(self) -> str:
        """The status in words."""
        return STATUS_LABELS.get(self.status, self.status.capitalize())

    @property
    def is_completed(self) -> bool:
        """Whether the process has finished normally."""
        return self.status == "completed"


# -- reading ---------------------------------------------------------------------------------


async def instance_history(instance_id: int, viewer_id: int | None = None) -> InstanceHistory:
    """The instance's story: header facts, open steps, timeline, highlights and BPMN XML. Told
    to the person it is about (`viewer_id` is its subject), it leaves out the fields the forms
    mark private."""
    row = await ProcessInstance.get_or_none(id=instance_id)
    if row is None:
        raise NotFound(f"no instance {instance_id}")
    directory = await current_directory()
    dep = await deployed(row.definition_id)
    cycle_name = None
    if row.cycle_id is not None:
        cycle = await Cycle.get_or_none(id=row.cycle_id)
        cycle_name = cycle.name if cycle else None
    tasks = await HumanTask.filter(instance_id=row.id).order_by("id")
    events = await AuditEvent.filter(instance_id=row.id).order_by("id")
    subject = directory.person(row.subject_id)
    xml = process_xml(dep)
    completed, current, failed = _highlights(row.state, dep, _element_ids(dep.id, xml))
    error = row.error or {}
    return InstanceHistory(
        instance=row,
        subject_id=row.subject_id,
        subject_name=subject.name if subject else "",
        process_id=row.process_id,
        process_title=dep.title,
        version=dep.version,
        pack=dep.pack,
        cycle_name=cycle_name,
        status=row.status,
        error_message=str(error.get("message") or "") if row.status == "error" else "",
        error_step=(error.get("task_name") or error.get("task")) if row.status == "error" else None,
        open_steps=[open_step(t, directory) for t in tasks if t.status == "ready"],
        timeline=_timeline(events, tasks, dep, directory, subject.name if subject else "",
                           for_subject=viewer_id is not None and viewer_id == row.subject_id),
        completed_ids=completed,
        current_ids=current,
        failed_ids=failed,
        bpmn_xml=xml,
        started_at=row.started_at,
        completed_at=row.completed_at,
        started_by=actor_name(row.started_by, directory),
    )


async def reviews_of(person_id: int) -> list[ReviewLine]:
    """A person's own processes (they are the subject), newest first, with where each stands."""
    rows = (
        await ProcessInstance.filter(subject_id=person_id)
        .select_related("definition", "cycle")
        .order_by("-started_at", "-id")
    )
    if not rows:
        return []
    directory = await current_directory()
    open_by_instance: dict[int, list[OpenStep]] = {}
    for task in await HumanTask.filter(
        instance_id__in=[r.id for r in rows], status="ready"
    ).order_by("id"):
        open_by_instance.setdefault(task.instance_id, []).append(
            open_step(task, directory)
        )
    return [
        ReviewLine(
            instance_id=row.id,
            process_title=row.definition.title or row.process_id,
            version=row.definition.version,
            cycle_name=row.cycle.name if row.cycle else None,
            status=row.status,
            started_at=row.started_at,
            completed_at=row.completed_at,
            now_with=tuple(open_by_instance.get(row.id, ())),
        )
        for row in rows
    ]


# -- people and holders ----------------------------------------------------------------------


def group_label(group: str) -> str:
    """A group as people name it: "hr" -> "HR", "compensation" -> "Compensation"."""
    return group.upper() if len(group) <= 3 else group.replace("_", " ").capitalize()


def actor_name(label: str, directory: DirectorySnapshot) -> str:
    """An audit actor ("person:E300", "system:timer") as a name people recognise."""
    if label.startswith("person:"):
        person = directory.person(label)
        return person.name if person else label.removeprefix("person:")
    if label.startswith("system"):
        return "Sightline"  # the product's name, in every language
    return label


def open_step(task: HumanTask, directory: DirectorySnapshot) -> OpenStep:
    """An open human-task row with its holder named."""
    candidates = tuple(str(c) for c in task.candidates or ())
    return OpenStep(
        task_id=task.id,
        name=task.name,
        bpmn_id=task.bpmn_id,
        holder=_holder(task, candidates, directory),
        assignee_id=task.assignee_id,
        candidate_group=task.candidate_group,
        candidates=candidates,
        due_at=task.due_at,
        routing_note=task.routing_note,
    )


def _holder(task: HumanTask, candidates: tuple[str, ...], directory: DirectorySnapshot) -> str:
    if task.assignee_id is not None:
        person = directory.person(task.assignee_id)
        return person.name if person else f"person {task.assignee_id}"
    names = []
    if task.candidate_group:
        names.append(group_label(task.candidate_group))
    for ref in candidates:
        if ref.startswith("group:"):
            label = group_label(ref.removeprefix("group:"))
        else:
            person = directory.person(ref)
            label = person.name if person else ref
        if label not in names:
            names.append(label)
    return " or ".join(names) if names else "nobody yet"


# -- the diagram -----------------------------------------------------------------------------

_xml_ids: dict[int, frozenset[str]] = {}


def process_xml(dep: Deployed) -> str:
    """The BPMN file of a deployed version that defines its process (empty if none does)."""
    for rel, text in sorted(dep.sources.items()):
        if not rel.endswith(".bpmn") or dep.process_id not in text:
            continue
        root = parse_xml(text)
        if any(p.get("id") == dep.process_id for p in root.iter(f"{{{BPMN_NS}}}process")):
            return text
    return ""


def _element_ids(definition_id: int, xml: str) -> frozenset[str]:
    found = _xml_ids.get(definition_id)
    if found is None:
        ids: set[str] = set()
        if xml:
            for element in parse_xml(xml).iter(f"{{{BPMN_NS}}}*"):
                if element.get("id"):
                    ids.add(element.get("id"))
        found = _xml_ids[definition_id] = frozenset(ids)
    return found


def _state_tasks(state: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    yield from state.get("tasks", {}).values()
    for sub in state.get("subprocesses", {}).values():
        yield from _state_tasks(sub)


def _spec_of(dep: Deployed, name: str) -> Any:
    for process in [dep.built.spec, *dep.built.subprocess_specs.values()]:
        if process is not None and name in process.task_specs:
            return process.task_specs[name]
    return None


def _highlights(
    state_text: bytes, dep: Deployed, element_ids: frozenset[str]
) -> tuple[set[str], set[str], set[str]]:
    """(completed, current, failed) diagram element ids from the stored task tree.

    An element that is open again (a step returned for rework) counts as current, not
    completed. A boundary timer waiting on its task is part of that task, not a step of its
    own.
    """
    try:
        state = state_dict(state_text)
    except ValueError:
        return set(), set(), set()
    completed: set[str] = set()
    current: set[str] = set()
    failed: set[str] = set()
    for task in _state_tasks(state):
        name = task.get("task_spec")
        status = task.get("state")
        if name not in element_ids:
            continue
        if status == TaskState.COMPLETED:
            completed.add(name)
        elif status == TaskState.ERROR:
            failed.add(name)
        elif status in _CURRENT_STATES:
            if status == TaskState.WAITING and isinstance(_spec_of(dep, name), BoundaryEvent):
                continue
            current.add(name)
    current |= failed
    return completed - current, current, failed


# -- the timeline ----------------------------------------------------------------------------


def _timeline(
    events: list[AuditEvent],
    tasks: list[HumanTask],
    dep: Deployed,
    directory: DirectorySnapshot,
    subject_name: str,
    *,
    for_subject: bool = False,
) -> list[TimelineEntry]:
    task_names = {t.id: t.name for t in tasks}
    entries = [
        _entry(event, task_names, dep, directory, subject_name, for_subject=for_subject)
        for event in events
        if event.action != "task_draft_saved"
    ]
    # A step submitted again later (after a return for rework) replaces its earlier round.
    last_round: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if entry.is_submission and entry.bpmn_id:
            last_round[entry.bpmn_id] = index
    return [
        _replace(entry, superseded=True)
        if entry.is_submission and entry.bpmn_id and last_round[entry.bpmn_id] != index
        else entry
        for index, entry in enumerate(entries)
    ]


def _replace(entry: TimelineEntry, **changes: Any) -> TimelineEntry:
    from dataclasses import replace

    return replace(entry, **changes)


def _entry(
    event: AuditEvent,
    task_names: Mapping[int, str],
    dep: Deployed,
    directory: DirectorySnapshot,
    subject_name: str,
    *,
    for_subject: bool = False,
) -> TimelineEntry:
    who = actor_name(event.actor, directory)
    person = directory.person(event.actor) if event.actor.startswith("person:") else None
    detail = event.detail or {}
    actor_id = person.id if person else None

    def told(headline: str, **extra: Any) -> TimelineEntry:
        return TimelineEntry(at=event.at, action=event.action, actor_name=who,
                             actor_id=actor_id, headline=headline, **extra)

    action = event.action
    if action == "task_completed":
        step = pack_text(str(detail.get("name") or detail.get("bpmn_id") or "")) \
            if detail.get("name") or detail.get("bpmn_id") else said("a step")
        bpmn_id = detail.get("bpmn_id")
        data = detail["data"] if isinstance(detail.get("data"), dict) else {}
        shown = describe_submission(dep, bpmn_id, data, signed_by=who, signed_at=event.at,
                                    signer_id=actor_id, for_subject=for_subject)
        return told(
            said("%(who)s completed %(step)s", who=who, step=step),
            summary=summarise(shown),
            bpmn_id=bpmn_id,
            step_name=step,
            fields=tuple(shown),
            signatures=tuple(_signatures(shown)),
        )
    if action == "instance_started":
        version = detail.get("version")
        title = pack_text(dep.title)
        return told(said("%(who)s started %(process)s for %(person)s", who=who, process=title,
                         person=subject_name) if subject_name
                    else said("%(who)s started %(process)s", who=who, process=title),
                    summary=said("version %(version)s", version=version) if version else "")
    if action == "instance_completed":
        return told(said("%(process)s completed", process=pack_text(dep.title)))
    if action == "instance_error":
        where = detail.get("task_name") or detail.get("task")
        return told(
            said("Stopped on an error at %(step)s", step=pack_text(str(where))) if where
            else said("Stopped on an error"),
            bpmn_id=detail.get("task"),
            error_message=str(detail.get("message") or ""),
        )
    if action == "instance_retried":
        version = detail.get("version")
        return told(said("%(who)s restarted the process after the error", who=who),
                    summary=said("now on version %(version)s", version=version) if version
                    else "")
    if action == "timer_fired":
        names = [_element_name(dep, t) for t in detail.get("timers") or []]
        return told(said("Timer went off: %(timers)s", timers=said_together(
            pack_text(name) for name in names)) if names else said("Timer went off"))
    if action in ("task_claimed", "task_released"):
        named = task_names.get(event.task_id or 0)
        step = pack_text(named) if named else said("a step")
        if action == "task_claimed":
            return told(said("%(who)s took %(step)s", who=who, step=step), step_name=step)
        return told(said("%(who)s gave back %(step)s", who=who, step=step), step_name=step)
    if action in ("message_received", "signal_received"):
        kind = action.split("_")[0]
        if kind == "signal":
            return told(said("Received signal “%(name)s”", name=detail.get("name", "")))
        return told(said("Received message “%(name)s”", name=detail.get("name", "")))
    return told(f"{who}: {humanise(action).lower()}")


def _element_name(dep: Deployed, name: str) -> str:
    spec = _spec_of(dep, name)
    return str(getattr(spec, "bpmn_name", None) or name)


# -- describing submitted data ---------------------------------------------------------------


def _form_root(dep: Deployed, bpmn_id: str | None, data: Mapping[str, Any]) -> FieldNode | None:
    """The compiled form of a task, or None when it has none or it no longer compiles."""
    if not bpmn_id:
        return None
    info = dep.built.task_forms.get(bpmn_id)
    if info is None:
        info = next((i for i in dep.built.task_forms.values() if i.bpmn_id == bpmn_id), None)
    if info is None or not info.form_schema_path:
        return None
    try:
        schema = render_schema_template(dep.sources[info.form_schema_path], data)
        uischema: dict[str, Any] = {}
        if info.form_uischema_path and info.form_uischema_path in dep.sources:
            uischema = render_schema_template(dep.sources[info.form_uischema_path], data)
        return form_spec(schema, uischema, dep.catalogs).root
    except Exception:  # a form that needs task data we no longer have: describe it plainly
        return None


def describe_submission(
    dep: Deployed,
    bpmn_id: str | None,
    data: Mapping[str, Any],
    *,
    signed_by: str = "",
    signed_at: datetime | None = None,
    signer_id: int | None = None,
    for_subject: bool = False,
) -> list[ShownValue]:
    """Submitted form data as labelled values, using the task's form where there is one;
    `for_subject`: without the fields the form marks private (`"ui:options": {"private": true}`).

    A signature stored as plain `true` (the boolean signature widget) is attributed to the
    person who submitted the form, at that moment, with a sibling `comment` as its comment.
    """
    signer = Signature(name=signed_by, signed_at=signed_at, signer_id=signer_id)
    root = _form_root(dep, bpmn_id, data)
    nodes = list(root.children) if root is not None else []
    if for_subject:
        private = {node.name for node in nodes if node.options.get("private") is True}
        nodes = [node for node in nodes if node.name not in private]
        data = {key: value for key, value in data.items() if key not in private}
    return _describe_object(nodes, data, signer)


def _describe_object(
    nodes: list[FieldNode], data: Mapping[str, Any], signer: Signature
) -> list[ShownValue]:
    shown: list[ShownValue] = []
    named = {node.name for node in nodes}
    for node in nodes:
        if node.kind == "hidden" or node.name not in data:
            continue
        value = _describe(node, data[node.name], data, signer)
        if value is not None:
            shown.append(value)
    for key, value in data.items():
        if key in named or key.startswith("_"):
            continue
        plain = _describe_plain(humanise(key), value)
        if plain is not None:
            shown.append(plain)
    return shown


def _describe(
    node: FieldNode, value: Any, siblings: Mapping[str, Any], signer: Signature
) -> ShownValue | None:
    label = node.label
    if node.kind == "signature":
        return ShownValue(label, "signature", signature=_signature(value, siblings, signer),
                          text="" if value else said("Not signed"))
    if value is None or value == "" or value == []:
        return None
    if node.kind == "table" and isinstance(value, list):
        cells = {
            c.name: [_cell(c, row.get(c.name) if isinstance(row, dict) else None) for row in value]
            for c in node.children
            if c.kind != "hidden"
        }
        # Columns nobody filled in are noise in a document.
        columns = [c for c in node.children if any(cells.get(c.name, ()))]
        rows = tuple(tuple(cells[c.name][i] for c in columns) for i in range(len(value)))
        footer = ""
        if node.total is not None:
            column = node.child(node.total.column)
            total = sum(
                r.get(column.name) or 0
                for r in value
                if isinstance(r, dict) and isinstance(r.get(column.name), int | float)
            )
            footer = f"Total {_bare(column.label).lower()}: {_number(total)}{_unit(column.label)}"
        return ShownValue(label, "table", columns=tuple(c.label for c in columns), rows=rows,
                          footer=footer, text=_count(len(rows), label, node, value))
    if node.kind == "object" and isinstance(value, dict):
        children = _describe_object(list(node.children), value, signer)
        return ShownValue(label, "group", children=tuple(children)) if children else None
    if node.kind == "textarea":
        return ShownValue(label, "long_text", text=str(value))
    kind = "choice" if node.choices or node.kind == "checkbox" else "text"
    return ShownValue(label, kind, text=_cell(node, value))


def _cell(node: FieldNode, value: Any) -> str:
    if value is None or value == "":
        return ""
    if node.kind in _CHOICE_KINDS or (node.choices and not isinstance(value, list)):
        for choice in node.choices:
            if choice.value == value:
                return choice.label
        return str(value)
    if node.kind in _MULTI_KINDS and isinstance(value, list):
        labels = {json.dumps(c.value): c.label for c in node.choices}
        return ", ".join(labels.get(json.dumps(v), str(v)) for v in value)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int | float):
        return _number(value)
    return str(value)


def _count(count: int, label: str, node: FieldNode, value: list[Any]) -> str:
    noun = label.lower()
    if count == 1 and noun.endswith("s"):
        noun = noun[:-1]
    text = f"{count} {noun}"
    if node.total is not None:
        column = node.child(node.total.column)
        total = sum(
            r.get(column.name) or 0
            for r in value
            if isinstance(r, dict) and isinstance(r.get(column.name), int | float)
        )
        plural = _bare(column.label).lower()
        plural = plural if plural.endswith("s") else f"{plural}s"
        text += f", {plural} {_number(total)}{_unit(column.label)}"
    return text


def _bare(label: str) -> str:
    """A column label without its unit: "Weight (%)" -> "Weight"."""
    return re.sub(r"\s*\([^)]*\)\s*$", "", label) or label


def _unit(label: str) -> str:
    return "%" if "%" in label else ""


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _signature(value: Any, siblings: Mapping[str, Any], signer: Signature) -> Signature | None:
    if isinstance(value, dict):
        if not value.get("acknowledged"):
            return None
        signed_at = None
        if isinstance(value.get("signed_at"), str):
            try:
                signed_at = datetime.fromisoformat(value["signed_at"])
            except ValueError:
                signed_at = None
        signer_id = value.get("signer_id")
        return Signature(
            name=str(value.get("name") or signer.name),
            signed_at=signed_at or signer.signed_at,
            comment=str(value.get("comment") or ""),
            signer_id=int(str(signer_id)) if str(signer_id or "").isdigit() else signer.signer_id,
        )
    if value is True:
        comment = siblings.get("comment")
        return Signature(
            name=signer.name,
            signed_at=signer.signed_at,
            comment=comment if isinstance(comment, str) else "",
            signer_id=signer.signer_id,
        )
    return None


def _describe_plain(label: str, value: Any) -> ShownValue | None:
    """A value with no form to describe it: best effort from its shape."""
    if value is None or value == "" or value == [] or value == {}:
        return None
    if isinstance(value, dict):
        if "signed_at" in value and "acknowledged" in value:
            blank = Signature(name="", signed_at=None)
            return ShownValue(label, "signature", signature=_signature(value, {}, blank))
        children = [c for c in (_describe_plain(humanise(k), v) for k, v in value.items()) if c]
        return ShownValue(label, "group", children=tuple(children))
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        keys: list[str] = []
        for row in value:
            keys.extend(k for k in row if k not in keys)
        rows = tuple(tuple(_plain_text(row.get(k)) for k in keys) for row in value)
        return ShownValue(label, "table", columns=tuple(humanise(k) for k in keys), rows=rows,
                          text=f"{len(rows)} {label.lower()}")
    text = _plain_text(value)
    return ShownValue(label, "long_text" if "\n" in text else "text", text=text)


def _plain_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(_plain_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{humanise(k)}: {_plain_text(v)}" for k, v in value.items())
    return _number(value) if isinstance(value, int | float) else str(value)


def _signatures(shown: Iterable[ShownValue]) -> list[Signature]:
    found: list[Signature] = []
    for value in shown:
        if value.signature is not None:
            found.append(value.signature)
        found.extend(_signatures(value.children))
    return found


def summarise(shown: Iterable[ShownValue], limit: int = 3) -> str:
    """A short line for the timeline: "3 objectives, weights 100%", a decision, "signed"."""
    parts: list[str] = []
    for value in shown:
        if value.kind == "table":
            parts.append(value.text)
        elif value.kind == "signature":
            parts.append("signed" if value.signature else "not signed")
        elif value.kind == "choice" and value.text:
            parts.append(f"{value.label}: {value.text}")
        if len(parts) >= limit:
            break
    return "; ".join(parts)
