"""Designer drafts: edits of a pack's files kept per designer until validated and deployed.

A designer edits BPMN, DMN, forms and the manifest in the browser. Each saved edit is a draft
row (one per designer per file); validation and previews run on the pack with the designer's
drafts laid over it (a working copy in a scratch folder, exactly as deploy will see it), and a
deploy writes the drafts into the pack folder on disk — so a consultant can commit them — then
stores the new versions.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path, PurePosixPath
from typing import Any

from engine.base import clock
from engine.base.errors import Conflict, EngineError, NotFound
from engine.base.models import DesignDraft, ProcessDefinition
from engine.packs.definitions import DeployReport, deploy_pack
from engine.packs.loading import Pack, discover_packs, installed_pack_folders, load_pack_leniently
from engine.packs.validation import Problem, validate_pack
from engine.packs.versions import VersionDiff, diff_versions

EDITABLE_SUFFIXES = (".bpmn", ".dmn", ".json", ".toml")
# One file of a pack; the whole-pack upload limit lives in settings.
MAX_DRAFT_CHARS = 2 * 1024 * 1024


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


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _disk_text(folder: Path, rel: str) -> str | None:
    target = folder / rel
    try:
        return target.read_text(encoding="utf-8") if target.is_file() else None
    except UnicodeDecodeError:
        return None


# --- drafts --------------------------------------------------------------------------------


async def save_draft_file(
    pack_name: str,
    path: str,
    designer_key: str,
    content: str,
    *,
    folders: Iterable[Path] | None = None,
) -> DesignDraft:
    """Keep `content` as the designer's draft of one pack file (created or replaced)."""
    rel = clean_draft_path(path)
    if len(content) > MAX_DRAFT_CHARS:
        raise DraftPathError(f"'{rel}' is larger than {MAX_DRAFT_CHARS} characters")
    folder = find_pack(pack_name, folders)
    existing = await DesignDraft.get_or_none(pack=pack_name, designer=designer_key, path=rel)
    if existing is not None:
        existing.content = content
        existing.updated_at = clock.now()
        await existing.save(update_fields=["content", "updated_at"])
        return existing
    on_disk = _disk_text(folder, rel)
    return await DesignDraft.create(
        pack=pack_name,
        path=rel,
        designer=designer_key,
        content=content,
        base_hash=_sha(on_disk) if on_disk is not None else "",
        updated_at=clock.now(),
    )


async def draft_files(pack_name: str, designer_key: str) -> dict[str, str]:
    """The designer's drafts of a pack: relative path -> content."""
    rows = await DesignDraft.filter(pack=pack_name, designer=designer_key).order_by("path")
    return {row.path: row.content for row in rows}


async def discard_draft(pack_name: str, designer_key: str, path: str | None = None) -> int:
    """Drop one drafted file (or every draft of the pack when `path` is None); returns count."""
    query = DesignDraft.filter(pack=pack_name, designer=designer_key)
    if path is not None:
        query = query.filter(path=clean_draft_path(path))
    return await query.delete()


# --- the working copy ----------------------------------------------------------------------


@dataclass
class WorkingCopy(Pack):
    """A pack with drafts laid over it, loaded from a scratch copy of its folder.

    `root` is the scratch folder (deleted when the working copy is garbage collected);
    `origin` is the real pack folder; `drafted` the paths the drafts changed.
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
    drafts: Mapping[str, str],
    available: Mapping[str, Path] | None = None,
) -> WorkingCopy:
    """The pack as the designer sees it: its folder copied with `drafts` written over it."""
    origin = Path(pack.root if isinstance(pack, Pack) else pack).resolve()
    if available is None:
        available = discover_packs([origin.parent, *pack_folders()])
    scratch = tempfile.TemporaryDirectory(prefix="sightline-draft-")
    root = Path(scratch.name) / origin.name
    shutil.copytree(origin, root, ignore=shutil.ignore_patterns(".*", "__pycache__"))
    cleaned = {clean_draft_path(rel): text for rel, text in drafts.items()}
    for rel, text in cleaned.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
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
    origin = find_pack(pack_name, folders)
    copy = working_copy(origin, await draft_files(pack_name, designer_key),
                        discover_packs([origin.parent, *folders]))
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
    """Validate the designer's drafts, write them into the pack folder, deploy, clear them."""
    folders = list(folders) if folders is not None else pack_folders()
    origin = find_pack(pack_name, folders)
    available = discover_packs([origin.parent, *folders])
    rows = await DesignDraft.filter(pack=pack_name, designer=designer_key).order_by("path")
    outcome = DeployOutcome(pack_name)
    drafts = {row.path: row.content for row in rows}
    _refuse_stale(origin, rows)
    copy = working_copy(origin, drafts, available)
    try:
        outcome.problems = await asyncio.to_thread(validate_pack, copy)
    finally:
        copy.close()
    if outcome.problems:
        return outcome
    before = await _latest_versions(pack_name)
    previous = _write_files(origin, drafts)
    try:
        report = await deploy_pack(origin, deployed_by=designer_key,
                                   search=[origin.parent, *folders])
    except BaseException:
        _restore_files(origin, previous)
        raise
    outcome.written = sorted(drafts)
    await _fill_versions(outcome, report, before)
    await DesignDraft.filter(id__in=[row.id for row in rows]).delete()
    return outcome


def _refuse_stale(origin: Path, rows: list[DesignDraft]) -> None:
    """Refuse to overwrite a file that changed on disk after the draft of it began."""
    stale = []
    for row in rows:
        on_disk = _disk_text(origin, row.path)
        current = _sha(on_disk) if on_disk is not None else ""
        if current != row.base_hash:
            stale.append(row.path)
    if stale:
        raise Conflict(
            f"{', '.join(stale)} changed since you began editing (someone deployed or edited"
            " it meanwhile); discard your draft of it, or copy your changes over the new one"
        )


def _write_files(origin: Path, drafts: Mapping[str, str]) -> dict[str, str | None]:
    """Write drafts into the pack folder (each file atomically); returns what was there."""
    previous: dict[str, str | None] = {}
    for rel, text in drafts.items():
        target = origin / rel
        previous[rel] = _disk_text(origin, rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(temp, target)
    return previous


def _restore_files(origin: Path, previous: Mapping[str, str | None]) -> None:
    for rel, text in previous.items():
        if text is None:
            (origin / rel).unlink(missing_ok=True)
        else:
            (origin / rel).write_text(text, encoding="utf-8")


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


__all__ = [
    "DeployOutcome",
    "DeployedVersion",
    "DraftPathError",
    "WorkingCopy",
    "clean_draft_path",
    "deploy_draft",
    "discard_draft",
    "draft_files",
    "find_pack",
    "save_draft_file",
    "validate_draft",
    "working_copy",
]
