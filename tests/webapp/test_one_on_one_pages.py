"""The 1:1 pages: a manager schedules, both people build the agenda and actions, private notes
stay private, the manager holds the meeting and open actions carry over; outsiders get 404s."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from engine.base import clock
from engine.base.models import OneOnOneMeeting, OneOnOneSeries, Person
from engine.packs.definitions import deploy_pack

ROOT = Path(__file__).resolve().parents[2]
STANDARD = ROOT / "processes" / "standard"
NOW = datetime(2099, 3, 2, 9, 0, tzinfo=UTC)

LoginHelper = Callable[..., Awaitable[httpx.Response]]
Csrf = Callable[[str], Awaitable[str]]


@pytest.fixture
async def standard(people: dict[str, str]) -> dict[str, str]:
    await deploy_pack(STANDARD, "test", search=[STANDARD.parent])
    return people


@pytest.fixture
def frozen() -> Iterator[None]:
    with clock.frozen_at(NOW):
        yield


async def _as(client: httpx.AsyncClient, login: LoginHelper, username: str) -> None:
    client.cookies.clear()
    assert (await login(username)).status_code == 303


async def _post(client: httpx.AsyncClient, csrf: Csrf, path: str, data: dict[str, str],
                htmx: bool = False) -> httpx.Response:
    token = await csrf("/one-on-ones")
    headers = {"HX-Request": "true"} if htmx else {}
    return await client.post(path, data={**data, "csrf_token": token}, headers=headers)


async def _schedule(client: httpx.AsyncClient, csrf: Csrf) -> str:
    """Sam schedules a weekly 1:1 with Ada; returns the first meeting's path."""
    ada = await Person.get(key="E300")
    answer = await _post(client, csrf, "/one-on-ones", {
        "report": str(ada.id), "cadence": "weekly", "first_at": "2099-03-10T10:00",
        "duration": "30"})
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


async def test_a_manager_schedules_and_both_prepare_the_meeting(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: Csrf,
    standard: dict[str, str], frozen: None,
) -> None:
    await _as(client, login, standard["manager"])
    listing = await client.get("/one-on-ones")
    assert "Schedule a recurring 1:1" in listing.text and "Ada Lovelace" in listing.text
    meeting = await _schedule(client, page_csrf)
    page = await client.get(meeting)
    assert page.status_code == 200
    assert "1:1 with Ada Lovelace" in page.text and "Mark as held" in page.text
    assert "Tuesday 10 March 2099, 10:00 UTC" in _text(page.text)

    # Ada adds an agenda item (htmx: only the agenda comes back) and an action of her own.
    await _as(client, login, standard["employee"])
    mine = _text((await client.get("/one-on-ones")).text)
    assert "With my manager" in mine and "Sam Patel" in mine
    added = await _post(client, page_csrf, f"{meeting}/items",
                        {"kind": "agenda", "text": "Conference budget"}, htmx=True)
    assert added.status_code == 200 and 'id="oo-agenda"' in added.text
    assert "<html" not in added.text and "Conference budget" in added.text
    ada = await Person.get(key="E300")
    await _post(client, page_csrf, f"{meeting}/items",
                {"kind": "action", "text": "Draft the release scope", "owner": str(ada.id)})
    await _post(client, page_csrf, f"{meeting}/private-notes", {"notes": "Ask for the course"})
    page = await client.get(meeting)
    assert "Mark as held" not in page.text  # the manager holds it
    assert "Only you see this" in page.text and "Ask for the course" in page.text

    # Sam sees the agenda and the action, never Ada's private notes.
    await _as(client, login, standard["manager"])
    page = await client.get(meeting)
    assert "Conference budget" in page.text and "Draft the release scope" in page.text
    assert "Ask for the course" not in page.text


async def test_times_are_typed_and_read_in_the_organisation_s_time_zone(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: Csrf,
    standard: dict[str, str], frozen: None,
) -> None:
    await _as(client, login, standard["manager"])
    with clock.in_zone("Europe/Berlin"):
        meeting = await _schedule(client, page_csrf)  # 10:00 in Berlin (CET, UTC+1)
        page = await client.get(meeting)
        assert "Tuesday 10 March 2099, 10:00 Europe/Berlin" in _text(page.text)
        assert 'value="2099-03-10T10:00"' in page.text  # the move form starts from it
        assert "New time (Europe/Berlin)" in page.text
        # After the clocks change (CEST, UTC+2), 10:00 is still 10:00 in Berlin.
        moved = await _post(client, page_csrf, f"{meeting}/reschedule",
                            {"when": "2099-04-14T10:00"})
        assert moved.status_code == 303, moved.text
        assert "Tuesday 14 April 2099, 10:00 Europe/Berlin" in _text(
            (await client.get(meeting)).text)
    stored = await OneOnOneMeeting.get(id=int(meeting.rsplit("/", 1)[1]))
    assert stored.scheduled_at == datetime(2099, 4, 14, 8, 0, tzinfo=UTC)
    # An organisation on UTC reads the same meeting at 08:00 UTC.
    assert "Tuesday 14 April 2099, 08:00 UTC" in _text((await client.get(meeting)).text)


