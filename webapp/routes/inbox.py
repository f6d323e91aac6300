"""The inbox (home page), the nav badge counts, and claiming / releasing group tasks.

GET /inbox lists what waits on the person: their own tasks, their groups' unclaimed tasks and
tasks naming them among several candidates, filtered by a plain GET form (htmx swaps only the
list). POST /tasks/{id}/claim and /release answer with a redirect and a flash, or with the
refreshed list for htmx; a lost race is a message, never an error page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from engine.workflow import inbox
from webapp import i18n
from webapp.auth import Viewer, current_user
from webapp.input import path_id
from webapp.templating import flash, is_htmx, render

INBOX = "/inbox"
DUE_LABELS = {"overdue": "Overdue", "week": "Due this week"}
MAX_SUBJECT = 100


@dataclass(frozen=True)
class InboxQuery:
    """The inbox's filters and page, as they travel in the URL."""

    process: str = ""
    subject: str = ""
    due: str = ""
    page: int = 1

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> InboxQuery:
        """Read filters from query parameters, ignoring anything malformed."""
        due = params.get("due", "")
        try:
            page = max(1, min(int(params.get("page", "1")), 100_000))
        except ValueError:
            page = 1
        return cls(
            process=params.get("process", "").strip()[:128],
            subject=params.get("subject", "").strip()[:MAX_SUBJECT],
            due=due if due in inbox.DUE_STATES else "",
            page=page,
        )

    @classmethod
    def from_url(cls, url: str | None) -> InboxQuery:
        """The filters of an inbox URL posted back by a claim/release form."""
        parts = urlsplit(url or "")
        if parts.path != INBOX:
            return cls()
        return cls.from_params(QueryParams(parts.query))

    @property
    def active(self) -> bool:
        """Whether any filter narrows the list."""
        return bool(self.process or self.subject or self.due)

    def url(self, page: int | None = None) -> str:
        """The inbox URL for these filters (and a page)."""
        params = {"process": self.process, "subject": self.subject, "due": self.due}
        number = self.page if page is None else page
        if number > 1:
            params["page"] = str(number)
        query = urlencode({k: v for k, v in params.items() if v})
        return f"{INBOX}?{query}" if query else INBOX


def page_numbers(current: int, last: int) -> list[int | None]:
    """Page links to show: first, last and two either side of the current (None = a gap)."""
    shown = sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)})
    out: list[int | None] = []
    for number in shown:
        if out and number - (out[-1] or 0) > 1:
            out.append(None)
        out.append(number)
    return out


async def _list_context(viewer: Viewer, query: InboxQuery) -> dict[str, Any]:
    page = await inbox.inbox_page(
        viewer.person_id,
        viewer.groups,
        process=query.process or None,
        subject=query.subject or None,
        due=query.due or None,
        page=query.page,
    )
    return {
        "page": page,
        "query": query,
        "here": query.url(),
        "page_numbers": page_numbers(page.page, page.pages),
        "due_labels": DUE_LABELS,
        "counts": {"inbox": page.waiting, "overdue": page.overdue},
        "team_waiting": await inbox.team_waiting(viewer.person_id) if viewer.is_manager else 0,
    }


async def inbox_home(request: Request) -> Response:
    """GET /inbox: what waits on me (the list alone for htmx filter and page requests)."""
    viewer = current_user(request)
    context = await _list_context(viewer, InboxQuery.from_params(request.query_params))
    return render(request, "inbox.html", context, fragment="_inbox_list.html")


async def nav_counts(request: Request) -> Response:
    """GET /nav/counts: the Inbox badge fragment, polled by every page."""
    viewer = current_user(request)
    counts = await inbox.nav_counts(viewer.person_id, viewer.groups)
    response = render(request, "_nav_counts.html", {"counts": counts})
    response.headers["Cache-Control"] = "no-store"
    return response


async def _after_action(request: Request, outcome: inbox.TaskAction) -> Response:
    flash(request, i18n.say(outcome.message), "success" if outcome.done else "warning")
    form = await request.form()
    back = InboxQuery.from_url(str(form.get("next", "")))
    if not is_htmx(request):
        return RedirectResponse(back.url(), status_code=303)
    context = await _list_context(current_user(request), back)
    context["oob_flash"] = True
    return render(request, "_inbox_list.html", context)


async def claim(request: Request) -> Response:
    """POST /tasks/{id}/claim: take a group task (404 unless the person is a candidate)."""
    viewer = current_user(request)
    task_id = path_id(request, "task_id")
    outcome = await inbox.claim(task_id, viewer.person_id, f"person:{viewer.key}")
    return await _after_action(request, outcome)


async def release(request: Request) -> Response:
    """POST /tasks/{id}/release: give a claimed group task back to its group."""
    viewer = current_user(request)
    task_id = path_id(request, "task_id")
    outcome = await inbox.release(task_id, viewer.person_id, f"person:{viewer.key}")
    return await _after_action(request, outcome)


routes = [
    Route(INBOX, inbox_home, methods=["GET"], name="inbox"),
    Route("/nav/counts", nav_counts, methods=["GET"], name="nav_counts"),
    Route("/tasks/{task_id:id}/claim", claim, methods=["POST"], name="task_claim"),
    Route("/tasks/{task_id:id}/release", release, methods=["POST"], name="task_release"),
]
