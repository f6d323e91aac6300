"""Recognition and the answers to feedback: praising a colleague, the recognition feed, the
receiver's Acknowledge and Reply on /feedback, and the year-so-far panel of appraisal tasks.

Each of these runs through the deployed pack: praise starts its recognition process (the
page's form completes its one step), Acknowledge and Reply complete the receiver's respond step
of the feedback process, and the panel shows on the tasks `[features.year_context]` names.
Who sees what is the engine's (engine.performance.recognition, feedback, year_context).
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from engine.base.errors import NotFound
from engine.people.directory import DirectorySnapshot, PersonInfo
from engine.performance import feedback as feedback_engine
from engine.performance import recognition as recognition_engine
from engine.performance.year_context import task_year_context
from engine.workflow import runtime
from webapp import i18n
from webapp.auth import Viewer, current_user
from webapp.i18n import marked as _
from webapp.input import database_id, find_person
from webapp.routes.people import PersonChoice, choose_person, person_summary
from webapp.templating import flash, is_htmx, render

# Pieces of praise per page of the feed; "Older praise" opens the next.
FEED_PAGE = 30

VISIBILITY_LABELS = {
    "public": _("Everyone (the recognition feed)"),
    "private": _("Only them, their managers and HR"),
}


# --- recognition -----------------------------------------------------------------------------


async def _recognition_page(
    request: Request, viewer: Viewer, form: dict[str, Any], errors: dict[str, str], status: int,
    candidates: tuple[PersonInfo, ...] = (), before: int | None = None,
) -> Response:
    directory = request.state.directory
    feed = await recognition_engine.recognition_feed(viewer, directory, FEED_PAGE, before)
    context = {
        "form": form,
        "errors": errors,
        "candidates": [(p.key, person_summary(directory, p)) for p in candidates],
        "tag_groups": await recognition_engine.current_tag_groups(),
        "visibility_labels": {key: i18n.gettext(label) for key, label in VISIBILITY_LABELS.items()},
        "feed": feed.praise,
        "older_before": feed.older_before,
        "is_older_page": before is not None,
        "praise_counts": await recognition_engine.praise_counts(
            viewer.person_id, viewer, directory
        ),
    }
    return render(request, "recognition.html", context, status=status)


async def recognition_page(request: Request) -> Response:
    """GET /recognition[?before=<id>]: praise a colleague; the praise the viewer may see,
    newest first, a page at a time (`before`: the older page starts after that praise)."""
    viewer = current_user(request)
    before = None
    if "before" in request.query_params:
        before = database_id(request.query_params["before"])
        if before is None:
            raise HTTPException(400, "That page of the feed does not exist: "
                                     "start again from the newest praise.")
    return await _recognition_page(
        request, viewer, {"visibility": "public"}, {}, 200, before=before
    )


def _praise_choice(
    form: FormData, viewer: Viewer, directory: DirectorySnapshot, tags: set[str]
) -> tuple[dict[str, Any], dict[str, str], PersonChoice]:
    """The praise form's values, its errors and whom the colleague box names."""
    values = {
        "colleague": " ".join(str(form.get("colleague", "")).split()),
        "message": str(form.get("message", "")).strip(),
        "tag": str(form.get("tag", "")).strip(),
        "visibility": str(form.get("visibility", "")),
    }
    errors: dict[str, str] = {}
    picked = find_person(directory, str(form.get("colleague_pick", "")).strip())
    if picked is not None and picked.active:
        choice = PersonChoice(values["colleague"], picked)
        values["colleague"] = picked.name
    else:
        choice = choose_person(directory, values["colleague"])
        if choice.person is None:
            others = tuple(p for p in choice.candidates if p.id != viewer.person_id)
            choice = PersonChoice(choice.typed, None, others)
    if choice.person is None:
        errors["colleague"] = choice.problem("colleague")
    elif choice.person.id == viewer.person_id:
        errors["colleague"] = i18n.gettext("Choose a colleague: praise is for someone else.")
    if not values["message"]:
        errors["message"] = i18n.gettext("Say what they did and why it mattered.")
    elif len(values["message"]) > recognition_engine.MESSAGE_MAX:
        errors["message"] = i18n.gettext(
            "Keep the message under %(count)s characters.", count=recognition_engine.MESSAGE_MAX
        )
    if values["tag"] not in tags:
        errors["tag"] = i18n.gettext("Choose the value or competency it shows.")
    if values["visibility"] not in recognition_engine.VISIBILITIES:
        errors["visibility"] = i18n.gettext("Choose who may see it.")
    return values, errors, choice


