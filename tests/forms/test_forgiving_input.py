"""Forms that forgive: number boxes without spinners, long text that wraps and grows, dates
checked for plausibility against the `now` the form is bound with, fixed values that read as
people write them, one comment box per signature form."""

from __future__ import annotations

import datetime as dt
from typing import Any

import lxml.html
import pytest
from starlette.datastructures import FormData

from forms import FormDefinitionError, form_spec, render_instructions, render_schema_template

# Late evening in London: in Kiribati (UTC+14) it is already the 8th, on Baker Island
# (UTC-12) still the 7th.
NOW = dt.datetime(2026, 12, 7, 20, 0, tzinfo=dt.UTC)
OBJECTIVES: dict[str, Any] = {
    "type": "object",
    "properties": {
        "objectives": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "area": {"type": "string", "title": "Area", "maxLength": 60},
                    "title": {"type": "string", "title": "Objective", "maxLength": 200},
                    "weight": {"type": "integer", "title": "Weight"},
                    "due": {"type": "string", "format": "date", "title": "Due"},
                },
            },
        }
    },
}


def _doc(html: str) -> Any:
    return lxml.html.fromstring(f"<div>{html}</div>")


def test_numbers_are_text_boxes_with_a_numeric_keyboard_and_no_spinner() -> None:
    schema = {"type": "object", "properties": {
        "target": {"type": "number", "minimum": 0, "maximum": 1000},
        "weight": {"type": "integer"},
    }}
    doc = _doc(form_spec(schema, {"target": {"ui:options": {"step": 0.1}}}).bind(
        None, {"target": 12.5, "weight": 40}).render(action="/t"))
    for name, shown in (("target", "12.5"), ("weight", "40")):
        box = doc.get_element_by_id(name)
        assert box.get("type") == "text" and box.get("inputmode") == "decimal"
        assert box.get("pattern") and "sl-number" in box.get("class")
        assert box.get("value") == shown
        # A text box: no spinner, so no min/max/step for one to step by.
        assert box.get("min") is None and box.get("max") is None and box.get("step") is None


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("1e400", "Enter a number from 0 to 1000."),
        ("NaN", "Enter a number, such as 42 or 3.5."),
        ("Infinity", "Enter a number from 0 to 1000."),
        ("12,5", "Enter a number, such as 42 or 3.5."),
    ],
)
def test_the_server_still_parses_numbers_strictly(typed: str, error: str) -> None:
    schema = {"type": "object", "properties": {
        "target": {"type": "number", "minimum": 0, "maximum": 1000}}}
    bound = form_spec(schema).bind(FormData([("target", typed)]))
    assert not bound.validate()
    assert bound.errors == [("Target", error)]
    assert _doc(bound.render(action="/t")).get_element_by_id("target").get("value") == typed


def test_long_text_in_a_table_wraps_in_a_growing_one_line_box() -> None:
    row = {"area": "Delivery", "title": "Ship the billing service", "weight": 50}
    doc = _doc(form_spec(OBJECTIVES).bind(None, {"objectives": [row]}).render(action="/t"))
    title = doc.xpath("//*[@name='objectives-0-title']")[0]
    assert title.tag == "textarea" and title.text == "Ship the billing service"
    assert title.get("data-sl-autogrow") is not None and title.get("data-sl-one-line") is not None
    assert title.get("aria-label") == "Objective, row 1"
    # Its column asks for more of the width; a short text column stays an input.
    assert title.getparent().get("class") == "sl-cell-wide"
    area = doc.xpath("//*[@name='objectives-0-area']")[0]
    assert area.tag == "input" and area.get("type") == "text"


def test_a_line_break_in_a_one_line_box_is_kept_as_a_space() -> None:
    posted = FormData([("objectives-0-title", "Ship billing\r\nto every region"),
                       ("objectives-0-weight", "100")])
    bound = form_spec(OBJECTIVES).bind(posted)
    assert bound.validate(), bound.errors
    assert bound.to_data()["objectives"][0]["title"] == "Ship billing to every region"


