"""Records a process wrote earlier, and the start data a new process takes from them.

A pack says what a process starts with, e.g. the year-end appraisal starts with the objectives
the employee agreed at the start of the year:

    [processes.year_end_appraisal.start_data]
    objectives = "record:objectives.objectives"

`record:<kind>.<path>` is the value at `path` in the data of the subject's latest record of
that kind. A person without such a record starts without the key (the process decides what
that means).

`progress:<kind>.<path>` names the same list of objectives with each one's latest in-year
actual and status merged in. What merges them is the performance layer's (it is handed in as
`with_progress`: engine.performance.latest_progress.merge_for_start); without it the
objectives come as the record holds them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from engine.base.models import Record
from engine.packs.loading import RecordSource


def _pick(data: Any, path: tuple[str, ...]) -> Any:
    for step in path:
        if not isinstance(data, Mapping) or step not in data:
            return _MISSING
        data = data[step]
    return data


_MISSING = object()

# (person id, cycle id of the record, when it was written, the objectives) → the objectives
# with their latest progress, for every such value at once.
ProgressMerge = Callable[
    [list[tuple[int, int | None, datetime | None, Any]]], Awaitable[list[Any]]
]


async def start_data_for(
    person_ids: Iterable[int],
    sources: Mapping[str, RecordSource],
    with_progress: ProgressMerge | None = None,
) -> dict[int, dict[str, Any]]:
    """Per person, the start data the sources name (one query for everyone)."""
    ids = list(person_ids)
    out: dict[int, dict[str, Any]] = {pid: {} for pid in ids}
    if not sources or not ids:
        return out
    kinds = sorted({s.kind for s in sources.values()})
    latest: dict[tuple[int, str], tuple[Any, int | None, datetime | None]] = {}
    rows = Record.filter(kind__in=kinds, person_id__in=ids).order_by("id")
    for person_id, kind, data, cycle_id, created_at in await rows.values_list(
        "person_id", "kind", "data", "cycle_id", "created_at"
    ):
        latest[(person_id, kind)] = (data, cycle_id, created_at)  # by id: the last one wins
    merging: list[tuple[int, str, tuple[int, int | None, datetime | None, Any]]] = []
    for pid in ids:
        for key, source in sources.items():
            if (pid, source.kind) in latest:
                data, cycle_id, created_at = latest[(pid, source.kind)]
                value = _pick(data, source.path)
                if value is _MISSING:
                    continue
                out[pid][key] = value
                if source.with_progress and with_progress is not None:
                    merging.append((pid, key, (pid, cycle_id, created_at, value)))
    if merging and with_progress is not None:
        merged = await with_progress([m[2] for m in merging])
        for (pid, key, _), value in zip(merging, merged, strict=True):
            out[pid][key] = value
    return out
