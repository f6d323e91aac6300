"""The designer area (/designer): edit a pack's BPMN, DMN and forms as drafts, validate,
deploy, migrate running instances, import and export packs.

Only members of the `designer` group get anything but 404 here. Edits are kept as the
designer's drafts in the database, byte for byte as the browser sent them; a designer edits the
pack as its latest deployed version holds it, and a deploy stores a new version in the database.
No route writes a pack folder except importing a pack (engine.packs.designer).
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from config import settings
from engine.base.errors import EngineError, NotFound
from engine.packs import archive, versions
from engine.packs import designer as drafts
from engine.packs import form_builder as fb
from engine.packs.durations import DurationError, in_words, is_iso, to_iso, words_in
from engine.packs.loading import Pack, PackError, discover_packs, load_pack_leniently
from engine.packs.specs import decision_index, process_index
from engine.workflow import migration
from engine.workflow.runtime import actor_for
from forms import FormDefinitionError, form_spec, render_schema_template
from webapp.auth import Viewer, current_user
from webapp.csrf import token_for
from webapp.input import database_id
from webapp.templating import flash, is_htmx, render

FORM_SUFFIX = "-schema.json"
UI_SUFFIX = "-uischema.json"
HUMAN_TASKS = ("bpmn:UserTask", "bpmn:ManualTask")
GATEWAYS = ("bpmn:ExclusiveGateway", "bpmn:InclusiveGateway")
MAX_PATH = 255  # DesignDraft.path's column, and a file name's bytes on most file systems


# -- who and what ------------------------------------------------------------------------------


def _designer(request: Request) -> Viewer:
    """The logged-in designer; anyone else gets 404 (the area does not exist for them)."""
    viewer = current_user(request)
    if not viewer.is_designer:
        raise HTTPException(404)
    return viewer


def _pack_dirs() -> list[Path]:
    """The PACKS folders, read when asked (tests point them at a scratch copy)."""
    return [Path(folder) for folder in settings.PACKS]


def pack_folders() -> dict[str, Path]:
    """Every installed pack by name, from the PACKS folders."""
    return discover_packs([Path(folder) for folder in settings.PACKS])


async def _pack(name: str) -> Pack:
    """The pack as designers edit it: its latest deployed version (else its folder)."""
    if name not in pack_folders():
        raise HTTPException(404)
    try:
        return await drafts.base_pack(name, _pack_dirs())
    except (PackError, NotFound):
        raise HTTPException(404) from None


async def _working_bytes(pack: Pack, path: str, viewer: Viewer) -> bytes:
    """The bytes the designer sees for one file: their draft, else the pack's file."""
    mine = await drafts.draft_bytes(pack.name, viewer.key)
    if path in mine:
        return mine[path]
    found = drafts.file_bytes(pack, path)
    if found is None:
        raise HTTPException(404)
    return found


async def _working_file(pack: Pack, path: str, viewer: Viewer) -> str:
    """The text the designer sees for one file (line endings as stored)."""
    return (await _working_bytes(pack, path, viewer)).decode("utf-8", errors="replace")


def _line_endings_of(text: str, like: str | None) -> str:
    """`text` (from a textarea, which the browser sends with CRLF line breaks) with the line
    endings of `like` (the file it replaces): CRLF if that file used CRLF, else LF."""
    plain = text.replace("\r\n", "\n")
    return plain.replace("\n", "\r\n") if like is not None and "\r\n" in like else plain


def form_names(files: list[str] | set[str] | dict[str, Any]) -> list[str]:
    """The forms a pack offers, by name ("self-appraisal" for forms/self-appraisal-schema.json)."""
    return sorted(
        PurePosixPath(rel).name.removesuffix(FORM_SUFFIX)
        for rel in files
        if rel.endswith(FORM_SUFFIX) and not rel.endswith(UI_SUFFIX)
    )


def _form_paths(pack: Pack, draft_paths: set[str], name: str) -> tuple[str, str]:
    """Relative paths of a form's schema and UI schema (404 for a form the pack lacks)."""
    if "/" in name or name not in form_names(set(pack.files) | draft_paths):
        raise HTTPException(404)
    schema = f"forms/{name}{FORM_SUFFIX}"
    if schema not in pack.files and schema not in draft_paths:
        schema = next(
            rel for rel in [*pack.files, *draft_paths] if rel.endswith(f"/{name}{FORM_SUFFIX}")
            or rel == f"{name}{FORM_SUFFIX}"
        )
    return schema, schema.removesuffix(FORM_SUFFIX) + UI_SUFFIX


# -- overview ----------------------------------------------------------------------------------


@dataclass
class PackOverview:
    """One installed pack as the designer overview lists it."""

    name: str
    title: str
    version: str
    extends: str | None
    bpmn: list[str]
    dmn: list[str]
    forms: list[str]
    drafts: list[str]
    processes: list[tuple[str, list[Any]]] = field(default_factory=list)
    # process id -> the BPMN file defining it (to link each process to its editor)
    process_files: dict[str, str] = field(default_factory=dict)
    problem: str = ""


