"""Training: the course catalog and one's own courses (/training), and HR's training admin
(/hr/training): courses, sessions and their rosters, attendance and completion, evaluations,
the effect on competency ratings, and which people managers have taken the managers' course.

A request for a course starts the pack's training request process (`[features.training]`);
this page opens its first step. Everything else reads and writes through engine.talent.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from engine.base.errors import NotAllowed, NotFound
from engine.people.directory import DirectorySnapshot, PersonInfo
from engine.talent import training, training_effect, training_enrolments
from engine.talent.training import TrainingInputError
from engine.workflow import runtime
from webapp import i18n
from webapp.auth import Viewer, current_user, require_hr
from webapp.i18n import marked as _
from webapp.input import database_id, find_person, path_id
from webapp.templating import flash, is_htmx, render

STATUS_LABELS = {
    "enrolled": _("Enrolled"),
    "attended": _("Attended"),
    "completed": _("Completed"),
    "no_show": _("No-show"),
    "cancelled": _("Cancelled"),
}
MARK_LABELS = {
    "attended": _("Mark attended"),
    "completed": _("Mark completed"),
    "no_show": _("Mark no-show"),
    "cancelled": _("Cancel enrolment"),
}
DELIVERY_LABELS = {"internal": _("Internal"), "external": _("External")}
MANAGER_STATUS_LABELS = {
    "completed": _("Completed"),
    "enrolled": _("Enrolled"),
    "not_yet": _("Not yet"),
}
SCORES = (1, 2, 3, 4, 5)


def _words(labels: dict[str, str]) -> dict[str, str]:
    return {key: i18n.gettext(label) for key, label in labels.items()}


def _actor(viewer: Viewer) -> runtime.Actor:
    return runtime.Actor(viewer.person_id, f"person:{viewer.key}")


def _team(viewer: Viewer, directory: DirectorySnapshot) -> list[PersonInfo]:
    """Everyone below the viewer, by name: whom they may ask for a course for."""
    people = [directory.person(pid) for pid in directory.reports_of(viewer.person_id, True)]
    return sorted((p for p in people if p is not None and p.active), key=lambda p: p.name)


async def _common() -> dict[str, Any]:
    return {
        "competencies": await training.competency_names(),
        "status_labels": _words(STATUS_LABELS),
        "delivery_labels": _words(DELIVERY_LABELS),
    }


# --- the catalog and my courses --------------------------------------------------------------


async def _training_page(request: Request, viewer: Viewer, status: int = 200,
                         evaluation_errors: dict[int, dict[str, str]] | None = None,
                         typed: dict[int, dict[str, str]] | None = None) -> Response:
    await training.ensure_catalog()
    directory = request.state.directory
    competency = request.query_params.get("competency", "")
    common = await _common()
    if competency not in common["competencies"]:
        competency = ""
    team = _team(viewer, directory)
    context = {
        **common,
        "entries": await training.catalog_entries(competency),
        "competency": competency,
        "mine": await training_enrolments.enrolments_of_person(viewer.person_id),
        "team": team,
        "team_enrolments": await training_enrolments.enrolments_of_people(
            [p.id for p in team]) if team else [],
        "scores": SCORES,
        "evaluation_errors": evaluation_errors or {},
        "typed": typed or {},
    }
    return render(request, "training.html", context, status=status,
                  fragment="_training_catalog.html")


async def training_page(request: Request) -> Response:
    """GET /training[?competency=key]: the catalog, with "Request this course"; the
    viewer's own courses (and evaluations to give); a manager's team's courses."""
    return await _training_page(request, current_user(request))


async def request_course(request: Request) -> Response:
    """POST /training/request: ask for a course (for oneself, or `person` in one's team);
    opens the request's first step."""
    viewer = current_user(request)
    directory = request.state.directory
    form = await request.form()
    code = str(form.get("course", ""))
    person = find_person(directory, str(form.get("person") or viewer.key))
    if person is None:
        raise HTTPException(404)
    try:
        task_id = await training_enrolments.request_course(_actor(viewer), person.id, code)
    except NotAllowed:
        raise HTTPException(404) from None
    except (TrainingInputError, NotFound) as error:
        message = i18n.say(error.message) if isinstance(error, TrainingInputError) else \
            i18n.gettext("That course is not offered any more.")
        flash(request, message, "error")
        return RedirectResponse("/training", status_code=303)
    if task_id is None:
        flash(request, i18n.gettext("Your request was sent."), "success")
        return RedirectResponse("/training", status_code=303)
    return RedirectResponse(f"/tasks/{task_id}", status_code=303)


