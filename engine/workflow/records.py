"""Records a process wrote earlier, and the start data a new process takes from them.

A pack says what a process starts with, e.g. the year-end appraisal starts with the objectives
the employee agreed at the start of the year:

    [processes.year_end_appraisal.start_data]
    objectives = "record:objectives.objectives"

`record:<kind>.<path>` is the value at `path` in the data of the subject's latest record of
that kind. A person without such a record starts without the key (the process decides what
that means).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


async def start_data_for(
    person_ids: Iterable[int], sources: Mapping[str, RecordSource]
) -> dict[int, dict[str, Any]]:
    """Per person, the start data the sources name (one query for everyone)."""
    ids = list(person_ids)
    out: dict[int, dict[str, Any]] = {pid: {} for pid in ids}
    if not sources or not ids:
        return out
    kinds = sorted({s.kind for s in sources.values()})
    latest: dict[tuple[int, str], Any] = {}
    rows = Record.filter(kind__in=kinds, person_id__in=ids).order_by("id")
    for person_id, kind, data in await rows.values_list("person_id", "kind", "data"):
        latest[(person_id, kind)] = data  # ordered by id: the last one wins
    for pid in ids:
        for key, source in sources.items():
            if (pid, source.kind) in latest:
                value = _pick(latest[(pid, source.kind)], source.path)
                if value is not _MISSING:
                    out[pid][key] = value
    return out