async def _overview(name: str, folder: Path, folders: dict[str, Path], viewer: Viewer
                    ) -> PackOverview:
    try:
        pack = load_pack_leniently(folder, folders)
    except PackError as error:
        return PackOverview(name, name, "", None, [], [], [], [], problem=str(error))
    mine = await drafts.draft_files(pack.name, viewer.key)
    overview = PackOverview(
        name=pack.name,
        title=pack.title,
        version=pack.version,
        extends=pack.extends,
        bpmn=sorted(set(pack.bpmn_files()) | {p for p in mine if p.endswith(".bpmn")}),
        dmn=sorted(set(pack.dmn_files()) | {p for p in mine if p.endswith(".dmn")}),
        forms=form_names(set(pack.files) | set(mine)),
        drafts=sorted(mine),
    )
    try:
        overview.process_files = process_index(pack)
    except PackError:
        overview.process_files = {}
    for process_id in sorted(pack.processes):
        try:
            history = await versions.version_history(name, process_id)
        except NotFound:
            history = []
        overview.processes.append((process_id, history))
    return overview


async def designer_home(request: Request) -> Response:
    """GET /designer: the installed packs, their files, versions and running instances."""
    viewer = _designer(request)
    folders = pack_folders()
    packs = [
        await _overview(name, await drafts.base_folder(name, _pack_dirs()), folders, viewer)
        for name in folders
    ]
    return render(request, "designer.html", {"packs": packs, "in_words": words_in})


# -- files: source, save, discard --------------------------------------------------------------


async def file_source(request: Request) -> Response:
    """GET /designer/{pack}/files/{path}: the working text of one file (draft or pack)."""
    viewer = _designer(request)
    pack = await _pack(request.path_params["pack"])
    data = await _working_bytes(pack, request.path_params["path"], viewer)
    media = "application/xml" if data.lstrip().startswith(b"<") else "text/plain"
    return Response(data, media_type=f"{media}; charset=utf-8",
                    headers={"Cache-Control": "private, no-cache"})


async def file_save(request: Request) -> Response:
    """POST /designer/{pack}/files/{path}: keep the posted text as the designer's draft."""
    viewer = _designer(request)
    pack = await _pack(request.path_params["pack"])
    path = _draft_path(request.path_params["path"])
    # Kept byte for byte: the editor sends the whole file, line endings and all.
    await drafts.save_draft_file(pack.name, path, viewer.key, await request.body(),
                                 folders=_pack_dirs())
    return Response(status_code=204)


def _draft_path(path: str) -> str:
    """A pack file's path as posted; 400 when no draft can have it (longer than its column,
    or a name longer than a file system holds)."""
    if len(path) > MAX_PATH or any(len(part.encode()) > MAX_PATH for part in path.split("/")):
        raise HTTPException(400, f"A file path is at most {MAX_PATH} characters.")
    return path


async def drafts_discard(request: Request) -> Response:
    """POST /designer/{pack}/discard: throw away the designer's drafts (one file or all)."""
    viewer = _designer(request)
    pack = await _pack(request.path_params["pack"])
    form = await request.form()
    path = _draft_path(str(form.get("path") or "")) or None
    await drafts.discard_draft(pack.name, viewer.key, path)
    flash(request, f"Discarded your draft of {path}." if path else "Discarded all your drafts.",
          "success")
    return RedirectResponse(request.url_for("designer_home").path, status_code=303)


# -- validation --------------------------------------------------------------------------------


_UNMAPPED_LANE = re.compile(r"lane '(?P<lane>.+)' is not mapped in \[lanes\] of pack\.toml")


def plain_problem(problem: Any) -> str:
    """A validation problem about routing in words for HR ("" for the others, whose message
    already says it): who would get the task, why, and what to do."""
    message = str(getattr(problem, "message", ""))
    found = _UNMAPPED_LANE.fullmatch(message)
    if found:
        lane = found.group("lane")
        return (f"Nobody is named for the lane “{lane}”, so its tasks would go to HR. Say who "
                f"works in it under [lanes] in pack.toml, e.g. \"{lane}\" = \"subject.manager\".")
    if message.startswith("resolver ") and str(getattr(problem, "file", "")).endswith(".toml"):
        lane = str(getattr(problem, "element_id", ""))
        return (f"The pack's rule for who works in the lane “{lane}” cannot be read, so its "
                "tasks would go to HR. Use subject, subject.manager, group:<name> or "
                "person:<employee ID>.")
    return ""


async def validate_page(request: Request) -> Response:
    """GET /designer/{pack}/validate: every problem of the designer's working copy."""
    viewer = _designer(request)
    pack = await _pack(request.path_params["pack"])
    problems = await drafts.validate_draft(pack.name, viewer.key, folders=_pack_dirs())
    context = {
        "pack": pack,
        "problems": problems,
        "current_file": request.query_params.get("file", ""),
        "plain_problem": plain_problem,
    }
    return render(request, "designer_validate.html", context, fragment="_designer_problems.html")


# -- the BPMN editor ---------------------------------------------------------------------------


async def bpmn_editor(request: Request) -> Response:
    """GET /designer/{pack}/bpmn/{path}: bpmn-js with the server-rendered side panel."""
    viewer = _designer(request)
    pack = await _pack(request.path_params["pack"])
    path = request.path_params["path"]
    if not path.endswith(".bpmn"):
        raise HTTPException(404)
    await _working_file(pack, path, viewer)
    return render(request, "designer_bpmn.html", {"pack": pack, "path": path})


