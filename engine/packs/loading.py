"""Process packs: a folder of BPMN, DMN, forms and catalogs with a pack.toml manifest.

A SpiffArena process-model folder (process_model.json) is accepted as a pack as it is.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path, PurePosixPath
from typing import Any

from lxml import etree

MANIFEST = "pack.toml"
SPIFF_MANIFEST = "process_model.json"
NAME_PATTERN = re.compile(r"[a-z0-9-]+")
START_MODES = ("per-employee", "self")
# Lanes of a SpiffArena process-model folder without pack.toml all go to whoever started it.
SPIFF_DEFAULT_LANE = "starter"

_BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


class PackError(Exception):
    """A pack cannot be loaded; carries the file (relative to the pack) and line when known."""

    def __init__(self, message: str, file: str = MANIFEST, line: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


# -- features a pack declares ----------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackFeature:
    """The process the feedback page starts, and the steps it acts on."""

    process: str = "feedback"
    # The first step: the page's own form (give or ask, which colleague) completes it.
    choose_task: str = "choose_feedback"
    # Where someone giving feedback goes next.
    write_task: str = "write_feedback"
    # The colleague's step when feedback was asked for (listed as open requests).
    requested_task: str = "write_requested_feedback"
    # The receiver's step to acknowledge or reply (feedback they may read); the feedback page
    # completes it with its own Acknowledge and Reply buttons.
    respond_task: str = "respond_feedback"


@dataclass(frozen=True)
class RecognitionFeature:
    """The process the recognition page starts to praise a colleague, and its one step."""

    process: str = "recognition"
    # The first and only user task: the page's own form (colleague, message, tag,
    # visibility) completes it.
    give_task: str = "give_recognition"


@dataclass(frozen=True)
class YearContextFeature:
    """The user tasks whose page shows "the year so far" for the subject: feedback,
    check-ins and praise of the cycle's period, each as the viewer may read it."""

    tasks: tuple[str, ...] = (
        "self_appraisal", "manager_appraisal", "hr_mediation", "appraisal_discussion",
    )


@dataclass(frozen=True)
class DevelopmentFeature:
    """The processes the development page starts, and the steps it lists or opens."""

    plan_process: str = "development_plan"
    # The manager's first step of a plan, opened right after starting it.
    agree_task: str = "agree_plan"
    # One development action, listed as an open action of its owner.
    action_task: str = "complete_action"
    checkin_process: str = "checkin"
    # The starter's first step of a check-in, opened right after starting it.
    checkin_task: str = "record_checkin"


@dataclass(frozen=True)
class CalibrationFeature:
    """The signal HR sends to release calibrated ratings to the appraisals waiting for it."""

    release_signal: str = "ratings_released"


@dataclass(frozen=True)
class RecordsFeature:
    """Record kinds (written by `write_record`) that dashboards, score cards and exports read,
    and the answer field that holds a person's potential."""

    final_rating: str = "final_rating"
    proposed_rating: str = "proposed_rating"
    kpi_results: str = "kpi_results"
    development_plan: str = "development_plan"
    feedback: str = "feedback"
    # The receiver's acknowledgement or reply, written by the feedback process's instance.
    feedback_response: str = "feedback_response"
    # Praise for a colleague (`from_id`, `about_id`, `message`, `tag`, `visibility`).
    recognition: str = "recognition"
    # A check-in between cycles (`by_id`, `with_id`, `topics`, `next_steps` …).
    checkin: str = "checkin"
    # A field of the final rating record, or of a completed task's answers.
    potential_field: str = "potential"
    # The year-end's competency ratings (`job_family`, the manager's `ratings`,
    # `self_ratings`; `calibrated_ratings` when calibration adjusts them), read by gap analysis.
    competency_ratings: str = "competency_ratings"


@dataclass(frozen=True)
class ProgressFeature:
    """In-year progress: the process through which a person's objectives change during the
    year (the score card links to it), and its first step, opened right after starting it."""

    change_process: str = "objective_change"
    propose_task: str = "propose_change"


@dataclass(frozen=True)
class TalentFeature:
    """Potential, talent review and succession: the process HR launches to assess potential
    and risk of loss, and the record kinds the talent pages read and write — a person's
    potential and risk of loss (written by that process), a move on the 9-box made in a
    talent review meeting, and a promotion."""

    review_process: str = "talent_review"
    potential_record: str = "potential"
    risk_record: str = "risk_of_loss"
    placement_record: str = "talent_placement"
    promotion_record: str = "promotion"


@dataclass(frozen=True)
class GapsFeature:
    """Gap analysis in the development plan: the user task whose page suggests actions and
    courses for the subject's competency gaps, and where an accepted suggestion goes in that
    task's form — a new row of the table `actions_field`, the competency in `goal_column`,
    the action in `action_column`, a course in `training_column` and a proposed due date in
    `due_column`."""

    plan_task: str = "agree_plan"
    actions_field: str = "actions"
    goal_column: str = "goal"
    action_column: str = "action"
    training_column: str = "training"
    due_column: str = "due_date"


