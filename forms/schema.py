"""Compile a JSON Schema + UI schema pair into a tree of form nodes.

The tree is the one description of a form that the WTForms classes, the validation rules,
`to_data()` and the HTML rendering all read, so each of them stays small.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from forms.catalogs import Choice, catalog_choices, choice_token, rating_scale
from forms.errors import FormDefinitionError

# WTForms forms expose these as attributes, so a property may not shadow them.
RESERVED_NAMES = frozenset(
    {
        "data",
        "errors",
        "form_errors",
        "meta",
        "validate",
        "process",
        "post_process",
        "populate_obj",
        "prefix",
        "obj",
        "formdata",
    }
)
STRING_WIDGETS = {None, "text", "textarea", "hidden", "email", "date", "password", "person"}
CHOICE_WIDGETS = {None, "select", "radio", "rating"}
NUMBER_WIDGETS = {None, "updown", "text", "rating", "select", "radio", "hidden"}


@dataclass(frozen=True)
class Condition:
    """`if: {properties: {x: {const: v}}}, then/else: {required: [...]}` on an object."""

    when: tuple[tuple[str, tuple[Any, ...]], ...]
    then_required: tuple[str, ...]
    else_required: tuple[str, ...]


@dataclass(frozen=True)
class TotalRule:
    """`x-total` on a table: a numeric column must sum to / at least / at most a number."""

    column: str
    label: str
    message: str = ""
    equals: float | None = None
    minimum: float | None = None
    maximum: float | None = None


# `ui:options.notBefore` / `notAfter`: "today", a date ("2026-01-01"), or a duration from today
# ("-P1Y", "P30D", "P2W"; years, months, weeks and days).
_DURATION = re.compile(r"([+-]?)P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?")
# A string column of a table longer than this wraps in an auto-growing box by default.
AUTOGROW_LENGTH = 80


@dataclass(frozen=True)
class DateLimit:
    """A plausibility bound on a date field: a fixed day, or today moved by a duration."""

    text: str
    fixed: dt.date | None = None
    sign: int = 1
    years: int = 0
    months: int = 0
    days: int = 0

    @property
    def is_today(self) -> bool:
        """Whether the bound is today itself (the message then says "in the future/past")."""
        return self.fixed is None and not (self.years or self.months or self.days)

    def day(self, today: dt.date) -> dt.date:
        """The bound as a date, for a form bound on `today`."""
        if self.fixed is not None:
            return self.fixed
        month_index = today.month - 1 + self.sign * (self.years * 12 + self.months)
        year, month = today.year + month_index // 12, month_index % 12 + 1
        # 31 January plus a month is the last day of February, as people count.
        last_day = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
        moved = dt.date(year, month, min(today.day, last_day))
        return moved + dt.timedelta(days=self.sign * self.days)


def date_limit(value: Any, where: str, key: str) -> DateLimit | None:
    """Parse `ui:options.notBefore`/`notAfter`: "today", "YYYY-MM-DD" or an ISO duration."""
    if value is None:
        return None
    text = value.strip() if isinstance(value, str) else ""
    if text.lower() == "today":
        return DateLimit("today")
    try:
        return DateLimit(text, fixed=dt.date.fromisoformat(text))
    except ValueError:
        pass
    found = _DURATION.fullmatch(text.upper())
    if not found or text.upper() in ("P", "-P", "+P"):
        raise FormDefinitionError(
            f"{where}: ui:options.{key} must be \"today\", a date such as \"2026-01-01\" or a "
            f"duration from today such as \"-P1Y\" or \"P30D\", not {value!r}"
        )
    sign, years, months, weeks, days = found.groups()
    return DateLimit(
        text,
        sign=-1 if sign == "-" else 1,
        years=int(years or 0),
        months=int(months or 0),
        days=int(weeks or 0) * 7 + int(days or 0),
    )


@dataclass
class FieldNode:
    """One property of the form, with everything needed to build, check and draw it."""

    name: str
    kind: str
    label: str
    description: str = ""
    help: str = ""
    placeholder: str = ""
    required: bool = False
    readonly: bool = False
    autofocus: bool = False
    default: Any = None
    options: dict[str, Any] = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    min_items: int | None = None
    max_items: int | None = None
    children: tuple[FieldNode, ...] = ()
    conditions: tuple[Condition, ...] = ()
    total: TotalRule | None = None
    # A signature on a boolean property stores only True; on an object, who signed and when.
    records_signer: bool = True
    # A rating: (level token, label) badges such as the employee's own rating, and whether this
    # field shows its scale's general definitions (once per scale in a form, see compile_form).
    markers: tuple[tuple[str, str], ...] = ()
    scale_legend: bool = False
    # Whether the choices are the levels of a rating scale (shown as "4 — Strong" when fixed).
    is_rating: bool = False
    # Text drawn in a box that grows with what is typed (a textarea; see `autogrow`).
    autogrow: bool = False
    # A text field whose catalog (`ui:options.catalog` with `free_text`) suggests values.
    suggestions: tuple[Choice, ...] = ()
    # Dates: the plausible range (`ui:options.notBefore` / `notAfter`).
    not_before: DateLimit | None = None
    not_after: DateLimit | None = None

    def child(self, name: str) -> FieldNode:
        """The child property called `name`."""
        for node in self.children:
            if node.name == name:
                return node
        raise KeyError(name)

    @property
    def is_container(self) -> bool:
        """Objects and tables hold other fields."""
        return self.kind in ("object", "table")


def private_fields(uischema: Mapping[str, Any]) -> frozenset[str]:
    """The top-level fields a UI schema marks `"ui:options": {"private": true}`: what the
    person a process is about does not see again in what others submitted (a manager's view
    of their potential, say)."""
    return frozenset(
        name for name, ui in uischema.items()
        if isinstance(ui, Mapping) and isinstance(ui.get("ui:options"), Mapping)
        and ui["ui:options"].get("private") is True
    )


def humanise(name: str) -> str:
    """`self_rating` -> `Self rating`, the label used when a schema gives no title."""
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", name).replace("_", " ").replace("-", " ")
    words = " ".join(words.split())
    return words[:1].upper() + words[1:]


def _plural(label: str) -> str:
    return label if label.endswith("s") else f"{label}s"


class _Compiler:
    def __init__(self, schema: Mapping[str, Any], catalogs: Mapping[str, Any]):
        self.root_schema = schema
        self.catalogs = catalogs

    def resolve(self, schema: Any, seen: tuple[str, ...] = ()) -> dict[str, Any]:
        if not isinstance(schema, Mapping):
            raise FormDefinitionError(f"expected a schema object, got {schema!r}")
        ref = schema.get("$ref")
        if ref is None:
            return dict(schema)
        if not isinstance(ref, str) or not ref.startswith("#/") or ref in seen:
            raise FormDefinitionError(f"only local, non-recursive $ref is supported: {ref!r}")
        target: Any = self.root_schema
        for part in ref[2:].split("/"):
            if not isinstance(target, Mapping) or part not in target:
                raise FormDefinitionError(f"$ref {ref!r} points at nothing")
            target = target[part]
        merged = {**self.resolve(target, (*seen, ref)), **schema}
        merged.pop("$ref")
        return merged

    def object_children(
        self, schema: Mapping[str, Any], ui: Mapping[str, Any], readonly: bool, in_table: bool
    ) -> tuple[tuple[FieldNode, ...], tuple[Condition, ...]]:
        properties = schema.get("properties") or {}
        required = set(schema.get("required") or ())
        names = _ordered(list(properties), ui.get("ui:order"))
        children = []
        for name in names:
            if name in RESERVED_NAMES or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
                raise FormDefinitionError(
                    f"property name {name!r} must be a letter then letters, digits or _, "
                    f"and not one of {sorted(RESERVED_NAMES)}"
                )
            child_ui = ui.get(name) or {}
            if not isinstance(child_ui, Mapping):
                raise FormDefinitionError(f"UI schema for {name!r} must be an object")
            children.append(
                self.property(
                    name, properties[name], child_ui, name in required, readonly, in_table
                )
            )
        return tuple(children), _conditions(schema, set(properties))

    def property(
        self,
        name: str,
        raw: Any,
        ui: Mapping[str, Any],
        required: bool,
        readonly: bool,
        in_table: bool,
    ) -> FieldNode:
        schema = self.resolve(raw)
        kind_of = _json_type(schema)
        widget = ui.get("ui:widget")
        options = dict(ui.get("ui:options") or {})
        readonly = readonly or bool(
            ui.get("ui:readonly") or schema.get("readOnly") or ui.get("ui:disabled")
        )
        node = FieldNode(
            name=name,
            kind="text",
            label=str(ui.get("ui:title") or schema.get("title") or humanise(name)),
            description=str(ui.get("ui:description", schema.get("description", ""))),
            help=str(ui.get("ui:help", "")),
            placeholder=str(ui.get("ui:placeholder", "")),
            required=required,
            readonly=readonly,
            autofocus=bool(ui.get("ui:autofocus")),
            default=schema.get("default"),
            options=options,
        )
        where = f"property {name!r}"
        if widget == "signature" and kind_of == "boolean" and not in_table:
            node.kind = "signature"
            node.records_signer = False
            return node
        if kind_of == "object":
            if in_table:
                raise FormDefinitionError(f"{where}: a table column cannot be an object")
            if widget == "signature":
                node.kind = "signature"
                return node
            if widget is not None:
                raise FormDefinitionError(f"{where}: unknown widget {widget!r} for an object")
            node.kind = "object"
            node.children, node.conditions = self.object_children(schema, ui, readonly, False)
            return node
        if kind_of == "array":
            return self.array(node, schema, ui, widget, in_table)
        if widget == "rating":
            return self.rating(node, in_table)
        node.choices = _relabelled(_choices(schema), ui.get("ui:enumNames"))
        if kind_of == "boolean":
            if widget in ("radio", "select"):
                node.kind = widget
                node.choices = node.choices or (Choice(True, "Yes"), Choice(False, "No"))
            elif widget in (None, "checkbox"):
                node.kind = "checkbox"
            else:
                raise FormDefinitionError(f"{where}: unknown widget {widget!r} for a boolean")
            return node
        if node.choices:
            if widget not in CHOICE_WIDGETS:
                raise FormDefinitionError(f"{where}: unknown widget {widget!r} for a choice")
            node.kind = "radio" if widget == "radio" else "select"
            return node
        if kind_of in ("integer", "number"):
            if widget not in NUMBER_WIDGETS:
                raise FormDefinitionError(f"{where}: unknown widget {widget!r} for a number")
            node.kind = "hidden" if widget == "hidden" else kind_of
            node.readonly = node.readonly or widget == "hidden"
            node.minimum = _bound(schema, "minimum", where)
            node.maximum = _bound(schema, "maximum", where)
            node.exclusive_minimum = _bound(schema, "exclusiveMinimum", where)
            node.exclusive_maximum = _bound(schema, "exclusiveMaximum", where)
            return node
        if kind_of != "string":
            raise FormDefinitionError(f"{where}: unsupported type {kind_of!r}")
        if "catalog" in options:
            return self.catalog_picker(node, schema, widget, in_table)
        if widget not in STRING_WIDGETS:
            raise FormDefinitionError(f"{where}: unknown widget {widget!r} for a string")
        fmt = schema.get("format")
        if widget in ("textarea", "hidden", "email", "date", "password", "person"):
            node.kind = widget
        elif fmt in ("email", "date"):
            node.kind = fmt
        elif fmt == "date-time":
            node.kind = "datetime"
        node.readonly = node.readonly or node.kind == "hidden"
        node.min_length = schema.get("minLength")
        node.max_length = schema.get("maxLength")
        node.autogrow = _autogrows(node, in_table, where)
        if node.kind in ("date", "datetime"):
            node.not_before = date_limit(options.get("notBefore"), where, "notBefore")
            node.not_after = date_limit(options.get("notAfter"), where, "notAfter")
        node.pattern = schema.get("pattern")
        if node.pattern is not None:
            try:
                re.compile(node.pattern)
            except re.error as error:
                raise FormDefinitionError(f"{where}: bad pattern: {error}") from None
        return node

    def array(
        self,
        node: FieldNode,
        schema: Mapping[str, Any],
        ui: Mapping[str, Any],
        widget: Any,
        in_table: bool,
    ) -> FieldNode:
        where = f"property {node.name!r}"
        items = self.resolve(schema.get("items") or {})
        node.min_items = schema.get("minItems")
        node.max_items = schema.get("maxItems")
        node.default = schema.get("default")
        choices = _relabelled(_choices(items), ui.get("ui:enumNames"))
        if choices:
            if widget not in (None, "select", "checkboxes"):
                raise FormDefinitionError(f"{where}: unknown widget {widget!r} for a multi-choice")
            node.kind = "checkboxes" if widget == "checkboxes" else "multiselect"
            node.choices = choices
            return node
        if _json_type(items) != "object" or in_table or widget not in (None, "table"):
            raise FormDefinitionError(
                f"{where}: arrays must be of objects (a table) or of enum values (a multi-choice)"
            )
        node.kind = "table"
        item_ui = ui.get("items") or {}
        node.children, node.conditions = self.object_children(
            items, item_ui, node.readonly, in_table=True
        )
        node.total = _total_rule(schema.get("x-total"), node)
        return node

    def catalog_picker(
        self, node: FieldNode, schema: Mapping[str, Any], widget: Any, in_table: bool
    ) -> FieldNode:
        """A string picked from a catalog: a select, or with `free_text` a text input that
        suggests the catalog's entries (a datalist) and takes anything typed."""
        where = f"property {node.name!r}"
        if widget not in (None, "text", "select"):
            raise FormDefinitionError(
                f"{where}: a catalog picker is a text or select, not {widget!r}"
            )
        free_text = node.options.get("free_text", False)
        if not isinstance(free_text, bool):
            raise FormDefinitionError(f"{where}: ui:options.free_text must be true or false")
        try:
            entries = catalog_choices(self.catalogs, node.options["catalog"])
        except FormDefinitionError as error:
            raise FormDefinitionError(f"{where}: {error}") from None
        if not free_text:
            node.kind = "select"
            node.choices = entries
            return node
        node.suggestions = entries
        node.min_length = schema.get("minLength")
        node.max_length = schema.get("maxLength")
        # A datalist suggests into an <input> only, so the text stays one line, never a textarea.
        node.pattern = schema.get("pattern")
        if node.pattern is not None:
            try:
                re.compile(node.pattern)
            except re.error as error:
                raise FormDefinitionError(f"{where}: bad pattern: {error}") from None
        return node

    def rating(self, node: FieldNode, in_table: bool) -> FieldNode:
        scale = node.options.get("scale")
        if not isinstance(scale, str):
            raise FormDefinitionError(
                f"property {node.name!r}: a rating needs ui:options.scale, e.g. "
                f"'rating_scale.levels'"
            )
        node.choices, competency = rating_scale(self.catalogs, scale, node.options.get("anchors"))
        if competency and node.label == humanise(node.name) and competency.get("name"):
            node.label = str(competency["name"])
        if competency and not node.description:
            node.description = str(competency.get("description", ""))
        node.kind = "select" if in_table else "rating"
        node.is_rating = True
        node.markers = _markers(node.name, node.options.get("marker"))
        return node


