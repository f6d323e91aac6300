"""Several languages: a German user reads German pages; the browser decides for someone without
a choice; unknown languages fall back to English; dates and numbers follow the language; every
text the templates mark for translation has a German translation."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from engine.base.models import HumanTask
from engine.people import logins
from tests.webapp.test_my_review_pages import cycle_org
from tests.webapp.test_one_on_one_pages import _schedule, frozen, standard
from webapp import i18n
from webapp.templating import format_date, format_datetime, format_number, relative_due

ROOT = Path(__file__).resolve().parents[2]
Login = Callable[..., Awaitable[httpx.Response]]
__all__ = ["cycle_org", "frozen", "standard"]  # fixtures: objective setting waiting on Ada
# (e300); the standard pack deployed, the clock at 2 March 2099


async def _choose(client: httpx.AsyncClient, language: str) -> httpx.Response:
    page = await client.get("/account/password")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, (page.status_code, page.headers, page.text[:500])
    return await client.post(
        "/account/language", data={"csrf_token": token.group(1), "language": language}
    )


async def test_a_german_user_reads_german_pages(
    client: httpx.AsyncClient, people: dict[str, str], login: Login
) -> None:
    await login(people["employee"])
    answer = await _choose(client, "de")
    assert answer.status_code == 303
    inbox = await client.get("/inbox")
    assert "Ihre Sprache wurde gespeichert." in inbox.text
    assert '<html lang="de"' in inbox.text
    assert "Posteingang" in inbox.text and "Nichts wartet auf Sie" in inbox.text
    assert "Abmelden" in inbox.text and "Log out" not in inbox.text
    account = await client.get("/account/password")
    assert "Passwort und Sitzungen" in account.text
    # Back to the browser's choice: English again for an English browser.
    await _choose(client, "")
    inbox = await client.get("/inbox", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Nothing waits on you" in inbox.text


async def test_the_browser_decides_for_someone_without_a_choice(
    client: httpx.AsyncClient, people: dict[str, str], login: Login
) -> None:
    await login(people["manager"])
    german = await client.get("/inbox", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert "Posteingang" in german.text
    unknown = await client.get("/inbox", headers={"Accept-Language": "tlh,xx;q=0.8"})
    assert "Nothing waits on you" in unknown.text and 'lang="en"' in unknown.text
    preferred = await client.get("/inbox", headers={"Accept-Language": "en;q=0.9,de;q=0.4"})
    assert "Nothing waits on you" in preferred.text


async def test_a_login_choice_beats_the_browser(
    client: httpx.AsyncClient, people: dict[str, str], login: Login
) -> None:
    await login(people["director"])
    user = await logins.login_named("e100")
    assert user is not None
    await logins.set_language(user.id, "de")
    page = await client.get("/inbox", headers={"Accept-Language": "en"})
    assert "Posteingang" in page.text
    await logins.set_language(user.id, "klingon")
    assert await logins.language_of(user.id) == ""


async def test_german_forms_chrome_on_a_failed_password_change(
    client: httpx.AsyncClient, people: dict[str, str], login: Login
) -> None:
    await login(people["employee"])
    await _choose(client, "de")
    page = await client.get("/account/password")
    assert "Mindestens" in page.text and "Meine anderen Sitzungen beenden" in page.text


async def test_a_german_user_reads_german_task_review_and_score_card(
    client: httpx.AsyncClient, login: Login, cycle_org: dict[str, Any]
) -> None:
    """The pages an employee opens most, after the inbox, speak German to a German reader."""
    await login("e300")
    await _choose(client, "de")
    review = (await client.get("/review")).text
    assert "Meine Beurteilung" in review and "wartet auf Sie" in review
    assert "waiting on you" not in review and "Ratings" not in review
    task = await HumanTask.get(instance_id=cycle_org["instances"]["E300"], status="ready")
    page = (await client.get(f"/tasks/{task.id}")).text
    assert "Fällig" in page and "<dt>Zyklus</dt>" in page
    assert "<dt>Due</dt>" not in page and "Why this came to you" not in page
    process = (await client.get(f"/instances/{cycle_org['instances']['E300']}")).text
    assert "Stand der Beurteilung" in process and "Verlauf" in process
    card = (await client.get("/scorecard")).text
    assert "Meine Scorecard" in card and "Kompetenzen" in card and "Entwicklungsplan" in card
    assert "Competencies" not in card and "Development plan" not in card


async def test_a_german_reader_reads_the_packs_task_and_process_names_in_german(
    client: httpx.AsyncClient, login: Login, cycle_org: dict[str, Any]
) -> None:
    """The names a pack wrote — the task, the process — and the engine's sentences about them
    read German in the inbox, on the task, the timeline and my review; English stays English."""
    await login("e300")
    await _choose(client, "de")
    inbox = (await client.get("/inbox")).text
    assert "Ziele entwerfen" in inbox and "Zielvereinbarung" in inbox
    assert "Draft objectives" not in inbox and "Objective setting" not in inbox
    task = await HumanTask.get(instance_id=cycle_org["instances"]["E300"], status="ready")
    page = (await client.get(f"/tasks/{task.id}")).text
    assert "<h1>Ziele entwerfen</h1>" in page and "Draft objectives" not in page
    timeline = (await client.get(f"/instances/{cycle_org['instances']['E300']}")).text
    assert "hat „Zielvereinbarung“ für Ada" in timeline and " started " not in timeline
    review = (await client.get("/review")).text
    assert "<strong>Ziele</strong>" in review and "<strong>Objectives</strong>" not in review
    await _choose(client, "")
    english = (await client.get("/inbox", headers={"Accept-Language": "en"})).text
    assert "Draft objectives" in english and "Ziele entwerfen" not in english


async def test_a_german_hr_reader_reads_the_hr_pages_in_german(
    client: httpx.AsyncClient, login: Login, cycle_org: dict[str, Any]
) -> None:
    await login("e400")
    await _choose(client, "de")
    home = (await client.get("/hr")).text
    assert "Beurteilungszyklen und wie weit jeder gediehen ist." in home
    assert "Zielvereinbarung" in home and "Objective setting" not in home
    dashboard = (await client.get(f"/hr/dashboard?cycle={cycle_org['cycle']}")).text
    assert "HR-Dashboard" in dashboard and "Gesamtorganisation" in dashboard
    assert "Ziele entwerfen: 2" in dashboard
    for english in ("Overdue by step", "Stopped on an error", "Completion", "Calibrat"):
        assert english not in dashboard
    launch = (await client.get("/hr/cycles/new")).text
    assert "Zyklus starten" in launch and "Launch a cycle" not in launch
    refused = await client.post("/hr/cycles/launch", data={
        "csrf_token": _csrf(launch), "process": "", "population": "unit", "cycle_name": "",
        "due_on": "2000-01-01",
    })
    assert refused.status_code == 400
    assert "Wählen Sie den Prozess, der gestartet werden soll." in refused.text
    assert "liegt in der Vergangenheit" in refused.text and "1. Januar 2000" in refused.text


def test_dates_and_numbers_follow_the_language() -> None:
    day = date(2026, 12, 7)
    moment = datetime(2026, 12, 7, 14, 5)
    assert format_date(day) == "7 Dec 2026"
    assert format_number(1234.5) == "1,234.5"
    with i18n.speaking("de"):
        assert format_date(day) == "7. Dezember 2026"
        assert format_datetime(moment) == "7. Dezember 2026, 14:05"
        assert format_datetime(moment, "%a %-d %b %Y, %H:%M").startswith("Mo. 7. Dez.")
        assert format_number(1234.5) == "1.234,5"
        # A date a form stored as text (a development action's due date) reads the same way.
        assert format_date("2027-03-31") == "31. März 2027"
        assert format_date("next spring") == "next spring"
        assert format_number(3.456, 1) == "3,5"
        assert relative_due(day, today=date(2026, 12, 4)) == "fällig in 3 Tagen"
        assert relative_due(day, today=date(2026, 12, 8)) == "1 Tag überfällig"
    assert relative_due(day, today=date(2026, 12, 4)) == "due in 3 days"


def test_every_marked_text_has_a_german_translation() -> None:
    """A new text wrapped for translation but not translated fails here, with file and line."""
    untranslated = []
    for room in ("webapp", "forms"):
        po = ROOT / room / "translations" / "de" / "LC_MESSAGES" / "messages.po"
        with po.open("rb") as source:
            german = {(m.context, m.id if isinstance(m.id, str) else m.id[0]): m
                      for m in read_po(source)}
        method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
        options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n",
                                            "trim_blocks": "true", "lstrip_blocks": "true"}}
        keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}
        for filename, line, message, _comments, context in extract_from_dir(
            str(ROOT / room), method_map, options, keywords=keywords
        ):
            key = message if isinstance(message, str) else message[0]
            found = german.get((context, key))
            if found is None or not found.string or found.fuzzy:
                untranslated.append(f"{room}/{filename}:{line}: {key!r}")
    assert not untranslated, "texts without a German translation:\n" + "\n".join(untranslated)


def test_every_engine_text_for_pages_has_a_german_translation() -> None:
    """A text the engine writes for a page (`said(...)`) without German in the engine's
    catalog fails here, with file and line."""
    po = ROOT / "engine" / "translations" / "de" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as source:
        german = {m.id: m for m in read_po(source) if m.id}
    untranslated = [
        f"engine/{filename}:{line}: {message!r}"
        for filename, line, message, _comments, _context in extract_from_dir(
            str(ROOT / "engine"), [("**.py", "python")], keywords={"said": None})
        if not (german.get(message) and german[message].string)
    ]
    assert not untranslated, "engine texts without German:\n" + "\n".join(untranslated)


async def test_german_login_error_team_goals_feedback_and_recognition_pages(
    client: httpx.AsyncClient, login: Login, cycle_org: dict[str, Any]
) -> None:
    """Before logging in the browser's language decides; afterwards the login's choice, on the
    error page, the team page, feedback and recognition: no English left in their chrome."""
    german = {"Accept-Language": "de-DE,de;q=0.9"}
    page = (await client.get("/login", headers=german)).text
    assert "Benutzername" in page and "Passwort" in page and "Anmelden" in page
    assert "Username" not in page and "Log in" not in page
    refused = await client.post("/login", headers=german, data={
        "csrf_token": _csrf(page), "username": "x", "password": "y",
    })
    assert "Benutzername oder Passwort falsch" in refused.text
    await login("e200")
    await _choose(client, "de")
    missing = await client.get("/no-such-page")
    assert missing.status_code == 404
    assert "Seite nicht gefunden" in missing.text and "Zurück zum Posteingang" in missing.text
    assert "Page not found" not in missing.text
    team = (await client.get("/team")).text
    assert "Mein Team" in team and "Wo alle stehen" in team and "Gefährdete Ziele" in team
    for english in ("My team", "Where everyone stands", "Overdue steps", "Ratings against"):
        assert english not in team
    feedback = (await client.get("/feedback")).text
    assert "Feedback geben" in feedback and "Erhaltenes Feedback" in feedback
    assert "Give feedback" not in feedback and "Feedback you received" not in feedback
    asked = await client.post("/feedback", data={
        "csrf_token": _csrf(feedback), "mode": "request", "colleague": "",
    })
    assert "Geben Sie den Namen oder die Personalnummer" in asked.text
    goals = (await client.get("/goals")).text
    assert "Zielbaum" in goals and "Fortschritt nach Einheit und Person" in goals
    assert "Goal tree" not in goals and "Progress by unit and person" not in goals
    recognition = (await client.get("/recognition")).text
    assert "Anerkennung senden" in recognition and "Wer es sehen darf" in recognition
    assert "Send praise" not in recognition and "Who may see it" not in recognition
    assert "Only them, their managers and HR" not in recognition


async def test_german_development_and_one_on_one_pages(
    client: httpx.AsyncClient, login: Login, cycle_org: dict[str, Any]
) -> None:
    await login("e200")
    await _choose(client, "de")
    development = (await client.get("/development")).text
    assert "Mein Entwicklungsplan" in development and "Check-in festhalten" in development
    assert "My development plan" not in development and "Record a check-in" not in development
    meetings = (await client.get("/one-on-ones")).text
    assert "1:1-Gespräche" in meetings and "Regelmäßiges 1:1-Gespräch planen" in meetings
    assert "Schedule a recurring 1:1" not in meetings and "How often" not in meetings
    tokens = (await client.get("/account/tokens")).text
    assert "Token erstellen" in tokens and "Ihre Tokens" in tokens
    assert "Make a token" not in tokens and "Your tokens" not in tokens
    chat = (await client.get("/account/chat")).text
    assert "Meine Chat-Benachrichtigungen" in chat and "My chat notifications" not in chat
    await _choose(client, "")
    english = (await client.get("/development", headers={"Accept-Language": "en"})).text
    assert "My development plan" in english


async def test_a_german_manager_schedules_and_reads_a_german_1_1(
    client: httpx.AsyncClient, login: Login, page_csrf: Callable[[str], Awaitable[str]],
    standard: dict[str, str], frozen: None,
) -> None:
    await login(standard["manager"])
    await _choose(client, "de")
    meeting = await _schedule(client, page_csrf)
    page = (await client.get(meeting)).text
    assert "Ihr 1:1-Gespräch mit" in page and "ist geplant" in page
    assert "Nächstes Gespräch" in page and "Gemeinsame Notizen" in page and "Maßnahmen" in page
    for english in ("Shared notes", "My private notes", "Mark as held", "Add a topic"):
        assert english not in page


def _csrf(page: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    return token.group(1)