@dataclass(frozen=True)
class TrainingFeature:
    """Training (the /training pages): the request process the catalog's "Request this course"
    starts and its first step, the record kind whose writing enrols the person (its `course`
    code and `session` "session:<id>"), the catalog of courses the pack ships, and the course
    every people manager is expected to take (the appraisal and coaching skills course)."""

    process: str = "training_request"
    request_task: str = "request_training"
    enrolment_record: str = "training_enrolment"
    catalog: str = "courses"
    manager_course: str = "appraisal_coaching_skills"


# The cadences a recurring 1:1 may have, and how each one steps to the next meeting.
ONE_ON_ONE_CADENCES = ("weekly", "fortnightly", "monthly")


@dataclass(frozen=True)
class OneOnOnesFeature:
    """Recurring 1:1s: the process that drives each meeting (its reminder and the manager's
    "Hold the 1:1" task), the signal that cancels a meeting's instance when it is skipped or
    its series ends, the record kind a held meeting writes, the cadences a series may have and
    how long before a meeting both people are reminded (an ISO 8601 duration)."""

    process: str = "one_on_one"
    hold_task: str = "hold_one_on_one"
    cancel_signal: str = "one_on_one_cancelled"
    record: str = "one_on_one"
    cadences: tuple[str, ...] = ONE_ON_ONE_CADENCES
    reminder: str = "P1D"


@dataclass(frozen=True)
class CalendarFeature:
    """The user task whose form schedules a meeting (the appraisal discussion): when a draft
    or the completion of that task sets or changes the date-time in `field`, the engine sends
    the task's holder (organiser) and its subject a calendar invitation of `duration_minutes`
    titled `title`. A pack without the task simply never schedules one."""

    task: str = "appraisal_discussion"
    field: str = "discussion_at"
    duration_minutes: int = 60
    title: str = "Appraisal discussion"


# A meeting a form schedules lasts at least a minute and at most a working day.
MAX_MEETING_MINUTES = 8 * 60


def _duration_minutes(value: Any) -> tuple[int | None, str]:
    """`[features.calendar] duration_minutes` checked: (minutes, error)."""
    if isinstance(value, bool) or not isinstance(value, int) or not (
        1 <= value <= MAX_MEETING_MINUTES
    ):
        return None, (f"features.calendar.duration_minutes must be a whole number of minutes "
                      f"from 1 to {MAX_MEETING_MINUTES}, not {value!r}")
    return value, ""


_ISO_DURATION = re.compile(
    r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$"
)


def _one_on_one_value(key: str, value: Any) -> tuple[Any, str]:
    """A `[features.one_on_ones]` cadences or reminder value checked: (value, error)."""
    where = f"features.one_on_ones.{key}"
    if key == "cadences":
        if (not isinstance(value, list) or not value
                or not all(isinstance(v, str) for v in value)):
            return None, f"{where} must be a non-empty array such as [\"weekly\", \"monthly\"]"
        unknown = [v for v in value if v not in ONE_ON_ONE_CADENCES]
        if unknown:
            return None, (f"{where}: {unknown[0]!r} is not a cadence "
                          f"(known: {', '.join(ONE_ON_ONE_CADENCES)})")
        return tuple(dict.fromkeys(value)), ""
    if not isinstance(value, str) or not _ISO_DURATION.match(value.strip().upper()):
        return None, f"{where} must be an ISO 8601 duration such as \"P1D\", not {value!r}"
    return value.strip().upper(), ""


@dataclass(frozen=True)
class ReviewStep:
    """One step of a person's review as the "My review" tracker shows it: a label, the
    process it happens in, and the user tasks (or the signal an instance waits for) that are
    this step."""

    label: str
    process: str
    tasks: tuple[str, ...] = ()
    signal: str = ""

    def as_table(self) -> dict[str, Any]:
        """The step as the `{label=…, process=…, tasks=[…]}` table it came from."""
        table: dict[str, Any] = {"label": self.label, "process": self.process}
        if self.tasks:
            table["tasks"] = list(self.tasks)
        if self.signal:
            table["signal"] = self.signal
        return table


def _step(label: str, process: str, *tasks: str, signal: str = "") -> ReviewStep:
    return ReviewStep(label, process, tuple(tasks), signal)


# The standard pack's steps: objectives, the mid-year review, then the year-end appraisal.
STANDARD_REVIEW_STEPS: tuple[ReviewStep, ...] = (
    _step("Objectives", "objective_setting", "draft_objectives", "review_objectives",
          "escalated_review", "acknowledge_objectives"),
    _step("KPI actuals", "mid_year_review", "update_actuals"),
    _step("Check-in", "mid_year_review", "manager_checkin", "development_plan",
          "revise_midyear_objectives", "review_revision"),
    _step("Mid-year sign-off", "mid_year_review", "employee_signoff", "manager_signoff"),
    _step("Self-appraisal", "year_end_appraisal", "self_appraisal"),
    _step("Manager appraisal", "year_end_appraisal", "manager_appraisal", "hr_mediation"),
    _step("Calibration", "year_end_appraisal", signal="ratings_released"),
    _step("Discussion", "year_end_appraisal", "appraisal_discussion"),
    _step("Sign-off", "year_end_appraisal", "employee_signoff", "hr_review", "hr_final_approval"),
)
REVIEW_STEP_KEYS = ("label", "process", "tasks", "signal")


