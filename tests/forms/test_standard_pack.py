from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

import lxml.html
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


ENGINEERING = [
    {"key": "communication", "name": "Communication"},
    {"key": "collaboration", "name": "Collaboration"},
]
SIGNOFF_DATA = {
    "competencies": ENGINEERING,
    "final_rating": 4,
    "manager_ratings": {"communication": 4, "collaboration": 3},
    "self_ratings": {"communication": 3, "collaboration": 3},
}


def _textareas(html: str) -> list[str]:
    doc = lxml.html.fromstring(f"<div>{html}</div>")
    return [t.get("name") for t in doc.xpath("//textarea")]


def test_signoff_shows_the_ratings_with_their_labels_and_one_comment_box() -> None:
    spec = _pack_form("signoff-appraisal", SIGNOFF_DATA)
    html = spec.bind(None, SIGNOFF_DATA).render(action="/t")
    doc = lxml.html.fromstring(f"<div>{html}</div>")
    shown = [" ".join(p.text_content().split()) for p in doc.xpath("//p[contains(@class, "
                                                                   "'sl-rating-value')]")]
    assert shown == [
        "4 — Exceeds expectations",
        "4 — Exceeds expectations Your rating: 3 — Meets expectations",
        "3 — Meets expectations Your rating: 3 — Meets expectations",
    ]
    assert _textareas(html) == ["signoff_comments"]
    # The ratings are shown, never taken from the browser.
    posted = FormData([
        ("final_rating", "1"), ("manager_ratings-communication", "1"),
        ("signoff_decision", "agree"),
        ("signoff_signature-acknowledged", "y"), ("signoff_signature-name", "Ada Lovelace"),
    ])
    bound = spec.bind(posted, SIGNOFF_DATA, signer=ADA)
    assert bound.validate(), bound.errors
    data = bound.to_data()
    assert data["final_rating"] == 4 and data["manager_ratings"] == SIGNOFF_DATA["manager_ratings"]
    assert data["signoff_signature"]["comment"] == ""


def test_hr_approval_has_one_comment_box() -> None:
    html = _pack_form("appraisal-final-approval", {}).bind().render(action="/t")
    assert _textareas(html) == ["approval_comments"]


TODAY = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC)


def test_a_discussion_cannot_be_held_in_the_future() -> None:
    spec = _pack_form("appraisal-discussion", {})
    later = spec.bind(FormData([("discussion_date", "2031-05-01"),
                                ("discussion_notes", "Went well.")]), now=TODAY)
    assert not later.validate()
    assert later.errors == [("Date of the discussion", "The discussion cannot be in the future: "
                             "enter the day you met (today or earlier).")]
    held = spec.bind(FormData([("discussion_date", "2026-12-06"),
                               ("discussion_notes", "Went well.")]), now=TODAY)
    assert held.validate(), held.errors


def test_development_actions_cannot_be_due_in_the_past() -> None:
    spec = _pack_form("devplan-action-plan", {"subject": {"name": "Ada"}})
    posted = FormData([
        ("goals", "Lead design reviews."),
        ("actions-0-action", "Write the checklist"), ("actions-0-owner", "employee"),
        ("actions-0-due_date", "2026-01-10"),
        ("plan_review_date", "2027-06-01"),
    ])
    bound = spec.bind(posted, now=TODAY)
    assert not bound.validate()
    assert bound.errors == [("Actions › row 1 › Due date",
                             "A due date cannot be in the past: enter today or a later date.")]
