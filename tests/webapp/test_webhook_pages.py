"""The webhook, delivery log and chat pages: who may see them, creating, bad input, retrying."""

from __future__ import annotations

import html
import re

import pytest

from engine.workflow import deliveries, integrations

WEBHOOKS = "/admin/webhooks"


@pytest.mark.parametrize("path", [WEBHOOKS, "/admin/deliveries", "/admin/chat"])
@pytest.mark.parametrize("role", ["employee", "manager", "director"])
async def test_only_hr_administrators_see_the_integration_pages(
    client, people, login, role, path
) -> None:
    await login(people[role])
    page = await client.get(path)
    assert page.status_code == 404
    assert "Webhooks" not in page.text and "Delivery log" not in page.text


async def test_people_outside_hr_cannot_create_webhooks(client, people, login, page_csrf) -> None:
    await login(people["manager"])
    token = await page_csrf("/account/password")
    answer = await client.post(WEBHOOKS, data={
        "csrf_token": token, "name": "x", "url": "https://example.com", "events": "task.created"})
    assert answer.status_code == 404
    assert await integrations.webhooks() == []


async def test_hr_creates_a_webhook_and_sees_its_secret_once(
    client, people, login, page_csrf
) -> None:
    await login(people["hr"])
    token = await page_csrf(WEBHOOKS)
    made = await client.post(WEBHOOKS, data={
        "csrf_token": token, "name": "HRIS", "url": "https://hris.example.com/in",
        "events": ["task.created", "record.written"]})
    assert made.status_code == 201
    secret = re.search(r'<code id="webhook-secret">(whsec_[0-9a-f]+)</code>', made.text)
    assert secret and "shown <strong>this once</strong>" in made.text
    [hook] = await integrations.webhooks()
    assert (hook.name, hook.url, hook.events, hook.secret) == (
        "HRIS", "https://hris.example.com/in", ["task.created", "record.written"],
        secret.group(1))
    again = (await client.get(WEBHOOKS)).text
    assert "HRIS" in again and secret.group(1) not in again


@pytest.mark.parametrize(("url", "says"), [
    ("http://hris.example.com/in", "must start with https://"),
    ("hris.example.com", "is not a web address"),
])
async def test_a_bad_address_is_refused_and_the_form_keeps_what_was_typed(
    client, people, login, page_csrf, url, says
) -> None:
    await login(people["hr"])
    token = await page_csrf(WEBHOOKS)
    answer = await client.post(WEBHOOKS, data={
        "csrf_token": token, "name": "HRIS", "url": url, "events": "task.completed"})
    assert answer.status_code == 400
    text = html.unescape(answer.text)
    assert says in text
    assert 'value="HRIS"' in answer.text and f'value="{url}"' in answer.text
    assert await integrations.webhooks() == []


async def test_the_log_shows_attempts_and_errors_and_retries_now(
    client, people, login, page_csrf
) -> None:
    made = await integrations.create_webhook("HRIS", "https://hris.example.com/in",
                                             ["task.created"], "H1")
    row = await integrations.send_test(made.webhook.id)
    for _ in range(deliveries.MAX_ATTEMPTS):
        # What the worker records after each refusal.
        row.attempts += 1
        row.last_status_code, row.last_error = 502, "HTTP 502: bad gateway"
    row.status, row.next_attempt_at = "failed", None
    await row.save()
    await login(people["hr"])
    log = (await client.get(f"/admin/deliveries?webhook={made.webhook.id}")).text
    assert "Delivery log: HRIS" in log
    assert f'<tr id="delivery-{row.id}"' in log
    assert f"{deliveries.MAX_ATTEMPTS} attempts · last answer 502" in log
    assert "HTTP 502: bad gateway" in log
    assert "&#34;event&#34;: &#34;sightline.test&#34;" in log or "sightline.test" in log
    token = await page_csrf("/admin/deliveries")
    done = await client.post(f"/admin/deliveries/{row.id}/retry", data={"csrf_token": token})
    assert done.status_code == 303
    again = await integrations.delivery(row.id)
    assert (again.status, again.attempts) == ("queued", 0)
    after = (await client.get(done.headers["location"])).text
    assert f"Delivery {row.id} is queued to be sent again now." in after


async def test_switching_off_and_deleting_a_webhook(client, people, login, page_csrf) -> None:
    made = await integrations.create_webhook("HRIS", "https://hris.example.com/in",
                                             ["task.created"], "H1")
    await login(people["hr"])
    token = await page_csrf(WEBHOOKS)
    hook = made.webhook.id
    await client.post(f"{WEBHOOKS}/{hook}/active", data={"csrf_token": token, "active": "0"})
    assert not (await integrations.webhook(hook)).active
    await client.post(f"{WEBHOOKS}/{hook}/test", data={"csrf_token": token})
    await client.post(f"{WEBHOOKS}/{hook}/delete", data={"csrf_token": token})
    assert await integrations.webhooks() == []
    [row] = (await integrations.delivery_log()).deliveries
    assert (row.status, row.last_error) == ("failed", "the webhook was deleted")


async def test_a_person_adds_their_own_slack_channel(client, people, login, page_csrf) -> None:
    await login(people["employee"])
    assert 'href="/account/chat"' in (await client.get("/account/password")).text
    token = await page_csrf("/account/chat")
    bad = await client.post("/account/chat", data={
        "csrf_token": token, "kind": "slack", "url": "http://hooks.slack.com/x"})
    assert bad.status_code == 400 and "https://" in html.unescape(bad.text)
    added = await client.post("/account/chat", data={
        "csrf_token": token, "kind": "slack", "url": "https://hooks.slack.com/services/T/B/x"})
    assert added.status_code == 303
    page = (await client.get("/account/chat")).text
    assert "The Slack channel is added." in page and "hooks.slack.com/services" in page
    # Hers alone: the organisation's channels are another list, HR's.
    assert await integrations.channels(None) == []


async def test_a_test_event_leads_to_that_webhooks_log(client, people, login, page_csrf) -> None:
    made = await integrations.create_webhook("HRIS", "https://hris.example.com/in",
                                             ["task.created"], "H1")
    await login(people["hr"])
    token = await page_csrf(WEBHOOKS)
    sent = await client.post(f"{WEBHOOKS}/{made.webhook.id}/test", data={"csrf_token": token})
    assert sent.headers["location"] == f"/admin/deliveries?webhook={made.webhook.id}"
    log = (await client.get(sent.headers["location"])).text
    assert "Delivery log: HRIS" in log and "A test event is queued" in log
