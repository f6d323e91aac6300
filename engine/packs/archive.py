"""Packs as zip files: export a pack folder or a deployed version, import an uploaded zip.

An import is untrusted input from a browser upload. Everything is checked before a single file
lands in the packs folder: archive size, total unpacked size and compression ratio (zip
bombs), entry names (zip-slip: `..`, absolute paths, drive letters, backslashes), symbolic
links, file types, XML without DTDs or entities (XXE, billion laughs). File types are told by
suffix without regard to case — `evil.BPMN` is XML and checked as such — and two entries whose
names differ only in case are refused (on a case-insensitive disk one would overwrite the
other after both were checked). The pack is unpacked into a scratch folder, validated there,
and moved into place only when valid.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from lxml import etree

from engine.base.errors import EngineError
from engine.base.models import ProcessDefinition
from engine.packs.loading import (
    MANIFEST,
    SPIFF_MANIFEST,
    discover_packs,
    load_pack_leniently,
    slugify,
)

# What a pack may hold: the pack format's files, plus Markdown notes (in any case: .BPMN too).
ALLOWED_SUFFIXES = (".bpmn", ".dmn", ".json", ".toml", ".md")
# Files parsed as XML, so checked for DTDs and entities.
XML_SUFFIXES = (".bpmn", ".dmn")
MAX_FILES = 500
# Text packs compress about 5-10x; far beyond that the archive is built to blow up.
MAX_RATIO = 100
# Unpacked size allowed per byte of the upload limit.
UNPACKED_FACTOR = 4
# Clutter that archivers add and nobody means to import.
_SKIPPED = re.compile(r"(^|/)(__MACOSX/|\.DS_Store$|Thumbs\.db$)", re.IGNORECASE)
_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def suffix_of(name: str) -> str:
    """A file name's suffix in lower case: every check by file type goes through it."""
    return PurePosixPath(name).suffix.lower()


class ArchiveRejected(EngineError):
    """An uploaded pack was refused; nothing was written. `problems` lists validation issues."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


@dataclass
class ImportResult:
    """A pack imported into place."""

    name: str
    path: Path
    files: list[str] = field(default_factory=list)
    spiff_model: bool = False
    replaced: bool = False


# --- export --------------------------------------------------------------------------------


def export_pack(path: Path) -> bytes:
    """A zip of the pack folder's own files under one top folder named after the folder."""
    root = Path(path).resolve()
    return _zip(root.name, pack_files(root))


def pack_files(path: Path) -> dict[str, bytes]:
    """The pack folder's own files (the pack format's types, no hidden ones), byte for byte."""
    root = Path(path).resolve()
    if not ((root / MANIFEST).is_file() or (root / SPIFF_MANIFEST).is_file()):
        raise EngineError(f"{root} is not a pack: it has no {MANIFEST} or {SPIFF_MANIFEST}")
    files = {}
    for file in sorted(root.rglob("*")):
        rel = file.relative_to(root)
        if file.is_symlink() or not file.is_file():
            continue
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        if suffix_of(file.name) in ALLOWED_SUFFIXES:
            files[rel.as_posix()] = file.read_bytes()
    return files


def zip_files(top: str, files: Mapping[str, bytes]) -> bytes:
    """Files (relative path -> bytes) zipped under one top folder, as `export_pack` does."""
    return _zip(top, files)


def files_zip(files: Mapping[str, bytes]) -> bytes:
    """Files (relative path -> bytes) as a zip without a top folder; same files, same bytes."""
    return _zip("", files)


