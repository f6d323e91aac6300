"""Building SpiffWorkflow specs from packs: sources per process, hashing, parsing, task info."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.packs.loading import PackError, load_pack
from engine.packs.specs import (
    build_spec,
    content_hash,
    executable_processes,
    process_sources,
    user_task_info,
)

VALID = Path(__file__).parent / "bad_packs" / "valid"


@pytest.fixture
def pack_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "valid"
    shutil.copytree(VALID, folder)
    return folder


def run_to_end(workflow: BpmnWorkflow, answers: dict[str, dict]) -> list[str]:
    """Complete each ready human task with its answer; returns the task ids in order."""
    done = []
    workflow.do_engine_steps()
    while not workflow.is_completed():
        ready = workflow.get_tasks(state=TaskState.READY, manual=True)
        assert ready, "the workflow stopped without a task to complete"
        task = ready[0]
        task.data.update(answers.get(task.task_spec.bpmn_id, {}))
        task.run()
        done.append(task.task_spec.bpmn_id)
        workflow.do_engine_steps()
    return done


def test_sources_hold_exactly_what_the_process_needs() -> None:
    sources = process_sources(load_pack(VALID), "objective_setting")
    assert sorted(sources) == [
        "forms/objectives-schema.json",
        "forms/objectives-uischema.json",
        "forms/review-schema.json",
        "objective_setting.bpmn",
        "rating_band.dmn",
        "sub/sign-schema.json",
        "sub/sign_off.bpmn",
    ]
    assert sources["sub/sign_off.bpmn"] == (VALID / "sub" / "sign_off.bpmn").read_text()


def test_sources_of_a_called_process_leave_out_its_caller() -> None:
    sources = process_sources(load_pack(VALID), "sign_off_process")
    assert sorted(sources) == ["sub/sign-schema.json", "sub/sign_off.bpmn"]


def test_sources_of_unknown_process_is_a_pack_error() -> None:
    with pytest.raises(PackError, match="no process 'appraisal'"):
        process_sources(load_pack(VALID), "appraisal")


def test_content_hash_follows_content_not_order() -> None:
    sources = {"a.bpmn": "<a/>", "forms/x-schema.json": "{}"}
    reordered = dict(reversed(list(sources.items())))
    assert content_hash(sources) == content_hash(reordered)
    assert content_hash(sources) != content_hash({**sources, "a.bpmn": "<b/>"})
    # Moving text between path and content must not collide.
    assert content_hash({"ab": "c"}) != content_hash({"a": "bc"})


def test_built_spec_runs_the_process_with_its_call_activity_and_decision() -> None:
    sources = process_sources(load_pack(VALID), "objective_setting")
    built = build_spec(sources, "objective_setting")
    assert built.content_hash == content_hash(sources)
    assert set(built.subprocess_specs) == {"sign_off_process"}
    workflow = BpmnWorkflow(built.spec, built.subprocess_specs)
    done = run_to_end(
        workflow,
        {
            "draft_objectives": {"objectives": [{"title": "Ship X", "weight": 100}]},
            "review_objectives": {"decision": "approve"},
            "sign": {"agree": True},
        },
    )
    assert done == ["draft_objectives", "review_objectives", "read_policy", "sign"]
    assert workflow.data["band"] == "complete"
    assert workflow.data["total"] == 100


def test_build_is_cached_per_content_and_process(pack_copy: Path) -> None:
    sources = process_sources(load_pack(pack_copy), "objective_setting")
    first = build_spec(sources, "objective_setting")
    assert build_spec(dict(sources), "objective_setting") is first
    changed = {**sources, "forms/review-schema.json": '{"type": "object", "title": "New"}'}
    second = build_spec(changed, "objective_setting")
    assert second is not first
    assert second.content_hash != first.content_hash


def test_user_task_info_describes_every_human_task() -> None:
    built = build_spec(process_sources(load_pack(VALID), "objective_setting"), "objective_setting")
    infos = user_task_info(built.spec, built.subprocess_specs)
    assert sorted(infos) == ["draft_objectives", "read_policy", "review_objectives", "sign"]
    draft = infos["draft_objectives"]
    assert (draft.name, draft.kind, draft.lane) == ("Draft objectives", "user", "Employee")
    assert (draft.form_schema, draft.form_uischema) == (
        "objectives-schema.json",
        "objectives-uischema.json",
    )
    assert draft.due_in == "P14D"
    assert draft.pre_script == "attempt = 1"
    assert draft.instructions == "Agree your objectives with {{ manager_name }}."
    assert infos["review_objectives"].post_script == "reviewed = True"
    assert infos["review_objectives"].lane == "Manager"
    assert infos["read_policy"].kind == "manual"
    assert infos["sign"].due_date == "start_date + timedelta(days=7)"
    assert infos["sign"].process_id == "sign_off_process"


def test_task_forms_resolve_form_files_among_the_sources() -> None:
    built = build_spec(process_sources(load_pack(VALID), "objective_setting"), "objective_setting")
    assert built.task_forms["sign"].form_schema_path == "sub/sign-schema.json"
    assert built.task_forms["draft_objectives"].form_uischema_path == (
        "forms/objectives-uischema.json"
    )
    assert built.task_forms["read_policy"].form_schema_path is None


def test_task_ids_repeated_across_processes_are_qualified(pack_copy: Path) -> None:
    sign_off = pack_copy / "sub" / "sign_off.bpmn"
    sign_off.write_text(
        sign_off.read_text()
        .replace('"read_policy"', '"draft_objectives"')
        .replace(">read_policy<", ">draft_objectives<")
    )
    built = build_spec(
        process_sources(load_pack(pack_copy), "objective_setting"), "objective_setting"
    )
    assert "objective_setting:draft_objectives" in built.task_forms
    assert built.task_forms["sign_off_process:draft_objectives"].kind == "manual"
    assert "draft_objectives" not in built.task_forms


def test_xml_entities_are_not_expanded(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    text = (VALID / "sub" / "sign_off.bpmn").read_text()
    text = text.replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<!DOCTYPE bpmn:definitions [<!ENTITY leak SYSTEM "file://{secret}">]>',
    ).replace(
        '<bpmn:userTask id="sign" name="Sign">',
        '<bpmn:userTask id="sign" name="Sign"><bpmn:documentation>Read &leak;</bpmn:documentation>',
    )
    built = build_spec({"sign_off.bpmn": text}, "sign_off_process")
    documentation = built.spec.task_specs["sign"].documentation
    assert documentation.startswith("Read")
    assert "TOP-SECRET" not in documentation


def test_executable_processes_lists_every_runnable_process() -> None:
    assert executable_processes(load_pack(VALID)) == ["objective_setting", "sign_off_process"]
