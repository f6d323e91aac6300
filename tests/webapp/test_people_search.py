"""The people picker in the web app: GET /people/search, and ACME's peer nomination using it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import lxml.html
import pytest

from engine.base.models import HumanTask
from engine.packs.definitions import deploy_pack
from engine.workflow import runtime

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ROOT / "processes"

ORG = """employee_id,name,email,title,org_unit_code,org_unit_name,manager_id,active,groups
D1,Dana Director,dana@example.com,Director,ORG,Head office,,,
M1,Morgan Manager,morgan@example.com,Team lead,SAL,Sales,D1,,
E1,Eve Employee,eve@example.com,Account executive,SAL,Sales,M1,,
P1,Pia Adams,pia@example.com,Account executive,SAL,Sales,M1,,
P2,Adam Park,paul@example.com,Sales engineer,ENG,Engineering,D1,,
P3,Adalyn Moss,amoss@example.com,,,,D1,,
P4,Aaron Kadar,aaron@example.com,Analyst,ENG,Engineering,D1,,
X1,Ada Gone,gone@example.com,Account executive,SAL,Sales,M1,no,
Q1,<b>Bob</b> & Co,bob@example.com,Tester <i>,ENG,Engineering,D1,,
H1,Hana HR,hana@example.com,HR partner,ORG,Head office,D1,,hr
"""

Login = Callable[..., Awaitable[httpx.Response]]
TokenOf = Callable[[str], Awaitable[str]]


@pytest.fixture
async def org(db: str) -> None:
    """ACME deployed on a small organisation with logins (one person inactive)."""
    from engine.operations.demo import create_logins
    from engine.people.org_import import import_org

    report = await import_org(ORG)
    assert not report.errors, report.errors
    await create_logins()
    await deploy_pack(PROCESSES / "acme", "test", search=[PROCESSES])


async def signed_in(client: httpx.AsyncClient, login: Login, username: str = "e1") -> None:
    answer = await login(username)
    assert answer.status_code == 303, answer.text


def suggestions(answer: httpx.Response) -> list[tuple[str, str]]:
    """(value, text) of each suggested <option>."""
    assert answer.status_code == 200, answer.text
    if not answer.text.strip():
        return []
    options = lxml.html.fragment_fromstring(answer.text, create_parent="datalist")
    return [(o.get("value"), o.text_content()) for o in options.iter("option")]


async def test_search_suggests_people_by_name_with_title_and_unit(
    client: httpx.AsyncClient, login: Login, org: None
) -> None:
    await signed_in(client, login)

    found = suggestions(await client.get("/people/search", params={"q": "ada"}))

    # Names starting with the text first, then a surname starting with it, then the rest.
    assert found == [
        ("P3", "Adalyn Moss"),
        ("P2", "Adam Park — Sales engineer, Engineering"),
        ("P1", "Pia Adams — Account executive, Sales"),
        ("P4", "Aaron Kadar — Analyst, Engineering"),
    ]


async def test_search_matches_employee_id_and_email_ignoring_case(
    client: httpx.AsyncClient, login: Login, org: None
) -> None:
    await signed_in(client, login)

    by_key = suggestions(await client.get("/people/search", params={"q": "p2"}))
    by_email = suggestions(await client.get("/people/search", params={"q": "PAUL@EXA"}))

    assert [key for key, _ in by_key] == ["P2"]
    assert [key for key, _ in by_email] == ["P2"]


async def test_search_reads_the_pickers_own_field(
    client: httpx.AsyncClient, login: Login, org: None
) -> None:
    """The picker's htmx request sends the input under its name, and `field` naming it."""
    await signed_in(client, login)
    field = "nominated_peers-0-employee"

    found = suggestions(
        await client.get("/people/search", params={"field": field, field: "Morgan"},
                         headers={"HX-Request": "true"})
    )

    assert found == [("M1", "Morgan Manager — Team lead, Sales")]


async def test_search_needs_two_characters(
    client: httpx.AsyncClient, login: Login, org: None
) -> None:
    await signed_in(client, login)
    for text in ("", "a", " a "):
        assert suggestions(await client.get("/people/search", params={"q": text})) == []
    assert suggestions(await client.get("/people/search")) == []


async def test_search_leaves_out_people_who_left(
    client: httpx.AsyncClient, login: Login, org: None
) -> None:
    await signed_in(client, login)
    found = suggestions(await client.get("/people/search", params={"q": "gone"}))
    assert found == []


async def test_search_shows_at_most_ten_people(
    client: httpx.AsyncClient, login: Login, org: None
) -> None:
    from engine.people.org_import import import_org

    rows = "".join(f"T{n:02},Terry Number {n:02},,,,,D1\n" for n in range(12))
    report = await import_org("employee_id,name,email,title,org_unit_code,org_unit_name,"
                              "manager_id\n" + rows)
    assert not report.errors, report.errors
    await signed_in(client, login)

    found = suggestions(await client.get("/people/search", params={"q": "terry"}))

    assert [key for key, _ in found] == [f"T{n:02}" for n in range(10)]


async def test_search_escapes_what_the_directory_holds(
    client: httpx.AsyncClient, login: Login, org: None
) -> None:
    await signed_in(client, login)

    answer = await client.get("/people/search", params={"q": "bob"})

    assert "<b>" not in answer.text and "<i>" not in answer.text
    assert "&lt;b&gt;Bob&lt;/b&gt; &amp; Co" in answer.text
    assert suggestions(answer) == [("Q1", "<b>Bob</b> & Co — Tester <i>, Engineering")]


