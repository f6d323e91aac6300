"""Suggestions for a development plan from the subject's competency gaps.

On the plan task the pack names (`[features.gaps] plan_task`), the person drawing up the plan
sees the subject's gaps, each with suggested actions — the behaviours of the required level,
from the competency framework's anchors — and the active courses that develop that
competency. Nothing reaches the plan by itself: accepting a suggestion adds it as a new row
of the plan form's action table (`actions_field`) to the task's draft, keeping what was typed
before; dismissing it hides it. Both are remembered for the plan as audit events of its
instance ("gap_suggestion_accepted" / "gap_suggestion_dismissed"), so a decided suggestion is
not offered again and the record says who decided what.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from engine.base import clock
from engine.base.errors import Conflict, NotAllowed, NotFound
from engine.base.i18n import Said, said
from engine.base.models import AuditEvent, Course, CourseSession, HumanTask
from engine.people.assignment import may_act
from engine.people.directory import DirectorySnapshot, PersonInfo
from engine.talent.gaps import CompetencyGap, analyse_people, may_see_person
from engine.talent.positions import talent_pack
from engine.workflow.access import SeesSubjects
from engine.workflow.store import Batch, apply
from engine.workflow.task_context import parsed_form, task_context
from forms import FormDefinitionError, form_spec
from forms.json_input import posted_from_json

ACCEPTED = "gap_suggestion_accepted"
DISMISSED = "gap_suggestion_dismissed"
# How long a cell of the plan's table may be (the standard pack's form: 200).
MAX_CELL = 200
# How far ahead an accepted action is first due: a quarter, the usual span of a development
# action between two check-ins.
ACTION_HORIZON = timedelta(days=91)
_SUBMIT = "_submit"


@dataclass(frozen=True)
class CourseOffer:
    """An active course of the catalog that develops a competency."""

    code: str
    title: str
    delivery: str
    duration_hours: float


async def courses_for(competencies: list[str]) -> dict[str, list[CourseOffer]]:
    """Active courses by the competency they develop (a course may serve several)."""
    wanted = set(competencies)
    found: dict[str, list[CourseOffer]] = {}
    if not wanted:
        return found
    rows = await Course.filter(active=True).order_by("title").values(
        "code", "title", "delivery", "duration_hours", "competencies")
    for row in rows:
        offer = CourseOffer(row["code"], row["title"], row["delivery"],
                            float(row["duration_hours"] or 0))
        for key in row["competencies"] or []:
            if key in wanted:
                found.setdefault(str(key), []).append(offer)
    return found


@dataclass(frozen=True)
class Suggestion:
    """One suggested action (an anchor of the required level) or course for a gap."""

    id: str  # "<competency>:action:<n>" or "<competency>:course:<code>"
    kind: str  # action | course
    text: str  # the behaviour, or the course's title
    course: CourseOffer | None = None
    due: date | None = None  # once accepted: the due date its plan row was given


@dataclass
class GapSuggestions:
    """A gap with what is still on offer for it."""

    gap: CompetencyGap
    goal: Said
    suggestions: list[Suggestion]


@dataclass
class PlanSuggestions:
    """What the plan task's page offers: the subject's gaps with suggestions not yet
    decided, and how many were accepted or dismissed already."""

    task_id: int
    person: PersonInfo
    profile_title: str
    items: list[GapSuggestions] = field(default_factory=list)
    accepted: int = 0
    dismissed: int = 0

    @property
    def open(self) -> int:
        """Suggestions still waiting for a decision."""
        return sum(len(item.suggestions) for item in self.items)


def goal_text(gap: CompetencyGap, level_label: str) -> Said:
    """The plan goal an accepted suggestion serves: the competency and the level to reach."""
    return said("%(competency)s: reach level %(level)s (%(label)s)",
                competency=gap.name, level=gap.required, label=level_label)


async def _plan_task(task_id: int, viewer: SeesSubjects, directory: DirectorySnapshot
                     ) -> tuple[HumanTask, PersonInfo]:
    """The open plan task the viewer works, and its subject; NotFound otherwise."""
    task = await HumanTask.get_or_none(id=task_id).select_related("instance")
    if task is None or not may_act(viewer.person_id, task.assignee_id, task.candidate_group,
                                   task.candidates, directory):
        raise NotFound(f"no task {task_id}")
    if task.bpmn_id != (await talent_pack()).features.gaps.plan_task:
        raise NotFound(f"task {task_id} is not a development plan")
    if task.status != "ready":
        raise Conflict(said("This plan was already submitted."))
    subject = directory.person(task.instance.subject_id)
    if subject is None or not may_see_person(viewer, subject.id, directory):
        raise NotFound(f"no task {task_id}")
    return task, subject


async def offers_suggestions(bpmn_id: str) -> bool:
    """Whether a task's page offers gap suggestions (the pack's plan task)."""
    return bpmn_id == (await talent_pack()).features.gaps.plan_task


async def decisions(instance_id: int) -> dict[str, str]:
    """Suggestion id -> "accepted" / "dismissed", as decided for this plan."""
    rows = await AuditEvent.filter(
        instance_id=instance_id, action__in=[ACCEPTED, DISMISSED]).order_by("id").values(
        "action", "detail")
    return {str(r["detail"].get("suggestion")): ("accepted" if r["action"] == ACCEPTED
                                                 else "dismissed")
            for r in rows if isinstance(r["detail"], Mapping)}


async def plan_suggestions(
    task_id: int, viewer: SeesSubjects, directory: DirectorySnapshot, language: str | None
) -> PlanSuggestions:
    """The subject's gaps with the suggestions not yet accepted or dismissed for this plan."""
    task, subject = await _plan_task(task_id, viewer, directory)
    title, items = await _all_suggestions(subject, language)
    decided = await decisions(task.instance_id)
    result = PlanSuggestions(task_id, subject, title)
    for item in items:
        item.suggestions = [s for s in item.suggestions if s.id not in decided]
        if item.suggestions:
            result.items.append(item)
    result.accepted = sum(1 for v in decided.values() if v == "accepted")
    result.dismissed = sum(1 for v in decided.values() if v == "dismissed")
    return result


