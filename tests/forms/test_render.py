from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lxml.html
from starlette.datastructures import FormData

from forms import FormButton, form_spec

APPRAISAL: dict[str, Any] = {
    "type": "object",
    "required": ["summary", "overall", "decision"],
    "properties": {
        "employee_name": {"type": "string", "title": "Employee", "readOnly": True},
        "summary": {"type": "string", "title": "Summary", "maxLength": 2000},
        "overall": {"type": "integer", "title": "Overall rating"},
        "decision": {
            "type": "string",
            "enum": ["agree", "disagree"],
            "enumNames": ["I agree", "I disagree"],
        },
        "strengths": {
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "string", "enum": ["delivery", "teamwork"]},
        },
        "promotable": {"type": "boolean"},
        "next_review": {"type": "string", "format": "date"},
        "objectives": {
            "type": "array",
            "x-total": {"column": "weight", "equals": 100},
            "items": {
                "type": "object",
                "properties": {
                    "title": {"type": "string"},
                    "weight": {"type": "number"},
                    "achieved": {"type": "string", "enum": ["yes", "partly", "no"]},
                },
            },
        },
        "sign_off": {"type": "object"},
    },
}
APPRAISAL_UI = {
    "ui:order": ["employee_name", "*", "sign_off"],
    "summary": {"ui:widget": "textarea"},
    "overall": {"ui:widget": "rating", "ui:options": {"scale": "rating_scale.levels"}},
    "decision": {"ui:widget": "radio"},
    "strengths": {"ui:widget": "checkboxes"},
    "sign_off": {"ui:widget": "signature"},
}
TASK_DATA = {
    "employee_name": "Ada Lovelace",
    "summary": "A strong year <b>really</b>",
    "overall": 4,
    "decision": "agree",
    "strengths": ["teamwork"],
    "promotable": True,
    "next_review": "2027-03-31",
    "objectives": [
        {"title": "Ship", "weight": 60.5, "achieved": "yes"},
        {"title": "Hire", "weight": 39.5, "achieved": "partly"},
    ],
}
ADA = {"id": "p-1", "name": "Ada Lovelace"}


def test_rendered_form_reposted_unchanged_round_trips(
    catalogs: dict, browser_post: Callable[..., FormData]
) -> None:
    spec = form_spec(APPRAISAL, APPRAISAL_UI, catalogs)
    html = spec.bind(None, TASK_DATA).render(action="/tasks/7", csrf_token="tok")
    posted = browser_post(html)
    assert posted["csrf_token"] == "tok"
    bound = spec.bind(posted, TASK_DATA, signer=ADA)
    assert bound.validate(), bound.errors
    assert bound.to_data() == {**TASK_DATA, "sign_off": None}


def test_errors_show_a_summary_and_inline_messages(catalogs: dict) -> None:
    spec = form_spec(APPRAISAL, APPRAISAL_UI, catalogs)
    bound = spec.bind(
        FormData(
            [
                ("summary", ""),
                ("next_review", "tomorrow"),
                ("objectives-0-title", "Ship"),
                ("objectives-0-weight", "90"),
            ]
        ),
        TASK_DATA,
    )
    assert not bound.validate()
    doc = lxml.html.fromstring(bound.render(action="/t"))
    summary = doc.xpath("//article[@role='alert']")[0]
    links = {a.get("href"): a.text_content() for a in summary.xpath(".//a")}
    assert links["#summary"] == "Summary: Required."
    assert links["#objectives-total"] == "Objectives: Weights must total 100; they total 90."
    # A group of options links to its first option: every link lands on an input.
    assert "#overall-0" in links and "#decision-0" in links and "#next_review" in links
    for anchor in links:
        assert doc.get_element_by_id(anchor[1:]) is not None
    # The summary takes the focus when the page opens (forms.js does it after an htmx swap).
    assert summary.get("autofocus") is not None and summary.get("tabindex") == "-1"
    summary_input = doc.get_element_by_id("summary")
    assert summary_input.get("aria-invalid") == "true"
    assert summary_input.get("aria-describedby") == "summary-error"
    assert doc.get_element_by_id("summary-error").text_content() == "Required."
    # What was typed is shown again, even when it is not a date.
    assert doc.get_element_by_id("next_review").get("value") == "tomorrow"


