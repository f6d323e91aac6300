"""Edge input: what a request may carry before any handler reads it, and ids read from URLs.

`InputMiddleware` refuses (400, the app's error page, or its fragment for htmx) a request whose
path, query string or form fields hold a control character that cannot be stored (NUL, which
PostgreSQL refuses in text and JSON, and the other characters of Unicode category Cc; tab,
line feed and carriage return pass, being ordinary in multi-line text; see forms.text). So no
handler has to think about them, and none of them reaches the database. It reads urlencoded
and multipart forms (not the uploaded files) and plain-text bodies (the designer saves files
that way), and replays the body for the handler.

Row ids in URLs are `{name:id}` (registered here): up to ten digits, where Starlette's `int`
takes any number and then fails to int() a few thousand of them (a 500, in routing and in the
metrics' route lookup alike). `path_id` / `database_id` read them: an id beyond the integer
column's range names no row, so it is a 404 rather than an overflow in the database driver.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote_plus

from starlette.convertors import Convertor, register_url_convertor
from starlette.datastructures import Headers, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.people.directory import DirectorySnapshot, PersonInfo
from forms.text import describe_character, first_control_character
from webapp.request_body import BodyTooLarge, read_body, replaying

log = logging.getLogger("sightline.web")

# Ids are 32-bit integer columns on PostgreSQL; SQLite's are wider, but no row has such an id.
MAX_DATABASE_ID = 2**31 - 1
UNSTORABLE_MESSAGE = (
    "The input contained characters that cannot be stored: {what}. They are invisible and "
    "usually come along with pasted text — remove them and send again."
)
BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def database_id(value: str | int | None) -> int | None:
    """A row id as written in a URL or a form (plain digits, in the id column's range), or
    None for anything else ("", "-1", "²", "99999999999")."""
    if isinstance(value, int):
        return value if 0 <= value <= MAX_DATABASE_ID else None
    text = (value or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if number <= MAX_DATABASE_ID else None


class DatabaseIdConvertor(Convertor[int]):
    """`{name:id}` in a route's path: a row id, ten digits at most."""

    regex = "[0-9]{1,10}"

    def convert(self, value: str) -> int:
        """The id as a number."""
        return int(value)

    def to_string(self, value: int) -> str:
        """The id as written in a URL."""
        return str(int(value))


register_url_convertor("id", DatabaseIdConvertor())


def path_id(request: Request, name: str) -> int:
    """The row id in the URL's `{name:int}`; 404 when no row can have it."""
    found = database_id(request.path_params[name])
    if found is None:
        raise HTTPException(404)
    return found


def find_person(directory: DirectorySnapshot, ref: str) -> PersonInfo | None:
    """The person a URL or a form names (an employee key, or a plain id), or None for no one.

    DirectorySnapshot.person takes any str.isdigit() text for an id and int()s it, which "²"
    or thousands of digits make fail; here they name no one.
    """
    key = ref.removeprefix("person:")
    if key in directory.by_key:
        return directory.by_key[key]
    found = database_id(key)
    return directory.person(found) if found is not None else None


def _unstorable(text: str, *, multiline: bool = True) -> str | None:
    found = first_control_character(text, multiline=multiline)
    return describe_character(found) if found is not None else None


def _url_problem(scope: Scope) -> str | None:
    """A character that cannot be stored in the path or the query string."""
    problem = _unstorable(scope.get("path", ""), multiline=False)
    if problem is None:
        # As Starlette reads query strings: bytes as latin-1, then %-decoded as UTF-8.
        query = scope.get("query_string", b"").decode("latin-1")
        problem = _unstorable(unquote_plus(query))
    return problem


async def _body_problem(scope: Scope, headers: Headers, body: bytes) -> str | None:
    """A character that cannot be stored in the body's form fields (or its text)."""
    content_type = headers.get("content-type", "").lower()
    if content_type.startswith("application/x-www-form-urlencoded"):
        # Every name and value, %-decoded as Starlette's form parser does (the separators
        # `&` and `=` are no control characters, so the whole body can be read at once).
        return _unstorable(unquote_plus(body.decode("latin-1")))
    if content_type.startswith("multipart/form-data"):
        return await _multipart_problem(scope, body)
    # Anything else a handler reads is text (the designer's file saves).
    return _unstorable(body.decode("utf-8", errors="replace"))


async def _multipart_problem(scope: Scope, body: bytes) -> str | None:
    request = Request(scope, replaying(body, _disconnected))
    try:
        form = await request.form()
    except Exception:  # malformed: the handler's own parse refuses it the same way (400)
        return None
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                texts = [name, value.filename or ""]  # the file's bytes are the handler's
            else:
                texts = [name, value]
            for text in texts:
                problem = _unstorable(text)
                if problem is not None:
                    return problem
        return None
    finally:
        await form.close()


async def _disconnected() -> Message:
    return {"type": "http.disconnect"}


class InputMiddleware:
    """Refuse (400) requests whose path, query or form fields hold unstorable characters."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = _url_problem(scope)
        if problem is None and scope["method"] not in BODYLESS_METHODS:
            headers = Headers(scope=scope)
            try:
                body, gone = await read_body(receive)
            except BodyTooLarge:
                await self._refuse(scope, receive, send, 413, None)
                return
            if gone:
                return
            receive = replaying(body, receive)
            if body:
                problem = await _body_problem(scope, headers, body)
        if problem is None:
            await self.app(scope, receive, send)
            return
        log.warning(
            "refused %s %s: the input holds %s", scope["method"], scope.get("path"), problem
        )
        await self._refuse(scope, receive, send, 400, UNSTORABLE_MESSAGE.format(what=problem))

    @staticmethod
    async def _refuse(
        scope: Scope, receive: Receive, send: Send, status: int, message: str | None
    ) -> None:
        from webapp.errors import error_response

        response = error_response(Request(scope, receive), status, message)
        await response(scope, receive, send)
