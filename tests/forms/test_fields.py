from __future__ import annotations

from typing import Any

import pytest
from starlette.datastructures import FormData

from forms import FormDefinitionError, form_spec

EVERY_TYPE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "summary": {"type": "string"},
        "story": {"type": "string"},
        "email": {"type": "string", "format": "email"},
        "review_date": {"type": "string", "format": "date"},
        "meeting_at": {"type": "string", "format": "date-time"},
        "hours": {"type": "integer"},
        "bonus_pct": {"type": "number"},
        "promotable": {"type": "boolean"},
        "flight_risk": {"type": "boolean"},
        "band": {"type": "integer", "enum": [1, 2, 3]},
        "decision": {
            "type": "string",
            "oneOf": [
                {"const": "approve", "title": "Approve"},
                {"const": "return", "title": "Return"},
            ],
        },
        "strengths": {
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "string", "enum": ["delivery", "teamwork", "craft"]},
        },
        "tags": {
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "string", "enum": ["a", "b", "c"]},
        },
        "manager": {
            "type": "object",
            "properties": {"note": {"type": "string"}, "score": {"type": "integer"}},
        },
    },
}
EVERY_UI = {
    "story": {"ui:widget": "textarea", "ui:options": {"rows": 6}},
    "decision": {"ui:widget": "radio"},
    "tags": {"ui:widget": "checkboxes"},
}


def test_posted_strings_come_back_typed() -> None:
    posted = FormData(
        [
            ("summary", "Good year"),
            ("story", "Line 1\nLine 2"),
            ("email", "ada@example.com"),
            ("review_date", "2026-03-31"),
            ("meeting_at", "2026-03-31T09:30"),
            ("hours", "37"),
            ("bonus_pct", "7.5"),
            ("promotable", "y"),
            ("band", "2"),
            ("decision", "return"),
            ("strengths", "craft"),
            ("strengths", "delivery"),
            ("tags", "b"),
            ("manager-note", "Fine"),
            ("manager-score", "4"),
        ]
    )
    bound = form_spec(EVERY_TYPE, EVERY_UI).bind(posted)
    assert bound.validate(), bound.errors
    assert bound.to_data() == {
        "summary": "Good year",
        "story": "Line 1\nLine 2",
        "email": "ada@example.com",
        "review_date": "2026-03-31",
        "meeting_at": "2026-03-31T09:30:00",
        "hours": 37,
        "bonus_pct": 7.5,
        "promotable": True,
        "flight_risk": False,
        "band": 2,
        "decision": "return",
        "strengths": ["delivery", "craft"],
        "tags": ["b"],
        "manager": {"note": "Fine", "score": 4},
    }


def test_empty_post_keeps_every_key() -> None:
    data = form_spec(EVERY_TYPE, EVERY_UI).bind(FormData([("summary", "")])).to_data()
    assert set(data) == set(EVERY_TYPE["properties"])
    assert data["summary"] == "" and data["hours"] is None and data["strengths"] == []
    assert data["manager"] == {"note": "", "score": None}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("hours", "abc", "Enter a whole number, such as 42."),
        ("hours", "2.5", "Enter a whole number, such as 42."),
        ("hours", "61", "Enter a number from 0 to 60."),
        ("hours", "Infinity", "Enter a number from 0 to 60."),
        ("hours", "NaN", "Enter a whole number, such as 42."),
        ("bonus_pct", "-1", "Enter a number of at least 0."),
        ("bonus_pct", "abc", "Enter a number, such as 42 or 3.5."),
        ("code", "ab-12", "Use letters A-Z then digits."),
        ("code", "A", "Use at least 2 characters."),
        ("email", "ada.example.com", "Enter an email address like name@example.com."),
        ("band", "9", "Choose one of the listed options."),
        ("review_date", "31/03/2026", "Not a valid date value."),
    ],
)
def test_invalid_values_are_reported(field: str, value: str, message: str) -> None:
    schema = {
        "type": "object",
        "properties": {
            "hours": {"type": "integer", "minimum": 0, "maximum": 60},
            "bonus_pct": {"type": "number", "minimum": 0},
            "code": {"type": "string", "pattern": "^[A-Z]+[0-9]*$", "minLength": 2},
            "email": {"type": "string", "format": "email"},
            "band": {"type": "integer", "enum": [1, 2, 3]},
            "review_date": {"type": "string", "format": "date"},
        },
    }
    ui = {"code": {"ui:options": {"patternMessage": "Use letters A-Z then digits."}}}
    bound = form_spec(schema, ui).bind(FormData([(field, value)]))
    assert not bound.validate()
    assert (bound.errors[0].label, bound.errors[0].message) == (
        schema["properties"][field].get("title", field.replace("_", " ").capitalize()),
        message,
    )


def test_required_fields_are_reported_with_their_labels() -> None:
    schema = {
        "type": "object",
        "required": ["summary", "agree"],
        "properties": {
            "summary": {"type": "string", "title": "Summary of the year"},
            "agree": {"type": "boolean", "title": "I agree"},
            "optional": {"type": "integer"},
        },
    }
    bound = form_spec(schema, {}).bind(FormData([("summary", "   ")]))
    assert not bound.validate()
    assert bound.errors == [("Summary of the year", "Required."), ("I agree", "Required.")]