def files_from_zip(data: bytes) -> dict[str, bytes]:
    """The files `files_zip` stored, byte for byte."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()
                if not info.is_dir()}


class ExportRefused(EngineError):
    """A pack version cannot be written where asked; nothing was written."""


def write_pack_files(files: Mapping[str, bytes], folder: Path, *, force: bool = False) -> Path:
    """Write `files` into `folder` byte for byte (line endings kept).

    An existing non-empty folder is refused unless `force`, which replaces its contents. The
    files are written into a scratch folder beside it first and moved into place whole, so a
    failure leaves the folder as it was.
    """
    target = Path(folder).absolute()
    if target.exists() and not target.is_dir():
        raise ExportRefused(f"{target} exists and is not a folder")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise ExportRefused(
            f"{target} is not empty; choose an empty or new folder, or replace its contents"
            " with --force"
        )
    for rel in files:
        _check_name(rel)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for rel, content in files.items():
            (staged / rel).parent.mkdir(parents=True, exist_ok=True)
            (staged / rel).write_bytes(content)
        if target.exists():
            aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.replace(target, aside / target.name)
            os.replace(staged, target)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.replace(staged, target)
    finally:
        if staged.exists():
            shutil.rmtree(staged, ignore_errors=True)
    return target


def export_version(definition: ProcessDefinition) -> bytes:
    """A zip of one deployed version: its sources plus a pack.toml with its frozen settings."""
    settings = definition.settings or {}
    process = {k: v for k, v in (settings.get("process") or {}).items() if v is not None}
    manifest: dict[str, Any] = {
        "pack": {
            "name": definition.pack,
            "version": definition.pack_version or f"v{definition.version}",
            "title": settings.get("pack_title") or definition.pack,
        },
        "lanes": settings.get("lanes") or {},
        "processes": {definition.process_id: process or {"title": definition.title}},
    }
    files = {rel: text.encode("utf-8") for rel, text in definition.sources.items()}
    files[MANIFEST] = toml_text(manifest).encode("utf-8")
    return _zip(f"{definition.pack}-{definition.process_id}-v{definition.version}", files)


def _zip(top: str, files: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for rel in sorted(files):
            # A fixed timestamp: exporting the same pack twice gives the same bytes.
            name = f"{top}/{rel}" if top else rel
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            archive.writestr(info, files[rel])
    return buffer.getvalue()


def toml_text(data: Mapping[str, Any]) -> str:
    """TOML for the manifest: nested tables of strings, numbers, booleans and lists."""
    lines: list[str] = []
    _toml_table(data, [], lines)
    return "\n".join(lines).strip() + "\n"


def _toml_table(table: Mapping[str, Any], path: list[str], lines: list[str]) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, Mapping)}
    tables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    if path and (scalars or not tables):
        lines += ["", "[" + ".".join(_toml_key(p) for p in path) + "]"]
    for key, value in scalars.items():
        lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in tables.items():
        _toml_table(value, [*path, key], lines)


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{" + inner + "}"
    return json.dumps(str(value), ensure_ascii=False)


# --- import --------------------------------------------------------------------------------


def import_pack(
    data: bytes,
    into: Path,
    *,
    max_bytes: int,
    max_files: int = MAX_FILES,
    name: str | None = None,
    replace: bool = False,
    search: Iterable[Path] = (),
) -> ImportResult:
    """Check, unpack and validate a zipped pack, then move it to `into/<pack name>`.

    `name` names a SpiffArena process model zipped without a top folder; `replace` lets the
    import overwrite a pack of the same name; `search` holds packs it may extend.
    Raises ArchiveRejected with the reason; on any rejection nothing is written.
    """
    into = Path(into)
    if len(data) > max_bytes:
        raise ArchiveRejected(
            f"the archive is {len(data):,} bytes; the limit is {max_bytes:,} bytes"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        raise ArchiveRejected("the file is not a zip archive") from None
    with archive:
        entries = _checked_entries(archive, max_bytes * UNPACKED_FACTOR, max_files)
        prefix, spiff_model = _pack_prefix([e.filename for e in entries])
        contents = {
            entry.filename[len(prefix):]: _read_entry(archive, entry) for entry in entries
        }
    for rel, content in contents.items():
        _check_content(rel, content)
    pack_name = _pack_name(contents, prefix, name)
    target = into / pack_name
    if target.exists() and not replace:
        raise ArchiveRejected(
            f"a pack folder '{pack_name}' already exists in {into}; import with replace"
            " to overwrite it"
        )
    with tempfile.TemporaryDirectory(prefix="sightline-import-") as scratch:
        staged = Path(scratch) / pack_name
        for rel, content in contents.items():
            (staged / rel).parent.mkdir(parents=True, exist_ok=True)
            (staged / rel).write_bytes(content)
        staged.mkdir(exist_ok=True)
        _validate_staged(staged, pack_name, [into, *search])
        into.mkdir(parents=True, exist_ok=True)
        replaced = target.exists()
        _move_into_place(staged, target)
    return ImportResult(pack_name, target, sorted(contents), spiff_model, replaced)


def _checked_entries(
    archive: zipfile.ZipFile, max_unpacked: int, max_files: int
) -> list[zipfile.ZipInfo]:
    """The archive's file entries, after checking names, links, types and sizes."""
    entries = []
    total = 0
    seen: dict[str, str] = {}
    for info in archive.infolist():
        name = info.filename
        _check_name(name)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ArchiveRejected(f"'{name}' is a symbolic link; links are not allowed in a pack")
        if info.is_dir() or _SKIPPED.search(name):
            continue
        if any(part.startswith(".") for part in PurePosixPath(name).parts):
            raise ArchiveRejected(f"'{name}': hidden files are not allowed in a pack")
        if suffix_of(name) not in ALLOWED_SUFFIXES:
            raise ArchiveRejected(
                f"'{name}' is not a pack file: only {' '.join(ALLOWED_SUFFIXES)} files are"
                " allowed"
            )
        if info.flag_bits & 0x1:
            raise ArchiveRejected(f"'{name}' is encrypted")
        twin = seen.setdefault(name.casefold(), name)
        if twin != name:
            raise ArchiveRejected(
                f"'{twin}' and '{name}' differ only in case; a pack may hold only one of them"
            )
        entries.append(info)
        if len(entries) > max_files:
            raise ArchiveRejected(f"the archive holds more than {max_files} files")
        total += info.file_size
        if total > max_unpacked:
            raise ArchiveRejected(
                f"the archive unpacks to more than {max_unpacked:,} bytes"
            )
        if info.file_size > 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise ArchiveRejected(
                f"'{name}' is compressed {info.file_size // max(info.compress_size, 1)}:1;"
                " an archive compressed this much is refused as a zip bomb"
            )
    if not entries:
        raise ArchiveRejected("the archive holds no pack files")
    return entries


