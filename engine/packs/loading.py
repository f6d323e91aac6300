"""Process packs: a folder of BPMN, DMN, forms and catalogs with a pack.toml manifest.

A SpiffArena process-model folder (process_model.json) is accepted as a pack as it is.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from lxml import etree

MANIFEST = "pack.toml"
SPIFF_MANIFEST = "process_model.json"
NAME_PATTERN = re.compile(r"[a-z0-9-]+")
START_MODES = ("per-employee", "self")
# Lanes of a SpiffArena process-model folder without pack.toml all go to whoever started it.
SPIFF_DEFAULT_LANE = "starter"

_BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


class PackError(Exception):
    """A pack cannot be loaded; carries the file (relative to the pack) and line when known."""

    def __init__(self, message: str, file: str = MANIFEST, line: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class ProcessSettings:
    """How one startable process is offered: its title, who it is for and who may start it."""

    title: str
    start: str = "per-employee"
    starters: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The settings as the plain table they came from (stored with a deployed version)."""
        return {"title": self.title, "start": self.start, "starters": list(self.starters),
                **self.extra}


@dataclass
class Pack:
    """A loaded pack: manifest settings plus every file, after the `extends` merge."""

    name: str
    version: str
    title: str
    root: Path
    extends: str | None = None
    files: dict[str, Path] = field(default_factory=dict)
    lanes: dict[str, str] = field(default_factory=dict)
    processes: dict[str, ProcessSettings] = field(default_factory=dict)
    # True for a SpiffArena process-model folder (tests sit next to the BPMN, not in tests/).
    spiff_model: bool = False
    # Resolver for a lane the manifest does not name (SpiffArena folders only).
    default_lane: str | None = None
    # Problems met while loading leniently; load_pack raises the first one instead.
    problems: list[PackError] = field(default_factory=list, repr=False)
    # [processes] tables as written in this pack's own manifest, for merging over a parent.
    own_process_tables: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    def read_text(self, rel: str) -> str:
        """The text of one pack file by its relative path."""
        try:
            path = self.files[rel]
        except KeyError:
            raise PackError(f"no file {rel!r} in pack {self.name!r}", file=rel) from None
        return path.read_text(encoding="utf-8")

    def bpmn_files(self) -> list[str]:
        """Relative paths of every BPMN file, sorted."""
        return sorted(rel for rel in self.files if rel.endswith(".bpmn"))

    def dmn_files(self) -> list[str]:
        """Relative paths of every DMN file, sorted."""
        return sorted(rel for rel in self.files if rel.endswith(".dmn"))

    def form_files(self) -> list[str]:
        """Relative paths of every form JSON (forms/ and *-schema.json / *-uischema.json)."""
        return sorted(rel for rel in self.files if _is_form(rel))

    def test_files(self) -> list[str]:
        """Relative paths of the BPMN unit-test files (tests/test_*.json, or test_*.json at
        the root of a SpiffArena folder)."""
        found = []
        for rel in self.files:
            parts = PurePosixPath(rel)
            if not (parts.name.startswith("test_") and parts.suffix == ".json"):
                continue
            if parts.parts[0] == "tests" or (self.spiff_model and len(parts.parts) == 1):
                found.append(rel)
        return sorted(found)

    def catalog(self, name: str) -> dict[str, Any]:
        """catalogs/<name>.toml parsed (rating scales, competency frameworks ...)."""
        rel = f"catalogs/{name}.toml"
        if rel not in self.files:
            raise PackError(f"no catalog {name!r} in pack {self.name!r}", file=rel)
        return _parse_toml(self.read_text(rel), rel)

    def catalogs(self) -> dict[str, dict[str, Any]]:
        """Every catalog of the pack by name."""
        names = sorted(
            PurePosixPath(rel).stem
            for rel in self.files
            if rel.startswith("catalogs/") and rel.endswith(".toml") and rel.count("/") == 1
        )
        return {name: self.catalog(name) for name in names}

    def find_form(self, name: str, near: str | None = None) -> str | None:
        """Resolve a form filename: next to the BPMN file `near` first, then in forms/."""
        return find_form_path(self.files, name, near)


