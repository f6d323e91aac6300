"""Deployed process versions: storing them (deploy) and keeping them parsed in memory."""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from engine.base import clock, i18n
from engine.base.db import clears_on_connect
from engine.base.errors import DeployError, EngineError, NotFound
from engine.base.models import PackVersion, ProcessDefinition
from engine.packs import specs
from engine.packs.archive import files_from_zip, files_zip, pack_files
from engine.packs.loading import Pack, catalogs_from_sources, discover_packs, load_pack
from engine.packs.translations import names_for_pages, pack_translations


@dataclass(frozen=True)
class Deployed:
    """One deployed version, parsed: what the runtime needs to run its instances."""

    id: int
    pack: str
    process_id: str
    version: int
    title: str
    lanes: dict[str, str]
    process_settings: dict[str, Any]
    sources: dict[str, str]
    built: Any  # specs.BuiltSpec
    catalogs: dict[str, Any] = field(default_factory=dict)

    def row_values(self) -> dict[str, Any]:
        """What `deployed_from` rebuilds this version from."""
        return {
            "id": self.id, "pack": self.pack, "process_id": self.process_id,
            "version": self.version, "title": self.title, "lanes": self.lanes,
            "process_settings": self.process_settings, "sources": self.sources,
        }


# Definition rows never change once stored, so a parsed version is cached for the process life.
_deployed: dict[int, Deployed] = {}
clears_on_connect(_deployed.clear)


def _as_deployed(row: ProcessDefinition) -> Deployed:
    settings = row.settings or {}
    return deployed_from(
        id=row.id,
        pack=row.pack,
        process_id=row.process_id,
        version=row.version,
        title=row.title,
        lanes=dict(settings.get("lanes", {})),
        process_settings=dict(settings.get("process", {})),
        sources=row.sources,
    )


def deployed_from(
    *,
    id: int,
    pack: str,
    process_id: str,
    version: int,
    title: str,
    lanes: dict[str, str],
    process_settings: dict[str, Any],
    sources: dict[str, str],
) -> Deployed:
    """A version parsed from what its row holds (another process rebuilds it from these)."""
    return Deployed(
        id=id,
        pack=pack,
        process_id=process_id,
        version=version,
        title=title,
        lanes=lanes,
        process_settings=process_settings,
        sources=sources,
        built=specs.build_spec(sources, process_id),
        catalogs=catalogs_from_sources(sources),
    )


async def deployed(definition_id: int) -> Deployed:
    """The parsed version by definition id (cached)."""
    found = _deployed.get(definition_id)
    if found is None:
        row = await ProcessDefinition.get_or_none(id=definition_id)
        if row is None:
            raise NotFound(f"no deployed process version {definition_id}")
        found = _deployed[definition_id] = _as_deployed(row)
    return found


# The deployed processes' names in a language, per set of newest versions: versions never
# change, so a new deploy (a new set) is the only thing that makes an entry stale.
_words: dict[tuple[tuple[int, ...], str], dict[str, str]] = {}
clears_on_connect(_words.clear)


async def deployed_words(language: str | None) -> dict[str, str]:
    """The names every deployed process translates for pages (`names_for_pages` of its newest
    version's translations/<language>.toml) — task names, process titles, lanes, catalog
    labels — merged, source text -> translation; empty for English or a language no pack
    speaks."""
    chosen = i18n.supported(language)
    if chosen is None or chosen == i18n.DEFAULT_LANGUAGE:
        return {}
    newest: dict[str, int] = {}
    for definition_id, process_id in await ProcessDefinition.all().order_by("id").values_list(
        "id", "process_id"
    ):
        newest[str(process_id)] = int(definition_id)
    key = (tuple(sorted(newest.values())), chosen)
    found = _words.get(key)
    if found is None:
        found = {}
        for definition_id in key[0]:
            found.update(names_for_pages(
                pack_translations((await deployed(definition_id)).sources, chosen)))
        if len(_words) > 64:
            _words.clear()
        _words[key] = found
    return found


async def latest(process_id: str, pack: str | None = None) -> Deployed:
    """The newest deployed version of a process (new instances use it).

    Packs may share process ids (a client pack overriding the standard one), so without a
    pack name the process must be deployed by exactly one pack.
    """
    query = ProcessDefinition.filter(process_id=process_id)
    if pack:
        query = query.filter(pack=pack)
    else:
        packs: list[str] = sorted(set(await query.values_list("pack", flat=True)))  # type: ignore[arg-type]
        if len(packs) > 1:
            raise EngineError(
                f"process '{process_id}' is deployed by several packs ({', '.join(packs)}):"
                " say which pack to use"
            )
    row = await query.order_by("-version").only("id").first()
    if row is None:
        where = f" in pack '{pack}'" if pack else ""
        raise NotFound(f"process '{process_id}' is not deployed{where}")
    return await deployed(row.id)


def _settings_for(pack: Pack, process_id: str) -> dict[str, Any]:
    proc = pack.processes.get(process_id)
    process: dict[str, Any] = {}
    if proc is not None:
        process = {
            "title": proc.title,
            "start": proc.start,
            "starters": list(proc.starters),
            **dict(getattr(proc, "extra", {}) or {}),
        }
    settings = {"lanes": dict(pack.lanes), "process": process, "pack_title": pack.title}
    # Pages read the deployed pack's [features]; conventional ids are not stored.
    features = pack.features.overrides()
    if features:
        settings["features"] = features
    return settings


