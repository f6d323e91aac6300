"""Pack zips: export, import, and every way an upload is refused without writing a file."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from engine.base.models import ProcessDefinition
from engine.packs.archive import ArchiveRejected, export_pack, export_version, import_pack
from engine.packs.definitions import deploy_pack
from engine.packs.loading import load_pack
from engine.packs.validation import validate_pack

HERE = Path(__file__).parent
LAB = HERE / "archives" / "review_lab"
SPIFF_MODEL = HERE / "spiffarena_model"
LIMIT = 1024 * 1024
XXE = """<?xml version="1.0"?>
<!DOCTYPE definitions [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="p" name="&secret;" isExecutable="true" />
</bpmn:definitions>"""
LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="p" name="&lol3;" isExecutable="true" />
</bpmn:definitions>"""


def lab_files() -> dict[str, bytes]:
    return {p.relative_to(LAB).as_posix(): p.read_bytes() for p in LAB.rglob("*") if p.is_file()}


def zipped(files: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


@pytest.fixture
def into(tmp_path: Path) -> Path:
    folder = tmp_path / "packs"
    folder.mkdir()
    return folder


def everything_under(folder: Path) -> list[Path]:
    return sorted(folder.parent.rglob("*"))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("review_lab/../../evil.bpmn", "outside the pack folder ('..' in the path)"),
        ("/tmp/evil.bpmn", "outside the pack folder (absolute path)"),
        ("C:/evil.bpmn", "outside the pack folder (absolute path)"),
        ("review_lab\\..\\evil.bpmn", "outside the pack folder (backslash in the name)"),
        ("review_lab/run.py", "is not a pack file"),
        ("review_lab/.hidden.json", "hidden files are not allowed"),
    ],
)
def test_entries_that_escape_the_pack_or_are_not_pack_files_are_refused(
    into: Path, name: str, message: str
) -> None:
    files = {f"review_lab/{rel}": data for rel, data in lab_files().items()}
    files[name] = b"<x/>"
    before = everything_under(into)
    with pytest.raises(ArchiveRejected, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_pack(zipped(files), into, max_bytes=LIMIT)
    assert everything_under(into) == before


def test_a_symbolic_link_is_refused(into: Path) -> None:
    data = zipped(lab_files(), symlinks={"forms/passwd.json": "/etc/passwd"})
    with pytest.raises(ArchiveRejected, match="'forms/passwd.json' is a symbolic link"):
        import_pack(data, into, max_bytes=LIMIT)
    assert list(into.iterdir()) == []


def test_an_archive_over_the_upload_limit_is_refused(into: Path) -> None:
    data = zipped(lab_files())
    with pytest.raises(ArchiveRejected, match="the limit is 1,000 bytes"):
        import_pack(data, into, max_bytes=1000)
    assert list(into.iterdir()) == []


def test_a_zip_bomb_is_refused_before_it_is_unpacked(into: Path) -> None:
    files = lab_files()
    files["forms/huge-schema.json"] = b" " * (20 * 1024 * 1024)
    data = zipped(files)
    assert len(data) < LIMIT
    with pytest.raises(ArchiveRejected, match="unpacks to more than|zip bomb"):
        import_pack(data, into, max_bytes=LIMIT)
    files["forms/huge-schema.json"] = b" " * (512 * 1024)
    with pytest.raises(ArchiveRejected, match="compressed .*:1; .* zip bomb"):
        import_pack(zipped(files), into, max_bytes=LIMIT)
    assert list(into.iterdir()) == []


def test_too_many_files_are_refused(into: Path) -> None:
    files = lab_files()
    files.update({f"forms/extra-{i}-schema.json": b"{}" for i in range(5)})
    with pytest.raises(ArchiveRejected, match="more than 8 files"):
        import_pack(zipped(files), into, max_bytes=LIMIT, max_files=8)
    assert list(into.iterdir()) == []


@pytest.mark.parametrize("xml", [XXE, LAUGHS], ids=["external-entity", "billion-laughs"])
def test_xml_with_a_doctype_or_entities_is_refused(into: Path, xml: str) -> None:
    files = lab_files()
    files["goal_review.bpmn"] = xml.encode()
    with pytest.raises(ArchiveRejected, match="'goal_review.bpmn' declares a DOCTYPE"):
        import_pack(zipped(files), into, max_bytes=LIMIT)
    assert list(into.iterdir()) == []


def test_an_invalid_pack_is_refused_with_its_problems(into: Path) -> None:
    files = lab_files()
    files["goal_review.bpmn"] = files["goal_review.bpmn"].replace(
        b'targetRef="end" />', b'targetRef="nowhere" />'
    )
    with pytest.raises(ArchiveRejected, match="problem") as refused:
        import_pack(zipped(files), into, max_bytes=LIMIT)
    assert any("nowhere" in p for p in refused.value.problems)
    assert list(into.iterdir()) == []


def test_an_archive_without_a_manifest_is_refused(into: Path) -> None:
    files = {"a/goal_review.bpmn": lab_files()["goal_review.bpmn"], "b/x.json": b"{}"}
    with pytest.raises(ArchiveRejected, match="no pack.toml or process_model.json"):
        import_pack(zipped(files), into, max_bytes=LIMIT)
    with pytest.raises(ArchiveRejected, match="not a zip archive"):
        import_pack(b"PK not really", into, max_bytes=LIMIT)


def test_an_exported_pack_imports_as_the_same_pack(into: Path) -> None:
    data = export_pack(LAB)
    assert export_pack(LAB) == data  # the same pack gives the same bytes
    result = import_pack(data, into, max_bytes=LIMIT)
    assert (result.name, result.path, result.spiff_model) == ("review-lab", into / "review-lab",
                                                            False)
    imported = {p.relative_to(result.path).as_posix(): p.read_bytes()
                for p in result.path.rglob("*") if p.is_file()}
    assert imported == lab_files()
    assert validate_pack(result.path) == []


def test_an_existing_pack_is_replaced_only_when_asked(into: Path) -> None:
    import_pack(export_pack(LAB), into, max_bytes=LIMIT)
    files = lab_files()
    files["pack.toml"] = files["pack.toml"].replace(b'version = "1"', b'version = "2"')
    with pytest.raises(ArchiveRejected, match="already exists"):
        import_pack(zipped(files), into, max_bytes=LIMIT)
    assert load_pack(into / "review-lab").version == "1"
    result = import_pack(zipped(files), into, max_bytes=LIMIT, replace=True)
    assert result.replaced and load_pack(into / "review-lab").version == "2"
    assert [p.name for p in into.iterdir()] == ["review-lab"]


def test_a_zipped_spiffarena_process_model_imports(into: Path) -> None:
    files = {f"Peer Feedback/{p.name}": p.read_bytes() for p in SPIFF_MODEL.iterdir()}
    result = import_pack(zipped(files), into, max_bytes=LIMIT)
    assert result.name == "peer-feedback" and result.spiff_model
    pack = load_pack(result.path)
    assert list(pack.processes) == ["Process_peer_feedback_x7k2m9q"]


async def test_a_deployed_version_exports_as_a_pack_of_its_own(db: str, into: Path) -> None:
    await deploy_pack(LAB, "consultant", search=[LAB.parent])
    definition = await ProcessDefinition.get(process_id="goal_review", version=1)
    result = import_pack(export_version(definition), into, max_bytes=LIMIT)
    pack = load_pack(result.path)
    assert pack.name == "review-lab" and pack.lanes["Manager"] == "subject.manager"
    assert pack.processes["goal_review"].starters == ["group:hr"]
    assert pack.read_text("goal_review.bpmn") == definition.sources["goal_review.bpmn"]


def test_the_pack_commands_export_and_import(
    tmp_path: Path, into: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from webapp.cli import main

    out = tmp_path / "lab.zip"
    assert main(["pack", "export", str(LAB), str(out)]) == 0
    assert f"review_lab: exported to {out}" in capsys.readouterr().out
    assert main(["pack", "import", str(out), "--into", str(into)]) == 0
    assert "pack 'review-lab' imported at" in capsys.readouterr().out
    assert validate_pack(into / "review-lab") == []
    assert main(["pack", "import", str(out), "--into", str(into)]) == 1
    assert "not imported: a pack folder 'review-lab' already exists" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["evil.BPMN", "review.Bpmn", "rules/evil.DMN"])
@pytest.mark.parametrize("xml", [XXE, LAUGHS], ids=["external-entity", "billion-laughs"])
def test_xml_is_checked_whatever_the_case_of_its_suffix(into: Path, name: str, xml: str) -> None:
    files = lab_files()
    files[name] = xml.encode()
    with pytest.raises(ArchiveRejected, match=f"'{name}' declares a DOCTYPE"):
        import_pack(zipped(files), into, max_bytes=LIMIT)
    assert list(into.iterdir()) == []


@pytest.mark.parametrize("name", ["forms/notes.Json", "catalogs/levels.TOML", "README.Md"])
def test_every_pack_file_is_checked_whatever_the_case_of_its_suffix(
    into: Path, name: str
) -> None:
    files = lab_files()
    files[name] = "Évaluation".encode("latin-1")
    with pytest.raises(ArchiveRejected, match=f"'{name}' is not UTF-8 text"):
        import_pack(zipped(files), into, max_bytes=LIMIT)
    assert list(into.iterdir()) == []


def test_two_files_whose_names_differ_only_in_case_are_refused(into: Path) -> None:
    # On a case-insensitive disk the second would overwrite the first after both were checked.
    files = lab_files()
    files["GOAL_REVIEW.BPMN"] = XXE.encode()
    files = {"goal_review.bpmn": files.pop("goal_review.bpmn"), **files}
    with pytest.raises(ArchiveRejected,
                       match="'goal_review.bpmn' and 'GOAL_REVIEW.BPMN' differ only in case"):
        import_pack(zipped(files), into, max_bytes=LIMIT)
    assert list(into.iterdir()) == []


def test_archivers_clutter_is_skipped_whatever_its_case(into: Path) -> None:
    files = lab_files()
    files["THUMBS.DB"] = b"\x00\xff"
    files["__macosx/._pack.toml"] = b"\x00\xff"
    result = import_pack(zipped(files), into, max_bytes=LIMIT)
    assert sorted(result.files) == sorted(lab_files())


def test_an_export_keeps_pack_files_whatever_the_case_of_their_suffix(tmp_path: Path) -> None:
    import shutil

    pack = tmp_path / "review_lab"
    shutil.copytree(LAB, pack)
    (pack / "NOTES.MD").write_text("# Notes\n")
    (pack / "run.PY").write_text("print('no')\n")
    names = zipfile.ZipFile(io.BytesIO(export_pack(pack))).namelist()
    assert "review_lab/NOTES.MD" in names
    assert not any(name.endswith(".PY") for name in names)