@dataclass(frozen=True)
class ReviewFeature:
    """The steps of a person's review in a cycle, in order (the "My review" tracker). Only
    the steps of processes the person has in the cycle are shown."""

    steps: tuple[ReviewStep, ...] = STANDARD_REVIEW_STEPS


def _review_steps(value: Any) -> tuple[tuple[ReviewStep, ...], list[str]]:
    """`[features.review] steps` checked: the steps, and what is wrong with them."""
    if not isinstance(value, list) or not value:
        return (), ["features.review.steps must be a non-empty array of tables "
                    "({label=\"…\", process=\"…\", tasks=[\"…\"]})"]
    steps: list[ReviewStep] = []
    errors: list[str] = []
    for n, item in enumerate(value, start=1):
        where = f"features.review.steps[{n}]"
        if not isinstance(item, Mapping):
            errors.append(f"{where} must be a table {{label=…, process=…, tasks=[…]}}")
            continue
        unknown = [k for k in item if k not in REVIEW_STEP_KEYS]
        if unknown:
            errors.append(f"{where}.{unknown[0]} is not a key of a review step "
                          f"(known: {', '.join(REVIEW_STEP_KEYS)})")
            continue
        label, process = item.get("label"), item.get("process")
        tasks, signal = item.get("tasks", []), item.get("signal", "")
        if not isinstance(label, str) or not label.strip():
            errors.append(f"{where}.label must be a non-empty string")
        elif not isinstance(process, str) or not process.strip():
            errors.append(f"{where}.process must be a non-empty string")
        elif not isinstance(tasks, list) or not all(
            isinstance(t, str) and t.strip() for t in tasks
        ):
            errors.append(f"{where}.tasks must be an array of task ids")
        elif not isinstance(signal, str):
            errors.append(f"{where}.signal must be a string")
        elif not tasks and not signal.strip():
            errors.append(f"{where} names neither tasks nor a signal: the tracker could "
                          "never tell when this step is reached")
        else:
            steps.append(ReviewStep(label.strip(), process.strip(),
                                    tuple(t.strip() for t in tasks), signal.strip()))
    return tuple(steps), errors


@dataclass(frozen=True)
class RolloutStep:
    """One step of a roll-out programme as its page shows it: a label, the user task that is
    the step's work, and the steering committee's review of it (optional)."""

    label: str
    task: str
    review: str = ""

    def as_table(self) -> dict[str, Any]:
        """The step as the `{label=…, task=…, review=…}` table it came from."""
        table = {"label": self.label, "task": self.task}
        if self.review:
            table["review"] = self.review
        return table


ROLLOUT_STEP_KEYS = ("label", "task", "review")


@dataclass(frozen=True)
class RolloutFeature:
    """A roll-out programme a pack installed beside the performance pack runs (the roll-out
    pack): its process, the steps its page tracks in order, and the form fields holding each
    step's evidence and notes. A pack without one (`process` empty) runs no programme."""

    process: str = ""
    steps: tuple[RolloutStep, ...] = ()
    evidence_field: str = "evidence"
    notes_field: str = "notes"


def _rollout_steps(value: Any) -> tuple[tuple[RolloutStep, ...], list[str]]:
    """`[features.rollout] steps` checked: the steps, and what is wrong with them."""
    if not isinstance(value, list) or not value:
        return (), ["features.rollout.steps must be a non-empty array of tables "
                    "({label=\"…\", task=\"…\", review=\"…\"})"]
    steps: list[RolloutStep] = []
    errors: list[str] = []
    for n, item in enumerate(value, start=1):
        where = f"features.rollout.steps[{n}]"
        if not isinstance(item, Mapping):
            errors.append(f"{where} must be a table {{label=…, task=…}}")
            continue
        unknown = [k for k in item if k not in ROLLOUT_STEP_KEYS]
        if unknown:
            errors.append(f"{where}.{unknown[0]} is not a key of a programme step "
                          f"(known: {', '.join(ROLLOUT_STEP_KEYS)})")
            continue
        label, task, review = item.get("label"), item.get("task"), item.get("review", "")
        if not isinstance(label, str) or not label.strip():
            errors.append(f"{where}.label must be a non-empty string")
        elif not isinstance(task, str) or not task.strip():
            errors.append(f"{where}.task must be a non-empty string")
        elif not isinstance(review, str):
            errors.append(f"{where}.review must be a string")
        else:
            steps.append(RolloutStep(label.strip(), task.strip(), review.strip()))
    return tuple(steps), errors


