from __future__ import annotations

import datetime as dt
from typing import Any

import lxml.html
import pytest
from starlette.datastructures import FormData

from forms import FormDefinitionError, form_spec

RATED: dict[str, Any] = {
    "type": "object",
    "required": ["communication"],
    "properties": {"communication": {"type": "integer"}},
}
RATED_UI = {
    "communication": {
        "ui:widget": "rating",
        "ui:options": {
            "scale": "rating_scale.levels",
            "anchors": "competencies.competencies.communication",
        },
    }
}
SIGNED: dict[str, Any] = {
    "type": "object",
    "required": ["sign_off"],
    "properties": {"sign_off": {"type": "object", "title": "Employee sign-off"}},
}
SIGNED_UI = {"sign_off": {"ui:widget": "signature"}}
ADA = {"id": "person-17", "name": "Ada Lovelace"}
NOON = dt.datetime(2026, 4, 1, 12, 0, tzinfo=dt.UTC)


def test_rating_renders_a_button_per_level_that_reveals_its_anchors(catalogs: dict) -> None:
    html = form_spec(RATED, RATED_UI, catalogs).bind().render(action="/t")
    doc = lxml.html.fromstring(html)
    buttons = doc.xpath("//div[@class='sl-rating-levels']")
    assert len(buttons) == 1 and "--sl-levels: 5" in buttons[0].get("style")
    rows = doc.xpath("//div[contains(concat(' ', @class, ' '), ' sl-rating-level ')]")
    assert len(rows) == 5
    solid = rows[2]
    radio = solid.xpath(".//input[@type='radio']")[0]
    assert radio.get("value") == "3"
    # A button is a label around the level's radio: figure and label, the radio still there
    # for the keyboard (arrow keys) and for forms without JavaScript.
    button = solid.xpath(".//label[@class='sl-level-name']")[0]
    assert button.get("for") == radio.get("id") and radio.getparent() is button
    assert " ".join(button.text_content().split()) == "3 Solid"
    assert button.get("title") == "Meets expectations."
    # The level's behaviours describe the radio; forms.css opens them for the chosen level.
    about = solid.xpath(".//div[@class='sl-level-about']")[0]
    assert radio.get("aria-describedby").split()[0] == about.get("id")
    anchors = [s.text_content() for s in about.xpath(".//span[@class='sl-anchor']")]
    assert anchors == ["Keeps stakeholders informed", "Listens before answering"]
    assert "Meets expectations." not in about.text_content()
    legend = doc.xpath("//details[@class='sl-scale-legend']")
    assert len(legend) == 1 and "Meets expectations." in legend[0].text_content()
    # A level without behaviours of its own shows the general definition instead.
    assert not rows[1].xpath(".//span[@class='sl-anchor']")
    assert "Meets some expectations." in rows[1].xpath(".//div[@class='sl-level-about']")[0]\
        .text_content()
    # The competency's own name and description label the scale.
    assert doc.xpath("//legend")[0].text_content().startswith("Communication")
    assert "Shares information clearly" in html


def test_a_fixed_rating_reads_as_its_figure_and_label(catalogs: dict) -> None:
    ui = {"communication": {**RATED_UI["communication"], "ui:readonly": True}}
    doc = lxml.html.fromstring(
        form_spec(RATED, ui, catalogs).bind(None, {"communication": 4}).render(action="/t")
    )
    assert not doc.xpath("//input[@type='radio']")
    shown = doc.xpath("//p[contains(@class, 'sl-rating-value')]/strong")[0].text_content()
    assert shown == "4 — Strong"
    # In a table, a fixed rating column reads the same way.
    schema = {"type": "object", "properties": {"peers": {"type": "array", "items": {
        "type": "object", "properties": {"rating": {"type": "integer"}}}}}}
    table_ui = {"peers": {"ui:readonly": True, "items": {"rating": {
        "ui:widget": "rating", "ui:options": {"scale": "rating_scale.levels"}}}}}
    html = form_spec(schema, table_ui, catalogs).bind(None, {"peers": [{"rating": 2}]}).render(
        action="/t"
    )
    cell = lxml.html.fromstring(html).xpath("//td[@class='sl-cell-fixed']")[0]
    assert cell.text_content().strip() == "2 — Developing"


def test_the_scale_legend_shows_once_however_many_ratings_use_it(catalogs: dict) -> None:
    anchored = RATED_UI["communication"]
    schema = {"type": "object", "properties": {
        "first": {"type": "integer"}, "second": {"type": "integer"}, "overall": {"type": "integer"}
    }}
    ui = {"first": anchored, "second": anchored,
          "overall": {"ui:widget": "rating", "ui:options": {"scale": "rating_scale.levels"}}}
    spec = form_spec(schema, ui, catalogs)
    doc = lxml.html.fromstring(spec.bind().render(action="/t"))
    legends = doc.xpath("//details[@class='sl-scale-legend']")
    assert len(legends) == 1
    assert legends[0].getparent().get("id") == "field-first"
    # Live validation re-draws one field at a time: the second never grows a legend of its own.
    fragment = spec.validate_partial(FormData([("second", "3"), ("_field", "second")]))
    assert "sl-scale-legend" not in fragment


