"""A form bound to one request: posted values, task data, validation, typed output."""

from __future__ import annotations

import copy
import datetime as dt
import math
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

from wtforms import Form
from wtforms.fields import Field

from forms.catalogs import choice_token
from forms.fields import TEXT_KINDS, format_day, format_number, json_value, row_limit
from forms.i18n import gettext as _
from forms.schema import Condition, FieldNode
from forms.text import control_character_message, first_control_character

if TYPE_CHECKING:
    from forms.spec import FormSpec

ACTION_KEY = "_form_action"
FIELD_KEY = "_field"
MULTI_KINDS = ("multiselect", "checkboxes")
# Kinds drawn as a group of radios or checkboxes (outside tables): no input has the field's id,
# so the error summary links to the first option.
GROUP_KINDS = ("radio", "checkboxes", "rating")
# "Today" differs across time zones: a date is implausible only where it is so everywhere
# (UTC-12 to UTC+14), so nobody's own today is refused.
_EARLIEST_ZONE = dt.timedelta(hours=-12)
_LATEST_ZONE = dt.timedelta(hours=14)

# A person field's key (employee id) -> how the directory shows that person, or None.
PersonLookup = Callable[[str], str | None]
# The most people a person field offers to choose from when a typed name is ambiguous.
MAX_PERSON_CHOICES = 10


@runtime_checkable
class PersonDirectory(Protocol):
    """A person lookup that also understands typed names (pass it as `person_lookup`).

    Called with a key it names the person as PersonLookup does; `resolve` turns what was typed
    (a full name, an email) into the one key it names, else None; `find` lists the people
    whose name, key or email contains the text, as (key, label) pairs.
    """

    def __call__(self, key: str) -> str | None:
        """How the directory shows the person with this key, or None."""

    def resolve(self, text: str) -> str | None:
        """The key of the one person `text` names exactly (name or email), else None."""

    def find(self, text: str) -> list[tuple[str, str]]:
        """People whose name, key or email contains `text`: (key, label) pairs."""


@dataclass(frozen=True)
class FormButton:
    """A submit button; its name/value tell the web app which one was pressed."""

    label: str
    value: str = "submit"
    name: str = "_submit"
    secondary: bool = False
    novalidate: bool = False


class FieldError(NamedTuple):
    """One problem for the error summary: where (a readable path) and what."""

    label: str
    message: str


class Located(NamedTuple):
    """A field found by its HTML name, with the table it sits in (if any)."""

    node: FieldNode
    field: Field
    table: tuple[FieldNode, Field] | None


def signer_name_matches(typed: str, expected: str) -> bool:
    """Compare names ignoring case, accents' encoding and extra spaces."""

    def canonical(name: str) -> str:
        return " ".join(unicodedata.normalize("NFKC", name).split()).casefold()

    return bool(typed.strip()) and canonical(typed) == canonical(expected)


def _choice_words(node: FieldNode, value: Any) -> str:
    if node.kind == "checkbox":
        return "ticked" if value else "not ticked"
    for choice in node.choices:
        if choice.token == choice_token(value):
            return f"“{choice.label}”"
    return f"“{value}”"


def _matches(condition: Condition, values: Mapping[str, Any]) -> bool:
    for name, allowed in condition.when:
        value = values.get(name)
        if value is None or not any(
            value == a and isinstance(value, bool) == isinstance(a, bool) for a in allowed
        ):
            return False
    return True


