"""Finding people in the directory for a form's person picker.

GET /people/search?q=… answers the picker's suggestions: up to ten active people whose name,
employee ID or email contains the text, as <option>s whose value is the employee ID. The
picker's htmx request sends the input under its own name instead, with `field` naming it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.people.directory import DirectorySnapshot, PersonInfo
from forms import PersonLookup
from webapp.auth import current_user
from webapp.templating import render

MAX_SUGGESTIONS = 10
MIN_QUERY = 2


def person_summary(directory: DirectorySnapshot, person: PersonInfo) -> str:
    """How a picker shows a person: "Ada Lovelace — Software Engineer, Engineering"."""
    unit = directory.unit(person.org_unit_id)
    about = ", ".join(part for part in (person.title, unit.name if unit else "") if part)
    return f"{person.name} — {about}" if about else person.name


def person_lookup(directory: DirectorySnapshot) -> PersonLookup:
    """A form's person lookup: an active person's summary by employee ID, else None."""

    def summary(key: str) -> str | None:
        person = directory.by_key.get(key)
        return person_summary(directory, person) if person and person.active else None

    return summary


def matching_people(directory: DirectorySnapshot, text: str) -> list[PersonInfo]:
    """Active people whose name, key or email contains `text`; names starting with it first."""
    wanted = " ".join(text.split()).casefold()
    if len(wanted) < MIN_QUERY:
        return []

    def rank(person: PersonInfo) -> int:
        name = person.name.casefold()
        if name.startswith(wanted):
            return 0
        return 1 if any(word.startswith(wanted) for word in name.split()) else 2

    found = [
        person
        for person in directory.people.values()
        if person.active
        and any(wanted in value.casefold() for value in (person.name, person.key, person.email))
    ]
    found.sort(key=lambda person: (rank(person), person.name.casefold(), person.key))
    return found[:MAX_SUGGESTIONS]


async def search_people(request: Request) -> Response:
    """GET /people/search: the picker's suggestions as <option> elements."""
    current_user(request)
    params = request.query_params
    text = params.get("q")
    if text is None:
        text = params.get(params.get("field") or "q", "")
    directory = request.state.directory
    options = [
        (person.key, person_summary(directory, person))
        for person in matching_people(directory, text)
    ]
    return render(request, "_people_options.html", {"options": options})


routes = [Route("/people/search", search_people, methods=["GET"], name="people_search")]
