"""The BPMN editor with its properties panel (forms, lanes, due dates in words, scripts), and
the DMN editor."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from engine.packs import designer as drafts
from engine.packs.durations import DurationError, in_words, is_iso, to_iso
from engine.packs.loading import Pack, PackError
from engine.packs.specs import decision_index
from webapp import i18n
from webapp.auth import current_user
from webapp.routes.designer.pack_files import (
    FORM_SUFFIX,
    GATEWAYS,
    HUMAN_TASKS,
    UI_SUFFIX,
    form_names,
    load_pack,
    require_designer,
    working_file,
)
from webapp.templating import render


async def bpmn_editor(request: Request) -> Response:
    """GET /designer/{pack}/bpmn/{path}: bpmn-js with the server-rendered side panel."""
    viewer = require_designer(request)
    pack = await load_pack(request.path_params["pack"])
    path = request.path_params["path"]
    if not path.endswith(".bpmn"):
        raise HTTPException(404)
    await working_file(pack, path, viewer)
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
                errors["lane"] = i18n.gettext("Choose one of the diagram's lanes.")
            changes["lane"] = lane
        chosen = str(form.get("form", ""))
        if chosen and chosen not in forms:
            errors["form"] = i18n.gettext("Choose one of the pack's forms.")
        try:
            due = to_iso(str(form.get("due_in", "")))
        except DurationError as error:
            due = ""
            errors["due_in"] = i18n.say_error(error)
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
            errors["called_decision"] = i18n.gettext("Choose one of the pack's decisions.")
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
            waits, errors["timer"] = "", i18n.say_error(error)
        if not waits and "timer" not in errors:
            errors["timer"] = i18n.gettext("Say how long the timer waits, e.g. “5 days”.")
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
    require_designer(request)
    pack = await load_pack(request.path_params["pack"])
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


async def dmn_editor(request: Request) -> Response:
    """GET /designer/{pack}/dmn/{path}: dmn-js decision tables, saved as a draft."""
    viewer = require_designer(request)
    pack = await load_pack(request.path_params["pack"])
    path = request.path_params["path"]
    if not path.endswith(".dmn"):
        raise HTTPException(404)
    await working_file(pack, path, viewer)
    context = {"pack": pack, "path": path, "decision": request.query_params.get("decision", "")}
    return render(request, "designer_dmn.html", context)
