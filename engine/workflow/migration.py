"""Moving running instances to another deployed version of their process, on purpose.

SpiffWorkflow aligns the instance's tasks with the new version's elements by BPMN id
(SpiffWorkflow.bpmn.util.diff). A migration is refused when a task that already ran, or is open
right now, was removed or changed in the target version: its data and its audit trail were made
under the old definition. Rewiring alone (a step inserted after it, a different next step) is
allowed — it is what a new version is for. Open and waiting branches are re-predicted on the
new version, human-task rows follow, and an `instance_migrated` audit event records the
versions and the changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.util.task import TaskState

from engine.base.errors import EngineError, NotFound
from engine.base.models import ProcessDefinition, ProcessInstance
from engine.base.serialization import full_serializer, load_state
from engine.packs.definitions import Deployed, deployed
from engine.workflow import runtime
from engine.workflow.instance import all_tasks, ready_human_tasks, script_engine

# Tasks whose run is on record: finished, or open for someone (STARTED: a call activity or
# subprocess underway).
_RAN = TaskState.COMPLETED | TaskState.READY | TaskState.STARTED
_OPEN = TaskState.READY | TaskState.STARTED
# Spec attributes that only say how a task is wired to its neighbours.
_WIRING = {"inputs", "outputs"}
_ASPECT_WORDS = {
    "bpmn_name": "name",
    "typename": "type",
    "prescript": "pre-script",
    "postscript": "post-script",
    "cond_task_specs": "conditions",
    "default_task_spec": "default flow",
    "event_definition": "event",
    "data_input_associations": "data inputs",
    "data_output_associations": "data outputs",
    "io_specification": "data inputs/outputs",
}
_EXTENSION_WORDS = {
    "instructionsForEndUser": "instructions",
    "preScript": "pre-script",
    "postScript": "post-script",
    "calledDecisionId": "called decision",
}
_FORM_KEYS = ("formJsonSchemaFilename", "formUiSchemaFilename")
MIGRATABLE = ("running", "waiting")


class MigrationRefused(EngineError):
    """The instance cannot move to that version; the preview says why."""

    def __init__(self, message: str, preview: MigrationPreview | None = None) -> None:
        super().__init__(message)
        self.preview = preview


@dataclass
class TaskChange:
    """An element of the old version the instance has tasks for, removed or changed."""

    bpmn_id: str
    name: str
    change: str  # removed | changed
    aspects: list[str]
    # ran: completed or open now; pending: only predicted (re-predicted on migration)
    status: str

    def describe(self) -> str:
        """`'Review goals' (form, lane)`."""
        what = f" ({', '.join(self.aspects)})" if self.aspects else ""
        return f"'{self.name}' {self.change}{what}"


@dataclass
class MigrationPreview:
    """What migrating one instance would do, and whether it is allowed."""

    instance_id: int
    process_id: str
    from_definition_id: int
    to_definition_id: int
    from_version: int
    to_version: int
    added: list[str] = field(default_factory=list)
    removed: list[TaskChange] = field(default_factory=list)
    changed: list[TaskChange] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    open_before: list[str] = field(default_factory=list)
    open_after: list[str] = field(default_factory=list)
    migrated: bool = False

    @property
    def allowed(self) -> bool:
        """True when nothing that already ran would change under the instance."""
        return not self.refusals

    @property
    def reason(self) -> str:
        """Why it is refused ('' when allowed)."""
        return "; ".join(self.refusals)

    def summary(self) -> list[str]:
        """Human lines for the CLI and the designer page."""
        head = (f"instance {self.instance_id}: version {self.from_version} → "
                f"{self.to_version}")
        if self.refusals:
            return [f"{head}: refused", *(f"  {r}" for r in self.refusals)]
        lines = [f"{head}: {'migrated' if self.migrated else 'can migrate'}"]
        lines += [f"  new step: {name}" for name in self.added]
        lines += [f"  {c.describe()}" for c in (*self.removed, *self.changed)]
        lines += [f"  note: {note}" for note in self.notes]
        if self.open_after != self.open_before:
            lines.append(f"  open tasks: {', '.join(self.open_before) or 'none'} → "
                         f"{', '.join(self.open_after) or 'none'}")
        return lines

    def as_detail(self) -> dict[str, Any]:
        """What the audit event keeps."""
        return {
            "process": self.process_id,
            "from_definition": self.from_definition_id,
            "to_definition": self.to_definition_id,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "added": self.added,
            "removed": [c.__dict__ for c in self.removed],
            "changed": [c.__dict__ for c in self.changed],
            "open_before": self.open_before,
            "open_after": self.open_after,
        }


@dataclass
class _Plan:
    """A loaded workflow, its diffs against the target version, and the preview."""

    row: ProcessInstance
    source: Deployed
    target: Deployed
    workflow: BpmnWorkflow
    top: WorkflowDiff
    subprocesses: dict[Any, WorkflowDiff | None]
    preview: MigrationPreview
    # Names of the task specs the target version changed (any attribute).
    changed_specs: set[str] = field(default_factory=set)


async def preview_migration(instance_id: int, to_definition_id: int) -> MigrationPreview:
    """What moving the instance to that version would add, remove and change, and whether
    it is allowed; nothing is written."""
    plan = await _plan(instance_id, to_definition_id)
    _migrate_in_memory(plan)
    plan.preview.open_after = _open_names(plan.workflow)
    return plan.preview


async def migrate_instance(
    instance_id: int, to_definition_id: int, actor: runtime.Actor, dry_run: bool = False
) -> MigrationPreview:
    """Move one instance to another version of its process (one action, audited).

    Raises MigrationRefused (with the preview) when not allowed; with `dry_run`, returns the
    preview without writing.
    """
    plan = await _plan(instance_id, to_definition_id)
    if not plan.preview.allowed:
        raise MigrationRefused(
            f"instance {instance_id} cannot move to version {plan.target.version}: "
            + plan.preview.reason,
            plan.preview,
        )
    ready_before = set(ready_human_tasks(plan.workflow))
    _migrate_in_memory(plan)
    if dry_run:
        plan.preview.open_after = _open_names(plan.workflow)
        return plan.preview
    plan.preview.migrated = True
    # Steps the new version placed where the instance stands (a script, a gateway) run as it
    # is saved; what is open afterwards is read from the workflow then.
    await runtime.save_moved(
        plan.row, plan.target, plan.workflow, actor, ready_before=ready_before, step=lambda: None,
        action="instance_migrated", detail=plan.preview.as_detail(),
    )
    plan.preview.open_after = _open_names(plan.workflow)
    return plan.preview


@dataclass
class MigrationReport:
    """The outcome of migrating every instance of a process."""

    process_id: str
    to_version: int
    dry_run: bool
    migrated: list[MigrationPreview] = field(default_factory=list)
    refused: list[MigrationPreview] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> list[str]:
        """One line per instance, then the totals."""
        verb = "would migrate" if self.dry_run else "migrated"
        lines = []
        for preview in self.migrated + self.refused:
            lines += preview.summary()
        lines += [f"instance {i}: failed: {message}" for i, message in self.failed]
        lines.append(
            f"{self.process_id} → version {self.to_version}: {verb} {len(self.migrated)},"
            f" refused {len(self.refused)}" + (f", failed {len(self.failed)}"
                                               if self.failed else "")
        )
        return lines


async def migrate_all(
    process_id: str,
    from_version: int | None,
    to_version: int,
    actor: runtime.Actor,
    dry_run: bool = False,
    pack: str | None = None,
) -> MigrationReport:
    """Migrate every open instance of a process (on `from_version`, or on any other version)
    to `to_version`; each instance is its own action, refusals are reported, not raised."""
    target = await target_definition(process_id, to_version, pack)
    report = MigrationReport(process_id, to_version, dry_run)
    query = ProcessInstance.filter(process_id=process_id, status__in=list(MIGRATABLE))
    sources = ProcessDefinition.filter(pack=target.pack, process_id=process_id).exclude(
        id=target.id
    )
    if from_version is not None:
        sources = sources.filter(version=from_version)
    source_ids = list(await sources.values_list("id", flat=True))
    instance_ids = [
        row.id for row in await query.filter(definition_id__in=source_ids).order_by("id")
        .only("id")
    ]
    for instance_id in instance_ids:
        try:
            report.migrated.append(
                await migrate_instance(instance_id, target.id, actor, dry_run=dry_run)
            )
        except MigrationRefused as refused:
            if refused.preview is None:
                report.failed.append((instance_id, str(refused)))
            else:
                report.refused.append(refused.preview)
        except EngineError as error:
            report.failed.append((instance_id, str(error)))
    return report


async def target_definition(
    process_id: str, version: int, pack: str | None = None
) -> ProcessDefinition:
    """The deployed version `version` of a process (the pack is needed when several
    deploy it)."""
    query = ProcessDefinition.filter(process_id=process_id, version=version)
    if pack:
        query = query.filter(pack=pack)
    rows = await query
    if not rows:
        raise NotFound(f"process '{process_id}' has no version {version}")
    if len(rows) > 1:
        packs = ", ".join(sorted(r.pack for r in rows))
        raise EngineError(f"several packs deploy '{process_id}' ({packs}); name the pack")
    return rows[0]


async def target_for_instance(instance_id: int, version: int) -> ProcessDefinition:
    """The deployed version `version` of the process an instance runs, in the instance's own
    pack (`sightline migrate INSTANCE --to N`)."""
    row = await ProcessInstance.get_or_none(id=instance_id)
    if row is None:
        raise NotFound(f"no instance {instance_id}")
    current = await ProcessDefinition.get(id=row.definition_id)
    return await target_definition(row.process_id, version, current.pack)


# --- planning ------------------------------------------------------------------------------


async def _plan(instance_id: int, to_definition_id: int) -> _Plan:
    row = await ProcessInstance.get_or_none(id=instance_id)
    if row is None:
        raise NotFound(f"no instance {instance_id}")
    source = await deployed(row.definition_id)
    target = await deployed(to_definition_id)
    if (target.pack, target.process_id) != (source.pack, source.process_id):
        raise MigrationRefused(
            f"instance {instance_id} runs '{source.process_id}' of pack '{source.pack}';"
            f" version {target.version} is of '{target.process_id}' of pack '{target.pack}'"
        )
    if target.id == source.id:
        raise MigrationRefused(f"instance {instance_id} is already on version {source.version}")
    if row.status not in MIGRATABLE:
        hint = " (retry it instead: a retry can move it to the newest version)" \
            if row.status == "error" else ""
        raise MigrationRefused(f"instance {instance_id} is {row.status}{hint}")
    workflow = load_state(row.state, source.built.spec, source.built.subprocess_specs,
                          script_engine())
    registry = full_serializer.registry
    preview = MigrationPreview(
        instance_id=row.id,
        process_id=source.process_id,
        from_definition_id=source.id,
        to_definition_id=target.id,
        from_version=source.version,
        to_version=target.version,
        open_before=_open_names(workflow),
    )
    top_spec_diff = SpecDiff(registry, workflow.spec, target.built.spec)
    top = WorkflowDiff(workflow, top_spec_diff)
    changed_specs = {spec.name for spec in top_spec_diff.changed}
    _review(preview, workflow, top_spec_diff, top, registry)
    subprocesses: dict[Any, WorkflowDiff | None] = {}
    new_specs = target.built.subprocess_specs
    for sp_id, sub in workflow.subprocesses.items():
        new_spec = new_specs.get(sub.spec.name)
        if new_spec is None:
            subprocesses[sp_id] = None
            if any(t.has_state(_RAN) for t in sub.tasks.values()):
                preview.refusals.append(
                    f"'{sub.spec.name}' is underway and version {target.version} no longer"
                    " has it"
                )
            continue
        spec_diff = SpecDiff(registry, sub.spec, new_spec)
        subprocesses[sp_id] = WorkflowDiff(sub, spec_diff)
        changed_specs |= {spec.name for spec in spec_diff.changed}
        _review(preview, sub, spec_diff, subprocesses[sp_id], registry)
    _form_notes(preview, workflow, source, target)
    return _Plan(row, source, target, workflow, top, subprocesses, preview, changed_specs)


def _review(preview: MigrationPreview, workflow: Any, spec_diff: SpecDiff,
            diff: WorkflowDiff, registry: Any) -> None:
    """Add the diff's removed/changed elements to the preview; refuse what already ran."""
    seen = {c.bpmn_id for c in (*preview.removed, *preview.changed)}
    for spec in spec_diff.added:
        label = _label(spec)
        if spec.bpmn_id and label not in preview.added:
            preview.added.append(label)
    by_spec: dict[Any, list[Any]] = {}
    for task in workflow.tasks.values():
        by_spec.setdefault(task.task_spec, []).append(task)
    for spec, tasks in by_spec.items():
        if not spec.bpmn_id or spec.bpmn_id in seen:
            continue
        ran = any(t.has_state(_RAN) for t in tasks)
        open_now = any(t.has_state(_OPEN) for t in tasks)
        if spec in spec_diff.removed:
            change = TaskChange(spec.bpmn_id, _label(spec), "removed", [],
                                "ran" if ran else "pending")
            preview.removed.append(change)
            if ran:
                preview.refusals.append(
                    f"{_label(spec, quoted=True)} {'is open now' if open_now else 'already ran'}"
                    f" and was removed in version {preview.to_version}"
                )
            continue
        attributes = spec_diff.changed.get(spec)
        if not attributes:
            continue
        new_spec = spec_diff.alignment.get(spec)
        aspects = _aspects(spec, new_spec, attributes, registry)
        preview.changed.append(TaskChange(spec.bpmn_id, _label(spec), "changed", aspects,
                                          "ran" if ran else "pending"))
        substantive = [a for a in aspects if a not in ("inputs", "outputs")]
        if ran and substantive:
            preview.refusals.append(
                f"{_label(spec, quoted=True)} {'is open now' if open_now else 'already ran'}"
                f" and changed in version {preview.to_version}: {', '.join(substantive)}"
            )