@dataclass(frozen=True)
class AdoptionFeature:
    """What the roll-out's adoption dashboard counts in a performance pack: the process in
    which objectives are agreed, and the year-end appraisal."""

    objectives_process: str = "objective_setting"
    appraisal_process: str = "year_end_appraisal"


_FEATURE_SECTIONS: dict[str, type[Any]] = {
    "feedback": FeedbackFeature,
    "development": DevelopmentFeature,
    "calibration": CalibrationFeature,
    "records": RecordsFeature,
    "review": ReviewFeature,
    "progress": ProgressFeature,
    "recognition": RecognitionFeature,
    "year_context": YearContextFeature,
    "one_on_ones": OneOnOnesFeature,
    "calendar": CalendarFeature,
    "training": TrainingFeature,
    "gaps": GapsFeature,
    "talent": TalentFeature,
    "rollout": RolloutFeature,
    "adoption": AdoptionFeature,
}


@dataclass(frozen=True)
class Features:
    """What pages and dashboards act on, by id: the pack's `[features]` tables, with the
    standard pack's conventional id wherever a key is absent."""

    feedback: FeedbackFeature = field(default_factory=FeedbackFeature)
    development: DevelopmentFeature = field(default_factory=DevelopmentFeature)
    calibration: CalibrationFeature = field(default_factory=CalibrationFeature)
    records: RecordsFeature = field(default_factory=RecordsFeature)
    review: ReviewFeature = field(default_factory=ReviewFeature)
    progress: ProgressFeature = field(default_factory=ProgressFeature)
    recognition: RecognitionFeature = field(default_factory=RecognitionFeature)
    year_context: YearContextFeature = field(default_factory=YearContextFeature)
    one_on_ones: OneOnOnesFeature = field(default_factory=OneOnOnesFeature)
    calendar: CalendarFeature = field(default_factory=CalendarFeature)
    training: TrainingFeature = field(default_factory=TrainingFeature)
    gaps: GapsFeature = field(default_factory=GapsFeature)
    talent: TalentFeature = field(default_factory=TalentFeature)
    rollout: RolloutFeature = field(default_factory=RolloutFeature)
    adoption: AdoptionFeature = field(default_factory=AdoptionFeature)
    # Keys the pack declared ("feedback.process" ...): validation checks only these.
    declared: frozenset[str] = frozenset()

    @classmethod
    def from_table(cls, table: Any) -> tuple[Features, list[tuple[str, str]]]:
        """Features from a `[features]` table, and what is wrong with it: (dotted key,
        message naming it) pairs."""
        errors: list[tuple[str, str]] = []
        if table is None:
            return cls(), errors
        if not isinstance(table, Mapping):
            return cls(), [("", "[features] must be a table")]
        sections: dict[str, Any] = {}
        declared: set[str] = set()
        for section, values in table.items():
            kind = _FEATURE_SECTIONS.get(section)
            if kind is None:
                errors.append((section, f"[features.{section}] is not a feature (known: "
                                        f"{', '.join(_FEATURE_SECTIONS)})"))
                continue
            if not isinstance(values, Mapping):
                errors.append((section, f"[features.{section}] must be a table"))
                continue
            known = [f.name for f in fields(kind)]
            chosen: dict[str, Any] = {}
            for key, value in values.items():
                if key not in known:
                    errors.append((f"{section}.{key}", f"features.{section}.{key} is not a key "
                                   f"of [features.{section}] (known: {', '.join(known)})"))
                elif section == "review":
                    steps, problems = _review_steps(value)
                    errors.extend((f"{section}.{key}", problem) for problem in problems)
                    if not problems:
                        chosen[key] = steps
                        declared.add(f"{section}.{key}")
                elif section == "rollout" and key == "steps":
                    rollout_steps, problems = _rollout_steps(value)
                    errors.extend((f"{section}.{key}", problem) for problem in problems)
                    if not problems:
                        chosen[key] = rollout_steps
                        declared.add(f"{section}.{key}")
                elif section == "one_on_ones" and key in ("cadences", "reminder"):
                    checked, problem = _one_on_one_value(key, value)
                    if problem:
                        errors.append((f"{section}.{key}", problem))
                    else:
                        chosen[key] = checked
                        declared.add(f"{section}.{key}")
                elif section == "calendar" and key == "duration_minutes":
                    minutes, problem = _duration_minutes(value)
                    if problem:
                        errors.append((f"{section}.{key}", problem))
                    else:
                        chosen[key] = minutes
                        declared.add(f"{section}.{key}")
                elif section == "year_context":
                    # A list of user task ids.
                    if not isinstance(value, list) or not all(
                        isinstance(v, str) and v.strip() for v in value
                    ):
                        errors.append((f"{section}.{key}", f"features.{section}.{key} must be "
                                       "an array of user task ids"))
                    else:
                        chosen[key] = tuple(v.strip() for v in value)
                        declared.add(f"{section}.{key}")
                elif not isinstance(value, str) or not value.strip():
                    errors.append((f"{section}.{key}",
                                   f"features.{section}.{key} must be a non-empty string"))
                else:
                    chosen[key] = value.strip()
                    declared.add(f"{section}.{key}")
            sections[section] = replace(kind(), **chosen)
        return cls(**sections, declared=frozenset(declared)), errors

    def as_table(self) -> dict[str, dict[str, Any]]:
        """Every feature as a `[features]` table."""
        return {
            section: {f.name: _table_value(getattr(getattr(self, section), f.name))
                      for f in fields(getattr(self, section))}
            for section in _FEATURE_SECTIONS
        }

    def overrides(self) -> dict[str, dict[str, Any]]:
        """The features that differ from the conventional ids (what a deployed version
        stores: a pack using the conventional ids stores nothing)."""
        standard = Features().as_table()
        found: dict[str, dict[str, Any]] = {}
        for section, values in self.as_table().items():
            changed = {k: v for k, v in values.items() if standard[section][k] != v}
            if changed:
                found[section] = changed
        return found

    def lookup(self, key: str) -> str:
        """The id a dotted key ("feedback.process") names."""
        section, _, name = key.partition(".")
        return str(getattr(getattr(self, section), name))


