"""Everything a task page shows, gathered without the web: the task, who it is about, the form
definition, the draft, and what earlier steps of the same instance submitted.

Also the readable summary of submitted data (labels and enum names from the step's own form),
so that the context panel and the "what you typed" view never show raw JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from markupsafe import Markup

from engine.base import clock
from engine.base.errors import NotFound
from engine.base.i18n import said
from engine.base.models import Cycle, HumanTask, ProcessInstance
from engine.base.serialization import load_state
from engine.packs.definitions import Deployed, deployed
from engine.packs.specs import TaskInfo
from engine.packs.translations import (
    pack_translations,
    translate_data,
    translate_json_text,
    translate_text,
)
from engine.people.directory import DirectorySnapshot, PersonInfo, UnitInfo, current_directory
from engine.workflow import course_sessions
from engine.workflow.goal_catalog import CATALOG, goal_labels, goals_catalog, with_typed_goals
from engine.workflow.offload import run_off_loop_if_slow
from forms import private_fields


@dataclass(frozen=True)
class SummaryItem:
    """One line of a readable summary: a labelled text, or a labelled table."""

    label: str
    text: str = ""
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()

    @property
    def is_table(self) -> bool:
        """Whether this item is a table (an array of objects)."""
        return bool(self.columns)


@dataclass(frozen=True)
class EarlierStep:
    """A completed human task of the same instance, for the read-only context panel."""

    task_id: int
    bpmn_id: str
    name: str
    completed_by: PersonInfo | None
    completed_at: datetime | None
    submitted: dict[str, Any]
    summary: list[SummaryItem]


@dataclass(frozen=True)
class FormDefinition:
    """The task's form files as stored in the deployed version (Jinja templates of JSON)."""

    schema_path: str
    schema_text: str
    uischema_path: str | None
    uischema_text: str | None


@dataclass
class TaskContext:
    """What the task page needs, in one pass over the database."""

    task: HumanTask
    instance: ProcessInstance
    definition: Deployed
    cycle_name: str | None
    subject: PersonInfo | None
    subject_unit: UnitInfo | None
    manager: PersonInfo | None
    data: dict[str, Any]
    form: FormDefinition | None
    instructions: str | None
    catalogs: dict[str, Any]
    draft: dict[str, Any] | None
    earlier: list[EarlierStep] = field(default_factory=list)
    directory: DirectorySnapshot | None = None
    # The form and the instructions rendered with the task data, once (task_context).
    parsed: tuple[dict[str, Any] | None, dict[str, Any] | None] | None = None
    instructions_html: Markup = field(default_factory=Markup)
    instructions_problem: str | None = None

    @property
    def is_open(self) -> bool:
        """Whether the task still waits for someone."""
        return self.task.status == "ready"

    @property
    def is_overdue(self) -> bool:
        """Whether the task is open and past its due date."""
        due = self.task.due_at
        return self.is_open and due is not None and due < clock.now()

    @property
    def process_title(self) -> str:
        """The process's title, e.g. "Objective setting"."""
        return self.definition.title

    @property
    def template_data(self) -> dict[str, Any]:
        """What instructions and form templates see: the task data plus subject and manager,
        and `rating_labels` (value → label of the pack's rating scale, so a text can say
        "4 — Exceeds expectations" rather than a bare figure)."""
        out = dict(self.data)
        if self.subject is not None:
            out["subject"] = self.subject.as_data()
        if self.manager is not None:
            out.setdefault("manager", self.manager.as_data())
        out.setdefault("rating_labels", rating_labels(self.catalogs))
        return out

    def closed_message(self) -> str:
        """Why the task can no longer be worked, naming who completed it and when."""
        from engine.workflow.runtime import already_done_message

        return already_done_message(self.task, self.directory or DirectorySnapshot())