def _autogrows(node: FieldNode, in_table: bool, where: str) -> bool:
    """Whether a text field is drawn in a box that grows with its text: every textarea, and in
    a table a text column that may hold more than AUTOGROW_LENGTH characters; the option
    `ui:options.autogrow` says otherwise."""
    chosen = node.options.get("autogrow")
    if chosen is not None and not isinstance(chosen, bool):
        raise FormDefinitionError(f"{where}: ui:options.autogrow must be true or false")
    if node.kind == "textarea":
        return chosen is not False
    if node.kind != "text":
        return False
    if chosen is not None:
        return chosen
    length = node.max_length
    return in_table and isinstance(length, int) and length > AUTOGROW_LENGTH


def _bound(schema: Mapping[str, Any], key: str, where: str) -> float | None:
    """A numeric bound of the schema (`minimum`, ...): a finite number, or None."""
    value = schema.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FormDefinitionError(f"{where}: {key} must be a number, not {value!r}")
    return value


def _markers(name: str, value: Any) -> tuple[tuple[str, str], ...]:
    """`ui:options.marker`: {"value": 3, "label": "Self-rating"}, or a list of them; markers
    whose value is null (nothing to compare with yet) are left out."""
    entries = value if isinstance(value, list) else [] if value is None else [value]
    markers = []
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("label"), str):
            raise FormDefinitionError(
                f"property {name!r}: a marker is {{\"value\": …, \"label\": \"…\"}}"
            )
        if entry.get("value") is not None:
            markers.append((choice_token(entry["value"]), entry["label"]))
    return tuple(markers)