async def test_holding_carries_open_actions_to_the_next_meeting(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: Csrf,
    standard: dict[str, str], frozen: None,
) -> None:
    await _as(client, login, standard["manager"])
    meeting = await _schedule(client, page_csrf)
    sam = await Person.get(key="E200")
    await _post(client, page_csrf, f"{meeting}/items",
                {"kind": "action", "text": "Book the course", "owner": str(sam.id)})
    await _post(client, page_csrf, f"{meeting}/shared-notes", {"notes": "Release on track."})
    held = await _post(client, page_csrf, f"{meeting}/held", {})
    assert held.status_code == 303
    next_meeting = held.headers["location"]
    assert next_meeting != meeting
    page = _text((await client.get(next_meeting)).text)
    assert "Carried over" in page and "Book the course" in page and "from 10 Mar" in page
    # The held meeting reads as it was, without forms.
    old = await client.get(meeting)
    assert "Held" in old.text and "Release on track." in old.text and "Mark as held" not in old.text
    listing = _text((await client.get("/one-on-ones")).text)
    assert "1 open action" in listing and "1 held" in listing


async def test_bad_input_is_refused_with_a_reason_and_loses_nothing(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: Csrf,
    standard: dict[str, str], frozen: None,
) -> None:
    await _as(client, login, standard["manager"])
    ada = await Person.get(key="E300")
    refused = await _post(client, page_csrf, "/one-on-ones", {
        "report": str(ada.id), "cadence": "weekly", "first_at": "tomorrow-ish", "duration": "30"})
    assert refused.status_code == 422 and "not a date and time" in refused.text
    assert 'value="tomorrow-ish"' in refused.text  # what was typed stays in the form
    past = await _post(client, page_csrf, "/one-on-ones", {
        "report": str(ada.id), "cadence": "weekly", "first_at": "2099-01-01T10:00",
        "duration": "30"})
    assert past.status_code == 422 and "must be in the future" in past.text
    assert await OneOnOneSeries.all().count() == 0

    meeting = await _schedule(client, page_csrf)
    empty = await _post(client, page_csrf, f"{meeting}/items",
                        {"kind": "agenda", "text": "  "}, htmx=True)
    assert empty.status_code == 422 and "Write the agenda item first" in empty.text
    long = await _post(client, page_csrf, f"{meeting}/shared-notes", {"notes": "x" * 20001})
    assert long.status_code == 422 and "keep them to 20000" in long.text


async def test_only_the_two_people_see_the_meeting(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: Csrf,
    standard: dict[str, str], frozen: None,
) -> None:
    await _as(client, login, standard["manager"])
    meeting = await _schedule(client, page_csrf)
    series = await OneOnOneSeries.get()
    for who in ("director", "hr", "designer"):
        await _as(client, login, standard[who])
        assert (await client.get(meeting)).status_code == 404
        assert (await client.get(f"/one-on-ones/series/{series.id}")).status_code == 404
        posted = await _post(client, page_csrf, f"{meeting}/items",
                             {"kind": "agenda", "text": "Sneaky"})
        assert posted.status_code == 404
    assert (await client.get("/one-on-ones/meetings/99999")).status_code == 404
    assert (await client.get("/one-on-ones/meetings/abc")).status_code == 404
    # HR sees that the series exists and how many meetings were held.
    await _as(client, login, standard["hr"])
    listing = _text((await client.get("/one-on-ones")).text)
    assert "1:1s in the organisation" in listing
    assert "Sam Patel Ada Lovelace Weekly 0" in listing


async def test_the_report_cannot_hold_or_skip(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: Csrf,
    standard: dict[str, str], frozen: None,
) -> None:
    await _as(client, login, standard["manager"])
    meeting = await _schedule(client, page_csrf)
    await _as(client, login, standard["employee"])
    refused = await _post(client, page_csrf, f"{meeting}/held", {})
    assert refused.status_code == 422 and "Only the manager" in refused.text
    assert "Nothing on the agenda" in refused.text  # the page, with the reason on top


async def test_the_nav_links_to_1_1s(
    client: httpx.AsyncClient, login: LoginHelper, standard: dict[str, str],
) -> None:
    await _as(client, login, standard["employee"])
    page = await client.get("/one-on-ones")
    assert '<a href="/one-on-ones" aria-current="page">1:1s</a>' in page.text