@dataclass
class ElementState:
    """The values of one diagram element, as the editor's script reports them."""

    id: str
    type: str = ""
    name: str = ""
    lane: str = ""
    lanes: list[str] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)
    instructions: str = ""
    pre_script: str = ""
    post_script: str = ""
    called_decision: str = ""
    script: str = ""
    condition: str = ""
    outgoing: list[dict[str, Any]] = field(default_factory=list)
    # A timer event's duration expression (`"P5D"`, quotes included), "" for anything else.
    timer: str = ""

    @property
    def timer_words(self) -> str | None:
        """The timer's duration in words ("5 days"), None when it is an expression."""
        literal = self.timer.strip()
        if len(literal) > 2 and literal[0] == literal[-1] and literal[0] in "\"'":
            inner = literal[1:-1]
            return in_words(inner) if is_iso(inner) else None
        return None

    @property
    def form(self) -> str:
        """The form name the task's schema property points at ("" without a form)."""
        schema = self.properties.get("formJsonSchemaFilename", "")
        return PurePosixPath(schema).name.removesuffix(FORM_SUFFIX) if schema else ""

    @property
    def is_human_task(self) -> bool:
        """Whether a person works this element (it gets a form, lane and due date)."""
        return self.type in HUMAN_TASKS

    @property
    def is_gateway(self) -> bool:
        """Whether the element chooses among outgoing flows by condition."""
        return self.type in GATEWAYS

    @property
    def kind(self) -> str:
        """The element type in words: "User task", "Exclusive gateway"."""
        words = re.sub(r"(?<!^)([A-Z])", r" \1", self.type.removeprefix("bpmn:"))
        return words[:1] + words[1:].lower()


def _element_state(raw: str, element_id: str) -> ElementState:
    try:
        data = json.loads(raw) if raw else {}
    except (ValueError, RecursionError):  # not JSON, or numbers / nesting beyond its limits
        data = {}
    if not isinstance(data, dict):
        data = {}
    known = set(ElementState.__dataclass_fields__)
    values = {k: v for k, v in data.items() if k in known}
    values["id"] = element_id or str(values.get("id", ""))
    properties = values.get("properties")
    values["properties"] = (
        {str(k): str(v) for k, v in properties.items()} if isinstance(properties, dict) else {}
    )
    outgoing = values.get("outgoing")
    values["outgoing"] = [f for f in outgoing if isinstance(f, dict)] if isinstance(
        outgoing, list) else []
    for key in ("type", "name", "lane", "instructions", "pre_script", "post_script",
                "called_decision", "script", "condition", "timer"):
        values[key] = str(values.get(key) or "")
    lanes = values.get("lanes")
    values["lanes"] = [str(lane) for lane in lanes] if isinstance(lanes, list) else []
    return ElementState(**values)


def _script_problem(text: str, label: str, mode: str = "exec") -> str | None:
    """A syntax error in a script or condition, as a message with its line; None when fine."""
    if not text.strip():
        return None
    try:
        compile(text, label, mode)
    except SyntaxError as error:
        return f"{label}: line {error.lineno}: {error.msg}"
    return None


