"""Draw a bound form as Pico-friendly semantic HTML with htmx live validation."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from wtforms.fields import Field

from forms import i18n
from forms.bound import ACTION_KEY, FIELD_KEY, BoundForm, FormButton
from forms.fields import format_number, readable_date, row_limit
from forms.i18n import gettext as _
from forms.schema import FieldNode

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
TEXT_INPUT_TYPES = {
    "text": "text",
    "email": "email",
    "password": "password",
    "date": "date",
    "datetime": "datetime-local",
    # Numbers are text boxes with a numeric keyboard: a number box's spinner sits where people
    # click to type, and a click on it changes the value (forms.text keeps the parsing strict).
    "integer": "text",
    "number": "text",
}
# What a browser lets through before the server's own check: a plain decimal number.
NUMBER_PATTERN = r"\s*[+\-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+\-]?[0-9]+)?\s*"
# The separator between a rating's figure and its label: "4 — Exceeds expectations".
RATING_SEPARATOR = " — "
TYPING_TRIGGER = "input changed delay:400ms, change"
# Kinds checked while the person types (the others when they change).
TYPED_KINDS = {"text", "email", "password", "textarea", "integer", "number", "person"}
# A person picker asks for suggestions while a name is typed, and is checked only once a
# suggestion is picked (forms.js fires sl-picked) or the value is left: a half-typed name is
# nobody's key yet, and saying so would be noise.
SEARCH_TRIGGER = "input changed delay:250ms from:#{id}"
PICKER_TRIGGER = "change, sl-picked"


def html_attributes(attributes: Mapping[str, Any]) -> Markup:
    """`{"required": True, "id": "x"}` -> `required id="x"`; None and False are left out."""
    parts = []
    for key, value in attributes.items():
        if value is None or value is False:
            continue
        if value is True:
            parts.append(escape(key))
        else:
            parts.append(Markup('{}="{}"').format(key, value))
    return Markup(" ").join(parts)


_env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.i18n"],
)
_env.filters["attrs"] = html_attributes
# The chrome speaks the reader's language (forms.i18n: set per request, never global).
# Jinja fills the %(name)s slots itself (escaping them), so the callables only translate.
_env.install_gettext_callables(  # type: ignore[attr-defined]
    lambda message: i18n.translations().gettext(message),
    lambda singular, plural, n: i18n.translations().ngettext(singular, plural, n),
    newstyle=True,
)
_env.globals["Markup"] = Markup


class FormView:
    """What the template asks of a bound form: values, errors and input attributes."""

    def __init__(
        self, bound: BoundForm, validate_url: str | None, person_search_url: str | None = None
    ):
        self.bound = bound
        self.validate_url = validate_url
        self.person_search_url = person_search_url
        self.root = bound.spec.root
        self.form = bound.form
        self.action_key = ACTION_KEY

    def errors(self, field: Field) -> list[str]:
        """Messages for this field from the last validate()."""
        return self.bound.field_errors.get(field.name, [])

    def value(self, field: Field) -> str:
        """What the input shows: exactly what was typed, else the stored value."""
        if field.raw_data:
            return str(field.raw_data[0])
        return str(field._value()) if field.data is not None else ""

    def selected(self, field: Field) -> list[str]:
        """Tokens of the chosen options."""
        return list(field.selected_tokens())

    def markers(self, node: FieldNode, token: str) -> list[str]:
        """The badges a rating shows on this level, e.g. ["Self-rating"]."""
        return [label for marked, label in node.markers if marked == token]

    def display(self, node: FieldNode, field: Field) -> str:
        """A read-only value as text: a choice's label (a rating's with its figure), a date as
        the app writes it, a number as written, "—" for none."""
        if node.choices:
            labels = {choice.token: self.choice_label(node, choice) for choice in node.choices}
            chosen = [labels.get(token, token) for token in self.selected(field)]
            return ", ".join(chosen) or "—"
        if node.kind in ("date", "datetime") and isinstance(field.data, dt.date):
            return self.day(field.data)
        return self.value(field) or "—"

    @staticmethod
    def choice_label(node: FieldNode, choice: Any) -> str:
        """How a chosen option reads: its label, and a rating level's figure before it."""
        if node.is_rating and choice.token != choice.label:
            return f"{choice.token}{RATING_SEPARATOR}{choice.label}"
        return str(choice.label)

    @staticmethod
    def day(value: Any) -> str:
        """A date (or the day of a date-time, or its ISO text) as the app writes it, e.g.
        "6 Dec 2026"; text that is not a date is shown as it is."""
        shown = readable_date(value)
        return "" if shown is None else str(shown)

    def marker_levels(self, node: FieldNode) -> list[tuple[str, str]]:
        """A rating's markers as (marker label, level as it reads), e.g. ("Self-rating",
        "3 — Meets expectations")."""
        levels = {choice.token: self.choice_label(node, choice) for choice in node.choices}
        return [(label, levels.get(token, token)) for token, label in node.markers]

    def chosen_choice(self, node: FieldNode, field: Field) -> Any:
        """The chosen option of a choice field, or None."""
        tokens = self.selected(field)
        return next((c for c in node.choices if tokens and c.token == tokens[0]), None)

    def kept_values(self, node: FieldNode, field: Field) -> list[str]:
        """What a read-only cell posts back (only so the row keeps its place)."""
        return self.selected(field) if node.choices else [self.value(field)]

    def has_note(self, node: FieldNode) -> bool:
        """Whether the field shows a description or help text."""
        return bool(node.description or node.help)

    def described_by(self, node: FieldNode, field: Field, *, in_table: bool = False) -> str | None:
        """ids of the help text and the error message, for aria-describedby."""
        ids = []
        if self.has_note(node) and not in_table:
            ids.append(f"{field.id}-help")
        if self.shows_person(node):
            ids.append(f"{field.id}-person")
        if self.errors(field):
            ids.append(f"{field.id}-error")
        return " ".join(ids) or None

    def live(self, field: Field, target: Field, trigger: str) -> dict[str, Any]:
        """htmx attributes that re-validate `field` and swap `target`'s wrapper."""
        if not self.validate_url:
            return {}
        return {
            "hx-post": self.validate_url,
            "hx-trigger": trigger,
            "hx-target": f"#field-{target.id}",
            "hx-swap": "outerHTML",
            "hx-include": "closest form",
            "hx-vals": json.dumps({FIELD_KEY: field.name}),
        }

    def input_attrs(
        self,
        node: FieldNode,
        field: Field,
        *,
        target: Field | None = None,
        label: str | None = None,
        option: int | None = None,
    ) -> dict[str, Any]:
        """The attributes of the input (or select/textarea) for a leaf field."""
        kind = node.kind
        choice_like = kind in ("checkbox", "radio", "checkboxes", "rating", "select", "multiselect")
        attrs: dict[str, Any] = {
            "id": field.id if option is None else f"{field.id}-{option}",
            "name": field.name,
            # Ticking one checkbox of a group must not be demanded for every box.
            "required": node.required and not node.readonly and kind != "checkboxes",
            "aria-invalid": "true" if self.errors(field) else None,
            "aria-describedby": self.described_by(node, field, in_table=label is not None),
            "aria-label": label,
            "autofocus": node.autofocus,
        }
        if node.readonly:
            attrs["disabled" if choice_like else "readonly"] = True
        if kind in ("text", "email", "password", "textarea", "person"):
            attrs["placeholder"] = node.placeholder or None
            attrs["minlength"] = node.min_length
            attrs["maxlength"] = node.max_length
        if kind in ("integer", "number"):
            attrs["placeholder"] = node.placeholder or None
            attrs["class"] = "sl-number"
            attrs["inputmode"] = "decimal"
            attrs["pattern"] = NUMBER_PATTERN
            attrs["autocomplete"] = "off"
            attrs["title"] = (
                _("Enter a whole number, such as 42.")
                if kind == "integer"
                else _("Enter a number, such as 42 or 3.5.")
            )
        if kind == "textarea":
            attrs["rows"] = node.options.get("rows", 2 if label else 4)
        if node.autogrow and not node.readonly:
            attrs["data-sl-autogrow"] = True
        if kind == "text" and node.autogrow:
            # One line of text that wraps as it grows; Enter does not start a new line.
            attrs["rows"] = node.options.get("rows", _rows_for(self.value(field)))
            attrs["data-sl-one-line"] = True
        if kind == "date" and not node.readonly:
            earliest, latest = self.bound.date_range(node)
            attrs["min"] = earliest.isoformat() if earliest else None
            attrs["max"] = latest.isoformat() if latest else None
        if node.suggestions and not node.readonly:
            attrs["list"] = f"{field.id}-options"
        picker = kind == "person" and self.offers_people(node)
        if picker:
            # The browser's own history of typed values would crowd out the directory's.
            attrs["list"] = f"{field.id}-people"
            attrs["autocomplete"] = "off"
            attrs["data-sl-picker"] = True
        if not node.readonly:
            trigger = TYPING_TRIGGER if kind in TYPED_KINDS else "change"
            attrs.update(self.live(field, target or field, PICKER_TRIGGER if picker else trigger))
        return attrs

    @staticmethod
    def is_wide(node: FieldNode) -> bool:
        """Whether a table column holds longer text (200 characters or more, or a textarea)
        and so asks for more of the table's width than the other text columns."""
        return node.autogrow and (node.kind == "textarea" or (node.max_length or 0) >= 200)

    def offers_people(self, node: FieldNode) -> bool:
        """Whether a person field suggests people as the user types."""
        return bool(self.person_search_url) and not node.readonly

    def people_search(self, field: Field) -> dict[str, Any]:
        """htmx attributes of a person field's <datalist>: GET the suggestions into it.

        The request carries the input under its own name and `field` naming it.
        """
        return {
            "id": f"{field.id}-people",
            "hx-get": self.person_search_url,
            "hx-trigger": SEARCH_TRIGGER.format(id=field.id),
            "hx-include": f"#{field.id}",
            "hx-vals": json.dumps({"field": field.name}),
            "hx-target": "this",
            "hx-swap": "innerHTML",
            "hx-sync": "this:replace",
        }

    def shows_person(self, node: FieldNode) -> bool:
        """Whether a person field names the chosen person under the input."""
        return node.kind == "person" and self.bound.person_lookup is not None

    def person_choices(self, field: Field) -> list[tuple[str, str]]:
        """The people to choose from when what was typed names several (key, label)."""
        return self.bound.person_choices.get(field.name, [])

    def pick_button(self, field: Field, target: Field, key: str) -> dict[str, Any]:
        """A button that puts this person's key in the field (a plain submit without htmx)."""
        attrs: dict[str, Any] = {"name": ACTION_KEY, "value": f"pick:{field.name}:{key}"}
        if self.validate_url:
            attrs.update({
                "hx-post": self.validate_url,
                "hx-target": f"#field-{target.id}",
                "hx-swap": "outerHTML",
                "hx-include": "closest form",
            })
        return attrs

    def person_label(self, field: Field) -> str:
        """The chosen person as the directory shows them, or "" for no one."""
        return self.bound.person_label(field) or ""

    def input_type(self, node: FieldNode) -> str:
        """The HTML input type for a text-like leaf."""
        return TEXT_INPUT_TYPES.get(node.kind, "text")

    def entries(self, field: Field) -> list[tuple[int, Field]]:
        """The rows of a table."""
        return list(enumerate(field.entries))

    def can_add(self, node: FieldNode, field: Field) -> bool:
        """Whether the table offers an Add row button."""
        if node.readonly or node.options.get("addable") is False:
            return False
        return len(field.entries) < row_limit(node)

    def can_remove(self, node: FieldNode) -> bool:
        """Whether table rows offer a Remove button."""
        return not node.readonly and node.options.get("removable") is not False

    def row_button(self, table: Field) -> dict[str, Any]:
        """htmx attributes for Add/Remove row buttons (they also work as plain submits)."""
        if not self.validate_url:
            return {}
        return {
            "hx-post": self.validate_url,
            "hx-target": f"#field-{table.id}",
            "hx-swap": "outerHTML",
            "hx-include": "closest form",
        }

    def total(self, node: FieldNode, field: Field) -> str:
        """The current sum of the table's x-total column."""
        return format_number(self.bound.column_total(node, field))

    def total_target(self, node: FieldNode) -> str:
        """What the total must be, in words, e.g. '= 100' or '≥ 10'."""
        rule = node.total
        assert rule is not None
        if rule.equals is not None:
            return f"of {format_number(rule.equals)}"
        bounds = []
        if rule.minimum is not None:
            bounds.append(f"at least {format_number(rule.minimum)}")
        if rule.maximum is not None:
            bounds.append(f"at most {format_number(rule.maximum)}")
        return "(" + ", ".join(bounds) + ")"

    def column_index(self, node: FieldNode) -> int:
        """Position of the x-total column in the table."""
        assert node.total is not None
        return [c.name for c in node.children].index(node.total.column)

    def any_required(self) -> bool:
        """Whether any editable field carries a required marker."""

        def walk(node: FieldNode) -> bool:
            return any((c.required and not c.readonly) or walk(c) for c in node.children)

        return walk(self.root)


