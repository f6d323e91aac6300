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
import re
import tomllib
from collections.abc import Iterator, Mapping
from typing import Any

from lxml import etree

from engine.base import i18n

TEXTS = "texts"
# The keys whose string (or list of strings) values people read.
_READ_KEYS = frozenset({
    "title", "description", "ui:title", "ui:description", "ui:help", "ui:placeholder",
    "ui:enumNames", "enumNames", "statement", "name", "label", "anchor", "anchors", "help",
    "instructions", "definition", "message", "levels", "dateMessage", "patternMessage",
    "addLabel",
})
# Keys whose values a form or the engine acts on, never translated, even below a read key (a
# field named `title` or `message` holds a schema, not a text).
_KEPT_KEYS = frozenset({
    "type", "enum", "const", "default", "format", "pattern", "required", "ui:widget",
    "ui:order", "ui:options", "$schema", "$ref", "key", "value", "short", "column",
})


def _reads(key: str, read: bool) -> bool:
    return key in _READ_KEYS or (read and key not in _KEPT_KEYS)
# A form that is a Jinja template is not JSON until rendered, and is translated before: its
# texts are found as `"<read key>": "…"` or `"<read key>": ["…", …]` in the raw text.
_LITERAL = r'"(?:[^"\\\n]|\\.)*"'
_READ_PAIR = re.compile(
    r'"(?:' + "|".join(re.escape(k) for k in sorted(_READ_KEYS)) + r')"\s*:\s*'
    + r"(" + _LITERAL + r"|\[\s*" + _LITERAL + r"(?:\s*,\s*" + _LITERAL + r")*\s*\]"
    + r"|\{\{[^\n]*?\}\})"
)
# Inside such a text, a Jinja expression's own quoted words ({{ 'a' if x else 'b' }}).
_JINJA_WORDS = re.compile(r"'([^'\\{}]+)'")
_REFERENCE = re.compile(r"[a-z_]+(\.[a-z_]*)+")
_INSTRUCTIONS = "{http://spiffworkflow.org/bpmn/schema/1.0/core}instructionsForEndUser"
_BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
# BPMN elements whose names pages show: the process, the tasks people do, the lanes.
_NAMED = ("process", "userTask", "manualTask", "lane")


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
    own = translations_file(chosen)
    # A pack that extends another reads the parent's file (translations/<parent>/<language>
    # .toml, see loading) beneath its own: its own entries win, the rest stays translated.
    inherited = sorted(rel for rel in sources if rel.startswith("translations/")
                       and rel.count("/") == 2 and rel.endswith(f"/{chosen}.toml"))
    merged: dict[str, dict[str, str]] = {}
    for rel in [*inherited, own]:
        text = sources.get(rel)
        if not text:
            continue
        for table, entries in tomllib.loads(text).items():
            if isinstance(entries, dict):
                merged.setdefault(table, {}).update(
                    {str(k): str(v) for k, v in entries.items() if isinstance(v, str)})
    return merged


