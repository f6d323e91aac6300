from __future__ import annotations

from typing import Any

import pytest
from starlette.datastructures import FormData

from forms import form_spec

REVIEW: dict[str, Any] = {
    "type": "object",
    "required": ["decision"],
    "properties": {
        "decision": {
            "type": "string",
            "title": "Decision",
            "oneOf": [
                {"const": "approve", "title": "Approve"},
                {"const": "return", "title": "Return for changes"},
            ],
        },
        "comments": {"type": "string", "title": "Comments"},
    },
    "if": {"properties": {"decision": {"const": "return"}}},
    "then": {"required": ["comments"]},
}


def test_comments_required_only_when_returning() -> None:
    spec = form_spec(REVIEW, {"decision": {"ui:widget": "radio"}})
    returned = spec.bind(FormData([("decision", "return"), ("comments", "")]))
    assert not returned.validate()
    assert returned.errors == [("Comments", "Required when Decision is “Return for changes”.")]
    approved = spec.bind(FormData([("decision", "approve"), ("comments", "")]))
    assert approved.validate()
    assert approved.to_data() == {"decision": "approve", "comments": ""}


def test_conditions_inside_all_of_and_nested_objects() -> None:
    schema = {
        "type": "object",
        "properties": {
            "calibration": {
                "type": "object",
                "title": "Calibration",
                "properties": {
                    "changed": {"type": "boolean", "title": "Rating changed"},
                    "reason": {"type": "string", "title": "Reason"},
                },
                "allOf": [
                    {
                        "if": {"properties": {"changed": {"const": True}}},
                        "then": {"required": ["reason"]},
                    }
                ],
            }
        },
    }
    bound = form_spec(schema, {}).bind(FormData([("calibration-changed", "y")]))
    assert not bound.validate()
    assert bound.errors == [("Calibration › Reason", "Required when Rating changed is ticked.")]


def _objectives(weights: list[str], rule: dict[str, Any]) -> FormData:
    pairs = []
    for index, weight in enumerate(weights):
        pairs += [
            (f"objectives-{index}-title", f"Goal {index}"),
            (f"objectives-{index}-weight", weight),
        ]
    return FormData(pairs)


@pytest.mark.parametrize(
    ("rule", "weights", "message"),
    [
        (
            {"column": "weight", "equals": 100},
            ["60", "30"],
            "Weights must total 100; they total 90.",
        ),
        (
            {"column": "weight", "min": 50, "label": "Stretch"},
            ["20", "10"],
            "Stretch must total at least 50; they total 30.",
        ),
        (
            {"column": "weight", "max": 100},
            ["60", "50.5"],
            "Weights must total at most 100; they total 110.5.",
        ),
    ],
)
def test_x_total_rule_reports_the_actual_sum(rule: dict, weights: list[str], message: str) -> None:
    schema = {
        "type": "object",
        "properties": {
            "objectives": {
                "type": "array",
                "title": "Objectives",
                "x-total": rule,
                "items": {
                    "type": "object",
                    "properties": {"title": {"type": "string"}, "weight": {"type": "number"}},
                },
            }
        },
    }
    bound = form_spec(schema, {}).bind(_objectives(weights, rule))
    assert not bound.validate()
    assert bound.errors == [("Objectives", message)]
    html = bound.render(action="/t")
    total = message.rsplit(" ", 1)[1].rstrip(".")
    assert f'<output id="objectives-total" data-sl-total>{total}</output>' in html


def test_x_total_met_passes() -> None:
    schema = {
        "type": "object",
        "properties": {
            "objectives": {
                "type": "array",
                "x-total": {"column": "weight", "equals": 100},
                "items": {
                    "type": "object",
                    "properties": {"title": {"type": "string"}, "weight": {"type": "integer"}},
                },
            }
        },
    }
    bound = form_spec(schema, {}).bind(_objectives(["70", "30"], {}))
    assert bound.validate(), bound.errors
    assert [row["weight"] for row in bound.to_data()["objectives"]] == [70, 30]


def test_table_row_count_limits(objectives_schema: dict) -> None:
    rows = [
        (f"objectives-{i}-{k}", v) for i in range(5) for k, v in (("title", "x"), ("weight", "20"))
    ]
    bound = form_spec(objectives_schema, {}).bind(FormData(rows))
    assert not bound.validate()
    assert ("Objectives", "Keep at most 4 rows; there are 5.") in bound.errors
