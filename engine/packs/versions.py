"""What changed between two deployed versions of a process: BPMN elements, decisions, forms.

Designers read this before deploying and when choosing which instances to migrate, so
elements are compared by what a person sees in the modeler (name, type, lane, form, scripts,
conditions, properties), never by diagram layout.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from lxml import etree

from engine.base.errors import NotFound
from engine.base.models import ProcessDefinition, ProcessInstance
from engine.packs.specs import BPMN_NS, FORM_PROPERTIES, SPIFF_NS, parse_xml

# Containers whose children are flow elements of their own (compared element by element).
_CONTAINERS = {"process", "subProcess", "transaction", "adHocSubProcess"}
# Children that are wiring or handled by a dedicated aspect, not part of "details".
_WIRING = {"incoming", "outgoing", "extensionElements", "conditionExpression", "script",
           "laneSet", "documentation"}
_SPIFF_ASPECTS = {
    "instructionsForEndUser": "instructions",
    "preScript": "pre-script",
    "postScript": "post-script",
    "calledDecisionId": "called decision",
}

# Aspect names in the order a summary lists them.
ASPECTS = (
    "type", "name", "lane", "form", "properties", "instructions", "pre-script", "post-script",
    "script", "condition", "route", "default flow", "called process", "called decision",
    "event", "details", "extensions", "inputs", "outputs", "rules",
)


@dataclass(frozen=True)
class Element:
    """One BPMN element (or DMN decision) as the designer sees it."""

    element_id: str
    process_id: str
    type: str
    name: str

    def label(self) -> str:
        """`'Review goals' (review_goals)`, or just the id when it has no name."""
        return f"'{self.name}' ({self.element_id})" if self.name else self.element_id


@dataclass
class ElementChange:
    """An element present in both versions whose aspects differ: aspect -> (old, new)."""

    element: Element
    changes: dict[str, tuple[Any, Any]]

    def describe(self) -> str:
        """`form (review-schema.json → review2-schema.json), lane (Manager → HR)`."""
        parts = []
        for aspect, (old, new) in self.changes.items():
            shown = _short(old), _short(new)
            parts.append(f"{aspect} ({shown[0]} → {shown[1]})" if all(shown) else aspect)
        return ", ".join(parts)


@dataclass
class FormChange:
    """A form file added, removed or changed; fields by dotted path (`goals[].weight`)."""

    file: str
    status: str  # added | removed | changed
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    # field -> the keys of its definition that changed (type, title, enum, required …)
    changed: dict[str, list[str]] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for people: what happened to the form's fields."""
        if self.status != "changed":
            return f"form {self.file} {self.status}"
        parts = []
        if self.added:
            parts.append("added " + ", ".join(self.added))
        if self.removed:
            parts.append("removed " + ", ".join(self.removed))
        for name, keys in self.changed.items():
            parts.append(f"changed {name} ({', '.join(keys)})")
        return f"form {self.file}: " + ("; ".join(parts) or "reformatted")


