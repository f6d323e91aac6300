"""Pickers: a person typed by name (resolved, or a choice when ambiguous) and text picked from
a pack's catalog (suggested in a datalist, or a select when nothing else may be typed)."""

from __future__ import annotations

from typing import Any

import lxml.html
import pytest
from starlette.datastructures import FormData

from forms import FormDefinitionError, PersonDirectory, form_spec

CHECKIN: dict[str, Any] = {
    "type": "object",
    "required": ["with_person"],
    "properties": {"with_person": {"type": "string", "title": "Check-in with"}},
}
CHECKIN_UI = {"with_person": {"ui:widget": "person"}}
PEOPLE = {
    "E301": ("Morgan Lee", "Morgan Lee — Engineer, Apps"),
    "E302": ("Morris Kay", "Morris Kay — Analyst, Sales"),
    "E303": ("Ada Lovelace", "Ada Lovelace — Engineer, Apps"),
}


class Directory:
    """A directory as the web app gives one: keys, exact names, and names containing text."""

    def __call__(self, key: str) -> str | None:
        return PEOPLE[key][1] if key in PEOPLE else None

    def resolve(self, text: str) -> str | None:
        found = [k for k, (name, _) in PEOPLE.items() if name.casefold() == text.casefold()]
        return found[0] if len(found) == 1 else None

    def find(self, text: str) -> list[tuple[str, str]]:
        return [(k, label) for k, (name, label) in PEOPLE.items()
                if text.casefold() in name.casefold()]


def page(html: str) -> Any:
    return lxml.html.fromstring(f"<div>{html}</div>")


def checkin(posted: dict[str, str]) -> Any:
    return form_spec(CHECKIN, CHECKIN_UI).bind(FormData(posted), person_lookup=Directory())


def test_the_directory_is_a_person_directory() -> None:
    assert isinstance(Directory(), PersonDirectory)


def test_a_full_name_is_stored_as_the_persons_key() -> None:
    bound = checkin({"with_person": " ada lovelace "})
    assert bound.validate(), bound.errors
    assert bound.to_data() == {"with_person": "E303"}


def test_a_name_that_fits_several_people_offers_each_as_a_button_and_keeps_the_text() -> None:
    bound = checkin({"with_person": "Mor"})
    assert not bound.validate()
    assert [e.message for e in bound.errors] == ["2 people match “Mor”: choose one below."]
    doc = page(bound.render(action="/t", validate_url="/t/v", person_search_url="/s"))
    assert doc.xpath("//input[@name='with_person']")[0].get("value") == "Mor"
    buttons = doc.xpath("//div[contains(@class, 'sl-person-choices')]//button")
    assert [b.get("value") for b in buttons] == ["pick:with_person:E301", "pick:with_person:E302"]
    assert buttons[0].text_content().startswith("Morgan Lee — Engineer, Apps")
    assert buttons[0].get("hx-target") == "#field-with_person"


def test_picking_one_of_them_fills_in_their_key() -> None:
    bound = checkin({"with_person": "Mor", "_form_action": "pick:with_person:E302"})
    assert bound.apply_action()
    assert bound.validate() and bound.to_data() == {"with_person": "E302"}
    doc = page(bound.render(action="/t", person_search_url="/s"))
    assert doc.xpath("//*[@id='with_person-person']")[0].text_content() == (
        "Morris Kay — Analyst, Sales"
    )


def test_a_name_nobody_has_says_so() -> None:
    bound = checkin({"with_person": "Zed"})
    assert not bound.validate()
    assert bound.errors[0].message == "No one in the directory has the name or employee ID 'Zed'."
    assert not bound.person_choices


def test_a_plain_lookup_still_wants_a_key() -> None:
    bound = form_spec(CHECKIN, CHECKIN_UI).bind(
        FormData({"with_person": "Morgan Lee"}), person_lookup=Directory().__call__
    )
    assert not bound.validate()
    assert bound.errors[0].message == "No one in the directory has the employee ID 'Morgan Lee'."


# --- catalog pickers --------------------------------------------------------------------------

OBJECTIVES: dict[str, Any] = {
    "type": "object",
    "properties": {
        "objectives": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "kra": {"type": "string", "title": "Key result area", "maxLength": 120},
                    "family": {"type": "string", "title": "Family"},
                },
            },
        }
    },
}
CATALOGS = {
    "kra_library": {
        "families": {
            "sales": {"kras": [
                {"key": "pipeline", "name": "Pipeline", "description": "New business found."},
                {"key": "renewals", "name": "Renewals"},
            ]},
            "individual_contributor": {"kras": [{"name": "Service quality"}]},
        },
        "names": {"a": {"name": "Alpha"}, "b": {"title": "Beta"}},
    }
}


def objectives_ui(kra: dict[str, Any], family: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"objectives": {"items": {"kra": kra, "family": family or {}}}}


def test_free_text_suggests_the_catalogs_entries_and_takes_anything_typed() -> None:
    ui = objectives_ui({"ui:options": {
        "catalog": ["kra_library.families.nobody.kras", "kra_library.families.sales.kras"],
        "free_text": True}})
    spec = form_spec(OBJECTIVES, ui, CATALOGS)
    bound = spec.bind(FormData({"objectives-0-kra": "Something of my own"}))
    assert bound.validate() and bound.to_data()["objectives"][0]["kra"] == "Something of my own"
    doc = page(bound.render(action="/t"))
    # An input (not a growing textarea, although maxLength is over 80) bound to a datalist.
    [box] = doc.xpath("//input[@name='objectives-0-kra']")
    [suggestions] = doc.xpath(f"//datalist[@id='{box.get('list')}']")
    options = [(o.get("value"), o.text_content()) for o in suggestions.xpath("option")]
    assert options == [("Pipeline", "New business found."), ("Renewals", "")]


def test_without_free_text_the_catalog_is_a_select_and_other_text_is_refused() -> None:
    ui = objectives_ui({}, {"ui:options": {"catalog": "kra_library.names"}})
    spec = form_spec(OBJECTIVES, ui, CATALOGS)
    doc = page(spec.bind(FormData({"objectives-0-family": ""})).render(action="/t"))
    [select] = doc.xpath("//select[@name='objectives-0-family']")
    assert [o.text_content() for o in select.xpath("option")] == ["Choose…", "Alpha", "Beta"]
    bound = spec.bind(FormData({"objectives-0-family": "Gamma"}))
    assert not bound.validate()
    assert bound.errors[0].message == "Choose one of the listed options."
    chosen = spec.bind(FormData({"objectives-0-family": "Beta"}))
    assert chosen.validate() and chosen.to_data()["objectives"][0]["family"] == "Beta"


@pytest.mark.parametrize(("options", "message"), [
    ({"catalog": "kra_library.families.nobody"}, "has no 'nobody'"),
    ({"catalog": "missing.list"}, "catalog 'missing'"),
    ({"catalog": "kra_library.families.sales.kras", "free_text": "yes"}, "free_text"),
    ({"catalog": 3}, "catalog reference"),
])
def test_a_bad_catalog_picker_is_a_clear_definition_error(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(FormDefinitionError, match=message):
        form_spec(OBJECTIVES, objectives_ui({"ui:options": options}), CATALOGS)
