"""The words of one email in its reader's language: translated texts and dates.

Every email the engine writes is for one reader, so each is worded on its own — a `Wording` is
made for the reader and passed along, never kept: two readers in two languages never share one.
The texts are the engine's catalog (engine/translations, see engine.base.i18n); English is the
source, and its dates keep the engine's long-standing "Monday 7 December 2026".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from babel.dates import format_date, format_time

from engine.base import clock, i18n
from engine.people.directory import DirectorySnapshot


@dataclass(frozen=True)
class Wording:
    """Texts and dates for a reader of `language`."""

    language: str

    def _(self, text: str, **slots: Any) -> str:
        """`text` translated, its %(slot)s filled."""
        said = i18n.engine_translations(self.language).gettext(text)
        return said % slots if slots else said

    def n(self, singular: str, plural: str, count: int, **slots: Any) -> str:
        """The singular or plural of a text for `count` (slot `num`), translated."""
        said = i18n.engine_translations(self.language).ngettext(singular, plural, count)
        return said % {"num": count, **slots}

    def date(self, moment: datetime) -> str:
        """A day written out: "Monday 7 December 2026", "Montag, 7. Dezember 2026" (the day
        it is in the organisation's time zone)."""
        moment = clock.local(moment)
        if self.language == i18n.DEFAULT_LANGUAGE:
            return f"{moment:%A} {moment.day} {moment:%B %Y}"
        return format_date(moment, format="full", locale=self.language)

    def time(self, moment: datetime) -> str:
        """A time of day in the organisation's time zone: "14:00"."""
        moment = clock.local(moment)
        if self.language == i18n.DEFAULT_LANGUAGE:
            return f"{moment:%H:%M}"
        return format_time(moment, format="short", locale=self.language)


def wording(language: str | None) -> Wording:
    """The wording for a language code; an unknown or missing one is the default language."""
    return Wording(i18n.supported(language) or i18n.DEFAULT_LANGUAGE)


def wording_for(person_id: int | None, directory: DirectorySnapshot) -> Wording:
    """The wording for a person: the language they chose with their login, else the default
    (a person without a login, or who follows the browser — an email has no browser)."""
    return wording(directory.languages.get(person_id) if person_id is not None else None)
