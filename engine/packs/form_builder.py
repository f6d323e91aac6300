"""The designer's visual form builder: a pack form (JSON Schema + UI schema) as a list of field
descriptions, and the field list written back into the same two files.

A field is what HR sees: a label, a type (`KINDS`), required or not, help text, options, table
columns, a rating scale from the pack's catalogs. `read_form` turns the two JSON documents into
fields — or raises `Unrepresentable` saying what the builder cannot show (a templated form, a
signature, an email field …; such forms are edited as JSON). `write_form` lays the fields over
the documents they came from: everything the builder does not manage (lengths, defaults,
descriptions, conditional rules, options it does not know) is kept as it was. `dump_like`
prints a document in the formatting of the file it replaces: an unchanged value keeps its exact
text, a new one follows the file's indentation, short objects on one line.

Pure data in, data out: nothing here reads files, the database or the web.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.base.i18n import said, said_together

# The types HR picks from, named in English; a page says them in its reader's language.
KINDS: dict[str, str] = {
    "text": said("Text"),
    "textarea": said("Long text"),
    "number": said("Number"),
    "date": said("Date"),
    "yesno": said("Yes / no"),
    "choice": said("Choice"),
    "person": said("Person"),
    "rating": said("Rating"),
    "table": said("Table"),
    "signature": said("Signature"),
}
COLUMN_KINDS = {k: v for k, v in KINDS.items() if k not in ("table", "signature")}
# Names a field may not have (WTForms' own attributes; docs/forms.md).
RESERVED = frozenset(
    "data errors form_errors meta validate process post_process populate_obj prefix obj "
    "formdata".split()
)
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_STRINGY = {"text", "textarea", "date", "person"}
# Schema keys a field keeps when its type changes (the rest belong to the old type).
_KEPT_ON_KIND_CHANGE = ("title", "description", "readOnly")
_UI_KEPT_ON_KIND_CHANGE = ("ui:title", "ui:help", "ui:description", "ui:readonly",
                           "ui:disabled", "ui:placeholder", "ui:autofocus")
WIDTH = 100  # a new object or list is written on one line when it fits in this many columns


class Unrepresentable(ValueError):
    """The builder cannot show this form; it is edited as JSON (the message says why)."""


@dataclass
class Option:
    """One choice: the value stored in the task data and the label people see."""

    value: Any
    label: str


@dataclass
class BuilderField:
    """One field of a form (or one column of a table field), as the builder shows it."""

    name: str
    label: str
    kind: str
    required: bool = False
    help: str = ""
    options: list[Option] = field(default_factory=list)
    scale: str = ""
    columns: list[BuilderField] = field(default_factory=list)
    # The field's name in the form it was read from ("" for a field added in the builder):
    # what it keeps from there is found by this name.
    original: str = ""


# -- reading -----------------------------------------------------------------------------------


def read_form(schema: Any, uischema: Any) -> list[BuilderField]:
    """The fields of a form in their order; `Unrepresentable` when the builder cannot show it."""
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        raise Unrepresentable("the form's JSON Schema is not an object with properties")
    ui = uischema if isinstance(uischema, dict) else {}
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        raise Unrepresentable("the form's properties are not a JSON object")
    required = _names(schema.get("required", []))
    fields = [
        _read_field(name, spec, _ui_of(ui, name), name in required, in_table=False)
        for name, spec in properties.items()
    ]
    return _ordered(fields, ui.get("ui:order"))


def _names(value: Any) -> set[str]:
    return {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()


def _ui_of(ui: Mapping[str, Any], name: str) -> dict[str, Any]:
    found = ui.get(name, {})
    return found if isinstance(found, dict) else {}


def _ordered(fields: list[BuilderField], order: Any) -> list[BuilderField]:
    """Fields in `ui:order` (with "*" for the rest), as the task page shows them."""
    if not isinstance(order, list):
        return fields
    by_name = {f.name: f for f in fields}
    named = [n for n in order if isinstance(n, str) and n in by_name]
    rest = [f for f in fields if f.name not in named]
    result: list[BuilderField] = []
    for item in order:
        if item == "*":
            result.extend(rest)
            rest = []
        elif isinstance(item, str) and item in by_name and by_name[item] not in result:
            result.append(by_name[item])
    return result + rest


def _main_type(spec: Mapping[str, Any], name: str) -> str:
    kind = spec.get("type")
    if isinstance(kind, list):
        others = [k for k in kind if k != "null"]
        if len(others) != 1:
            raise Unrepresentable(f"field {name!r} has several types")
        kind = others[0]
    if "enum" in spec or "oneOf" in spec:
        return str(kind or "string")
    if not isinstance(kind, str):
        raise Unrepresentable(f"field {name!r} has no type")
    return kind


def kind_of(name: str, spec: Any, ui: Mapping[str, Any], in_table: bool = False) -> str:
    """The builder's type for one property (see `KINDS`); `Unrepresentable` when none fits."""
    if not isinstance(spec, dict):
        raise Unrepresentable(f"field {name!r} is not a JSON object")
    for key in ("$ref", "allOf", "anyOf", "if", "dependencies"):
        if key in spec:
            raise Unrepresentable(f"field {name!r} uses {key}")
    widget = ui.get("ui:widget")
    kind = _main_type(spec, name)
    options = ui.get("ui:options", {})
    if widget == "signature" and not in_table and kind in ("boolean", "object"):
        return "signature"
    if widget == "rating":
        if kind in ("integer", "number") and isinstance(options, dict) and isinstance(
                options.get("scale"), str):
            return "rating"
    elif "enum" in spec or "oneOf" in spec:
        if widget in (None, "select", "radio") and kind in ("string", "integer", "number"):
            return "choice"
    elif kind == "string" and widget == "person" and "format" not in spec:
        return "person"
    elif kind == "boolean" and widget in (None, "checkbox", "radio", "select"):
        return "yesno"
    elif kind in ("integer", "number") and widget in (None, "updown", "text"):
        return "number"
    elif kind == "string" and (spec.get("format") == "date" or widget == "date"):
        if spec.get("format", "date") == "date" and widget in (None, "date"):
            return "date"
    elif kind == "string" and "format" not in spec and widget in (None, "text", "textarea"):
        return "textarea" if widget == "textarea" else "text"
    elif kind == "array" and not in_table and widget in (None, "table"):
        items = spec.get("items")
        if isinstance(items, dict) and items.get("type") == "object" and isinstance(
                items.get("properties"), dict):
            return "table"
    what = f"the widget {widget!r}" if widget else f"a {kind} of this shape"
    if spec.get("format") not in (None, "date"):
        what = f"the format {spec['format']!r}"
    raise Unrepresentable(f"field {name!r} uses {what}, which the builder does not offer")


