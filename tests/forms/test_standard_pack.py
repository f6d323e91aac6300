from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from starlette.datastructures import FormData

from forms import FormSpec, form_spec, render_schema_template

STANDARD = Path(__file__).resolve().parents[2] / "processes" / "standard"
FORMS = STANDARD / "forms"
# The pack's catalogs (rating scales, competencies) as the engine hands them to forms.
CATALOGS = {p.stem: tomllib.loads(p.read_text()) for p in (STANDARD / "catalogs").glob("*.toml")}
ADA = {"id": "p-1", "name": "Ada Lovelace"}


def _pack_form(name: str, data: dict[str, Any]) -> FormSpec:
    schema = render_schema_template((FORMS / f"{name}-schema.json").read_text(), data)
    ui = render_schema_template((FORMS / f"{name}-uischema.json").read_text(), data)
    return form_spec(schema, ui, CATALOGS)


@pytest.mark.parametrize(
    "name", sorted(p.name[: -len("-schema.json")] for p in FORMS.glob("*-schema.json"))
)
def test_every_standard_form_renders(name: str) -> None:
    html = _pack_form(name, {}).bind().render(action="/t")
    assert html.startswith("<form")


def test_objective_weights_use_the_pack_message() -> None:
    posted = FormData(
        [
            ("objectives-0-kra", "Delivery"),
            ("objectives-0-title", "Ship"),
            ("objectives-0-target", "1"),
            ("objectives-0-weight", "90"),
            ("objectives-0-measure_type", "higher_is_better"),
        ]
    )
    bound = _pack_form("objectives", {}).bind(posted)
    assert not bound.validate()
    assert bound.errors == [
        ("Objectives", "The weights of your objectives must add up to 100. They total 90.")
    ]


def test_review_decision_labels_come_from_ui_enum_names() -> None:
    html = _pack_form("review-objectives", {}).bind().render(action="/t")
    assert "Return them to the employee" in html


def test_acknowledgement_signature_stores_who_signed_only_for_the_right_name() -> None:
    spec = _pack_form("acknowledge-objectives", {})
    posted = [("acknowledgement-acknowledged", "y"), ("acknowledgement-name", "ada lovelace")]
    right = spec.bind(FormData(posted), signer=ADA)
    assert right.validate(), right.errors
    signature = right.to_data()["acknowledgement"]
    assert signature["acknowledged"] is True
    assert signature["name"] == "ada lovelace"
    assert signature["signer_id"] == ADA["id"]
    assert signature["signed_at"]
    wrong = spec.bind(
        FormData([("acknowledgement-acknowledged", "y"), ("acknowledgement-name", "Someone")]),
        signer=ADA,
    )
    assert not wrong.validate()
    assert wrong.to_data()["acknowledgement"] is None
