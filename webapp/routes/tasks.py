"""The task page: instructions, earlier steps, the form; drafts, submission, live validation.

GET /tasks/{id} shows the task to whoever may act on it (anyone else gets 404). POST submits:
add/remove-row buttons re-render, "Save draft" keeps exactly what was typed, invalid input
comes back with errors (422), and a task someone else completed meanwhile is a 409 that still
shows what this person typed. POST /tasks/{id}/validate is the htmx live check of one field.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from engine.base import clock, metrics
from engine.base.errors import Conflict
from engine.people.assignment import may_act
from engine.performance.year_context import shows_year_context
from engine.talent.gap_suggestions import offers_suggestions
from engine.workflow import runtime, worklist
from engine.workflow.scheduled_meetings import MeetingTimeError
from engine.workflow.task_context import (
    TaskContext,
    catalog_choices,
    parsed_form,
    summarize,
    task_context,
)
from forms import (
    ACTION_KEY,
    FIELD_KEY,
    FormButton,
    FormDefinitionError,
    FormSpec,
    HtmlForm,
    PostedValues,
    form_spec,
)
from webapp.auth import Viewer, current_user
from webapp.csrf import FIELD as CSRF_FIELD
from webapp.csrf import token_for
from webapp.errors import error_response
from webapp.i18n import gettext, language
from webapp.input import path_id
from webapp.routes.people import person_lookup
from webapp.templating import flash, is_htmx, render

log = logging.getLogger("sightline.web")

INBOX = "/inbox"
SUBMIT_KEY = "_submit"
DRAFT = "draft"
DONE = "done"
# Posted keys that belong to the page, not to the task's data.
CONTROL_KEYS = frozenset({CSRF_FIELD, SUBMIT_KEY, ACTION_KEY, FIELD_KEY})


# --- loading and authorization -------------------------------------------------------------


async def _visible_task(request: Request) -> tuple[Viewer, TaskContext]:
    """The viewer and the task's context; 404 unless the viewer may act on it (or did)."""
    viewer = current_user(request)
    ctx = await task_context(path_id(request, "task_id"), language())
    task = ctx.task
    directory = request.state.directory
    allowed = may_act(
        viewer.person_id,
        task.assignee_id,
        task.candidate_group,
        task.candidates,
        directory,
    )
    if not allowed and task.completed_by_id != viewer.person_id:
        raise HTTPException(404)
    # Whether the page makes room for the year-so-far panel (the pack's year_context tasks).
    request.state.year_context = await shows_year_context(task, ctx.instance)
    # Whether it offers suggestions from the subject's competency gaps (a development plan).
    request.state.gap_suggestions = task.status == "ready" and await offers_suggestions(
        task.bpmn_id)
    return viewer, ctx


def _signer(viewer: Viewer) -> dict[str, Any]:
    return {"id": viewer.person_id, "name": viewer.name}


def _form_spec(ctx: TaskContext) -> FormSpec:
    """The compiled form; FormDefinitionError when the pack's form cannot be used."""
    schema, uischema = parsed_form(ctx)
    if schema is None:
        raise FormDefinitionError(
            f"the form {ctx.form.schema_path if ctx.form else ''} could not be rendered "
            "with this task's data"
        )
    return form_spec(schema, uischema or {}, ctx.catalogs)


def _posted_values(form: Any) -> dict[str, list[str]]:
    """What the person typed, key by key, without the page's own controls."""
    values: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if key not in CONTROL_KEYS and isinstance(value, str):
            values.setdefault(key, []).append(value)
    return values


def _bind(
    request: Request, spec: FormSpec, ctx: TaskContext, viewer: Viewer, formdata: Any = None
) -> HtmlForm:
    """The form bound to what was posted, else the saved draft, else the task data."""
    if formdata is None and ctx.draft and isinstance(ctx.draft.get("posted"), dict):
        formdata = PostedValues(ctx.draft["posted"])
    return spec.bind(
        formdata,
        ctx.data,
        signer=_signer(viewer),
        now=clock.now(),
        person_lookup=person_lookup(request.state.directory),
    )


def _person_search_url(request: Request) -> str:
    return request.url_for("people_search").path


# --- rendering -----------------------------------------------------------------------------