class BoundForm:
    """The task form for one request; see FormSpec.bind()."""

    def __init__(
        self,
        spec: FormSpec,
        form: Form,
        data: Mapping[str, Any],
        formdata: Any,
        signer: Mapping[str, Any] | None,
        now: dt.datetime | None,
        person_lookup: PersonLookup | None = None,
    ):
        self.spec = spec
        self.form = form
        self.data = dict(data)
        self.formdata = formdata
        self.signer = signer
        self.now = now or dt.datetime.now(dt.UTC)
        self.person_lookup = person_lookup
        self.field_errors: dict[str, list[str]] = {}
        self._problems: list[tuple[str, str, str]] = []
        # A person field whose typed name fits several people: (key, label) to choose from.
        self.person_choices: dict[str, list[tuple[str, str]]] = {}

    # -- finding fields ---------------------------------------------------------------------

    def _walk(
        self, node: FieldNode, fields: Any, table: tuple[FieldNode, Field] | None = None
    ) -> Iterator[Located]:
        for child in node.children:
            field = fields[child.name]
            yield Located(child, field, table)
            if child.kind == "object":
                yield from self._walk(child, field.form, table)
            elif child.kind == "table":
                for entry in field.entries:
                    yield from self._walk(child, entry.form, (child, field))

    def locate(self, name: str) -> Located:
        """The field whose HTML name is `name` (a signature's inputs find the signature)."""
        for found in self._walk(self.spec.root, self.form):
            if found.field.name == name:
                return found
            if found.node.kind == "signature" and name.startswith(found.field.name + "-"):
                return found
        raise KeyError(name)

    # -- validation ---------------------------------------------------------------------------

    def validate(self) -> bool:
        """Check every field and rule; afterwards `errors` lists what is wrong."""
        self.field_errors = {}
        self._problems = []
        self.person_choices = {}
        self._check_object(self.spec.root, self.form, "")
        return not self._problems

    @property
    def errors(self) -> list[FieldError]:
        """Every problem, in form order, as (field path label, message)."""
        return [FieldError(label, message) for label, message, _ in self._problems]

    @property
    def error_links(self) -> list[tuple[str, str, str]]:
        """Every problem as (label, message, id of the input to jump to)."""
        return list(self._problems)

    def _complain(self, field: Field, label: str, message: str, anchor: str | None = None) -> None:
        self.field_errors.setdefault(field.name, []).append(message)
        self._problems.append((label, message, anchor or field.id))

    def _check_object(
        self, node: FieldNode, fields: Any, prefix: str, in_table: bool = False
    ) -> None:
        values = {
            child.name: json_value(child, fields[child.name])
            for child in node.children
            if not child.is_container and child.kind != "signature"
        }
        because: dict[str, str] = {}
        for condition in node.conditions:
            matched = _matches(condition, values)
            for name in condition.then_required if matched else condition.else_required:
                if matched:
                    because[name] = " and ".join(
                        f"{node.child(n).label} is "
                        + " or ".join(_choice_words(node.child(n), a) for a in allowed)
                        for n, allowed in condition.when
                    )
                else:
                    because[name] = ""
        for child in node.children:
            field = fields[child.name]
            label = prefix + child.label
            # A group of options has no input with the field's own id: link to the first one.
            anchor = f"{field.id}-0" if child.kind in GROUP_KINDS and not in_table else None
            if child.readonly:
                continue
            if child.kind == "object":
                self._check_object(child, field.form, f"{label} › ")
            elif child.kind == "table":
                self._check_table(child, field, label, child.required or child.name in because)
            elif child.kind == "signature":
                self._check_signature(child, field, label, child.required)
            elif self._is_blank(child, field):
                if child.required:
                    self._complain(field, label, _("Required."), anchor)
                elif child.name in because:
                    reason = because[child.name]
                    self._complain(
                        field,
                        label,
                        _("Required when %(reason)s.", reason=reason) if reason else _("Required."),
                        anchor,
                    )
            elif not field.validate(self.form):
                for message in field.errors:
                    self._complain(field, label, str(message), anchor)
            elif child.kind == "person" and self.person_lookup and not self.person_label(field):
                self._check_person_name(field, label)
            elif (problem := self.date_problem(child, field.data)) is not None:
                self._complain(field, label, problem)

    def _check_person_name(self, field: Field, label: str) -> None:
        """A person field holding something other than a key: a name or email that names one
        person becomes their key; several people give a choice; nobody, an error."""
        typed = str(field.data)
        directory = self.person_lookup
        if not isinstance(directory, PersonDirectory):
            self._complain(
                field, label,
                _("No one in the directory has the employee ID '%(typed)s'.", typed=typed),
            )
            return
        key = directory.resolve(typed)
        if key is not None and directory(key):
            field.data = key
            return
        found = directory.find(typed)[:MAX_PERSON_CHOICES]
        if not found:
            self._complain(
                field, label,
                _("No one in the directory has the name or employee ID '%(typed)s'.", typed=typed),
            )
            return
        self.person_choices[field.name] = found
        if len(found) == 1:
            message = _(
                "“%(typed)s” is not a full name: choose %(name)s below if you mean them.",
                typed=typed, name=found[0][1],
            )
        else:
            message = _(
                "%(count)s people match “%(typed)s”: choose one below.",
                count=len(found), typed=typed,
            )
        self._complain(field, label, message)

    def date_range(self, node: FieldNode) -> tuple[dt.date | None, dt.date | None]:
        """The earliest and latest plausible day of a date field (None: no bound), as of the
        `now` the form was bound with."""
        now = self.now if self.now.tzinfo else self.now.replace(tzinfo=dt.UTC)
        now = now.astimezone(dt.UTC)
        earliest = latest = None
        if node.not_before is not None:
            earliest = node.not_before.day((now + _EARLIEST_ZONE).date())
        if node.not_after is not None:
            latest = node.not_after.day((now + _LATEST_ZONE).date())
        return earliest, latest

    def date_problem(self, node: FieldNode, value: Any) -> str | None:
        """Why a date is implausible for this field (`notBefore` / `notAfter`), or None."""
        if node.kind not in ("date", "datetime") or not isinstance(value, dt.date):
            return None
        day = value.date() if isinstance(value, dt.datetime) else value
        earliest, latest = self.date_range(node)
        message = node.options.get("dateMessage")
        if earliest is not None and day < earliest:
            assert node.not_before is not None
            if message:
                return str(message)
            if node.not_before.is_today:
                return _("This date is in the past: enter today or a later date.")
            return _("Enter a date on or after %(day)s.", day=format_day(earliest))
        if latest is not None and day > latest:
            assert node.not_after is not None
            if message:
                return str(message)
            if node.not_after.is_today:
                return _("This date is in the future: enter today or an earlier date.")
            return _("Enter a date on or before %(day)s.", day=format_day(latest))
        return None

    def person_label(self, field: Field) -> str | None:
        """How the directory shows the person whose key a person field holds (None: no one)."""
        if self.person_lookup is None or not field.data:
            return None
        return self.person_lookup(field.data)

    @staticmethod
    def _is_blank(node: FieldNode, field: Field) -> bool:
        if node.kind == "checkbox":
            return not field.data
        if node.kind in MULTI_KINDS:
            return not field.data and not field.raw_data
        if field.raw_data:
            # Control characters count as whitespace to str.strip(); they are not blank, they
            # are an error (forms.text).
            return all(
                not str(value).strip() and first_control_character(str(value)) is None
                for value in field.raw_data
            )
        if node.kind in TEXT_KINDS and isinstance(field.data, str):
            return not field.data.strip() and first_control_character(field.data) is None
        return field.data is None or (isinstance(field.data, str) and not field.data.strip())

    def _check_table(self, node: FieldNode, field: Field, label: str, required: bool) -> None:
        for index, entry in enumerate(field.entries):
            self._check_object(node, entry.form, f"{label} › row {index + 1} › ", in_table=True)
        count = len(field.entries)
        anchor = f"{field.id}-add"
        if node.min_items and count < node.min_items:
            self._complain(
                field,
                label,
                _(
                    "Add at least %(least)s rows; there are %(count)s.",
                    least=node.min_items, count=count,
                ),
                anchor,
            )
        elif required and count == 0:
            self._complain(field, label, _("Add at least one row."), anchor)
        posted = max(count, getattr(field, "posted_rows", 0))
        if posted > row_limit(node):
            self._complain(
                field, label, _(
                    "Keep at most %(most)s rows; there are %(count)s.",
                    most=row_limit(node), count=posted,
                ), anchor
            )
        rule = node.total
        if rule is None or count == 0:
            return
        total = self.column_total(node, field)
        shown = format_number(total)
        if rule.equals is not None and total != rule.equals:
            message = f"{rule.label} must total {format_number(rule.equals)}; they total {shown}."
        elif rule.minimum is not None and total < rule.minimum:
            message = (
                f"{rule.label} must total at least {format_number(rule.minimum)}; "
                f"they total {shown}."
            )
        elif rule.maximum is not None and total > rule.maximum:
            message = (
                f"{rule.label} must total at most {format_number(rule.maximum)}; "
                f"they total {shown}."
            )
        else:
            return
        if rule.message:
            message = f"{rule.message} They total {shown}."
        self._complain(field, label, message, f"{field.id}-total")

    @staticmethod
    def column_total(node: FieldNode, field: Field) -> float:
        """The sum of the table's x-total column over its rows (blank or invalid cells skipped)."""
        assert node.total is not None
        column = node.child(node.total.column)
        values = (json_value(column, entry.form[column.name]) for entry in field.entries)
        total = sum(v for v in values if isinstance(v, int | float))
        return int(total) if math.isfinite(total) and total == int(total) else total

    def _check_signature(self, node: FieldNode, field: Field, label: str, required: bool) -> None:
        parts = field.form
        ticked = bool(parts.acknowledged.data)
        typed = (parts["name"].data or "").strip()
        if not ticked and not typed:
            if required:
                self._complain(
                    field,
                    label,
                    _("Tick the box and type your full name to sign."),
                    parts.acknowledged.id,
                )
            return
        if not ticked:
            self._complain(field, label, _("Tick the box to confirm."), parts.acknowledged.id)
        for part, multiline in ((parts["name"], False), (parts.comment, True)):
            control = first_control_character(part.data or "", multiline=multiline)
            if control is not None:
                self._complain(field, label, control_character_message(control), part.id)
                return
        if not typed:
            self._complain(field, label, _("Type your full name to sign."), parts["name"].id)
        elif self.signer is None:
            self._complain(field, label, _("Only a signed-in person can sign."), parts["name"].id)
        elif not signer_name_matches(typed, str(self.signer.get("name", ""))):
            self._complain(
                field,
                label,
                _("The name does not match yours; type “%(name)s”.", name=self.signer.get("name")),
                parts["name"].id,
            )

    # -- output ---------------------------------------------------------------------------------

    def to_data(self) -> dict[str, Any]:
        """The submitted values, typed per the schema, for every property the schema defines."""
        return self._object_data(self.spec.root, self.form, self.data)

    def _object_data(self, node: FieldNode, fields: Any, raw: Any) -> dict[str, Any]:
        raw = raw if isinstance(raw, Mapping) else {}
        result: dict[str, Any] = {}
        for child in node.children:
            field = fields[child.name]
            value = raw.get(child.name)
            if child.readonly:
                # Read-only values come from the task data, never from the browser.
                result[child.name] = copy.deepcopy(value if child.name in raw else child.default)
            elif child.kind == "object":
                result[child.name] = self._object_data(child, field.form, value)
            elif child.kind == "table":
                rows = value if isinstance(value, list) else []
                result[child.name] = [
                    self._object_data(child, entry.form, rows[i] if i < len(rows) else {})
                    for i, entry in enumerate(field.entries)
                ]
            elif child.kind == "signature" and not child.records_signer:
                result[child.name] = self._signature_data(field) is not None
            elif child.kind == "signature":
                result[child.name] = self._signature_data(field)
            else:
                result[child.name] = json_value(child, field)
        return result

    def _signature_data(self, field: Field) -> dict[str, Any] | None:
        parts = field.form
        typed = (parts["name"].data or "").strip()
        signer = self.signer
        if not (
            parts.acknowledged.data
            and signer is not None
            and signer_name_matches(typed, str(signer.get("name", "")))
        ):
            return None
        return {
            "acknowledged": True,
            "name": " ".join(typed.split()),
            "signer_id": signer.get("id"),
            "signed_at": self.now.isoformat(timespec="seconds"),
            "comment": parts.comment.data or "",
        }

    def _pick_person(self, node: FieldNode, field: Field, key: str) -> bool:
        """`pick:<field>:<key>`: one of the people offered for an ambiguous name was chosen."""
        if node.kind != "person" or node.readonly:
            return False
        field.data = key
        field.raw_data = [key]
        return True

    # -- table rows -----------------------------------------------------------------------------

    @property
    def requested_action(self) -> str:
        """The add/remove row action the user pressed, or ''."""
        if self.formdata is None or ACTION_KEY not in self.formdata:
            return ""
        return str(self.formdata.getlist(ACTION_KEY)[0])

    def apply_action(self, action: str | None = None) -> bool:
        """Add or remove a table row (`add:<table>`, `remove:<table>:<index>`), or choose one
        of the people offered for an ambiguous name (`pick:<field>:<key>`); True if handled.

        Without an argument the posted `_form_action` is used. The caller re-renders the form
        instead of completing the task when this returns True.
        """
        action = self.requested_action if action is None else action
        verb, _, target = action.partition(":")
        if verb in ("remove", "pick"):
            target, _, position = target.rpartition(":")
        try:
            found = self.locate(target)
        except KeyError:
            return False
        node, field = found.node, found.field
        if verb == "pick":
            return self._pick_person(node, field, position)
        if node.kind != "table" or node.readonly:
            return False
        if verb == "add":
            if len(field.entries) < row_limit(node):
                field.append_entry()
            return True
        if verb == "remove" and position.isascii() and position.isdigit() and len(position) < 7:
            if int(position) < len(field.entries):
                field.pop_entry(int(position))
            return True
        return False

