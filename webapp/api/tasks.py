"""My tasks: list them, read one with its form's JSON Schema, save a draft, complete it.

The same rules and calls as the task page (webapp.routes.tasks): only someone who may act on
a task (or who completed it) sees it, anyone else gets 404; answers go through the task's own
form — the same fields, checks and messages as on the page (forms.json_input turns the JSON
into what the page would post) — and `runtime.complete_task` / `runtime.save_draft`, as the
page calls them. Bad answers are a 422 listing the form's errors, and the task stays open.
"""

from __future__ import annotations

from typing import Any

from engine.base import clock
from engine.base.errors import Conflict
from engine.people.assignment import may_act
from engine.workflow import inbox, runtime, worklist
from engine.workflow.scheduled_meetings import MeetingTimeError
from engine.workflow.task_context import TaskContext, parsed_form, task_context
from forms import FormDefinitionError, FormSpec, HtmlForm, PostedValues, form_spec
from forms.json_input import posted_from_json
from webapp.api.core import (
    PAGE_PARAMS,
    READ,
    WRITE,
    Answer,
    ApiError,
    ApiViewer,
    Call,
    Endpoint,
    Param,
    decode_cursor,
    not_found,
    page,
    page_schema,
)
from webapp.api.people import person_ref
from webapp.api.schemas import ref
from webapp.routes.people import person_lookup

TAG = "Tasks"
TASK_ID = Param("task_id", "path", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                "The task's id.", required=True)
ANSWERS = {
    "type": "object",
    "required": ["data"],
    "additionalProperties": False,
    "properties": {
        "data": {"type": "object", "description": "The form's fields, as in the task's "
                 "`form.schema`: text as strings, numbers as numbers, choices as their values, "
                 "tables as lists of rows, a signature as {acknowledged, name, comment}."},
    },
}


async def _visible_task(call: Call) -> TaskContext:
    """The task's context; 404 unless the token's person may act on it (or completed it)."""
    ctx = await task_context(call.params["task_id"])
    task = ctx.task
    viewer = call.viewer
    allowed = may_act(viewer.person_id, task.assignee_id, task.candidate_group, task.candidates,
                      call.directory)
    if not allowed and task.completed_by_id != viewer.person_id:
        raise not_found()
    return ctx


def _spec(ctx: TaskContext) -> FormSpec:
    schema, uischema = parsed_form(ctx)
    if schema is None:
        raise ApiError(500, "form_unusable", "This task's form cannot be used: HR has to fix "
                       "the pack.")
    try:
        return form_spec(schema, uischema or {}, ctx.catalogs)
    except FormDefinitionError as error:
        raise ApiError(500, "form_unusable", str(error)) from None


def _signer(viewer: ApiViewer) -> dict[str, Any]:
    return {"id": viewer.person_id, "name": viewer.name}


def _bind(call: Call, spec: FormSpec, ctx: TaskContext, formdata: Any = None) -> HtmlForm:
    """As the page binds it: what was sent, else the saved draft, else the task data."""
    if formdata is None and ctx.draft and isinstance(ctx.draft.get("posted"), dict):
        formdata = PostedValues(ctx.draft["posted"])
    return spec.bind(formdata, ctx.data, signer=_signer(call.viewer), now=clock.now(),
                     person_lookup=person_lookup(call.directory))


def _status(ctx: TaskContext) -> str:
    if ctx.is_open:
        return "open"
    return "completed" if ctx.task.status == "completed" else "closed"


def _closed(ctx: TaskContext) -> ApiError:
    return ApiError(409, "task_closed", ctx.closed_message(), {"status": _status(ctx)})


# -- handlers ---------------------------------------------------------------------------------


async def list_tasks(call: Call) -> Answer:
    """GET /tasks: what waits on the token's person, as their inbox lists it."""
    viewer = call.viewer
    limit = call.params["limit"]
    number = decode_cursor(call.params["cursor"]) or 1
    found = await inbox.inbox_page(viewer.person_id, viewer.groups,
                                   process=call.params.get("process") or None,
                                   page=number, per_page=limit)
    items = [
        {
            "id": row.id,
            "name": row.name,
            "process_id": row.process_id,
            "process_title": row.process_title,
            "instance_id": row.instance_id,
            "subject": person_ref(call.directory, row.subject_id),
            "cycle": row.cycle or None,
            "due_at": row.due_at,
            "overdue": row.overdue,
            "shared": row.shared,
            "claimed": row.assignee_id is not None,
        }
        for row in found.rows
    ]
    return Answer(200, page(items, number + 1 if number < found.pages and items else None))


async def get_task(call: Call) -> Answer:
    """GET /tasks/{id}: the task, its instructions, its form's schema and current values."""
    ctx = await _visible_task(call)
    task = ctx.task
    form = None
    data: dict[str, Any] = {}
    if ctx.is_open and ctx.form is not None:
        spec = _spec(ctx)
        form = {"schema": spec.schema, "uischema": spec.uischema}
        data = _bind(call, spec, ctx).to_data()
    draft = ctx.draft if ctx.is_open and ctx.draft else None
    body = {
        "id": task.id,
        "name": task.name,
        "status": _status(ctx),
        "process_id": ctx.instance.process_id,
        "process_title": ctx.process_title,
        "instance_id": ctx.instance.id,
        "subject": person_ref(call.directory, ctx.subject.id if ctx.subject else None),
        "due_at": task.due_at,
        "instructions": ctx.instructions,
        "form": form,
        "data": data,
        "draft": {"saved_at": draft.get("saved_at")} if draft else None,
    }
    return Answer(200, body)


