"""The appraisal discussion's time, set in its form, invites the manager and the employee
(the pack's `[features.calendar]`), end to end on a real SMTP server: a draft with a time sends
the invitation, a changed time an update of the same event, no time or the same time nothing,
and a bad time an error with nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from engine.base import clock
from engine.base.models import HumanTask, OutboxEmail
from engine.packs.definitions import deploy_pack
from engine.people.org_import import import_org
from engine.workflow import calendar_invites, runtime
from engine.workflow.notifications import SmtpSettings, send_due
from engine.workflow.scheduled_meetings import MeetingTimeError
from tests.engine.test_email_languages import login_in
from tests.engine.test_html_email import BASE_URL, invitation
from tests.engine.test_notifications import Mailbox, start_server
from tests.engine.test_year_end_appraisal import AGREED, ORG, STANDARD, open_task
from tests.support.app import free_port

MORNING = datetime(2099, 1, 11, 8, 0, tzinfo=UTC)
SALES = ["communication", "collaboration", "customer_focus", "delivering_results",
         "negotiation"]


@pytest.fixture
async def deployed_standard(db: str) -> None:
    report = await import_org(ORG)
    assert not report.errors, report.errors
    await deploy_pack(STANDARD, "test", search=[STANDARD.parent])


@pytest.fixture
def mailbox_and_smtp() -> Iterator[tuple[Mailbox, SmtpSettings]]:
    port = free_port()
    controller, box = start_server(port)
    yield box, SmtpSettings(host="127.0.0.1", port=port, sender="Sightline <noreply@example.com>",
                            base_url=BASE_URL + "/", timeout=5)
    controller.stop()


async def discussion_task() -> HumanTask:
    """Eve's year-end appraisal run on to Morgan's appraisal discussion."""
    hr, eve, morgan = [await runtime.actor_for(key) for key in ("H1", "E1", "M1")]
    inst = await runtime.start_process("year_end_appraisal", subject="E1", actor=hr,
                                       data={"objectives": AGREED})
    own = await open_task(inst.id, "self_appraisal")
    await runtime.complete_task(own.id, eve, {
        "objectives": [{**AGREED[0], "actual": 130}, {**AGREED[1], "actual": 15}],
        "self_ratings": dict.fromkeys(SALES, 4), "self_summary": "Record quarter.",
        "development_wishes": "",
    })
    appraisal = await open_task(inst.id, "manager_appraisal")
    await runtime.complete_task(appraisal.id, morgan, {
        "manager_ratings": dict.fromkeys(SALES, 4), "manager_rating": 4,
        "override_reason": "", "manager_comments": "Great year.",
    })
    await runtime.send_signal("ratings_released", [inst.id], hr,
                              payload={"ratings": {"E1": 4}})
    return await open_task(inst.id, "appraisal_discussion")


def draft(**posted: str) -> dict[str, object]:
    return {"posted": {k: [v] for k, v in posted.items()}, "saved_at": "2099-01-11T08:00:00"}


async def invitations() -> int:
    return await OutboxEmail.filter(calendar__not_isnull=True).count()


async def test_a_draft_with_a_time_invites_both_and_a_change_updates_the_same_event(
    deployed_standard: None, mailbox_and_smtp: tuple[Mailbox, SmtpSettings]
) -> None:
    mailbox, smtp = mailbox_and_smtp
    task = await discussion_task()
    morgan = await runtime.actor_for("M1")
    with clock.frozen_at(MORNING):
        await runtime.save_draft(task.id, morgan, draft(discussion_at="2099-01-20T10:00",
                                                        discussion_notes="Agenda: the year"))
        await send_due(smtp)
    invites = [m for m in mailbox.messages if m.get_content_type() != "text/plain"
               and m["Subject"].startswith("Invitation: Appraisal discussion")]
    assert sorted(m["To"] for m in invites) == ["Eve Employee <eve@example.com>",
                                                "Morgan Manager <morgan@example.com>"]
    method, first = invitation(invites[0])
    assert method == "REQUEST"
    assert first["VEVENT.UID"] == [calendar_invites.meeting_uid("task", task.id)]
    assert first["VEVENT.SEQUENCE"] == ["0"]
    assert first["VEVENT.DTSTART"] == ["20990120T100000Z"]
    assert first["VEVENT.DTEND"] == ["20990120T110000Z"]  # the pack's 60 minutes
    assert first["VEVENT.SUMMARY"] == ["Appraisal discussion: Eve Employee"]
    assert first["VEVENT.ORGANIZER"] == ["mailto:morgan@example.com"]
    assert sorted(a.rsplit(":", 1)[1] for a in first["VEVENT.ATTENDEE"]) == [
        "eve@example.com", "morgan@example.com"]
    assert f"{BASE_URL}/tasks/{task.id}" in first["VEVENT.DESCRIPTION"][0]
    # The draft itself was saved with it.
    assert (await HumanTask.get(id=task.id)).draft["posted"]["discussion_at"] == [
        "2099-01-20T10:00"]
    mailbox.messages.clear()

    # The same time saved again (other fields changed) sends nothing new.
    with clock.frozen_at(MORNING + timedelta(minutes=5)):
        await runtime.save_draft(task.id, morgan, draft(discussion_at="2099-01-20T10:00",
                                                        discussion_notes="Agenda: more"))
        await send_due(smtp)
    assert mailbox.messages == []

    with clock.frozen_at(MORNING + timedelta(hours=1)):
        await runtime.save_draft(task.id, morgan, draft(discussion_at="2099-01-21T14:30"))
        await send_due(smtp)
    [moved] = [m for m in mailbox.messages if "eve@" in m["To"]]
    assert moved["Subject"].startswith("Moved: Appraisal discussion")
    _, update = invitation(moved)
    assert update["VEVENT.UID"] == first["VEVENT.UID"]
    assert update["VEVENT.SEQUENCE"] == ["1"]
    assert update["VEVENT.DTSTART"] == ["20990121T143000Z"]
    mailbox.messages.clear()

    # Completing the task with yet another time updates the event once more.
    with clock.frozen_at(MORNING + timedelta(hours=2)):
        await runtime.complete_task(task.id, morgan, {
            "discussion_at": "2099-01-22T09:00:00", "discussion_date": "2099-01-11",
            "discussion_notes": "Talked it through.",
        })
        await send_due(smtp)
    [done] = [m for m in mailbox.messages if "morgan@" in m["To"]
              and m["Subject"].startswith("Moved:")]
    _, last = invitation(done)
    assert (last["VEVENT.SEQUENCE"], last["VEVENT.DTSTART"]) == (["2"], ["20990122T090000Z"])


async def test_no_time_sends_no_invitation(
    deployed_standard: None, mailbox_and_smtp: tuple[Mailbox, SmtpSettings]
) -> None:
    mailbox, smtp = mailbox_and_smtp
    task = await discussion_task()
    morgan = await runtime.actor_for("M1")
    before = await invitations()
    with clock.frozen_at(MORNING):
        await runtime.save_draft(task.id, morgan, draft(discussion_at="",
                                                        discussion_notes="Agenda"))
        await runtime.complete_task(task.id, morgan, {
            "discussion_at": None, "discussion_date": "2099-01-11",
            "discussion_notes": "Talked it through.",
        })
        await send_due(smtp)
    assert await invitations() == before
    assert not [m for m in mailbox.messages if "Appraisal discussion" in m["Subject"]
                and m["Subject"].startswith(("Invitation:", "Moved:"))]


async def test_a_bad_time_is_an_error_naming_the_field_and_nothing_is_written(
    deployed_standard: None, mailbox_and_smtp: tuple[Mailbox, SmtpSettings]
) -> None:
    mailbox, smtp = mailbox_and_smtp
    task = await discussion_task()
    morgan = await runtime.actor_for("M1")
    before = await invitations()
    with pytest.raises(MeetingTimeError) as raised:
        await runtime.save_draft(task.id, morgan, draft(discussion_at="next Tuesday"))
    assert raised.value.field == "discussion_at"
    assert "'next Tuesday' is not a date and time" in str(raised.value)
    assert await invitations() == before
    assert (await HumanTask.get(id=task.id)).draft is None


async def invite_german_eve_and_morgan(
    mailbox: Mailbox, smtp: SmtpSettings, zone: str
) -> tuple[EmailMessage, EmailMessage]:
    """Eve, who chose German, and Morgan's invitations to a discussion Morgan's draft sets for
    20 January 2099 at 10:00 in `zone`: (Eve's, Morgan's)."""
    await login_in("E1", "de")
    task = await discussion_task()
    morgan = await runtime.actor_for("M1")
    with clock.frozen_at(MORNING), clock.in_zone(zone):
        await runtime.save_draft(task.id, morgan, draft(discussion_at="2099-01-20T10:00"))
        await send_due(smtp)
    invites = [m for m in mailbox.messages if m.get_content_type() != "text/plain"
               and any(p.get_content_type() == "text/calendar" for p in m.walk())]
    [german] = [m for m in invites if "eve@" in m["To"]]
    [english] = [m for m in invites if "morgan@" in m["To"]]
    return german, english


async def test_a_german_reader_gets_the_invitation_in_german(
    deployed_standard: None, mailbox_and_smtp: tuple[Mailbox, SmtpSettings]
) -> None:
    """Eve chose German with her login: her invitation's subject, text and the calendar's
    SUMMARY and DESCRIPTION are German; Morgan, who chose nothing, reads English."""
    german, english = await invite_german_eve_and_morgan(*mailbox_and_smtp, "UTC")
    assert german["Subject"] == "Einladung: Beurteilungsgespräch: Eve Employee"
    text = german.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Guten Tag Eve," in text and "findet am Dienstag, 20. Januar 2099" in text
    _, calendar = invitation(german)
    assert calendar["VEVENT.SUMMARY"] == ["Beurteilungsgespräch: Eve Employee"]
    assert calendar["VEVENT.DESCRIPTION"][0].startswith(
        "Beurteilungsgespräch führen. Die Aufgabe mit den Gesprächsthemen")
    assert english["Subject"] == "Invitation: Appraisal discussion: Eve Employee"
    _, theirs = invitation(english)
    assert theirs["VEVENT.SUMMARY"] == ["Appraisal discussion: Eve Employee"]
    assert theirs["VEVENT.DESCRIPTION"][0].startswith("Hold the appraisal discussion. The task")


async def test_a_time_typed_in_the_organisation_s_zone_invites_for_that_local_time(
    deployed_standard: None, mailbox_and_smtp: tuple[Mailbox, SmtpSettings]
) -> None:
    """In Berlin (UTC+1 in January) a discussion typed for 10:00 is at 09:00 UTC in the
    calendar, and the email says 10:00 and the zone."""
    german, english = await invite_german_eve_and_morgan(*mailbox_and_smtp, "Europe/Berlin")
    _, calendar = invitation(english)
    assert calendar["VEVENT.DTSTART"] == ["20990120T090000Z"]
    assert "Tuesday 20 January 2099, 10:00 Europe/Berlin" in english.get_body(
        ("plain",)).get_content()  # type: ignore[union-attr]
    assert "Dienstag, 20. Januar 2099, 10:00 Uhr Europe/Berlin" in german.get_body(
        ("plain",)).get_content()  # type: ignore[union-attr]