def _place_scale_legends(node: FieldNode, shown: set[str]) -> None:
    """The first rating of each scale whose levels carry behaviours shows the scale's general
    definitions; the others show only their behaviours (and the definition on hover)."""
    for child in node.children:
        if child.kind == "rating":
            scale = str(child.options.get("scale"))
            if scale not in shown and any(c.anchors for c in child.choices) and any(
                c.definition for c in child.choices
            ):
                child.scale_legend = True
                shown.add(scale)
        elif child.kind == "object":
            _place_scale_legends(child, shown)


def _json_type(schema: Mapping[str, Any]) -> str:
    declared = schema.get("type")
    if isinstance(declared, list):
        declared = next((t for t in declared if t != "null"), None)
    if declared is None:
        if "properties" in schema:
            return "object"
        if "items" in schema:
            return "array"
        values = [c.value for c in _choices(schema)]
        if values and all(isinstance(v, bool) for v in values):
            return "boolean"
        if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            return "number"
        return "string"
    return str(declared)


def _choices(schema: Mapping[str, Any]) -> tuple[Choice, ...]:
    if "enum" in schema:
        titles = schema.get("enumNames") or [None] * len(schema["enum"])
        return tuple(
            Choice(value, str(title if title is not None else value))
            for value, title in zip(schema["enum"], titles, strict=False)
        )
    for key in ("oneOf", "anyOf"):
        options = schema.get(key)
        if (
            isinstance(options, list)
            and options
            and all(isinstance(o, Mapping) and "const" in o for o in options)
        ):
            return tuple(
                Choice(o["const"], str(o.get("title", o["const"])), str(o.get("description", "")))
                for o in options
            )
    return ()