def rating_labels(catalogs: Mapping[str, Any]) -> dict[int, str]:
    """The labels of the levels of the pack's rating scale (the `rating_scale` catalog) by
    value; empty when the pack has none."""
    scale = catalogs.get("rating_scale")
    levels = scale.get("levels") if isinstance(scale, Mapping) else None
    return {
        level["value"]: str(level["label"])
        for level in levels or ()
        if isinstance(level, Mapping) and isinstance(level.get("value"), int) and "label" in level
    }


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def task_info(dep: Deployed, task: HumanTask) -> TaskInfo | None:
    """The deployed version's details of a human task (form paths, instructions)."""
    forms: Mapping[str, TaskInfo] = dep.built.task_forms
    return forms.get(task.bpmn_id) or forms.get(f"{task.process_id}:{task.bpmn_id}")


def _form_definition(dep: Deployed, info: TaskInfo | None) -> FormDefinition | None:
    if info is None or not info.form_schema_path:
        return None
    schema = dep.sources.get(info.form_schema_path)
    if schema is None:
        return None
    ui_path = info.form_uischema_path
    return FormDefinition(
        schema_path=info.form_schema_path,
        schema_text=schema,
        uischema_path=ui_path,
        uischema_text=dep.sources.get(ui_path) if ui_path else None,
    )


def _translated_form(form: FormDefinition | None, words: Mapping[str, Mapping[str, str]]
                     ) -> FormDefinition | None:
    """The form with its labels, help and enum names in the reader's language."""
    if form is None:
        return None
    return replace(
        form,
        schema_text=translate_json_text(form.schema_text, words, form.schema_path),
        uischema_text=translate_json_text(form.uischema_text, words, form.uischema_path)
        if form.uischema_text is not None and form.uischema_path else form.uischema_text,
    )


def _task_data(instance: ProcessInstance, dep: Deployed, spiff_task_id: str) -> dict[str, Any]:
    """The workflow task's current data (JSON-safe); {} when the task is gone from the tree."""
    workflow = load_state(instance.state, dep.built.spec, dep.built.subprocess_specs, None)
    try:
        task = workflow.get_task_from_id(UUID(spiff_task_id))
    except Exception:  # TaskNotFoundException, or a malformed id in an old row
        return {}
    return _json_safe(task.data) if task is not None else {}


async def task_context(task_id: int, language: str | None = None) -> TaskContext:
    """Gather the task page's content for a human task; NotFound when it does not exist. The
    pack's texts (form, catalogs, instructions) are in `language` where the pack translates
    them (engine.packs.translations), else as written."""
    task = await HumanTask.get_or_none(id=task_id).select_related("instance")
    if task is None:
        raise NotFound(f"no task {task_id}")
    instance: ProcessInstance = task.instance
    directory = await current_directory()
    dep = await deployed(instance.definition_id)
    cycle_name = None
    if instance.cycle_id is not None:
        cycle = await Cycle.get_or_none(id=instance.cycle_id)
        cycle_name = cycle.name if cycle else None
    subject = directory.person(instance.subject_id)
    # The cycle's goals the subject may align to, for an `aligned_goal` picker (goals.open).
    catalogs = {**dep.catalogs, CATALOG: await goals_catalog(instance.cycle_id, subject, directory)}
    # Every goal of the cycle by its stored value, retired ones too: what earlier steps chose.
    goal_names = {json.dumps(value): label
                  for value, label in (await goal_labels(instance.cycle_id, directory)).items()}
    info = task_info(dep, task)
    form = _form_definition(dep, info)
    words = pack_translations(dep.sources, language)
    if words:
        form = _translated_form(form, words)
        catalogs = {name: translate_data(catalog, words, f"catalogs/{name}.toml")
                    for name, catalog in catalogs.items()}
    done = (
        await HumanTask.filter(instance_id=instance.id, status="completed")
        .exclude(id=task.id)
        .order_by("completed_at", "id")
    )

    def build() -> TaskContext:
        # Restoring the workflow and rendering the pack's templates: CPU work that the
        # evaluation limits bound, moved off the event loop when it takes long.
        data = _task_data(instance, dep, task.spiff_task_id) if task.status == "ready" else {}
        if not data and task.submitted:
            data = dict(task.submitted)
        catalogs[CATALOG] = with_typed_goals(catalogs[CATALOG], data)
        for_subject = task.assignee_id is not None and task.assignee_id == instance.subject_id
        choices = catalog_choices(catalogs)
        choices[f"{CATALOG}.open"] = {**choices.get(f"{CATALOG}.open", {}), **goal_names}
        earlier = [_earlier_step(row, dep, directory, for_subject, choices, words)
                   for row in done]
        if dep.process_settings.get("visible_to") == "participants":
            # Between the people in it (feedback, check-ins): what one wrote reaches the other
            # only as the process shows it in the instructions, not as raw earlier steps.
            earlier = []
        ctx = TaskContext(
            task=task,
            instance=instance,
            definition=dep,
            cycle_name=cycle_name,
            subject=subject,
            subject_unit=directory.unit(subject.org_unit_id) if subject else None,
            manager=directory.manager_of(subject.id) if subject else None,
            data=data,
            form=form,
            instructions=translate_text(info.instructions, words) if info and info.instructions
            else None,
            catalogs=catalogs,
            draft=task.draft if isinstance(task.draft, dict) else None,
            earlier=earlier,
            directory=directory,
        )
        ctx.parsed = _parsed_form(ctx.form, ctx.template_data)
        ctx.instructions_html, ctx.instructions_problem = _rendered_instructions(ctx)
        return ctx

    ctx = await run_off_loop_if_slow(build)
    if course_sessions.wanted(ctx.form.uischema_text if ctx.form else None):
        # The sessions of the course a training request names, for its session picker.
        ctx.catalogs[course_sessions.CATALOG] = await course_sessions.course_sessions_catalog(
            ctx.data, language)
    return ctx