@dataclass
class VersionDiff:
    """Everything that differs between two versions of one process."""

    process_id: str
    added: list[Element] = field(default_factory=list)
    removed: list[Element] = field(default_factory=list)
    changed: list[ElementChange] = field(default_factory=list)
    forms: list[FormChange] = field(default_factory=list)
    files_added: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """True when not a single file differs."""
        return not (self.files_added or self.files_removed or self.files_changed)

    def changed_element(self, element_id: str) -> ElementChange | None:
        """The change of one element by id, if it changed."""
        return next((c for c in self.changed if c.element.element_id == element_id), None)

    def summary(self) -> list[str]:
        """Human lines, most important first; a layout-only change says so."""
        lines = [f"added {e.type} {e.label()}" for e in self.added]
        lines += [f"removed {e.type} {e.label()}" for e in self.removed]
        lines += [f"changed {c.element.label()}: {c.describe()}" for c in self.changed]
        lines += [form.describe() for form in self.forms]
        elements_or_forms = {f.file for f in self.forms}
        other = [f for f in self.files_changed if f not in elements_or_forms]
        if other and not (self.added or self.removed or self.changed):
            lines += [f"{f}: changed (layout or text only)" if f.endswith((".bpmn", ".dmn"))
                      else f"{f}: changed" for f in other]
        elif other:
            lines += [f"{f}: changed" for f in other if not f.endswith((".bpmn", ".dmn"))]
        lines += [f"{f}: added" for f in self.files_added if f not in elements_or_forms]
        lines += [f"{f}: removed" for f in self.files_removed if f not in elements_or_forms]
        return lines or ["no changes"]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (for audit events and the web UI)."""
        return {
            "process_id": self.process_id,
            "added": [e.__dict__ for e in self.added],
            "removed": [e.__dict__ for e in self.removed],
            "changed": [
                {**c.element.__dict__, "changes": {k: list(v) for k, v in c.changes.items()}}
                for c in self.changed
            ],
            "forms": [f.__dict__ for f in self.forms],
            "files_added": self.files_added,
            "files_removed": self.files_removed,
            "files_changed": self.files_changed,
        }


def diff_versions(
    old_sources: Mapping[str, str], new_sources: Mapping[str, str], process_id: str
) -> VersionDiff:
    """Compare two versions' sources: elements by id, decisions by rule, forms by field."""
    diff = VersionDiff(process_id)
    diff.files_added = sorted(set(new_sources) - set(old_sources))
    diff.files_removed = sorted(set(old_sources) - set(new_sources))
    diff.files_changed = sorted(
        rel for rel in set(old_sources) & set(new_sources) if old_sources[rel] != new_sources[rel]
    )
    old_elements, new_elements = _elements(old_sources), _elements(new_sources)
    for key, (element, _) in new_elements.items():
        if key not in old_elements:
            diff.added.append(element)
    for key, (element, aspects) in old_elements.items():
        if key not in new_elements:
            diff.removed.append(element)
            continue
        new_element, new_aspects = new_elements[key]
        changes = {
            aspect: (aspects.get(aspect), new_aspects.get(aspect))
            for aspect in ASPECTS
            if aspects.get(aspect) != new_aspects.get(aspect)
        }
        if changes:
            diff.changed.append(ElementChange(new_element, changes))
    for rel in sorted(set(old_sources) | set(new_sources)):
        if _is_form(rel):
            change = diff_form(rel, old_sources.get(rel), new_sources.get(rel))
            if change is not None:
                diff.forms.append(change)
    return diff


def diff_form(rel: str, old: str | None, new: str | None) -> FormChange | None:
    """Compare two texts of one form file field by field (None: the file is absent)."""
    if old == new:
        return None
    if old is None:
        return FormChange(rel, "added", added=sorted(_form_fields(new or "")))
    if new is None:
        return FormChange(rel, "removed", removed=sorted(_form_fields(old)))
    before, after = _form_fields(old), _form_fields(new)
    change = FormChange(rel, "changed")
    change.added = [name for name in after if name not in before]
    change.removed = [name for name in before if name not in after]
    for name, definition in before.items():
        if name in after and after[name] != definition:
            keys = sorted(k for k in set(definition) | set(after[name])
                          if definition.get(k) != after[name].get(k))
            change.changed[name] = keys
    return change


# --- version history -----------------------------------------------------------------------


@dataclass
class VersionInfo:
    """One deployed version for the history page: who, when, what changed, who runs on it."""

    definition_id: int
    version: int
    deployed_by: str
    deployed_at: datetime
    pack_version: str
    # instance status -> how many instances of this version are in it
    instances: dict[str, int]
    diff: VersionDiff | None  # against the version before; None for the first

    @property
    def running(self) -> int:
        """Instances still open on this version (running, waiting or in error)."""
        return sum(n for status, n in self.instances.items()
                   if status not in ("completed", "cancelled"))


async def version_history(pack: str, process_id: str) -> list[VersionInfo]:
    """Every deployed version of a process, newest first, each diffed against the one before."""
    rows = await ProcessDefinition.filter(pack=pack, process_id=process_id).order_by("version")
    if not rows:
        raise NotFound(f"process '{process_id}' of pack '{pack}' was never deployed")
    counts = await instance_counts([row.id for row in rows])
    history = []
    previous: ProcessDefinition | None = None
    for row in rows:
        history.append(VersionInfo(
            definition_id=row.id,
            version=row.version,
            deployed_by=row.deployed_by,
            deployed_at=row.deployed_at,
            pack_version=row.pack_version,
            instances=counts.get(row.id, {}),
            diff=diff_versions(previous.sources, row.sources, process_id) if previous else None,
        ))
        previous = row
    return list(reversed(history))