def test_autogrow_can_be_asked_for_or_turned_off() -> None:
    ui = {"objectives": {"items": {"title": {"ui:options": {"autogrow": False}},
                                   "area": {"ui:options": {"autogrow": True}}}},
          "story": {"ui:widget": "textarea", "ui:options": {"rows": 6}}}
    schema = {**OBJECTIVES, "properties": {**OBJECTIVES["properties"],
                                           "story": {"type": "string"}}}
    row = {"area": "Delivery", "title": "Ship"}
    doc = _doc(form_spec(schema, ui).bind(None, {"objectives": [row]}).render(action="/t"))
    assert doc.xpath("//*[@name='objectives-0-title']")[0].tag == "input"
    assert doc.xpath("//*[@name='objectives-0-area']")[0].tag == "textarea"
    story = doc.get_element_by_id("story")
    assert story.get("rows") == "6" and story.get("data-sl-autogrow") is not None
    assert story.get("data-sl-one-line") is None
    with pytest.raises(FormDefinitionError, match="autogrow must be true or false"):
        form_spec(schema, {"story": {"ui:options": {"autogrow": "yes"}}})


DATED: dict[str, Any] = {
    "type": "object",
    "properties": {
        "held_on": {"type": "string", "format": "date", "title": "Held on"},
        "review_on": {"type": "string", "format": "date", "title": "Review on"},
    },
}


def _dated(ui: dict[str, Any], held: str = "", review: str = "") -> Any:
    bound = form_spec(DATED, ui).bind(
        FormData([("held_on", held), ("review_on", review)]), now=NOW
    )
    bound.validate()
    return bound


def test_a_date_in_the_future_or_the_past_is_refused_with_a_clear_message() -> None:
    ui = {"held_on": {"ui:options": {"notAfter": "today"}},
          "review_on": {"ui:options": {"notBefore": "today"}}}
    assert _dated(ui, "2026-12-07", "2026-12-07").errors == []
    # Somewhere it is already the 8th, and somewhere still the 7th: both are someone's today.
    assert _dated(ui, "2026-12-08", "2026-12-07").errors == []
    assert _dated(ui, "2026-12-09", "2026-12-06").errors == [
        ("Held on", "This date is in the future: enter today or an earlier date."),
        ("Review on", "This date is in the past: enter today or a later date."),
    ]
    wrong = _dated(ui, "2031-05-01")
    doc = _doc(wrong.render(action="/t"))
    # What was typed stays; the date picker knows the range.
    assert doc.get_element_by_id("held_on").get("value") == "2031-05-01"
    assert doc.get_element_by_id("held_on").get("max") == "2026-12-08"
    assert doc.get_element_by_id("review_on").get("min") == "2026-12-07"


def test_date_bounds_may_be_fixed_or_relative_with_the_packs_own_message() -> None:
    ui = {"held_on": {"ui:options": {"notBefore": "-P1Y", "notAfter": "P1M"}},
          "review_on": {"ui:options": {"notAfter": "2026-12-31",
                                       "dateMessage": "Review the plan this year."}}}
    assert _dated(ui, "2025-12-07", "2026-12-31").errors == []
    assert _dated(ui, "2025-12-06", "2027-01-01").errors == [
        ("Held on", "Enter a date on or after 7 Dec 2025."),
        ("Review on", "Review the plan this year."),
    ]
    assert _dated(ui, "2027-01-09").errors == [("Held on", "Enter a date on or before 8 Jan 2027.")]


def test_a_due_date_in_a_table_row_is_checked_too() -> None:
    ui = {"objectives": {"items": {"due": {"ui:options": {"notBefore": "today"}}}}}
    posted = FormData([("objectives-0-title", "Ship"), ("objectives-0-due", "2020-01-01")])
    bound = form_spec(OBJECTIVES, ui).bind(posted, now=NOW)
    assert not bound.validate()
    assert bound.errors == [
        ("Objectives › row 1 › Due", "This date is in the past: enter today or a later date.")
    ]


