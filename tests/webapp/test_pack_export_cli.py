"""`sightline pack export PACK FOLDER`: a deployed pack version written out byte for byte."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from webapp.cli import main

LAB = Path(__file__).resolve().parents[1] / "engine" / "archives" / "review_lab"
FORM = "forms/goals-schema.json"


@pytest.fixture
def crlf_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pack folder whose form has CRLF line endings, deployed twice (versions 1 and 2),
    on a database of its own (the command opens it itself)."""
    from config import settings

    monkeypatch.setattr(settings, "DATABASE_URL", f"sqlite://{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setattr(settings, "PACKS", [str(tmp_path / "packs")])
    pack = tmp_path / "packs" / "review_lab"
    shutil.copytree(LAB, pack)
    assert main(["db", "upgrade"]) == 0
    assert main(["pack", "deploy", str(pack)]) == 0
    form = pack / FORM
    form.write_bytes(form.read_bytes().replace(b"\n", b"\r\n"))
    assert main(["pack", "deploy", str(pack)]) == 0
    return pack


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_export_writes_the_latest_version_byte_for_byte(
    crlf_lab: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["pack", "export", "review-lab", str(out)]) == 0
    assert _files(out) == _files(crlf_lab)
    assert b"\r\n" in (out / FORM).read_bytes()
    assert "review-lab version 2" in capsys.readouterr().out


def test_export_of_an_older_version(crlf_lab: Path, tmp_path: Path) -> None:
    out = tmp_path / "v1"
    assert main(["pack", "export", "review-lab", str(out), "--version", "1"]) == 0
    assert (out / FORM).read_bytes() == (LAB / FORM).read_bytes()


def test_bad_input_is_refused_with_a_clear_message_and_nothing_lost(
    crlf_lab: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pack", "export", "no-such-pack", str(tmp_path / "x")]) == 1
    assert "pack 'no-such-pack' has no deployed version" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert main(["pack", "export", "review-lab", str(tmp_path / "x"), "--version", "9"]) == 1
    assert "has no version 9 (it has 1, 2)" in capsys.readouterr().err
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.md").write_text("mine")
    assert main(["pack", "export", "review-lab", str(mine)]) == 1
    error = capsys.readouterr().err
    assert "not empty" in error and "--force" in error
    assert _files(mine) == {"notes.md": b"mine"}
    assert main(["pack", "export", "review-lab", str(mine), "--force"]) == 0
    assert _files(mine) == _files(crlf_lab)
