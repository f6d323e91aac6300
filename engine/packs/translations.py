"""A pack's texts in a reader's language: translations/<language>.toml, optional.

The file maps source text to translation, which is what a consultant can write without knowing
the pack's structure:

    [texts]                               # everywhere in the pack
    "Objectives" = "Ziele"

    ["forms/objectives-schema.json"]      # only in this file (wins over [texts])
    "Weight (%)" = "Gewichtung (%)"

Only the words people read are translated — titles, descriptions, help, placeholders, enum
names, catalog names and level anchors, instructions — never ids, values or field names, so a
translated form submits exactly what the source form does. A text without a translation stays
as written. The engine never guesses a language: the caller passes the reader's.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from typing import Any

from engine.base import i18n

TEXTS = "texts"
# The keys whose string (or list of strings) values people read.
_READ_KEYS = frozenset({
    "title", "description", "ui:title", "ui:description", "ui:help", "ui:placeholder",
    "ui:enumNames", "enumNames", "statement", "name", "label", "anchor", "anchors", "help",
    "instructions", "definition",
})


def translations_file(language: str) -> str:
    """Where a pack keeps a language's translations."""
    return f"translations/{language}.toml"


def pack_translations(sources: Mapping[str, str], language: str | None
                      ) -> dict[str, dict[str, str]]:
    """The pack's translations for `language`: file path (or TEXTS) → source → translation;
    empty for the source language, an unknown one, or a pack without the file."""
    chosen = i18n.supported(language)
    if chosen is None or chosen == i18n.DEFAULT_LANGUAGE:
        return {}
    text = sources.get(translations_file(chosen))
    if not text:
        return {}
    parsed = tomllib.loads(text)
    return {
        table: {str(k): str(v) for k, v in entries.items() if isinstance(v, str)}
        for table, entries in parsed.items() if isinstance(entries, dict)
    }


def _lookup(table: Mapping[str, Mapping[str, str]], path: str | None) -> dict[str, str]:
    return {**table.get(TEXTS, {}), **(table.get(path, {}) if path else {})}


def _translated(value: Any, words: Mapping[str, str], read: bool = False) -> Any:
    if isinstance(value, str):
        return words.get(value, value) if read else value
    if isinstance(value, list):
        return [_translated(item, words, read) for item in value]
    if isinstance(value, dict):
        return {key: _translated(item, words, read or key in _READ_KEYS)
                for key, item in value.items()}
    return value


def translate_data(value: Any, table: Mapping[str, Mapping[str, str]],
                   path: str | None = None) -> Any:
    """A parsed form or catalog with the texts people read translated (a copy)."""
    if not table:
        return value
    return _translated(value, _lookup(table, path))


def translate_json_text(text: str, table: Mapping[str, Mapping[str, str]], path: str) -> str:
    """A form file's JSON with its texts translated; unparsable JSON is returned as it is
    (the form's own error reports it)."""
    if not table:
        return text
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    return json.dumps(translate_data(parsed, table, path), ensure_ascii=False)


def translate_text(text: str, table: Mapping[str, Mapping[str, str]],
                   path: str | None = None) -> str:
    """One whole text (a task name, an instruction) translated, or as it is."""
    return _lookup(table, path).get(text, text) if table else text


def stray_entries(sources: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(translations file, table, source text) of every entry that matches no text of the pack
    — a typo, or a text since changed — for `sightline pack validate` to warn about."""
    stray = []
    for rel, text in sorted(sources.items()):
        if not (rel.startswith("translations/") and rel.endswith(".toml")):
            continue
        try:
            parsed = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            stray.append((rel, "", "not valid TOML"))
            continue
        for table, entries in parsed.items():
            if not isinstance(entries, dict):
                continue
            haystack = ("\n".join(t for r, t in sources.items()
                                  if not r.startswith("translations/"))
                        if table == TEXTS else sources.get(table, ""))
            for source in entries:
                if json.dumps(source)[1:-1] not in haystack and source not in haystack:
                    stray.append((rel, table, source))
    return stray