def _relabelled(choices: tuple[Choice, ...], titles: Any) -> tuple[Choice, ...]:
    if not isinstance(titles, list):
        return choices
    return tuple(
        Choice(c.value, str(title), c.definition, c.anchors)
        for c, title in zip(
            choices, [*titles, *(c.label for c in choices[len(titles) :])], strict=False
        )
    )


def _ordered(names: list[str], order: Any) -> list[str]:
    if not order:
        return names
    unknown = [n for n in order if n != "*" and n not in names]
    if unknown:
        raise FormDefinitionError(f"ui:order names unknown properties: {unknown}")
    rest = [n for n in names if n not in order]
    result: list[str] = []
    for name in order:
        result.extend(rest if name == "*" else [name])
    if "*" not in order:
        result.extend(rest)
    return result


def _conditions(schema: Mapping[str, Any], names: set[str]) -> tuple[Condition, ...]:
    blocks = [schema, *(b for b in schema.get("allOf") or () if isinstance(b, Mapping))]
    conditions = []
    for block in blocks:
        if "if" not in block:
            continue
        when = []
        for name, test in ((block["if"] or {}).get("properties") or {}).items():
            if "const" in test:
                when.append((name, (test["const"],)))
            elif "enum" in test:
                when.append((name, tuple(test["enum"])))
            else:
                raise FormDefinitionError(f"if: on {name!r} supports only const or enum")
        then_required = tuple((block.get("then") or {}).get("required") or ())
        else_required = tuple((block.get("else") or {}).get("required") or ())
        unknown = {n for n, _ in when} | set(then_required) | set(else_required)
        unknown -= names
        if unknown or not when:
            raise FormDefinitionError(f"if/then names unknown properties: {sorted(unknown)}")
        conditions.append(Condition(tuple(when), then_required, else_required))
    return tuple(conditions)


