"""Recurring 1:1s: my series (as manager and as report), scheduling one with a report, and
the meeting page — agenda, actions carried over, shared and private notes, objectives
discussed, held / skipped / moved.

Only the two people of a series see it; anyone else gets a 404, as for any page they may not
see. HR sees, on the list, which series exist and how many meetings were held. The rules are
the engine's (engine.performance.one_on_ones); the meeting's process is the pack's
`[features.one_on_ones]`. The small updates (an item added or ticked, notes saved) answer
htmx with the section they changed; without JavaScript every form posts and comes back to
the page.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from engine.performance import one_on_ones as oo
from engine.workflow import runtime
from engine.workflow.access import visible_subject_ids
from webapp import i18n
from webapp.auth import Viewer, current_user
from webapp.input import database_id
from webapp.templating import flash, is_htmx, render

# The sections of the meeting page htmx swaps, by the fragment that renders each.
SECTIONS = {
    "agenda": "_one_on_one_agenda.html",
    "actions": "_one_on_one_actions.html",
    "shared": "_one_on_one_shared.html",
    "private": "_one_on_one_private.html",
    "objectives": "_one_on_one_objectives.html",
}


def _actor(viewer: Viewer) -> runtime.Actor:
    return runtime.Actor(viewer.person_id, f"person:{viewer.key}")


def _id(request: Request, name: str = "id") -> int:
    value = database_id(request.path_params.get(name))
    if value is None:
        raise HTTPException(404)
    return value


# --- the list ----------------------------------------------------------------------------------


async def _list_page(request: Request, form: dict[str, Any], errors: dict[str, str],
                     status: int = 200) -> Response:
    viewer = current_user(request)
    directory = request.state.directory
    series = await oo.my_series(viewer.person_id)
    overview = None
    if viewer.is_hr:
        overview = await oo.hr_overview(visible_subject_ids(viewer, directory))
    context = {
        "leading": [s for s in series if s.role == "manager" and s.ended_at is None],
        "mine": [s for s in series if s.role == "report" and s.ended_at is None],
        "ended": [s for s in series if s.ended_at is not None],
        "reports": await oo.reports_without_series(viewer.person_id),
        "cadences": await oo.allowed_cadences(),
        "durations": oo.DURATIONS,
        "form": form,
        "errors": errors,
        "overview": overview,
    }
    return render(request, "one_on_ones.html", context, status=status)


async def one_on_ones_page(request: Request) -> Response:
    """GET /one-on-ones: my 1:1s and, for a manager, scheduling one with a report."""
    return await _list_page(request, {"cadence": "weekly", "duration": "30"}, {})


def _schedule_form(form: FormData) -> dict[str, str]:
    return {name: str(form.get(name, "")).strip()
            for name in ("report", "cadence", "first_at", "duration")}


async def schedule(request: Request) -> Response:
    """POST /one-on-ones: a manager schedules a recurring 1:1 with a direct report."""
    viewer = current_user(request)
    directory = request.state.directory
    values = _schedule_form(await request.form())
    errors: dict[str, str] = {}
    report = directory.person(database_id(values["report"])) if values["report"] else None
    if report is None:
        errors["report"] = i18n.gettext("Choose the report you meet.")
    try:
        when = oo.parse_when(values["first_at"])
    except oo.OneOnOneError as err:
        errors["first_at"] = str(err)
    duration = database_id(values["duration"])
    if duration is None:
        errors["duration"] = i18n.gettext("Choose how long you meet.")
    if not errors:
        assert report is not None and duration is not None
        try:
            meeting_id = await oo.schedule_series(
                _actor(viewer), report.id, values["cadence"], when, duration)
        except oo.OneOnOneError as err:
            errors["form"] = str(err)
        else:
            flash(request, i18n.gettext(
                "Your 1:1 with %(name)s is scheduled.", name=report.name
            ), "success")
            return RedirectResponse(f"/one-on-ones/meetings/{meeting_id}", status_code=303)
    return await _list_page(request, values, errors, 422)


async def series_page(request: Request) -> Response:
    """GET /one-on-ones/series/{id}: the series' next meeting."""
    viewer = current_user(request)
    meeting_id = await oo.current_meeting_id(_id(request), viewer.person_id)
    return RedirectResponse(f"/one-on-ones/meetings/{meeting_id}", status_code=303)


# --- the meeting -------------------------------------------------------------------------------


async def _meeting_response(request: Request, meeting_id: int, section: str | None = None,
                            error: str = "", status: int = 200) -> Response:
    viewer = current_user(request)
    view = await oo.meeting_view(meeting_id, viewer.person_id)
    context = {"v": view, "error": error, "error_section": section if error else None}
    if section is not None and is_htmx(request):
        return render(request, SECTIONS[section], context, status=status)
    return render(request, "one_on_one_meeting.html", context, status=status)


async def meeting_page(request: Request) -> Response:
    """GET /one-on-ones/meetings/{id}: the meeting page, for its two people only."""
    return await _meeting_response(request, _id(request))


async def _after(request: Request, meeting_id: int, section: str, error: str = "") -> Response:
    """Where a meeting form leads: its section for htmx, else back to the page (or the page
    with the error, nothing lost: the page shows what is stored and the error says why)."""
    if error:
        return await _meeting_response(request, meeting_id, section, error, 422)
    if is_htmx(request):
        return await _meeting_response(request, meeting_id, section)
    return RedirectResponse(f"/one-on-ones/meetings/{meeting_id}#oo-{section}", status_code=303)