def _options(spec: Mapping[str, Any], ui: Mapping[str, Any]) -> list[Option]:
    if isinstance(spec.get("oneOf"), list):
        return [Option(o.get("const"), str(o.get("title", o.get("const"))))
                for o in spec["oneOf"] if isinstance(o, dict)]
    values = spec.get("enum", [])
    names = ui.get("ui:enumNames", spec.get("enumNames", []))
    names = names if isinstance(names, list) else []
    return [Option(v, str(names[i]) if i < len(names) else str(v))
            for i, v in enumerate(values if isinstance(values, list) else [])]


def _read_field(name: str, spec: Any, ui: dict[str, Any], required: bool, *,
                in_table: bool) -> BuilderField:
    kind = kind_of(name, spec, ui, in_table)
    label = str(ui.get("ui:title") or spec.get("title") or name.replace("_", " ").capitalize())
    built = BuilderField(name=name, label=label, kind=kind, required=required,
                         help=str(ui.get("ui:help", "")), original=name)
    if kind == "choice":
        built.options = _options(spec, ui)
    elif kind == "rating":
        built.scale = str(ui["ui:options"]["scale"])
    elif kind == "table":
        items = spec["items"]
        items_ui = ui.get("items", {}) if isinstance(ui.get("items"), dict) else {}
        columns = _names(items.get("required", []))
        built.columns = _ordered(
            [_read_field(col, col_spec, _ui_of(items_ui, col), col in columns, in_table=True)
             for col, col_spec in items["properties"].items()],
            items_ui.get("ui:order"),
        )
    return built


# -- checking ----------------------------------------------------------------------------------


