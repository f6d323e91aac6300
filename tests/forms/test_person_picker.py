"""The person widget: a key typed (or picked from suggestions) and checked against a lookup."""

from __future__ import annotations

import json
from typing import Any

import lxml.html
import pytest
from starlette.datastructures import FormData

from forms import FormDefinitionError, form_spec

NOMINATION: dict[str, Any] = {
    "type": "object",
    "required": ["coach", "peers"],
    "properties": {
        "coach": {"type": "string", "title": "Coach"},
        "peers": {
            "type": "array",
            "title": "Peers",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["employee"],
                "properties": {
                    "employee": {"type": "string", "title": "Employee ID", "pattern": "^\\S+$"},
                    "reason": {"type": "string", "title": "Reason"},
                },
            },
        },
    },
}
NOMINATION_UI = {
    "coach": {"ui:widget": "person", "ui:help": "Start typing a name"},
    "peers": {"items": {"employee": {"ui:widget": "person", "ui:placeholder": "Name or ID"}}},
}
DIRECTORY = {"E300": "Ada Lovelace — Software Engineer, Engineering", "E200": "Sam Patel"}
SEARCH = "/people/search"


def lookup(key: str) -> str | None:
    return DIRECTORY.get(key)


def page(html: str) -> Any:
    return lxml.html.fromstring(f"<div>{html}</div>")


def test_person_field_offers_suggestions_from_the_search_url() -> None:
    bound = form_spec(NOMINATION, NOMINATION_UI).bind()
    doc = page(bound.render(action="/t", validate_url="/t/v", person_search_url=SEARCH))

    for name in ("coach", "peers-0-employee"):
        [field] = doc.xpath(f"//input[@name='{name}']")
        assert field.get("type") == "text" and field.get("autocomplete") == "off"
        [suggestions] = doc.xpath(f"//datalist[@id='{field.get('list')}']")
        assert suggestions.get("hx-get") == SEARCH
        # Typing in the field asks for suggestions with what was typed and the field's name.
        assert suggestions.get("hx-trigger").endswith(f"from:#{name}")
        assert suggestions.get("hx-include") == f"#{name}"
        assert json.loads(suggestions.get("hx-vals")) == {"field": name}
        assert (suggestions.get("hx-target"), suggestions.get("hx-swap")) == ("this", "innerHTML")
        # Live validation stays on the input.
        assert field.get("hx-post") == "/t/v"
    assert doc.xpath("//input[@name='peers-0-employee']")[0].get("placeholder") == "Name or ID"


def test_without_search_url_or_lookup_a_person_field_is_a_text_input() -> None:
    spec = form_spec(NOMINATION, NOMINATION_UI)
    doc = page(spec.bind().render(action="/t"))
    assert not doc.xpath("//datalist") and not doc.xpath("//*[@data-sl-person]")
    assert doc.xpath("//input[@name='coach']")[0].get("list") is None

    bound = spec.bind(FormData([("coach", "ANYONE"), ("peers-0-employee", "X1")]))
    assert bound.validate(), bound.errors
    assert bound.to_data() == {"coach": "ANYONE", "peers": [{"employee": "X1", "reason": ""}]}


def test_a_known_key_shows_who_it_is_and_is_stored_as_the_key() -> None:
    posted = FormData([("coach", " E300 "), ("peers-0-employee", "E200")])
    bound = form_spec(NOMINATION, NOMINATION_UI).bind(posted, person_lookup=lookup)

    assert bound.validate(), bound.errors
    assert bound.to_data() == {"coach": "E300", "peers": [{"employee": "E200", "reason": ""}]}
    doc = page(bound.render(action="/t", person_search_url=SEARCH))
    [coach] = doc.xpath("//input[@name='coach']")
    shown = doc.xpath("//*[@id='coach-person']")[0]
    assert shown.text_content() == "Ada Lovelace — Software Engineer, Engineering"
    assert "coach-person" in coach.get("aria-describedby").split()
    assert doc.xpath("//*[@id='peers-0-employee-person']")[0].text_content() == "Sam Patel"