async def give_praise(request: Request) -> Response:
    """POST /recognition: start the pack's recognition process with the viewer's praise."""
    viewer = current_user(request)
    directory = request.state.directory
    form = await request.form()
    groups = await recognition_engine.current_tag_groups()
    tags = {name for group in groups for name, _ in group.tags}
    values, errors, choice = _praise_choice(form, viewer, directory, tags)
    if errors:
        return await _recognition_page(request, viewer, values, errors, 422, choice.candidates)
    colleague = choice.person
    assert colleague is not None  # _praise_choice found them
    actor = runtime.Actor(viewer.person_id, f"person:{viewer.key}")
    try:
        await recognition_engine.praise_colleague(actor, {**values, "colleague": colleague.key})
    except recognition_engine.PraiseError as error:
        # Checked above; the directory or the pack changed meanwhile. Nothing was recorded.
        errors = {"message": i18n.gettext(
            "Your praise was not recorded: %(problem)s.", problem=error
        )}
        return await _recognition_page(request, viewer, values, errors, 422)
    if values["visibility"] == "public":
        said = i18n.gettext(
            "Your praise for %(name)s was recorded in the feed.", name=colleague.name
        )
    else:
        said = i18n.gettext(
            "Your praise for %(name)s was recorded privately.", name=colleague.name
        )
    flash(request, said, "success")
    return RedirectResponse("/recognition", status_code=303)


# --- responses to feedback -------------------------------------------------------------------


async def respond_to_feedback(request: Request) -> Response:
    """POST /feedback/respond/{task_id}: the receiver acknowledges a piece of feedback or
    replies to it (completing the feedback process's respond step)."""
    viewer = current_user(request)
    task_id = database_id(request.path_params["task_id"])
    if task_id is None:
        raise HTTPException(404)
    form = await request.form()
    response = str(form.get("response", ""))
    text = str(form.get("reply_text", ""))
    actor = runtime.Actor(viewer.person_id, f"person:{viewer.key}")
    try:
        await feedback_engine.respond_to_feedback(actor, task_id, response, text)
    except feedback_engine.ResponseError as error:
        # The feedback page again, with the reply as typed under the piece it answers.
        directory = request.state.directory
        context = {
            "form": {},
            "errors": {},
            "candidates": [],
            "response_errors": {task_id: str(error)},
            "response_typed": {task_id: text},
            **vars(await feedback_engine.feedback_lists(viewer, directory)),
        }
        return render(request, "feedback.html", context, status=422)
    except NotFound:
        raise HTTPException(404) from None
    flash(request, i18n.gettext("Your reply was sent.") if response == "reply"
          else i18n.gettext("Acknowledged."), "success")
    return RedirectResponse("/feedback#received-heading", status_code=303)


# --- the year so far on an appraisal task ----------------------------------------------------


async def year_context_panel(request: Request) -> Response:
    """GET /tasks/{task_id}/year-context: the year-so-far panel of a task the viewer works
    (htmx loads it into the task page; without JavaScript it is a page of its own). Empty
    when the pack shows no panel on this task."""
    viewer = current_user(request)
    task_id = database_id(request.path_params["task_id"])
    if task_id is None:
        raise HTTPException(404)
    try:
        year = await task_year_context(task_id, viewer)
    except NotFound:
        raise HTTPException(404) from None
    if is_htmx(request):
        if year is None:
            return HTMLResponse("")
        return render(request, "_year_context.html", {"year": year, "task_id": task_id})
    if year is None:
        raise HTTPException(404)
    return render(request, "year_context.html", {"year": year, "task_id": task_id})


routes: list[BaseRoute] = [
    Route("/recognition", recognition_page, methods=["GET"], name="recognition"),
    Route("/recognition", give_praise, methods=["POST"], name="recognition_give"),
    Route("/feedback/respond/{task_id}", respond_to_feedback, methods=["POST"],
          name="feedback_respond"),
    Route("/tasks/{task_id}/year-context", year_context_panel, methods=["GET"],
          name="task_year_context"),
]