def _panel_changes(state: ElementState, form: Any, pack: Pack, forms: list[str],
                   decisions: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """What the submitted panel asks to change, and the errors per field (by field name)."""
    errors: dict[str, str] = {}
    changes: dict[str, Any] = {"name": str(form.get("name", "")).strip()}
    extensions: dict[str, Any] = {}
    if state.is_human_task:
        lane = str(form.get("lane", ""))
        if lane and lane != state.lane:
            if lane not in state.lanes:
                errors["lane"] = "Choose one of the diagram's lanes."
            changes["lane"] = lane
        chosen = str(form.get("form", ""))
        if chosen and chosen not in forms:
            errors["form"] = "Choose one of the pack's forms."
        try:
            due = to_iso(str(form.get("due_in", "")))
        except DurationError as error:
            due = ""
            errors["due_in"] = str(error)
        has_ui = chosen and f"forms/{chosen}{UI_SUFFIX}" in pack.files
        extensions["properties"] = {
            "formJsonSchemaFilename": f"{chosen}{FORM_SUFFIX}" if chosen else "",
            "formUiSchemaFilename": f"{chosen}{UI_SUFFIX}" if has_ui else "",
            "dueIn": due,
        }
        extensions["instructions"] = str(form.get("instructions", ""))
    if state.type.startswith("bpmn:") and state.type.endswith("Task"):
        for key, label in (("pre_script", "Pre-script"), ("post_script", "Post-script")):
            text = str(form.get(key, ""))
            problem = _script_problem(text, label)
            if problem:
                errors[key] = problem
            extensions[key] = text
    if state.type == "bpmn:ScriptTask":
        script = str(form.get("script", ""))
        problem = _script_problem(script, "Script")
        if problem:
            errors["script"] = problem
        changes["script"] = script
    if state.type == "bpmn:BusinessRuleTask":
        decision = str(form.get("called_decision", ""))
        if decision and decision not in decisions:
            errors["called_decision"] = "Choose one of the pack's decisions."
        extensions["called_decision"] = decision
    if state.type == "bpmn:SequenceFlow":
        condition = str(form.get("condition", ""))
        problem = _script_problem(condition, "Condition", "eval")
        if problem:
            errors["condition"] = problem
        changes["condition"] = condition
    if state.timer_words is not None and "timer" in form:
        try:
            waits = to_iso(str(form.get("timer", "")))
        except DurationError as error:
            waits, errors["timer"] = "", str(error)
        if not waits and "timer" not in errors:
            errors["timer"] = "Say how long the timer waits, e.g. “5 days”."
        changes["timer"] = f'"{waits}"'
    if state.is_gateway:
        flows = []
        for flow in state.outgoing:
            flow_id = str(flow.get("id", ""))
            condition = str(form.get(f"condition:{flow_id}", ""))
            problem = _script_problem(condition, "Condition", "eval")
            if problem:
                errors[f"condition:{flow_id}"] = problem
            flows.append({"id": flow_id, "condition": condition,
                          "name": str(form.get(f"flow_name:{flow_id}", ""))})
        changes["flows"] = flows
    if extensions:
        changes["extensions"] = extensions
    return changes, errors


async def bpmn_panel(request: Request) -> Response:
    """GET/POST /designer/{pack}/bpmn/{path}/panel: the side-panel form for one element;
    with `apply`, check the submitted values and hand them to the editor's script."""
    _designer(request)
    pack = await _pack(request.path_params["pack"])
    form = await request.form() if request.method == "POST" else request.query_params
    element_id = str(form.get("element", ""))
    state = _element_state(str(form.get("state", "")), element_id)
    try:
        decisions = sorted(decision_index(pack))
    except PackError:
        decisions = []
    mine = await drafts.draft_files(pack.name, current_user(request).key)
    forms = form_names(set(pack.files) | set(mine))
    due = state.properties.get("dueIn", "")
    context: dict[str, Any] = {
        "pack": pack,
        "path": request.path_params["path"],
        "state": state,
        "due_in_words": in_words(due) if is_iso(due) else due,
        "forms": forms,
        "decisions": decisions,
        "errors": {},
        "changes": None,
        "values": None,
    }
    status = 200
    if element_id and form.get("apply"):
        changes, errors = _panel_changes(state, form, pack, forms, decisions)
        context["values"] = form
        if errors:
            context["errors"] = errors
            status = 422
        else:
            context["changes"] = Markup(json.dumps(changes).replace("</", "<\\/"))
    return render(request, "_designer_panel.html", context, status=status)


# -- the DMN editor ----------------------------------------------------------------------------


async def dmn_editor(request: Request) -> Response:
    """GET /designer/{pack}/dmn/{path}: dmn-js decision tables, saved as a draft."""
    viewer = _designer(request)
    pack = await _pack(request.path_params["pack"])
    path = request.path_params["path"]
    if not path.endswith(".dmn"):
        raise HTTPException(404)
    await _working_file(pack, path, viewer)
    context = {"pack": pack, "path": path, "decision": request.query_params.get("decision", "")}
    return render(request, "designer_dmn.html", context)


# -- the form editor ---------------------------------------------------------------------------


@dataclass
class FormPreview:
    """The preview of a form being edited: the rendered form, or what stops it rendering."""

    html: Markup | None = None
    errors: list[str] = field(default_factory=list)


def _json_problem(text: str, label: str) -> tuple[Any, str | None]:
    try:
        parsed = render_schema_template(text, {}) if text.strip() else {}
    except FormDefinitionError as error:
        return None, f"{label}: {error}"
    except json.JSONDecodeError as error:
        return None, f"{label}: line {error.lineno}, column {error.colno}: {error.msg}"
    except (ValueError, RecursionError) as error:
        return None, f"{label}: {_beyond_json(error)}"
    return parsed, None


def _beyond_json(error: Exception) -> str:
    """Why valid-looking JSON cannot be read: a number with too many digits, or too deep."""
    if isinstance(error, RecursionError):
        return "the JSON is nested too deeply."
    return f"the JSON cannot be read: {error}"


def _json_syntax(text: str, label: str) -> str | None:
    """A plain JSON syntax error with its line (before any Jinja rendering muddles it)."""
    if "{{" in text or "{%" in text:
        return None
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return f"{label}: line {error.lineno}, column {error.colno}: {error.msg}"
    except (ValueError, RecursionError) as error:
        return f"{label}: {_beyond_json(error)}"
    return None


def form_preview(schema_text: str, ui_text: str, catalogs: dict[str, Any],
                 csrf_token: str = "") -> FormPreview:
    """Render a form being edited the way the task page will, or say why it cannot be."""
    errors = [e for e in (_json_syntax(schema_text, "JSON Schema"),
                          _json_syntax(ui_text, "UI schema") if ui_text.strip() else None) if e]
    if errors:
        return FormPreview(errors=errors)
    schema, schema_error = _json_problem(schema_text, "JSON Schema")
    uischema, ui_error = _json_problem(ui_text, "UI schema")
    errors = [e for e in (schema_error, ui_error) if e]
    if errors:
        return FormPreview(errors=errors)
    try:
        bound = form_spec(schema, uischema or {}, catalogs).bind(None, {})
        html = bound.render(action="#", csrf_token=csrf_token, submit_label="Submit (preview)")
    except FormDefinitionError as error:
        return FormPreview(errors=[f"JSON Schema: {error}"])
    except Exception as error:  # a half-typed schema may break anywhere; say so, keep typing
        return FormPreview(errors=[f"The form cannot be rendered: {error}"])
    return FormPreview(html=html)


async def previewed(schema_text: str, ui_text: str, catalogs: dict[str, Any],
                    csrf_token: str = "") -> FormPreview:
    """The form preview, rendered on a thread: a pack's template runs within the evaluation
    limits, and a slow one must not hold the event loop meanwhile."""
    return await asyncio.to_thread(form_preview, schema_text, ui_text, catalogs, csrf_token)


@dataclass
class FormFiles:
    """A form's two files as the designer works on them."""

    name: str
    schema_path: str
    ui_path: str
    schema_text: str
    ui_text: str
    ui_exists: bool
    drafted: bool


async def _form_files(request: Request, pack: Pack, viewer: Viewer) -> FormFiles:
    mine = await drafts.draft_files(pack.name, viewer.key)
    name = request.path_params["name"]
    schema_path, ui_path = _form_paths(pack, set(mine), name)
    schema_text = await _working_file(pack, schema_path, viewer)
    ui_exists = ui_path in pack.files or ui_path in mine
    ui_text = await _working_file(pack, ui_path, viewer) if ui_exists else "{}\n"
    return FormFiles(name, schema_path, ui_path, schema_text, ui_text, ui_exists,
                     schema_path in mine or ui_path in mine)


def _builder_fields(files: FormFiles) -> tuple[list[fb.BuilderField], str]:
    """The form's fields for the builder, or ([], why the builder cannot show it)."""
    try:
        return fb.read_form_texts(files.schema_text, files.ui_text), ""
    except fb.Unrepresentable as error:
        return [], str(error)


async def form_editor(request: Request) -> Response:
    """GET /designer/{pack}/forms/{name}: the visual builder (or, with ?view=json or for a
    form the builder cannot show, the JSON Schema and UI schema), with a live preview."""
    viewer = _designer(request)
    pack = await _pack(request.path_params["pack"])
    files = await _form_files(request, pack, viewer)
    fields, unbuildable = _builder_fields(files)
    view = "json" if unbuildable or request.query_params.get("view") == "json" else "builder"
    return await _form_page(request, pack, files, view, fields, unbuildable)


async def _form_page(request: Request, pack: Pack, files: FormFiles, view: str,
                     fields: list[fb.BuilderField], unbuildable: str,
                     errors: dict[str, str] | None = None, status: int = 200,
                     title: str | None = None) -> Response:
    catalogs = _catalogs(pack)
    if view == "builder":
        schema_text, ui_text = _builder_texts(fields, files, title)
    else:
        schema_text, ui_text = files.schema_text, files.ui_text
    context = {
        "pack": pack,
        "name": files.name,
        "schema_path": files.schema_path,
        "ui_path": files.ui_path,
        "schema_text": files.schema_text,
        "ui_text": files.ui_text,
        "drafted": files.drafted,
        "view": view,
        "unbuildable": unbuildable,
        **_builder_context(fields, catalogs, errors or {}),
        "form_title": _form_title(schema_text, title),
        "preview": await previewed(schema_text, ui_text, catalogs, token_for(request)),
    }
    return render(request, "designer_form.html", context, status=status)


def _form_title(schema_text: str, posted: str | None) -> str:
    """The form's title as the builder shows it: as posted, else the schema's."""
    if posted is not None:
        return posted
    try:
        schema = json.loads(schema_text)
    except (ValueError, RecursionError):
        return ""
    return str(schema.get("title", "")) if isinstance(schema, dict) else ""


def _builder_context(fields: list[fb.BuilderField], catalogs: dict[str, Any],
                     errors: dict[str, str]) -> dict[str, Any]:
    scales = fb.rating_scales(catalogs)
    return {"fields": fields, "kinds": fb.KINDS, "column_kinds": fb.COLUMN_KINDS,
            "scales": scales, "errors": errors,
            "options_text": lambda f: "\n".join(o.label for o in f.options)}


def _builder_texts(fields: list[fb.BuilderField], files: FormFiles, title: str | None = None
                   ) -> tuple[str, str]:
    """The two files holding `fields`, in the formatting and line endings of the files."""
    try:
        schema = json.loads(files.schema_text)
        uischema = json.loads(files.ui_text) if files.ui_text.strip() else {}
    except (ValueError, RecursionError):
        schema, uischema = {}, {}
    new_schema, new_ui = fb.write_form(fields, schema, uischema, title)
    return (_line_endings_of(fb.dump_like(new_schema, files.schema_text), files.schema_text),
            _line_endings_of(fb.dump_like(new_ui, files.ui_text), files.ui_text))


_POSTED_FIELD = re.compile(r"f-(\d{1,4})-label")
_POSTED_COLUMN = r"f-{}-c-(\d{{1,4}})-label"


def _posted_fields(form: Any, base: list[fb.BuilderField]) -> list[fb.BuilderField]:
    """The builder's fields as posted (`f-<n>-label`, `f-<n>-c-<m>-label`, …), in order."""
    by_original = {f.original: f for f in base}
    numbers = sorted({int(m.group(1)) for key in form.keys()
                      if (m := _POSTED_FIELD.fullmatch(key))})
    fields = [_posted_field(form, f"f-{n}-", by_original) for n in numbers]
    for n, item in zip(numbers, fields, strict=True):
        if item.kind == "table" or form.get(f"f-{n}-c-0-label") is not None:
            pattern = re.compile(_POSTED_COLUMN.format(n))
            columns = sorted({int(m.group(1)) for key in form.keys()
                              if (m := pattern.fullmatch(key))})
            old = {c.original: c for c in by_original.get(item.original, item).columns}
            item.columns = [_posted_field(form, f"f-{n}-c-{c}-", old) for c in columns]
            _name_new(item.columns)
    _name_new(fields)
    return fields


def _posted_field(form: Any, prefix: str, by_original: dict[str, fb.BuilderField]
                  ) -> fb.BuilderField:
    def text(key: str) -> str:
        return str(form.get(prefix + key) or "")

    original = text("original")
    if original not in by_original:
        original = ""
    previous = by_original[original].options if original else []
    return fb.BuilderField(
        name=text("name").strip() or original,
        label=text("label").strip(),
        kind=text("kind") or "text",
        required=bool(form.get(prefix + "required")),
        help=text("help"),
        options=fb.options_from_lines(text("options"), previous),
        scale=text("scale"),
        original=original,
    )


def _name_new(fields: list[fb.BuilderField]) -> None:
    """Fields added in the builder without a name get one from their label."""
    taken = [f.name for f in fields if f.name]
    for item in fields:
        if not item.name:
            item.name = fb.identifier(item.label or "field", taken)
            taken.append(item.name)


def _builder_action(fields: list[fb.BuilderField], action: str) -> None:
    """Add, remove or move a field or a table column, in place."""
    verb, _, rest = action.partition(":")
    numbers = [int(part) for part in rest.split(":") if part.isdigit()]
    if verb == "add":
        fields.append(fb.BuilderField(name="", label="New question", kind="text"))
        _name_new(fields)
        return
    if not numbers or numbers[0] >= len(fields):
        return
    at = numbers[0]
    if verb == "remove":
        del fields[at]
    elif verb == "up" and at > 0:
        fields[at - 1], fields[at] = fields[at], fields[at - 1]
    elif verb == "down" and at + 1 < len(fields):
        fields[at + 1], fields[at] = fields[at], fields[at + 1]
    elif verb == "add_column":
        columns = fields[at].columns
        columns.append(fb.BuilderField(name="", label="New column", kind="text"))
        _name_new(columns)
    elif verb == "remove_column" and len(numbers) > 1 and numbers[1] < len(fields[at].columns):
        del fields[at].columns[numbers[1]]


async def form_builder(request: Request) -> Response:
    """POST /designer/{pack}/forms/{name}/builder: one builder action on the posted fields
    (`_action`: add, remove:<n>, up:<n>, down:<n>, add_column:<n>, remove_column:<n>:<m>,
    save). htmx gets the builder back with the preview; without JavaScript, the whole page."""
    viewer = _designer(request)
    pack = await _pack(request.path_params["pack"])
    files = await _form_files(request, pack, viewer)
    base, unbuildable = _builder_fields(files)
    form = await request.form()
    if unbuildable:
        return await _form_page(request, pack, files, "json", [], unbuildable, status=409)
    fields = _posted_fields(form, base)
    title = str(form.get("form_title", ""))
    action = str(form.get("_action") or "")
    scales = fb.rating_scales(_catalogs(pack))
    if action != "save":
        _builder_action(fields, action)
        errors = fb.problems(fields, scales) if action == "check" else {}
        return await _builder_answer(request, pack, files, fields, errors, title)
    errors = fb.problems(fields, scales)
    if errors:
        return await _builder_answer(request, pack, files, fields, errors, title, status=422)
    schema_text, ui_text = _builder_texts(fields, files, title)
    for path, text, current in ((files.schema_path, schema_text, files.schema_text),
                                (files.ui_path, ui_text,
                                 files.ui_text if files.ui_exists else None)):
        if text != current:
            await drafts.save_draft_file(pack.name, path, viewer.key, text,
                                         folders=_pack_dirs())
    flash(request, f"Draft of {files.name} saved. Validate and deploy the pack to use it.",
          "success")
    url = request.url_for("designer_form", pack=pack.name, name=files.name).path
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


async def _builder_answer(request: Request, pack: Pack, files: FormFiles,
                          fields: list[fb.BuilderField], errors: dict[str, str], title: str,
                          status: int = 200) -> Response:
    if not is_htmx(request):
        return await _form_page(request, pack, files, "builder", fields, "", errors, status,
                                title)
    catalogs = _catalogs(pack)
    schema_text, ui_text = _builder_texts(fields, files, title)
    context = {
        "pack": pack, "name": files.name, "view": "builder", "oob_preview": True,
        "form_title": title,
        **_builder_context(fields, catalogs, errors),
        "preview": await previewed(schema_text, ui_text, catalogs, token_for(request)),
    }
    return render(request, "_designer_builder.html", context, status=status)


async def form_builder_preview(request: Request) -> Response:
    """POST /designer/{pack}/forms/{name}/builder/preview: the preview of the posted fields."""
    viewer = _designer(request)
    pack = await _pack(request.path_params["pack"])
    files = await _form_files(request, pack, viewer)
    base, unbuildable = _builder_fields(files)
    if unbuildable:
        raise HTTPException(409, unbuildable)
    form = await request.form()
    fields = _posted_fields(form, base)
    schema_text, ui_text = _builder_texts(fields, files, str(form.get("form_title", "")))
    problems = fb.problems(fields, fb.rating_scales(_catalogs(pack)))
    preview = await previewed(schema_text, ui_text, _catalogs(pack), token_for(request))
    if problems and preview.errors:
        preview = FormPreview(errors=sorted(set(problems.values())))
    return render(request, "_designer_form_preview.html", {"preview": preview})


def _catalogs(pack: Pack) -> dict[str, Any]:
    try:
        return pack.catalogs()
    except PackError:
        return {}


async def form_preview_fragment(request: Request) -> Response:
    """POST /designer/{pack}/forms/{name}/preview: the preview for the posted texts."""
    _designer(request)
    pack = await _pack(request.path_params["pack"])
    form = await request.form()
    preview = await previewed(str(form.get("schema", "")), str(form.get("uischema", "")),
                              _catalogs(pack), token_for(request))
    return render(request, "_designer_form_preview.html", {"preview": preview})


async def form_save(request: Request) -> Response:
    """POST /designer/{pack}/forms/{name}: keep both texts as the designer's drafts."""
    viewer = _designer(request)
    pack = await _pack(request.path_params["pack"])
    mine = await drafts.draft_files(pack.name, viewer.key)
    name = request.path_params["name"]
    schema_path, ui_path = _form_paths(pack, set(mine), name)
    form = await request.form()
    for path, key in ((schema_path, "schema"), (ui_path, "uischema")):
        current = await _working_file(pack, path, viewer) if (
            path in pack.files or path in mine) else None
        text = _line_endings_of(str(form.get(key, "")), current)
        if text != current:
            await drafts.save_draft_file(pack.name, path, viewer.key, text,
                                         folders=_pack_dirs())
    preview = await previewed(str(form.get("schema", "")), str(form.get("uischema", "")),
                              _catalogs(pack), token_for(request))
    if preview.errors:
        flash(request, f"Draft of {name} saved — it still has errors.", "warning")
    else:
        flash(request, f"Draft of {name} saved.", "success")
    url = request.url_for("designer_form", pack=pack.name, name=name).path
    return RedirectResponse(f"{url}?view=json", status_code=303)


# -- deploy ------------------------------------------------------------------------------------


async def deploy(request: Request) -> Response:
    """POST /designer/{pack}/deploy: deploy the designer's working copy (refused with the
    problems while any remain), then show what changed per process."""
    viewer = _designer(request)
    pack = await _pack(request.path_params["pack"])
    outcome = await drafts.deploy_draft(pack.name, viewer.key, folders=_pack_dirs())
    if outcome.problems:
        context = {"pack": pack, "problems": outcome.problems, "current_file": "",
                   "plain_problem": plain_problem,
                   "refused": "Not deployed: fix these problems first."}
        return render(request, "designer_validate.html", context, status=422)
    return render(request, "designer_deployed.html", {"pack": pack, "outcome": outcome})


# -- migrate ---------------------------------------------------------------------------------


@dataclass
class UnpreviewableInstance:
    """An instance whose migration could not even be previewed, and why."""

    instance_id: int
    from_version: int
    to_version: int
    refusals: list[str]
    allowed: bool = False


async def _preview(instance_id: int, choice: drafts.MigrationChoice) -> Any:
    """The migration preview of one instance; a failure becomes a refusal with its message."""
    try:
        return await migration.preview_migration(instance_id, choice.target_definition_id)
    except EngineError as error:
        version = next((i.version for i in choice.instances if i.instance_id == instance_id), 0)
        return UnpreviewableInstance(instance_id, version, choice.target_version, [str(error)])


async def migrate_page(request: Request) -> Response:
    """GET /designer/{pack}/{process}/migrate: instances on older versions, to choose from."""
    _designer(request)
    pack = await _pack(request.path_params["pack"])
    process_id = request.path_params["process"]
    choice = await drafts.migration_choice(pack.name, process_id)
    if choice is None:
        raise HTTPException(404)
    context = {"pack": pack, "process_id": process_id, "choice": choice, "chosen": set(),
               "previews": None, "results": None}
    return render(request, "designer_migrate.html", context)


async def migrate_submit(request: Request) -> Response:
    """POST /designer/{pack}/{process}/migrate: preview (the default) or migrate the chosen
    instances to the newest version."""
    viewer = _designer(request)
    pack = await _pack(request.path_params["pack"])
    process_id = request.path_params["process"]
    choice = await drafts.migration_choice(pack.name, process_id)
    if choice is None:
        raise HTTPException(404)
    form = await request.form()
    offered = {item.instance_id for item in choice.instances}
    posted = (database_id(str(v)) for v in form.getlist("instance"))
    chosen = [i for i in posted if i is not None and i in offered]
    context: dict[str, Any] = {"pack": pack, "process_id": process_id, "choice": choice,
                               "chosen": set(chosen), "previews": None, "results": None}
    if not chosen:
        context["message"] = "Choose at least one instance."
        return render(request, "designer_migrate.html", context, status=422)
    target = choice.target_definition_id
    if form.get("action") == "migrate":
        actor = await actor_for(viewer.person_id)
        results: list[tuple[int, migration.MigrationPreview | None, str | None]] = []
        for instance_id in chosen:
            try:
                outcome = await migration.migrate_instance(instance_id, target, actor)
                results.append((instance_id, outcome, None))
            except EngineError as error:
                results.append((instance_id, None, str(error)))
        context["results"] = results
        context["choice"] = await drafts.migration_choice(pack.name, process_id)
    else:
        context["previews"] = [await _preview(instance_id, choice) for instance_id in chosen]
    return render(request, "designer_migrate.html", context)


# -- import / export ---------------------------------------------------------------------------


async def export_zip(request: Request) -> Response:
    """GET /designer/{pack}/export.zip: the pack as a zip (its latest deployed version)."""
    _designer(request)
    name = request.path_params["pack"]
    folders = pack_folders()
    if name not in folders:
        raise HTTPException(404)
    data = archive.export_pack(await drafts.base_folder(name, _pack_dirs()))
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}.zip"'},
    )


