"""Finding people in the directory for a form's person picker.

GET /people/search?q=… answers the picker's suggestions: up to ten active people whose name,
employee ID or email contains the text, as <option>s whose value is the employee ID (with
`as=name`, "Name (ID)"). The
picker's htmx request sends the input under its own name instead, with `field` naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.people.directory import DirectorySnapshot, PersonInfo
from forms import PersonLookup
from webapp import i18n
from webapp.auth import current_user
from webapp.templating import render

MAX_SUGGESTIONS = 10
# "Ada Lovelace (E300)": a person as the pages' own pickers fill them in, the ID in brackets.
NAMED_KEY = re.compile(r"\(([^()\s]+)\)\s*$")
MIN_QUERY = 2


def person_summary(directory: DirectorySnapshot, person: PersonInfo) -> str:
    """How a picker shows a person: "Ada Lovelace — Software Engineer, Engineering"."""
    unit = directory.unit(person.org_unit_id)
    about = ", ".join(part for part in (person.title, unit.name if unit else "") if part)
    return f"{person.name} — {about}" if about else person.name


class PeopleLookup:
    """A form's person lookup (forms.PersonDirectory): an active person's summary by employee
    ID; a typed full name or email resolved to its one person; people matching a typed text."""

    def __init__(self, directory: DirectorySnapshot):
        self.directory = directory

    def __call__(self, key: str) -> str | None:
        person = self.directory.by_key.get(key)
        return person_summary(self.directory, person) if person and person.active else None

    def resolve(self, text: str) -> str | None:
        """The key of the one active person `text` names exactly, else None."""
        found = named_exactly(self.directory, text)
        return found[0].key if len(found) == 1 else None

    def find(self, text: str) -> list[tuple[str, str]]:
        """Active people whose name, key or email contains `text`, as (key, summary)."""
        return [(p.key, person_summary(self.directory, p))
                for p in matching_people(self.directory, text)]


def person_lookup(directory: DirectorySnapshot) -> PersonLookup:
    """A form's person lookup: it also understands typed names (forms.PersonDirectory)."""
    return PeopleLookup(directory)


def _canonical(text: str) -> str:
    return " ".join(text.split()).casefold()


def named_exactly(directory: DirectorySnapshot, text: str) -> list[PersonInfo]:
    """Active people whose employee ID, full name or email is `text` (ignoring case and
    spaces); an employee ID wins over a name."""
    wanted = _canonical(text)
    if not wanted:
        return []
    bracketed = NAMED_KEY.search(text)
    key = bracketed.group(1) if bracketed and bracketed.group(1) in directory.by_key else text
    by_key = directory.by_key.get(key.strip())
    if by_key is not None and by_key.active:
        return [by_key]
    return sorted(
        (p for p in directory.people.values()
         if p.active and wanted in (_canonical(p.name), p.email.casefold(), p.key.casefold())),
        key=lambda p: (p.name.casefold(), p.key),
    )


@dataclass(frozen=True)
class PersonChoice:
    """What a typed name or key names: one person, or several (or none) to choose from."""

    typed: str
    person: PersonInfo | None = None
    candidates: tuple[PersonInfo, ...] = ()

    def problem(self, what: str = "person") -> str:
        """Why the text names no one person, in words ("" when it does)."""
        if self.person is not None:
            return ""
        if not self.typed.strip():
            if what == "colleague":
                return i18n.gettext("Type the colleague's name or employee ID.")
            return i18n.gettext("Type the person's name or employee ID.")
        if not self.candidates:
            return i18n.gettext(
                "No one in the directory has the name or employee ID '%(typed)s'.",
                typed=self.typed,
            )
        if len(self.candidates) == 1:
            return i18n.gettext(
                "“%(typed)s” is not a full name: choose below if you mean %(name)s.",
                typed=self.typed, name=self.candidates[0].name,
            )
        return i18n.ngettext(
            "%(num)s person matches “%(typed)s”: choose one below.",
            "%(num)s people match “%(typed)s”: choose one below.",
            len(self.candidates), typed=self.typed,
        )


def choose_person(directory: DirectorySnapshot, text: str) -> PersonChoice:
    """The person a typed employee ID, full name or email names, or those it could mean."""
    exact = named_exactly(directory, text)
    if len(exact) == 1:
        return PersonChoice(text, exact[0])
    return PersonChoice(text, None, tuple(exact or matching_people(directory, text)))


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
    # `as=name`: the value filled in reads "Ada Lovelace (E300)" (the feedback and launch
    # pages, which show no label under the box); else the employee ID (task forms).
    named = params.get("as") == "name"
    options = [
        (f"{person.name} ({person.key})" if named else person.key,
         person_summary(directory, person))
        for person in matching_people(directory, text)
    ]
    return render(request, "_people_options.html", {"options": options})


routes = [Route("/people/search", search_people, methods=["GET"], name="people_search")]
