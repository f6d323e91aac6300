"""Demo data for `make run`: an organisation of about 60 people, logins, the packs, a cycle."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from engine.models import Cycle, Person, User

DEMO_PASSWORD = "sightline-demo"

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

    def add(title: str, unit: str, manager: str, family: str, groups: str = "", head=False) -> str:
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
            }
        )
        return key

    ceo = add("Chief Executive Officer", "EXEC", "", "people_manager", head=True)  # E1001
    cpo = add("Chief People Officer", "PEOPLE", ceo, "people_manager", "hr", head=True)  # E1002
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
    existing = set(await User.all().values_list("person_id", flat=True))
    users = [
        User(username=by_key.get(p.key, p.key.lower()), password_hash=hashed, person_id=p.id)
        for p in await Person.all()
        if p.id not in existing
    ]
    await User.bulk_create(users)


async def seed(pack_folders: list[Path]) -> None:
    """Import the organisation, create logins, deploy the packs and open a cycle."""
    from engine import runtime
    from engine.definitions import deploy_pack
    from engine.directory import current_directory
    from engine.org_import import import_org
    from engine.packs import discover_packs

    report = await import_org(demo_csv())
    if report.errors:
        raise RuntimeError("demo organisation did not import: " + "; ".join(report.errors))
    await create_logins()
    for path in discover_packs(pack_folders).values():
        await deploy_pack(Path(path), "demo", search=pack_folders)
    cycle, _ = await Cycle.get_or_create(name="2026 objectives")
    directory = await current_directory()
    hr = runtime.Actor(directory.person("E1003").id, "person:E1003")  # type: ignore[union-attr]
    for person in sorted(directory.people.values(), key=lambda p: p.key):
        if person.manager_id is None:
            continue
        await runtime.start_process(
            "objective_setting", subject=person.id, actor=hr, cycle_id=cycle.id
        )


def logins_text() -> str:
    """The demo logins, for the terminal."""
    lines = [f"Demo logins (password: {DEMO_PASSWORD}):"]
    for login, key, role in DEMO_LOGINS:
        lines.append(f"  {login:<10} {role} [{key}]")
    return "\n".join(lines)
