"""Demo data for `make run`: an organisation of about 60 people, logins, the packs, a cycle."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

from engine.base import clock
from engine.base.models import HumanTask, Person, User
from engine.packs.definitions import latest

DEMO_PASSWORD = "sightline-demo"
DEMO_PACK = "standard"

# (login, employee id, what they do in the demo)
DEMO_LOGINS = [
    ("employee", "E1021", "employee (software engineer, reports to the manager)"),
    ("manager", "E1009", "manager (engineering manager, Product Team)"),
    ("hradmin", "E1003", "HR admin"),
    ("designer", "E1005", "process designer"),
]

_FIRST = (
    "Ada Grace Alan Barbara Edsger Frances Donald Margaret Ken Radia Linus Katherine Dennis "
    "Hedy John Joan Tim Sophie Guido Karen Brian Lynn Niklaus Anita Bjarne Shafi Leslie Mary "
    "Vint Jean Andrew Ruth Yukihiro Evelyn Ward Susan Bob Carol Whitfield Lois Ivan Marissa "
    "Claude Ellen Seymour Annie Fran Peter Sally Kristen Ole Dana Jim Hal Mira Omar Priya"
).split()
_LAST = (
    "Lovelace Hopper Turing Liskov Dijkstra Allen Knuth Hamilton Thompson Perlman Torvalds "
    "Johnson Ritchie Lamarr Backus Clarke Berners-Lee Wilson Rossum Jones Kernighan Conway "
    "Wirth Borg Stroustrup Goldwasser Lamport Keller Cerf Sammet Tanenbaum Teitelbaum "
    "Matsumoto Berson Cunningham Kare Metcalfe Shaw Diffie Haibt Sutherland Mayer Shannon "
    "Spertus Papert Easley Grimm Norvig Floyd Nygaard Nygaard Scott Gray Abelson Patel Haddad "
    "Raman Okafor"
).split()


def _org_rows() -> list[dict[str, str]]:
    """A realistic hierarchy: CEO, four departments, team leads, HR business partners."""
    rows: list[dict[str, str]] = []
    counter = iter(range(1001, 2000))

    def add(
        title: str, unit: str, manager: str, family: str, groups: str = "", head: bool = False
    ) -> str:
        n = next(counter)
        i = n - 1001
        key = f"E{n}"
        first, last = _FIRST[i % len(_FIRST)], _LAST[(i * 7) % len(_LAST)]
        rows.append(
            {
                "employee_id": key,
                "name": f"{first} {last}",
                "email": f"{first}.{last}@example.com".lower().replace("-", ""),
                "title": title,
                "job_family": family,
                "org_unit_code": unit,
                "org_unit_name": _UNITS[unit][0],
                "parent_org_unit_code": _UNITS[unit][1],
                "manager_id": manager,
                "groups": groups,
                "unit_head": "yes" if head else "",
                "unit.hr_partner": _HR_PARTNERS.get(unit, ""),
            }
        )
        return key

    ceo = add("Chief Executive Officer", "EXEC", "", "people_manager", head=True)  # E1001
    cpo = add("Chief People Officer", "PEOPLE", ceo, "people_manager", "hr;compensation",
              head=True)  # E1002
    add("HR Administrator", "PEOPLE", cpo, "individual_contributor", "hr")  # E1003 hradmin
    add("HR Business Partner", "PEOPLE", cpo, "individual_contributor", "hr")  # E1004
    add("HR Systems Designer", "PEOPLE", cpo, "individual_contributor", "designer;hr")  # E1005
    add("HR Business Partner", "PEOPLE", cpo, "individual_contributor", "hr")  # E1006
    cto = add("VP Engineering", "ENG", ceo, "people_manager", head=True)  # E1007
    leads = [
        add("Engineering Manager, Platform", "ENG-PLAT", cto, "people_manager", head=True),  # E1008
        add("Engineering Manager, Product", "ENG-PROD", cto, "people_manager", head=True),  # E1009
    ]
    add("Principal Engineer", "ENG", cto, "engineering")  # E1010
    for n, lead in enumerate(leads):
        unit = ("ENG-PLAT", "ENG-PROD")[n]
        for k in range(8):
            add(("Software Engineer", "Senior Software Engineer", "QA Engineer")[k % 3], unit,
                lead, "engineering")
    vps = add("VP Sales", "SALES", ceo, "people_manager", head=True)
    for region in ("SALES-N", "SALES-S"):
        rm = add(f"Regional Sales Manager, {_UNITS[region][0]}", region, vps, "people_manager",
                 head=True)
        for _ in range(6):
            add("Account Executive", region, rm, "sales")
    coo = add("Director of Operations", "OPS", ceo, "people_manager", head=True)
    for k in range(7):
        add(("Operations Analyst", "Finance Analyst", "Facilities Coordinator")[k % 3], "OPS",
            coo, "individual_contributor")
    # Added later, so the keys above (the demo logins among them) stay as they were.
    cfo = add("Finance Director", "FIN", ceo, "people_manager", head=True)  # E1050
    for k in range(5):
        add(("Accountant", "Financial Analyst", "Payroll Specialist")[k % 3], "FIN", cfo,
            "finance")
    cs = add("Customer Success Lead", "OPS-CS", coo, "people_manager", head=True)  # E1056
    for _ in range(4):
        add("Customer Success Manager", "OPS-CS", cs, "customer_success")
    return rows


_UNITS = {
    "EXEC": ("Executive Office", ""),
    "PEOPLE": ("People & Culture", "EXEC"),
    "ENG": ("Engineering", "EXEC"),
    "ENG-PLAT": ("Platform Team", "ENG"),
    "ENG-PROD": ("Product Team", "ENG"),
    "SALES": ("Sales", "EXEC"),
    "SALES-N": ("North", "SALES"),
    "SALES-S": ("South", "SALES"),
    "OPS": ("Operations", "EXEC"),
    "OPS-CS": ("Customer Success", "OPS"),
    "FIN": ("Finance", "EXEC"),
}

# HR business partners by unit (lanes like subject.org_unit.hr_partner, and who sees whom).
_HR_PARTNERS = {
    **dict.fromkeys(("ENG", "ENG-PLAT", "ENG-PROD"), "E1004"),
    **dict.fromkeys(("SALES", "SALES-N", "SALES-S"), "E1006"),
}


def demo_csv() -> str:
    """The demo organisation as an org-import CSV."""
    rows = _org_rows()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


async def is_empty() -> bool:
    """Whether the directory has nobody in it yet."""
    return not await Person.exists()


def _password_hash(password: str) -> str:
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


async def create_logins(password: str = DEMO_PASSWORD) -> None:
    """A login for every person (username = lower-case employee id; demo logins by role)."""
    hashed = _password_hash(password)
    by_key = {key: login for login, key, _ in DEMO_LOGINS}
    # Person ids (Tortoise types a flat values_list as tuples).
    existing: set[Any] = set(await User.all().values_list("person_id", flat=True))
    users = [
        User(username=by_key.get(p.key, p.key.lower()), password_hash=hashed, person_id=p.id)
        for p in await Person.all()
        if p.id not in existing
    ]
    await User.bulk_create(users)


async def seed(pack_folders: list[Path]) -> list[str]:
    """Import the organisation, create logins, deploy the standard pack, launch demo cycles.

    Returns a line per launch. Some drafts are submitted so every demo login finds work: the
    manager has reviews waiting and HR a review the CEO has nobody to send to.
    """
    from engine.base.errors import NotFound
    from engine.operations.demo_history import seed_history
    from engine.operations.demo_positions import seed_demo_positions
    from engine.operations.demo_talent import seed_demo_talent
    from engine.packs.definitions import deploy_pack
    from engine.packs.loading import discover_packs
    from engine.people.org_import import import_org
    from engine.performance.cycles import Population, launch_cycle
    from engine.workflow import runtime

    report = await import_org(demo_csv())
    if report.errors:
        raise RuntimeError("demo organisation did not import: " + "; ".join(report.errors))
    await create_logins()
    # The standard pack only: client packs reuse its process ids, and the demo is its showcase.
    packs = discover_packs(pack_folders)
    if DEMO_PACK not in packs:
        raise RuntimeError(f"the {DEMO_PACK} pack is not in {', '.join(map(str, pack_folders))}")
    await deploy_pack(Path(packs[DEMO_PACK]), "demo", search=pack_folders)
    await seed_history()  # earlier closed year-ends, so HR's trends across cycles have a past
    hr = await runtime.actor_for("E1003")
    today = clock.now().date()
    everyone = Population.of_unit("EXEC")
    objectives = await launch_cycle(
        "objective_setting", everyone, cycle_name=f"{today.year} objectives",
        due_on=today + timedelta(days=30), actor=hr,
    )
    lines = [" ".join(objectives.summary_lines()[:2])]
    # A goal tree the demo objectives support (engine/operations/demo_goals.py).
    from engine.operations.demo_goals import record_demo_actuals, seed_goal_tree

    await seed_goal_tree(objectives.cycle_id)
    # Three of the manager's reports and the CEO have drafted: their reviews are waiting (the
    # CEO's with HR, having no manager). Everyone else agreed theirs, so the year-end's
    # self-appraisals start from agreed objectives.
    waiting = ("E1019", "E1020", "E1022", "E1001")
    for key in waiting:
        await _submit_draft(key)
    for person in await Person.all().order_by("key"):
        if person.key not in waiting:
            await _agree_objectives(person.key, person.name, hr)
    await record_demo_actuals(objectives.cycle_id)
    # A few weeks of in-year progress for the manager's team, one objective at risk.
    from engine.performance.progress import seed_demo_progress

    await seed_demo_progress(objectives.cycle_id, "E1009", "E1021")
    # A weekly 1:1 between the manager and a report: two meetings held, an action carried over.
    from engine.performance.one_on_ones import seed_demo as seed_demo_one_on_one

    await seed_demo_one_on_one("E1009", "E1021")
    # Praise in the recognition feed, and feedback for the employee: one answered, one waiting.
    from engine.operations.demo_recognition import seed_demo_recognition

    await seed_demo_recognition()
    from engine.operations.demo_training import seed_demo_training

    lines += await seed_demo_training()  # courses, sessions, completions, evaluations
    lines += await seed_demo_positions()  # positions and competency evidence: gap heat maps
    await seed_demo_talent()  # potential, risk of loss, a talent pool, successors
    # The roll-out pack beside the standard one: a programme three steps in (/rollout).
    from engine.operations.demo_rollout import seed_demo_rollout

    lines += filter(None, [await seed_demo_rollout(pack_folders)])
    try:
        await latest("year_end_appraisal")
    except NotFound:
        return lines
    year_end = await launch_cycle(
        "year_end_appraisal", everyone, cycle_name=f"{today.year} year-end",
        due_on=today + timedelta(days=60), actor=hr,
    )
    lines.append(" ".join(year_end.summary_lines()[:2]))
    return lines


async def _submit_draft(key: str) -> None:
    """Submit a first set of objectives for the person, as they would on the form."""
    from engine.workflow import runtime

    actor = await runtime.actor_for(key)
    task = await HumanTask.get_or_none(
        subject_id_cache=actor.person_id, bpmn_id="draft_objectives", status="ready"
    )
    if task is None:
        return
    from engine.operations.demo_goals import objectives_for

    mine = await objectives_for(key, DEMO_OBJECTIVES)
    await runtime.complete_task(task.id, actor, {"objectives": mine, "comments": ""})


async def _agree_objectives(key: str, name: str, hr: Any) -> None:
    """Run the person's objective setting to its end: drafted, approved by whoever reviews it
    (their manager; HR for someone without one), acknowledged."""
    from engine.workflow import runtime

    actor = await runtime.actor_for(key)
    for _ in range(5):
        task = await HumanTask.get_or_none(
            subject_id_cache=actor.person_id, process_id="objective_setting", status="ready")
        if task is None:
            return
        holder = (await runtime.actor_for(task.assignee_id)
                  if task.assignee_id is not None else hr)
        step = _objective_step(task.bpmn_id, holder, name)
        if task.bpmn_id == "draft_objectives":
            from engine.operations.demo_goals import objectives_for

            step["objectives"] = await objectives_for(key, DEMO_OBJECTIVES)
        await runtime.complete_task(task.id, holder, step)


def _objective_step(bpmn_id: str, holder: Any, name: str) -> dict[str, Any]:
    if bpmn_id == "draft_objectives":
        return {"objectives": DEMO_OBJECTIVES, "comments": ""}
    if bpmn_id == "review_objectives":
        return {"decision": "approve", "manager_comments": "Agreed."}
    return {"acknowledgement": {
        "acknowledged": True, "name": name, "signer_id": holder.person_id,
        "signed_at": clock.now().isoformat(), "comment": "",
    }}


DEMO_OBJECTIVES = [
    {"kra": "Delivery", "title": "Ship the customer portal", "kpi": "Release date",
     "measure_type": "higher_is_better", "baseline": 0, "target": 1, "weight": 60},
    {"kra": "Quality", "title": "Cut escaped defects", "kpi": "Defects per release",
     "measure_type": "lower_is_better", "baseline": 12, "target": 4, "weight": 40},
]


def logins_text() -> str:
    """The demo logins, for the terminal."""
    lines = [f"Demo logins (password: {DEMO_PASSWORD}):"]
    for login, key, role in DEMO_LOGINS:
        lines.append(f"  {login:<10} {role} [{key}]")
    return "\n".join(lines)
