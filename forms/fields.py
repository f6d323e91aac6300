"""Build WTForms classes from form nodes, and convert values between JSON and WTForms."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from wtforms import Form
from wtforms.fields import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    DecimalField,
    Field,
    FieldList,
    FormField,
    StringField,
    TextAreaField,
)
from wtforms.utils import unset_value
from wtforms.validators import ValidationError

from forms.catalogs import Choice
from forms.i18n import gettext as _
from forms.schema import FieldNode
from forms.text import control_character_message, first_control_character, storable_number

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Text kinds that hold one line (a textarea holds several).
SINGLE_LINE_KINDS = frozenset({"text", "email", "hidden", "password", "person"})
TEXT_KINDS = SINGLE_LINE_KINDS | {"textarea"}
# The most rows a posted table may have: beyond any real form, small enough to draw quickly.
MAX_TABLE_ROWS = 200
# A table row index as posted (`objectives-3-title`): ASCII digits, not too many of them.
_ROW_INDEX = re.compile(r"[0-9]{1,6}")


def _same_value(a: Any, b: Any) -> bool:
    # True == 1 in Python; a yes/no choice must not match a rating of 1.
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def _choice_for_value(choices: tuple[Choice, ...], value: Any) -> Choice | None:
    return next((c for c in choices if _same_value(c.value, value)), None)


class ChoiceField(Field):
    """One value from a fixed list; the posted token maps back to the typed value."""

    def __init__(
        self,
        label: str | None = None,
        validators: Any = None,
        *,
        choices: tuple[Choice, ...] = (),
        **kwargs: Any,
    ):
        super().__init__(label, validators, **kwargs)
        self.choices = choices

    def process_data(self, value: Any) -> None:
        found = _choice_for_value(self.choices, value)
        self.data = found.value if found else None

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist or valuelist[0] == "":
            self.data = None
            return
        found = next((c for c in self.choices if c.token == valuelist[0]), None)
        self.data = found.value if found else None
        if found is None:
            raise ValueError(_("Choose one of the listed options."))

    def selected_tokens(self) -> list[str]:
        """The tokens to show as chosen: what was posted, else the current value."""
        if self.raw_data:
            return [str(v) for v in self.raw_data]
        found = _choice_for_value(self.choices, self.data)
        return [found.token] if found else []


class MultiChoiceField(ChoiceField):
    """Several values from a fixed list (checkboxes or a multiple select)."""

    def process_data(self, value: Any) -> None:
        values = value if isinstance(value, list | tuple) else []
        self.data = [c.value for c in self.choices if any(_same_value(c.value, v) for v in values)]

    def process_formdata(self, valuelist: list[str]) -> None:
        tokens = set(valuelist)
        self.data = [c.value for c in self.choices if c.token in tokens]
        if tokens - {c.token for c in self.choices}:
            raise ValueError(_("Choose only from the listed options."))

    def selected_tokens(self) -> list[str]:
        """The tokens to show as chosen: what was posted, else the current values."""
        if self.raw_data is not None:
            return [str(v) for v in self.raw_data]
        current = self.data or ()
        return [c.token for c in self.choices if any(_same_value(c.value, v) for v in current)]


class SignatureForm(Form):
    """The inputs of an acknowledgement signature; who signed and when come from the server."""

    acknowledged = BooleanField("I acknowledge")
    name = StringField("Full name")
    comment = TextAreaField("Comment")


class _TextRules:
    """Length and pattern with messages a reviewer understands (JSON Schema semantics)."""

    def __init__(self, node: FieldNode):
        self.node = node
        self.pattern = re.compile(node.pattern) if node.pattern else None

    def __call__(self, form: Form, field: Field) -> None:
        text = field.data or ""
        node = self.node
        control = first_control_character(text, multiline=node.kind == "textarea")
        if control is not None:
            raise ValidationError(control_character_message(control))
        if node.min_length is not None and len(text) < node.min_length:
            raise ValidationError(_("Use at least %(count)s characters.", count=node.min_length))
        if node.max_length is not None and len(text) > node.max_length:
            raise ValidationError(_("Use at most %(count)s characters.", count=node.max_length))
        # JSON Schema patterns match anywhere unless anchored, hence search().
        if self.pattern and not self.pattern.search(text):
            raise ValidationError(
                str(
                    node.options.get("patternMessage")
                    or _("This does not have the expected form.")
                )
            )
        if node.kind == "email" and not _EMAIL.match(text):
            raise ValidationError(_("Enter an email address like name@example.com."))


def format_number(value: Any) -> str:
    """90 rather than 90.0 or Decimal('90'): numbers as people write them."""
    if isinstance(value, Decimal | float) and _finite(value) and value == int(value):
        return str(int(value))
    return str(value)


def format_day(value: dt.date) -> str:
    """A date as the app writes it: "6 Dec 2026"."""
    return f"{value.day} {value:%b %Y}"


def readable_date(value: Any) -> Any:
    """An ISO date or date-time ("2031-05-01"), or a date, as the app writes dates: "1 May
    2031"; anything else (empty, not a date) as it is. Also the templates' `date` filter."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        value = value.date()
    return format_day(value) if isinstance(value, dt.date) else value