@pytest.mark.parametrize("bad", ["tomorrow", "P", "-P1X", "2026-13-01", 5])
def test_a_date_bound_that_means_nothing_is_a_form_definition_error(bad: Any) -> None:
    with pytest.raises(FormDefinitionError, match="notAfter must be"):
        form_spec(DATED, {"held_on": {"ui:options": {"notAfter": bad}}})


def test_a_month_from_the_31st_is_the_end_of_the_next_month() -> None:
    ui = {"held_on": {"ui:options": {"notAfter": "P1M"}}}
    spec = form_spec(DATED, ui)
    end_of_january = dt.datetime(2027, 1, 31, 5, tzinfo=dt.UTC)
    bound = spec.bind(FormData([("held_on", "2027-03-01")]), now=end_of_january)
    assert not bound.validate()
    assert bound.errors == [("Held on", "Enter a date on or before 28 Feb 2027.")]


def test_fixed_dates_and_choices_read_as_text() -> None:
    schema = {"type": "object", "properties": {
        "held_on": {"type": "string", "format": "date", "title": "Held on", "readOnly": True},
        "outcome": {"type": "string", "enum": ["up", "down"], "enumNames": ["Upheld", "Amended"],
                    "readOnly": True},
    }}
    doc = _doc(form_spec(schema).bind(None, {"held_on": "2031-05-01", "outcome": "up"}).render(
        action="/t"))
    shown = [p.text_content() for p in doc.xpath("//p[@class='sl-fixed-value']")]
    assert shown == ["1 May 2031", "Upheld"]
    assert not doc.xpath("//input[@type='date']") and not doc.xpath("//select")


SIGNED: dict[str, Any] = {"type": "object", "properties": {
    "comments": {"type": "string", "title": "Your comments"},
    "signature": {"type": "object"},
    "approved": {"type": "boolean"},
}}


def test_one_comment_box_per_form() -> None:
    ui = {"comments": {"ui:widget": "textarea"},
          "signature": {"ui:widget": "signature", "ui:options": {"comment": False}},
          "approved": {"ui:widget": "signature"}}
    doc = _doc(form_spec(SIGNED, ui).bind().render(action="/t"))
    # The form's own comments; the object signature told not to, the boolean one stores none.
    assert [t.get("name") for t in doc.xpath("//textarea")] == ["comments"]
    with_comment = form_spec(SIGNED, {"signature": {"ui:widget": "signature"}}).bind()
    names = [t.get("name") for t in _doc(with_comment.render(action="/t")).xpath("//textarea")]
    assert "signature-comment" in names


def test_a_fixed_signature_says_when_as_the_app_writes_dates() -> None:
    ui = {"signature": {"ui:widget": "signature", "ui:readonly": True}}
    signed = {"acknowledged": True, "name": "Ada Lovelace", "signer_id": 3,
              "signed_at": "2026-04-01T12:00:00+00:00", "comment": ""}
    doc = _doc(form_spec(SIGNED, ui).bind(None, {"signature": signed}).render(action="/t"))
    assert "Signed by Ada Lovelace on 1 Apr 2026." in " ".join(doc.text_content().split())


def test_templates_write_dates_as_the_app_does() -> None:
    assert "on 1 May 2031" in render_instructions(
        "Notes from your discussion on {{ held | date }}", {"held": "2031-05-01"}
    )
    assert render_schema_template(
        '{"title": {{ ("Due " ~ (due | date)) | tojson }}}', {"due": "2026-12-06T10:00:00"}
    ) == {"title": "Due 6 Dec 2026"}
    assert "soon" in render_instructions("{{ when | date }}", {"when": "soon"})