def find_form_path(files: Iterable[str], name: str, near: str | None = None) -> str | None:
    """The relative path `name` resolves to among `files`: beside `near`, then forms/."""
    available = set(files)
    candidates = []
    if near is not None:
        folder = PurePosixPath(near).parent
        candidates.append(str(folder / name) if str(folder) != "." else name)
    candidates.append(f"forms/{name}")
    for candidate in candidates:
        normal = _normalise(candidate)
        if normal in available:
            return normal
    return None


def load_pack(path: Path, available: Mapping[str, Path] | None = None) -> Pack:
    """Load the pack in folder `path`, resolving `extends` against `available` packs."""
    pack = load_pack_leniently(path, available)
    if pack.problems:
        raise pack.problems[0]
    return pack


def load_pack_leniently(path: Path, available: Mapping[str, Path] | None = None) -> Pack:
    """Load what can be loaded; problems are collected in `Pack.problems`, not raised."""
    return _load(Path(path).resolve(), dict(available or {}), ())


# The folders this installation keeps its packs in. The app and the CLI set them from their
# settings (the engine reads no settings of its own); the default is the repository's.
_installed_folders: list[Path] = [Path(__file__).resolve().parents[2] / "processes"]


def use_pack_folders(folders: Iterable[str | Path]) -> None:
    """Set the folders holding this installation's packs (settings.PACKS)."""
    _installed_folders[:] = [Path(f) for f in folders]


def installed_pack_folders() -> list[Path]:
    """The folders holding this installation's packs."""
    return list(_installed_folders)


def discover_packs(folders: Iterable[Path]) -> dict[str, Path]:
    """Every pack folder directly inside `folders`, by pack name; the first folder wins."""
    found: dict[str, Path] = {}
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for child in sorted(folder.iterdir()):
            if not child.is_dir():
                continue
            name = _declared_name(child)
            if name is not None and name not in found:
                found[name] = child.resolve()
    return found