def test_an_unknown_key_is_refused_and_kept_as_typed() -> None:
    posted = FormData([("coach", "E999"), ("peers-0-employee", "E200"), ("peers-0-reason", "Q3")])
    bound = form_spec(NOMINATION, NOMINATION_UI).bind(posted, person_lookup=lookup)

    assert not bound.validate()
    message = "No one in the directory has the employee ID 'E999'."
    assert bound.errors == [("Coach", message)]
    doc = page(bound.render(action="/t", person_search_url=SEARCH))
    [coach] = doc.xpath("//input[@name='coach']")
    assert coach.get("value") == "E999" and coach.get("aria-invalid") == "true"
    assert doc.xpath("//*[@id='coach-error']")[0].text_content() == message
    assert doc.xpath("//*[@id='coach-person']")[0].text_content() == ""
    # Nothing else typed is lost.
    assert doc.xpath("//input[@name='peers-0-reason']")[0].get("value") == "Q3"
    assert doc.xpath("//a[@href='#coach']")[0].text_content() == f"Coach: {message}"


def test_an_unknown_key_in_a_table_names_the_row() -> None:
    posted = FormData([("coach", "E300"), ("peers-0-employee", "E200"),
                       ("peers-1-employee", "nobody")])
    bound = form_spec(NOMINATION, NOMINATION_UI).bind(posted, person_lookup=lookup)

    assert not bound.validate()
    assert bound.errors == [
        ("Peers › row 2 › Employee ID", "No one in the directory has the employee ID 'nobody'.")
    ]


def test_a_blank_person_field_is_required_not_unknown() -> None:
    posted = FormData([("coach", "  "), ("peers-0-employee", "E200")])
    bound = form_spec(NOMINATION, NOMINATION_UI).bind(posted, person_lookup=lookup)
    assert not bound.validate()
    assert bound.errors == [("Coach", "Required.")]


def test_the_schema_rules_still_apply_before_the_lookup() -> None:
    posted = FormData([("coach", "E300"), ("peers-0-employee", "Ada Lovelace")])
    bound = form_spec(NOMINATION, NOMINATION_UI).bind(posted, person_lookup=lookup)
    assert not bound.validate()
    assert bound.errors == [
        ("Peers › row 1 › Employee ID", "This does not have the expected form.")
    ]


def test_live_validation_names_the_person_and_keeps_the_suggestions() -> None:
    spec = form_spec(NOMINATION, NOMINATION_UI)
    posted = FormData([("coach", "E300"), ("peers-0-employee", "E404"),
                       ("_field", "peers-0-employee")])

    html = spec.validate_partial(
        posted, validate_url="/t/v", person_lookup=lookup, person_search_url=SEARCH
    )

    doc = page(html)
    assert doc.xpath("//*[@id='field-peers']")  # a cell answers with its whole table
    assert doc.xpath("//*[@id='peers-0-employee-error']")[0].text_content() == (
        "No one in the directory has the employee ID 'E404'."
    )
    assert doc.xpath("//datalist[@id='peers-0-employee-people']")
    fixed = spec.validate_partial(
        FormData([("coach", "E300"), ("_field", "coach")]),
        validate_url="/t/v", person_lookup=lookup, person_search_url=SEARCH,
    )
    doc = page(fixed)
    assert doc.xpath("//*[@id='coach-person']")[0].text_content().startswith("Ada Lovelace")
    assert not doc.xpath("//*[@class='sl-error']")


def test_a_read_only_person_field_shows_who_without_suggestions_or_checks() -> None:
    schema = {"type": "object", "properties": {"coach": {"type": "string", "readOnly": True}}}
    spec = form_spec(schema, {"coach": {"ui:widget": "person"}})
    bound = spec.bind(FormData([("coach", "E999")]), {"coach": "E300"}, person_lookup=lookup)

    assert bound.validate() and bound.to_data() == {"coach": "E300"}
    doc = page(bound.render(action="/t", person_search_url=SEARCH))
    assert not doc.xpath("//datalist")
    assert doc.xpath("//input[@name='coach']")[0].get("readonly") is not None
    assert doc.xpath("//*[@id='coach-person']")[0].text_content().startswith("Ada Lovelace")


def test_the_person_widget_is_for_strings() -> None:
    schema = {"type": "object", "properties": {"coach": {"type": "integer"}}}
    with pytest.raises(FormDefinitionError, match="unknown widget 'person' for a number"):
        form_spec(schema, {"coach": {"ui:widget": "person"}})