async def _all_suggestions(
    subject: PersonInfo, language: str | None
) -> tuple[str, list[GapSuggestions]]:
    analysed, catalogs = await analyse_people([subject], language)
    gaps = analysed[subject.id]
    labels = {int(lv["value"]): str(lv.get("label", ""))
              for lv in (catalogs.get("rating_scale") or {}).get("levels", [])
              if isinstance(lv, Mapping) and isinstance(lv.get("value"), int)}
    courses = await courses_for([g.key for g in gaps.gaps])
    items = []
    for gap in gaps.gaps:
        suggestions = [Suggestion(f"{gap.key}:action:{n}", "action", anchor)
                       for n, anchor in enumerate(gap.anchors, start=1)]
        suggestions += [Suggestion(f"{gap.key}:course:{c.code}", "course", c.title, c)
                        for c in courses.get(gap.key, [])]
        items.append(GapSuggestions(gap, goal_text(gap, labels.get(gap.required, "")),
                                    suggestions))
    title = gaps.profile.title if gaps.profile else ""
    return title, items


def _find(items: list[GapSuggestions], suggestion_id: str) -> tuple[GapSuggestions, Suggestion]:
    for item in items:
        for suggestion in item.suggestions:
            if suggestion.id == suggestion_id:
                return item, suggestion
    raise NotFound(f"no suggestion {suggestion_id!r}")


_ROW_KEY = r"^{field}-(\d+)-"


def _with_row(posted: dict[str, list[str]], row_posted: Mapping[str, list[str]], table: str
              ) -> dict[str, list[str]]:
    """`posted` with the one row of `row_posted` (numbered 0) appended to the table."""
    pattern = re.compile(_ROW_KEY.format(field=re.escape(table)))
    used = [int(m.group(1)) for key in posted if (m := pattern.match(key))]
    index = max(used) + 1 if used else 0
    merged = {k: list(v) for k, v in posted.items() if k != _SUBMIT}
    for key, values in row_posted.items():
        if key != _SUBMIT:
            merged[pattern.sub(f"{table}-{index}-", key, count=1)] = list(values)
    return merged


