"""Fixtures for the forms tests: pack-like schemas, catalogs, and a browser-style re-post."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lxml.html
import pytest
from starlette.datastructures import FormData


def _browser_post(html: str, *extra: tuple[str, str]) -> FormData:
    """What a browser sends when the rendered form is submitted unchanged (plus `extra`)."""
    form = lxml.html.fromstring(f"<div>{html}</div>").forms[0]
    pairs: list[tuple[str, Any]] = list(form.form_values())
    return FormData([*pairs, *extra])


@pytest.fixture
def browser_post() -> Callable[..., FormData]:
    """Collect a rendered form's successful controls as posted form data."""
    return _browser_post


@pytest.fixture
def catalogs() -> dict[str, Any]:
    """A rating scale and a competency framework in the documented catalog shapes."""
    return {
        "rating_scale": {
            "levels": [
                {"value": 1, "label": "Unsatisfactory", "definition": "Falls well short."},
                {"value": 2, "label": "Developing", "definition": "Meets some expectations."},
                {"value": 3, "label": "Solid", "definition": "Meets expectations."},
                {"value": 4, "label": "Strong", "definition": "Often exceeds expectations."},
                {"value": 5, "label": "Outstanding", "definition": "A role model."},
            ]
        },
        "competencies": {
            "competencies": {
                "communication": {
                    "name": "Communication",
                    "description": "Shares information clearly and listens.",
                    "levels": {
                        "1": ["Leaves the team guessing"],
                        "3": ["Keeps stakeholders informed", "Listens before answering"],
                        "5": ["Shapes how the organisation communicates"],
                    },
                }
            }
        },
    }


@pytest.fixture
def objectives_schema() -> dict[str, Any]:
    """Objective setting: a weighted table of objectives that must total 100."""
    return {
        "type": "object",
        "required": ["objectives"],
        "properties": {
            "employee_name": {"type": "string", "title": "Employee", "readOnly": True},
            "objectives": {
                "type": "array",
                "title": "Objectives",
                "minItems": 1,
                "maxItems": 4,
                "x-total": {"column": "weight", "equals": 100},
                "items": {
                    "type": "object",
                    "required": ["title", "weight"],
                    "properties": {
                        "title": {"type": "string", "title": "Objective"},
                        "weight": {
                            "type": "integer",
                            "title": "Weight",
                            "minimum": 5,
                            "maximum": 100,
                        },
                        "due": {"type": "string", "format": "date", "title": "Due"},
                    },
                },
            },
        },
    }
