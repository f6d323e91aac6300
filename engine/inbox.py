"""What waits on whom: queries over the indexed human-task rows (never the workflows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import Q

from engine.directory import current_directory
from engine.errors import NotFound
from engine.models import HumanTask


@dataclass(frozen=True)
class TaskLine:
    """One open task as a line of text (the CLI's `tasks`)."""

    id: int
    name: str
    instance_id: int
    holder: str
    due_at: datetime | None

    def __str__(self) -> str:
        due = f" due {self.due_at:%Y-%m-%d}" if self.due_at else ""
        return f"{self.id:>6}  {self.name}  [instance {self.instance_id}]  -> {self.holder}{due}"


def actionable_filter(person_id: int, groups: set[str]) -> Q:
    """Open tasks this person holds, or may claim through a group or a candidate list."""
    q = Q(assignee_id=person_id)
    if groups:
        q |= Q(assignee_id=None, candidate_group__in=sorted(groups))
    return q & Q(status="ready")


async def open_tasks(person: str | int | None = None, limit: int = 500) -> list[TaskLine]:
    """Open tasks, optionally only those a person may act on."""
    directory = await current_directory()
    query = HumanTask.filter(status="ready")
    if person is not None:
        who = directory.person(person)
        if who is None:
            raise NotFound(f"no person '{person}' in the directory")
        query = HumanTask.filter(actionable_filter(who.id, set(who.groups)))
    rows = await query.order_by("due_at", "id").limit(limit)
    lines = []
    for row in rows:
        holder = "nobody"
        if row.assignee_id is not None:  # type: ignore[attr-defined]
            p = directory.person(row.assignee_id)  # type: ignore[attr-defined]
            holder = f"{p.name} ({p.key})" if p else f"person {row.assignee_id}"  # type: ignore[attr-defined]
        elif row.candidate_group:
            holder = f"group:{row.candidate_group}"
        lines.append(TaskLine(row.id, row.name, row.instance_id, holder, row.due_at))  # type: ignore[attr-defined]
    return lines
