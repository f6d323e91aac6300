"""The shipped packs in German: complete, faithful to the source's placeholders and values,
inherited by a pack that extends another, and checked by `sightline pack validate`."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from engine.packs.loading import discover_packs, load_pack
from engine.packs.translations import (
    pack_translations,
    translatable_texts,
    translate_json_text,
    translate_text,
    untranslated,
)
from forms import render_schema_template

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
PACKS = ["standard", "acme"]
# Enough data for every templated form to render (competency rows, fixed objectives).
SAMPLE: dict[str, Any] = {
    "competencies": [{"key": "communication", "name": "Kommunikation"}],
    "objectives": [{"title": "Ziel", "weight": 100}],
    "subject": {"name": "Erika Mustermann", "job_family": "sales"},
}


def sources_of(name: str, root: Path = PROCESSES) -> dict[str, str]:
    pack = load_pack(root / name, discover_packs([root]))
    sources = {rel: pack.read_text(rel) for rel in pack.files
               if rel.endswith((".bpmn", ".dmn", ".json", ".toml"))}
    return {**sources, "pack.toml": (pack.root / "pack.toml").read_text(encoding="utf-8")}


@pytest.mark.parametrize("name", PACKS)
def test_every_text_people_read_has_a_german_entry(name: str) -> None:
    missing = untranslated(sources_of(name), "de")
    assert not missing, f"{len(missing)} text(s) of pack {name!r} without German:\n" + "\n".join(
        f"  {rel}: {text[:100]!r}" for rel, text in missing)


def _jinja(text: str) -> list[str]:
    """The template's expressions and tags with their quoted words blanked: what must stay."""
    return [re.sub(r'"[^"]*"', '""', block)
            for block in re.findall(r"\{\{.*?\}\}|\{%.*?%\}", text, re.S)]


@pytest.mark.parametrize("name", PACKS)
def test_german_instructions_keep_every_placeholder(name: str) -> None:
    sources = sources_of(name)
    words = pack_translations(sources, "de")
    for rel, text in translatable_texts(sources):
        if rel.endswith(".bpmn"):
            german = translate_text(text, words)
            # A name German writes as English does ("Check-in") is translated on purpose.
            assert german != text or text in words["texts"], f"{rel}: {text[:60]!r}"
            assert _jinja(german) == _jinja(text), f"{rel}: {text[:60]!r}"


def _values(node: Any) -> list[Any]:
    """Every enum, const and default of a rendered schema: what a form stores."""
    if isinstance(node, dict):
        own = [node[k] for k in ("enum", "const", "default") if k in node]
        return own + [v for child in node.values() for v in _values(child)]
    if isinstance(node, list):
        return [v for child in node for v in _values(child)]
    return []


@pytest.mark.parametrize("name", PACKS)
def test_german_forms_render_and_store_what_the_english_ones_store(name: str) -> None:
    sources = sources_of(name)
    words = pack_translations(sources, "de")
    for rel, text in sorted(sources.items()):
        if not (rel.startswith("forms/") and rel.endswith(".json")):
            continue
        english = render_schema_template(text, SAMPLE)
        german = render_schema_template(translate_json_text(text, words, rel), SAMPLE)
        assert _values(german) == _values(english), rel
        if "title" in english:
            assert german["title"] != english["title"] or english["title"] == "Status", rel


def test_the_self_appraisal_reads_german_in_its_templated_parts() -> None:
    sources = sources_of("standard")
    words = pack_translations(sources, "de")
    rel = "forms/self-appraisal-uischema.json"
    ui = render_schema_template(translate_json_text(sources[rel], words, rel), SAMPLE)
    assert ui["objectives"]["ui:help"].startswith("Die zu Beginn des Zyklus vereinbarten Ziele")
    rel = "forms/self-appraisal-schema.json"
    schema = render_schema_template(translate_json_text(sources[rel], words, rel), SAMPLE)
    assert schema["properties"]["objectives"]["x-total"]["message"] == (
        "Die Gewichtungen der Ziele müssen zusammen 100 ergeben.")


def test_acme_reads_the_standard_german_beneath_its_own() -> None:
    words = pack_translations(sources_of("acme"), "de")["texts"]
    assert words["Objectives"] == "Ziele"  # from standard's file
    assert words["Exceptional"] == "Außergewöhnlich"  # from ACME's own


def _pack(root: Path, name: str, extends: str | None, translations: str) -> None:
    (root / name / "translations").mkdir(parents=True)
    head = f'[pack]\nname = "{name}"\n' + (f'extends = "{extends}"\n' if extends else "")
    (root / name / "pack.toml").write_text(head)
    (root / name / "translations" / "de.toml").write_text(translations)


def test_a_child_pack_s_entry_wins_over_its_parent_s(tmp_path: Path) -> None:
    _pack(tmp_path, "base", None, '[texts]\n"Objectives" = "Ziele"\n"Target" = "Soll"\n')
    _pack(tmp_path, "child", "base", '[texts]\n"Target" = "Zielwert"\n')
    pack = load_pack(tmp_path / "child", discover_packs([tmp_path]))
    sources = {rel: pack.read_text(rel) for rel in pack.files}
    assert {"translations/base/de.toml", "translations/de.toml"} <= sources.keys()
    assert pack_translations(sources, "de")["texts"] == {"Objectives": "Ziele",
                                                         "Target": "Zielwert"}


def test_pack_validate_warns_about_a_stray_entry_but_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from webapp.cli import main

    shutil.copytree(PROCESSES / "standard", tmp_path / "standard")
    german = tmp_path / "standard" / "translations" / "de.toml"
    german.write_text(german.read_text().replace(
        "[texts]\n", '[texts]\n"Objektives" = "Ziele"\n', 1))
    assert main(["pack", "validate", str(tmp_path / "standard")]) == 0
    out = capsys.readouterr().out
    assert ("warning: translations/de.toml: [texts] 'Objektives': no text of the pack reads"
            " this") in out
    assert "standard: valid" in out
    assert main(["pack", "validate", str(PROCESSES / "standard")]) == 0
    assert "warning" not in capsys.readouterr().out


def test_the_german_files_are_toml_an_editor_can_read() -> None:
    for name in PACKS:
        text = (PROCESSES / name / "translations" / "de.toml").read_text()
        assert json.dumps("Ziele") in text or name == "acme"
