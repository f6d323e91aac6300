"""The HR outbox page: who may see it, what it shows, filtering, paging and retrying."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx
import pytest

from config import settings
from engine.base.models import HumanTask, OutboxEmail
from engine.packs.definitions import deploy_pack
from engine.workflow import runtime

ROOT = Path(__file__).resolve().parents[2]
STANDARD = ROOT / "processes" / "standard"
OUTBOX = "/admin/outbox"


@pytest.fixture
async def ada_has_a_task(people: dict[str, str]) -> HumanTask:
    """HR started objective setting for Ada: her draft task exists and its email is queued."""
    await deploy_pack(STANDARD, "test", search=[ROOT / "processes"])
    inst = await runtime.start_process(
        "objective_setting", subject="E300", actor=await runtime.actor_for("E400")
    )
    return await HumanTask.get(instance_id=inst.id, bpmn_id="draft_objectives")


def row_count(page: str) -> int:
    return len(re.findall(r'<tr id="outbox-email-\d+"', page))


async def fail(email: OutboxEmail, error: str = "OSError: Connection refused") -> None:
    await OutboxEmail.filter(id=email.id).update(
        status="failed", attempts=6, last_error=error, next_attempt_at=None
    )


@pytest.mark.parametrize("role", ["employee", "manager", "director"])
async def test_only_hr_may_see_the_outbox(client, people, login, role) -> None:
    await login(people[role])
    page = await client.get(OUTBOX)
    assert page.status_code == 404
    assert "Outbox" not in page.text


async def test_hr_sees_the_outbox(client, people, login) -> None:
    await login(people["hr"])
    page = await client.get(OUTBOX)
    assert page.status_code == 200
    assert "<h1>Outbox</h1>" in page.text


async def test_hr_reads_the_queued_email_as_it_would_be_sent(
    client, people, login, ada_has_a_task, monkeypatch
) -> None:
    monkeypatch.setattr(settings, "SMTP_HOST", "")
    await login(people["hr"])
    page = await client.get(OUTBOX)

    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Email is not configured: messages wait here" in text
    assert "Ada Lovelace <ada@example.com>" in text
    assert "Task waiting for you: Draft objectives" in text
    base = settings.BASE_URL.rstrip("/")
    assert f"Open it: {base}/tasks/{ada_has_a_task.id}" in text
    assert "{base_url}" not in text
    assert "waiting for email to be configured" in text


async def test_with_smtp_configured_the_page_says_where_mail_goes(
    client, people, login, monkeypatch
) -> None:
    monkeypatch.setattr(settings, "SMTP_HOST", "mail.example.com")
    monkeypatch.setattr(settings, "SMTP_PORT", 587)
    await login(people["hr"])
    page = (await client.get(OUTBOX)).text
    assert "not configured" not in page
    assert "mail.example.com:587" in page
    assert "The outbox is empty" in page


async def test_the_status_filter_shows_failures_with_their_error(
    client, people, login, ada_has_a_task
) -> None:
    [queued] = await OutboxEmail.all()
    broken = await OutboxEmail.create(to="Sam Patel <sam@example.com>", subject="Broken", body="b")
    await fail(broken, "SMTPRecipientsRefused: mailbox unavailable")
    await login(people["hr"])

    failed = (await client.get(OUTBOX, params={"status": "failed"})).text
    assert row_count(failed) == 1
    assert "Sam Patel" in failed and "Ada Lovelace" not in failed
    assert "Last error: SMTPRecipientsRefused: mailbox unavailable" in failed
    assert "gave up after 6 attempts" in failed
    assert 'aria-current="true">\n      Failed' in failed

    waiting = (await client.get(OUTBOX, params={"status": "queued"})).text
    assert row_count(waiting) == 1 and "Ada Lovelace" in waiting
    everything = (await client.get(OUTBOX)).text
    assert row_count(everything) == 2
    # Newest first.
    assert everything.index("Sam Patel") < everything.index("Ada Lovelace")


async def test_htmx_filtering_swaps_only_the_list(client, people, login) -> None:
    await OutboxEmail.create(to="Sam Patel <sam@example.com>", subject="Hello", body="b")
    await login(people["hr"])
    fragment = await client.get(
        OUTBOX, params={"status": "sent"}, headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "Email is not configured" not in fragment.text
    assert "No email has been sent yet." in fragment.text


async def test_the_outbox_pages_through_older_emails(client, people, login) -> None:
    for n in range(30):
        await OutboxEmail.create(to=f"P{n} <p{n}@example.com>", subject=f"Note {n}", body="b")
    await login(people["hr"])

    first = (await client.get(OUTBOX)).text
    assert row_count(first) == 25
    assert "Note 29" in first and "Note 4<" not in first
    assert "Page 1 of 2 · 30 emails" in first
    assert 'href="/admin/outbox?page=2"' in first
    second = (await client.get(OUTBOX, params={"page": "2"})).text
    assert row_count(second) == 5 and "Note 0<" in second
    assert 'href="/admin/outbox"' in second  # back to the newest
    # Nonsense page numbers land somewhere sensible rather than failing.
    assert (await client.get(OUTBOX, params={"page": "x"})).status_code == 200
    assert row_count((await client.get(OUTBOX, params={"page": "99"})).text) == 5


async def test_hr_puts_a_failed_email_back_in_the_queue(client, people, login, page_csrf) -> None:
    email = await OutboxEmail.create(to="Sam Patel <sam@example.com>", subject="Hi", body="b")
    await fail(email)
    await login(people["hr"])
    page = (await client.get(OUTBOX)).text
    assert f'action="/admin/outbox/{email.id}/retry"' in page
    token = await page_csrf(OUTBOX)

    without_token = await client.post(f"{OUTBOX}/{email.id}/retry")
    assert without_token.status_code == 403
    assert (await OutboxEmail.get(id=email.id)).status == "failed"

    done = await client.post(f"{OUTBOX}/{email.id}/retry", data={"csrf_token": token})
    assert done.status_code == 303
    assert done.headers["location"] == f"{OUTBOX}?status=failed"
    again = await OutboxEmail.get(id=email.id)
    assert (again.status, again.attempts) == ("queued", 0)
    after = (await client.get(done.headers["location"])).text
    assert "The email to Sam Patel &lt;sam@example.com&gt; is back in the queue." in after
    assert row_count(after) == 0

    # Only a failed email can be retried.
    twice = await client.post(f"{OUTBOX}/{email.id}/retry", data={"csrf_token": token})
    assert twice.status_code == 409


async def test_retry_with_htmx_replaces_the_row(client, people, login, page_csrf) -> None:
    email = await OutboxEmail.create(to="Sam Patel <sam@example.com>", subject="Hi", body="b")
    await fail(email)
    await login(people["hr"])
    token = await page_csrf(OUTBOX)
    row = await client.post(
        f"{OUTBOX}/{email.id}/retry",
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert row.status_code == 200
    assert row.text.lstrip().startswith(f'<tr id="outbox-email-{email.id}"')
    assert "Back in the queue." in row.text and "Retry</button>" not in row.text


async def test_people_outside_hr_cannot_retry(client: httpx.AsyncClient, people, login) -> None:
    email = await OutboxEmail.create(to="Sam Patel <sam@example.com>", subject="Hi", body="b")
    await fail(email)
    await login(people["manager"])
    page = (await client.get("/no-such-page")).text
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert token
    answer = await client.post(f"{OUTBOX}/{email.id}/retry", data={"csrf_token": token.group(1)})
    assert answer.status_code == 404
    assert (await OutboxEmail.get(id=email.id)).status == "failed"
    missing = await client.post(f"{OUTBOX}/99999/retry", data={"csrf_token": token.group(1)})
    assert missing.status_code == 404


# Pat partners Sales, where Sue works; Ada and Sam are in Engineering; Hal administers HR.
UNITS = """employee_id,name,email,title,org_unit_code,org_unit_name,groups,unit.hr_partner
E600,Pat Partner,pat@example.com,HR Business Partner,PEOPLE,People team,hr,
E700,Sue Sales,sue@example.com,Account Executive,SALES,Sales,,E600
E200,Sam Patel,sam@example.com,Engineering Manager,ENG,Engineering,,
E300,Ada Lovelace,ada@example.com,Software Engineer,ENG,Engineering,,
"""


@pytest.fixture
async def two_units(people: dict[str, str]) -> dict[str, OutboxEmail]:
    """Ada (Engineering) and Sue (Sales) each have a draft task and its email, and more mail
    went out about them: the emails by what they are."""
    from engine.operations.demo import create_logins
    from engine.people.org_import import import_org

    assert not (await import_org(UNITS)).errors
    await create_logins()
    await deploy_pack(STANDARD, "test", search=[ROOT / "processes"])
    hal = await runtime.actor_for("E400")
    tasks = {}
    for key in ("E300", "E700"):
        inst = await runtime.start_process("objective_setting", subject=key, actor=hal)
        tasks[key] = await HumanTask.get(instance_id=inst.id, bpmn_id="draft_objectives")
    emails = {
        "to ada": await OutboxEmail.get(task_id=tasks["E300"].id),
        "to sue": await OutboxEmail.get(task_id=tasks["E700"].id),
        # Sue is asked about Ada's process: Engineering's business, not Sales'.
        "to sue about ada": await OutboxEmail.create(
            to="Sue Sales <sue@example.com>", subject="Reminder: Draft objectives — Ada Lovelace",
            body="b", task_id=tasks["E300"].id),
        # Sam, in Engineering, is chased about Sue's process: Sales' business.
        "to sam about sue": await OutboxEmail.create(
            to="Sam Patel <sam@example.com>", subject="Reminder: Draft objectives — Sue Sales",
            body="b", task_id=tasks["E700"].id),
        "about nobody": await OutboxEmail.create(
            to="Sue Sales <sue@example.com>", subject="A note for Sue", body="b"),
        "held": await OutboxEmail.create(
            to="Sue Sales <sue@example.com>", subject="Held while launching", body="b",
            task_id=tasks["E700"].id, status="held"),
    }
    return emails


def rows_of(page: str) -> set[int]:
    return {int(n) for n in re.findall(r'<tr id="outbox-email-(\d+)"', page)}


async def test_an_hr_partner_reads_only_the_emails_about_their_people(
    client, two_units, login
) -> None:
    await login("e600")
    page = (await client.get(OUTBOX)).text
    assert rows_of(page) == {two_units["to sue"].id, two_units["to sam about sue"].id}
    assert "Ada Lovelace" not in page and "A note for Sue" not in page
    assert 'All <span class="outbox-count">2</span>' in page
    await fail(two_units["to sue about ada"])
    failed = (await client.get(OUTBOX, params={"status": "failed"})).text
    assert rows_of(failed) == set()
    assert "No failed emails" in failed


async def test_an_hr_admin_reads_every_email_but_none_held_by_a_launch(
    client, people, two_units, login
) -> None:
    await login(people["hr"])
    page = (await client.get(OUTBOX)).text
    assert rows_of(page) == {e.id for name, e in two_units.items() if name != "held"}
    assert 'All <span class="outbox-count">5</span>' in page
    assert "Held while launching" not in page


async def test_an_hr_partner_retries_only_the_emails_they_see(
    client, two_units, login, page_csrf
) -> None:
    theirs, others = two_units["to sam about sue"], two_units["to sue about ada"]
    await fail(theirs)
    await fail(others)
    await login("e600")
    token = await page_csrf(OUTBOX)

    refused = await client.post(f"{OUTBOX}/{others.id}/retry", data={"csrf_token": token})
    assert refused.status_code == 404
    assert (await OutboxEmail.get(id=others.id)).status == "failed"
    done = await client.post(f"{OUTBOX}/{theirs.id}/retry", data={"csrf_token": token})
    assert done.status_code == 303
    assert (await OutboxEmail.get(id=theirs.id)).status == "queued"
