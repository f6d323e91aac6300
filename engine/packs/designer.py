"""Designer drafts: edits of a pack's files kept per designer until validated and deployed.

A designer edits BPMN, DMN, forms and the manifest in the browser. Each saved edit is a draft
row (one per designer per file, the bytes exactly as sent: line endings kept). The database is
the one source: a designer edits the pack as its latest deployed version holds it (the pack
folder only until its first deploy); validation and previews run on that pack with the
designer's drafts laid over it (a working copy in a scratch folder, exactly as deploy will see
it), and a deploy stores the new pack version and process versions in the database. No pack
folder is ever written: `sightline pack export` writes a version out where a consultant wants
it. After a deploy, the migrate page offers the open instances still on an older version.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from engine.base import clock
from engine.base.db import clears_on_connect
from engine.base.errors import Conflict, EngineError, NotFound
from engine.base.models import PackDraftFile, PackVersion, ProcessDefinition, ProcessInstance
from engine.packs.archive import write_pack_files
from engine.packs.definitions import (
    DeployReport,
    deploy_pack,
    latest_pack_version,
    version_files,
)
from engine.packs.loading import Pack, discover_packs, installed_pack_folders, load_pack_leniently
from engine.packs.validation import Problem, validate_pack
from engine.packs.versions import VersionDiff, diff_versions

EDITABLE_SUFFIXES = (".bpmn", ".dmn", ".json", ".toml")
# One file of a pack; the whole-pack upload limit lives in settings.
MAX_DRAFT_CHARS = 2 * 1024 * 1024
# An instance in these states has nothing left to migrate.
CLOSED_STATUSES = ("completed", "cancelled")
MAX_PROCESS_ID = 128  # ProcessDefinition.process_id's column


class DraftPathError(EngineError):
    """A draft names a file a designer may not write (outside the pack, or of another type)."""


def pack_folders() -> list[Path]:
    """The folders holding this installation's packs."""
    return installed_pack_folders()


def find_pack(pack_name: str, folders: Iterable[Path] | None = None) -> Path:
    """The folder of the pack named `pack_name`."""
    found = discover_packs(list(folders) if folders is not None else pack_folders())
    if pack_name not in found:
        raise NotFound(f"no pack named '{pack_name}'")
    return found[pack_name]


def clean_draft_path(path: str) -> str:
    """The path relative to the pack with forward slashes; DraftPathError if not editable."""
    if not path or "\\" in path or "\x00" in path:
        raise DraftPathError(f"'{path}' is not a file path inside the pack")
    pure = PurePosixPath(path)
    if pure.is_absolute() or (len(path) > 1 and path[1] == ":"):
        raise DraftPathError(f"'{path}' must be relative to the pack folder")
    parts = [p for p in pure.parts if p != "."]
    if not parts or any(p == ".." or p.startswith(".") for p in parts):
        raise DraftPathError(f"'{path}' is not a file path inside the pack")
    if pure.suffix not in EDITABLE_SUFFIXES:
        allowed = " ".join(EDITABLE_SUFFIXES)
        raise DraftPathError(f"'{path}': designers may edit only {allowed} files")
    return "/".join(parts)


def _sha(content: bytes | None) -> str:
    return hashlib.sha256(content).hexdigest() if content is not None else ""


def _as_bytes(content: bytes | str) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else bytes(content)


def file_bytes(pack: Pack, rel: str) -> bytes | None:
    """One file of a loaded pack exactly as stored, its own or inherited from the pack it
    extends (None when the pack has no such file)."""
    target = pack.files.get(rel)
    return target.read_bytes() if target is not None and target.is_file() else None


# --- the pack a designer starts from -------------------------------------------------------

# Pack versions never change once stored: each is written out once per process, on demand
# (keyed by row and content, and forgotten when another database is connected).
_written: dict[tuple[int, str], Path] = {}
clears_on_connect(_written.clear)
_written_root: tempfile.TemporaryDirectory[str] | None = None
_writing = threading.Lock()


