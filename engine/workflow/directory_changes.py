"""Directory changes with their effects on running work: the org import and SCIM provisioning
both come through here.

The people room writes people, units and groups (engine.people.org_import); what a change
means for open tasks is this room's business, because only here are the packs' lanes known.
A leaver (someone a change made inactive) keeps no open task: each task they hold, or are
named a candidate of, is routed again by its lane's rule against the new directory — to the
leaver's successor in that lane, or to HR with a note saying why — and every moved task gets
an audit event on its instance's chain, plus one `person_left` event for the leaver.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engine.base.models import HumanTask, Person, ProcessInstance
from engine.packs.definitions import deployed
from engine.people import org_import
from engine.people.assignment import resolve_lane
from engine.people.directory import current_directory
from engine.workflow.store import Batch, apply

LEFT_ACTION = "person_left"
REROUTED_ACTION = "task_rerouted"


async def import_org_chart(
    csv_text: str, actor: str = "system:org-import"
) -> org_import.ImportReport:
    """`sightline org import`: the CSV import, then the leavers' open tasks re-routed."""
    report = await org_import.import_org(csv_text)
    if report.ok:
        await reroute_leavers(report.leavers, actor)
    return report


async def apply_directory_rows(
    header: list[str], rows: Iterable[org_import.RawRow], actor: str
) -> org_import.ImportReport:
    """Rows in the org import's columns (one per person), applied as the import applies a file,
    then the leavers' open tasks re-routed."""
    report = await org_import.import_rows(header, rows)
    if report.ok:
        await reroute_leavers(report.leavers, actor)
    return report


async def reroute_leavers(person_ids: Iterable[int], actor: str) -> int:
    """Route the open tasks of people who left again by their lanes; returns how many moved."""
    leavers = sorted(set(person_ids))
    if not leavers:
        return 0
    directory = await current_directory()
    names = dict(await Person.filter(id__in=leavers).values_list("id", "key"))
    wanted = {str(pid) for pid in leavers}
    tasks = [
        task
        for task in await HumanTask.filter(status="ready").values(
            "id", "instance_id", "lane", "assignee_id", "candidate_group", "candidates"
        )
        if task["assignee_id"] in leavers or wanted & {str(c) for c in task["candidates"] or ()}
    ]
    instances = {
        row["id"]: row
        for row in await ProcessInstance.filter(
            id__in=sorted({t["instance_id"] for t in tasks})
        ).values("id", "definition_id", "subject_id", "starter_id")
    }
    batch = Batch()
    moved: dict[int, list[int]] = {pid: [] for pid in leavers}
    for task in tasks:
        instance = instances[task["instance_id"]]
        dep = await deployed(instance["definition_id"])
        who = resolve_lane(
            task["lane"], dep.lanes, directory, instance["subject_id"], instance["starter_id"]
        )
        leaver = task["assignee_id"] if task["assignee_id"] in leavers else next(
            pid for pid in leavers if str(pid) in {str(c) for c in task["candidates"] or ()}
        )
        batch.update(
            HumanTask,
            {"id": task["id"], "status": "ready"},
            {
                "assignee_id": who.assignee_id,
                "candidate_group": who.candidate_group,
                "candidates": [str(c) for c in who.candidates],
                "routing_note": who.note,
            },
        )
        detail: dict[str, Any] = {
            "leaver": names.get(leaver, leaver),
            "from": _owner(task["assignee_id"], task["candidate_group"], directory),
            "to": _owner(who.assignee_id, who.candidate_group, directory),
        }
        if who.note:
            detail["note"] = who.note
        batch.audit(actor, REROUTED_ACTION, instance=task["instance_id"], task=task["id"],
                    detail=detail)
        moved[leaver].append(task["id"])
    for pid in leavers:
        batch.audit(actor, LEFT_ACTION, detail={"person": names.get(pid, pid),
                                                "tasks_rerouted": moved[pid]})
    await apply(batch)
    return len(tasks)


def _owner(person_id: int | None, group: str | None, directory: Any) -> str:
    """Who holds a task, as the audit trail says it: a person's key, a group, or several."""
    if person_id is not None:
        person = directory.person(person_id)
        return f"person:{person.key}" if person else f"person:{person_id}"
    if group:
        return f"group:{group}"
    return "several candidates"
