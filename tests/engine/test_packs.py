"""Loading process packs: manifest, files, extends, discovery, SpiffArena folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.packs.loading import PackError, discover_packs, load_pack

FIXTURES = Path(__file__).parent / "bad_packs"
VALID = FIXTURES / "valid"
SPIFF_MODEL = FIXTURES / "spiff_model"


def write_manifest(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pack.toml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def family(tmp_path: Path) -> dict[str, Path]:
    """A standard pack copied from the valid fixture, a client pack and a sub-client pack."""
    standard = tmp_path / "standard"
    shutil.copytree(VALID, standard)
    text = (standard / "pack.toml").read_text().replace('name = "valid"', 'name = "standard"')
    (standard / "pack.toml").write_text(text)
    acme = write_manifest(
        tmp_path / "acme",
        """
[pack]
name = "acme"
version = "2026.1"
title = "ACME"
extends = "standard"

[lanes]
"Manager" = "subject.manager.manager"
"HR" = "group:hr"

[processes.objective_setting]
title = "ACME objectives"
""",
    )
    (acme / "forms").mkdir()
    (acme / "forms" / "review-schema.json").write_text('{"type": "object", "title": "ACME"}')
    acme_east = write_manifest(
        tmp_path / "acme-east",
        """
[pack]
name = "acme-east"
extends = "acme"

