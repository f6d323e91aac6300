"""What HR manages of the outbound integrations: webhooks, chat channels, the delivery log.

A webhook's secret is generated here and shown once, when it is created; afterwards only its
first characters are. Addresses must be https — plain http only to this machine, and only
where the deployment allows it (a development setup) — so a secret never crosses a network
in clear.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from engine.base import clock
from engine.base.errors import Conflict, EngineError, NotFound
from engine.base.models import ChatChannel, HttpDelivery, Webhook
from engine.workflow import deliveries

CHAT_KINDS = {"slack": "Slack", "teams": "Microsoft Teams"}
STATUSES = ("queued", "sent", "failed")
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


class BadSetting(EngineError):
    """What HR typed cannot be used; the message says why."""


def check_url(url: str, allow_local_http: bool = False) -> str:
    """The address, trimmed, or ValidationError saying what is wrong with it."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if not url:
        raise BadSetting("Enter the address to send to.")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise BadSetting(f"'{url}' is not a web address (it should start with https://).")
    if parts.scheme == "http" and not (allow_local_http and parts.hostname in LOCAL_HOSTS):
        raise BadSetting(
            "The address must start with https:// so the messages cannot be read on the way"
            + (" (http:// is accepted only for localhost)." if allow_local_http else "."))
    if len(url) > 1000:
        raise BadSetting("The address is longer than 1000 characters.")
    return url


# --- webhooks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewWebhook:
    """A webhook just created, with the secret that is shown this once."""

    webhook: Webhook
    secret: str


async def create_webhook(name: str, url: str, events: list[str], created_by: str,
                         allow_local_http: bool = False) -> NewWebhook:
    """A new active webhook for `events`, with a generated secret."""
    name = (name or "").strip()
    if not name:
        raise BadSetting("Give the webhook a name.")
    url = check_url(url, allow_local_http)
    chosen = [e for e in deliveries.EVENTS if e in set(events)]
    if not chosen:
        raise BadSetting("Choose at least one event to send.")
    secret = "whsec_" + secrets.token_hex(24)
    hook = await Webhook.create(name=name[:128], url=url, secret=secret, events=chosen,
                                created_by=created_by[:128], created_at=clock.now())
    return NewWebhook(hook, secret)


async def webhooks() -> list[Webhook]:
    return list(await Webhook.all().order_by("name", "id"))


async def webhook(webhook_id: int) -> Webhook:
    found = await Webhook.get_or_none(id=webhook_id)
    if found is None:
        raise NotFound(f"no webhook {webhook_id}")
    return found


async def set_webhook_active(webhook_id: int, active: bool) -> Webhook:
    """Switch a webhook off (nothing new is queued for it) or on again."""
    hook = await webhook(webhook_id)
    hook.active = active
    await hook.save(update_fields=["active"])
    return hook


async def delete_webhook(webhook_id: int) -> None:
    """Delete a webhook; its queued deliveries fail (their log stays)."""
    hook = await webhook(webhook_id)
    await HttpDelivery.filter(webhook_id=hook.id, status="queued").update(
        status="failed", next_attempt_at=None, last_error="the webhook was deleted")
    await hook.delete()


async def send_test(webhook_id: int) -> HttpDelivery:
    """Queue a `sightline.test` event to the webhook, for the worker to send now."""
    hook = await webhook(webhook_id)
    now = clock.now()
    body = deliveries.webhook_body(uuid.uuid4().hex, deliveries.TEST_EVENT,
                                   {"webhook": hook.name}, now)
    return await HttpDelivery.create(
        kind="webhook", webhook_id=hook.id, event=deliveries.TEST_EVENT, url=hook.url,
        body=body, headers={"Sightline-Event": deliveries.TEST_EVENT}, status="queued",
        next_attempt_at=now, created_at=now)


# --- chat channels -----------------------------------------------------------------------------


async def add_channel(kind: str, url: str, created_by: str, person_id: int | None = None,
                      allow_local_http: bool = False) -> ChatChannel:
    """A Slack or Teams incoming webhook: the organisation's, or `person_id`'s own."""
    if kind not in CHAT_KINDS:
        raise BadSetting("Choose Slack or Microsoft Teams.")
    url = check_url(url, allow_local_http)
    return await ChatChannel.create(kind=kind, url=url, person_id=person_id,
                                    created_by=created_by[:128], created_at=clock.now())


async def channels(person_id: int | None = None) -> list[ChatChannel]:
    """The organisation's channels, or one person's own."""
    return list(await ChatChannel.filter(person_id=person_id).order_by("id"))


async def delete_channel(channel_id: int, person_id: int | None = None) -> None:
    """Remove a channel (of the organisation, or of `person_id`: nobody else's)."""
    deleted = await ChatChannel.filter(id=channel_id, person_id=person_id).delete()
    if not deleted:
        raise NotFound(f"no channel {channel_id}")


async def test_channel(channel_id: int, person_id: int | None = None) -> HttpDelivery:
    """Queue a short hello to the channel."""
    channel = await ChatChannel.get_or_none(id=channel_id, person_id=person_id)
    if channel is None:
        raise NotFound(f"no channel {channel_id}")
    now = clock.now()
    text = "Sightline is connected: notifications will arrive here."
    return await HttpDelivery.create(
        kind=channel.kind, channel_id=channel.id, event=deliveries.TEST_EVENT, url=channel.url,
        body=deliveries.chat_body(channel.kind, text, f"{deliveries.BASE_URL_PLACEHOLDER}/"),
        status="queued", next_attempt_at=now, created_at=now)


# --- the delivery log --------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryLog:
    """One page of deliveries, newest first."""

    deliveries: list[HttpDelivery]
    status: str | None
    page: int
    pages: int
    counts: dict[str, int]


async def delivery_log(webhook_id: int | None = None, status: str | None = None,
                       page: int = 1, per_page: int = 25) -> DeliveryLog:
    """Deliveries (of one webhook, or every one) filtered by status, newest first."""
    base = HttpDelivery.all() if webhook_id is None else HttpDelivery.filter(
        webhook_id=webhook_id)
    status = status if status in STATUSES else None
    counts = {s: await base.filter(status=s).count() for s in STATUSES}
    total = counts[status] if status else sum(counts.values())
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    query = base.filter(status=status) if status else base
    rows = await query.order_by("-id").offset((page - 1) * per_page).limit(per_page)
    return DeliveryLog(list(rows), status, page, pages, counts)


async def delivery(delivery_id: int) -> HttpDelivery:
    found = await HttpDelivery.get_or_none(id=delivery_id)
    if found is None:
        raise NotFound(f"no delivery {delivery_id}")
    return found


async def retry_now(delivery_id: int) -> HttpDelivery:
    """Send a delivery again at the worker's next round (a failed one with fresh attempts)."""
    row = await delivery(delivery_id)
    if row.status == "sent":
        raise Conflict(f"delivery {delivery_id} was already accepted")
    row.status = "queued"
    if row.attempts >= deliveries.MAX_ATTEMPTS:
        row.attempts = 0
    row.next_attempt_at = clock.now()
    await row.save(update_fields=["status", "attempts", "next_attempt_at"])
    return row
