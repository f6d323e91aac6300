"""Which cycle a page shows: every cycle, newest first, and one cycle by id.

Each monitoring page offers the cycles at its top and shows `?cycle=<id>` or the newest one;
the engine's dashboards name the cycle they describe. Pages get these summaries rather than
rows, so the web app never holds a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from engine.base.errors import NotFound
from engine.base.models import Cycle


@dataclass(frozen=True)
class CycleSummary:
    """A performance cycle as pages name it."""

    id: int
    name: str
    starts_on: date | None
    due_on: date | None


def _summary(row: Cycle) -> CycleSummary:
    return CycleSummary(row.id, row.name, row.starts_on, row.due_on)


async def cycles_newest_first() -> list[CycleSummary]:
    """Every cycle, newest first (the choice offered at the top of each page)."""
    return [_summary(row) for row in await Cycle.all().order_by("-id")]


async def find_cycle(cycle_id: int) -> CycleSummary:
    """The cycle with this id; NotFound when there is none."""
    row = await Cycle.get_or_none(id=cycle_id)
    if row is None:
        raise NotFound(f"no cycle {cycle_id}")
    return _summary(row)