def _version_folder(row: PackVersion) -> Path:
    with _writing:
        return _write_version_folder(row)


def _write_version_folder(row: PackVersion) -> Path:
    global _written_root
    found = _written.get((row.id, row.content_hash))
    if found is not None and found.is_dir():
        return found
    if _written_root is None:
        _written_root = tempfile.TemporaryDirectory(prefix="sightline-packs-")
    folder = Path(_written_root.name) / f"{row.id}-{row.content_hash[:16]}" / row.pack
    if folder.exists():
        shutil.rmtree(folder)
    write_pack_files(version_files(row), folder)
    _written[(row.id, row.content_hash)] = folder
    return folder


async def base_folder(pack_name: str, folders: Iterable[Path] | None = None) -> Path:
    """The folder holding the pack as designers edit it: its latest deployed version written
    out (read-only by convention), else the installed pack folder (never deployed yet)."""
    row = await latest_pack_version(pack_name)
    if row is not None:
        return await asyncio.to_thread(_version_folder, row)
    return find_pack(pack_name, folders)


async def base_pack(pack_name: str, folders: Iterable[Path] | None = None) -> Pack:
    """The pack as designers edit it (see `base_folder`), loaded leniently."""
    folders = list(folders) if folders is not None else pack_folders()
    root = await base_folder(pack_name, folders)
    return load_pack_leniently(root, discover_packs(folders))


# --- drafts --------------------------------------------------------------------------------


async def save_draft_file(
    pack_name: str,
    path: str,
    designer_key: str,
    content: bytes | str,
    *,
    folders: Iterable[Path] | None = None,
) -> PackDraftFile:
    """Keep `content` as the designer's draft of one pack file (created or replaced), byte
    for byte; text is stored as UTF-8."""
    rel = clean_draft_path(path)
    data = _as_bytes(content)
    if len(data) > MAX_DRAFT_CHARS:
        raise DraftPathError(f"'{rel}' is larger than {MAX_DRAFT_CHARS} bytes")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise DraftPathError(f"'{rel}' is not UTF-8 text") from None
    folder = await base_folder(pack_name, folders)
    existing = await PackDraftFile.get_or_none(pack=pack_name, designer=designer_key, path=rel)
    if existing is not None:
        existing.content = data
        existing.updated_at = clock.now()
        await existing.save(update_fields=["content", "updated_at"])
        return existing
    on_disk = folder / rel
    return await PackDraftFile.create(
        pack=pack_name,
        path=rel,
        designer=designer_key,
        content=data,
        base_hash=_sha(on_disk.read_bytes() if on_disk.is_file() else None),
        updated_at=clock.now(),
    )


async def draft_bytes(pack_name: str, designer_key: str) -> dict[str, bytes]:
    """The designer's drafts of a pack: relative path -> bytes exactly as saved."""
    rows = await PackDraftFile.filter(pack=pack_name, designer=designer_key).order_by("path")
    return {row.path: bytes(row.content) for row in rows}


async def draft_files(pack_name: str, designer_key: str) -> dict[str, str]:
    """The designer's drafts of a pack: relative path -> text (line endings kept)."""
    drafts = await draft_bytes(pack_name, designer_key)
    return {rel: data.decode("utf-8", errors="replace") for rel, data in drafts.items()}


async def discard_draft(pack_name: str, designer_key: str, path: str | None = None) -> int:
    """Drop one drafted file (or every draft of the pack when `path` is None); returns count."""
    query = PackDraftFile.filter(pack=pack_name, designer=designer_key)
    if path is not None:
        query = query.filter(path=clean_draft_path(path))
    return await query.delete()


# --- the working copy ----------------------------------------------------------------------