def test_no_summary_before_validation(catalogs: dict) -> None:
    html = form_spec(APPRAISAL, APPRAISAL_UI, catalogs).bind().render(action="/t")
    assert 'role="alert"' not in html and "aria-invalid" not in html


def test_buttons_and_form_attributes(catalogs: dict) -> None:
    html = (
        form_spec(APPRAISAL, APPRAISAL_UI, catalogs)
        .bind()
        .render(
            action="/tasks/7",
            submit_label="Send to manager",
            extra_buttons=[
                FormButton("Save draft", value="draft", secondary=True, novalidate=True)
            ],
            form_attrs={"hx-post": "/tasks/7", "hx-target": "#main"},
        )
    )
    doc = lxml.html.fromstring(html)
    form = doc if doc.tag == "form" else doc.xpath("//form")[0]
    assert form.get("action") == "/tasks/7" and form.get("hx-target") == "#main"
    visible = [b for b in form.xpath(".//div[@class='sl-buttons']/button")]
    assert [(b.text_content(), b.get("value")) for b in visible] == [
        ("Send to manager", "submit"),
        ("Save draft", "draft"),
    ]
    assert visible[1].get("formnovalidate") is not None
    # Enter in a text box presses the first submit button: it must be the main one.
    first = form.xpath(".//button")[0]
    assert (first.get("name"), first.get("value")) == ("_submit", "submit")


def test_inputs_carry_live_validation_attributes(catalogs: dict) -> None:
    spec = form_spec(APPRAISAL, APPRAISAL_UI, catalogs)
    doc = lxml.html.fromstring(spec.bind().render(action="/t", validate_url="/t/validate"))
    summary = doc.get_element_by_id("summary")
    assert summary.get("hx-post") == "/t/validate"
    assert summary.get("hx-trigger") == "input changed delay:400ms, change"
    assert summary.get("hx-target") == "#field-summary"
    assert summary.get("hx-include") == "closest form"
    assert summary.get("hx-vals") == '{"_field": "summary"}'
    assert doc.get_element_by_id("field-summary") is not None


def test_validate_partial_returns_the_field_with_its_error(catalogs: dict) -> None:
    spec = form_spec(APPRAISAL, APPRAISAL_UI, catalogs)
    posted = FormData([("summary", "x" * 2001), ("_field", "summary")])
    fragment = lxml.html.fromstring(spec.validate_partial(posted, validate_url="/v"))
    assert fragment.get("id") == "field-summary"
    assert "Use at most 2000 characters." in fragment.text_content()
    assert fragment.xpath(".//textarea")[0].get("hx-post") == "/v"
    # Other fields' problems are not in the fragment.
    assert "Overall" not in fragment.text_content()


def test_validate_partial_on_a_cell_returns_the_table_with_its_total(catalogs: dict) -> None:
    spec = form_spec(APPRAISAL, APPRAISAL_UI, catalogs)
    posted = FormData(
        [
            ("objectives-0-title", "Ship"),
            ("objectives-0-weight", "70"),
            ("objectives-1-title", "Hire"),
            ("objectives-1-weight", "20"),
        ]
    )
    fragment = lxml.html.fromstring(spec.validate_partial(posted, "objectives-1-weight"))
    assert fragment.get("id") == "field-objectives"
    assert fragment.xpath(".//output")[0].text_content() == "90"
    assert "Weights must total 100; they total 90." in fragment.text_content()


def test_htmx_row_button_returns_the_table_with_one_more_row(catalogs: dict) -> None:
    spec = form_spec(APPRAISAL, APPRAISAL_UI, catalogs)
    posted = FormData(
        [
            ("objectives-0-title", "Ship"),
            ("objectives-0-weight", "70"),
            ("_form_action", "add:objectives"),
        ]
    )
    fragment = lxml.html.fromstring(spec.validate_partial(posted))
    assert fragment.get("id") == "field-objectives"
    assert len(fragment.xpath(".//tbody/tr")) == 2
    assert fragment.get_element_by_id("objectives-0-title").get("value") == "Ship"
    assert "must total" not in fragment.text_content()


def test_field_values_are_html_escaped(catalogs: dict) -> None:
    html = form_spec(APPRAISAL, APPRAISAL_UI, catalogs).bind(None, TASK_DATA).render(action="/t")
    assert "<b>really</b>" not in html and "&lt;b&gt;really&lt;/b&gt;" in html