def _version_hash(sources: dict[str, str], settings: dict[str, Any]) -> str:
    digest = hashlib.sha256(specs.content_hash(sources).encode())
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()


@dataclass
class DeployReport:
    """What a deploy stored and what it left alone."""

    pack: str
    deployed: list[tuple[str, int]] = field(default_factory=list)
    unchanged: list[tuple[str, int]] = field(default_factory=list)
    # The pack version this deploy stored (None when every file was as the latest one).
    pack_version: int | None = None

    def __str__(self) -> str:
        lines = [f"{pid}: deployed version {v}" for pid, v in self.deployed]
        lines += [f"{pid}: unchanged (version {v})" for pid, v in self.unchanged]
        if self.pack_version is not None:
            lines.append(f"files stored as pack version {self.pack_version}")
        return "\n".join([f"pack {self.pack}"] + ["  " + line for line in lines])


def pack_sources(pack: Pack, process_id: str) -> dict[str, str]:
    """Everything one version of a process needs: its files plus the pack's catalogs and
    translations (its texts in each reader's language travel with the version)."""
    sources = dict(specs.process_sources(pack, process_id))
    for rel in pack.files:
        if rel.startswith(("catalogs/", "translations/")) and rel.endswith(".toml"):
            sources[rel] = pack.read_text(rel)
    return sources


async def deploy_pack(
    path: Path, deployed_by: str = "system", search: list[Path] | None = None
) -> DeployReport:
    """Validate a pack, then store a new version of every process whose content changed."""
    from engine.packs.validation import validate_pack

    available = discover_packs(search or [path.parent])
    # Parsing and checking a whole pack takes a while: off the event loop.
    problems = await asyncio.to_thread(validate_pack, path, available=available)
    if problems:
        raise DeployError(
            f"pack {path.name} is not valid; nothing was deployed", [str(p) for p in problems]
        )
    pack = load_pack(path, available)
    files = pack_files(path)
    report = DeployReport(pack.name)
    async with in_transaction():
        for process_id in specs.executable_processes(pack):
            sources = pack_sources(pack, process_id)
            settings = _settings_for(pack, process_id)
            digest = _version_hash(sources, settings)
            last = (
                await ProcessDefinition.filter(pack=pack.name, process_id=process_id)
                .order_by("-version")
                .first()
            )
            if last is not None and last.content_hash == digest:
                report.unchanged.append((process_id, last.version))
                continue
            version = (last.version + 1) if last else 1
            title = settings["process"].get("title") or process_id.replace("_", " ").capitalize()
            await ProcessDefinition.create(
                pack=pack.name,
                process_id=process_id,
                version=version,
                content_hash=digest,
                title=title,
                pack_version=pack.version,
                sources=sources,
                settings=settings,
                deployed_by=deployed_by,
            )
            report.deployed.append((process_id, version))
        report.pack_version = await _store_pack_version(
            pack.name, files, [*report.deployed, *report.unchanged], deployed_by
        )
    return report


# --- pack versions: every file of a pack as a deploy stored it --------------------------------


def files_hash(files: dict[str, bytes]) -> str:
    """sha256 over every path and its bytes (the order of the mapping does not matter)."""
    digest = hashlib.sha256()
    for rel in sorted(files):
        digest.update(rel.encode() + b"\0" + hashlib.sha256(files[rel]).digest())
    return digest.hexdigest()


async def _store_pack_version(
    pack: str, files: dict[str, bytes], processes: list[tuple[str, int]], deployed_by: str
) -> int | None:
    """A new pack version holding `files`, unless the latest one holds exactly these."""
    digest = files_hash(files)
    last = await PackVersion.filter(pack=pack).order_by("-version").first()
    if last is not None and last.content_hash == digest:
        return None
    version = (last.version + 1) if last else 1
    await PackVersion.create(
        pack=pack,
        version=version,
        files=files_zip(files),
        content_hash=digest,
        processes=sorted([pid, v] for pid, v in processes),
        deployed_by=deployed_by,
        deployed_at=clock.now(),
    )
    return version


async def latest_pack_version(pack: str) -> PackVersion | None:
    """The newest stored version of a pack (None when it was never deployed)."""
    return await PackVersion.filter(pack=pack).order_by("-version").first()


async def pack_version(pack: str, version: int | None = None) -> PackVersion:
    """One stored version of a pack, the newest by default; NotFound saying what exists."""
    if version is None:
        row = await latest_pack_version(pack)
        if row is None:
            raise NotFound(f"pack '{pack}' has no deployed version")
        return row
    row = await PackVersion.get_or_none(pack=pack, version=version)
    if row is None:
        known = await PackVersion.filter(pack=pack).order_by("version").values_list(
            "version", flat=True)
        if not known:
            raise NotFound(f"pack '{pack}' has no deployed version")
        listed = ", ".join(str(v) for v in known)
        raise NotFound(f"pack '{pack}' has no version {version} (it has {listed})")
    return row


def version_files(row: PackVersion) -> dict[str, bytes]:
    """Every file of a stored pack version, byte for byte."""
    return files_from_zip(bytes(row.files))

