"""Reading a request's whole body inside a middleware, and handing it on as if unread.

The CSRF check and the input check both need the posted form before the route sees it; each
reads the body once, bounded, and replays it to what comes after.
"""

from __future__ import annotations

from starlette.types import Message, Receive

from config import settings


class BodyTooLarge(Exception):
    """The body is longer than any form people post."""


def body_limit() -> int:
    """The longest body read: a pack upload (the largest thing people post) and room for the
    other form fields."""
    return settings.MAX_PACK_UPLOAD_BYTES + 1024 * 1024


async def read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole request body, and whether the client went away while sending it;
    BodyTooLarge past `body_limit()`."""
    chunks: list[bytes] = []
    size, limit = 0, body_limit()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


def replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives `body` first, then whatever the client sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