def _aspects(old: Any, new: Any, attributes: list[str], registry: Any) -> list[str]:
    """Spec attribute names in the designer's words; extensions split by what they hold."""
    words: list[str] = []
    for attribute in attributes:
        if attribute == "extensions" and new is not None:
            before = registry.convert(old).get("extensions") or {}
            after = registry.convert(new).get("extensions") or {}
            words += _extension_aspects(before, after)
        elif attribute in _WIRING:
            words.append(attribute)
        else:
            words.append(_ASPECT_WORDS.get(attribute, attribute))
    return list(dict.fromkeys(words))


def _extension_aspects(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    words = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) == after.get(key):
            continue
        if key == "properties":
            old, new = before.get(key) or {}, after.get(key) or {}
            changed = {k for k in set(old) | set(new) if old.get(k) != new.get(k)}
            if changed & set(_FORM_KEYS):
                words.append("form")
            if changed - set(_FORM_KEYS):
                words.append("properties")
        else:
            words.append(_EXTENSION_WORDS.get(key, key))
    return words or ["extensions"]


def _form_notes(preview: MigrationPreview, workflow: BpmnWorkflow, source: Deployed,
                target: Deployed) -> None:
    """An open task whose form file changed content shows the new form after migration."""
    forms_before = source.built.task_forms
    forms_after = target.built.task_forms
    for task in ready_human_tasks(workflow).values():
        key = task.task_spec.bpmn_id
        old, new = forms_before.get(key), forms_after.get(key)
        if old is None or new is None:
            continue
        for path in {old.form_schema_path, old.form_uischema_path} - {None}:
            if source.sources.get(path) != target.sources.get(path):
                preview.notes.append(f"the open task '{old.name}' will show the changed form"
                                     f" {path}")