async def evaluate(request: Request) -> Response:
    """POST /training/enrolments/{id}/evaluation: the participant's evaluation of a course."""
    viewer = current_user(request)
    enrolment_id = path_id(request, "enrolment_id")
    form = await request.form()
    answers = {name: str(form.get(name, "")) for name in ("rating", "useful", "applied",
                                                         "comment")}
    try:
        await training_enrolments.evaluate(enrolment_id, viewer.person_id, answers)
    except NotFound:
        raise HTTPException(404) from None
    except TrainingInputError as error:
        errors = {enrolment_id: {error.field: i18n.say(error.message)}}
        return await _training_page(request, viewer, 422, errors, {enrolment_id: answers})
    flash(request, i18n.gettext("Thank you: your evaluation was recorded."), "success")
    return RedirectResponse("/training#my-courses", status_code=303)


# --- HR: courses and sessions ----------------------------------------------------------------


async def hr_training(request: Request) -> Response:
    """GET /hr/training: the courses with their counts, upcoming sessions, and people waiting
    for a session."""
    require_hr(request)
    await training.ensure_catalog()
    entries = await training.catalog_entries(include_retired=True)
    sessions = [s for entry in entries for s in entry.sessions]
    sessions.sort(key=lambda s: s.starts_at)
    context = {
        **await _common(),
        "entries": entries,
        "courses_by_id": {e.course.id: e.course for e in entries},
        "counts": await training_enrolments.counts_by_course(),
        "sessions": sessions,
        "waiting": await training_enrolments.waiting_for_session(),
        "section": "courses",
    }
    return render(request, "training_admin.html", context)


def _course_form(course: training.CourseInfo | None) -> dict[str, Any]:
    if course is None:
        return {"delivery": "internal", "currency": "EUR", "competencies": []}
    return {**course.as_start_data(), "competencies": list(course.competencies)}