def _form_html(request: Request, bound: HtmlForm) -> Markup:
    action = request.url_for("task_submit", task_id=request.path_params["task_id"]).path
    return bound.render(
        action=action,
        validate_url=f"{action}/validate",
        person_search_url=_person_search_url(request),
        csrf_token=token_for(request),
        submit_label=gettext("Submit"),
        extra_buttons=[FormButton(gettext("Save draft"), DRAFT, secondary=True, novalidate=True)],
        form_attrs={"hx-post": action, "hx-target": "#task-form", "hx-swap": "outerHTML"},
    )


def _page(
    request: Request,
    ctx: TaskContext,
    *,
    bound: HtmlForm | None = None,
    form_problem: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    instructions = ctx.instructions_html
    form_problem = form_problem or ctx.instructions_problem
    draft = ctx.draft if request.method == "GET" and bound is not None else None
    context = {
        "ctx": ctx,
        "task": ctx.task,
        "instructions": instructions,
        "form_html": _form_html(request, bound) if bound is not None else None,
        "form_problem": form_problem,
        "notice": notice or _stopped_notice(ctx),
        "draft_saved_at": _moment(draft.get("saved_at")) if draft is not None else None,
    }
    return render(request, "task.html", context, status=status, fragment="_task_form.html")


def _stopped_notice(ctx: TaskContext) -> str | None:
    if ctx.instance.status != "error":
        return None
    return (
        "This process is stopped on an error, so it cannot be submitted right now. HR has "
        "been told; you can save a draft meanwhile."
    )


def _moment(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None


def _closed(request: Request, ctx: TaskContext, typed: list[Any] | None = None) -> Response:
    """409: the task is no longer open; what the person typed is shown so it is not lost.
    Someone coming back to a task they completed themselves is told so, not that someone
    got there first."""
    task = ctx.task
    mine = task.status == "completed" and task.completed_by_id == current_user(request).person_id
    context = {
        "ctx": ctx,
        "task": task,
        "message": ctx.closed_message(),
        "typed": typed or [],
        "completed_by_viewer": mine,
    }
    return render(request, "task.html", context, status=409, fragment="_task_closed.html")


def _typed_summary(request: Request, ctx: TaskContext, viewer: Viewer, form: Any) -> list[Any]:
    """What was posted, as a readable summary (falls back to the raw values)."""
    try:
        spec = _form_spec(ctx)
        data = _bind(request, spec, ctx, viewer, form).to_data()
        return summarize(data, spec.schema, spec.uischema, choices=catalog_choices(ctx.catalogs))
    except FormDefinitionError:
        return summarize({k: ", ".join(v) for k, v in _posted_values(form).items()})


def _redirect(request: Request, url: str) -> Response:
    if is_htmx(request):
        return HTMLResponse("", headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


# --- what the person is told after submitting -------------------------------------------------


def _after_submit_message(
    ctx: TaskContext, after: worklist.AfterSubmission, viewer: Viewer
) -> tuple[str, str]:
    """(kind, message) for the flash: what happened and what comes next."""
    name = ctx.task.name
    if after.status == "error":
        return "warning", (
            f"Your submission of '{name}' was saved, but the process then stopped on an error. "
            "It shows on the HR dashboard, where HR retries it once fixed; you do not need "
            "to do anything."
        )
    if after.status == "completed":
        return "success", f"Submitted '{name}'. {ctx.process_title} is complete."
    if not after.next_steps:
        if after.waiting_for:
            waits = ", ".join(after.waiting_for)
            return "success", f"Submitted '{name}'. The process now waits for: {waits}."
        return "success", f"Submitted '{name}'. Nothing else waits on anyone for now."
    parts = [
        f"{step.name} — with {'you' if step.holder_id == viewer.person_id else step.holder}"
        for step in after.next_steps
    ]
    return "success", f"Submitted '{name}'. Next: {'; '.join(parts)}."


# --- handlers ------------------------------------------------------------------------------


async def task_page(request: Request) -> Response:
    """GET /tasks/{id}: the task with its instructions, context and form."""
    viewer, ctx = await _visible_task(request)
    if not ctx.is_open:
        return _closed(request, ctx)
    if ctx.form is None:
        return _page(request, ctx)
    try:
        bound = _bind(request, _form_spec(ctx), ctx, viewer)
    except FormDefinitionError as error:
        log.warning("task %s: form cannot be shown: %s", ctx.task.id, error)
        return _page(request, ctx, form_problem=str(error), status=500)
    return _page(request, ctx, bound=bound)


async def submit_task(request: Request) -> Response:
    """POST /tasks/{id}: add/remove a row, save a draft, or validate and complete the task."""
    form = await request.form()
    viewer, ctx = await _visible_task(request)
    if not ctx.is_open:
        return _closed(request, ctx, _typed_summary(request, ctx, viewer, form))
    actor = await runtime.actor_for(viewer.person_id)
    if ctx.form is None:
        return await _complete(request, ctx, viewer, actor, form, None)
    try:
        spec = _form_spec(ctx)
    except FormDefinitionError as error:
        return _page(request, ctx, form_problem=str(error), status=500)
    bound = _bind(request, spec, ctx, viewer, form)
    if bound.apply_action():
        return _page(request, ctx, bound=bound)
    if form.get(SUBMIT_KEY) == DRAFT:
        draft = {"posted": _posted_values(form), "saved_at": clock.now().isoformat()}
        try:
            await runtime.save_draft(ctx.task.id, actor, draft)
        except MeetingTimeError as error:
            # Nothing was saved: the form comes back as typed, the meeting's field marked.
            bound.field_errors[error.field] = [str(error)]
            flash(request, str(error), "error")
            return _page(request, ctx, bound=bound, status=422)
        flash(request, f"Draft saved. It will be here when you come back to '{ctx.task.name}'.",
              "success")
        return _redirect(request, request.url.path)
    if not bound.validate():
        return _page(request, ctx, bound=bound, status=422)
    return await _complete(request, ctx, viewer, actor, form, bound)


async def _complete(
    request: Request,
    ctx: TaskContext,
    viewer: Viewer,
    actor: runtime.Actor,
    form: Any,
    bound: HtmlForm | None,
) -> Response:
    data = bound.to_data() if bound is not None else {}
    try:
        instance = await runtime.complete_task(ctx.task.id, actor, data)
    except Conflict as conflict:
        metrics.conflicts.inc()  # answered here, not by webapp/errors.py: count it here
        # Reload the row: if someone else completed it, the message names them.
        fresh = await task_context(ctx.task.id)
        if fresh.is_open:
            # The task is still there (the process stopped, or changed under us): keep the
            # form as typed and say why it did not go through.
            # htmx swaps only 2xx/422 into the form, so it gets the form back as a 200.
            status = 200 if is_htmx(request) else 409
            return _page(request, fresh, bound=bound, notice=str(conflict), status=status)
        return _closed(request, fresh, _typed_summary(request, ctx, viewer, form))
    kind, message = _after_submit_message(ctx, await worklist.after_submission(instance), viewer)
    flash(request, message, kind)
    return _redirect(request, INBOX)


async def validate_field(request: Request) -> Response:
    """POST /tasks/{id}/validate: live validation — the named field re-rendered by the server."""
    form = await request.form()
    viewer, ctx = await _visible_task(request)
    if not ctx.is_open:
        return error_response(request, 409, ctx.closed_message())
    if ctx.form is None:
        raise HTTPException(400, "This task has no form.")
    try:
        spec = _form_spec(ctx)
    except FormDefinitionError as error:
        return error_response(request, 500, str(error))
    field_name = None if form.get(FIELD_KEY) else request.headers.get("HX-Trigger-Name")
    try:
        html = spec.validate_partial(
            form,
            field_name,
            data=ctx.data,
            signer=_signer(viewer),
            now=clock.now(),
            validate_url=request.url.path,
            person_lookup=person_lookup(request.state.directory),
            person_search_url=_person_search_url(request),
        )
    except KeyError:
        raise HTTPException(400, "This form has no such field.") from None
    return HTMLResponse(html)


routes = [
    Route("/tasks/{task_id:id}", task_page, methods=["GET"], name="task_page"),
    Route("/tasks/{task_id:id}", submit_task, methods=["POST"], name="task_submit"),
    Route("/tasks/{task_id:id}/validate", validate_field, methods=["POST"],
          name="task_validate"),
]