def _table_value(value: Any) -> Any:
    """A feature's value as TOML (and a deployed version's JSON) holds it."""
    if isinstance(value, tuple):
        return [step.as_table() if isinstance(step, ReviewStep | RolloutStep) else step
                for step in value]
    return value


def merge_feature_tables(parent: Any, child: Any) -> Any:
    """A child pack's `[features]` over its parent's, key by key within each section."""
    if not isinstance(parent, Mapping) or not isinstance(child, Mapping):
        return child if child is not None else parent
    merged: dict[str, Any] = {k: dict(v) if isinstance(v, Mapping) else v
                              for k, v in parent.items()}
    for section, values in child.items():
        if isinstance(values, Mapping) and isinstance(merged.get(section), dict):
            merged[section] = {**merged[section], **values}
        else:
            merged[section] = values
    return merged


def catalogs_from_sources(sources: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Every catalog (catalogs/<name>.toml) among a pack's or a deployed version's files,
    parsed, by name."""
    found: dict[str, dict[str, Any]] = {}
    for rel in sorted(sources):
        if rel.startswith("catalogs/") and rel.endswith(".toml") and rel.count("/") == 1:
            found[PurePosixPath(rel).stem] = _parse_toml(sources[rel], rel)
    return found


@dataclass
class ProcessSettings:
    """How one startable process is offered: its title, who it is for and who may start it."""

    title: str
    start: str = "per-employee"
    starters: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The settings as the plain table they came from (stored with a deployed version)."""
        return {"title": self.title, "start": self.start, "starters": list(self.starters),
                **self.extra}


@dataclass
class Pack:
    """A loaded pack: manifest settings plus every file, after the `extends` merge."""

    name: str
    version: str
    title: str
    root: Path
    extends: str | None = None
    files: dict[str, Path] = field(default_factory=dict)
    lanes: dict[str, str] = field(default_factory=dict)
    processes: dict[str, ProcessSettings] = field(default_factory=dict)
    # True for a SpiffArena process-model folder (tests sit next to the BPMN, not in tests/).
    spiff_model: bool = False
    # Resolver for a lane the manifest does not name (SpiffArena folders only).
    default_lane: str | None = None
    # Problems met while loading leniently; load_pack raises the first one instead.
    problems: list[PackError] = field(default_factory=list, repr=False)
    # [processes] tables as written in this pack's own manifest, for merging over a parent.
    own_process_tables: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    # What pages act on by id ([features], merged over the parent's key by key).
    features: Features = field(default_factory=Features)
    # The [features] table after the merge (None: the pack declares none).
    features_table: Any = field(default=None, repr=False)

    def read_text(self, rel: str) -> str:
        """The text of one pack file by its relative path."""
        try:
            path = self.files[rel]
        except KeyError:
            raise PackError(f"no file {rel!r} in pack {self.name!r}", file=rel) from None
        return path.read_text(encoding="utf-8")

    def bpmn_files(self) -> list[str]:
        """Relative paths of every BPMN file, sorted."""
        return sorted(rel for rel in self.files if rel.endswith(".bpmn"))

    def dmn_files(self) -> list[str]:
        """Relative paths of every DMN file, sorted."""
        return sorted(rel for rel in self.files if rel.endswith(".dmn"))

    def form_files(self) -> list[str]:
        """Relative paths of every form JSON (forms/ and *-schema.json / *-uischema.json)."""
        return sorted(rel for rel in self.files if _is_form(rel))

    def test_files(self) -> list[str]:
        """Relative paths of the BPMN unit-test files (tests/test_*.json, or test_*.json at
        the root of a SpiffArena folder)."""
        found = []
        for rel in self.files:
            parts = PurePosixPath(rel)
            if not (parts.name.startswith("test_") and parts.suffix == ".json"):
                continue
            if parts.parts[0] == "tests" or (self.spiff_model and len(parts.parts) == 1):
                found.append(rel)
        return sorted(found)

    def catalog(self, name: str) -> dict[str, Any]:
        """catalogs/<name>.toml parsed (rating scales, competency frameworks ...)."""
        rel = f"catalogs/{name}.toml"
        if rel not in self.files:
            raise PackError(f"no catalog {name!r} in pack {self.name!r}", file=rel)
        return _parse_toml(self.read_text(rel), rel)

    def catalogs(self) -> dict[str, dict[str, Any]]:
        """Every catalog of the pack by name."""
        names = sorted(
            PurePosixPath(rel).stem
            for rel in self.files
            if rel.startswith("catalogs/") and rel.endswith(".toml") and rel.count("/") == 1
        )
        return catalogs_from_sources(
            {f"catalogs/{name}.toml": self.read_text(f"catalogs/{name}.toml") for name in names}
        )

    def find_form(self, name: str, near: str | None = None) -> str | None:
        """Resolve a form filename: next to the BPMN file `near` first, then in forms/."""
        return find_form_path(self.files, name, near)


def find_form_path(files: Iterable[str], name: str, near: str | None = None) -> str | None:
    """The relative path `name` resolves to among `files`: beside `near`, then forms/."""
    available = set(files)
    candidates = []
    if near is not None:
        folder = PurePosixPath(near).parent
        candidates.append(str(folder / name) if str(folder) != "." else name)
    candidates.append(f"forms/{name}")
    for candidate in candidates:
        normal = _normalise(candidate)
        if normal in available:
            return normal
    return None


def load_pack(path: Path, available: Mapping[str, Path] | None = None) -> Pack:
    """Load the pack in folder `path`, resolving `extends` against `available` packs."""
    pack = load_pack_leniently(path, available)
    if pack.problems:
        raise pack.problems[0]
    return pack


def load_pack_leniently(path: Path, available: Mapping[str, Path] | None = None) -> Pack:
    """Load what can be loaded; problems are collected in `Pack.problems`, not raised."""
    return _load(Path(path).resolve(), dict(available or {}), ())


# The folders this installation keeps its packs in. The app and the CLI set them from their
# settings (the engine reads no settings of its own); the default is the repository's.
_installed_folders: list[Path] = [Path(__file__).resolve().parents[2] / "processes"]


def use_pack_folders(folders: Iterable[str | Path]) -> None:
    """Set the folders holding this installation's packs (settings.PACKS)."""
    _installed_folders[:] = [Path(f) for f in folders]


def installed_pack_folders() -> list[Path]:
    """The folders holding this installation's packs."""
    return list(_installed_folders)


def discover_packs(folders: Iterable[Path]) -> dict[str, Path]:
    """Every pack folder directly inside `folders`, by pack name; the first folder wins."""
    found: dict[str, Path] = {}
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for child in sorted(folder.iterdir()):
            if not child.is_dir():
                continue
            name = _declared_name(child)
            if name is not None and name not in found:
                found[name] = child.resolve()
    return found


def slugify(text: str) -> str:
    """A pack name from a folder name: lower case, runs of other characters become '-'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "pack"


# -- loading -------------------------------------------------------------------------------


def _declared_name(folder: Path) -> str | None:
    manifest = folder / MANIFEST
    if manifest.is_file():
        try:
            data = tomllib.loads(manifest.read_text(encoding="utf-8"))
            name = data.get("pack", {}).get("name")
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, AttributeError):
            name = None
        # A broken manifest still names a pack, so validation can report it.
        return name if isinstance(name, str) and name else slugify(folder.name)
    if (folder / SPIFF_MANIFEST).is_file():
        return slugify(folder.name)
    return None


def _load(root: Path, available: dict[str, Path], chain: tuple[str, ...]) -> Pack:
    if (root / MANIFEST).is_file():
        pack = _load_manifest(root)
    elif (root / SPIFF_MANIFEST).is_file():
        pack = _load_spiff_model(root)
    else:
        raise PackError(f"{root} is not a pack: it has no {MANIFEST} or {SPIFF_MANIFEST}")
    own_files = _folder_files(root)
    if pack.spiff_model and not (root / MANIFEST).is_file():
        pack.lanes = {lane: SPIFF_DEFAULT_LANE for lane in _lane_names(own_files)}
        pack.default_lane = SPIFF_DEFAULT_LANE
    if pack.name in chain:
        cycle = " -> ".join([*chain, pack.name])
        pack.problems.append(PackError(f"extends cycle: {cycle}", line=_line_of(root, "extends")))
        pack.files = own_files
        return pack
    if pack.extends is None:
        pack.files = own_files
        return pack
    parent_root = available.get(pack.extends)
    if parent_root is None:
        pack.problems.append(PackError(
            f"extends unknown pack {pack.extends!r}"
            f" (known: {', '.join(sorted(available)) or 'none'})",
            line=_line_of(root, "extends"),
        ))
        pack.files = own_files
        return pack
    parent = _load(Path(parent_root).resolve(), available, (*chain, pack.name))
    pack.problems[:0] = [
        PackError(f"in parent pack {parent.name!r}: {p.message}", p.file, p.line)
        for p in parent.problems
    ]
    pack.files = {**parent.files, **own_files}
    for rel in parent.files.keys() & own_files.keys():
        if rel.startswith("translations/") and rel.count("/") == 1:
            # A child's translations add to the parent's instead of replacing them: the
            # parent's file stays as translations/<parent>/<language>.toml, read under it.
            pack.files[f"translations/{parent.name}/{rel.split('/')[1]}"] = parent.files[rel]
    pack.lanes = {**parent.lanes, **pack.lanes}
    merged = {pid: settings.as_dict() for pid, settings in parent.processes.items()}
    for pid, table in pack.own_process_tables.items():
        merged[pid] = {**merged.get(pid, {}), **table}
    pack.processes = {pid: _process_settings(pid, table, []) for pid, table in merged.items()}
    if pack.default_lane is None:
        pack.default_lane = parent.default_lane
    if parent.features_table is not None:
        pack.features_table = merge_feature_tables(parent.features_table, pack.features_table)
        pack.features, _ = Features.from_table(pack.features_table)
    return pack


def _load_manifest(root: Path) -> Pack:
    problems: list[PackError] = []
    try:
        data = _parse_toml((root / MANIFEST).read_text(encoding="utf-8"), MANIFEST)
    except PackError as error:
        problems.append(error)
        data = {}
    head = data.get("pack", {})
    if not isinstance(head, dict):
        problems.append(PackError("[pack] must be a table", line=_line_of(root, "pack")))
        head = {}
    name = head.get("name")
    if not isinstance(name, str) or not name:
        if data:
            problems.append(PackError("[pack].name is missing", line=_line_of(root, "pack")))
        name = slugify(root.name)
    elif not NAME_PATTERN.fullmatch(name):
        problems.append(PackError(
            f"[pack].name {name!r} must match [a-z0-9-]+", line=_line_of(root, "name")
        ))
    extends = head.get("extends")
    if extends is not None and not isinstance(extends, str):
        problems.append(PackError("[pack].extends must be a pack name",
                                  line=_line_of(root, "extends")))
        extends = None
    lanes: dict[str, str] = {}
    raw_lanes = data.get("lanes", {})
    if not isinstance(raw_lanes, dict):
        problems.append(PackError("[lanes] must be a table", line=_line_of(root, "lanes")))
        raw_lanes = {}
    for lane, resolver in raw_lanes.items():
        if isinstance(resolver, str):
            lanes[lane] = resolver
        else:
            problems.append(PackError(f"lane {lane!r}: the resolver must be a string",
                                      line=_line_of(root, lane)))
    processes: dict[str, ProcessSettings] = {}
    raw_processes = data.get("processes", {})
    if not isinstance(raw_processes, dict):
        problems.append(PackError("[processes] must be a table",
                                  line=_line_of(root, "processes")))
        raw_processes = {}
    for pid, table in raw_processes.items():
        errors: list[str] = []
        processes[pid] = _process_settings(pid, table, errors)
        problems.extend(PackError(f"[processes.{pid}]: {e}", line=_line_of(root, pid))
                        for e in errors)
    features, feature_errors = Features.from_table(data.get("features"))
    problems.extend(PackError(message, line=features_line(root, key))
                    for key, message in feature_errors)
    pack = Pack(
        name=name,
        version=str(head.get("version", "")),
        title=str(head.get("title", name)),
        root=root,
        extends=extends,
        lanes=lanes,
        processes=processes,
        spiff_model=(root / SPIFF_MANIFEST).is_file(),
        problems=problems,
        own_process_tables={k: v for k, v in raw_processes.items() if isinstance(v, dict)},
        features=features,
        features_table=data.get("features"),
    )
    if pack.spiff_model and not processes:
        _add_spiff_primary(pack, root)
    return pack


def _load_spiff_model(root: Path) -> Pack:
    pack = Pack(name=slugify(root.name), version="", title=root.name, root=root,
                spiff_model=True)
    _add_spiff_primary(pack, root)
    return pack


def _add_spiff_primary(pack: Pack, root: Path) -> None:
    try:
        model = json.loads((root / SPIFF_MANIFEST).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        pack.problems.append(PackError(f"not valid JSON: {error.msg}", SPIFF_MANIFEST,
                                       error.lineno))
        return
    if not isinstance(model, dict):
        pack.problems.append(PackError("must be a JSON object", SPIFF_MANIFEST, 1))
        return
    title = model.get("display_name") or pack.title
    if pack.title == root.name:
        pack.title = title
    primary = model.get("primary_process_id")
    if not primary:
        pack.problems.append(PackError("primary_process_id is missing", SPIFF_MANIFEST, 0))
        return
    pack.processes[primary] = ProcessSettings(title=title, start="self")


# `progress:` is `record:` with each objective's latest in-year actual and status merged in.
_RECORD_SOURCE = re.compile(r"(record|progress):([a-z0-9_]+)((?:\.[A-Za-z0-9_]+)*)")


@dataclass(frozen=True)
class RecordSource:
    """Where one start-data key comes from."""

    kind: str
    path: tuple[str, ...]
    # progress:<kind>.<path>: the objectives there, each with its latest in-year progress.
    with_progress: bool = False


def parse_start_data(table: Any) -> dict[str, RecordSource]:
    """The `start_data` table of a process's settings; ValueError names a bad entry."""
    if not table:
        return {}
    if not isinstance(table, Mapping):
        raise ValueError("start_data must be a table of key = \"record:<kind>.<path>\"")
    sources = {}
    for key, text in table.items():
        match = _RECORD_SOURCE.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(
                f"start_data.{key}: {text!r} is not of the form \"record:<kind>.<path>\""
                " (or \"progress:<kind>.<path>\")"
            )
        path = tuple(p for p in match.group(3).split(".") if p)
        sources[key] = RecordSource(match.group(2), path, match.group(1) == "progress")
    return sources



def _process_settings(pid: str, table: Any, errors: list[str]) -> ProcessSettings:
    if not isinstance(table, dict):
        errors.append("must be a table")
        return ProcessSettings(title=pid)
    extra = {k: v for k, v in table.items() if k not in ("title", "start", "starters")}
    start = table.get("start", "per-employee")
    if start not in START_MODES:
        errors.append(f"start must be one of {', '.join(START_MODES)}, not {start!r}")
    starters = table.get("starters", [])
    if not (isinstance(starters, list) and all(isinstance(s, str) for s in starters)):
        errors.append("starters must be a list of strings")
        starters = []
    try:
        parse_start_data(table.get("start_data"))
    except ValueError as error:
        errors.append(str(error))
    return ProcessSettings(title=str(table.get("title", pid)), start=str(start),
                           starters=list(starters), extra=extra)


def _parse_toml(text: str, rel: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"\(at line (\d+)", str(error))
        line = int(match.group(1)) if match else 0
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        raise PackError(f"invalid TOML: {message}", file=rel, line=line) from None


def _line_of(root: Path, key: str) -> int:
    """First line of pack.toml that mentions `key` as a key or table name (0 if none)."""
    try:
        lines = (root / MANIFEST).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return 0
    escaped = re.escape(key)
    pattern = re.compile(
        rf'^\s*(\[\[?\s*([\w.-]*\.)?["\']?{escaped}["\']?\s*\]|["\']?{escaped}["\']?\s*=)'
    )
    for number, line in enumerate(lines, start=1):
        if pattern.search(line):
            return number
    return 0


def features_line(root: Path, key: str) -> int:
    """The line of pack.toml declaring a feature key ("feedback.process"), else its
    [features.<section>] table, else the first [features…] table (0 if none)."""
    try:
        lines = (root / MANIFEST).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return 0
    section, _, name = key.partition(".")
    header = re.compile(r"^\s*\[\s*([\w.-]+)\s*\]")
    current, table_line, first = "", 0, 0
    for number, line in enumerate(lines, start=1):
        match = header.match(line)
        if match:
            current = match.group(1)
            if current.startswith("features") and not first:
                first = number
            if current == f"features.{section}" and not table_line:
                table_line = number
            continue
        if name and current == f"features.{section}" and re.match(
            rf"^\s*[\"']?{re.escape(name)}[\"']?\s*=", line
        ):
            return number
    return table_line or first


def _folder_files(root: Path) -> dict[str, Path]:
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or any(part.startswith(".") or part == "__pycache__"
                                     for part in rel.parts):
            continue
        if rel.as_posix() == MANIFEST:
            continue
        files[rel.as_posix()] = path
    return files


def _lane_names(files: Mapping[str, Path]) -> list[str]:
    names: set[str] = set()
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    for rel, path in files.items():
        if not rel.endswith(".bpmn"):
            continue
        try:
            root = etree.parse(str(path), parser).getroot()
        except etree.XMLSyntaxError:
            continue
        for lane in root.iter(f"{{{_BPMN_NS}}}lane"):
            if lane.get("name"):
                names.add(lane.get("name"))
    return sorted(names)


def _is_form(rel: str) -> bool:
    if not rel.endswith(".json"):
        return False
    name = PurePosixPath(rel).name
    return rel.startswith("forms/") or name.endswith("-schema.json") or name.endswith(
        "-uischema.json"
    )


def _normalise(rel: str) -> str:
    parts: list[str] = []
    for part in PurePosixPath(rel).parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)
