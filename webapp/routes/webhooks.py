"""Webhooks, chat channels and their delivery log, for HR administrators; a person's own chat.

GET /admin/webhooks lists the webhooks with a form to add one; its secret is shown once, on
the page the creation answers with. Each webhook can be switched off, deleted, or sent a test
event. GET /admin/deliveries is the delivery log (of one webhook with `?webhook=`): status,
attempts, last answer, the payload, and "retry now". GET /admin/chat holds the organisation's
Slack and Teams channels. Only HR administrators (HR members who partner no unit) see any of
it; everyone else gets 404. GET /account/chat is anyone's own channel, told of their tasks.

Addresses must be https; plain http to localhost only where SIGHTLINE_DEV or
WEBHOOK_LOCAL_HTTP allows it. Nothing is sent from a request: the worker sends.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from config import settings
from engine.base.errors import NotFound
from engine.workflow import deliveries, integrations
from engine.workflow.access import hr_units
from webapp import i18n
from webapp.auth import Viewer, current_user
from webapp.templating import flash, render

WEBHOOKS = "/admin/webhooks"
DELIVERIES = "/admin/deliveries"
CHAT = "/admin/chat"
MY_CHAT = "/account/chat"
PER_PAGE = 25


def _allow_local_http() -> bool:
    return settings.WEBHOOK_LOCAL_HTTP


def _hr_admin(request: Request) -> Viewer:
    """The viewer, when they administer HR; 404 for everyone else (no hint the page exists)."""
    viewer = current_user(request)
    if not viewer.is_hr or hr_units(viewer.person_id, request.state.directory) is not None:
        raise HTTPException(404)
    return viewer


def _number(raw: str | None, default: int | None = None) -> int | None:
    try:
        return int(raw) if raw else default
    except ValueError:
        return default


def deliveries_url(webhook: int | None = None, status: str | None = None, page: int = 1) -> str:
    """The delivery log's address for a webhook, status filter and page (defaults left out)."""
    query = {k: v for k, v in (("webhook", webhook), ("status", status),
                               ("page", page if page != 1 else None)) if v}
    return f"{DELIVERIES}?{urlencode(query)}" if query else DELIVERIES


def pretty(body: str) -> str:
    """A payload as people read it."""
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


async def _webhooks_page(request: Request, status_code: int = 200,
                         **extra: Any) -> Response:
    context = {"webhooks": await integrations.webhooks(), "events": deliveries.EVENTS,
               "form": {"name": "", "url": "", "events": list(deliveries.EVENTS)},
               "local_http": _allow_local_http(), "deliveries_url": deliveries_url,
               **extra}
    return render(request, "admin_webhooks.html", context, status=status_code)


async def webhooks_page(request: Request) -> Response:
    """GET /admin/webhooks."""
    _hr_admin(request)
    return await _webhooks_page(request)


async def create_webhook(request: Request) -> Response:
    """POST /admin/webhooks: a new webhook; the answer shows its secret, this once."""
    viewer = _hr_admin(request)
    form = await request.form()
    name, url = str(form.get("name", "")), str(form.get("url", ""))
    events = [str(e) for e in form.getlist("events")]
    values = {"name": name, "url": url, "events": events}
    try:
        made = await integrations.create_webhook(
            name, url, events, viewer.key,
            allow_local_http=_allow_local_http())
    except integrations.BadSetting as exc:
        return await _webhooks_page(request, 400, form=values, error=i18n.say_error(exc))
    return await _webhooks_page(request, 201, made=made)


async def switch_webhook(request: Request) -> Response:
    """POST /admin/webhooks/{id}/active: switch a webhook off or on."""
    _hr_admin(request)
    form = await request.form()
    hook = await integrations.set_webhook_active(request.path_params["webhook_id"],
                                                 form.get("active") == "1")
    flash(request, i18n.gettext("%(name)s is on.", name=hook.name) if hook.active
          else i18n.gettext("%(name)s is off.", name=hook.name), "success")
    return RedirectResponse(WEBHOOKS, status_code=303)


async def delete_webhook(request: Request) -> Response:
    """POST /admin/webhooks/{id}/delete."""
    _hr_admin(request)
    hook = await integrations.webhook(request.path_params["webhook_id"])
    await integrations.delete_webhook(hook.id)
    flash(request, i18n.gettext("%(name)s was deleted; its delivery log stays.", name=hook.name),
          "success")
    return RedirectResponse(WEBHOOKS, status_code=303)


async def test_webhook(request: Request) -> Response:
    """POST /admin/webhooks/{id}/test: queue a test event, then show the log."""
    _hr_admin(request)
    webhook_id = request.path_params["webhook_id"]
    await integrations.send_test(webhook_id)
    flash(request, i18n.gettext("A test event is queued; it goes out within seconds."), "success")
    return RedirectResponse(deliveries_url(webhook_id), status_code=303)


