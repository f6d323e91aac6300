"""Languages: which ones Sightline speaks, and the message catalogs for each.

Catalogs are gettext .po files (`<folder>/<language>/LC_MESSAGES/messages.po`), compiled in
memory the first time a language is asked for: a fresh clone runs without committed binaries
and without a build step. A catalog is chosen by language code for each use (a request, an
email's recipient) — there is no "current language" here.

The engine has its own catalog (engine/translations: the task emails); the web and the forms
keep theirs next to their templates and merge them with `translations_from`.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterable, Mapping
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

# The languages every page, email and form speaks, the first the default.
LANGUAGES: tuple[str, ...] = ("en", "de")
DEFAULT_LANGUAGE = LANGUAGES[0]
ENGINE_CATALOGS = Path(__file__).resolve().parent.parent / "translations"


def supported(language: str | None) -> str | None:
    """`language` ("de", "de-AT", "de_CH") as one of LANGUAGES, or None."""
    if not language:
        return None
    base = language.strip().replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None


def negotiate(accept_language: str | None) -> str | None:
    """The browser's favourite of LANGUAGES from an Accept-Language header, or None."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        language = supported(tag)
        if language is not None and quality > 0:
            weighted.append((-quality, position, language))
    return min(weighted)[2] if weighted else None


def language_name(language: str) -> str:
    """A language as its speakers write it: "Deutsch", "English"."""
    try:
        name = Locale.parse(language).get_display_name(language) or language
        return name[:1].upper() + name[1:]
    except (UnknownLocaleError, ValueError):
        return language


def _compiled(po_file: Path, language: str) -> Translations:
    with po_file.open("rb") as source:
        catalog = read_po(source, locale=language)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


@lru_cache(maxsize=64)
def _translations(folders: tuple[Path, ...], language: str) -> gettext.NullTranslations:
    # Cached: compiled from files that do not change while the process runs.
    merged: gettext.NullTranslations = gettext.NullTranslations()
    if language == DEFAULT_LANGUAGE:
        return merged  # the source texts are English
    found: Translations | None = None
    for folder in folders:
        po_file = folder / language / "LC_MESSAGES" / "messages.po"
        if not po_file.is_file():
            continue
        compiled = _compiled(po_file, language)
        if found is None:
            found = compiled
        else:
            found.merge(compiled)
    return found if found is not None else merged


def translations_from(folders: Iterable[Path], language: str) -> gettext.NullTranslations:
    """The catalogs in `folders` for `language`, merged (a later folder wins a clash);
    English or an unknown language gets the source texts."""
    return _translations(tuple(folders), supported(language) or DEFAULT_LANGUAGE)


def engine_translations(language: str) -> gettext.NullTranslations:
    """The engine's own catalog (the task emails) for `language`."""
    return translations_from([ENGINE_CATALOGS], language)



class Said(str):
    """A text the engine writes for a page, in English, that the page says in its reader's
    language: the string itself is the English; `to(language)` is the translation from the
    engine's catalog, slots filled (a slot that is itself `Said` is translated too).

    Mark one with `said("Stopped on an error at %(step)s", step=name)`: the tests find every
    `said(...)` and keep its German complete. The engine does not know a page's reader; the
    web says each text in the request's language when it shows it."""

    message: str
    slots: dict[str, object]

    def __new__(cls, message: str, **slots: object) -> Said:
        made = super().__new__(cls, message % slots if slots else message)
        made.message = message
        made.slots = slots
        return made

    def as_data(self) -> dict[str, object]:
        """The text as JSON-able data, to keep and say later (`said_from`)."""
        return {"message": self.message, "slots": {
            name: str(value) for name, value in self.slots.items()}}

    def to(self, language: str, names: Mapping[str, str] | None = None) -> str:
        """This text in `language` (English, or a language without the text: as written);
        a slot that is a pack's name (`PackText`) as `names` translates it."""
        text = engine_translations(language).gettext(self.message)
        if not self.slots:
            return text
        return text % {name: spoken(value, language, names) for name, value in self.slots.items()}


def said_from(stored: object, fallback: str = "") -> str:
    """A `Said` text kept as data ({"message": …, "slots": {…}}, e.g. in a job's payload)
    made a text again; `fallback` (its English as stored) for anything else."""
    if isinstance(stored, dict) and isinstance(stored.get("message"), str):
        slots = stored.get("slots")
        return Said(stored["message"], **(slots if isinstance(slots, dict) else {}))
    return fallback


class PackText(str):
    """A name a pack wrote — a task's, a process's title, a lane's — that a page shows in its
    reader's language as the pack's translations say it (engine.packs.definitions
    .deployed_words); the string itself is the pack's source text."""


def said(message: str, **slots: object) -> Said:
    """`message` (English, `%(name)s` slots filled from `slots`) as a text a page translates."""
    return Said(message, **slots)


def pack_text(name: str) -> PackText:
    """Mark a name from a pack (a task's, a process title) for the page to translate."""
    return PackText(name)


def spoken(value: object, language: str, names: Mapping[str, str] | None = None) -> object:
    """`value` in `language`: a `Said` text from the engine's catalog, a pack's name
    (`PackText`) from `names`; anything else unchanged."""
    if isinstance(value, Said):
        return value.to(language, names)
    if isinstance(value, PackText):
        return (names or {}).get(value, str(value))
    return value


def said_together(parts: Iterable[object], separator: str = ", ") -> Said:
    """Several texts in one, joined by `separator`, each said in the reader's language."""
    slots = {f"part{n}": part for n, part in enumerate(parts)}
    return Said(separator.replace("%", "%%").join(f"%({name})s" for name in slots), **slots)
