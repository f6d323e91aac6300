"""Serve Sightline for the year-end browser test: `python year_end_app.py <sqlite file>`.

The organisation, logins and standard pack of live_app.py, plus one year-end appraisal for Eve
(E1) in the cycle "2026 year-end", started by HR with two agreed objectives so that her
self-appraisal table has rows. Prints `PORT <n>` once the server listens.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from live_app import ORG, ROOT, serve

CYCLE = "2026 year-end"
AGREED_OBJECTIVES = [
    {"kra": "Delivery", "title": "Ship the billing service", "kpi": "Services released",
     "measure_type": "higher_is_better", "baseline": 0, "target": 4, "weight": 60},
    {"kra": "People", "title": "Mentor two juniors", "kpi": "People mentored",
     "measure_type": "higher_is_better", "baseline": 0, "target": 2, "weight": 40},
]


async def prepare(database_url: str) -> None:
    """Schema, organisation, logins, the standard pack and Eve's year-end appraisal."""
    from engine import db, runtime
    from engine.definitions import deploy_pack
    from engine.demo import create_logins
    from engine.models import Cycle
    from engine.org_import import import_org

    await db.create_schema(database_url)
    try:
        report = await import_org(ORG)
        if report.errors:
            raise SystemExit(f"organisation did not import: {report.errors}")
        await create_logins()
        await deploy_pack(ROOT / "processes" / "standard", "test", search=[ROOT / "processes"])
        cycle = await Cycle.create(name=CYCLE)
        hr = await runtime.actor_for("H1")
        await runtime.start_process(
            "year_end_appraisal",
            subject="E1",
            actor=hr,
            cycle_id=cycle.id,
            data={"objectives": AGREED_OBJECTIVES},
        )
    finally:
        await db.disconnect()


def main(argv: list[str]) -> int:
    """Prepare the database named on the command line, then serve it until terminated."""
    database_url = f"sqlite://{Path(argv[1]).resolve()}"
    asyncio.run(prepare(database_url))
    serve(database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