def slugify(text: str) -> str:
    """A pack name from a folder name: lower case, runs of other characters become '-'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "pack"


# -- loading -------------------------------------------------------------------------------


def _declared_name(folder: Path) -> str | None:
    manifest = folder / MANIFEST
    if manifest.is_file():
        try:
            data = tomllib.loads(manifest.read_text(encoding="utf-8"))
            name = data.get("pack", {}).get("name")
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, AttributeError):
            name = None
        # A broken manifest still names a pack, so validation can report it.
        return name if isinstance(name, str) and name else slugify(folder.name)
    if (folder / SPIFF_MANIFEST).is_file():
        return slugify(folder.name)
    return None


def _load(root: Path, available: dict[str, Path], chain: tuple[str, ...]) -> Pack:
    if (root / MANIFEST).is_file():
        pack = _load_manifest(root)
    elif (root / SPIFF_MANIFEST).is_file():
        pack = _load_spiff_model(root)
    else:
        raise PackError(f"{root} is not a pack: it has no {MANIFEST} or {SPIFF_MANIFEST}")
    own_files = _folder_files(root)
    if pack.spiff_model and not (root / MANIFEST).is_file():
        pack.lanes = {lane: SPIFF_DEFAULT_LANE for lane in _lane_names(own_files)}
        pack.default_lane = SPIFF_DEFAULT_LANE
    if pack.name in chain:
        cycle = " -> ".join([*chain, pack.name])
        pack.problems.append(PackError(f"extends cycle: {cycle}", line=_line_of(root, "extends")))
        pack.files = own_files
        return pack
    if pack.extends is None:
        pack.files = own_files
        return pack
    parent_root = available.get(pack.extends)
    if parent_root is None:
        pack.problems.append(PackError(
            f"extends unknown pack {pack.extends!r}"
            f" (known: {', '.join(sorted(available)) or 'none'})",
            line=_line_of(root, "extends"),
        ))
        pack.files = own_files
        return pack
    parent = _load(Path(parent_root).resolve(), available, (*chain, pack.name))
    pack.problems[:0] = [
        PackError(f"in parent pack {parent.name!r}: {p.message}", p.file, p.line)
        for p in parent.problems
    ]
    pack.files = {**parent.files, **own_files}
    pack.lanes = {**parent.lanes, **pack.lanes}
    merged = {pid: settings.as_dict() for pid, settings in parent.processes.items()}
    for pid, table in pack.own_process_tables.items():
        merged[pid] = {**merged.get(pid, {}), **table}
    pack.processes = {pid: _process_settings(pid, table, []) for pid, table in merged.items()}
    if pack.default_lane is None:
        pack.default_lane = parent.default_lane
    return pack


def _load_manifest(root: Path) -> Pack:
    problems: list[PackError] = []
    try:
        data = _parse_toml((root / MANIFEST).read_text(encoding="utf-8"), MANIFEST)
    except PackError as error:
        problems.append(error)
        data = {}
    head = data.get("pack", {})
    if not isinstance(head, dict):
        problems.append(PackError("[pack] must be a table", line=_line_of(root, "pack")))
        head = {}
    name = head.get("name")
    if not isinstance(name, str) or not name:
        if data:
            problems.append(PackError("[pack].name is missing", line=_line_of(root, "pack")))
        name = slugify(root.name)
    elif not NAME_PATTERN.fullmatch(name):
        problems.append(PackError(
            f"[pack].name {name!r} must match [a-z0-9-]+", line=_line_of(root, "name")
        ))
    extends = head.get("extends")
    if extends is not None and not isinstance(extends, str):
        problems.append(PackError("[pack].extends must be a pack name",
                                  line=_line_of(root, "extends")))
        extends = None
    lanes: dict[str, str] = {}
    raw_lanes = data.get("lanes", {})
    if not isinstance(raw_lanes, dict):
        problems.append(PackError("[lanes] must be a table", line=_line_of(root, "lanes")))
        raw_lanes = {}
    for lane, resolver in raw_lanes.items():
        if isinstance(resolver, str):
            lanes[lane] = resolver
        else:
            problems.append(PackError(f"lane {lane!r}: the resolver must be a string",
                                      line=_line_of(root, lane)))
    processes: dict[str, ProcessSettings] = {}
    raw_processes = data.get("processes", {})
    if not isinstance(raw_processes, dict):
        problems.append(PackError("[processes] must be a table",
                                  line=_line_of(root, "processes")))
        raw_processes = {}
    for pid, table in raw_processes.items():
        errors: list[str] = []
        processes[pid] = _process_settings(pid, table, errors)
        problems.extend(PackError(f"[processes.{pid}]: {e}", line=_line_of(root, pid))
                        for e in errors)
    pack = Pack(
        name=name,
        version=str(head.get("version", "")),
        title=str(head.get("title", name)),
        root=root,
        extends=extends,
        lanes=lanes,
        processes=processes,
        spiff_model=(root / SPIFF_MANIFEST).is_file(),
        problems=problems,
        own_process_tables={k: v for k, v in raw_processes.items() if isinstance(v, dict)},
    )
    if pack.spiff_model and not processes:
        _add_spiff_primary(pack, root)
    return pack


def _load_spiff_model(root: Path) -> Pack:
    pack = Pack(name=slugify(root.name), version="", title=root.name, root=root,
                spiff_model=True)
    _add_spiff_primary(pack, root)
    return pack


def _add_spiff_primary(pack: Pack, root: Path) -> None:
    try:
        model = json.loads((root / SPIFF_MANIFEST).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        pack.problems.append(PackError(f"not valid JSON: {error.msg}", SPIFF_MANIFEST,
                                       error.lineno))
        return
    if not isinstance(model, dict):
        pack.problems.append(PackError("must be a JSON object", SPIFF_MANIFEST, 1))
        return
    title = model.get("display_name") or pack.title
    if pack.title == root.name:
        pack.title = title
    primary = model.get("primary_process_id")
    if not primary:
        pack.problems.append(PackError("primary_process_id is missing", SPIFF_MANIFEST, 0))
        return
    pack.processes[primary] = ProcessSettings(title=title, start="self")


_RECORD_SOURCE = re.compile(r"record:([a-z0-9_]+)((?:\.[A-Za-z0-9_]+)*)")


@dataclass(frozen=True)
class RecordSource:
    """Where one start-data key comes from."""

    kind: str
    path: tuple[str, ...]


def parse_start_data(table: Any) -> dict[str, RecordSource]:
    """The `start_data` table of a process's settings; ValueError names a bad entry."""
    if not table:
        return {}
    if not isinstance(table, Mapping):
        raise ValueError("start_data must be a table of key = \"record:<kind>.<path>\"")
    sources = {}
    for key, text in table.items():
        match = _RECORD_SOURCE.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(
                f"start_data.{key}: {text!r} is not of the form \"record:<kind>.<path>\""
            )
        path = tuple(p for p in match.group(2).split(".") if p)
        sources[key] = RecordSource(match.group(1), path)
    return sources



