"""Look up rating scales, behavioural anchors and picker entries in a pack's catalogs (parsed
TOML)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from forms.errors import FormDefinitionError


def choice_token(value: Any) -> str:
    """The string a choice travels as in HTML: strings as they are, other values as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


@dataclass(frozen=True)
class Choice:
    """One option of a select, radio group or rating scale."""

    value: Any
    label: str
    definition: str = ""
    anchors: tuple[str, ...] = ()

    @property
    def token(self) -> str:
        """The value as posted by the browser."""
        return choice_token(self.value)


def resolve_reference(catalogs: Mapping[str, Any], reference: str) -> Any:
    """Follow `<catalog>.<key>.<key>…` into the catalogs; a clear error names what is missing."""
    name, _, path = reference.partition(".")
    if name not in catalogs:
        known = ", ".join(sorted(catalogs)) or "none"
        raise FormDefinitionError(f"catalog {name!r} (from {reference!r}) not found; have: {known}")
    node: Any = catalogs[name]
    walked = name
    for part in path.split(".") if path else ():
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise FormDefinitionError(f"{walked!r} has no {part!r} (from {reference!r})")
        walked = f"{walked}.{part}"
    return node


def referenced_catalogs(uischema: Any) -> Iterator[str]:
    """Names of the catalogs a UI schema points at (for the form cache key)."""
    if isinstance(uischema, Mapping):
        options = uischema.get("ui:options")
        if isinstance(options, Mapping):
            for key in ("scale", "anchors", "catalog"):
                references = options.get(key)
                for reference in references if isinstance(references, list) else [references]:
                    if isinstance(reference, str):
                        yield reference.partition(".")[0]
        for value in uischema.values():
            yield from referenced_catalogs(value)


def _level_anchors(anchors: Any, value: Any) -> tuple[str, ...]:
    # TOML keys are strings, so level 5 is found under "5".
    found = anchors.get(choice_token(value), ()) if isinstance(anchors, Mapping) else ()
    if isinstance(found, str):
        return (found,)
    return tuple(str(item) for item in found)


def rating_scale(
    catalogs: Mapping[str, Any], scale_ref: str, anchors_ref: str | None = None
) -> tuple[tuple[Choice, ...], Mapping[str, Any]]:
    """The levels of a rating scale, each with the anchors for that level, plus the anchor
    table's own entry (its `name`/`description`, when it points at a competency)."""
    scale = resolve_reference(catalogs, scale_ref)
    if isinstance(scale, Mapping) and "levels" in scale:
        scale = scale["levels"]
    if not isinstance(scale, list) or not scale:
        raise FormDefinitionError(f"rating scale {scale_ref!r} must be a non-empty [[levels]] list")
    competency: Mapping[str, Any] = {}
    anchors: Any = {}
    if anchors_ref:
        anchors = resolve_reference(catalogs, anchors_ref)
        if isinstance(anchors, Mapping) and isinstance(anchors.get("levels"), Mapping):
            competency, anchors = anchors, anchors["levels"]
        if not isinstance(anchors, Mapping):
            raise FormDefinitionError(f"anchors {anchors_ref!r} must be a table keyed by level")
    levels = []
    for level in scale:
        if not isinstance(level, Mapping) or "value" not in level:
            raise FormDefinitionError(f"every level of {scale_ref!r} needs a value and a label")
        levels.append(
            Choice(
                value=level["value"],
                label=str(level.get("label", level["value"])),
                definition=str(level.get("definition", "")),
                anchors=_level_anchors(anchors, level["value"]),
            )
        )
    return tuple(levels), competency


# The keys a catalog entry may name itself by, in order of preference.
_ENTRY_NAMES = ("name", "title", "label")


def _entry_choice(entry: Any, where: str) -> Choice:
    if isinstance(entry, str):
        return Choice(entry, entry)
    if isinstance(entry, Mapping):
        name = next((entry[k] for k in _ENTRY_NAMES if isinstance(entry.get(k), str)), None)
        value = entry.get("value")
        if isinstance(value, str) and value:
            # A value stored apart from what the option says (a goal's "goal:<id>").
            return Choice(value, name or value, str(entry.get("description", "")))
        if name:
            return Choice(name, name, str(entry.get("description", "")))
    raise FormDefinitionError(f"{where}: every entry needs a name (a string or a table with name)")


def catalog_choices(catalogs: Mapping[str, Any], references: Any) -> tuple[Choice, ...]:
    """The entries a picker offers (`ui:options.catalog`): the first reference of a list that
    names something in the catalogs (so a templated reference may fall back), as choices whose
    value is each entry's name (a list of strings, or of tables with `name`/`title`/`label`;
    a table of such tables counts its values), or its `value` when it has one."""
    wanted = references if isinstance(references, list) else [references]
    if not wanted or not all(isinstance(r, str) and r for r in wanted):
        raise FormDefinitionError(
            "ui:options.catalog must be a catalog reference such as 'kra_library.kras', or a "
            "list of them (the first that exists is used)"
        )
    problems = []
    for reference in wanted:
        try:
            node = resolve_reference(catalogs, reference)
        except FormDefinitionError as error:
            problems.append(str(error))
            continue
        entries = list(node.values()) if isinstance(node, Mapping) else node
        if not isinstance(entries, list):
            raise FormDefinitionError(f"catalog {reference!r} must be a list or a table of entries")
        choices = [_entry_choice(entry, f"catalog {reference!r}") for entry in entries]
        unique: dict[str, Choice] = {}
        for choice in choices:
            unique.setdefault(choice.token, choice)  # one option per name, the first kept
        return tuple(unique.values())
    raise FormDefinitionError("; ".join(problems))