def test_read_only_value_cannot_be_overridden_by_post(objectives_schema: dict) -> None:
    posted = FormData(
        [
            ("employee_name", "Mallory"),
            ("objectives-0-title", "Ship"),
            ("objectives-0-weight", "100"),
        ]
    )
    bound = form_spec(objectives_schema, {}).bind(posted, {"employee_name": "Ada Lovelace"})
    assert bound.validate(), bound.errors
    assert bound.to_data()["employee_name"] == "Ada Lovelace"
    html = bound.render(action="/tasks/1")
    assert "Mallory" not in html
    assert 'value="Ada Lovelace"' in html


def test_hidden_widget_is_also_kept_from_task_data() -> None:
    schema = {"type": "object", "properties": {"cycle": {"type": "string"}}}
    bound = form_spec(schema, {"cycle": {"ui:widget": "hidden"}}).bind(
        FormData([("cycle", "forged")]), {"cycle": "2026"}
    )
    assert bound.to_data() == {"cycle": "2026"}


def test_ui_order_with_wildcard_orders_the_rendered_fields() -> None:
    schema = {"type": "object", "properties": {k: {"type": "string"} for k in "abcde"}}
    html = form_spec(schema, {"ui:order": ["d", "*", "a"]}).bind().render(action="/t")
    positions = [html.index(f'name="{k}"') for k in "dbcea"]
    assert positions == sorted(positions)


def test_ui_order_naming_an_unknown_property_is_rejected() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    with pytest.raises(FormDefinitionError, match="unknown properties"):
        form_spec(schema, {"ui:order": ["a", "typo"]})


def test_defaults_come_from_schema_then_task_data() -> None:
    schema = {
        "type": "object",
        "properties": {
            "status": {"type": "string", "default": "draft"},
            "hours": {"type": "integer", "default": 40},
            "review_date": {"type": "string", "format": "date", "default": "2026-01-01"},
        },
    }
    bound = form_spec(schema, {}).bind(None, {"hours": 32, "review_date": None})
    assert bound.to_data() == {"status": "draft", "hours": 32, "review_date": "2026-01-01"}
    html = bound.render(action="/t")
    assert 'value="draft"' in html and 'value="32"' in html and 'value="2026-01-01"' in html


def test_labels_help_placeholder_and_required_marker_are_rendered() -> None:
    schema = {
        "type": "object",
        "required": ["goal"],
        "properties": {
            "goal": {"type": "string", "title": "Goal", "description": "What you will deliver."}
        },
    }
    ui = {
        "goal": {
            "ui:title": "Main goal",
            "ui:help": "One sentence.",
            "ui:placeholder": "e.g. Ship X",
        }
    }
    html = form_spec(schema, ui).bind().render(action="/t")
    assert ">Main goal<" in html and "What you will deliver. One sentence." in html
    assert 'placeholder="e.g. Ship X"' in html
    assert 'aria-describedby="goal-help"' in html
    assert "sl-required" in html and " required" in html


def test_the_cache_returns_the_same_class_for_the_same_schema(catalogs: dict) -> None:
    schema = {"type": "object", "properties": {"r": {"type": "integer"}}}
    ui = {"r": {"ui:widget": "rating", "ui:options": {"scale": "rating_scale.levels"}}}
    first = form_spec(schema, ui, catalogs)
    same = form_spec(dict(schema), dict(ui), {**catalogs, "unrelated": {"x": 1}})
    assert same is first and same.form_class is first.form_class
    changed = {"rating_scale": {"levels": catalogs["rating_scale"]["levels"][:3]}}
    assert form_spec(schema, ui, changed).form_class is not first.form_class


@pytest.mark.parametrize(
    ("schema", "ui", "message"),
    [
        ({"type": "object", "properties": {"data": {"type": "string"}}}, {}, "property name"),
        (
            {"type": "object", "properties": {"x": {"type": "string"}}},
            {"x": {"ui:widget": "colour-wheel"}},
            "unknown widget",
        ),
        (
            {"type": "object", "properties": {"x": {"type": "integer"}}},
            {"x": {"ui:widget": "rating", "ui:options": {"scale": "missing.levels"}}},
            "catalog 'missing'",
        ),
    ],
)
def test_bad_definitions_fail_with_a_clear_message(schema: dict, ui: dict, message: str) -> None:
    with pytest.raises(FormDefinitionError, match=message):
        form_spec(schema, ui)


def test_read_only_table_ignores_posted_rows() -> None:
    schema = {
        "type": "object",
        "properties": {
            "agreed_goals": {
                "type": "array",
                "readOnly": True,
                "items": {"type": "object", "properties": {"title": {"type": "string"}}},
            }
        },
    }
    posted = FormData([("agreed_goals-0-title", "forged"), ("agreed_goals-1-title", "extra")])
    bound = form_spec(schema, {}).bind(posted, {"agreed_goals": [{"title": "Ship X"}]})
    assert bound.to_data() == {"agreed_goals": [{"title": "Ship X"}]}
    html = bound.render(action="/t")
    assert "forged" not in html and 'value="Ship X"' in html and "add:agreed_goals" not in html