def names_for_pages(table: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """The translations that hold wherever a page shows a pack's name — a process title, a
    task, a lane, a catalog's level or label: `[texts]` with the tables of the diagrams,
    the catalogs and pack.toml over it (a form's own table stays with its form)."""
    merged = dict(table.get(TEXTS, {}))
    for path, entries in table.items():
        if path.endswith(".bpmn") or path.startswith("catalogs/") or path == "pack.toml":
            merged.update(entries)
    return merged


def _lookup(table: Mapping[str, Mapping[str, str]], path: str | None) -> dict[str, str]:
    return {**table.get(TEXTS, {}), **(table.get(path, {}) if path else {})}


def _translated(value: Any, words: Mapping[str, str], read: bool = False) -> Any:
    if isinstance(value, str):
        return words.get(value, value) if read else value
    if isinstance(value, list):
        return [_translated(item, words, read) for item in value]
    if isinstance(value, dict):
        return {key: _translated(item, words, _reads(key, read))
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
        return _translated_template(text, _lookup(table, path))
    return json.dumps(translate_data(parsed, table, path), ensure_ascii=False)


def _template_literal(literal: str, words: Mapping[str, str]) -> str:
    """One JSON string literal of a templated form, translated: the whole text, or else the
    quoted words of the Jinja expressions in it."""
    try:
        value = json.loads(literal)
    except ValueError:
        return literal
    if value in words:
        return json.dumps(words[value], ensure_ascii=False)
    if "{{" not in value:
        return literal
    return _JINJA_WORDS.sub(
        lambda m: "'" + words[m.group(1)].replace("'", "’") + "'" if m.group(1) in words
        else m.group(0), literal)


def _expression_literal(literal: str, words: Mapping[str, str]) -> str:
    """A quoted word of a Jinja expression that computes a text (`{{ ("Check-in with " ~
    subject.name) | tojson }}`), translated and quoted for Jinja again."""
    try:
        value = json.loads(literal)
    except ValueError:
        return literal
    if value not in words:
        return literal
    return '"' + words[value].replace("\\", "\\\\").replace('"', '\\"') + '"'


def _translated_template(text: str, words: Mapping[str, str]) -> str:
    """A templated (not yet JSON) form's text with the values of its read keys translated;
    the Jinja and everything else stay as written."""
    def pair(match: re.Match[str]) -> str:
        start = match.start(1) - match.start(0)
        one = _expression_literal if match.group(1).startswith("{{") else _template_literal
        value = re.sub(_LITERAL, lambda m: one(m.group(0), words), match.group(1))
        return match.group(0)[:start] + value
    return _READ_PAIR.sub(pair, text)


def _read_strings(value: Any, read: bool = False) -> Iterator[str]:
    if isinstance(value, str):
        if read:
            yield value
    elif isinstance(value, list):
        for item in value:
            yield from _read_strings(item, read)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _read_strings(item, _reads(key, read))


def _template_strings(text: str) -> Iterator[str]:
    for match in _READ_PAIR.finditer(text):
        for literal in re.findall(_LITERAL, match.group(1)):
            try:
                value = json.loads(literal)
            except ValueError:
                continue
            if match.group(1).startswith("{{"):
                yield value  # a quoted word of an expression that computes the text
                continue
            # A text with a Jinja expression choosing between quoted words: those words; any
            # other (`Check-in with {{ subject.name }}`): the whole text, placeholders kept.
            quoted = _JINJA_WORDS.findall(value) if "{{" in value else []
            yield from quoted or [value]


def _instructions(text: str) -> Iterator[str]:
    root = etree.fromstring(text.encode(), etree.XMLParser(resolve_entities=False,
                                                           no_network=True))
    for element in root.iter(_INSTRUCTIONS):
        if element.text and element.text.strip():
            yield element.text
    # The names people read in their inbox, on a task, a timeline and the dashboards.
    for element in root.iter(*(f"{{{_BPMN}}}{tag}" for tag in _NAMED)):
        name = element.get("name")
        if name and name.strip():
            yield name


def _manifest_names(text: str) -> Iterator[str]:
    """The process titles and lane names a pack.toml gives pages."""
    manifest = tomllib.loads(text)
    for process in (manifest.get("processes") or {}).values():
        if isinstance(process, dict) and isinstance(process.get("title"), str):
            yield process["title"]
    yield from (str(lane) for lane in (manifest.get("lanes") or {}))


def translatable_texts(sources: Mapping[str, str]) -> list[tuple[str, str]]:
    """(file, text) of every text of a pack that people read and a translation would cover —
    forms, catalogs, task instructions, the names of processes, tasks and lanes — so a test
    can keep a language complete."""
    found: dict[tuple[str, str], None] = {}
    for rel, text in sorted(sources.items()):
        strings: Iterator[str]
        if rel.startswith("forms/") and rel.endswith(".json"):
            try:
                strings = _read_strings(json.loads(text))
            except ValueError:
                strings = _template_strings(text)
        elif rel.startswith("catalogs/") and rel.endswith(".toml"):
            strings = _read_strings(tomllib.loads(text))
        elif rel.endswith(".bpmn"):
            strings = _instructions(text)
        elif rel == "pack.toml":
            strings = _manifest_names(text)
        else:
            continue
        for string in strings:
            # Words, not a catalog reference (`"competencies.competencies." ~ c.key`).
            if re.search(r"[A-Za-z]{2}", string) and not _REFERENCE.fullmatch(string):
                found[(rel, string)] = None
    return list(found)


def untranslated(sources: Mapping[str, str], language: str) -> list[tuple[str, str]]:
    """(file, text) of every translatable text that `language`'s file leaves as written."""
    table = pack_translations(sources, language)
    return [(rel, text) for rel, text in translatable_texts(sources)
            if text not in _lookup(table, rel)]


def translate_text(text: str, table: Mapping[str, Mapping[str, str]],
                   path: str | None = None) -> str:
    """One whole text (a task name, an instruction) translated, or as it is."""
    return _lookup(table, path).get(text, text) if table else text


def stray_entries(sources: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(translations file, table, source text) of every entry that matches no text of the pack
    — a typo, or a text since changed — for `sightline pack validate` to warn about."""
    stray = []
    # What people read, as the pack's files hold it decoded (an instruction's quotes are
    # `&quot;` in the BPMN), besides the raw text below for what the walk does not reach.
    known = translatable_texts(sources)
    for rel, text in sorted(sources.items()):
        if not (rel.startswith("translations/") and rel.endswith(".toml")):
            continue
        if rel.count("/") > 1:
            continue  # a parent pack's file, checked against the parent's own texts
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
            readable = {t for r, t in known if table in (TEXTS, r)}
            for source in entries:
                if (source not in readable and json.dumps(source)[1:-1] not in haystack
                        and source not in haystack):
                    stray.append((rel, table, source))
    return stray