def test_a_marker_badges_the_level_it_names(catalogs: dict) -> None:
    ui = {"communication": {"ui:widget": "rating", "ui:options": {
        **RATED_UI["communication"]["ui:options"],
        "marker": [{"value": 4, "label": "Self-rating"}, {"value": None, "label": "Peers"}],
    }}}
    doc = lxml.html.fromstring(form_spec(RATED, ui, catalogs).bind().render(action="/t"))
    marked = doc.xpath("//mark[@class='sl-marker']")
    assert [m.text_content() for m in marked] == ["Self-rating"]
    level = "ancestor::div[contains(concat(' ', @class, ' '), ' sl-rating-level ')]//input"
    assert marked[0].xpath(level)[0].get("value") == "4"


def test_a_marker_without_a_label_is_a_form_definition_error(catalogs: dict) -> None:
    ui = {"communication": {"ui:widget": "rating", "ui:options": {
        **RATED_UI["communication"]["ui:options"], "marker": {"value": 4}}}}
    with pytest.raises(FormDefinitionError, match="'communication': a marker is"):
        form_spec(RATED, ui, catalogs)


def test_rating_value_comes_back_as_the_level_value(catalogs: dict) -> None:
    spec = form_spec(RATED, RATED_UI, catalogs)
    bound = spec.bind(FormData([("communication", "4")]))
    assert bound.validate()
    assert bound.to_data() == {"communication": 4}
    forged = spec.bind(FormData([("communication", "6")]))
    assert not forged.validate()
    assert forged.errors == [("Communication", "Choose one of the listed options.")]


def test_rating_keeps_the_chosen_card_checked_after_errors(catalogs: dict) -> None:
    schema = {
        **RATED,
        "required": ["communication", "evidence"],
        "properties": {**RATED["properties"], "evidence": {"type": "string"}},
    }
    bound = form_spec(schema, RATED_UI, catalogs).bind(FormData([("communication", "5")]))
    assert not bound.validate()
    doc = lxml.html.fromstring(bound.render(action="/t"))
    assert [i.get("value") for i in doc.xpath("//input[@checked]")] == ["5"]


def test_signature_stores_who_signed_and_when() -> None:
    posted = FormData(
        [
            ("sign_off-acknowledged", "y"),
            ("sign_off-name", "  ada   LOVELACE "),
            ("sign_off-comment", "I agree with the rating."),
        ]
    )
    bound = form_spec(SIGNED, SIGNED_UI).bind(posted, signer=ADA, now=NOON)
    assert bound.validate(), bound.errors
    assert bound.to_data() == {
        "sign_off": {
            "acknowledged": True,
            "name": "ada LOVELACE",
            "signer_id": "person-17",
            "signed_at": "2026-04-01T12:00:00+00:00",
            "comment": "I agree with the rating.",
        }
    }


def test_signature_rejects_someone_elses_name() -> None:
    posted = FormData([("sign_off-acknowledged", "y"), ("sign_off-name", "Grace Hopper")])
    bound = form_spec(SIGNED, SIGNED_UI).bind(posted, signer=ADA, now=NOON)
    assert not bound.validate()
    assert bound.errors == [
        ("Employee sign-off", "The name does not match yours; type “Ada Lovelace”.")
    ]
    assert bound.to_data() == {"sign_off": None}
    html = bound.render(action="/t")
    assert 'value="Grace Hopper"' in html


def test_signature_needs_the_acknowledgement_ticked() -> None:
    bound = form_spec(SIGNED, SIGNED_UI).bind(
        FormData([("sign_off-name", "Ada Lovelace")]), signer=ADA
    )
    assert not bound.validate()
    assert bound.errors == [("Employee sign-off", "Tick the box to confirm.")]


def test_signer_fields_cannot_be_forged_in_the_post() -> None:
    posted = FormData(
        [
            ("sign_off-acknowledged", "y"),
            ("sign_off-name", "Ada Lovelace"),
            ("sign_off-signer_id", "person-1"),
            ("sign_off-signed_at", "1999"),
        ]
    )
    data = form_spec(SIGNED, SIGNED_UI).bind(posted, signer=ADA, now=NOON).to_data()
    assert data["sign_off"]["signer_id"] == "person-17"
    assert data["sign_off"]["signed_at"] == "2026-04-01T12:00:00+00:00"


def test_read_only_signature_shows_who_signed() -> None:
    signed = {
        "acknowledged": True,
        "name": "Ada Lovelace",
        "signer_id": "person-17",
        "signed_at": "2026-04-01T12:00:00+00:00",
        "comment": "",
    }
    ui = {"sign_off": {"ui:widget": "signature", "ui:readonly": True}}
    bound = form_spec(SIGNED, ui).bind(FormData([]), {"sign_off": signed})
    assert bound.validate()
    assert bound.to_data() == {"sign_off": signed}
    assert "Signed by <strong>Ada Lovelace</strong>" in bound.render(action="/t")
