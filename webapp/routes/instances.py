"""The instance page (where a process stands, its timeline and diagram), its BPMN, its print view.

Every route answers 404 unless engine.workflow.access lets the viewer see the instance's subject.
"""

from __future__ import annotations

from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from engine.people.assignment import may_act
from engine.workflow import access
from engine.workflow.history import InstanceHistory, instance_history
from webapp.auth import current_user
from webapp.input import path_id
from webapp.templating import render


async def _visible_history(request: Request) -> InstanceHistory:
    """The history of the instance in the URL, or 404 when the viewer may not see it."""
    viewer = current_user(request)
    directory = request.state.directory
    instance_id = path_id(request, "instance_id")
    row = await access.visible_instance(instance_id, viewer.person_id, viewer.groups, directory)
    history = await instance_history(instance_id)
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
    context = {
        "history": history,
        "actionable": actionable,
        "show_errors": viewer.is_hr,
        "diagram": {
            "completed": sorted(history.completed_ids),
            "current": sorted(history.current_ids),
            "failed": sorted(history.failed_ids),
        },
    }
    return render(request, "instance.html", context, fragment="_instance_now.html")


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
    return render(request, "instance_print.html", {"history": history})


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
