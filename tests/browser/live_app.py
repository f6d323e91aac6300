"""Serve Sightline for the browser tests: `python live_app.py <sqlite file> [scenario]`.

Prepares a fresh database — a five-person organisation with logins and the standard pack, then
the scenario's processes: `objectives` (objective setting for both employees), `year-end`
(Eve's year-end appraisal with two agreed objectives) or `year-end-unagreed` (the same with
none agreed, so she lists them) — and serves the real app with uvicorn
on a free 127.0.0.1 port, printing `PORT <n>` once it listens. Run as its own process so the
browser tests never share an event loop or a Tortoise connection with the rest of the suite.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path
from typing import Any

import uvicorn

from tests.support.org import TEAM as ORG

ROOT = Path(__file__).resolve().parents[2]

AGREED_OBJECTIVES = [
    {"kra": "Delivery", "title": "Ship the billing service", "kpi": "Services released",
     "measure_type": "higher_is_better", "baseline": 0, "target": 4, "weight": 60},
    {"kra": "People", "title": "Mentor two juniors", "kpi": "People mentored",
     "measure_type": "higher_is_better", "baseline": 0, "target": 2, "weight": 40},
]


async def start_objectives(hr: Any) -> None:
    """An objective-setting cycle for both employees."""
    from engine.base.models import Cycle
    from engine.workflow import runtime

    cycle = await Cycle.create(name="2026 objectives")
    for employee in ("E1", "E2"):
        await runtime.start_process("objective_setting", subject=employee, actor=hr,
                                    cycle_id=cycle.id)


async def start_year_end(hr: Any) -> None:
    """Eve's year-end appraisal, with the objectives she agreed at the start of the year."""
    from engine.base.models import Cycle
    from engine.workflow import runtime

    cycle = await Cycle.create(name="2026 year-end")
    await runtime.start_process("year_end_appraisal", subject="E1", actor=hr,
                                cycle_id=cycle.id, data={"objectives": AGREED_OBJECTIVES})


async def start_year_end_without_objectives(hr: Any) -> None:
    """Eve's year-end appraisal with no agreed objectives: she lists and weighs them herself."""
    from engine.base.models import Cycle
    from engine.workflow import runtime

    cycle = await Cycle.create(name="2026 year-end")
    await runtime.start_process("year_end_appraisal", subject="E1", actor=hr, cycle_id=cycle.id)


SCENARIOS = {
    "objectives": start_objectives,
    "year-end": start_year_end,
    "year-end-unagreed": start_year_end_without_objectives,
}


async def prepare(database_url: str, scenario: str = "objectives") -> None:
    """Schema, organisation, logins, the standard pack, then the scenario's processes."""
    from engine.base import db
    from engine.operations.demo import create_logins
    from engine.packs.definitions import deploy_pack
    from engine.people.org_import import import_org
    from engine.workflow import runtime

    await db.create_schema(database_url)
    try:
        report = await import_org(ORG)
        if report.errors:
            raise SystemExit(f"organisation did not import: {report.errors}")
        await create_logins()
        await deploy_pack(ROOT / "processes" / "standard", "test", search=[ROOT / "processes"])
        await SCENARIOS[scenario](await runtime.actor_for("H1"))
    finally:
        await db.disconnect()


def serve(database_url: str) -> None:
    """Serve the app on a port the OS picks; announce it on stdout."""
    from webapp.app import create_app

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    # Listening before uvicorn starts: early connections wait in the backlog, not refused.
    listener.listen(128)
    config = uvicorn.Config(
        create_app(database_url, start_workers=False), log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    print(f"PORT {port}", flush=True)
    server.run(sockets=[listener])


def main(argv: list[str]) -> int:
    """Prepare the database named on the command line, then serve it until terminated."""
    database_url = f"sqlite://{Path(argv[1]).resolve()}"
    asyncio.run(prepare(database_url, argv[2] if len(argv) > 2 else "objectives"))
    serve(database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