def _process_settings(pid: str, table: Any, errors: list[str]) -> ProcessSettings:
    if not isinstance(table, dict):
        errors.append("must be a table")
        return ProcessSettings(title=pid)
    extra = {k: v for k, v in table.items() if k not in ("title", "start", "starters")}
    start = table.get("start", "per-employee")
    if start not in START_MODES:
        errors.append(f"start must be one of {', '.join(START_MODES)}, not {start!r}")
    starters = table.get("starters", [])
    if not (isinstance(starters, list) and all(isinstance(s, str) for s in starters)):
        errors.append("starters must be a list of strings")
        starters = []
    try:
        parse_start_data(table.get("start_data"))
    except ValueError as error:
        errors.append(str(error))
    return ProcessSettings(title=str(table.get("title", pid)), start=str(start),
                           starters=list(starters), extra=extra)


def _parse_toml(text: str, rel: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"\(at line (\d+)", str(error))
        line = int(match.group(1)) if match else 0
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        raise PackError(f"invalid TOML: {message}", file=rel, line=line) from None


def _line_of(root: Path, key: str) -> int:
    """First line of pack.toml that mentions `key` as a key or table name (0 if none)."""
    try:
        lines = (root / MANIFEST).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return 0
    escaped = re.escape(key)
    pattern = re.compile(
        rf'^\s*(\[\[?\s*([\w.-]*\.)?["\']?{escaped}["\']?\s*\]|["\']?{escaped}["\']?\s*=)'
    )
    for number, line in enumerate(lines, start=1):
        if pattern.search(line):
            return number
    return 0


def _folder_files(root: Path) -> dict[str, Path]:
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or any(part.startswith(".") or part == "__pycache__"
                                     for part in rel.parts):
            continue
        if rel.as_posix() == MANIFEST:
            continue
        files[rel.as_posix()] = path
    return files


def _lane_names(files: Mapping[str, Path]) -> list[str]:
    names: set[str] = set()
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    for rel, path in files.items():
        if not rel.endswith(".bpmn"):
            continue
        try:
            root = etree.parse(str(path), parser).getroot()
        except etree.XMLSyntaxError:
            continue
        for lane in root.iter(f"{{{_BPMN_NS}}}lane"):
            if lane.get("name"):
                names.add(lane.get("name"))
    return sorted(names)


def _is_form(rel: str) -> bool:
    if not rel.endswith(".json"):
        return False
    name = PurePosixPath(rel).name
    return rel.startswith("forms/") or name.endswith("-schema.json") or name.endswith(
        "-uischema.json"
    )


def _normalise(rel: str) -> str:
    parts: list[str] = []
    for part in PurePosixPath(rel).parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)
