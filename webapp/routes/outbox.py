"""The outbox for HR: every email Sightline queued, sent or gave up on, and a retry button.

GET /admin/outbox lists the emails newest first, filtered by status and paginated; each one
opens to its text exactly as it is (or would be) sent. POST /admin/outbox/{id}/retry puts a
failed email back in the queue. Only the HR group sees any of it; everyone else gets 404. An
HR partner sees (and retries) only the emails about the people of the units they look after
(engine.workflow.notifications explains the rule); an HR administrator sees them all.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from config import settings
from engine.workflow import notifications
from engine.workflow.access import hr_units
from webapp import i18n
from webapp.auth import require_hr
from webapp.templating import flash, is_htmx, render

OUTBOX = "/admin/outbox"
PER_PAGE = 25


def _page_number(raw: str | None) -> int:
    try:
        return max(1, int(raw or 1))
    except ValueError:
        return 1


def outbox_url(status: str | None = None, page: int = 1) -> str:
    """The outbox address for a status filter and page (defaults left out)."""
    query = {k: v for k, v in (("status", status), ("page", page)) if v and v != 1}
    return f"{OUTBOX}?{urlencode(query)}" if query else OUTBOX


async def outbox(request: Request) -> Response:
    """GET /admin/outbox: the outbox page (the list alone for htmx filter and paging)."""
    viewer = require_hr(request)
    status = request.query_params.get("status") or None
    listing = await notifications.outbox_page(
        status, _page_number(request.query_params.get("page")), PER_PAGE,
        units=hr_units(viewer.person_id, request.state.directory),
    )
    context = {
        "listing": listing,
        "rows": [notifications.shown_email(e, settings.BASE_URL) for e in listing.emails],
        "statuses": notifications.STATUSES,
        "smtp_host": settings.SMTP_HOST,
        "smtp_port": settings.SMTP_PORT,
        "base_url": settings.BASE_URL,
        "outbox_url": outbox_url,
        "max_attempts": notifications.MAX_ATTEMPTS,
    }
    return render(request, "outbox.html", context, fragment="_outbox_list.html")


async def retry(request: Request) -> Response:
    """POST /admin/outbox/{id}/retry: a failed email goes back in the queue."""
    viewer = require_hr(request)
    email_id = request.path_params["email_id"]
    await notifications.check_email_in_scope(
        email_id, hr_units(viewer.person_id, request.state.directory)
    )
    email = await notifications.retry_email(email_id)
    if is_htmx(request):
        context = {
            "row": notifications.shown_email(email, settings.BASE_URL),
            "smtp_host": settings.SMTP_HOST,
            "max_attempts": notifications.MAX_ATTEMPTS,
            "retried": True,
        }
        return render(request, "_outbox_row.html", context)
    flash(request, i18n.gettext("The email to %(address)s is back in the queue.", address=email.to),
          "success")
    return RedirectResponse(outbox_url("failed"), status_code=303)


routes = [
    Route(OUTBOX, outbox, methods=["GET"], name="outbox"),
    Route(f"{OUTBOX}/{{email_id:int}}/retry", retry, methods=["POST"], name="outbox_retry"),
]
