"""Build WTForms classes from form nodes, and convert values between JSON and WTForms."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
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
    IntegerField,
    StringField,
    TextAreaField,
)
from wtforms.validators import ValidationError

from forms.catalogs import Choice
from forms.schema import FieldNode

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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
            raise ValueError("Choose one of the listed options.")

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
            raise ValueError("Choose only from the listed options.")

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
        if node.min_length is not None and len(text) < node.min_length:
            raise ValidationError(f"Use at least {node.min_length} characters.")
        if node.max_length is not None and len(text) > node.max_length:
            raise ValidationError(f"Use at most {node.max_length} characters.")
        # JSON Schema patterns match anywhere unless anchored, hence search().
        if self.pattern and not self.pattern.search(text):
            raise ValidationError(
                str(node.options.get("patternMessage") or "This does not have the expected form.")
            )
        if node.kind == "email" and not _EMAIL.match(text):
            raise ValidationError("Enter an email address like name@example.com.")


def format_number(value: Any) -> str:
    """90 rather than 90.0 or Decimal('90'): numbers as people write them."""
    if isinstance(value, Decimal | float) and value == int(value):
        return str(int(value))
    return str(value)


class _Range:
    def __init__(self, node: FieldNode):
        self.node = node

    def __call__(self, form: Form, field: Field) -> None:
        node, value = self.node, field.data
        if value is None:
            return
        low, high = node.minimum, node.maximum
        too_low = low is not None and value < low
        too_high = high is not None and value > high
        if too_low or too_high:
            if low is not None and high is not None:
                raise ValidationError(
                    f"Enter a number from {format_number(low)} to {format_number(high)}."
                )
            if too_low:
                raise ValidationError(f"Enter a number of at least {format_number(low)}.")
            raise ValidationError(f"Enter a number of at most {format_number(high)}.")
        if node.exclusive_minimum is not None and value <= node.exclusive_minimum:
            raise ValidationError(
                f"Enter a number greater than {format_number(node.exclusive_minimum)}."
            )
        if node.exclusive_maximum is not None and value >= node.exclusive_maximum:
            raise ValidationError(
                f"Enter a number less than {format_number(node.exclusive_maximum)}."
            )


def _person_key(value: Any) -> Any:
    # A key pasted with a space around it is still that person's key.
    return value.strip() if isinstance(value, str) else value


def _field(node: FieldNode) -> Any:
    label = node.label
    default = field_value(node, node.default)
    kind = node.kind
    if kind in ("text", "email", "hidden", "password"):
        return StringField(label, [_TextRules(node)], default=default)
    if kind == "person":
        return StringField(label, [_TextRules(node)], default=default, filters=[_person_key])
    if kind == "textarea":
        return TextAreaField(label, [_TextRules(node)], default=default)
    if kind == "integer":
        return IntegerField(label, [_Range(node)], default=default)
    if kind == "number":
        return DecimalField(label, [_Range(node)], places=None, default=default)
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
        return FieldList(
            FormField(build_form_class(node)),
            label,
            min_entries=node.min_items or 0,
            default=default or (),
        )
    raise AssertionError(f"no field for kind {kind!r}")


def build_form_class(node: FieldNode) -> type[Form]:
    """A WTForms Form class whose fields are the node's children, in order."""
    attributes = {child.name: _field(child) for child in node.children}
    return type(f"{node.name.title().replace('_', '') or 'Task'}Form", (Form,), attributes)


def field_value(node: FieldNode, value: Any) -> Any:
    """A JSON value from the task data as the Python value WTForms expects for this node."""
    if value is None:
        return None
    kind = node.kind
    try:
        if kind == "date" and isinstance(value, str):
            return dt.date.fromisoformat(value[:10])
        if kind == "datetime" and isinstance(value, str):
            return dt.datetime.fromisoformat(value)
        if kind == "number" and not isinstance(value, bool):
            return Decimal(str(value))
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
    if kind in ("text", "email", "hidden", "password", "textarea", "person"):
        return data or ""
    if kind == "checkbox":
        return bool(data)
    if kind in ("multiselect", "checkboxes"):
        return list(data or [])
    if data is None:
        return None
    if kind == "number":
        return int(data) if data == int(data) else float(data)
    if kind == "date":
        return data.isoformat()
    if kind == "datetime":
        return data.isoformat(timespec="seconds")
    return data