async def decide(
    task_id: int,
    suggestion_id: str,
    accept: bool,
    viewer: SeesSubjects,
    actor_label: str,
    directory: DirectorySnapshot,
    language: str | None,
    typed: Mapping[str, list[str]] | None = None,
) -> Suggestion:
    """Accept a suggestion (a new action row in the plan's draft: what was `typed` on the
    form, else the saved draft, else the form as it stands, plus the row, due as
    `proposed_due` says) or dismiss it; both remembered for the plan and audited in one
    write. The suggestion decided, with its due date when accepted."""
    task, subject = await _plan_task(task_id, viewer, directory)
    _, items = await _all_suggestions(subject, language)
    item, suggestion = _find(items, suggestion_id)
    if suggestion_id in await decisions(task.instance_id):
        raise Conflict(said("This suggestion was already decided."))
    batch = Batch()
    if accept:
        due = await proposed_due(suggestion)
        suggestion = replace(suggestion, due=due)
        draft = await _draft_with(task, item, suggestion, due, language, typed)
        batch.update(HumanTask, {"id": task.id, "status": "ready"}, {"draft": draft},
                     conflict="task already completed")
    batch.audit(actor_label, ACCEPTED if accept else DISMISSED, instance=task.instance_id,
                task=task.id, detail={
                    "suggestion": suggestion.id, "competency": item.gap.key,
                    "kind": suggestion.kind, "text": suggestion.text, "person": subject.key,
                })
    try:
        await apply(batch)
    except Conflict:
        raise Conflict(said("This plan was already submitted.")) from None
    return suggestion


async def proposed_due(suggestion: Suggestion) -> date:
    """The due date an accepted suggestion starts with (the plan's author may change it):
    for a course, the day its next session that is not cancelled begins; otherwise, and for
    a course with no session planned, ACTION_HORIZON from today."""
    now = clock.now()
    if suggestion.course is not None:
        session = await CourseSession.filter(
            course__code=suggestion.course.code, cancelled_at__isnull=True, starts_at__gt=now,
        ).order_by("starts_at").first()
        if session is not None:
            return session.starts_at.date()
    return now.date() + ACTION_HORIZON


async def _draft_with(
    task: HumanTask, item: GapSuggestions, suggestion: Suggestion, due: date,
    language: str | None, typed: Mapping[str, list[str]] | None,
) -> dict[str, Any]:
    """The task's draft with the suggestion as a new row of the plan's action table."""
    gaps_feature = (await talent_pack()).features.gaps
    ctx = await task_context(task.id, language)
    schema, uischema = parsed_form(ctx)
    if schema is None:
        raise NotAllowed("the plan's form cannot be shown, so nothing can be added to it")
    try:
        spec = form_spec(schema, uischema or {}, ctx.catalogs)
    except FormDefinitionError as error:
        raise NotAllowed(f"the plan's form cannot be used: {error}") from None
    table = next((c for c in spec.root.children if c.name == gaps_feature.actions_field
                  and c.kind == "table"), None)
    if table is None:
        raise NotAllowed(f"the plan's form has no table {gaps_feature.actions_field!r}")
    goal = item.goal.to(language) if language else str(item.goal)
    if suggestion.kind == "course":
        action = said("Take the course %(course)s", course=suggestion.text)
        text = action.to(language) if language else str(action)
        training = suggestion.text
    else:
        text, training = suggestion.text, ""
    row: dict[str, Any] = {gaps_feature.goal_column: goal[:MAX_CELL],
                           gaps_feature.action_column: text[:MAX_CELL],
                           gaps_feature.due_column: due.isoformat()}
    if training:
        row[gaps_feature.training_column] = training[:MAX_CELL]
    columns = {c.name: c for c in table.children}
    row = {k: v for k, v in row.items() if k in columns}
    for name, column in columns.items():
        if name not in row and column.default is not None:
            row[name] = column.default
    if typed:
        posted = {k: list(v) for k, v in typed.items()}
    elif ctx.draft and isinstance(ctx.draft.get("posted"), dict):
        posted = {str(k): [str(x) for x in v] for k, v in ctx.draft["posted"].items()
                  if isinstance(v, list)}
    else:
        start, _ = posted_from_json(spec, ctx.data)
        posted = {k: start.getlist(k) for k in start}
    row_posted, _ = posted_from_json(spec, {table.name: [row]})
    merged = _with_row(posted, {k: row_posted.getlist(k) for k in row_posted}, table.name)
    return {"posted": merged, "saved_at": clock.now().isoformat()}