def _finite(value: Decimal | float) -> bool:
    return value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)


def range_problem(node: FieldNode, value: Any) -> str | None:
    """What is wrong with a number against the schema's minimum/maximum, or None."""
    low, high = node.minimum, node.maximum
    too_low = low is not None and value < low
    too_high = high is not None and value > high
    if too_low or too_high:
        if low is not None and high is not None:
            return _(
                "Enter a number from %(low)s to %(high)s.",
                low=format_number(low), high=format_number(high),
            )
        if too_low:
            return _("Enter a number of at least %(low)s.", low=format_number(low))
        return _("Enter a number of at most %(high)s.", high=format_number(high))
    if node.exclusive_minimum is not None and value <= node.exclusive_minimum:
        return _(
            "Enter a number greater than %(low)s.", low=format_number(node.exclusive_minimum)
        )
    if node.exclusive_maximum is not None and value >= node.exclusive_maximum:
        return _(
            "Enter a number less than %(high)s.", high=format_number(node.exclusive_maximum)
        )
    return None


class _Range:
    def __init__(self, node: FieldNode):
        self.node = node

    def __call__(self, form: Form, field: Field) -> None:
        value = field.data
        if value is None or isinstance(value, bool) or not isinstance(value, int | Decimal):
            return
        problem = range_problem(self.node, value)
        if problem:
            raise ValidationError(problem)


def parse_number(text: str, node: FieldNode) -> int | Decimal:
    """A typed number as the value to store (int for an integer field), or ValueError with the
    message to show: not a number, outside the schema's range, or not storable (docs/forms.md)."""
    whole = node.kind == "integer"
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        raise ValueError(_not_a_number(whole)) from None
    if value.is_nan():
        raise ValueError(_not_a_number(whole))
    problem = range_problem(node, value)
    if problem:
        raise ValueError(problem)
    if not storable_number(value):
        if value.is_infinite() or abs(value) >= 1:
            raise ValueError(
                _("This number is too large to store; use at most 15 digits.")
                if whole
                else _(
                    "This number is too large to store; use at most 15 digits before the "
                    "decimal point."
                )
            )
        raise ValueError(
            _("This number is too close to zero to store; use fewer decimal places.")
        )
    if whole:
        if value != value.to_integral_value():
            raise ValueError(_("Enter a whole number, such as 42."))
        return int(value)
    return value


def _not_a_number(whole: bool) -> str:
    return (
        _("Enter a whole number, such as 42.") if whole else _("Enter a number, such as 42 or 3.5.")
    )


class NumberField(DecimalField):
    """An integer or number input: what was typed is kept (for the form to show it again), the
    value is a storable int or Decimal, anything else a field error that says why."""

    def __init__(self, label: str | None = None, validators: Any = None, *, node: FieldNode,
                 **kwargs: Any):
        super().__init__(label, validators, places=None, **kwargs)
        self.node = node

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return
        self.data = None
        text = str(valuelist[0])
        if text.strip():
            self.data = parse_number(text, self.node)


def row_limit(node: FieldNode) -> int:
    """The most rows a table takes: its maxItems, and never more than MAX_TABLE_ROWS."""
    if node.max_items is None:
        return MAX_TABLE_ROWS
    return min(node.max_items, MAX_TABLE_ROWS)


class TableField(FieldList):
    """An editable table: rows as posted (`<table>-<index>-<column>`), at most MAX_TABLE_ROWS
    of them kept; `posted_rows` says how many were posted."""

    posted_rows = 0

    def process(self, formdata: Any, data: Any = unset_value, extra_filters: Any = None) -> None:
        """Take the rows from the posted form (or the task data); count what was posted."""
        self.posted_rows = len(set(self._extract_indices(self.name, formdata))) if formdata else 0
        super().process(formdata, data, extra_filters)

    def _extract_indices(self, prefix: str, formdata: Any) -> Iterator[int]:
        # WTForms takes any str.isdigit() text ("²", or thousands of digits) for an index and
        # then fails to int() it; only plain row numbers are rows.
        offset = len(prefix) + 1
        for key in formdata:
            if key.startswith(prefix):
                index = key[offset:].split(self._field_separator, 1)[0]
                if _ROW_INDEX.fullmatch(index):
                    yield int(index)


