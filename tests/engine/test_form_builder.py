"""The form builder's model: a pack form as fields and back, in the file's own formatting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.packs import form_builder as fb
from engine.packs.durations import DurationError, in_words, to_iso, words_in

ROOT = Path(__file__).resolve().parents[2]
FORMS = ROOT / "processes" / "standard" / "forms"
CATALOGS = {"rating_scale": {"name": "Performance rating", "levels": [
    {"value": 5, "label": "Outstanding"}, {"value": 1, "label": "Below"}]}}


def _pair(name: str) -> tuple[str, str]:
    return ((FORMS / f"{name}-schema.json").read_text(),
            (FORMS / f"{name}-uischema.json").read_text())


def _builder_forms() -> list[str]:
    names = []
    for path in sorted(FORMS.glob("*-schema.json")):
        if path.name.endswith("-uischema.json"):
            continue
        name = path.name.removesuffix("-schema.json")
        try:
            fb.read_form_texts(*_pair(name))
        except fb.Unrepresentable:
            continue
        names.append(name)
    return names


@pytest.mark.parametrize("name", _builder_forms())
def test_a_form_read_and_written_unchanged_keeps_its_exact_bytes(name: str) -> None:
    schema_text, ui_text = _pair(name)
    fields = fb.read_form_texts(schema_text, ui_text)
    schema, ui = fb.write_form(fields, json.loads(schema_text), json.loads(ui_text))

    assert fb.dump_like(schema, schema_text) == schema_text
    assert fb.dump_like(ui, ui_text) == ui_text


def test_the_builder_reads_labels_types_required_help_and_options() -> None:
    fields = {f.name: f for f in fb.read_form_texts(*_pair("checkin"))}

    assert fields["checkin_date"].kind == "date" and fields["checkin_date"].required
    assert fields["checkin_date"].help == "The day you and the employee met."
    assert fields["coaching_notes"].kind == "textarea"
    assert fields["revise_objectives"].kind == "yesno"
    status = fields["progress_status"]
    assert status.kind == "choice"
    assert [(o.value, o.label) for o in status.options] == [
        ("on_track", "On track"), ("at_risk", "At risk"), ("off_track", "Off track")]
    assert [f.name for f in fb.read_form_texts(*_pair("checkin"))][:2] == [
        "checkin_date", "progress_status"]


def test_editing_one_label_changes_only_that_line() -> None:
    schema_text, ui_text = _pair("checkin")
    fields = fb.read_form_texts(schema_text, ui_text)
    fields[0].label = "When you met"
    schema, _ = fb.write_form(fields, json.loads(schema_text), json.loads(ui_text))
    written = fb.dump_like(schema, schema_text)

    changed = [(a, b) for a, b in zip(schema_text.splitlines(), written.splitlines(),
                                      strict=True) if a != b]
    assert changed == [(
        '    "checkin_date": {"title": "Date of the check-in conversation", "type": "string", '
        '"format": "date"},',
        '    "checkin_date": {"title": "When you met", "type": "string", "format": "date"},')]


def test_new_fields_text_rating_and_table_are_written_as_the_pack_writes_forms() -> None:
    schema = {"title": "Quick review", "type": "object", "properties": {}}
    fields = [
        fb.BuilderField("", "Summary", "text", help="One sentence."),
        fb.BuilderField("", "Overall rating", "rating", required=True,
                        scale="rating_scale.levels"),
        fb.BuilderField("", "Actions", "table", columns=[
            fb.BuilderField("", "Action", "text", required=True),
            fb.BuilderField("", "Due", "date")]),
    ]
    for item, name in zip(fields, ("summary", "overall_rating", "actions"), strict=True):
        item.name = name
    fields[2].columns[0].name, fields[2].columns[1].name = "action", "due"
    new_schema, new_ui = fb.write_form(fields, schema, {})

    assert new_schema["required"] == ["overall_rating"]
    assert list(new_schema) == ["title", "type", "required", "properties"]
    assert new_schema["properties"]["overall_rating"] == {"title": "Overall rating",
                                                          "type": "integer"}
    assert new_schema["properties"]["actions"]["items"] == {
        "type": "object", "required": ["action"], "properties": {
            "action": {"title": "Action", "type": "string"},
            "due": {"title": "Due", "type": "string", "format": "date"}}}
    assert new_ui == {"summary": {"ui:help": "One sentence."},
                      "overall_rating": {"ui:widget": "rating",
                                         "ui:options": {"scale": "rating_scale.levels"}}}
    text = fb.dump_like(new_schema, '{\n  "title": "Quick review",\n  "type": "object",\n'
                        '  "properties": {}\n}\n')
    assert '    "summary": {"title": "Summary", "type": "string"},\n' in text
    assert text.endswith("}\n")
    assert fb.read_form(json.loads(text), new_ui) == fb.read_form(new_schema, new_ui)


def test_a_form_the_builder_cannot_show_says_why() -> None:
    with pytest.raises(fb.Unrepresentable, match="template"):
        fb.read_form_texts('{"title": {{ name | tojson }}}', "{}")
    with pytest.raises(fb.Unrepresentable, match="'email'"):
        fb.read_form({"type": "object", "properties": {
            "email": {"type": "string", "format": "email"}}}, {})


def test_problems_name_the_field_and_what_to_do() -> None:
    fields = [fb.BuilderField("a", "", "text"), fb.BuilderField("b", "Pick", "choice"),
              fb.BuilderField("c", "Score", "rating", scale="nope.levels"),
              fb.BuilderField("d", "Rows", "table"), fb.BuilderField("data", "Data", "text")]

    assert fb.problems(fields, fb.rating_scales(CATALOGS)) == {
        "0": "Give the field a label.",
        "1": "Type at least one option, one per line.",
        "2": "The pack has no rating scale 'nope.levels': choose one of its scales.",
        "3": "Add at least one column.",
        "4": "“data” cannot be stored: use letters, digits and _, starting with a letter.",
    }


def test_options_keep_their_stored_values_when_renamed_or_reordered() -> None:
    before = [fb.Option("on_track", "On track"), fb.Option("at_risk", "At risk")]

    renamed = fb.options_from_lines("Going well\nAt risk\nStalled\n", before)
    moved = fb.options_from_lines("At risk\nOn track\n", before)

    assert [(o.value, o.label) for o in renamed] == [
        ("on_track", "Going well"), ("at_risk", "At risk"), ("stalled", "Stalled")]
    assert [o.value for o in moved] == ["at_risk", "on_track"]


def test_rating_scales_come_from_the_catalogs() -> None:
    assert fb.rating_scales(CATALOGS) == {
        "rating_scale.levels": "Performance rating (2 levels: 5 Outstanding, 1 Below …)"}


def test_identifiers_from_labels_are_unique_and_allowed() -> None:
    assert fb.identifier("Team size (people)") == "team_size_people"
    assert fb.identifier("Team size", ["team_size"]) == "team_size_2"
    assert fb.identifier("2nd opinion") == "field_2nd_opinion"
    assert fb.identifier("Data") == "data_field"


@pytest.mark.parametrize(("typed", "iso"), [
    ("14 days", "P14D"), ("2 weeks", "P2W"), ("3 months", "P3M"), ("two weeks", "P2W"),
    ("1 week, 2 days", "P1W2D"), ("p10d", "P10D"), ("4 hours", "PT4H"), ("", "")])
def test_durations_typed_in_words_are_stored_as_iso_8601(typed: str, iso: str) -> None:
    assert to_iso(typed) == iso


def test_durations_read_in_words_and_bad_ones_say_what_to_type() -> None:
    assert in_words("P14D") == "14 days" and in_words("P1M1D") == "1 month 1 day"
    assert words_in("dueIn: P14D → P7D") == "dueIn: 14 days → 7 days"
    with pytest.raises(DurationError, match="“soon” is not a duration such as “14 days”"):
        to_iso("soon")