async def instance_counts(definition_ids: list[int]) -> dict[int, dict[str, int]]:
    """definition id -> instance status -> count."""
    counts: dict[int, dict[str, int]] = {}
    rows = await ProcessInstance.filter(definition_id__in=definition_ids).values_list(
        "definition_id", "status"
    )
    for definition_id, status in rows:
        per_status = counts.setdefault(definition_id, {})
        per_status[status] = per_status.get(status, 0) + 1
    return counts


async def version_sources(definition_id: int) -> dict[str, str]:
    """The exact files of one deployed version (to view or export it again)."""
    row = await ProcessDefinition.get_or_none(id=definition_id)
    if row is None:
        raise NotFound(f"no deployed process version {definition_id}")
    return dict(row.sources)


# --- reading elements ----------------------------------------------------------------------


_Aspects = dict[str, Any]


def _elements(sources: Mapping[str, str]) -> dict[tuple[str, str], tuple[Element, _Aspects]]:
    """Every flow element and decision of the sources, keyed (process or file, element id)."""
    found: dict[tuple[str, str], tuple[Element, _Aspects]] = {}
    for rel in sorted(sources):
        if not rel.endswith((".bpmn", ".dmn")):
            continue
        try:
            root = parse_xml(sources[rel])
        except etree.XMLSyntaxError:
            continue  # validation reports it; a diff shows it as a changed file
        if rel.endswith(".bpmn"):
            for process in root.iter(f"{{{BPMN_NS}}}process"):
                pid = process.get("id", "")
                lanes = _lanes(process)
                for node in _flow_elements(process):
                    element = Element(node.get("id", ""), pid, _kind(node), node.get("name", ""))
                    found[(pid, element.element_id)] = (element, _bpmn_aspects(node, lanes))
        else:
            for decision in root.iter("{*}decision"):
                element = Element(decision.get("id", ""), rel, "decision",
                                  decision.get("name", ""))
                found[(f"dmn:{element.element_id}", element.element_id)] = (
                    element, _decision_aspects(decision)
                )
    return found


def _flow_elements(container: etree._Element) -> list[etree._Element]:
    out = []
    for child in container:
        if not isinstance(child.tag, str) or _local(child) in _WIRING | {"laneSet"}:
            continue
        if child.get("id") is None:
            continue
        out.append(child)
        if _local(child) in _CONTAINERS:
            out.extend(_flow_elements(child))
    return out


def _lanes(process: etree._Element) -> dict[str, str]:
    lanes = {}
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        for ref in lane.iterfind(f"{{{BPMN_NS}}}flowNodeRef"):
            if ref.text:
                # Nested lanes come later in document order and win: the innermost names it.
                lanes[ref.text.strip()] = lane.get("name") or lane.get("id", "")
    return lanes


def _bpmn_aspects(node: etree._Element, lanes: Mapping[str, str]) -> _Aspects:
    aspects: _Aspects = {"type": _kind(node), "name": node.get("name", "") or None}
    aspects["lane"] = lanes.get(node.get("id", ""))
    extensions = node.find(f"{{{BPMN_NS}}}extensionElements")
    other_extensions = []
    if extensions is not None:
        for ext in extensions:
            if not isinstance(ext.tag, str):
                continue
            local = _local(ext)
            if ext.tag == f"{{{SPIFF_NS}}}properties":
                properties = {
                    prop.get("name"): prop.get("value", "")
                    for prop in ext.iterfind(f"{{{SPIFF_NS}}}property")
                }
                form = [properties.pop(key, None) for key in FORM_PROPERTIES]
                if any(form):
                    aspects["form"] = " + ".join(f for f in form if f)
                if properties:
                    aspects["properties"] = dict(sorted(properties.items()))
            elif ext.tag.startswith(f"{{{SPIFF_NS}}}") and local in _SPIFF_ASPECTS:
                aspects[_SPIFF_ASPECTS[local]] = _text(ext)
            else:
                other_extensions.append(_canonical(ext))
    if other_extensions:
        aspects["extensions"] = other_extensions
    script = node.find(f"{{{BPMN_NS}}}script")
    if script is not None:
        aspects["script"] = _text(script)
    condition = node.find(f"{{{BPMN_NS}}}conditionExpression")
    if condition is not None:
        aspects["condition"] = _text(condition)
    if _local(node) == "sequenceFlow":
        aspects["route"] = f"{node.get('sourceRef')} → {node.get('targetRef')}"
    if node.get("default"):
        aspects["default flow"] = node.get("default")
    if node.get("calledElement"):
        aspects["called process"] = node.get("calledElement")
    events = [_canonical(c) for c in node if isinstance(c.tag, str)
              and _local(c).endswith("EventDefinition")]
    if events or node.get("attachedToRef"):
        aspects["event"] = [*events, *_attrs(node, "attachedToRef", "cancelActivity")]
    details = [_canonical(c) for c in node if isinstance(c.tag, str)
               and _local(c) not in _WIRING and not _local(c).endswith("EventDefinition")
               and not (_local(node) in _CONTAINERS and c.get("id") is not None)]
    if details:
        aspects["details"] = details
    return {k: v for k, v in aspects.items() if v is not None}