def _total_rule(rule: Any, table: FieldNode) -> TotalRule | None:
    if rule is None:
        return None
    if not isinstance(rule, Mapping) or "column" not in rule:
        raise FormDefinitionError(f"x-total on {table.name!r} needs a column")
    try:
        column = table.child(rule["column"])
    except KeyError:
        missing = rule["column"]
        raise FormDefinitionError(f"x-total column {missing!r} is not in the table") from None
    if column.kind not in ("integer", "number"):
        raise FormDefinitionError(f"x-total column {column.name!r} must be a number")
    if not any(key in rule for key in ("equals", "min", "max")):
        raise FormDefinitionError("x-total needs equals, min or max")
    where = f"x-total on {table.name!r}"
    return TotalRule(
        column=column.name,
        label=str(rule.get("label") or _plural(column.label)),
        message=str(rule.get("message") or ""),
        equals=_bound(rule, "equals", where),
        minimum=_bound(rule, "min", where),
        maximum=_bound(rule, "max", where),
    )


def compile_form(
    schema: Mapping[str, Any], uischema: Mapping[str, Any], catalogs: Mapping[str, Any]
) -> FieldNode:
    """The root node (kind "object") for a form schema and its UI schema."""
    compiler = _Compiler(schema, catalogs)
    root_schema = compiler.resolve(schema)
    if _json_type(root_schema) != "object":
        raise FormDefinitionError("a form schema must be an object with properties")
    root = FieldNode(name="", kind="object", label=str(root_schema.get("title", "")))
    root.description = str(root_schema.get("description", ""))
    root.children, root.conditions = compiler.object_children(
        root_schema, uischema or {}, bool((uischema or {}).get("ui:readonly")), False
    )
    _place_scale_legends(root, set())
    return root
