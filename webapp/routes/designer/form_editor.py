"""The form editor: the visual builder over a form's JSON Schema and UI schema, the JSON view,
the live preview, and saving in the file's own style."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from engine.packs import designer as drafts
from engine.packs import form_builder as fb
from engine.packs.loading import Pack, PackError
from forms import FormDefinitionError, form_spec, render_schema_template
from webapp import i18n
from webapp.auth import Viewer
from webapp.csrf import token_for
from webapp.routes.designer.pack_files import (
    form_paths,
    line_endings_of,
    load_pack,
    pack_dirs,
    require_designer,
    working_file,
)
from webapp.templating import flash, is_htmx, render


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
        html = bound.render(action="#", csrf_token=csrf_token,
                            submit_label=i18n.gettext("Submit (preview)"))
    except FormDefinitionError as error:
        return FormPreview(errors=[f"JSON Schema: {error}"])
    except Exception as error:  # a half-typed schema may break anywhere; say so, keep typing
        return FormPreview(errors=[i18n.gettext("The form cannot be rendered: %(problem)s",
                                                 problem=error)])
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
    schema_path, ui_path = form_paths(pack, set(mine), name)
    schema_text = await working_file(pack, schema_path, viewer)
    ui_exists = ui_path in pack.files or ui_path in mine
    ui_text = await working_file(pack, ui_path, viewer) if ui_exists else "{}\n"
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
    viewer = require_designer(request)
    pack = await load_pack(request.path_params["pack"])
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
    return (line_endings_of(fb.dump_like(new_schema, files.schema_text), files.schema_text),
            line_endings_of(fb.dump_like(new_ui, files.ui_text), files.ui_text))


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
        fields.append(fb.BuilderField(name="", label=i18n.gettext("New question"), kind="text"))
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
        columns.append(fb.BuilderField(name="", label=i18n.gettext("New column"), kind="text"))
        _name_new(columns)
    elif verb == "remove_column" and len(numbers) > 1 and numbers[1] < len(fields[at].columns):
        del fields[at].columns[numbers[1]]


async def form_builder(request: Request) -> Response:
    """POST /designer/{pack}/forms/{name}/builder: one builder action on the posted fields
    (`_action`: add, remove:<n>, up:<n>, down:<n>, add_column:<n>, remove_column:<n>:<m>,
    save). htmx gets the builder back with the preview; without JavaScript, the whole page."""
    viewer = require_designer(request)
    pack = await load_pack(request.path_params["pack"])
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
                                         folders=pack_dirs())
    flash(request, i18n.gettext(
        "Draft of %(name)s saved. Validate and deploy the pack to use it.", name=files.name),
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
    viewer = require_designer(request)
    pack = await load_pack(request.path_params["pack"])
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
    require_designer(request)
    pack = await load_pack(request.path_params["pack"])
    form = await request.form()
    preview = await previewed(str(form.get("schema", "")), str(form.get("uischema", "")),
                              _catalogs(pack), token_for(request))
    return render(request, "_designer_form_preview.html", {"preview": preview})


async def form_save(request: Request) -> Response:
    """POST /designer/{pack}/forms/{name}: keep both texts as the designer's drafts."""
    viewer = require_designer(request)
    pack = await load_pack(request.path_params["pack"])
    mine = await drafts.draft_files(pack.name, viewer.key)
    name = request.path_params["name"]
    schema_path, ui_path = form_paths(pack, set(mine), name)
    form = await request.form()
    for path, key in ((schema_path, "schema"), (ui_path, "uischema")):
        current = await working_file(pack, path, viewer) if (
            path in pack.files or path in mine) else None
        text = line_endings_of(str(form.get(key, "")), current)
        if text != current:
            await drafts.save_draft_file(pack.name, path, viewer.key, text,
                                         folders=pack_dirs())
    preview = await previewed(str(form.get("schema", "")), str(form.get("uischema", "")),
                              _catalogs(pack), token_for(request))
    if preview.errors:
        flash(request, i18n.gettext("Draft of %(name)s saved — it still has errors.", name=name),
              "warning")
    else:
        flash(request, i18n.gettext("Draft of %(name)s saved.", name=name), "success")
    url = request.url_for("designer_form", pack=pack.name, name=name).path
    return RedirectResponse(f"{url}?view=json", status_code=303)
