"""A pack's texts in the reader's language: translations/<language>.toml, with the source text
wherever a translation is missing."""

from __future__ import annotations

import json

from engine.packs.translations import (
    pack_translations,
    stray_entries,
    translate_data,
    translate_json_text,
)

SCHEMA = json.dumps({"title": "Objectives", "properties": {
    "weight": {"title": "Weight (%)", "type": "integer"},
    "kpi": {"title": "KPI to measure", "type": "string"},
    "measure": {"title": "Measure", "enum": ["higher", "lower"]}}})
UI = json.dumps({"measure": {"ui:enumNames": ["Higher is better", "Lower is better"]}})
DE = """
[texts]
"Objectives" = "Ziele"
"Higher is better" = "Höher ist besser"
"Lower is better" = "Niedriger ist besser"

["forms/objectives-schema.json"]
"Weight (%)" = "Gewichtung (%)"
"""
SOURCES = {"forms/objectives-schema.json": SCHEMA, "forms/objectives-uischema.json": UI,
           "translations/de.toml": DE}


def test_a_german_reader_gets_german_labels_and_enum_names() -> None:
    words = pack_translations(SOURCES, "de")
    schema = json.loads(translate_json_text(SCHEMA, words, "forms/objectives-schema.json"))
    ui = json.loads(translate_json_text(UI, words, "forms/objectives-uischema.json"))
    assert schema["title"] == "Ziele"
    assert schema["properties"]["weight"]["title"] == "Gewichtung (%)"
    assert ui["measure"]["ui:enumNames"] == ["Höher ist besser", "Niedriger ist besser"]
    # Values a form stores stay as written: only what people read is translated.
    assert schema["properties"]["measure"]["enum"] == ["higher", "lower"]


def test_a_missing_translation_falls_back_to_the_source_text() -> None:
    words = pack_translations(SOURCES, "de")
    schema = json.loads(translate_json_text(SCHEMA, words, "forms/objectives-schema.json"))
    assert schema["properties"]["kpi"]["title"] == "KPI to measure"
    # A file-scoped entry applies only in its file.
    other = translate_data({"title": "Weight (%)"}, words, "forms/other.json")
    assert other == {"title": "Weight (%)"}


def test_an_english_reader_and_a_pack_without_translations_read_the_source() -> None:
    assert pack_translations(SOURCES, "en") == {}
    assert pack_translations({"forms/objectives-schema.json": SCHEMA}, "de") == {}
    assert translate_json_text(SCHEMA, {}, "forms/objectives-schema.json") == SCHEMA


def test_a_stray_entry_is_reported() -> None:
    stray = DE + '"Objektives typo" = "Ziele"\n'
    assert stray_entries({**SOURCES, "translations/de.toml": stray}) == [
        ("translations/de.toml", "forms/objectives-schema.json", "Objektives typo")]
    assert stray_entries(SOURCES) == []