async def deliveries_page(request: Request) -> Response:
    """GET /admin/deliveries: the delivery log, newest first."""
    _hr_admin(request)
    webhook_id = _number(request.query_params.get("webhook"))
    hook = await integrations.webhook(webhook_id) if webhook_id else None
    log = await integrations.delivery_log(
        webhook_id, request.query_params.get("status") or None,
        _number(request.query_params.get("page"), 1) or 1, PER_PAGE)
    names = {h.id: h.name for h in await integrations.webhooks()}
    context = {"log": log, "webhook": hook, "names": names, "pretty": pretty,
               "statuses": integrations.STATUSES, "deliveries_url": deliveries_url,
               "max_attempts": deliveries.MAX_ATTEMPTS,
               "kinds": {"webhook": "Webhook", **integrations.CHAT_KINDS}}
    return render(request, "admin_deliveries.html", context)


async def retry_delivery(request: Request) -> Response:
    """POST /admin/deliveries/{id}/retry: send it again at the worker's next round."""
    _hr_admin(request)
    row = await integrations.retry_now(request.path_params["delivery_id"])
    flash(request, i18n.gettext("Delivery %(num)s is queued to be sent again now.", num=row.id),
          "success")
    return RedirectResponse(deliveries_url(row.webhook_id), status_code=303)


# --- chat channels -----------------------------------------------------------------------------


async def _chat_page(request: Request, person_id: int | None, template: str,
                     status_code: int = 200, **extra: Any) -> Response:
    context = {"channels": await integrations.channels(person_id),
               "kinds": integrations.CHAT_KINDS, "local_http": _allow_local_http(),
               "form": {"kind": "slack", "url": ""}, **extra}
    return render(request, template, context, status=status_code)


async def _add_channel(request: Request, person_id: int | None, template: str,
                       back: str) -> Response:
    viewer = current_user(request)
    form = await request.form()
    values = {"kind": str(form.get("kind", "")), "url": str(form.get("url", ""))}
    try:
        await integrations.add_channel(values["kind"], values["url"], viewer.key,
                                       person_id, allow_local_http=_allow_local_http())
    except integrations.BadSetting as exc:
        return await _chat_page(request, person_id, template, 400, form=values,
                                error=i18n.say_error(exc))
    flash(request, i18n.gettext("The %(kind)s channel is added.",
                                kind=integrations.CHAT_KINDS[values['kind']]),
          "success")
    return RedirectResponse(back, status_code=303)


async def _channel_action(request: Request, person_id: int | None, back: str) -> Response:
    channel_id = request.path_params["channel_id"]
    if request.path_params["action"] == "delete":
        await integrations.delete_channel(channel_id, person_id)
        flash(request, i18n.gettext("The channel is removed."), "success")
    elif request.path_params["action"] == "test":
        await integrations.test_channel(channel_id, person_id)
        flash(request, i18n.gettext("A test message is queued; it arrives within seconds."),
              "success")
    else:
        raise NotFound("no such action")
    return RedirectResponse(back, status_code=303)


async def chat_page(request: Request) -> Response:
    """GET /admin/chat: the organisation's channels."""
    _hr_admin(request)
    return await _chat_page(request, None, "admin_chat.html")


async def add_org_channel(request: Request) -> Response:
    """POST /admin/chat."""
    _hr_admin(request)
    return await _add_channel(request, None, "admin_chat.html", CHAT)


async def org_channel_action(request: Request) -> Response:
    """POST /admin/chat/{id}/delete|test."""
    _hr_admin(request)
    return await _channel_action(request, None, CHAT)


def _person(request: Request) -> int:
    return current_user(request).person_id


async def my_chat_page(request: Request) -> Response:
    """GET /account/chat: the viewer's own channel."""
    return await _chat_page(request, _person(request), "account_chat.html")


async def add_my_channel(request: Request) -> Response:
    """POST /account/chat."""
    return await _add_channel(request, _person(request), "account_chat.html", MY_CHAT)


async def my_channel_action(request: Request) -> Response:
    """POST /account/chat/{id}/delete|test (only the viewer's own channels)."""
    return await _channel_action(request, _person(request), MY_CHAT)


routes = [
    Route(WEBHOOKS, webhooks_page, methods=["GET"], name="webhooks"),
    Route(WEBHOOKS, create_webhook, methods=["POST"], name="webhook_create"),
    Route(f"{WEBHOOKS}/{{webhook_id:int}}/active", switch_webhook, methods=["POST"]),
    Route(f"{WEBHOOKS}/{{webhook_id:int}}/delete", delete_webhook, methods=["POST"]),
    Route(f"{WEBHOOKS}/{{webhook_id:int}}/test", test_webhook, methods=["POST"]),
    Route(DELIVERIES, deliveries_page, methods=["GET"], name="deliveries"),
    Route(f"{DELIVERIES}/{{delivery_id:int}}/retry", retry_delivery, methods=["POST"]),
    Route(CHAT, chat_page, methods=["GET"], name="chat_channels"),
    Route(CHAT, add_org_channel, methods=["POST"]),
    Route(f"{CHAT}/{{channel_id:int}}/{{action:str}}", org_channel_action, methods=["POST"]),
    Route(MY_CHAT, my_chat_page, methods=["GET"], name="my_chat"),
    Route(MY_CHAT, add_my_channel, methods=["POST"]),
    Route(f"{MY_CHAT}/{{channel_id:int}}/{{action:str}}", my_channel_action, methods=["POST"]),
]