async def test_search_needs_a_login(client: httpx.AsyncClient, org: None) -> None:
    answer = await client.get("/people/search", params={"q": "ada"})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=/people/search")
    htmx = await client.get("/people/search", params={"q": "ada"},
                            headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and "Adam" not in htmx.text


# --- ACME's peer nomination on the task page ----------------------------------------------


@pytest.fixture
async def nomination(org: None) -> HumanTask:
    """Eve's year-end appraisal started: her "Nominate peers" task."""
    hr = await runtime.actor_for("H1")
    instance = await runtime.start_process(
        "year_end_appraisal", subject="E1", actor=hr, data={"objectives": []}, pack="acme"
    )
    return await HumanTask.get(instance_id=instance.id, bpmn_id="nominate_peers", status="ready")


async def test_the_nomination_form_picks_peers_by_name(
    client: httpx.AsyncClient, login: Login, nomination: HumanTask
) -> None:
    await signed_in(client, login)

    page = await client.get(f"/tasks/{nomination.id}")

    assert page.status_code == 200
    assert "Start typing each one's name" in page.text
    doc = lxml.html.fromstring(page.text)
    [first] = doc.xpath("//input[@name='nominated_peers-0-employee']")
    assert first.get("placeholder") == "Start typing a name"
    [datalist] = doc.xpath(f"//datalist[@id='{first.get('list')}']")
    assert datalist.get("hx-get") == "/people/search"


async def test_an_unknown_employee_id_comes_back_with_the_typing_kept(
    client: httpx.AsyncClient, login: Login, page_csrf: TokenOf, nomination: HumanTask
) -> None:
    await signed_in(client, login)
    token = await page_csrf(f"/tasks/{nomination.id}")

    answer = await client.post(f"/tasks/{nomination.id}", data={
        "csrf_token": token, "_submit": "submit",
        "nominated_peers-0-employee": "P1", "nominated_peers-0-reason": "Key accounts",
        "nominated_peers-1-employee": "Z9", "nominated_peers-1-reason": "Demos",
    })

    assert answer.status_code == 422
    doc = lxml.html.fromstring(answer.text)
    assert "No one in the directory has the name or employee ID &#39;Z9&#39;." in answer.text
    assert doc.xpath("//input[@name='nominated_peers-1-employee']")[0].get("value") == "Z9"
    # A long text column wraps in a growing box (a textarea), keeping what was typed.
    assert doc.xpath("//textarea[@name='nominated_peers-1-reason']")[0].text == "Demos"
    assert doc.xpath("//*[@id='nominated_peers-0-employee-person']")[0].text_content() == (
        "Pia Adams — Account executive, Sales"
    )
    assert (await HumanTask.get(id=nomination.id)).status == "ready"


async def test_someone_who_left_cannot_be_nominated(
    client: httpx.AsyncClient, login: Login, page_csrf: TokenOf, nomination: HumanTask
) -> None:
    await signed_in(client, login)
    token = await page_csrf(f"/tasks/{nomination.id}")

    answer = await client.post(f"/tasks/{nomination.id}", data={
        "csrf_token": token, "_submit": "submit",
        "nominated_peers-0-employee": "P1", "nominated_peers-1-employee": "X1",
    })

    assert answer.status_code == 422
    assert "name or employee ID &#39;X1&#39;" in answer.text


async def test_live_validation_names_the_chosen_peer(
    client: httpx.AsyncClient, login: Login, page_csrf: TokenOf, nomination: HumanTask
) -> None:
    await signed_in(client, login)
    token = await page_csrf(f"/tasks/{nomination.id}")

    answer = await client.post(
        f"/tasks/{nomination.id}/validate",
        data={"csrf_token": token, "_field": "nominated_peers-0-employee",
              "nominated_peers-0-employee": "P2", "nominated_peers-1-employee": ""},
        headers={"HX-Request": "true"},
    )

    assert answer.status_code == 200
    doc = lxml.html.fromstring(answer.text)
    assert doc.xpath("//*[@id='nominated_peers-0-employee-person']")[0].text_content() == (
        "Adam Park — Sales engineer, Engineering"
    )
    assert doc.xpath("//datalist[@id='nominated_peers-0-employee-people']")


async def test_nominating_by_picked_ids_goes_on_to_the_feedback_round(
    client: httpx.AsyncClient, login: Login, page_csrf: TokenOf, nomination: HumanTask
) -> None:
    await signed_in(client, login)
    token = await page_csrf(f"/tasks/{nomination.id}")

    answer = await client.post(f"/tasks/{nomination.id}", data={
        "csrf_token": token, "_submit": "submit",
        "nominated_peers-0-employee": "P1", "nominated_peers-1-employee": "P2",
    })

    assert answer.status_code == 303, answer.text
    instance_id = nomination.instance_id
    peers = await HumanTask.filter(
        instance_id=instance_id, bpmn_id="give_peer_feedback", status="ready"
    ).values_list("assignee__key", flat=True)
    assert sorted(peers) == ["P1", "P2"]


async def test_pages_without_a_label_under_the_box_get_names_with_the_id(
    client: httpx.AsyncClient, login: Login, org: None
) -> None:
    await signed_in(client, login)
    found = suggestions(await client.get("/people/search", params={"q": "pia", "as": "name"}))
    assert found == [("Pia Adams (P1)", "Pia Adams — Account executive, Sales")]
