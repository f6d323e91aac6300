"""The forms' translations hook: the chrome around a form ("Required.", "Add row", the
validation messages) in the reader's language.

Forms know nothing of who reads them: whoever draws a form for someone sets that person's
translations with `use` for the duration of the work (a web request, one email) and the
forms' texts go through `gettext`. A context variable carries them, so two requests in two
languages never see each other's; unset, the forms speak English, their source language.
Catalogs live in forms/translations (`CATALOGS`), for the caller to merge into theirs.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

CATALOGS = Path(__file__).resolve().parent / "translations"

_ENGLISH = _gettext.NullTranslations()
_current: ContextVar[_gettext.NullTranslations] = ContextVar(
    "forms_translations", default=_ENGLISH
)


@contextmanager
def use(translations: _gettext.NullTranslations) -> Iterator[None]:
    """Speak `translations` inside the block (and only in this context)."""
    token = _current.set(translations)
    try:
        yield
    finally:
        _current.reset(token)


def translations() -> _gettext.NullTranslations:
    """The translations set for this context (English when none were)."""
    return _current.get()


def gettext(message: str, **variables: object) -> str:
    """`message` in the reader's language, with `%(name)s` slots filled from `variables`."""
    text = _current.get().gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    """The singular or plural of a message for `n`, translated; `%(num)s` is `n`."""
    text = _current.get().ngettext(singular, plural, n)
    return text % {"num": n, **variables}