def _check_name(name: str) -> None:
    """Refuse any entry name that could land outside the pack folder."""
    outside = f"'{name}' would be written outside the pack folder"
    if "\\" in name:
        raise ArchiveRejected(f"{outside} (backslash in the name)")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise ArchiveRejected(f"{outside} (absolute path)")
    parts = PurePosixPath(name).parts
    if ".." in parts:
        raise ArchiveRejected(f"{outside} ('..' in the path)")
    if "\x00" in name:
        raise ArchiveRejected(f"'{name}' is not a valid file name")


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The entry's bytes, never more than its header declares (headers can lie)."""
    with archive.open(info) as stream:
        content = stream.read(info.file_size + 1)
    if len(content) > info.file_size:
        raise ArchiveRejected(f"'{info.filename}' is larger than its archive entry declares")
    return content


def _pack_prefix(names: list[str]) -> tuple[str, bool]:
    """The folder in the archive that holds the pack ('' for the root); and whether it is a
    SpiffArena process model."""
    for manifest, spiff in ((MANIFEST, False), (SPIFF_MANIFEST, True)):
        if manifest in names:
            return "", spiff
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1:
        top = tops.pop() + "/"
        for manifest, spiff in ((MANIFEST, False), (SPIFF_MANIFEST, True)):
            if top + manifest in names:
                return top, spiff or (top + SPIFF_MANIFEST) in names
    raise ArchiveRejected(
        f"no {MANIFEST} or {SPIFF_MANIFEST} at the top of the archive (or in its one top folder)"
    )


def _check_content(rel: str, content: bytes) -> None:
    """Text files must be UTF-8; XML must parse without DTDs, entities or network access."""
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        raise ArchiveRejected(f"'{rel}' is not UTF-8 text") from None
    if suffix_of(rel) not in XML_SUFFIXES:
        return
    if _DOCTYPE.search(content):
        raise ArchiveRejected(
            f"'{rel}' declares a DOCTYPE or entities; XML with DTDs is refused (entities can"
            " read server files or expand without bound)"
        )
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False)
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as error:
        raise ArchiveRejected(f"'{rel}' is not well-formed XML: {error.msg}") from None
    if root.getroottree().docinfo.doctype:
        raise ArchiveRejected(f"'{rel}' declares a DOCTYPE; XML with DTDs is refused")


def _pack_name(contents: Mapping[str, bytes], prefix: str, name: str | None) -> str:
    if MANIFEST in contents:
        import tomllib

        try:
            declared = tomllib.loads(contents[MANIFEST].decode("utf-8")).get("pack", {})
        except (tomllib.TOMLDecodeError, AttributeError) as error:
            raise ArchiveRejected(f"{MANIFEST} is not valid TOML: {error}") from None
        pack_name = declared.get("name") if isinstance(declared, dict) else None
        if not isinstance(pack_name, str) or not re.fullmatch(r"[a-z0-9-]+", pack_name):
            raise ArchiveRejected(f"{MANIFEST} must name the pack with [pack].name ([a-z0-9-]+)")
        return pack_name
    if name:
        return slugify(name)
    if prefix:
        return slugify(prefix.rstrip("/"))
    try:
        model = json.loads(contents[SPIFF_MANIFEST])
    except json.JSONDecodeError:
        model = {}
    label = model.get("display_name") if isinstance(model, dict) else None
    if not label:
        raise ArchiveRejected("name the imported process model: it has no folder or display_name")
    return slugify(str(label))


def _validate_staged(staged: Path, pack_name: str, search: Iterable[Path]) -> None:
    from engine.packs.validation import validate_pack

    available = {k: v for k, v in discover_packs(search).items() if k != pack_name}
    available[pack_name] = staged
    try:
        pack = load_pack_leniently(staged, available)
    except Exception as error:  # any load failure is a rejection, told in its own words
        raise ArchiveRejected(f"the pack cannot be loaded: {error}") from None
    problems = validate_pack(pack)
    if problems:
        raise ArchiveRejected(
            f"the pack has {len(problems)} problem(s); nothing was imported",
            [str(p) for p in problems],
        )


def _move_into_place(staged: Path, target: Path) -> None:
    """Swap the staged pack in; an existing pack is kept aside until the move succeeded."""
    aside = None
    if target.exists():
        aside = target.with_name(f".{target.name}.replaced")
        if aside.exists():
            shutil.rmtree(aside)
        os.replace(target, aside)
    try:
        shutil.move(str(staged), str(target))
    except BaseException:
        if aside is not None:
            shutil.rmtree(target, ignore_errors=True)
            os.replace(aside, target)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
