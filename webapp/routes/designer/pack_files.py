"""What every designer page shares: who may design, the packs and their files as the designer
sees them (the latest deployed version with the designer's drafts over it), and routing
problems in words for HR."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

from config import settings
from engine.base.errors import NotFound
from engine.packs import designer as drafts
from engine.packs import versions
from engine.packs.loading import Pack, PackError, discover_packs, load_pack_leniently
from engine.packs.specs import process_index
from webapp import i18n
from webapp.auth import Viewer, current_user

FORM_SUFFIX = "-schema.json"


UI_SUFFIX = "-uischema.json"


HUMAN_TASKS = ("bpmn:UserTask", "bpmn:ManualTask")


GATEWAYS = ("bpmn:ExclusiveGateway", "bpmn:InclusiveGateway")


MAX_PATH = 255  # DesignDraft.path's column, and a file name's bytes on most file systems


def require_designer(request: Request) -> Viewer:
    """The logged-in designer; anyone else gets 404 (the area does not exist for them)."""
    viewer = current_user(request)
    if not viewer.is_designer:
        raise HTTPException(404)
    return viewer


def pack_dirs() -> list[Path]:
    """The PACKS folders, read when asked (tests point them at a scratch copy)."""
    return [Path(folder) for folder in settings.PACKS]


def pack_folders() -> dict[str, Path]:
    """Every installed pack by name, from the PACKS folders."""
    return discover_packs([Path(folder) for folder in settings.PACKS])


async def load_pack(name: str) -> Pack:
    """The pack as designers edit it: its latest deployed version (else its folder)."""
    if name not in pack_folders():
        raise HTTPException(404)
    try:
        return await drafts.base_pack(name, pack_dirs())
    except (PackError, NotFound):
        raise HTTPException(404) from None


async def working_bytes(pack: Pack, path: str, viewer: Viewer) -> bytes:
    """The bytes the designer sees for one file: their draft, else the pack's file."""
    mine = await drafts.draft_bytes(pack.name, viewer.key)
    if path in mine:
        return mine[path]
    found = drafts.file_bytes(pack, path)
    if found is None:
        raise HTTPException(404)
    return found


async def working_file(pack: Pack, path: str, viewer: Viewer) -> str:
    """The text the designer sees for one file (line endings as stored)."""
    return (await working_bytes(pack, path, viewer)).decode("utf-8", errors="replace")


def line_endings_of(text: str, like: str | None) -> str:
    """`text` (from a textarea, which the browser sends with CRLF line breaks) with the line
    endings of `like` (the file it replaces): CRLF if that file used CRLF, else LF."""
    plain = text.replace("\r\n", "\n")
    return plain.replace("\n", "\r\n") if like is not None and "\r\n" in like else plain


def form_names(files: list[str] | set[str] | dict[str, Any]) -> list[str]:
    """The forms a pack offers, by name ("self-appraisal" for forms/self-appraisal-schema.json)."""
    return sorted(
        PurePosixPath(rel).name.removesuffix(FORM_SUFFIX)
        for rel in files
        if rel.endswith(FORM_SUFFIX) and not rel.endswith(UI_SUFFIX)
    )


def form_paths(pack: Pack, draft_paths: set[str], name: str) -> tuple[str, str]:
    """Relative paths of a form's schema and UI schema (404 for a form the pack lacks)."""
    if "/" in name or name not in form_names(set(pack.files) | draft_paths):
        raise HTTPException(404)
    schema = f"forms/{name}{FORM_SUFFIX}"
    if schema not in pack.files and schema not in draft_paths:
        schema = next(
            rel for rel in [*pack.files, *draft_paths] if rel.endswith(f"/{name}{FORM_SUFFIX}")
            or rel == f"{name}{FORM_SUFFIX}"
        )
    return schema, schema.removesuffix(FORM_SUFFIX) + UI_SUFFIX


@dataclass
class PackOverview:
    """One installed pack as the designer overview lists it."""

    name: str
    title: str
    version: str
    extends: str | None
    bpmn: list[str]
    dmn: list[str]
    forms: list[str]
    drafts: list[str]
    processes: list[tuple[str, list[Any]]] = field(default_factory=list)
    # process id -> the BPMN file defining it (to link each process to its editor)
    process_files: dict[str, str] = field(default_factory=dict)
    problem: str = ""


async def overview(name: str, folder: Path, folders: dict[str, Path], viewer: Viewer
                    ) -> PackOverview:
    try:
        pack = load_pack_leniently(folder, folders)
    except PackError as error:
        return PackOverview(name, name, "", None, [], [], [], [], problem=str(error))
    mine = await drafts.draft_files(pack.name, viewer.key)
    overview = PackOverview(
        name=pack.name,
        title=pack.title,
        version=pack.version,
        extends=pack.extends,
        bpmn=sorted(set(pack.bpmn_files()) | {p for p in mine if p.endswith(".bpmn")}),
        dmn=sorted(set(pack.dmn_files()) | {p for p in mine if p.endswith(".dmn")}),
        forms=form_names(set(pack.files) | set(mine)),
        drafts=sorted(mine),
    )
    try:
        overview.process_files = process_index(pack)
    except PackError:
        overview.process_files = {}
    for process_id in sorted(pack.processes):
        try:
            history = await versions.version_history(name, process_id)
        except NotFound:
            history = []
        overview.processes.append((process_id, history))
    return overview


UNMAPPED_LANE = re.compile(r"lane '(?P<lane>.+)' is not mapped in \[lanes\] of pack\.toml")


def plain_problem(problem: Any) -> str:
    """A validation problem about routing in words for HR ("" for the others, whose message
    already says it): who would get the task, why, and what to do."""
    message = str(getattr(problem, "message", ""))
    found = UNMAPPED_LANE.fullmatch(message)
    if found:
        lane = found.group("lane")
        return i18n.gettext(
            "Nobody is named for the lane “%(lane)s”, so its tasks would go to HR. Say who "
            "works in it under [lanes] in pack.toml, e.g. \"%(lane)s\" = \"subject.manager\".",
            lane=lane)
    if message.startswith("resolver ") and str(getattr(problem, "file", "")).endswith(".toml"):
        lane = str(getattr(problem, "element_id", ""))
        return i18n.gettext(
            "The pack's rule for who works in the lane “%(lane)s” cannot be read, so its tasks "
            "would go to HR. Use subject, subject.manager, group:<name> or "
            "person:<employee ID>.", lane=lane)
    return ""