def _rendered_instructions(ctx: TaskContext) -> tuple[Markup, str | None]:
    from forms import FormDefinitionError, render_instructions

    if not ctx.instructions:
        return Markup(""), None
    try:
        return render_instructions(ctx.instructions, ctx.template_data), None
    except FormDefinitionError as error:
        return Markup(""), str(error)


def _earlier_step(row: HumanTask, dep: Deployed, directory: DirectorySnapshot,
                  for_subject: bool = False,
                  choices: Mapping[str, Mapping[str, str]] | None = None,
                  words: Mapping[str, Mapping[str, str]] | None = None) -> EarlierStep:
    """A step done before this one, as the person on this task sees it: `for_subject`, the
    person the process is about, does not see the fields the step's form marks private."""
    submitted = row.submitted if isinstance(row.submitted, dict) else {}
    form = _form_definition(dep, task_info(dep, row))
    if words:  # the step's labels and choices as the pack translates them for the reader
        form = _translated_form(form, words)
    schema, uischema = _parsed_form(form, submitted)
    if for_subject and uischema:
        hidden = private_fields(uischema)
        submitted = {key: value for key, value in submitted.items() if key not in hidden}
    return EarlierStep(
        task_id=row.id,
        bpmn_id=row.bpmn_id,
        name=row.name,
        completed_by=directory.person(row.completed_by_id),
        completed_at=row.completed_at,
        submitted=submitted,
        summary=summarize(submitted, schema, uischema, choices=choices),
    )