@dataclass
class WorkingCopy(Pack):
    """A pack with drafts laid over it, loaded from a scratch copy of its folder.

    `root` is the scratch folder (deleted when the working copy is garbage collected);
    `origin` is the folder it was copied from; `drafted` the paths the drafts changed.
    """

    origin: Path = Path()
    drafted: list[str] = field(default_factory=list)
    scratch: Any = field(default=None, repr=False)

    def close(self) -> None:
        """Remove the scratch folder now rather than when collected."""
        if self.scratch is not None:
            self.scratch.cleanup()


def working_copy(
    pack: Pack | Path,
    drafts: Mapping[str, bytes | str],
    available: Mapping[str, Path] | None = None,
) -> WorkingCopy:
    """The pack as the designer sees it: its folder copied with `drafts` written over it
    byte for byte."""
    origin = Path(pack.root if isinstance(pack, Pack) else pack).resolve()
    if available is None:
        available = discover_packs([origin.parent, *pack_folders()])
    scratch = tempfile.TemporaryDirectory(prefix="sightline-draft-")
    root = Path(scratch.name) / origin.name
    shutil.copytree(origin, root, ignore=shutil.ignore_patterns(".*", "__pycache__"))
    cleaned = {clean_draft_path(rel): _as_bytes(data) for rel, data in drafts.items()}
    for rel, data in cleaned.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    # The copy's own name must not shadow the real pack in `available` (extends lookups).
    loaded = load_pack_leniently(root, available)
    copy = WorkingCopy(**{f.name: getattr(loaded, f.name) for f in fields(Pack)})
    copy.origin = origin
    copy.drafted = sorted(cleaned)
    copy.scratch = scratch
    return copy


async def validate_draft(
    pack_name: str, designer_key: str, *, folders: Iterable[Path] | None = None
) -> list[Problem]:
    """Every problem of the pack with the designer's drafts applied; [] when deployable."""
    folders = list(folders) if folders is not None else pack_folders()
    origin = await base_folder(pack_name, folders)
    copy = working_copy(origin, await draft_bytes(pack_name, designer_key),
                        discover_packs(folders))
    try:
        # Parsing and checking a whole pack takes a while: off the event loop.
        return await asyncio.to_thread(validate_pack, copy)
    finally:
        copy.close()


# --- deploying -----------------------------------------------------------------------------


@dataclass
class DeployedVersion:
    """One process version a deploy stored, with what changed since the version before."""

    process_id: str
    version: int
    definition_id: int
    diff: VersionDiff | None  # None for a process deployed for the first time