async def import_page(request: Request) -> Response:
    """GET /designer/import: the upload form."""
    _designer(request)
    return render(request, "designer_import.html", _import_context())


def _import_context(**extra: Any) -> dict[str, Any]:
    limit_mb = settings.MAX_PACK_UPLOAD_BYTES / (1024 * 1024)
    return {"limit": f"{limit_mb:g} MB", "error": None, "problems": [], **extra}


async def import_submit(request: Request) -> Response:
    """POST /designer/import: unpack an uploaded zip into the first PACKS folder, if valid."""
    _designer(request)
    async with request.form() as form:
        upload = form.get("archive")
        replace = form.get("replace") == "yes"
        if upload is None or isinstance(upload, str) or not upload.filename:
            context = _import_context(error="Choose a .zip file to upload.")
            return render(request, "designer_import.html", context, status=422)
        filename = upload.filename
        data = await upload.read()
    folders = [Path(folder) for folder in settings.PACKS]
    try:
        # Unpacking, checking and validating a whole pack: off the event loop.
        result = await asyncio.to_thread(
            archive.import_pack,
            data,
            folders[0],
            max_bytes=settings.MAX_PACK_UPLOAD_BYTES,
            replace=replace,
            search=folders,
        )
    except archive.ArchiveRejected as error:
        context = _import_context(error=str(error), problems=error.problems,
                                  filename=filename)
        return render(request, "designer_import.html", context, status=422)
    verb = "Replaced" if result.replaced else "Imported"
    flash(request, f"{verb} pack {result.name} ({len(result.files)} files). Validate and deploy "
          "it to run its processes.", "success")
    return RedirectResponse(request.url_for("designer_home").path, status_code=303)


