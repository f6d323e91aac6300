"""The deployed pack pages and dashboards read: its catalogs (rating scale, competencies …)
and its `[features]` (which process is the feedback process, which signal releases
calibration, which record kinds mean "final rating" …).

A cycle runs the processes of one pack: its pack is the one its instances were started from.
Outside a cycle — or for a cycle with no instance yet — the pack of the newest deployed
version is meant. Nothing deployed: no catalogs, and the conventional ids of the standard
pack (`Features()`).

A pack installed beside the performance pack to run a roll-out programme (its
`[features.rollout] process`) is never "the pack" these pages read: its versions and instances
are passed over, so deploying it changes nothing the cycle pages show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.base.db import clears_on_connect
from engine.base.models import ProcessDefinition, ProcessInstance
from engine.packs.loading import Features, catalogs_from_sources


@dataclass(frozen=True)
class DeployedPack:
    """What one deployed version says of its pack."""

    name: str
    features: Features = field(default_factory=Features)
    catalogs: dict[str, Any] = field(default_factory=dict)


NOTHING_DEPLOYED = DeployedPack(name="")

# Definition rows never change, so what they say of their pack is kept per definition id.
_by_definition: dict[int, DeployedPack] = {}
clears_on_connect(_by_definition.clear)


async def _of_definition(definition_id: int) -> DeployedPack:
    found = _by_definition.get(definition_id)
    if found is None:
        rows = await ProcessDefinition.filter(id=definition_id).values(
            "pack", "settings", "sources"
        )
        if not rows:
            return NOTHING_DEPLOYED
        row = rows[0]
        settings = row["settings"] if isinstance(row["settings"], dict) else {}
        features, _ = Features.from_table(settings.get("features"))
        found = _by_definition[definition_id] = DeployedPack(
            name=row["pack"],
            features=features,
            catalogs=catalogs_from_sources(row["sources"] or {}),
        )
    return found


# Rows read at a time while passing over roll-out programmes (there are only ever a few).
_PAGE = 16


async def _performance_pack(definition_id: int, process_id: str) -> DeployedPack | None:
    """The pack of a deployed version, None when that version is a roll-out programme."""
    pack = await _of_definition(definition_id)
    return None if process_id == pack.features.rollout.process else pack


async def newest_pack() -> DeployedPack:
    """The pack of the newest deployed version (what pages outside a cycle act on), passing
    over roll-out programmes."""
    offset = 0
    while True:
        rows = await ProcessDefinition.all().order_by("-id").offset(offset).limit(
            _PAGE).values_list("id", "process_id")
        for definition_id, process_id in rows:
            found = await _performance_pack(int(definition_id), str(process_id))
            if found is not None:
                return found
        if len(rows) < _PAGE:
            return NOTHING_DEPLOYED
        offset += _PAGE


async def cycle_pack(cycle_id: int | None) -> DeployedPack:
    """The pack the cycle runs (None: any cycle), else the newest deployed pack."""
    query = ProcessInstance.all()
    if cycle_id is not None:
        query = query.filter(cycle_id=cycle_id)
    # Any instance will do: a cycle launches the processes of one pack (a roll-out programme
    # running beside it is passed over).
    offset = 0
    while True:
        rows = await query.order_by("id").offset(offset).limit(_PAGE).values_list(
            "definition_id", "process_id")
        for definition_id, process_id in rows:
            found = await _performance_pack(int(definition_id), str(process_id))
            if found is not None:
                return found
        if len(rows) < _PAGE:
            return await newest_pack()
        offset += _PAGE


async def cycle_catalogs(cycle_id: int | None) -> dict[str, Any]:
    """The catalogs of the pack the cycle runs, else of the newest deployed pack."""
    return (await cycle_pack(cycle_id)).catalogs


async def current_features() -> Features:
    """The features of the newest deployed pack (the feedback and development pages)."""
    return (await newest_pack()).features