def _parsed_form(
    form: FormDefinition | None, data: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The form's schema and UI schema rendered with `data`; (None, None) when unusable."""
    from forms import FormDefinitionError, render_schema_template

    if form is None:
        return None, None
    try:
        schema = render_schema_template(form.schema_text, data)
        uischema = (
            render_schema_template(form.uischema_text, data) if form.uischema_text else {}
        )
    except FormDefinitionError:
        return None, None
    return schema, uischema


def parsed_form(ctx: TaskContext) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """This task's schema and UI schema rendered with the task data (None when unusable)."""
    if ctx.parsed is None:
        ctx.parsed = _parsed_form(ctx.form, ctx.template_data)
    return ctx.parsed


# --- readable summaries --------------------------------------------------------------------


def _words(name: str) -> str:
    return name.replace("_", " ").strip().capitalize()


def _ordered(properties: Mapping[str, Any], ui: Mapping[str, Any]) -> list[str]:
    order = [n for n in ui.get("ui:order", []) if isinstance(n, str)]
    if not order:
        return list(properties)
    named = [n for n in order if n in properties]
    rest = [n for n in properties if n not in named]
    if "*" in order:
        at = order.index("*")
        before = [n for n in order[:at] if n in properties]
        after = [n for n in order[at + 1 :] if n in properties]
        middle = [n for n in rest if n not in before and n not in after]
        return before + middle + after
    return named + rest


def _choice_labels(schema: Mapping[str, Any], ui: Mapping[str, Any]) -> dict[str, str]:
    """Stored value (as JSON text) -> the label people saw."""
    labels: dict[str, str] = {}
    source = schema.get("items", schema) if schema.get("type") == "array" else schema
    names = ui.get("ui:enumNames") or source.get("enumNames") or []
    for index, value in enumerate(source.get("enum", [])):
        if index < len(names):
            labels[json.dumps(value)] = str(names[index])
    for option in [*source.get("oneOf", []), *source.get("anyOf", [])]:
        if isinstance(option, Mapping) and "const" in option:
            labels[json.dumps(option["const"])] = str(option.get("title", option["const"]))
    return labels


def catalog_choices(catalogs: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Every catalog list of `{"value": …, "label": …}` entries as {"<catalog>.<key>":
    {value: label}}: what a picker (`ui:options.catalog`) showed for a stored value."""
    found: dict[str, dict[str, str]] = {}
    for name, catalog in catalogs.items():
        if not isinstance(catalog, Mapping):
            continue
        for key, entries in catalog.items():
            if isinstance(entries, list) and all(
                isinstance(e, Mapping) and "value" in e for e in entries
            ):
                found[f"{name}.{key}"] = {
                    json.dumps(e["value"]): str(e.get("label", e["value"])) for e in entries
                }
    return found


def _scalar_text(value: Any, schema: Mapping[str, Any], ui: Mapping[str, Any],
                 choices: Mapping[str, Mapping[str, str]] | None = None) -> str:
    if value is None or value == "":
        return ""
    labels = _choice_labels(schema, ui)
    options = ui.get("ui:options")
    picked = options.get("catalog") if isinstance(options, Mapping) else None
    if choices and isinstance(picked, str) and picked in choices:
        labels = {**choices[picked], **labels}
    if isinstance(value, list):
        return ", ".join(labels.get(json.dumps(v), str(v)) for v in value)
    if json.dumps(value) in labels:
        return labels[json.dumps(value)]
    if isinstance(value, bool):
        return said("Yes") if value else said("No")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _signed_when(value: Any) -> str:
    """When a signature was given ("2026-12-07 10:05"), in the organisation's zone."""
    text = str(value or "")
    try:
        return f"{clock.local(datetime.fromisoformat(text)):%Y-%m-%d %H:%M}"
    except ValueError:
        return text[:16].replace("T", " ")


def _signature_text(value: Any) -> str:
    if isinstance(value, Mapping) and value.get("acknowledged"):
        when = _signed_when(value.get("signed_at"))
        zone = clock.zone_name()
        name, comment = str(value.get("name", "")), str(value.get("comment") or "")
        if when and comment:
            return said("Signed by %(name)s on %(when)s %(zone)s — “%(comment)s”",
                        name=name, when=when, zone=zone, comment=comment)
        if when:
            return said("Signed by %(name)s on %(when)s %(zone)s", name=name, when=when,
                        zone=zone)
        if comment:
            return said("Signed by %(name)s — “%(comment)s”", name=name, comment=comment)
        return said("Signed by %(name)s", name=name)
    if value is True:
        return said("Signed")
    return said("Not signed")


def summarize(
    data: Mapping[str, Any],
    schema: Mapping[str, Any] | None = None,
    uischema: Mapping[str, Any] | None = None,
    prefix: str = "",
    choices: Mapping[str, Mapping[str, str]] | None = None,
) -> list[SummaryItem]:
    """Submitted form data as labelled lines and tables, in form order; empty values skipped.

    Without a schema, every key is shown with its name in words. `choices` (catalog_choices)
    turns a catalog picker's stored value into the label it showed ("goal:12" → its title).
    """
    if not isinstance(data, Mapping):
        return []
    ui = uischema or {}
    properties: Mapping[str, Any] = (schema or {}).get("properties") or {
        name: {} for name in data
    }
    items: list[SummaryItem] = []
    for name in _ordered(properties, ui):
        prop = properties.get(name) or {}
        prop_ui = ui.get(name) or {}
        if not isinstance(prop, Mapping) or not isinstance(prop_ui, Mapping):
            continue
        if prop_ui.get("ui:widget") == "hidden" or name not in data:
            continue
        value = data[name]
        label = prefix + str(prop_ui.get("ui:title") or prop.get("title") or _words(name))
        if prop_ui.get("ui:widget") == "signature":
            items.append(SummaryItem(label, _signature_text(value)))
        elif isinstance(value, list) and any(isinstance(v, Mapping) for v in value):
            items.append(_table(label, value, prop.get("items") or {},
                                prop_ui.get("items") or {}, choices))
        elif isinstance(value, Mapping):
            items.extend(summarize(value, prop, prop_ui, prefix=f"{label} › ", choices=choices))
        else:
            text = _scalar_text(value, prop, prop_ui, choices)
            if text:
                items.append(SummaryItem(label, text))
    return items


def _table(
    label: str, rows: list[Any], schema: Mapping[str, Any], ui: Mapping[str, Any],
    choices: Mapping[str, Mapping[str, str]] | None = None,
) -> SummaryItem:
    properties: Mapping[str, Any] = schema.get("properties") or {}
    if not properties:
        keys: dict[str, Any] = {}
        for row in rows:
            if isinstance(row, Mapping):
                keys.update(dict.fromkeys(row, {}))
        properties = keys
    names = [
        n
        for n in _ordered(properties, ui)
        if (ui.get(n) or {}).get("ui:widget") != "hidden"
        and any(isinstance(r, Mapping) and r.get(n) not in (None, "") for r in rows)
    ]
    columns = tuple(
        str((ui.get(n) or {}).get("ui:title") or (properties.get(n) or {}).get("title")
            or _words(n))
        for n in names
    )
    cells = tuple(
        tuple(
            _scalar_text(row.get(n), properties.get(n) or {}, ui.get(n) or {}, choices)
            for n in names
        )
        for row in rows
        if isinstance(row, Mapping)
    )
    return SummaryItem(label, columns=columns, rows=cells)


# --- what happens next ---------------------------------------------------------------------


@dataclass(frozen=True)
class NextStep:
    """An open task of an instance and who it waits on, in words."""

    task_id: int
    name: str
    holder: str
    holder_id: int | None


def _holder(row: HumanTask, directory: DirectorySnapshot) -> tuple[str, int | None]:
    assignee = directory.person(row.assignee_id)
    if assignee is not None:
        return assignee.name, assignee.id
    if row.candidate_group:
        group = row.candidate_group
        return (group.upper() if len(group) <= 3 else _words(group)), None
    names = []
    for candidate in row.candidates or []:
        person = directory.person(candidate)
        if person is not None:
            names.append(person.name)
        elif str(candidate).startswith("group:"):
            names.append(str(candidate).removeprefix("group:").upper())
    return (" or ".join(names) or "nobody yet"), None


async def waiting_on(instance: ProcessInstance) -> list[str]:
    """What a running instance with no open task waits for, in the diagram's words
    (e.g. "Ratings released after calibration")."""
    names = {n for n in (instance.waiting_for or "").strip("|").split("|") if n}
    if not names:
        return []
    dep = await deployed(instance.definition_id)
    labels = set()
    for spec in [dep.built.spec, *dep.built.subprocess_specs.values()]:
        for task_spec in spec.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            if getattr(definition, "name", None) in names:
                labels.add(task_spec.bpmn_name or definition.name)  # type: ignore[union-attr]
    return sorted(labels)


async def next_steps(instance_id: int) -> list[NextStep]:
    """The instance's open human tasks now, with who each waits on."""
    directory = await current_directory()
    rows = await HumanTask.filter(instance_id=instance_id, status="ready").order_by("id")
    steps = []
    for row in rows:
        holder, holder_id = _holder(row, directory)
        steps.append(NextStep(row.id, row.name, holder, holder_id))
    return steps