@dataclass
class DeployOutcome:
    """What deploying a designer's drafts did: refused with problems, or the new versions."""

    pack: str
    problems: list[Problem] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    # The pack version the deploy stored (None when the files were as the latest version's).
    pack_version: int | None = None
    deployed: list[DeployedVersion] = field(default_factory=list)
    unchanged: list[tuple[str, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the drafts were deployed (even if no process changed)."""
        return not self.problems

    def summary(self) -> list[str]:
        """Human lines: the refusal's problems, or each new version and what changed."""
        if self.problems:
            return [f"not deployed: {len(self.problems)} problem(s)"] + [
                str(p) for p in self.problems
            ]
        lines = []
        for item in self.deployed:
            lines.append(f"{item.process_id}: deployed version {item.version}")
            if item.diff is not None:
                lines += [f"  {line}" for line in item.diff.summary()]
        lines += [f"{pid}: unchanged (version {v})" for pid, v in self.unchanged]
        return lines or ["nothing to deploy"]


async def deploy_draft(
    pack_name: str, designer_key: str, *, folders: Iterable[Path] | None = None
) -> DeployOutcome:
    """Validate the designer's drafts, deploy them (a new pack version and process versions
    in the database; no folder is written), clear them."""
    folders = list(folders) if folders is not None else pack_folders()
    origin = await base_folder(pack_name, folders)
    available = discover_packs(folders)
    rows = await PackDraftFile.filter(pack=pack_name, designer=designer_key).order_by("path")
    outcome = DeployOutcome(pack_name)
    drafts = {row.path: bytes(row.content) for row in rows}
    _refuse_stale(origin, rows)
    copy = working_copy(origin, drafts, available)
    try:
        outcome.problems = await asyncio.to_thread(validate_pack, copy)
        if outcome.problems:
            return outcome
        before = await _latest_versions(pack_name)
        report = await deploy_pack(copy.root, deployed_by=designer_key, search=folders)
    finally:
        copy.close()
    outcome.written = sorted(drafts)
    outcome.pack_version = report.pack_version
    await _fill_versions(outcome, report, before)
    await PackDraftFile.filter(id__in=[row.id for row in rows]).delete()
    return outcome


def _refuse_stale(origin: Path, rows: list[PackDraftFile]) -> None:
    """Refuse to overwrite a file that changed after the draft of it began (another deploy)."""
    stale = []
    for row in rows:
        target = origin / row.path
        if _sha(target.read_bytes() if target.is_file() else None) != row.base_hash:
            stale.append(row.path)
    if stale:
        raise Conflict(
            f"{', '.join(stale)} changed since you began editing (someone deployed it"
            " meanwhile); discard your draft of it, or copy your changes over the new one"
        )


async def _latest_versions(pack_name: str) -> dict[str, ProcessDefinition]:
    latest: dict[str, ProcessDefinition] = {}
    for row in await ProcessDefinition.filter(pack=pack_name).order_by("version"):
        latest[row.process_id] = row
    return latest


async def _fill_versions(
    outcome: DeployOutcome, report: DeployReport, before: Mapping[str, ProcessDefinition]
) -> None:
    outcome.unchanged = list(report.unchanged)
    for process_id, version in report.deployed:
        row = await ProcessDefinition.get(pack=outcome.pack, process_id=process_id,
                                          version=version)
        old = before.get(process_id)
        diff = diff_versions(old.sources, row.sources, process_id) if old else None
        outcome.deployed.append(DeployedVersion(process_id, version, row.id, diff))


# -- migrate ---------------------------------------------------------------------------------


@dataclass
class OlderInstance:
    """An open instance still running an older version of the process."""

    instance_id: int
    title: str
    subject_id: int | None
    version: int
    status: str
    started_at: datetime


@dataclass
class MigrationChoice:
    """The newest version of a process and the open instances on older ones."""

    target_definition_id: int
    target_version: int
    instances: list[OlderInstance]


async def migration_choice(pack: str, process_id: str) -> MigrationChoice | None:
    """The newest version of a process and its open instances on older versions (what the
    designer's migrate page offers); None when the process was never deployed."""
    if len(process_id) > MAX_PROCESS_ID:
        return None  # no process has such an id
    newest = (
        await ProcessDefinition.filter(pack=pack, process_id=process_id)
        .order_by("-version").first()
    )
    if newest is None:
        return None
    rows = (
        await ProcessInstance.filter(
            process_id=process_id, definition__pack=pack, status__not_in=CLOSED_STATUSES
        )
        .exclude(definition_id=newest.id)
        .order_by("id")
        .prefetch_related("definition")
    )
    instances = [
        OlderInstance(row.id, row.title, row.subject_id, row.definition.version,
                      row.status, row.started_at)
        for row in rows
    ]
    return MigrationChoice(newest.id, newest.version, instances)


__all__ = [
    "DeployOutcome",
    "DeployedVersion",
    "DraftPathError",
    "MigrationChoice",
    "OlderInstance",
    "WorkingCopy",
    "base_folder",
    "base_pack",
    "clean_draft_path",
    "deploy_draft",
    "discard_draft",
    "draft_bytes",
    "draft_files",
    "file_bytes",
    "find_pack",
    "migration_choice",
    "save_draft_file",
    "validate_draft",
    "working_copy",
]