def _posted_course(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {name: str(form.get(name, "")) for name in (
        "code", "title", "description", "delivery", "provider", "cost", "currency",
        "duration_hours")}
    values["competencies"] = [str(v) for v in form.getlist("competencies")]
    return values


async def _course_page(request: Request, course: training.CourseInfo | None,
                       form: dict[str, Any], errors: dict[str, str],
                       session_form: dict[str, str] | None = None,
                       session_errors: dict[str, str] | None = None,
                       status: int = 200) -> Response:
    sessions = await training.sessions_of([course.id]) if course else []
    enrolments = await training_enrolments.enrolments_of_course(course.id) if course else []
    context = {
        **await _common(),
        "course": course,
        "form": form,
        "errors": errors,
        "sessions": sessions,
        "enrolments": enrolments,
        "session_form": session_form or {},
        "session_errors": session_errors or {},
        "section": "courses",
    }
    return render(request, "training_course.html", context, status=status)


async def new_course(request: Request) -> Response:
    """GET /hr/training/courses/new: the form for a course of HR's own."""
    require_hr(request)
    return await _course_page(request, None, _course_form(None), {})


async def add_course(request: Request) -> Response:
    """POST /hr/training/courses: add a course."""
    viewer = require_hr(request)
    form = _posted_course(await request.form())
    try:
        course = await training.save_course(None, form, await training.competency_names(),
                                            f"person:{viewer.key}")
    except TrainingInputError as error:
        return await _course_page(request, None, form, {error.field: i18n.say(error.message)},
                                  status=422)
    flash(request, i18n.gettext("The course was added to the catalog."), "success")
    return RedirectResponse(f"/hr/training/courses/{course.code}", status_code=303)


async def _course_or_404(code: str) -> training.CourseInfo:
    try:
        return await training.course_by_code(code)
    except NotFound:
        raise HTTPException(404) from None


async def course_page(request: Request) -> Response:
    """GET /hr/training/courses/{code}: a course's details, sessions and participants."""
    require_hr(request)
    course = await _course_or_404(request.path_params["code"])
    return await _course_page(request, course, _course_form(course), {})


async def edit_course(request: Request) -> Response:
    """POST /hr/training/courses/{code}: change a course (it is HR's from then on)."""
    viewer = require_hr(request)
    course = await _course_or_404(request.path_params["code"])
    form = _posted_course(await request.form())
    try:
        await training.save_course(course.code, form, await training.competency_names(),
                                   f"person:{viewer.key}")
    except TrainingInputError as error:
        return await _course_page(request, course, form, {error.field: i18n.say(error.message)},
                                  status=422)
    flash(request, i18n.gettext("The course was saved."), "success")
    return RedirectResponse(f"/hr/training/courses/{course.code}", status_code=303)


async def course_active(request: Request) -> Response:
    """POST /hr/training/courses/{code}/active: retire a course or offer it again."""
    viewer = require_hr(request)
    course = await _course_or_404(request.path_params["code"])
    active = str((await request.form()).get("active", "")) == "1"
    await training.set_course_active(course.code, active, f"person:{viewer.key}")
    flash(request, i18n.gettext("The course is offered again.") if active
          else i18n.gettext("The course was retired: nobody can ask for it now."), "success")
    return RedirectResponse(f"/hr/training/courses/{course.code}", status_code=303)


async def schedule_session(request: Request) -> Response:
    """POST /hr/training/courses/{code}/sessions: schedule a session of the course."""
    viewer = require_hr(request)
    course = await _course_or_404(request.path_params["code"])
    posted = await request.form()
    form = {name: str(posted.get(name, "")) for name in ("starts_at", "ends_at", "location",
                                                         "trainer", "seats")}
    try:
        await training.schedule_session(course.code, form, f"person:{viewer.key}")
    except TrainingInputError as error:
        return await _course_page(request, course, _course_form(course), {}, form,
                                  {error.field: i18n.say(error.message)}, status=422)
    flash(request, i18n.gettext("The session was scheduled."), "success")
    return RedirectResponse(f"/hr/training/courses/{course.code}#sessions", status_code=303)


async def _roster_context(session_id: int, errors: str = "") -> dict[str, Any]:
    try:
        session = await training.session_by_id(session_id)
    except NotFound:
        raise HTTPException(404) from None
    return {
        **await _common(),
        "session": session,
        "course": await training_enrolments.session_course(session_id),
        "roster": await training_enrolments.enrolments_of_session(session_id),
        "mark_labels": _words(MARK_LABELS),
        "roster_error": errors,
        "section": "courses",
    }


async def session_page(request: Request) -> Response:
    """GET /hr/training/sessions/{id}: a session's participants, to mark attendance."""
    require_hr(request)
    context = await _roster_context(path_id(request, "session_id"))
    return render(request, "training_session.html", context)


async def mark_session(request: Request) -> Response:
    """POST /hr/training/sessions/{id}/marks: mark the ticked participants attended,
    completed, no-show or cancelled (htmx: the roster again; else back to the page)."""
    viewer = require_hr(request)
    session_id = path_id(request, "session_id")
    form = await request.form()
    ids = [i for i in (database_id(str(v)) for v in form.getlist("enrolment")) if i is not None]
    try:
        changed = await training_enrolments.mark_enrolments(
            ids, str(form.get("status", "")), f"person:{viewer.key}", session_id)
    except TrainingInputError as error:
        context = await _roster_context(session_id, i18n.say(error.message))
        return render(request, "training_session.html", context, status=422,
                      fragment="_training_roster.html")
    said = i18n.ngettext("%(num)s participant marked.", "%(num)s participants marked.",
                         changed, num=changed)
    if is_htmx(request):
        context = await _roster_context(session_id)
        context["roster_message"] = said
        return render(request, "training_session.html", context,
                      fragment="_training_roster.html")
    flash(request, said, "success")
    return RedirectResponse(f"/hr/training/sessions/{session_id}", status_code=303)


async def cancel_session(request: Request) -> Response:
    """POST /hr/training/sessions/{id}/cancel: cancel a session; its people wait for another."""
    viewer = require_hr(request)
    session_id = path_id(request, "session_id")
    try:
        course = await training_enrolments.session_course(session_id)
        moved = await training.cancel_session(session_id, f"person:{viewer.key}")
    except NotFound:
        raise HTTPException(404) from None
    flash(request, i18n.ngettext(
        "The session was cancelled; %(num)s person waits for another session.",
        "The session was cancelled; %(num)s people wait for another session.", moved,
        num=moved), "success")
    return RedirectResponse(f"/hr/training/courses/{course.code}#sessions", status_code=303)


async def place_enrolment(request: Request) -> Response:
    """POST /hr/training/enrolments/{id}/place: put a waiting person in a session."""
    viewer = require_hr(request)
    enrolment_id = path_id(request, "enrolment_id")
    session_id = database_id(str((await request.form()).get("session", "")))
    try:
        if session_id is None:
            raise TrainingInputError("session", i18n.gettext("Choose a session."))
        await training_enrolments.place_in_session(enrolment_id, session_id,
                                                   f"person:{viewer.key}")
    except NotFound:
        raise HTTPException(404) from None
    except TrainingInputError as error:
        flash(request, i18n.say(error.message), "error")
        return RedirectResponse("/hr/training#waiting", status_code=303)
    flash(request, i18n.gettext("The place in the session was confirmed."), "success")
    return RedirectResponse("/hr/training#waiting", status_code=303)


# --- HR: results and the managers' course ----------------------------------------------------


async def hr_results(request: Request) -> Response:
    """GET /hr/training/results: evaluations per course, and the change in the targeted
    competencies' ratings of those trained against those not."""
    require_hr(request)
    context = {
        **await _common(),
        "evaluations": await training_enrolments.evaluations_by_course(),
        "effects": await training_effect.course_effects(),
        "min_group": training_effect.MIN_GROUP,
        "section": "results",
    }
    return render(request, "training_results.html", context)


async def hr_managers(request: Request) -> Response:
    """GET /hr/training/managers: per unit, which people managers completed the managers'
    appraisal and coaching skills course, are enrolled, or have not taken it."""
    require_hr(request)
    coverage = await training_effect.manager_course_coverage(request.state.directory)
    sessions = await training.sessions_of([coverage.course.id], upcoming_only=True) \
        if coverage.course else []
    context = {
        **await _common(),
        "coverage": coverage,
        "sessions": [s for s in sessions if s.free != 0],
        "manager_labels": _words(MANAGER_STATUS_LABELS),
        "section": "managers",
    }
    return render(request, "training_managers.html", context)


async def enrol_manager(request: Request) -> Response:
    """POST /hr/training/managers/enrol: HR enrols a people manager on the managers' course
    (in a session, when one is chosen)."""
    viewer = require_hr(request)
    directory = request.state.directory
    form = await request.form()
    person = find_person(directory, str(form.get("person", "")))
    coverage = await training_effect.manager_course_coverage(directory)
    if person is None or coverage.course is None:
        raise HTTPException(404)
    session_id = database_id(str(form.get("session", "")))
    try:
        await training_enrolments.enrol_directly(person.id, coverage.course.code, session_id,
                                                 f"person:{viewer.key}")
    except (TrainingInputError, NotFound) as error:
        message = i18n.say(error.message) if isinstance(error, TrainingInputError) else \
            i18n.gettext("Choose an open session of this course.")
        flash(request, message, "error")
        return RedirectResponse("/hr/training/managers", status_code=303)
    flash(request, i18n.gettext("%(name)s is enrolled.", name=person.name), "success")
    return RedirectResponse("/hr/training/managers", status_code=303)


routes: list[BaseRoute] = [
    Route("/training", training_page, methods=["GET"], name="training"),
    Route("/training/request", request_course, methods=["POST"], name="training_request"),
    Route("/training/enrolments/{enrolment_id}/evaluation", evaluate, methods=["POST"]),
    Route("/hr/training", hr_training, methods=["GET"], name="hr_training"),
    Route("/hr/training/results", hr_results, methods=["GET"]),
    Route("/hr/training/managers", hr_managers, methods=["GET"]),
    Route("/hr/training/managers/enrol", enrol_manager, methods=["POST"]),
    Route("/hr/training/courses/new", new_course, methods=["GET"]),
    Route("/hr/training/courses", add_course, methods=["POST"]),
    Route("/hr/training/courses/{code}", course_page, methods=["GET"]),
    Route("/hr/training/courses/{code}", edit_course, methods=["POST"]),
    Route("/hr/training/courses/{code}/active", course_active, methods=["POST"]),
    Route("/hr/training/courses/{code}/sessions", schedule_session, methods=["POST"]),
    Route("/hr/training/sessions/{session_id}", session_page, methods=["GET"]),
    Route("/hr/training/sessions/{session_id}/marks", mark_session, methods=["POST"]),
    Route("/hr/training/sessions/{session_id}/cancel", cancel_session, methods=["POST"]),
    Route("/hr/training/enrolments/{enrolment_id}/place", place_enrolment, methods=["POST"]),
]