def _form_problems(spec: FormSpec, bound: HtmlForm, problems: list[Any]) -> ApiError:
    errors = [{"field": p.label, "message": p.message} for p in problems]
    errors += [{"field": e.label, "message": e.message} for e in bound.errors]
    return ApiError(422, "invalid_answers",
                    "The answers do not pass the form's checks; the task is still open.",
                    {"errors": errors, "fields": bound.field_errors})


async def complete_task(call: Call) -> Answer:
    """POST /tasks/{id}/complete: check the answers with the task's form, then complete it."""
    ctx = await _visible_task(call)
    if not ctx.is_open:
        raise _closed(ctx)
    actor = await runtime.actor_for(call.viewer.person_id)
    answers = call.body["data"]
    data: dict[str, Any] = {}
    if ctx.form is not None:
        spec = _spec(ctx)
        posted, problems = posted_from_json(spec, answers)
        bound = _bind(call, spec, ctx, posted)
        valid = bound.validate()
        if problems or not valid:
            raise _form_problems(spec, bound, problems)
        data = bound.to_data()
    elif answers:
        raise ApiError(422, "invalid_answers", "This task has no form: send {\"data\": {}}.")
    try:
        instance = await runtime.complete_task(ctx.task.id, actor, data)
    except Conflict as conflict:
        fresh = await task_context(ctx.task.id)
        if fresh.is_open:
            raise ApiError(409, "conflict", str(conflict)) from None
        raise _closed(fresh) from None
    after = await worklist.after_submission(instance)
    return Answer(200, {
        "task_id": ctx.task.id,
        "instance": {"id": instance.id, "status": instance.status},
        "next_steps": [{"name": step.name, "holder": step.holder} for step in after.next_steps],
        "waiting_for": list(after.waiting_for),
    })


async def save_draft(call: Call) -> Answer:
    """PUT /tasks/{id}/draft: keep the answers as they are, unchecked, for later (the page
    shows them too)."""
    ctx = await _visible_task(call)
    if not ctx.is_open:
        raise _closed(ctx)
    if ctx.form is None:
        raise ApiError(422, "no_form", "This task has no form to save a draft of.")
    spec = _spec(ctx)
    posted, _ = posted_from_json(spec, call.body["data"])
    values = {key: posted.getlist(key) for key in posted if key != "_submit"}
    saved_at = clock.now()
    actor = await runtime.actor_for(call.viewer.person_id)
    try:
        await runtime.save_draft(ctx.task.id, actor, {"posted": values,
                                                      "saved_at": saved_at.isoformat()})
    except MeetingTimeError as error:
        raise ApiError(422, "invalid_meeting_time", str(error)) from None
    return Answer(200, {"task_id": ctx.task.id, "saved_at": saved_at})


endpoints = [
    Endpoint(
        "GET", "/tasks", list_tasks, "listTasks", "List my tasks",
        "What waits on the token's person — their own tasks and their groups' unclaimed ones, "
        "as the inbox lists them (due first, undated last).", TAG, READ,
        {200: ("A page of tasks.", page_schema(ref("TaskLine")))},
        params=(Param("process", "query", {"type": "string", "maxLength": 128},
                      "Only tasks of this process (BPMN process id)."), *PAGE_PARAMS),
        personal_only=True,
    ),
    Endpoint(
        "GET", "/tasks/{task_id}", get_task, "getTask", "Read a task and its form",
        "The task with its instructions, its form's JSON Schema (and UI schema) and the "
        "form's current values — a saved draft's when there is one. 404 unless the token's "
        "person may act on it or completed it.", TAG, READ,
        {200: ("The task.", ref("Task"))}, params=(TASK_ID,), errors=(404,),
        personal_only=True, route_path="/tasks/{task_id:id}",
    ),
    Endpoint(
        "POST", "/tasks/{task_id}/complete", complete_task, "completeTask", "Complete a task",
        "Submit the form's answers. They are checked exactly as the task page checks them; "
        "when they do not pass, the answer is 422 with the form's errors and the task stays "
        "open. 409 when the task was completed or closed meanwhile.", TAG, WRITE,
        {200: ("Completed: where the process stands now.", ref("Completion"))},
        params=(TASK_ID,), body=ANSWERS,
        body_example={"data": {"comment": "Agreed, thank you."}},
        errors=(404, 409, 422), personal_only=True,
        route_path="/tasks/{task_id:id}/complete",
    ),
    Endpoint(
        "PUT", "/tasks/{task_id}/draft", save_draft, "saveTaskDraft", "Save a draft",
        "Keep answers for later without checking them; the task page shows them too.",
        TAG, WRITE, {200: ("Saved.", ref("Draft"))}, params=(TASK_ID,), body=ANSWERS,
        body_example={"data": {"comment": "Half written…"}},
        errors=(404, 409, 422), personal_only=True, route_path="/tasks/{task_id:id}/draft",
    ),
]