def _decision_aspects(decision: etree._Element) -> _Aspects:
    table = decision.find("{*}decisionTable")
    aspects: _Aspects = {"type": "decision", "name": decision.get("name") or None}
    if table is None:
        aspects["details"] = [_canonical(c) for c in decision if isinstance(c.tag, str)]
        return aspects
    aspects["inputs"] = [
        _text(i.find("{*}inputExpression/{*}text")) or i.get("label", "")
        for i in table.iterfind("{*}input")
    ]
    aspects["outputs"] = [o.get("name") or o.get("label", "") for o in table.iterfind("{*}output")]
    aspects["rules"] = [
        [_text(entry.find("{*}text")) for entry in rule
         if isinstance(entry.tag, str) and _local(entry) in ("inputEntry", "outputEntry")]
        for rule in table.iterfind("{*}rule")
    ]
    if table.get("hitPolicy"):
        aspects["details"] = [f"hitPolicy={table.get('hitPolicy')}"]
    return aspects


def _kind(node: etree._Element) -> str:
    """`userTask` -> `user task`."""
    return re.sub(r"(?<!^)([A-Z])", r" \1", _local(node)).lower()


def _local(node: etree._Element) -> str:
    name: str = etree.QName(node).localname
    return name


def _text(node: etree._Element | None) -> str:
    return (node.text or "").strip() if node is not None else ""


def _attrs(node: etree._Element, *names: str) -> list[str]:
    return [f"{n}={node.get(n)}" for n in names if node.get(n) is not None]


def _canonical(node: etree._Element) -> str:
    """The element as text with insignificant whitespace removed (ids of children kept)."""
    text = etree.tostring(node, encoding="unicode", with_tail=False)
    return re.sub(r">\s+<", "><", text).strip()


def _short(value: Any) -> str:
    if value is None or isinstance(value, list | dict):
        return ""
    text = str(value).replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "…"


# --- reading forms -------------------------------------------------------------------------


def _is_form(rel: str) -> bool:
    name = PurePosixPath(rel).name
    return (rel.endswith(".json") and not name.startswith("test_")
            and name != "process_model.json" and not rel.startswith("tests/"))


def _form_fields(text: str) -> dict[str, dict[str, Any]]:
    """A form's fields by dotted path, each with its own definition minus nested fields."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {"(not valid JSON)": {"text": text}}
    if not isinstance(data, dict):
        return {"(form)": {"value": data}}
    fields: dict[str, dict[str, Any]] = {}
    if "properties" in data or data.get("type") == "object":
        _schema_fields(data, "", fields)
        rest = {k: v for k, v in data.items() if k not in ("properties", "required")}
        if rest:
            fields["(form)"] = rest
    else:  # a UI schema: one entry per field, plus ui:order and friends
        for key, value in data.items():
            fields[key] = value if isinstance(value, dict) else {"value": value}
    return fields


def _schema_fields(schema: Mapping[str, Any], prefix: str,
                   fields: dict[str, dict[str, Any]]) -> None:
    required = set(schema.get("required") or [])
    for name, definition in (schema.get("properties") or {}).items():
        if not isinstance(definition, dict):
            continue
        path = f"{prefix}{name}"
        own = {k: v for k, v in definition.items() if k not in ("properties", "items")}
        if name in required:
            own["required"] = True
        items = definition.get("items")
        if isinstance(items, dict) and "properties" in items:
            own["items"] = {k: v for k, v in items.items() if k not in ("properties", "required")}
            _schema_fields(items, f"{path}[].", fields)
        elif "items" in definition:
            own["items"] = definition["items"]
        if "properties" in definition:
            _schema_fields(definition, f"{path}.", fields)
        fields[path] = own
