"""A task's answers sent as JSON (the REST API), turned into the values a browser would post,
so they pass through exactly the same form, checks and typing as the task page.

`posted_from_json(spec, data)` walks the form's fields: text as it is, numbers as typed,
a ticked checkbox as "y", a choice as its option's token, nested objects and table rows under
the names the page's inputs carry (`object-field`, `table-0-column`), a signature's inputs
(`acknowledged`, `name`, `comment`). Read-only fields are never taken from the client. What
cannot be a value of its field (a list for a text, text for a number, a key the form does not
have) is reported as a problem, in the words the page uses for its own checks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from forms.bound import FieldError
from forms.catalogs import Choice
from forms.schema import FieldNode
from forms.spec import FormSpec, PostedValues

SUBMIT_KEY = "_submit"
_TEXT = ("text", "email", "hidden", "password", "person", "textarea")
_SEPARATOR = "-"


def posted_from_json(
    spec: FormSpec, data: Mapping[str, Any]
) -> tuple[PostedValues, list[FieldError]]:
    """The posted values for `data` and what in it does not fit the form."""
    posted: dict[str, list[str]] = {SUBMIT_KEY: ["done"]}
    problems: list[FieldError] = []
    _object(spec.root, data, "", "", posted, problems)
    return PostedValues(posted), problems


def _label(path: str, node: FieldNode) -> str:
    return f"{path} › {node.label}" if path else node.label


def _object(
    node: FieldNode, data: Any, prefix: str, path: str, posted: dict[str, list[str]],
    problems: list[FieldError],
) -> None:
    if data is None:
        return
    if not isinstance(data, Mapping):
        problems.append(FieldError(path or "form", "Give an object of fields."))
        return
    known = {child.name for child in node.children}
    for key in data:
        if key not in known:
            problems.append(FieldError(_label(path, node) if path else str(key),
                                       f"The form has no field '{key}'."))
    for child in node.children:
        if child.name in data and not child.readonly:
            _field(child, data[child.name], prefix + child.name, path, posted, problems)


def _field(
    node: FieldNode, value: Any, name: str, path: str, posted: dict[str, list[str]],
    problems: list[FieldError],
) -> None:
    label = _label(path, node)

    def wrong(message: str) -> None:
        problems.append(FieldError(label, message))

    kind = node.kind
    if kind == "object":
        _object(node, value, name + _SEPARATOR, label, posted, problems)
    elif kind == "table":
        if value is None:
            return
        if not isinstance(value, list):
            wrong("Give a list of rows.")
            return
        for index, row in enumerate(value):
            _object(node, row, f"{name}{_SEPARATOR}{index}{_SEPARATOR}",
                    f"{label} › row {index + 1}", posted, problems)
    elif kind == "signature":
        if value is None:
            return
        if not isinstance(value, Mapping):
            wrong("Give the signature as {\"acknowledged\": true, \"name\": \"your full name\"}.")
            return
        if value.get("acknowledged") is True:
            posted[f"{name}{_SEPARATOR}acknowledged"] = ["y"]
        for part in ("name", "comment"):
            text = value.get(part)
            if text is not None and not isinstance(text, str):
                wrong(f"The signature's {part} must be text.")
            elif text is not None:
                posted[f"{name}{_SEPARATOR}{part}"] = [text]
    elif kind == "checkbox":
        if value is None:
            return
        if not isinstance(value, bool):
            wrong("Give true or false.")
        elif value:
            posted[name] = ["y"]
    elif kind in ("integer", "number"):
        if value is None:
            posted[name] = [""]
        elif isinstance(value, bool) or not isinstance(value, int | float):
            wrong("Give a number.")
        else:
            posted[name] = [str(value)]
    elif kind in ("multiselect", "checkboxes"):
        if value is None:
            return
        if not isinstance(value, list):
            wrong("Give a list of options.")
            return
        posted[name] = [_token(node.choices, item) for item in value]
    elif kind in ("select", "radio", "rating"):
        posted[name] = [""] if value is None else [_token(node.choices, value)]
    elif kind in (*_TEXT, "date", "datetime"):
        if value is None:
            posted[name] = [""]
        elif not isinstance(value, str):
            wrong("Give text." if kind in _TEXT else "Give the date as text (YYYY-MM-DD).")
        else:
            posted[name] = [value]
    else:  # a kind this module does not know yet: as text
        posted[name] = ["" if value is None else str(value)]


def _token(choices: tuple[Choice, ...], value: Any) -> str:
    """The token of the option whose value is `value`, else one no option has (the form then
    says to choose one of the listed options)."""
    for choice in choices:
        if choice.value == value and isinstance(choice.value, bool) == isinstance(value, bool):
            return choice.token
    taken = {choice.token for choice in choices}
    token = "not an option: " + json.dumps(value, default=str)
    while token in taken:
        token += "?"
    return token
