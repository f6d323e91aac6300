"""Building SpiffWorkflow specs from a pack: the sources of one process, parsed once per version."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.mixins import ManualTaskMixin, UserTaskMixin
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.packs.loading import Pack, PackError, find_form_path

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NSMAP = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}
FORM_PROPERTIES = ("formJsonSchemaFilename", "formUiSchemaFilename")


def safe_xml_parser() -> etree.XMLParser:
    """An lxml parser that neither expands entities nor reaches the network."""
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def parse_xml(text: str) -> etree._Element:
    """Parse BPMN/DMN text safely; raises etree.XMLSyntaxError with a line number."""
    return etree.fromstring(text.encode("utf-8"), safe_xml_parser())


@dataclass
class TaskInfo:
    """What the engine and the web app need to know about one user or manual task."""

    bpmn_id: str
    process_id: str
    name: str
    kind: str  # "user" | "manual"
    lane: str | None
    form_schema: str | None = None
    form_uischema: str | None = None
    # Form paths resolved among the version's sources (None when unresolved or not asked).
    form_schema_path: str | None = None
    form_uischema_path: str | None = None
    instructions: str | None = None
    due_in: str | None = None
    due_date: str | None = None
    pre_script: str | None = None
    post_script: str | None = None
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class BuiltSpec:
    """A parsed process: its spec, the specs of everything it calls, and its tasks' forms."""

    process_id: str
    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]
    content_hash: str
    # User/manual task details by bpmn id, with form paths resolved among the sources.
    task_forms: dict[str, TaskInfo]


_CACHE: dict[tuple[str, str], BuiltSpec] = {}


def content_hash(sources: Mapping[str, str]) -> str:
    """sha256 over the sorted relative paths and texts: the identity of a deployed version."""
    digest = hashlib.sha256()
    for rel in sorted(sources):
        for part in (rel, sources[rel]):
            data = part.encode("utf-8")
            digest.update(len(data).to_bytes(8, "big"))
            digest.update(data)
    return digest.hexdigest()


def process_index(pack: Pack) -> dict[str, str]:
    """Every BPMN process id of the pack -> the relative path of the file defining it."""
    index: dict[str, str] = {}
    for rel in pack.bpmn_files():
        root = _parse_pack_file(pack, rel)
        for process in root.iter(f"{{{BPMN_NS}}}process"):
            pid = process.get("id")
            if pid in index:
                raise PackError(f"process {pid!r} is also defined in {index[pid]}", rel,
                                process.sourceline or 0)
            index[pid] = rel
    return index


def decision_index(pack: Pack) -> dict[str, str]:
    """Every DMN decision id of the pack -> the relative path of the file defining it."""
    index: dict[str, str] = {}
    for rel in pack.dmn_files():
        root = _parse_pack_file(pack, rel)
        for decision in root.iter("{*}decision"):
            index.setdefault(decision.get("id"), rel)
    return index


def executable_processes(pack: Pack) -> list[str]:
    """Ids of the pack's executable BPMN processes, sorted."""
    found = []
    for rel in pack.bpmn_files():
        root = _parse_pack_file(pack, rel)
        for process in root.iter(f"{{{BPMN_NS}}}process"):
            if process.get("isExecutable", "true") == "true":
                found.append(process.get("id"))
    return sorted(found)


def process_sources(pack: Pack, process_id: str) -> dict[str, str]:
    """The exact files one process needs (BPMN, called BPMN, DMN, forms): rel path -> text."""
    processes = process_index(pack)
    decisions = decision_index(pack)
    if process_id not in processes:
        raise PackError(f"no process {process_id!r} in pack {pack.name!r}", file="-")
    sources: dict[str, str] = {}
    seen: set[str] = set()
    pending = [process_id]
    while pending:
        pid = pending.pop()
        if pid in seen or pid not in processes:
            continue
        seen.add(pid)
        rel = processes[pid]
        sources[rel] = pack.read_text(rel)
        process = _find_process(_parse_pack_file(pack, rel), pid)
        for call in process.iterfind(".//bpmn:callActivity", NSMAP):
            pending.append(call.get("calledElement"))
        for rule in process.iterfind(".//bpmn:businessRuleTask", NSMAP):
            decision = _extension_text(rule, "calledDecisionId")
            if decision in decisions:
                sources.setdefault(decisions[decision], pack.read_text(decisions[decision]))
        for task in _human_task_elements(process):
            properties = _properties(task)
            for key in FORM_PROPERTIES:
                if properties.get(key):
                    form = pack.find_form(properties[key], near=rel)
                    if form is not None:
                        sources.setdefault(form, pack.read_text(form))
    return dict(sorted(sources.items()))