[processes.sign_off_process]
title = "Sign off"
start = "self"
""",
    )
    return {"standard": standard, "acme": acme, "acme-east": acme_east}


def test_valid_pack_loads_manifest_and_files() -> None:
    pack = load_pack(VALID)
    assert (pack.name, pack.version, pack.title) == ("valid", "1.0", "A small valid pack")
    assert pack.lanes == {"Employee": "subject", "Manager": "subject.manager"}
    settings = pack.processes["objective_setting"]
    assert (settings.title, settings.start, settings.starters) == (
        "Objective setting",
        "per-employee",
        ["group:hr"],
    )
    assert pack.bpmn_files() == ["objective_setting.bpmn", "sub/sign_off.bpmn"]
    assert pack.dmn_files() == ["rating_band.dmn"]
    assert "forms/objectives-schema.json" in pack.form_files()
    assert "sub/sign-schema.json" in pack.form_files()
    assert pack.test_files() == ["tests/test_objective_setting.json"]
    assert "pack.toml" not in pack.files
    assert pack.files["sub/sign_off.bpmn"] == VALID / "sub" / "sign_off.bpmn"


def test_catalogs_are_parsed_toml() -> None:
    pack = load_pack(VALID)
    scale = pack.catalog("rating_scale")
    assert [level["label"] for level in scale["levels"]] == [
        "Below expectations",
        "Meets expectations",
    ]
    assert list(pack.catalogs()) == ["rating_scale"]
    with pytest.raises(PackError, match="no catalog 'competencies'"):
        pack.catalog("competencies")


def test_forms_are_found_next_to_the_bpmn_before_forms_folder() -> None:
    pack = load_pack(VALID)
    assert pack.find_form("sign-schema.json", near="sub/sign_off.bpmn") == "sub/sign-schema.json"
    assert pack.find_form("review-schema.json", near="sub/sign_off.bpmn") == (
        "forms/review-schema.json"
    )
    assert pack.find_form("review-schema.json") == "forms/review-schema.json"
    assert pack.find_form("nowhere-schema.json", near="objective_setting.bpmn") is None


def test_extends_overrides_files_and_merges_lanes_and_processes(
    family: dict[str, Path],
) -> None:
    pack = load_pack(family["acme"], discover_packs([family["acme"].parent]))
    assert pack.extends == "standard"
    assert pack.files["forms/review-schema.json"] == family["acme"] / "forms/review-schema.json"
    assert pack.files["objective_setting.bpmn"] == family["standard"] / "objective_setting.bpmn"
    assert pack.lanes == {
        "Employee": "subject",
        "Manager": "subject.manager.manager",
        "HR": "group:hr",
    }
    objectives = pack.processes["objective_setting"]
    # Only the title was overridden; the rest comes from the parent's table.
    assert (objectives.title, objectives.start, objectives.starters) == (
        "ACME objectives",
        "per-employee",
        ["group:hr"],
    )
    assert '"ACME"' in pack.read_text("forms/review-schema.json")


def test_extends_chains_through_several_packs(family: dict[str, Path]) -> None:
    pack = load_pack(family["acme-east"], discover_packs([family["acme"].parent]))
    assert pack.lanes["HR"] == "group:hr"
    assert pack.processes["objective_setting"].title == "ACME objectives"
    assert pack.processes["sign_off_process"].start == "self"
    assert "sub/sign_off.bpmn" in pack.files


def test_extends_cycle_is_an_error(tmp_path: Path) -> None:
    write_manifest(tmp_path / "a", '[pack]\nname = "a"\nextends = "b"\n')
    write_manifest(tmp_path / "b", '[pack]\nname = "b"\nextends = "a"\n')
    with pytest.raises(PackError, match="extends cycle: a -> b -> a"):
        load_pack(tmp_path / "a", discover_packs([tmp_path]))


def test_extends_of_unknown_pack_names_the_line(tmp_path: Path) -> None:
    folder = write_manifest(tmp_path / "acme", '[pack]\nname = "acme"\n\nextends = "standard"\n')
    with pytest.raises(PackError) as caught:
        load_pack(folder, {})
    assert str(caught.value) == "pack.toml:4: extends unknown pack 'standard' (known: none)"


def test_toml_syntax_error_reports_file_and_line(tmp_path: Path) -> None:
    folder = write_manifest(tmp_path / "p", '[pack]\nname = "p"\ntitle = "unterminated\n')
    with pytest.raises(PackError) as caught:
        load_pack(folder)
    assert caught.value.file == "pack.toml"
    assert caught.value.line == 3
    assert "invalid TOML" in caught.value.message


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ('[pack]\ntitle = "No name"\n', "pack.toml:1: [pack].name is missing"),
        ('[pack]\nname = "ACME_Corp"\n', "pack.toml:2: [pack].name 'ACME_Corp' must match"),
        (
            '[pack]\nname = "p"\n[processes.x]\nstart = "whenever"\n',
            "pack.toml:3: [processes.x]: start must be one of per-employee, self",
        ),
    ],
)
def test_bad_manifest_values_are_errors(tmp_path: Path, manifest: str, message: str) -> None:
    folder = write_manifest(tmp_path / "p", manifest)
    with pytest.raises(PackError) as caught:
        load_pack(folder)
    assert str(caught.value).startswith(message)


def test_discover_finds_manifests_and_spiffarena_folders(tmp_path: Path) -> None:
    write_manifest(tmp_path / "folder-a", '[pack]\nname = "standard"\n')
    shutil.copytree(SPIFF_MODEL, tmp_path / "Quick Feedback")
    (tmp_path / "notes").mkdir()
    (tmp_path / "README.md").write_text("not a pack")
    found = discover_packs([tmp_path, tmp_path / "missing"])
    assert found == {
        "standard": (tmp_path / "folder-a").resolve(),
        "quick-feedback": (tmp_path / "Quick Feedback").resolve(),
    }


def test_first_folder_wins_when_names_repeat(tmp_path: Path) -> None:
    write_manifest(tmp_path / "one" / "std", '[pack]\nname = "standard"\n')
    write_manifest(tmp_path / "two" / "std", '[pack]\nname = "standard"\n')
    found = discover_packs([tmp_path / "two", tmp_path / "one"])
    assert found == {"standard": (tmp_path / "two" / "std").resolve()}


def test_spiffarena_process_model_folder_is_a_pack_as_it_is() -> None:
    pack = load_pack(SPIFF_MODEL)
    assert pack.name == "spiff-model"
    assert pack.title == "Quick Feedback"
    assert pack.processes["quick_feedback"].start == "self"
    assert pack.lanes == {"Feedback giver": "starter"}
    assert pack.default_lane == "starter"
    assert pack.test_files() == ["test_quick_feedback.json"]
    assert pack.find_form("feedback-schema.json", near="quick_feedback.bpmn") == (
        "feedback-schema.json"
    )
    assert pack.form_files() == ["feedback-schema.json", "feedback-uischema.json"]


def test_spiffarena_folder_with_pack_toml_uses_its_lanes(tmp_path: Path) -> None:
    folder = tmp_path / "feedback"
    shutil.copytree(SPIFF_MODEL, folder)
    write_manifest(folder, '[pack]\nname = "feedback"\n[lanes]\n"Feedback giver" = "subject"\n')
    pack = load_pack(folder)
    assert pack.lanes == {"Feedback giver": "subject"}
    assert pack.default_lane is None
    assert pack.processes["quick_feedback"].start == "self"


def test_read_text_of_unknown_file_is_a_pack_error() -> None:
    with pytest.raises(PackError, match="no file 'missing.bpmn'"):
        load_pack(VALID).read_text("missing.bpmn")


def test_start_data_names_records_and_refuses_anything_else() -> None:
    from engine.packs.loading import RecordSource, parse_start_data

    assert parse_start_data({"objectives": "record:objectives.objectives"}) == {
        "objectives": RecordSource("objectives", ("objectives",))
    }
    assert parse_start_data({"last": "record:final_rating"}) == {
        "last": RecordSource("final_rating", ())
    }
    with pytest.raises(ValueError, match="start_data.rating"):
        parse_start_data({"rating": "final_rating.rating"})
