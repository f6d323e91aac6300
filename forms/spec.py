"""FormSpec: a compiled task form, cached by the content of its schema, UI schema and catalogs."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from markupsafe import Markup
from wtforms import Form

from forms.bound import ACTION_KEY, FIELD_KEY, FormButton, PersonLookup
from forms.catalogs import referenced_catalogs
from forms.fields import build_form_class, field_value, object_value
from forms.render import HtmlForm
from forms.schema import FieldNode, compile_form

CACHE_SIZE = 256


class PostedValues:
    """A minimal multi-dict over a plain mapping, for callers without a request object."""

    def __init__(self, values: Mapping[str, Any]):
        self._values = {
            key: [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
            for key, value in values.items()
        }

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __len__(self) -> int:
        return len(self._values)

    def getlist(self, key: str) -> list[str]:
        """Every value posted under `key`."""
        return list(self._values.get(key, []))


def _as_formdata(formdata: Any) -> Any:
    if formdata is None or hasattr(formdata, "getlist"):
        return formdata
    return PostedValues(formdata)


class FormSpec:
    """A task form compiled from its definition; bind it to a request with `bind()`."""

    def __init__(
        self, key: str, schema: Mapping[str, Any], uischema: Mapping[str, Any], root: FieldNode
    ):
        self.key = key
        self.schema = schema
        self.uischema = uischema
        self.root = root
        self.form_class: type[Form] = build_form_class(root)

    def bind(
        self,
        formdata: Any = None,
        data: Mapping[str, Any] | None = None,
        *,
        signer: Mapping[str, Any] | None = None,
        now: dt.datetime | None = None,
        person_lookup: PersonLookup | None = None,
    ) -> HtmlForm:
        """Bind posted values (a multi-dict, or None to show the form) and the task data.

        `person_lookup` names the person behind a person field's key; without it any key passes.
        """
        data = dict(data or {})
        formdata = _as_formdata(formdata)
        form = self.form_class(formdata=formdata, data=object_value(self.root, data))
        _restore_read_only(self.root, form, data)
        return HtmlForm(self, form, data, formdata, signer, now, person_lookup)

    def validate_partial(
        self,
        formdata: Any,
        field_name: str | None = None,
        *,
        data: Mapping[str, Any] | None = None,
        signer: Mapping[str, Any] | None = None,
        now: dt.datetime | None = None,
        validate_url: str | None = None,
        person_lookup: PersonLookup | None = None,
        person_search_url: str | None = None,
    ) -> Markup:
        """Live validation: the one field (or table) named, re-rendered with its errors.

        A posted `_form_action` (an htmx add/remove row button) is applied instead, and the
        table comes back with one row more or fewer. `field_name` defaults to the posted
        `_field` (the inputs send it); htmx also sends it as the HX-Trigger-Name header.
        """
        bound = self.bind(formdata, data, signer=signer, now=now, person_lookup=person_lookup)
        urls = {"validate_url": validate_url, "person_search_url": person_search_url}
        action = bound.requested_action
        if action and bound.apply_action(action):
            table = action.split(":")[1]
            return bound.render_field(table, **urls)
        if field_name is None:
            posted = bound.formdata.getlist(FIELD_KEY) if bound.formdata is not None else []
            field_name = posted[0] if posted else ""
        bound.validate()
        return bound.render_field(field_name, **urls)


def _restore_read_only(node: FieldNode, fields: Any, data: Any) -> None:
    """Put the task data back into read-only fields: the browser's copy is never trusted."""
    data = data if isinstance(data, Mapping) else {}
    for child in node.children:
        field = fields[child.name]
        value = data.get(child.name, child.default)
        if child.readonly:
            field.process(None, field_value(child, value))
            field.raw_data = None
        elif child.kind == "object":
            _restore_read_only(child, field.form, value)
        elif child.kind == "table":
            rows = value if isinstance(value, list) else []
            for index, entry in enumerate(field.entries):
                _restore_read_only(child, entry.form, rows[index] if index < len(rows) else {})


_cache: OrderedDict[str, FormSpec] = OrderedDict()
_cache_lock = threading.Lock()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def form_spec(
    schema: Mapping[str, Any],
    uischema: Mapping[str, Any] | None = None,
    catalogs: Mapping[str, Mapping[str, Any]] | None = None,
) -> FormSpec:
    """The compiled form for a schema + UI schema (+ the catalogs it names), cached by hash."""
    uischema = uischema or {}
    catalogs = catalogs or {}
    used = sorted({name for name in referenced_catalogs(uischema) if name in catalogs})
    key = hashlib.sha256(
        _canonical([schema, uischema, {name: catalogs[name] for name in used}]).encode()
    ).hexdigest()
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    spec = FormSpec(key, schema, uischema, compile_form(schema, uischema, catalogs))
    with _cache_lock:
        spec = _cache.setdefault(key, spec)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return spec


__all__ = ["ACTION_KEY", "FIELD_KEY", "FormButton", "FormSpec", "PostedValues", "form_spec"]