def identifier(label: str, taken: Sequence[str] = ()) -> str:
    """A field name made from a label: "Team size (people)" -> "team_size_people"."""
    base = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:40].strip("_") or "field"
    if not base[0].isalpha():
        base = f"field_{base}"
    if base in RESERVED:
        base = f"{base}_field"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    return name


def options_from_lines(text: str, previous: Sequence[Option] = ()) -> list[Option]:
    """Options typed one label per line. A label seen before keeps its stored value; a line
    renamed in place keeps the value of the line it replaced; a new label gets a value made
    from it (numbers when the earlier values were numbers)."""
    labels = [line.strip() for line in text.splitlines() if line.strip()]
    by_label = {o.label: o for o in previous}
    numeric = bool(previous) and all(
        isinstance(o.value, int | float) and not isinstance(o.value, bool) for o in previous)
    result: list[Option] = []
    used: list[Any] = []
    for position, label in enumerate(labels):
        if label in by_label and by_label[label].value not in used:
            value = by_label[label].value
        elif (position < len(previous) and previous[position].label not in labels
              and previous[position].value not in used):
            value = previous[position].value
        elif numeric:
            value = max([int(v) for v in used if isinstance(v, int | float)] +
                        [int(o.value) for o in previous] + [0]) + 1
        else:
            value = identifier(label, [str(v) for v in used])
        used.append(value)
        result.append(Option(value, label))
    return result


def problems(fields: Sequence[BuilderField], scales: Mapping[str, str] | None = None
             ) -> dict[str, str]:
    """What stops the fields being written, keyed "<n>" or "<n>.<column>" (0-based), each
    in English that a page says in its reader's language (`said`)."""
    found: dict[str, str] = {}
    if not fields:
        found["form"] = said("Add at least one field.")
    _check(fields, found, "", scales, table=False)
    return found


def _check(fields: Sequence[BuilderField], found: dict[str, str], prefix: str,
           scales: Mapping[str, str] | None, *, table: bool) -> None:
    seen: set[str] = set()
    for number, item in enumerate(fields):
        key = f"{prefix}{number}"
        allowed = COLUMN_KINDS if table else KINDS
        if not item.label.strip():
            found[key] = said("Give the field a label.")
        elif item.kind not in allowed:
            found[key] = said("Choose one of the types: %(types)s.",
                              types=said_together(allowed.values()))
        elif not _IDENTIFIER.fullmatch(item.name) or item.name in RESERVED:
            found[key] = said("“%(name)s” cannot be stored: use letters, digits and _, "
                              "starting with a letter.", name=item.name)
        elif item.name in seen:
            found[key] = said("Two fields are stored as “%(name)s”: rename one.",
                              name=item.name)
        elif item.kind == "choice" and not item.options:
            found[key] = said("Type at least one option, one per line.")
        elif item.kind == "choice" and len({json.dumps(o.value) for o in item.options}) < len(
                item.options):
            found[key] = said("Two options are the same: make each one different.")
        elif item.kind == "rating" and not item.scale:
            found[key] = said("Choose the rating scale.")
        elif item.kind == "rating" and scales is not None and item.scale not in scales:
            found[key] = said("The pack has no rating scale %(scale)s: choose one of its "
                              "scales.", scale=repr(item.scale))
        elif item.kind == "table" and not item.columns:
            found[key] = said("Add at least one column.")
        seen.add(item.name)
        if item.kind == "table":
            _check(item.columns, found, f"{key}.", scales, table=True)


def rating_scales(catalogs: Mapping[str, Any]) -> dict[str, str]:
    """The rating scales a pack's catalogs hold, as `{reference: label}` for a select:
    every `[[levels]]` list of tables with a value and a label."""
    found: dict[str, str] = {}

    def visit(node: Any, path: list[str]) -> None:
        if not isinstance(node, dict) or len(path) > 3:
            return
        levels = node.get("levels")
        if isinstance(levels, list) and levels and all(
                isinstance(level, dict) and "value" in level and "label" in level
                for level in levels):
            title = node.get("name") or ".".join(path)
            summary = ", ".join(f"{level['value']} {level['label']}" for level in levels[:2])
            found[".".join([*path, "levels"])] = f"{title} ({len(levels)} levels: {summary} …)"
        for key, child in node.items():
            if isinstance(child, dict):
                visit(child, [*path, key])

    for name, catalog in catalogs.items():
        visit(catalog, [name])
    return found


