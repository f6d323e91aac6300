"""The instance page (where a process stands, its timeline and diagram), its BPMN, its print view.

Every route answers 404 unless engine.workflow.access lets the viewer see the instance's subject.
The BPMN diagram is for HR and designers; everyone else sees the review's step tracker
(engine.performance.my_review) when the process is part of a review. The print view states the
ratings the appraisal recorded: the final rating with its label, the manager's and the
calibrated rating, and calibration's change with HR's reason.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from engine.base.errors import NotFound
from engine.people.assignment import may_act
from engine.performance.my_review import MyReview, appraisal_outcome, my_review
from engine.workflow import access
from engine.workflow.history import InstanceHistory, ShownValue, TimelineEntry, instance_history
from webapp.auth import Viewer, current_user
from webapp.input import path_id
from webapp.templating import format_date, render

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


async def _visible_history(request: Request) -> InstanceHistory:
    """The history of the instance in the URL, or 404 when the viewer may not see it."""
    viewer = current_user(request)
    directory = request.state.directory
    instance_id = path_id(request, "instance_id")
    row = await access.visible_instance(instance_id, viewer.person_id, viewer.groups, directory)
    history = await instance_history(instance_id, viewer.person_id)
    if await access.participants_only(row):
        # Each person sees what they wrote; what others wrote reaches them only as the
        # process chose to show it (a shared note in their task), never here.
        history.timeline = [
            entry if entry.actor_id == viewer.person_id else replace(entry, fields=(), summary="")
            for entry in history.timeline
        ]
    return history


async def instance_page(request: Request) -> Response:
    """GET /instances/{id}: header, who holds it now, the timeline and the diagram."""
    viewer = current_user(request)
    history = await _visible_history(request)
    directory = request.state.directory
    actionable = {
        step.task_id
        for step in history.open_steps
        if may_act(viewer.person_id, step.assignee_id, step.candidate_group, step.candidates,
                   directory)
    }
    show_diagram = viewer.is_hr or viewer.is_designer
    context = {
        "history": history,
        "actionable": actionable,
        "show_errors": viewer.is_hr,
        "show_diagram": show_diagram,
        "review": None if show_diagram else await _review_of(history, viewer),
        "diagram": {
            "completed": sorted(history.completed_ids),
            "current": sorted(history.current_ids),
            "failed": sorted(history.failed_ids),
        },
    }
    return render(request, "instance.html", context, fragment="_instance_now.html")


async def _review_of(history: InstanceHistory, viewer: Viewer) -> MyReview | None:
    """The review this process is a step of, for its tracker (None when it is none)."""
    row = history.instance
    if row.cycle_id is None or history.subject_id is None:
        return None
    try:
        review = await my_review(history.subject_id, row.cycle_id, viewer)
    except NotFound:
        return None
    return review if any(s.instance_id == row.id for s in review.steps) else None


def _readable(value: ShownValue) -> ShownValue:
    """A submitted date reads "1 May 2031", like every other date of the app."""
    if value.kind == "group":
        return replace(value, children=tuple(_readable(c) for c in value.children))
    if value.kind == "table":
        rows = tuple(tuple(_date_text(cell) for cell in row) for row in value.rows)
        return replace(value, rows=rows)
    return replace(value, text=_date_text(value.text))


def _date_text(text: str) -> str:
    if ISO_DATE.fullmatch(text.strip()):
        try:
            return format_date(date.fromisoformat(text.strip()))
        except ValueError:
            return text
    return text


def _readable_entry(entry: TimelineEntry) -> TimelineEntry:
    return replace(entry, fields=tuple(_readable(v) for v in entry.fields))


async def instance_diagram(request: Request) -> Response:
    """GET /instances/{id}/diagram.bpmn: the BPMN XML the page's viewer draws."""
    history = await _visible_history(request)
    return Response(
        history.bpmn_xml,
        media_type="application/xml",
        # Per person: whoever may see one instance's diagram is checked on every request.
        headers={"Cache-Control": "private, no-cache"},
    )


async def instance_print(request: Request) -> Response:
    """GET /instances/{id}/print: the submitted forms and signatures laid out as a document."""
    history = await _visible_history(request)
    submissions = [_readable_entry(entry) for entry in history.submissions]
    outcome = await appraisal_outcome(history.instance.id)
    return render(request, "instance_print.html",
                  {"history": history, "submissions": submissions, "outcome": outcome})


routes: list[BaseRoute] = [
    Route("/instances/{instance_id:id}", instance_page, methods=["GET"], name="instance"),
    Route(
        "/instances/{instance_id:id}/diagram.bpmn",
        instance_diagram,
        methods=["GET"],
        name="instance_diagram",
    ),
    Route(
        "/instances/{instance_id:id}/print",
        instance_print,
        methods=["GET"],
        name="instance_print",
    ),
]