def _line_breaks_as_spaces(value: Any) -> Any:
    # A one-line text drawn in a growing box: Enter there is not a new paragraph.
    if not isinstance(value, str):
        return value
    return " ".join(value.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


def _person_key(value: Any) -> Any:
    # A key pasted with a space around it is still that person's key.
    return value.strip() if isinstance(value, str) else value


def _field(node: FieldNode) -> Any:
    label = node.label
    default = field_value(node, node.default)
    kind = node.kind
    if kind == "text" and node.autogrow:
        return StringField(
            label, [_TextRules(node)], default=default, filters=[_line_breaks_as_spaces]
        )
    if kind in ("text", "email", "hidden", "password"):
        return StringField(label, [_TextRules(node)], default=default)
    if kind == "person":
        return StringField(label, [_TextRules(node)], default=default, filters=[_person_key])
    if kind == "textarea":
        return TextAreaField(label, [_TextRules(node)], default=default)
    if kind in ("integer", "number"):
        return NumberField(label, [_Range(node)], node=node, default=default)
    if kind == "date":
        return DateField(label, format="%Y-%m-%d", default=default)
    if kind == "datetime":
        return DateTimeLocalField(label, format=DATETIME_FORMATS, default=default)
    if kind == "checkbox":
        return BooleanField(label, default=default)
    if kind in ("select", "radio", "rating"):
        return ChoiceField(label, choices=node.choices, default=default)
    if kind in ("multiselect", "checkboxes"):
        return MultiChoiceField(label, choices=node.choices, default=default or [])
    if kind == "signature":
        return FormField(SignatureForm, label)
    if kind == "object":
        return FormField(build_form_class(node), label)
    if kind == "table":
        return TableField(
            FormField(build_form_class(node)),
            label,
            min_entries=node.min_items or 0,
            max_entries=MAX_TABLE_ROWS,
            default=default or (),
        )
    raise AssertionError(f"no field for kind {kind!r}")


def build_form_class(node: FieldNode) -> type[Form]:
    """A WTForms Form class whose fields are the node's children, in order."""
    attributes = {child.name: _field(child) for child in node.children}
    return type(f"{node.name.title().replace('_', '') or 'Task'}Form", (Form,), attributes)


def field_value(node: FieldNode, value: Any) -> Any:
    """A JSON value from the task data as the Python value WTForms expects for this node
    (None for a value the field cannot hold, such as text in a date field)."""
    if value is None:
        return None
    kind = node.kind
    try:
        if kind in ("date", "datetime"):
            if not isinstance(value, str):
                return None
            if kind == "date":
                return dt.date.fromisoformat(value[:10])
            return dt.datetime.fromisoformat(value)
        if kind in ("integer", "number"):
            return _stored_number(kind, value)
    except (ValueError, InvalidOperation):
        return None
    if kind == "object":
        return object_value(node, value)
    if kind == "table":
        rows = value if isinstance(value, list) else []
        return [object_value(node, row) for row in rows if isinstance(row, Mapping)]
    if kind == "signature":
        # A signature is given afresh each time; only the comment is offered again.
        return {"comment": value.get("comment") or ""} if isinstance(value, Mapping) else None
    return value


def _stored_number(kind: str, value: Any) -> int | Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    number = Decimal(str(value).strip())
    if not number.is_finite():
        return None
    if kind == "integer":
        return int(number) if number == number.to_integral_value() else None
    return number


def object_value(node: FieldNode, data: Any) -> dict[str, Any]:
    """Task data for an object node as WTForms `data=` (missing and null keys left out)."""
    if not isinstance(data, Mapping):
        return {}
    prepared = {}
    for child in node.children:
        converted = field_value(child, data.get(child.name))
        if converted is not None:
            prepared[child.name] = converted
    return prepared


def json_value(node: FieldNode, field: Field) -> Any:
    """The typed JSON value of a processed leaf field."""
    kind, data = node.kind, field.data
    if kind in TEXT_KINDS:
        text = data if isinstance(data, str) else ""
        # A single-line field holding only spaces or tabs is empty.
        return text if kind == "textarea" or text.strip() else ""
    if kind == "checkbox":
        return bool(data)
    if kind in ("multiselect", "checkboxes"):
        return list(data or [])
    if data is None:
        return None
    if kind in ("integer", "number"):
        if isinstance(data, bool) or not isinstance(data, int | Decimal) or not _finite(data):
            return None
        return int(data) if data == int(data) else float(data)
    if kind == "date":
        return data.isoformat()
    if kind == "datetime":
        return data.isoformat(timespec="seconds")
    return data
