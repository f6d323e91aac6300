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
from engine.packs.loading import Pack, PackError, discover_packs, load_pack_leniently
from engine.packs.specs import decision_index, process_index
from engine.workflow import migration
from engine.workflow.runtime import actor_for
from forms import FormDefinitionError, form_spec, render_schema_template
from webapp.auth import Viewer, current_user
from webapp.csrf import token_for
from webapp.input import database_id
from webapp.templating import flash, render

FORM_SUFFIX = "-schema.json"
UI_SUFFIX = "-uischema.json"
_DURATION = re.compile(
    r"P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?"
)
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
    return render(request, "designer.html", {"packs": packs})


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


async def validate_page(request: Request) -> Response:
    """GET /designer/{pack}/validate: every problem of the designer's working copy."""
    viewer = _designer(request)
    pack = await _pack(request.path_params["pack"])
    problems = await drafts.validate_draft(pack.name, viewer.key, folders=_pack_dirs())
    context = {
        "pack": pack,
        "problems": problems,
        "current_file": request.query_params.get("file", ""),
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
                "called_decision", "script", "condition"):
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
        due = str(form.get("due_in", "")).strip().upper()
        if due and not _DURATION.fullmatch(due):
            errors["due_in"] = "Write a duration such as P14D (14 days) or P2W (2 weeks)."
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
    context: dict[str, Any] = {
        "pack": pack,
        "path": request.path_params["path"],
        "state": state,
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


async def form_editor(request: Request) -> Response:
    """GET /designer/{pack}/forms/{name}: the JSON Schema and UI schema, with a live preview."""
    viewer = _designer(request)
    pack = await _pack(request.path_params["pack"])
    mine = await drafts.draft_files(pack.name, viewer.key)
    schema_path, ui_path = _form_paths(pack, set(mine), request.path_params["name"])
    schema_text = await _working_file(pack, schema_path, viewer)
    try:
        ui_text = await _working_file(pack, ui_path, viewer)
    except HTTPException:
        ui_text = "{}\n"
    context = {
        "pack": pack,
        "name": request.path_params["name"],
        "schema_path": schema_path,
        "ui_path": ui_path,
        "schema_text": schema_text,
        "ui_text": ui_text,
        "drafted": schema_path in mine or ui_path in mine,
        "preview": await previewed(schema_text, ui_text, _catalogs(pack), token_for(request)),
    }
    return render(request, "designer_form.html", context)


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
    return RedirectResponse(url, status_code=303)


# -- deploy ------------------------------------------------------------------------------------


async def deploy(request: Request) -> Response:
    """POST /designer/{pack}/deploy: deploy the designer's working copy (refused with the
    problems while any remain), then show what changed per process."""
    viewer = _designer(request)
    pack = await _pack(request.path_params["pack"])
    outcome = await drafts.deploy_draft(pack.name, viewer.key, folders=_pack_dirs())
    if outcome.problems:
        context = {"pack": pack, "problems": outcome.problems, "current_file": "",
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
    Route("/designer/{pack}/forms/{name}", form_editor, methods=["GET"], name="designer_form"),
    Route("/designer/{pack}/forms/{name}", form_save, methods=["POST"]),
    Route("/designer/{pack}/{process}/migrate", migrate_page, methods=["GET"],
          name="designer_migrate"),
    Route("/designer/{pack}/{process}/migrate", migrate_submit, methods=["POST"]),
]