def _rows_for(text: str) -> int:
    """Lines a wrapping one-line box starts with, before forms.js fits it to its text (and
    without JavaScript): about 30 characters a line in a table cell, at most 4."""
    return max(1, min(4, -(-len(text) // 30)))


def _macros(view: FormView) -> Any:
    return _env.get_template("sightline_form.html").make_module({"view": view})


def render_form(
    bound: BoundForm,
    *,
    action: str,
    validate_url: str | None,
    person_search_url: str | None,
    csrf_token: str,
    submit_label: str,
    extra_buttons: Sequence[FormButton],
    form_attrs: Mapping[str, str],
) -> Markup:
    """The whole <form> for a bound task form."""
    view = FormView(bound, validate_url, person_search_url)
    buttons = [FormButton(submit_label), *extra_buttons]
    return Markup(_macros(view).form(action, csrf_token, buttons, html_attributes(form_attrs)))


def render_block(
    bound: BoundForm, name: str, *, validate_url: str | None, person_search_url: str | None
) -> Markup:
    """One field's wrapper (for a table cell, the whole table) by HTML name."""
    found = bound.locate(name)
    node, field = found.table if found.table else (found.node, found.field)
    view = FormView(bound, validate_url, person_search_url)
    return Markup(_macros(view).block(node, field))


class HtmlForm(BoundForm):
    """A bound form that draws itself: what `FormSpec.bind` returns."""

    def render(
        self,
        *,
        action: str,
        validate_url: str | None = None,
        person_search_url: str | None = None,
        csrf_token: str = "",
        submit_label: str = "Submit",
        extra_buttons: tuple[FormButton, ...] | list[FormButton] = (),
        form_attrs: Mapping[str, str] | None = None,
    ) -> Markup:
        """The whole <form>: error summary, fields with inline errors, buttons."""
        return render_form(
            self,
            action=action,
            validate_url=validate_url,
            person_search_url=person_search_url,
            csrf_token=csrf_token,
            submit_label=submit_label,
            extra_buttons=extra_buttons,
            form_attrs=form_attrs or {},
        )

    def render_field(
        self,
        name: str,
        *,
        validate_url: str | None = None,
        person_search_url: str | None = None,
    ) -> Markup:
        """One field's wrapper with its errors (a table cell gives the whole table)."""
        return render_block(
            self, name, validate_url=validate_url, person_search_url=person_search_url
        )