async def add_item(request: Request) -> Response:
    """POST /one-on-ones/meetings/{id}/items: an agenda item or an action."""
    viewer = current_user(request)
    meeting_id = _id(request)
    form = await request.form()
    kind = str(form.get("kind", ""))
    section = "actions" if kind == "action" else "agenda"
    owner = database_id(str(form.get("owner", "")))
    try:
        await oo.add_item(meeting_id, viewer.person_id, kind, str(form.get("text", "")), owner)
    except oo.OneOnOneError as err:
        return await _after(request, meeting_id, section, str(err))
    return await _after(request, meeting_id, section)


async def tick_item(request: Request) -> Response:
    """POST /one-on-ones/meetings/{id}/items/{item}: mark an item done (or not done)."""
    viewer = current_user(request)
    meeting_id, item_id = _id(request), _id(request, "item")
    form = await request.form()
    section = "actions" if form.get("kind") == "action" else "agenda"
    try:
        await oo.set_item_done(item_id, viewer.person_id, form.get("done") == "1", meeting_id)
    except oo.OneOnOneError as err:
        return await _after(request, meeting_id, section, str(err))
    return await _after(request, meeting_id, section)


async def shared_notes(request: Request) -> Response:
    """POST /one-on-ones/meetings/{id}/shared-notes: the notes both people read."""
    viewer = current_user(request)
    meeting_id = _id(request)
    form = await request.form()
    try:
        await oo.save_shared_notes(meeting_id, viewer.person_id, str(form.get("notes", "")))
    except oo.OneOnOneError as err:
        return await _after(request, meeting_id, "shared", str(err))
    return await _after(request, meeting_id, "shared")


async def private_notes(request: Request) -> Response:
    """POST /one-on-ones/meetings/{id}/private-notes: the viewer's own notes."""
    viewer = current_user(request)
    meeting_id = _id(request)
    form = await request.form()
    try:
        await oo.save_private_notes(meeting_id, viewer.person_id, str(form.get("notes", "")))
    except oo.OneOnOneError as err:
        return await _after(request, meeting_id, "private", str(err))
    return await _after(request, meeting_id, "private")


async def objectives(request: Request) -> Response:
    """POST /one-on-ones/meetings/{id}/objectives: the objectives discussed."""
    viewer = current_user(request)
    meeting_id = _id(request)
    form = await request.form()
    keys = [str(k) for k in form.getlist("objective")]
    try:
        await oo.set_objectives(meeting_id, viewer.person_id, keys)
    except oo.OneOnOneError as err:
        return await _after(request, meeting_id, "objectives", str(err))
    return await _after(request, meeting_id, "objectives")


async def _manage(request: Request, what: str) -> Response:
    viewer = current_user(request)
    meeting_id = _id(request)
    form = await request.form()
    actor = _actor(viewer)
    try:
        if what == "held":
            next_id = await oo.mark_held(meeting_id, actor)
            flash(request, i18n.gettext(
                "The meeting is marked held; the next one is scheduled."
            ), "success")
        elif what == "skip":
            next_id = await oo.skip_meeting(meeting_id, actor)
            flash(request, i18n.gettext(
                "The meeting is skipped; open actions carry over to the next one."
            ), "success")
        else:
            await oo.reschedule(meeting_id, actor, oo.parse_when(str(form.get("when", ""))))
            next_id = meeting_id
            flash(request, i18n.gettext(
                "The meeting is moved; the reminder follows it."
            ), "success")
    except oo.OneOnOneError as err:
        return await _meeting_response(request, meeting_id, None, str(err), 422)
    return RedirectResponse(f"/one-on-ones/meetings/{next_id}", status_code=303)


async def mark_held(request: Request) -> Response:
    """POST /one-on-ones/meetings/{id}/held: the manager marks the meeting held."""
    return await _manage(request, "held")


async def skip(request: Request) -> Response:
    """POST /one-on-ones/meetings/{id}/skip: the manager skips the meeting."""
    return await _manage(request, "skip")


async def reschedule(request: Request) -> Response:
    """POST /one-on-ones/meetings/{id}/reschedule: the manager moves the meeting."""
    return await _manage(request, "reschedule")


async def end_series(request: Request) -> Response:
    """POST /one-on-ones/series/{id}/end: the manager ends the series."""
    viewer = current_user(request)
    series_id = _id(request)
    try:
        await oo.end_series(series_id, _actor(viewer))
    except oo.OneOnOneError as err:
        flash(request, str(err), "error")
    else:
        flash(request, i18n.gettext(
            "The 1:1 series has ended; its meetings stay readable."
        ), "success")
    return RedirectResponse("/one-on-ones", status_code=303)


routes: list[BaseRoute] = [
    Route("/one-on-ones", one_on_ones_page, methods=["GET"]),
    Route("/one-on-ones", schedule, methods=["POST"]),
    Route("/one-on-ones/series/{id}", series_page, methods=["GET"]),
    Route("/one-on-ones/series/{id}/end", end_series, methods=["POST"]),
    Route("/one-on-ones/meetings/{id}", meeting_page, methods=["GET"]),
    Route("/one-on-ones/meetings/{id}/items", add_item, methods=["POST"]),
    Route("/one-on-ones/meetings/{id}/items/{item}", tick_item, methods=["POST"]),
    Route("/one-on-ones/meetings/{id}/shared-notes", shared_notes, methods=["POST"]),
    Route("/one-on-ones/meetings/{id}/private-notes", private_notes, methods=["POST"]),
    Route("/one-on-ones/meetings/{id}/objectives", objectives, methods=["POST"]),
    Route("/one-on-ones/meetings/{id}/held", mark_held, methods=["POST"]),
    Route("/one-on-ones/meetings/{id}/skip", skip, methods=["POST"]),
    Route("/one-on-ones/meetings/{id}/reschedule", reschedule, methods=["POST"]),
]