# Specific paths first: a pack file may be called anything, process ids too.
routes: list[BaseRoute] = [
    Route("/designer", designer_home, methods=["GET"], name="designer_home"),
    Route("/designer/import", import_page, methods=["GET"], name="designer_import"),
    Route("/designer/import", import_submit, methods=["POST"]),
    Route("/designer/{pack}/export.zip", export_zip, methods=["GET"], name="designer_export"),
    Route("/designer/{pack}/validate", validate_page, methods=["GET"], name="designer_validate"),
    Route("/designer/{pack}/deploy", deploy, methods=["POST"], name="designer_deploy"),
    Route("/designer/{pack}/discard", drafts_discard, methods=["POST"],
          name="designer_discard"),
    Route("/designer/{pack}/files/{path:path}", file_source, methods=["GET"],
          name="designer_file"),
    Route("/designer/{pack}/files/{path:path}", file_save, methods=["POST"]),
    Route("/designer/{pack}/bpmn/{path:path}/panel", bpmn_panel, methods=["GET", "POST"],
          name="designer_panel"),
    Route("/designer/{pack}/bpmn/{path:path}", bpmn_editor, methods=["GET"],
          name="designer_bpmn"),
    Route("/designer/{pack}/dmn/{path:path}", dmn_editor, methods=["GET"], name="designer_dmn"),
    Route("/designer/{pack}/forms/{name}/preview", form_preview_fragment, methods=["POST"],
          name="designer_form_preview"),
    Route("/designer/{pack}/forms/{name}/builder", form_builder, methods=["POST"],
          name="designer_form_builder"),
    Route("/designer/{pack}/forms/{name}/builder/preview", form_builder_preview,
          methods=["POST"], name="designer_form_builder_preview"),
    Route("/designer/{pack}/forms/{name}", form_editor, methods=["GET"], name="designer_form"),
    Route("/designer/{pack}/forms/{name}", form_save, methods=["POST"]),
    Route("/designer/{pack}/{process}/migrate", migrate_page, methods=["GET"],
          name="designer_migrate"),
    Route("/designer/{pack}/{process}/migrate", migrate_submit, methods=["POST"]),
]