def _migrate_in_memory(plan: _Plan) -> None:
    """Point the workflow at the target version; open and waiting branches are re-predicted."""
    new_specs = plan.target.built.subprocess_specs
    # Re-predicting a waiting timer would start its countdown again; one whose element did
    # not change keeps its moment.
    waiting = {
        task.id: dict(task.internal_data)
        for task in all_tasks(plan.workflow)
        if task.state == TaskState.WAITING and task.internal_data
        and task.task_spec.name not in plan.changed_specs
    }
    migrate_workflow(plan.top, plan.workflow, plan.target.built.spec)
    for sp_id, diff in plan.subprocesses.items():
        sub = plan.workflow.subprocesses.get(sp_id)
        if diff is not None and sub is not None:
            migrate_workflow(diff, sub, new_specs[sub.spec.name])
    plan.workflow.subprocess_specs = new_specs
    for task in all_tasks(plan.workflow):
        if task.id in waiting and task.state == TaskState.WAITING:
            task.internal_data = waiting[task.id]


def _open_names(workflow: BpmnWorkflow) -> list[str]:
    return sorted(_label(t.task_spec) for t in ready_human_tasks(workflow).values())


def _label(spec: Any, quoted: bool = False) -> str:
    name = spec.bpmn_name or spec.bpmn_id or spec.name
    return f"'{name}'" if quoted else name
