"""Pack validation: every problem of a pack at once, as `file:line: element-id: message`."""

from __future__ import annotations

import json
import re
import textwrap
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import jsonschema
from lxml import etree

from engine.packs.loading import (
    MANIFEST,
    Pack,
    PackError,
    features_line,
    load_pack_leniently,
)
from engine.packs.specs import BPMN_NS, NSMAP, parse_xml
from engine.packs.translations import stray_entries
from engine.people.assignment import parse_resolver
from forms import limits
from forms.templating import render_bounded

_DURATION = re.compile(
    r"P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?"
)
_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a pack; `file` is relative to the pack root."""

    file: str
    line: int
    element_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.element_id}: {self.message}"


def validate_pack(
    path_or_pack: Path | str | Pack, available: Mapping[str, Path] | None = None
) -> list[Problem]:
    """Every problem of a pack (manifest, BPMN, DMN, forms, scripts, tests); [] if valid."""
    if isinstance(path_or_pack, Pack):
        pack = path_or_pack
    else:
        path = Path(path_or_pack)
        if available is None:
            from engine.packs.loading import discover_packs

            available = discover_packs([path.parent])
        try:
            pack = load_pack_leniently(path, available)
        except PackError as error:
            return [Problem(error.file, error.line, "-", error.message)]
    return _PackCheck(pack).run()


def translation_warnings(
    path_or_pack: Path | str | Pack, available: Mapping[str, Path] | None = None
) -> list[str]:
    """Translation entries that match no text of the pack (a typo, or a text since changed):
    a warning, not a problem — the text then shows as written, and the pack still works."""
    if isinstance(path_or_pack, Pack):
        pack = path_or_pack
    else:
        path = Path(path_or_pack)
        if available is None:
            from engine.packs.loading import discover_packs

            available = discover_packs([path.parent])
        try:
            pack = load_pack_leniently(path, available)
        except PackError:
            return []
    sources = {}
    for rel in pack.files:
        if rel.endswith((".bpmn", ".dmn", ".json", ".toml")):
            try:
                sources[rel] = pack.read_text(rel)
            except (OSError, UnicodeDecodeError, PackError):
                continue
    # The manifest's process titles and lane names are texts people read too.
    if (pack.root / MANIFEST).is_file():
        sources[MANIFEST] = (pack.root / MANIFEST).read_text(encoding="utf-8")
    return [
        f"{file}: [{table}] {source!r}: " + ("no text of the pack reads this"
                                             if table else source)
        for file, table, source in stray_entries(sources)
    ]


class _PackCheck:
    """One validation run over one pack; collects problems instead of stopping."""

    def __init__(self, pack: Pack) -> None:
        self.pack = pack
        self.problems: list[Problem] = []
        self.documents: dict[str, etree._Element] = {}
        self.processes: dict[str, tuple[str, etree._Element]] = {}
        self.decisions: dict[str, str] = {}
        self.checked_forms: set[str] = set()
        # Ids a malformed file probably defines: "unknown ..." about them would only echo
        # the malformed-XML problem, so those checks stay quiet.
        self.recovered_ids: set[str] = set()
        self.manifest_broken = any(
            e.file == MANIFEST and e.message.startswith("invalid TOML") for e in pack.problems
        )

    def add(self, file: str, line: int | None, element_id: str | None, message: str) -> None:
        problem = Problem(file, line or 0, element_id or "-", message)
        if problem not in self.problems:
            self.problems.append(problem)

    def run(self) -> list[Problem]:
        for error in self.pack.problems:
            self.add(error.file, error.line, "-", error.message)
        self.read_documents()
        self.check_dmn()
        self.check_manifest()
        self.check_features()
        for rel in self.pack.bpmn_files():
            if rel in self.documents:
                self.check_bpmn(rel, self.documents[rel])
        self.check_with_spiffworkflow()
        self.check_catalogs()
        self.check_tests()
        return sorted(self.problems, key=lambda p: (p.file != MANIFEST, p.file, p.line))

    # -- reading --------------------------------------------------------------------------

    def read_documents(self) -> None:
        for rel in [*self.pack.bpmn_files(), *self.pack.dmn_files()]:
            try:
                root = parse_xml(self.pack.read_text(rel))
            except etree.XMLSyntaxError as error:
                self.add(rel, error.lineno, "-", f"malformed XML: {error.msg}")
                self.recover_ids(rel)
                continue
            except UnicodeDecodeError:
                self.add(rel, 0, "-", "not UTF-8 text")
                continue
            self.documents[rel] = root
            if rel.endswith(".bpmn"):
                self.index_processes(rel, root)

    def index_processes(self, rel: str, root: etree._Element) -> None:
        for process in root.iter(f"{{{BPMN_NS}}}process"):
            pid = process.get("id")
            if pid in self.processes:
                self.add(rel, process.sourceline, pid,
                         f"process id also defined in {self.processes[pid][0]}")
                continue
            self.processes[pid] = (rel, process)

    # -- manifest -------------------------------------------------------------------------

    def check_manifest(self) -> None:
        pack = self.pack
        manifest = MANIFEST if (pack.root / MANIFEST).is_file() else "-"
        used_lanes = self.used_lanes()
        for lane, resolver in pack.lanes.items():
            try:
                parse_resolver(resolver)
            except ValueError as error:
                self.add(manifest, _toml_line(pack, lane), lane, str(error))
        if self.manifest_broken:
            return
        for rel, line, lane in used_lanes:
            if lane not in pack.lanes and pack.default_lane is None:
                self.add(rel, line, lane, f"lane {lane!r} is not mapped in [lanes] of pack.toml")
        for pid, settings in pack.processes.items():
            line = _toml_line(pack, pid)
            if pid not in self.processes:
                if pid not in self.recovered_ids:
                    self.add(manifest, line, pid,
                             "[processes] key is not a BPMN process of the pack")
            elif self.processes[pid][1].get("isExecutable", "true") != "true":
                self.add(manifest, line, pid, "[processes] names a process that is not executable")
            for starter in settings.starters:
                try:
                    kind = parse_resolver(starter).kind
                except ValueError as error:
                    self.add(manifest, line, pid, f"starters: {error}")
                    continue
                if kind not in ("group", "person"):
                    self.add(manifest, line, pid,
                             f"starters: {starter!r} must be group:<name> or person:<id>")

    # Which process each task key of [features] lives in.
    _FEATURE_TASKS = {
        "feedback.choose_task": "feedback.process",
        "feedback.write_task": "feedback.process",
        "feedback.requested_task": "feedback.process",
        "feedback.respond_task": "feedback.process",
        "recognition.give_task": "recognition.process",
        "development.agree_task": "development.plan_process",
        "development.action_task": "development.plan_process",
        "development.checkin_task": "development.checkin_process",
        "one_on_ones.hold_task": "one_on_ones.process",
        "training.request_task": "training.process",
        "gaps.plan_task": "development.plan_process",
    }

    def check_features(self) -> None:
        """Declared [features] name a startable process of the pack, user tasks of that
        process and a signal some event catches. Keys left out are not checked: a pack need
        not have a feedback or development process at all."""
        if self.manifest_broken:
            return
        features = self.pack.features
        declared = features.declared
        manifest = MANIFEST if (self.pack.root / MANIFEST).is_file() else "-"

        def add(key: str, value: str, message: str) -> None:
            line = features_line(self.pack.root, key)
            self.add(manifest, line, value, f"features.{key}: {message}")

        checked_processes: dict[str, bool] = {}
        for key in ("feedback.process", "development.plan_process",
                    "development.checkin_process", "one_on_ones.process",
                    "recognition.process", "training.process", "talent.review_process"):
            needed = key in declared or any(
                task in declared for task, process in self._FEATURE_TASKS.items()
                if process == key
            )
            if not needed:
                continue
            pid = features.lookup(key)
            if pid in self.recovered_ids:
                checked_processes[key] = False
            elif pid not in self.processes:
                add(key, pid, f"no BPMN process {pid!r} in the pack")
                checked_processes[key] = False
            elif self.processes[pid][1].get("isExecutable", "true") != "true":
                add(key, pid, f"process {pid!r} is not executable, so it cannot be started")
                checked_processes[key] = False
            else:
                checked_processes[key] = True
        for key, process_key in self._FEATURE_TASKS.items():
            if not checked_processes.get(process_key):
                continue
            if key not in declared and (process_key not in declared
                                        or key.split(".")[0] != process_key.split(".")[0]):
                # A task key of another feature (gaps' plan task in the development process)
                # is checked when declared itself: a pack that renames its processes need not
                # take up every feature that reads them.
                continue
            task_id = features.lookup(key)
            pid = features.lookup(process_key)
            process = self.processes[pid][1]
            tasks = {t.get("id") for t in process.iterfind(".//bpmn:userTask", NSMAP)}
            if task_id not in tasks:
                add(key, task_id, f"no user task {task_id!r} in process {pid!r} "
                                  f"(features.{process_key})")
        if "review.steps" in declared:
            self.check_review_steps(add)
        self.check_programme_features(add)
        self.check_training_catalog(add)
        if "year_context.tasks" in declared:
            user_tasks = {t.get("id") for _, process in self.processes.values()
                          for t in process.iterfind(".//bpmn:userTask", NSMAP)}
            for task_id in features.year_context.tasks:
                if task_id not in user_tasks:
                    add("year_context.tasks", task_id,
                        f"no user task {task_id!r} in any process of the pack")
        if "calendar.task" in declared:
            # The task may live in any process: a meeting is scheduled wherever the pack says.
            user_tasks = {t.get("id") for _, process in self.processes.values()
                          for t in process.iterfind(".//bpmn:userTask", NSMAP)}
            if features.calendar.task not in user_tasks:
                add("calendar.task", features.calendar.task,
                    f"no user task {features.calendar.task!r} in any process of the pack")
        if "one_on_ones.cancel_signal" in declared:
            signal = features.one_on_ones.cancel_signal
            if not self.signal_caught(signal):
                add("one_on_ones.cancel_signal", signal,
                    f"no event of the pack catches the signal {signal!r}")
        if "calibration.release_signal" in declared:
            signal = features.calibration.release_signal
            if not self.signal_caught(signal):
                add("calibration.release_signal", signal,
                    f"no event of the pack catches the signal {signal!r}")

    def check_programme_features(self, add: Callable[[str, str, str], None]) -> None:
        """A declared roll-out programme names an executable process of the pack whose user
        tasks are its steps and reviews; declared adoption processes exist in the pack."""
        features, declared = self.pack.features, self.pack.features.declared
        for key in ("adoption.objectives_process", "adoption.appraisal_process"):
            pid = features.lookup(key)
            if key in declared and pid not in self.recovered_ids and pid not in self.processes:
                add(key, pid, f"no BPMN process {pid!r} in the pack")
        if not declared & {"rollout.process", "rollout.steps"}:
            return
        rollout = features.rollout
        pid = rollout.process
        if not pid:
            add("rollout.process", "-", "a roll-out programme needs its process")
            return
        if pid in self.recovered_ids:
            return
        if pid not in self.processes:
            add("rollout.process", pid, f"no BPMN process {pid!r} in the pack")
            return
        if self.processes[pid][1].get("isExecutable", "true") != "true":
            add("rollout.process", pid, f"process {pid!r} is not executable")
            return
        tasks = {t.get("id") for t in self.processes[pid][1].iterfind(".//bpmn:userTask", NSMAP)}
        if not rollout.steps:
            add("rollout.steps", pid, "a roll-out programme needs its steps")
        for n, step in enumerate(rollout.steps, start=1):
            for task_id in (step.task, step.review):
                if task_id and task_id not in tasks:
                    add("rollout.steps", task_id, f"steps[{n}] ({step.label}): no user task "
                                                  f"{task_id!r} in process {pid!r}")

    def check_training_catalog(self, add: Callable[[str, str, str], None]) -> None:
        """A declared training catalog is a catalog file of the pack, and the managers' course
        one of its courses (the training pages would otherwise show an empty catalog, and
        nobody as having taken the appraisal-skills course)."""
        training, declared = self.pack.features.training, self.pack.features.declared
        if not declared & {"training.catalog", "training.manager_course"}:
            return
        rel = f"catalogs/{training.catalog}.toml"
        if rel not in self.pack.files:
            add("training.catalog", training.catalog, f"no catalog {rel} in the pack")
            return
        try:
            courses = tomllib.loads(self.pack.read_text(rel)).get("courses")
        except tomllib.TOMLDecodeError:
            return  # check_catalogs reports it
        if not isinstance(courses, dict) or not courses:
            add("training.catalog", training.catalog, f"{rel} has no [courses.<code>] tables")
        elif training.manager_course and training.manager_course not in courses:
            add("training.manager_course", training.manager_course,
                f"no course {training.manager_course!r} in {rel}")

    def check_review_steps(self, add: Callable[[str, str, str], None]) -> None:
        """Each declared review step names a process of the pack, user or manual tasks of
        that process, and a signal some event catches."""
        for n, step in enumerate(self.pack.features.review.steps, start=1):
            where = f"steps[{n}] ({step.label})"
            if step.process in self.recovered_ids:
                continue
            if step.process not in self.processes:
                add("review.steps", step.process,
                    f"{where}: no BPMN process {step.process!r} in the pack")
                continue
            process = self.processes[step.process][1]
            tasks = {t.get("id") for tag in ("userTask", "manualTask")
                     for t in process.iterfind(f".//bpmn:{tag}", NSMAP)}
            for task_id in step.tasks:
                if task_id not in tasks:
                    add("review.steps", task_id,
                        f"{where}: no user task {task_id!r} in process {step.process!r}")
            if step.signal and not self.signal_caught(step.signal):
                add("review.steps", step.signal,
                    f"{where}: no event of the pack catches the signal {step.signal!r}")

    def signal_caught(self, name: str) -> bool:
        """Whether a catching event (intermediate, boundary or start) waits for signal `name`."""
        for rel, root in self.documents.items():
            if not rel.endswith(".bpmn"):
                continue
            ids = {s.get("id") for s in root.iter(f"{{{BPMN_NS}}}signal")
                   if s.get("name") == name}
            if not ids:
                continue
            for tag in ("intermediateCatchEvent", "boundaryEvent", "startEvent"):
                for event in root.iter(f"{{{BPMN_NS}}}{tag}"):
                    for definition in event.iterfind("bpmn:signalEventDefinition", NSMAP):
                        if definition.get("signalRef") in ids:
                            return True
        return False

    def recover_ids(self, rel: str) -> None:
        parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True)
        try:
            root = etree.fromstring(self.pack.read_text(rel).encode("utf-8"), parser)
        except (etree.XMLSyntaxError, UnicodeDecodeError):
            root = None
        if root is not None:
            self.recovered_ids |= {
                e.get("id") for e in root.iter() if _local(e) in ("process", "decision")
            }

    def used_lanes(self) -> list[tuple[str, int, str]]:
        found = []
        for rel, process in self.processes.values():
            for lane in process.iterfind(".//bpmn:lane", NSMAP):
                if lane.get("name"):
                    found.append((rel, lane.sourceline or 0, lane.get("name")))
        return found

    # -- BPMN -----------------------------------------------------------------------------

    def check_bpmn(self, rel: str, root: etree._Element) -> None:
        processes = list(root.iter(f"{{{BPMN_NS}}}process"))
        if not any(p.get("isExecutable", "true") == "true" for p in processes):
            self.add(rel, root.sourceline, root.get("id"), "no executable process in this file")
        for process in processes:
            self.check_process(rel, process)

    def check_process(self, rel: str, process: etree._Element) -> None:
        for task in process.iterfind(".//bpmn:userTask", NSMAP):
            self.check_user_task(rel, task)
        for task in process.iterfind(".//bpmn:manualTask", NSMAP):
            self.check_properties(rel, task)
        for element in process.iter():
            if not isinstance(element.tag, str):
                continue
            for name in ("preScript", "postScript"):
                node = element.find(f"bpmn:extensionElements/spiffworkflow:{name}", NSMAP)
                if node is not None:
                    self.check_script(rel, element.get("id"), node, "exec", name)
        for task in process.iterfind(".//bpmn:scriptTask", NSMAP):
            node = task.find("bpmn:script", NSMAP)
            if node is None or not (node.text or "").strip():
                self.add(rel, task.sourceline, task.get("id"), "script task has no script")
            else:
                self.check_script(rel, task.get("id"), node, "exec", "script")
        for flow in process.iterfind(".//bpmn:sequenceFlow", NSMAP):
            node = flow.find("bpmn:conditionExpression", NSMAP)
            if node is not None and (node.text or "").strip():
                self.check_script(rel, flow.get("id"), node, "eval", "condition")
        for timer in process.iterfind(".//bpmn:timerEventDefinition", NSMAP):
            event = timer.getparent()
            for node in timer:
                if isinstance(node.tag, str) and (node.text or "").strip():
                    kind = etree.QName(node).localname
                    self.check_script(rel, event.get("id"), node, "eval", f"timer {kind}")
        for rule in process.iterfind(".//bpmn:businessRuleTask", NSMAP):
            self.check_business_rule(rel, rule)
        for call in process.iterfind(".//bpmn:callActivity", NSMAP):
            called = call.get("calledElement")
            if not called:
                self.add(rel, call.sourceline, call.get("id"), "call activity has no calledElement")
            elif called not in self.processes and called not in self.recovered_ids:
                self.add(rel, call.sourceline, call.get("id"),
                         f"calls {called!r}, which is not a process of the pack")

    def check_user_task(self, rel: str, task: etree._Element) -> None:
        properties = self.check_properties(rel, task)
        schema = properties.get("formJsonSchemaFilename")
        if not schema:
            self.add(rel, task.sourceline, task.get("id"),
                     "user task has no form (property formJsonSchemaFilename)")
        for key, kind in (("formJsonSchemaFilename", "schema"), ("formUiSchemaFilename", "ui")):
            name = properties.get(key)
            if not name:
                continue
            found = self.pack.find_form(name, near=rel)
            if found is None:
                self.add(rel, task.sourceline, task.get("id"),
                         f"form file {name!r} not found (looked next to {rel} and in forms/)")
            else:
                self.check_form(found, kind)

    def check_properties(self, rel: str, task: etree._Element) -> dict[str, str]:
        properties: dict[str, str] = {}
        for prop in task.iterfind(
            "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NSMAP
        ):
            name, value = prop.get("name"), prop.get("value", "")
            if name is None:
                continue
            properties[name] = value
            if name == "dueIn" and not _DURATION.fullmatch(value.strip()):
                self.add(rel, prop.sourceline, task.get("id"),
                         f"dueIn {value!r} is not an ISO 8601 duration such as P14D")
            elif name == "dueDate":
                self.check_script(rel, task.get("id"), prop, "eval", "dueDate", text=value)
        return properties

    def check_business_rule(self, rel: str, rule: etree._Element) -> None:
        node = rule.find("bpmn:extensionElements/spiffworkflow:calledDecisionId", NSMAP)
        decision = (node.text or "").strip() if node is not None else ""
        if not decision:
            self.add(rel, rule.sourceline, rule.get("id"),
                     "business rule task has no calledDecisionId")
        elif decision not in self.decisions and decision not in self.recovered_ids:
            known = ", ".join(sorted(self.decisions)) or "none"
            self.add(rel, (node.sourceline if node is not None else rule.sourceline),
                     rule.get("id"), f"calledDecisionId {decision!r} is unknown (known: {known})")

    def check_script(self, rel: str, element_id: str | None, node: etree._Element, mode: str,
                     what: str, text: str | None = None) -> None:
        from engine.scripts.sandbox import check_script

        raw = (node.text if text is None else text) or ""
        # Lines skipped before the script's first line keep problem lines true to the file.
        skipped = len(raw) - len(raw.lstrip("\n"))
        source = textwrap.dedent(raw.lstrip("\n")).rstrip()
        for problem in check_script(source, mode):  # type: ignore[arg-type]
            offset = skipped + max(problem.line - 1, 0)
            line = node.sourceline + offset if node.sourceline else 0
            self.add(rel, line, element_id, f"{what}: {problem.message}")

    # -- forms ----------------------------------------------------------------------------

    def check_form(self, rel: str, kind: str) -> None:
        if rel in self.checked_forms:
            return
        self.checked_forms.add(rel)
        text = self.pack.read_text(rel)
        try:
            rendered = render_bounded(text, {}, "form file")
        except limits.LimitExceeded as error:
            self.add(rel, 0, "-", f"template error: {error}")
            return
        except jinja2.TemplateSyntaxError as error:
            self.add(rel, error.lineno, "-", f"template error: {error.message}")
            return
        except jinja2.TemplateError as error:
            self.add(rel, 0, "-", f"template error: {error}")
            return
        try:
            document = json.loads(rendered)
        except json.JSONDecodeError as error:
            self.add(rel, error.lineno, "-", f"not valid JSON: {error.msg}")
            return
        if not isinstance(document, dict):
            self.add(rel, 1, "-", "a form file must hold a JSON object")
            return
        if kind == "schema":
            validator = jsonschema.validators.validator_for(
                document, default=jsonschema.Draft202012Validator
            )
            try:
                validator.check_schema(document)
            except jsonschema.SchemaError as error:
                where = "/".join(str(p) for p in error.absolute_path) or "(root)"
                self.add(rel, _json_line(text, error.absolute_path), where,
                         f"not a valid JSON Schema: {error.message}")

    # -- DMN ------------------------------------------------------------------------------

    def check_dmn(self) -> None:
        from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
        from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

        for rel in self.pack.dmn_files():
            root = self.documents.get(rel)
            if root is None:
                continue
            decisions = [d for d in root.iter() if _local(d) == "decision"]
            if not decisions:
                self.add(rel, root.sourceline, root.get("id"), "no decision in this DMN file")
                continue
            for decision in decisions:
                did = decision.get("id")
                if did in self.decisions:
                    self.add(rel, decision.sourceline, did,
                             f"decision id also defined in {self.decisions[did]}")
                else:
                    self.decisions[did] = rel
            parser = SpiffBpmnParser()
            try:
                parser.add_dmn_xml(root, filename=rel)
                for dmn_parser in parser.dmn_parsers.values():
                    dmn_parser.parse()
            except (ValidationException, KeyError, ValueError, SyntaxError, AttributeError,
                    IndexError, TypeError) as error:
                element = getattr(error, "id", "") or decisions[0].get("id")
                message = str(error.args[0] if error.args else error).strip(" .")
                self.add(rel, _line_of_id(root, element), element, f"DMN does not parse: {message}")
                continue
            self.check_dmn_cells(rel, root)

    def check_dmn_cells(self, rel: str, root: etree._Element) -> None:
        from engine.scripts.sandbox import check_script

        for element in root.iter():
            name = _local(element) if isinstance(element.tag, str) else ""
            if name not in ("inputExpression", "inputEntry", "outputEntry"):
                continue
            text_node = next((c for c in element if _local(c) == "text"), None)
            cell = (text_node.text or "").strip() if text_node is not None else ""
            if not cell or cell == "-":
                continue
            problems = check_script(cell, "eval")
            if problems and name == "inputEntry":
                # SpiffWorkflow reads `>= 3` and `?` cells as tests against the input value.
                candidate = re.sub(r"\?", "dmninputexpr", cell)
                problems = check_script(candidate, "eval") and check_script(
                    f"dmninputexpr {candidate}", "eval"
                )
            for problem in problems:
                line = text_node.sourceline if text_node is not None else element.sourceline
                self.add(rel, line, element.get("id"), f"DMN cell: {problem.message}")

    # -- whole-process parse --------------------------------------------------------------

    def check_with_spiffworkflow(self) -> None:
        """Parse every executable process as the engine will, for what the checks above miss."""
        from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
        from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

        parser = SpiffBpmnParser()
        added = set()
        for rel in self.pack.bpmn_files():
            root = self.documents.get(rel)
            if root is None:
                continue
            for error in _schema_errors(VALIDATOR.validator, root):
                self.add(rel, error.line, "-", f"not valid BPMN: {error.message}")
            try:
                parser.add_bpmn_xml(root, filename=rel)
                added.add(rel)
            except ValidationException as error:
                self.add_spiff_error(rel, root, error)
        for rel in self.pack.dmn_files():
            if rel in self.documents and _local(self.documents[rel]) == "definitions":
                try:
                    parser.add_dmn_xml(self.documents[rel], filename=rel)
                except (ValidationException, IndexError):
                    pass  # reported by check_dmn
        for pid, (rel, process) in self.processes.items():
            if rel not in added or process.get("isExecutable", "true") != "true":
                continue
            try:
                parser.get_spec(pid)
            except ValidationException as error:
                self.add_spiff_error(rel, self.documents[rel], error)
            except Exception as error:  # noqa: BLE001 - any parse failure is a pack problem
                self.add(rel, process.sourceline, pid, f"does not parse: {error}")

    def add_spiff_error(self, rel: str, root: etree._Element, error: Any) -> None:
        element = getattr(error, "id", "") or "-"
        known = {(p.file, p.element_id) for p in self.problems}
        if (error.file_name or rel, element) in known:
            return  # the specific check already said it better
        line = _line_of_id(root, element) or (error.line_number or 0)
        self.add(error.file_name or rel, line if isinstance(line, int) else 0, element,
                 str(error.args[0] if error.args else error))

    # -- catalogs and tests ---------------------------------------------------------------

    def check_catalogs(self) -> None:
        for rel in self.pack.files:
            if rel.startswith("catalogs/") and rel.endswith(".toml"):
                try:
                    tomllib.loads(self.pack.read_text(rel))
                except tomllib.TOMLDecodeError as error:
                    match = re.search(r"\(at line (\d+), column \d+\)", str(error))
                    message = str(error).replace(match.group(0), "").strip() if match else error
                    self.add(rel, int(match.group(1)) if match else 0, "-",
                             f"invalid TOML: {message}")

    def check_tests(self) -> None:
        for rel in self.pack.test_files():
            text = self.pack.read_text(rel)
            try:
                cases = json.loads(text)
            except json.JSONDecodeError as error:
                self.add(rel, error.lineno, "-", f"not valid JSON: {error.msg}")
                continue
            if not isinstance(cases, dict):
                self.add(rel, 1, "-", "a test file must map case names to cases")
                continue
            for name, case in cases.items():
                if not isinstance(case, dict) or not isinstance(case.get("tasks", {}), dict):
                    self.add(rel, _json_line(text, [name]), name,
                             "a test case must be an object with a 'tasks' object")




def _schema_errors(schema: etree.XMLSchema, root: etree._Element) -> Iterator[Any]:
    if schema.validate(root):
        return iter(())
    return iter(list(schema.error_log))


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _line_of_id(root: etree._Element, element_id: str) -> int:
    if not element_id or element_id == "-":
        return 0
    for element in root.iter():
        if isinstance(element.tag, str) and element.get("id") == element_id:
            return element.sourceline or 0
    return 0


def _toml_line(pack: Pack, key: str) -> int:
    try:
        lines = (pack.root / MANIFEST).read_text(encoding="utf-8").splitlines()
    except OSError:
        return 0
    escaped = re.escape(key)
    pattern = re.compile(rf'^\s*(\[[\w.-]*\.["\']?{escaped}["\']?\]|["\']?{escaped}["\']?\s*=)')
    return next((n for n, line in enumerate(lines, start=1) if pattern.search(line)), 0)


def _json_line(text: str, path: Any) -> int:
    """Best-effort line of a JSON path: each key is searched for after the previous one."""
    lines = text.splitlines()
    found = 1
    for key in (p for p in path if isinstance(p, str)):
        pattern = re.compile(re.escape(json.dumps(key)) + r"\s*:")
        found = next((n for n in range(found, len(lines) + 1) if pattern.search(lines[n - 1])),
                     found)
    return found