# -- writing -----------------------------------------------------------------------------------


def write_form(fields: Sequence[BuilderField], schema: Mapping[str, Any],
               uischema: Mapping[str, Any], title: str | None = None
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON Schema and UI schema holding `fields` (and the form's `title`, when given),
    built over the documents they were read from (`schema`, `uischema`): what the builder
    does not manage is kept."""
    new_schema = dict(schema)
    if title is not None and title.strip() and title.strip() != schema.get("title"):
        new_schema["title"] = title.strip()
    new_ui = dict(uischema)
    props, required, ui_entries = _write_fields(fields, schema, uischema)
    new_schema.setdefault("type", "object")
    base_props = schema.get("properties")
    new_schema["properties"] = _in_file_order(
        props, fields, base_props if isinstance(base_props, dict) else {}, uischema)
    _set_required(new_schema, schema, required)
    _lay_ui(new_ui, uischema, fields, ui_entries, keep_order_key=True)
    return new_schema, new_ui


def _in_file_order(props: dict[str, Any], fields: Sequence[BuilderField],
                   base_props: Mapping[str, Any], ui: Mapping[str, Any]) -> dict[str, Any]:
    """Properties in the order to write them: with a `ui:order` (which sets what people see)
    the ones already there keep their places and new ones go last; without one, the order of
    the properties is the order people see, so it follows the fields."""
    if not isinstance(ui.get("ui:order"), list):
        return props
    originals = {f.original: f.name for f in fields if f.original}
    kept = [originals[name] for name in base_props if name in originals]
    return {name: props[name] for name in kept + [n for n in props if n not in kept]}


def _set_required(target: dict[str, Any], base: Mapping[str, Any], required: list[str]) -> None:
    old = base.get("required")
    if isinstance(old, list):
        ordered = [n for n in old if n in required] + [n for n in required if n not in old]
        target["required"] = ordered
    elif required:
        target["required"] = required
    if "required" in target and "properties" in target and list(target).index("required") > list(
            target).index("properties") and "required" not in base:
        # A new "required" goes before "properties", as the pack's forms write it.
        value = target.pop("required")
        props = target.pop("properties")
        target["required"] = value
        target["properties"] = props


def _lay_ui(target: dict[str, Any], base: Mapping[str, Any], fields: Sequence[BuilderField],
            entries: dict[str, dict[str, Any]], *, keep_order_key: bool) -> None:
    names = [f.name for f in fields]
    for key in list(target):
        if not key.startswith("ui:") and key not in names:
            del target[key]  # a removed field's UI entry
    for name in names:
        if entries.get(name):
            target[name] = entries[name]
        else:
            target.pop(name, None)
    order = base.get("ui:order")
    if isinstance(order, list):
        target["ui:order"] = names + (["*"] if "*" in order else [])


def _write_fields(fields: Sequence[BuilderField], schema: Mapping[str, Any],
                  uischema: Mapping[str, Any]
                  ) -> tuple[dict[str, Any], list[str], dict[str, dict[str, Any]]]:
    base_props = schema.get("properties", {}) if isinstance(schema.get("properties"), dict) else {}
    props: dict[str, Any] = {}
    required: list[str] = []
    entries: dict[str, dict[str, Any]] = {}
    for item in fields:
        old_spec = base_props.get(item.original) if item.original else None
        old_ui = _ui_of(uischema, item.original) if item.original else {}
        spec, ui = _write_field(item, old_spec if isinstance(old_spec, dict) else None, old_ui)
        props[item.name] = spec
        entries[item.name] = ui
        if item.required:
            required.append(item.name)
    return props, required, entries


def _old_kind(spec: dict[str, Any] | None, ui: Mapping[str, Any], in_table: bool) -> str | None:
    if spec is None:
        return None
    try:
        return kind_of("", spec, ui, in_table)
    except Unrepresentable:
        return None


def _json_type(item: BuilderField, old: dict[str, Any]) -> str:
    previous = old.get("type")
    if isinstance(previous, list):
        previous = next((t for t in previous if t != "null"), None)
    if item.kind in _STRINGY:
        return "string"
    if item.kind in ("number", "rating"):
        return previous if previous in ("integer", "number") else (
            "integer" if item.kind == "rating" else "number")
    if item.kind == "yesno" or item.kind == "signature":
        return previous if item.kind == "signature" and previous == "object" else "boolean"
    if item.kind == "table":
        return "array"
    values = [o.value for o in item.options]
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return previous if previous in ("integer", "number") else "integer"
    if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "number"
    return "string"


def _write_field(item: BuilderField, old_spec: dict[str, Any] | None, old_ui: dict[str, Any],
                 in_table: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    same_kind = _old_kind(old_spec, old_ui, in_table) == item.kind
    if old_spec is not None and same_kind:
        spec = dict(old_spec)
        ui = dict(old_ui)
    else:
        spec = {k: v for k, v in (old_spec or {}).items() if k in _KEPT_ON_KIND_CHANGE}
        ui = {k: v for k, v in old_ui.items() if k in _UI_KEPT_ON_KIND_CHANGE}
    if "ui:title" in ui:
        ui["ui:title"] = item.label
    else:
        spec["title"] = item.label
    json_type = _json_type(item, spec if same_kind else {})
    old_type = spec.get("type")
    if isinstance(old_type, list) and json_type in old_type:
        pass  # a nullable type stays nullable
    else:
        spec["type"] = json_type
    if item.kind == "date":
        spec["format"] = "date"
    if item.kind == "choice":
        if "oneOf" in spec:
            spec["oneOf"] = [{"const": o.value, "title": o.label} for o in item.options]
        else:
            spec["enum"] = [o.value for o in item.options]
            labels = [o.label for o in item.options]
            if "enumNames" in spec:
                spec["enumNames"] = labels
            elif labels != [str(o.value) for o in item.options] or "ui:enumNames" in ui:
                ui["ui:enumNames"] = labels
        if not same_kind and ui.get("ui:widget") not in ("select", "radio"):
            ui["ui:widget"] = "radio" if len(item.options) <= 5 and not in_table else "select"
    widget = {"textarea": "textarea", "person": "person", "rating": "rating",
              "signature": "signature"}.get(item.kind)
    if widget:
        ui["ui:widget"] = widget
    if item.kind == "rating":
        options = ui.get("ui:options")
        ui["ui:options"] = {**(options if isinstance(options, dict) else {}), "scale": item.scale}
    if item.kind == "table":
        found_items, found_ui = spec.get("items"), ui.get("items")
        old_items: dict[str, Any] = found_items if isinstance(found_items, dict) else {}
        old_items_ui: dict[str, Any] = found_ui if isinstance(found_ui, dict) else {}
        items = dict(old_items)
        items["type"] = "object"
        columns: dict[str, Any] = {}
        column_ui: dict[str, dict[str, Any]] = {}
        col_required: list[str] = []
        base_cols = old_items.get("properties", {})
        for column in item.columns:
            old_col = base_cols.get(column.original) if column.original else None
            col_spec, col_ui = _write_field(
                column, old_col if isinstance(old_col, dict) else None,
                _ui_of(old_items_ui, column.original) if column.original else {}, in_table=True)
            columns[column.name] = col_spec
            column_ui[column.name] = col_ui
            if column.required:
                col_required.append(column.name)
        items["properties"] = _in_file_order(columns, item.columns, base_cols, old_items_ui)
        _set_required(items, old_items, col_required)
        spec["items"] = items
        items_ui = dict(old_items_ui)
        _lay_ui(items_ui, old_items_ui, item.columns, column_ui, keep_order_key=True)
        if items_ui:
            ui["items"] = items_ui
        else:
            ui.pop("items", None)
    if item.help.strip():
        ui["ui:help"] = item.help.strip()
    else:
        ui.pop("ui:help", None)
    return spec, ui


# -- printing in the file's own style ----------------------------------------------------------


@dataclass
class _Node:
    """A parsed JSON value with where its text starts and ends."""

    value: Any
    start: int
    end: int
    keys: dict[str, _Node] | None = None
    items: list[_Node] | None = None


_WS = " \t\n\r"
_DECODER = json.JSONDecoder()
scanstring: Any = getattr(json.decoder, "scanstring")  # noqa: B009 (untyped in typeshed)


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in _WS:
        at += 1
    return at


def _parse(text: str, at: int) -> _Node:
    at = _skip(text, at)
    char = text[at]
    if char == "{":
        keys: dict[str, _Node] = {}
        start = at
        at = _skip(text, at + 1)
        while text[at] != "}":
            key, at = scanstring(text, at + 1)
            at = _skip(text, at) + 1  # the colon
            child = _parse(text, at)
            keys[key] = child
            at = _skip(text, child.end)
            if text[at] == ",":
                at = _skip(text, at + 1)
        return _Node({k: n.value for k, n in keys.items()}, start, at + 1, keys=keys)
    if char == "[":
        items: list[_Node] = []
        start = at
        at = _skip(text, at + 1)
        while text[at] != "]":
            child = _parse(text, at)
            items.append(child)
            at = _skip(text, child.end)
            if text[at] == ",":
                at = _skip(text, at + 1)
        return _Node([n.value for n in items], start, at + 1, items=items)
    if char == '"':
        value, end = scanstring(text, at + 1)
        return _Node(value, at, end)
    value, end = _DECODER.raw_decode(text, at)
    return _Node(value, at, end)


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, ensure_ascii=False) == json.dumps(b, ensure_ascii=False)


def _indent_unit(text: str) -> str:
    found = re.search(r"\n([ \t]+)\S", text)
    return found.group(1) if found else "  "


def dump_like(value: Any, original: str | None) -> str:
    """`value` as JSON text in the style of `original` (the file it replaces): unchanged parts
    keep their exact text; changed and new parts follow its indentation, one line per short
    object. Ends with a newline when the original did (or when there is none)."""
    node: _Node | None = None
    if original and original.strip():
        try:
            json.loads(original)
            node = _parse(original, 0)
        except (ValueError, IndexError, RecursionError):
            node = None
    unit = _indent_unit(original) if node is not None and original else "  "
    body = _Printer(unit, original or "").print(value, node, 0, 0)
    if node is not None and original is not None:
        return original[:node.start] + body + original[node.end:]
    return body + "\n"


class _Printer:
    def __init__(self, unit: str, source: str) -> None:
        self.unit = unit
        self.source = source

    def print(self, value: Any, node: _Node | None, depth: int, column: int) -> str:
        if node is not None and _same(value, node.value):
            return self.source[node.start:node.end]
        inline = json.dumps(value, ensure_ascii=False)
        if not isinstance(value, dict | list) or not value:
            return inline
        was_inline = node is not None and "\n" not in self.source[node.start:node.end]
        fits = column + len(inline) <= WIDTH
        if isinstance(value, list) and not any(isinstance(v, dict | list) for v in value):
            return inline  # lists of names or values stay on one line, as the pack writes them
        nested_list = any(isinstance(v, list) and any(isinstance(i, dict) for i in v)
                          for v in (value.values() if isinstance(value, dict) else value))
        if fits and not nested_list and (was_inline or node is None) and depth > 0:
            return inline
        inner = self.unit * (depth + 1)
        lines = []
        if isinstance(value, dict):
            keys = node.keys if node is not None and node.keys is not None else {}
            for key, child in value.items():
                prefix = f"{inner}{json.dumps(key, ensure_ascii=False)}: "
                lines.append(prefix + self.print(child, keys.get(key), depth + 1, len(prefix)))
            opening, closing = "{", "}"
        else:
            olds = node.items if node is not None and node.items is not None else []
            for number, child in enumerate(value):
                old = olds[number] if number < len(olds) else None
                lines.append(inner + self.print(child, old, depth + 1, len(inner)))
            opening, closing = "[", "]"
        return f"{opening}\n" + ",\n".join(lines) + f"\n{self.unit * depth}{closing}"


def read_form_texts(schema_text: str, ui_text: str) -> list[BuilderField]:
    """`read_form` of the two files' texts; `Unrepresentable` for a form filled in from the task
    data (a Jinja template) or text that is not JSON."""
    if any(mark in text for text in (schema_text, ui_text) for mark in ("{{", "{%")):
        raise Unrepresentable(
            "it is a template filled in from the task data ({{ … }}), which only JSON can show")
    try:
        schema = json.loads(schema_text)
        uischema = json.loads(ui_text) if ui_text.strip() else {}
    except (ValueError, RecursionError) as error:
        raise Unrepresentable(f"its JSON cannot be read ({error})") from None
    return read_form(schema, uischema)
