"""The talent review, talent pools, talent profiles and succession pages: what HR does on
them, what the errors say, and 404 for everyone else."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from engine.base import clock
from engine.base.models import Cycle, Person, Position, Record, Successor, TalentPoolMember

ROOT = Path(__file__).resolve().parents[2]
LoginHelper = Callable[..., Awaitable[httpx.Response]]
TokenOf = Callable[[str], Awaitable[str]]


@pytest.fixture
async def org(db: str) -> Cycle:
    """The engineering team with the standard pack: Eve rated 4 with high potential, Eli
    proposed 3 with low potential; Morgan holds the key position Engineering lead."""
    from engine.operations.demo import create_logins
    from engine.packs.definitions import deploy_pack
    from engine.people.org_import import import_org
    from tests.support.org import TEAM

    report = await import_org(TEAM)
    assert not report.errors, report.errors
    await create_logins()
    await deploy_pack(ROOT / "processes" / "standard", "test", search=[ROOT / "processes"])
    cycle = await Cycle.create(name="2026 year-end")
    ids = {p.key: p.id for p in await Person.all()}
    for key, kind, data in (
        ("E1", "final_rating", {"rating": 4}), ("E1", "potential", {"potential": "high"}),
        ("E2", "proposed_rating", {"rating": 3}), ("E2", "potential", {"potential": "low"}),
        ("M1", "risk_of_loss", {"risk": "high", "impact": "high", "reasons": "Headhunted"}),
    ):
        await Record.create(kind=kind, person_id=ids[key], cycle=cycle, data=data)
    unit = (await Person.get(key="M1")).org_unit_id
    await Position.create(code="eng_lead", title="Engineering lead", is_key=True,
                          org_unit_id=unit, updated_at=clock.now())
    await Person.filter(key="M1").update(position="eng_lead")
    return cycle


async def _as(client: httpx.AsyncClient, login: LoginHelper, username: str) -> None:
    client.cookies.clear()
    assert (await login(username)).status_code == 303


async def _id(key: str) -> int:
    return (await Person.get(key=key)).id


async def test_hr_sees_the_nine_box_and_moves_someone_with_a_reason(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, org: Cycle
) -> None:
    await _as(client, login, "h1")
    page = await client.get("/hr/talent-review")
    assert page.status_code == 200
    assert "Future leader" in page.text and "Eve Employee" in page.text
    assert "Eli Other" in page.text and "1 person" in page.text
    token = await page_csrf("/hr/talent-review")
    eli = await _id("E2")
    answer = await client.post("/hr/talent-review/move", data={
        "csrf_token": token, "cycle": str(org.id), "population": "all", "person": str(eli),
        "box": "medium:medium", "reason": "Took over the on-call rota"})
    assert answer.status_code == 303
    page = await client.get(answer.headers["location"])
    assert "Eli Other moved on the 9-box." in page.text
    assert "Moved in this review" in page.text and "Took over the on-call rota" in page.text
    placement = await Record.get(kind="talent_placement", person_id=eli)
    assert placement.data["potential"] == "medium" and placement.data["from_potential"] == "low"
    # With htmx the answer is the grid alone, saying what moved.
    answer = await client.post("/hr/talent-review/move", headers={"HX-Request": "true"}, data={
        "csrf_token": token, "cycle": str(org.id), "population": "all", "person": str(eli),
        "box": "high:medium", "reason": "Second look"})
    assert answer.status_code == 200
    assert answer.text.lstrip().startswith("<section id=\"talent-grid\"")
    assert "Eli Other moved on the 9-box." in answer.text and "<html" not in answer.text


async def test_a_move_without_a_reason_is_refused_on_its_card_and_nothing_moves(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, org: Cycle
) -> None:
    await _as(client, login, "h1")
    token = await page_csrf("/hr/talent-review")
    answer = await client.post("/hr/talent-review/move", data={
        "csrf_token": token, "cycle": str(org.id), "population": "all",
        "person": str(await _id("E2")), "box": "high:high", "reason": "  "})
    assert answer.status_code == 422
    assert "Say why the person moves" in answer.text
    assert "Nothing was moved" in answer.text
    assert not await Record.filter(kind="talent_placement").exists()


async def test_talent_pages_are_hr_s_and_the_profile_is_never_the_person_s_own(
    client: httpx.AsyncClient, login: LoginHelper, org: Cycle
) -> None:
    for username in ("m1", "e1"):
        await _as(client, login, username)
        for path in ("/hr/talent-review", "/hr/talent-pools", "/succession"):
            assert (await client.get(path)).status_code == 404, (username, path)
    await _as(client, login, "e1")
    assert (await client.get("/talent/E1")).status_code == 404  # her own potential
    assert (await client.get("/talent/E2")).status_code == 404  # a peer's
    await _as(client, login, "m1")
    profile = await client.get("/talent/E1")
    assert profile.status_code == 200
    assert "Potential" in profile.text and "High" in profile.text
    assert "Moves on the 9-box" not in profile.text  # the meeting's moves are HR's


async def test_hr_builds_a_pool_adds_someone_with_a_reason_and_removes_them(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, org: Cycle
) -> None:
    await _as(client, login, "h1")
    token = await page_csrf("/hr/talent-pools")
    answer = await client.post("/hr/talent-pools", data={
        "csrf_token": token, "name": "Future leaders", "description": "Two years out"})
    assert answer.status_code == 303
    again = await client.post("/hr/talent-pools", data={"csrf_token": token,
                                                         "name": "Future leaders"})
    assert again.status_code == 422
    assert "There is a pool called Future leaders already" in again.text
    page = await client.get("/hr/talent-pools")
    pool_id = int(page.text.split('id="pool-')[1].split('"')[0])
    refused = await client.post(f"/hr/talent-pools/{pool_id}/members", data={
        "csrf_token": token, "person": "Eve Employee", "reason": ""})
    assert refused.status_code == 422 and "Say why they join the pool." in refused.text
    assert 'value="Eve Employee"' in refused.text  # what was typed is kept
    added = await client.post(f"/hr/talent-pools/{pool_id}/members", data={
        "csrf_token": token, "person": "Eve Employee", "reason": "Leads the guild"})
    assert added.status_code == 303
    page = await client.get("/hr/talent-pools")
    assert "Leads the guild" in page.text
    profile = await client.get("/talent/E1")
    assert "Future leaders" in profile.text
    eve = await _id("E1")
    removed = await client.post(f"/hr/talent-pools/{pool_id}/members/{eve}/remove",
                                data={"csrf_token": token})
    assert removed.status_code == 303
    assert not await TalentPoolMember.filter(person_id=eve).exists()


async def test_hr_plans_a_successor_sees_bench_strength_and_records_a_promotion(
    client: httpx.AsyncClient, login: LoginHelper, page_csrf: TokenOf, org: Cycle
) -> None:
    await _as(client, login, "h1")
    page = await client.get("/succession")
    assert "Engineering lead" in page.text and "No successor" in page.text
    assert "High risk of loss" in page.text  # Morgan, the incumbent
    token = await page_csrf("/succession")
    own = await client.post("/succession/eng_lead/successors", data={
        "csrf_token": token, "person": "Morgan Manager", "readiness": "ready_now"})
    assert own.status_code == 422 and "nobody succeeds to their own position" in own.text
    added = await client.post("/succession/eng_lead/successors", data={
        "csrf_token": token, "person": "Eve Employee", "readiness": "ready_now",
        "notes": "Leads the team when Morgan is away"})
    assert added.status_code == 303
    page = await client.get("/succession")
    assert "Covered: someone is ready now" in page.text and "Eve Employee" in page.text
    bad_date = await client.post("/succession/promotions", data={
        "csrf_token": token, "person": "Eve Employee", "to_position": "eng_lead",
        "effective_on": "soon"})
    assert bad_date.status_code == 422
    assert "Give the date the promotion takes effect." in bad_date.text
    promoted = await client.post("/succession/promotions", data={
        "csrf_token": token, "person": "Eve Employee", "to_position": "eng_lead",
        "effective_on": "2027-01-01", "note": "Morgan moves to the platform"})
    assert promoted.status_code == 303
    page = await client.get("/succession")
    assert "Morgan moves to the platform" in page.text
    assert not await Successor.exists()
    assert (await Person.get(key="E1")).position == "eng_lead"
    profile = await client.get("/talent/E1")
    assert "Engineering lead" in profile.text


async def test_the_talent_pages_speak_german(
    client: httpx.AsyncClient, login: LoginHelper, org: Cycle
) -> None:
    await _as(client, login, "h1")
    review = await client.get("/hr/talent-review", headers={"Accept-Language": "de"})
    assert "Talentrunde" in review.text and "Zukünftige Führungskraft" in review.text
    succession = await client.get("/succession", headers={"Accept-Language": "de"})
    assert "Schlüsselpositionen" in succession.text
    assert "Nachfolgestärke je Bereich" in succession.text
