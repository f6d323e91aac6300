"""The language of each request: the login's choice, else the browser's, else English.

`LanguageMiddleware` picks it once per request and sets that request's translations in a
context variable (each request runs in its own context, so one person's German never reaches
another's page); templates, flash messages and the forms' chrome read them from there. The
catalogs are webapp/translations (pages) merged over forms/translations (the forms' chrome).
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from types import MappingProxyType

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from engine.base import i18n
from engine.packs import definitions
from engine.people import logins
from forms import i18n as forms_i18n

CATALOGS = Path(__file__).resolve().parent / "translations"
CATALOG_FOLDERS = (forms_i18n.CATALOGS, CATALOGS)
LANGUAGES = i18n.LANGUAGES
DEFAULT_LANGUAGE = i18n.DEFAULT_LANGUAGE

_language: ContextVar[str] = ContextVar("language", default=DEFAULT_LANGUAGE)
_ENGLISH = _gettext.NullTranslations()
_translations: ContextVar[_gettext.NullTranslations] = ContextVar(
    "translations", default=_ENGLISH
)
# The deployed packs' names (tasks, process titles, lanes) in the request's language.
_NO_NAMES: Mapping[str, str] = MappingProxyType({})
_pack_names: ContextVar[Mapping[str, str]] = ContextVar("pack_names", default=_NO_NAMES)
# Requests that show no page: no pack names to look up.
_NO_PAGE = ("/static/", "/vendor/", "/health", "/metrics")


def translations_for(language: str) -> _gettext.NullTranslations:
    """The pages' and forms' catalogs for `language`."""
    return i18n.translations_from(CATALOG_FOLDERS, language)


def language() -> str:
    """The language of the request being served ("en" outside one)."""
    return _language.get()


def gettext(message: str, **variables: object) -> str:
    """`message` in the request's language, `%(name)s` slots filled from `variables`."""
    text = _translations.get().gettext(message)
    return text % variables if variables else text


def say(value: object) -> str:
    """An engine text (`engine.base.i18n.Said`) or a pack's name (`PackText`) in the
    request's language; any other value as it is written (a person's name, a number)."""
    return str(i18n.spoken(value, _language.get(), _pack_names.get()))


def pack_name(value: object) -> str:
    """A name a pack wrote (a task's, a process title, a lane) as the request's language
    translates it in the deployed packs, else as written."""
    return say(value if isinstance(value, i18n.Said) else i18n.PackText(str(value)))


def say_error(error: BaseException) -> str:
    """An engine error's message in the request's language (as written when not marked)."""
    return say(error.args[0]) if len(error.args) == 1 else str(error)


def marked(message: str) -> str:
    """`message` unchanged: marks a constant for extraction (import it as `_`), translated
    with `gettext` when it is shown."""
    return message


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    """The singular or plural of `message` for `n` in the request's language (`%(num)s`)."""
    return _translations.get().ngettext(singular, plural, n) % {"num": n, **variables}


def pgettext(context: str, message: str, **variables: object) -> str:
    """A short word in the request's language as `context` means it (see raw_pgettext)."""
    text = _translations.get().pgettext(context, message)
    return text % variables if variables else text


def raw_gettext(message: str) -> str:
    """Only the translation (Jinja fills and escapes the slots itself)."""
    return _translations.get().gettext(message)


def raw_pgettext(context: str, message: str) -> str:
    """Only the translation of a short word that means different things in different places
    ("Open" a task, an "Open" action): `context` tells the translator which."""
    return _translations.get().pgettext(context, message)


def raw_ngettext(singular: str, plural: str, n: int) -> str:
    """Only the translation of a plural (Jinja fills the slots)."""
    return _translations.get().ngettext(singular, plural, n)


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Speak `language` inside the block (a message said in a language just chosen)."""
    language_token = _language.set(i18n.supported(language) or DEFAULT_LANGUAGE)
    translations_token = _translations.set(translations_for(language))
    try:
        yield
    finally:
        _translations.reset(translations_token)
        _language.reset(language_token)


async def request_language(scope: Scope) -> str:
    """The login's language, else the browser's best shipped language, else English."""
    viewer = scope.get("state", {}).get("viewer")
    if viewer is not None:
        chosen = i18n.supported(await logins.language_of(viewer.user_id))
        if chosen is not None:
            return chosen
    header = Request(scope).headers.get("accept-language")
    return i18n.negotiate(header) or DEFAULT_LANGUAGE


class LanguageMiddleware:
    """Speak the request's language for the rest of the request (after AuthMiddleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chosen = await request_language(scope)
        translations = translations_for(chosen)
        scope.setdefault("state", {})["language"] = chosen
        language_token = _language.set(chosen)
        translations_token = _translations.set(translations)
        names: Mapping[str, str] = _NO_NAMES
        if chosen != DEFAULT_LANGUAGE and not str(scope.get("path", "")).startswith(_NO_PAGE):
            names = await definitions.deployed_words(chosen)
        names_token = _pack_names.set(names)
        try:
            with forms_i18n.use(translations):
                await self.app(scope, receive, send)
        finally:
            _pack_names.reset(names_token)
            _translations.reset(translations_token)
            _language.reset(language_token)