def build_spec(sources: Mapping[str, str], process_id: str) -> BuiltSpec:
    """Parse the sources into a spec for `process_id`; cached in memory by content hash."""
    digest = content_hash(sources)
    cached = _CACHE.get((digest, process_id))
    if cached is not None:
        return cached
    parser = SpiffBpmnParser()
    # The parser keys lanes by id() of each document root; keep the roots alive while parsing.
    roots = []
    for rel, text in sorted(sources.items()):
        if rel.endswith(".bpmn"):
            roots.append(parse_xml(text))
            parser.add_bpmn_xml(roots[-1], filename=rel)
        elif rel.endswith(".dmn"):
            roots.append(parse_xml(text))
            parser.add_dmn_xml(roots[-1], filename=rel)
    spec = parser.get_spec(process_id)
    subprocess_specs = parser.get_subprocess_specs(process_id)
    built = BuiltSpec(
        process_id=process_id,
        spec=spec,
        subprocess_specs=subprocess_specs,
        content_hash=digest,
        task_forms=user_task_info(spec, subprocess_specs, sources),
    )
    _CACHE[(digest, process_id)] = built
    return built


def user_task_info(
    spec: BpmnProcessSpec,
    subprocess_specs: Mapping[str, BpmnProcessSpec | None],
    sources: Mapping[str, str] | None = None,
) -> dict[str, TaskInfo]:
    """Every user/manual task of a process and its subprocesses, by bpmn id.

    An id that occurs in more than one process is keyed `ProcessId:bpmn_id` instead.
    Given the sources, form filenames are resolved to paths among them.
    """
    infos: list[TaskInfo] = []
    for process_spec in [spec, *subprocess_specs.values()]:
        if process_spec is None:
            continue
        for task_spec in process_spec.task_specs.values():
            if isinstance(task_spec, UserTaskMixin | ManualTaskMixin):
                infos.append(_task_info(process_spec, task_spec, sources))
    counts: dict[str, int] = {}
    for info in infos:
        counts[info.bpmn_id] = counts.get(info.bpmn_id, 0) + 1
    return {
        info.bpmn_id if counts[info.bpmn_id] == 1 else f"{info.process_id}:{info.bpmn_id}": info
        for info in infos
    }


def _task_info(process_spec: BpmnProcessSpec, task_spec: Any,
               sources: Mapping[str, str] | None) -> TaskInfo:
    extensions = getattr(task_spec, "extensions", None) or {}
    properties = dict(extensions.get("properties") or {})
    schema = properties.get("formJsonSchemaFilename") or None
    uischema = properties.get("formUiSchemaFilename") or None
    near = process_spec.file
    info = TaskInfo(
        bpmn_id=task_spec.bpmn_id,
        process_id=process_spec.name,
        name=task_spec.bpmn_name or task_spec.bpmn_id,
        kind="user" if isinstance(task_spec, UserTaskMixin) else "manual",
        lane=task_spec.lane,
        form_schema=schema,
        form_uischema=uischema,
        instructions=extensions.get("instructionsForEndUser"),
        due_in=properties.get("dueIn") or None,
        due_date=properties.get("dueDate") or None,
        pre_script=getattr(task_spec, "prescript", None),
        post_script=getattr(task_spec, "postscript", None),
        properties=properties,
    )
    if sources is not None:
        if schema:
            info.form_schema_path = find_form_path(sources, schema, near)
        if uischema:
            info.form_uischema_path = find_form_path(sources, uischema, near)
    return info


def _parse_pack_file(pack: Pack, rel: str) -> etree._Element:
    try:
        return parse_xml(pack.read_text(rel))
    except etree.XMLSyntaxError as error:
        raise PackError(f"malformed XML: {error.msg}", rel, error.lineno or 0) from None


def _find_process(root: etree._Element, process_id: str) -> etree._Element:
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        if process.get("id") == process_id:
            return process
    raise KeyError(process_id)


def _human_task_elements(process: etree._Element) -> list[etree._Element]:
    return [
        *process.iterfind(".//bpmn:userTask", NSMAP),
        *process.iterfind(".//bpmn:manualTask", NSMAP),
    ]


def _extension_text(element: etree._Element, name: str) -> str | None:
    node = element.find(f"bpmn:extensionElements/spiffworkflow:{name}", NSMAP)
    return node.text.strip() if node is not None and node.text else None


def _properties(element: etree._Element) -> dict[str, str]:
    found = {}
    for prop in element.iterfind(
        "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NSMAP
    ):
        if prop.get("name") is not None:
            found[prop.get("name")] = prop.get("value", "")
    return found

