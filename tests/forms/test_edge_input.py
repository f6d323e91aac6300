"""Edge input in task forms: numbers no one can store, control characters, odd table rows and
odd task data are field errors (what was typed kept), never exceptions."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import FormData

from forms import FormDefinitionError, form_spec
from forms.fields import MAX_TABLE_ROWS

SCHEMA = {
    "type": "object",
    "properties": {
        "target": {"type": "number", "title": "Target"},
        "weight": {"type": "integer", "title": "Weight", "minimum": 1, "maximum": 100},
        "headcount": {"type": "integer", "title": "Headcount", "minimum": 0},
        "title": {"type": "string", "title": "Title"},
        "notes": {"type": "string", "title": "Notes"},
        "due": {"type": "string", "format": "date", "title": "Due"},
    },
}
UI = {"notes": {"ui:widget": "textarea"}}
TOO_LARGE = "This number is too large to store; use at most 15 digits before the decimal point."


def bind(*pairs: tuple[str, str], data: dict[str, Any] | None = None) -> Any:
    return form_spec(SCHEMA, UI).bind(FormData(list(pairs)), data or {})


def errors_of(bound: Any) -> dict[str, str]:
    assert not bound.validate()
    return {label: message for label, message in bound.errors}


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("NaN", "Enter a number, such as 42 or 3.5."),
        ("sNaN", "Enter a number, such as 42 or 3.5."),
        ("-nan", "Enter a number, such as 42 or 3.5."),
        ("Infinity", TOO_LARGE),
        ("-Infinity", TOO_LARGE),
        ("inf", TOO_LARGE),
        ("1e400", TOO_LARGE),
        ("1000000000000000", TOO_LARGE),  # 16 digits
        ("9" * 5000, TOO_LARGE),
        ("1e-400", "This number is too close to zero to store; use fewer decimal places."),
        ("1e999999999999999999999", "Enter a number, such as 42 or 3.5."),
        ("0x1F", "Enter a number, such as 42 or 3.5."),
    ],
)
def test_a_number_no_one_can_store_is_a_field_error_that_keeps_what_was_typed(
    typed: str, message: str
) -> None:
    bound = bind(("target", typed))

    assert errors_of(bound) == {"Target": message}
    html = bound.render(action="/t")
    assert f'value="{typed}"' in html and 'aria-invalid="true"' in html


def test_the_schema_range_is_the_message_when_the_schema_has_one() -> None:
    assert errors_of(bind(("weight", "Infinity"))) == {"Weight": "Enter a number from 1 to 100."}
    assert errors_of(bind(("weight", "-1e400"))) == {"Weight": "Enter a number from 1 to 100."}
    # Only a minimum: infinity is above it, and too large to store.
    assert errors_of(bind(("headcount", "Infinity"))) == {
        "Headcount": "This number is too large to store; use at most 15 digits."
    }
    assert errors_of(bind(("headcount", "NaN"))) == {
        "Headcount": "Enter a whole number, such as 42."
    }
    assert errors_of(bind(("weight", "2.5"))) == {"Weight": "Enter a whole number, such as 42."}


def test_fifteen_digits_are_stored_exactly_and_whole_decimals_are_integers() -> None:
    bound = bind(("target", "999999999999999"), ("weight", "1e1"), ("headcount", "-0"))
    assert bound.validate(), bound.errors
    data = bound.to_data()
    assert data["target"] == 999999999999999 and data["weight"] == 10
    assert data["headcount"] == 0
    assert isinstance(data["weight"], int)
    assert bind(("target", "-0.125")).to_data()["target"] == -0.125


def test_control_characters_are_field_errors_and_a_textarea_keeps_its_lines() -> None:
    assert errors_of(bind(("title", "Ship\x00it"))) == {
        "Title": "This text contains an invisible control character (NUL (U+0000)) that cannot "
        "be stored; remove it."
    }
    assert errors_of(bind(("notes", "\x1b[31m"))) == {
        "Notes": "This text contains an invisible control character (U+001B) that cannot be "
        "stored; remove it."
    }
    # U+001C counts as whitespace to str.strip(): still not an empty answer, an error.
    assert "Notes" in errors_of(bind(("notes", "\x1c")))
    assert errors_of(bind(("title", "one\ntwo"))) == {
        "Title": "Keep this on one line: remove the tabs and line breaks."
    }
    fine = bind(("notes", "First\r\n\tsecond"), ("title", "  "))
    assert fine.validate(), fine.errors
    assert fine.to_data()["notes"] == "First\r\n\tsecond" and fine.to_data()["title"] == ""


def test_a_signature_with_a_control_character_is_refused() -> None:
    schema = {"type": "object", "properties": {"ack": {"type": "object", "title": "Sign"}}}
    spec = form_spec(schema, {"ack": {"ui:widget": "signature"}})
    posted = FormData([("ack-acknowledged", "y"), ("ack-name", "Ada Lovelace"),
                       ("ack-comment", "ok\x07")])
    bound = spec.bind(posted, signer={"id": 1, "name": "Ada Lovelace"})
    assert not bound.validate()
    assert bound.errors[0].message.startswith("This text contains an invisible control")
    assert bound.to_data()["ack"]["comment"] == "ok\x07"  # shown back, never valid


TABLE = {
    "type": "object",
    "properties": {
        "rows": {
            "type": "array",
            "title": "Rows",
            "items": {"type": "object", "properties": {"title": {"type": "string"},
                                                       "weight": {"type": "integer"}}},
        }
    },
}


def test_odd_row_numbers_are_not_rows_and_odd_removals_do_nothing() -> None:
    spec = form_spec(TABLE)
    posted = FormData([("rows-²-title", "x"), ("rows-" + "9" * 5000 + "-title", "y"),
                       ("rows-0-title", "kept"), ("rows-999999-weight", "3")])
    bound = spec.bind(posted)
    assert bound.validate(), bound.errors
    assert bound.to_data()["rows"] == [{"title": "kept", "weight": None},
                                       {"title": "", "weight": 3}]
    for action in ("remove:rows:²", "remove:rows:" + "9" * 5000, "remove:rows:-1"):
        assert bound.apply_action(action) is False
    assert len(bound.form.rows.entries) == 2


def test_more_rows_than_any_form_needs_are_an_error_not_a_hang() -> None:
    posted = FormData([(f"rows-{i}-title", "x") for i in range(MAX_TABLE_ROWS + 50)])
    bound = form_spec(TABLE).bind(posted)
    assert errors_of(bound) == {
        "Rows": f"Keep at most {MAX_TABLE_ROWS} rows; there are {MAX_TABLE_ROWS + 50}."
    }
    assert bound.apply_action("add:rows") is True
    assert len(bound.form.rows.entries) == MAX_TABLE_ROWS  # no row past the limit


def test_task_data_a_field_cannot_hold_is_left_out_not_a_crash() -> None:
    odd = {"target": float("nan"), "weight": "abc", "headcount": float("inf"), "due": 20260331,
           "title": None}
    bound = form_spec(SCHEMA, UI).bind(None, odd)
    html = bound.render(action="/t")
    assert 'name="target"' in html
    assert bound.to_data()["target"] is None and bound.to_data()["due"] is None
    # Posted without those fields, the task data's values stand in: still no exception.
    partial = form_spec(SCHEMA, UI).bind(FormData([("title", "x")]), odd)
    partial.validate()
    json.dumps(partial.to_data(), allow_nan=False)


def test_a_schema_bound_that_is_not_a_number_is_a_definition_error() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "number", "maximum": "100"}}}
    with pytest.raises(FormDefinitionError, match="maximum must be a number"):
        form_spec(schema)


# --- property: any typed number is a storable value or a field error ------------------------

typed_numbers = st.one_of(
    st.integers().map(str),
    st.floats().map(repr),
    st.decimals().map(str),
    st.text(max_size=12),
    st.sampled_from(["NaN", "sNaN", "Infinity", "-Infinity", "1e400", "1e-400", "²", "٣",
                     "1_000", " 7 ", "+5", "1.", ".5", "-0", str(2**53 + 1)]),
)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(target=typed_numbers, weight=typed_numbers)
def test_any_typed_number_is_stored_as_json_or_refused_with_a_message(
    target: str, weight: str
) -> None:
    bound = bind(("target", target), ("weight", weight))
    valid = bound.validate()
    for label, message in bound.errors:
        assert label in ("Target", "Weight") and message.endswith(".")
    bound.render(action="/t")
    data = bound.to_data()
    json.dumps(data, allow_nan=False)  # no NaN or infinity ever comes out
    for name in ("target", "weight"):
        value = data[name]
        if value is not None:
            assert not isinstance(value, bool) and math.isfinite(value) and abs(value) < 10**15
    if valid and data["weight"] is not None:
        assert isinstance(data["weight"], int) and 1 <= data["weight"] <= 100
