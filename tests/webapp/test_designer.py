"""The designer area: who may enter, BPMN/DMN/form drafts, the side panel, validation,
deploy with its diff, migration of older instances, pack export and import.

Every test runs on a copy of the standard pack in a temporary PACKS folder, so the pack on
disk is never modified.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
YEAR_END = "year_end_appraisal.bpmn"
META_CSRF = 'name="csrf-token" content="'


@pytest.fixture
async def packs(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PACKS folder holding a copy of the standard pack, deployed once (version 1)."""
    from config import settings
    from engine.packs.definitions import deploy_pack

    folder = tmp_path / "packs"
    shutil.copytree(ROOT / "processes" / "standard", folder / "standard")
    monkeypatch.setattr(settings, "PACKS", [str(folder)])
    await deploy_pack(folder / "standard", "consultant", search=[folder])
    return folder


@pytest.fixture
async def designer(
    client: httpx.AsyncClient, people: dict[str, str], login: Callable[..., Awaitable[object]],
    packs: Path,
) -> str:
    """The client logged in as the designer; returns the page's CSRF token."""
    await login(people["designer"])
    page = await client.get("/designer")
    return page.text.split(META_CSRF, 1)[1].split('"', 1)[0]


def _year_end(packs: Path) -> str:
    return (packs / "standard" / YEAR_END).read_text(encoding="utf-8")


async def _save_draft(client: httpx.AsyncClient, token: str, path: str, text: str) -> None:
    answer = await client.post(
        f"/designer/standard/files/{path}",
        content=text.encode(),
        headers={"X-CSRF-Token": token, "Content-Type": "application/xml"},
    )
    assert answer.status_code == 204, answer.text


async def test_only_designers_see_the_designer_area(
    client: httpx.AsyncClient, people: dict[str, str], login: Callable[..., Awaitable[object]],
    packs: Path,
) -> None:
    await login(people["hr"])
    assert (await client.get("/designer")).status_code == 404
    assert (await client.get(f"/designer/standard/bpmn/{YEAR_END}")).status_code == 404
    assert (await client.get("/designer/standard/export.zip")).status_code == 404
    page = await client.get("/inbox")
    token = page.text.split(META_CSRF, 1)[1].split('"', 1)[0]
    answer = await client.post(f"/designer/standard/files/{YEAR_END}", content=b"<x/>",
                               headers={"X-CSRF-Token": token})
    assert answer.status_code == 404
    assert _year_end(packs).startswith("<?xml")


async def test_designer_home_lists_packs_versions_and_files(
    client: httpx.AsyncClient, designer: str
) -> None:
    page = await client.get("/designer")
    assert page.status_code == 200
    html = page.text
    assert "Standard performance management" in html or "pack <code>standard</code>" in html
    assert "year_end_appraisal" in html and "v1" in html and "by consultant" in html
    assert f'href="/designer/standard/bpmn/{YEAR_END}"' in html
    assert 'href="/designer/standard/dmn/bonus.dmn"' in html
    assert 'href="/designer/standard/forms/self-appraisal"' in html
    assert 'href="/designer/standard/export.zip"' in html


async def test_bpmn_draft_is_kept_per_designer_and_leaves_the_pack_alone(
    client: httpx.AsyncClient, designer: str, packs: Path
) -> None:
    editor = await client.get(f"/designer/standard/bpmn/{YEAR_END}")
    assert editor.status_code == 200
    assert "bpmn-modeler" in editor.text and "spiffworkflow-moddle.json" in editor.text
    original = _year_end(packs)
    edited = original.replace('name="Manager appraisal"', 'name="Manager assessment"')
    await _save_draft(client, designer, YEAR_END, edited)

    source = await client.get(f"/designer/standard/files/{YEAR_END}")
    assert 'name="Manager assessment"' in source.text
    assert _year_end(packs) == original
    home = await client.get("/designer")
    assert "Your drafts" in home.text and "draft</small>" in home.text


async def test_saving_without_the_csrf_token_is_refused(
    client: httpx.AsyncClient, designer: str, packs: Path
) -> None:
    answer = await client.post(f"/designer/standard/files/{YEAR_END}", content=b"<x/>")
    assert answer.status_code == 403
    source = await client.get(f"/designer/standard/files/{YEAR_END}")
    assert source.text == _year_end(packs)


def _user_task_state(**changes: object) -> str:
    state = {
        "id": "self_appraisal",
        "type": "bpmn:UserTask",
        "name": "Self-appraisal",
        "lane": "Employee",
        "lanes": ["Employee", "Manager", "HR"],
        "properties": {
            "formJsonSchemaFilename": "self-appraisal-schema.json",
            "formUiSchemaFilename": "self-appraisal-uischema.json",
            "dueIn": "P14D",
        },
        "instructions": "## Your year-end self-appraisal",
        **changes,
    }
    return json.dumps(state)


async def test_side_panel_shows_the_selected_task(
    client: httpx.AsyncClient, designer: str
) -> None:
    answer = await client.post(
        f"/designer/standard/bpmn/{YEAR_END}/panel",
        data={"element": "self_appraisal", "state": _user_task_state(), "csrf_token": designer},
    )
    assert answer.status_code == 200
    html = answer.text
    assert "User task" in html and 'value="Self-appraisal"' in html
    assert "<option selected>self-appraisal</option>" in html
    assert "<option selected>Employee</option>" in html
    # The due date reads as people say it; the file keeps ISO 8601.
    assert 'value="14 days"' in html and 'value="P14D"' not in html


async def test_side_panel_refuses_bad_values_and_hands_good_ones_to_the_diagram(
    client: httpx.AsyncClient, designer: str
) -> None:
    url = f"/designer/standard/bpmn/{YEAR_END}/panel"
    base = {"element": "self_appraisal", "state": _user_task_state(), "csrf_token": designer,
            "apply": "yes", "lane": "Employee", "instructions": "Write it."}
    bad = await client.post(url, data={**base, "name": "Self review", "form": "self-appraisal",
                                       "due_in": "soon", "post_script": "x = ("})
    assert bad.status_code == 422
    assert "“soon” is not a duration such as “14 days”, “2 weeks” or “3 months”." in bad.text
    assert 'value="soon"' in bad.text  # what was typed stays
    assert "Post-script: line 1" in bad.text
    assert "data-panel-changes" not in bad.text

    good = await client.post(url, data={**base, "name": "Self review", "form": "devplan",
                                        "due_in": "2 weeks", "lane": "Manager"})
    assert good.status_code == 200
    payload = good.text.split("data-panel-changes>", 1)[1].split("</script>", 1)[0]
    changes = json.loads(payload)
    assert changes["name"] == "Self review"
    assert changes["lane"] == "Manager"
    assert changes["extensions"]["properties"] == {
        "formJsonSchemaFilename": "devplan-schema.json",
        "formUiSchemaFilename": "devplan-uischema.json",
        "dueIn": "P2W",
    }


async def test_side_panel_edits_gateway_conditions(
    client: httpx.AsyncClient, designer: str
) -> None:
    state = json.dumps({
        "id": "gap_check", "type": "bpmn:ExclusiveGateway", "name": "Big gap?",
        "outgoing": [
            {"id": "flow_a", "name": "Yes", "target": "HR mediation",
             "condition": "needs_mediation"},
            {"id": "flow_b", "name": "No", "target": "Discussion",
             "condition": "not needs_mediation"},
        ],
    })
    url = f"/designer/standard/bpmn/{YEAR_END}/panel"
    shown = await client.post(url, data={"element": "gap_check", "state": state,
                                         "csrf_token": designer})
    assert 'value="needs_mediation"' in shown.text and "HR mediation" in shown.text
    applied = await client.post(url, data={
        "element": "gap_check", "state": state, "csrf_token": designer, "apply": "yes",
        "name": "Big gap?", "condition:flow_a": "gap >= 2", "flow_name:flow_a": "Yes",
        "condition:flow_b": "gap <", "flow_name:flow_b": "No",
    })
    assert applied.status_code == 422
    assert "Condition: line 1" in applied.text


async def test_form_editor_previews_with_the_task_page_renderer(
    client: httpx.AsyncClient, designer: str, packs: Path
) -> None:
    page = await client.get("/designer/standard/forms/devplan?view=json")
    assert page.status_code == 200
    assert 'name="schema"' in page.text and 'name="uischema"' in page.text
    assert "<form" in page.text.split('id="form-preview"', 1)[1]

    url = "/designer/standard/forms/devplan/preview"
    schema = {"type": "object", "title": "Career talk",
              "properties": {"aspiration": {"type": "string", "title": "Where next?"}}}
    preview = await client.post(url, data={"schema": json.dumps(schema), "uischema": "{}"},
                                headers={"HX-Request": "true", "X-CSRF-Token": designer})
    assert preview.status_code == 200
    assert "Where next?" in preview.text

    broken = await client.post(url, data={"schema": '{\n  "type": "object",\n  "title": }',
                                          "uischema": "{}"},
                               headers={"HX-Request": "true", "X-CSRF-Token": designer})
    assert "JSON Schema: line 3" in broken.text


async def test_form_draft_is_saved_and_shown_again(
    client: httpx.AsyncClient, designer: str, packs: Path
) -> None:
    schema_file = packs / "standard" / "forms" / "devplan-schema.json"
    before = schema_file.read_text()
    schema = json.loads(before)
    schema["title"] = "Development plan (2027)"
    text = json.dumps(schema, indent=2)
    ui = (packs / "standard" / "forms" / "devplan-uischema.json").read_text()
    saved = await client.post("/designer/standard/forms/devplan",
                              data={"schema": text, "uischema": ui, "csrf_token": designer})
    assert saved.status_code == 303
    assert saved.headers["location"].endswith("/forms/devplan?view=json")
    page = await client.get("/designer/standard/forms/devplan?view=json")
    assert "Development plan (2027)" in page.text
    assert "undeployed draft" in page.text
    assert schema_file.read_text() == before


async def test_validation_lists_problems_and_deploy_is_refused_while_they_remain(
    client: httpx.AsyncClient, designer: str, packs: Path
) -> None:
    from engine.base.models import ProcessDefinition

    broken = _year_end(packs).replace(
        'value="self-appraisal-schema.json"', 'value="missing-schema.json"'
    )
    await _save_draft(client, designer, YEAR_END, broken)
    problems = await client.get(f"/designer/standard/validate?file={YEAR_END}",
                                headers={"HX-Request": "true"})
    assert "missing-schema.json" in problems.text
    assert 'data-element-id="self_appraisal"' in problems.text
    assert "disabled" in problems.text.split('class="designer-deploy"', 1)[1]

    refused = await client.post("/designer/standard/deploy", data={"csrf_token": designer})
    assert refused.status_code == 422
    assert "Not deployed" in refused.text and "missing-schema.json" in refused.text
    assert await ProcessDefinition.filter(process_id="year_end_appraisal").count() == 1
    assert "missing-schema.json" not in _year_end(packs)


async def test_deploy_stores_the_pack_in_the_database_and_shows_what_changed(
    client: httpx.AsyncClient, designer: str, packs: Path
) -> None:
    from engine.packs.definitions import latest

    original = _year_end(packs)
    edited = _year_end(packs).replace('name="Manager appraisal"', 'name="Manager assessment"')
    await _save_draft(client, designer, YEAR_END, edited)
    deployed = await client.post("/designer/standard/deploy", data={"csrf_token": designer})
    assert deployed.status_code == 200
    html = deployed.text
    assert "year_end_appraisal — version 2" in html
    assert "Manager assessment" in html and "Manager appraisal" in html
    assert "Running instances stay on their version" in html
    assert _year_end(packs) == original
    assert (await latest("year_end_appraisal")).version == 2
    home = await client.get("/designer")
    assert "Your drafts" not in home.text
    # The editor now opens the deployed version, not the untouched folder.
    source = await client.get(f"/designer/standard/files/{YEAR_END}")
    assert source.text == edited


async def test_a_draft_saved_through_one_app_is_seen_by_another_on_the_same_database(
    client: httpx.AsyncClient, designer: str, packs: Path, db: str
) -> None:
    from engine.operations.demo import DEMO_PASSWORD
    from webapp.app import create_app

    edited = _year_end(packs).replace('name="Manager appraisal"', 'name="Manager assessment"')
    await _save_draft(client, designer, YEAR_END, edited)
    other = create_app(db, start_workers=False)
    transport = httpx.ASGITransport(app=other, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://other") as second:
        login = await second.get("/login")
        token = login.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        await second.post("/login", data={"username": "e500", "password": DEMO_PASSWORD,
                                          "csrf_token": token})
        source = await second.get(f"/designer/standard/files/{YEAR_END}")
        assert source.status_code == 200
        assert source.text == edited
        home = await second.get("/designer")
        assert "Your drafts" in home.text


async def test_a_crlf_file_saved_by_the_editor_is_kept_byte_for_byte(
    client: httpx.AsyncClient, designer: str, packs: Path
) -> None:
    from engine.packs.definitions import pack_version, version_files

    crlf = _year_end(packs).replace("Manager appraisal", "Manager assessment").replace(
        "\n", "\r\n").encode()
    answer = await client.post(f"/designer/standard/files/{YEAR_END}", content=crlf,
                               headers={"X-CSRF-Token": designer})
    assert answer.status_code == 204
    assert (await client.get(f"/designer/standard/files/{YEAR_END}")).content == crlf
    deployed = await client.post("/designer/standard/deploy", data={"csrf_token": designer})
    assert deployed.status_code == 200
    assert version_files(await pack_version("standard"))[YEAR_END] == crlf


async def test_a_form_saved_from_the_browser_keeps_the_files_line_endings(
    client: httpx.AsyncClient, designer: str, packs: Path
) -> None:
    from engine.packs.designer import draft_bytes

    schema_file = packs / "standard" / "forms" / "devplan-schema.json"
    ui = (packs / "standard" / "forms" / "devplan-uischema.json").read_text()
    lf = schema_file.read_text().replace('"title"', '"title" ', 1)
    # A browser sends a textarea with CRLF line breaks, whatever the file had.
    saved = await client.post("/designer/standard/forms/devplan", data={
        "schema": lf.replace("\n", "\r\n"), "uischema": ui.replace("\n", "\r\n"),
        "csrf_token": designer})
    assert saved.status_code == 303
    mine = await draft_bytes("standard", "E500")
    assert mine == {"forms/devplan-schema.json": lf.encode()}


async def _start_year_end() -> int:
    from engine.workflow import runtime

    hr = await runtime.actor_for("E400")
    instance = await runtime.start_process("year_end_appraisal", subject="E300", actor=hr)
    return instance.id


async def test_older_instances_are_previewed_then_migrated(
    client: httpx.AsyncClient, designer: str, packs: Path
) -> None:
    from engine.base.models import AuditEvent, ProcessInstance

    older = await _start_year_end()
    edited = _year_end(packs).replace('name="Manager appraisal"', 'name="Manager assessment"')
    await _save_draft(client, designer, YEAR_END, edited)
    await client.post("/designer/standard/deploy", data={"csrf_token": designer})
    newer = await _start_year_end()

    url = "/designer/standard/year_end_appraisal/migrate"
    page = await client.get(url)
    assert page.status_code == 200
    assert f'value="{older}"' in page.text and f'value="{newer}"' not in page.text

    preview = await client.post(url, data={"instance": str(older), "action": "preview",
                                           "csrf_token": designer})
    assert preview.status_code == 200
    assert "can migrate" in preview.text and "version 1 → 2" in preview.text
    row = await ProcessInstance.get(id=older).prefetch_related("definition")
    assert row.definition.version == 1

    moved = await client.post(url, data={"instance": str(older), "action": "migrate",
                                         "csrf_token": designer})
    assert moved.status_code == 200
    assert "moved to version 2" in moved.text
    row = await ProcessInstance.get(id=older).prefetch_related("definition")
    assert row.definition.version == 2
    assert await AuditEvent.filter(instance_id=older, action="instance_migrated").exists()
    assert "Nothing to migrate" in moved.text


async def test_export_then_import_under_a_new_name(
    client: httpx.AsyncClient, designer: str, packs: Path
) -> None:
    exported = await client.get("/designer/standard/export.zip")
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "application/zip"
    source = zipfile.ZipFile(io.BytesIO(exported.content))
    names = source.namelist()
    assert any(name.endswith("pack.toml") for name in names)
    assert any(name.endswith(YEAR_END) for name in names)

    renamed = io.BytesIO()
    with zipfile.ZipFile(renamed, "w") as out:
        for name in names:
            data = source.read(name)
            if name.endswith("pack.toml"):
                data = data.replace(b'name = "standard"', b'name = "acme"')
            out.writestr(name.replace("standard/", "acme/", 1), data)
    answer = await client.post(
        "/designer/import",
        data={"csrf_token": designer},
        files={"archive": ("acme.zip", renamed.getvalue(), "application/zip")},
    )
    assert answer.status_code == 303, answer.text
    assert (packs / "acme" / "pack.toml").is_file()
    home = await client.get("/designer")
    assert "Imported pack acme" in home.text and "pack <code>acme</code>" in home.text


async def test_import_refuses_a_path_escaping_the_pack_and_writes_nothing(
    client: httpx.AsyncClient, designer: str, packs: Path
) -> None:
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as out:
        out.writestr("evil/pack.toml", '[pack]\nname = "evil"\nversion = "1"\ntitle = "Evil"\n')
        out.writestr("evil/../../escaped.bpmn", "<definitions/>")
    before = sorted(p.name for p in packs.iterdir())
    answer = await client.post(
        "/designer/import",
        data={"csrf_token": designer},
        files={"archive": ("evil.zip", evil.getvalue(), "application/zip")},
    )
    assert answer.status_code == 422
    assert "was not imported" in answer.text and "&#39;..&#39;" in answer.text
    assert sorted(p.name for p in packs.iterdir()) == before
    assert not (packs.parent / "escaped.bpmn").exists()


async def test_dmn_editor_opens_decision_tables_and_saves_drafts(
    client: httpx.AsyncClient, designer: str, packs: Path
) -> None:
    page = await client.get("/designer/standard/dmn/bonus.dmn")
    assert page.status_code == 200
    assert "dmn-modeler" in page.text
    assert 'data-source="/designer/standard/files/bonus.dmn"' in page.text
    assert (await client.get("/designer/standard/dmn/pack.toml")).status_code == 404
    assert (await client.get("/designer/standard/dmn/nothing.dmn")).status_code == 404

    table = (packs / "standard" / "bonus.dmn").read_text(encoding="utf-8")
    await _save_draft(client, designer, "bonus.dmn", table.replace("22.5", "25.0", 1))
    source = await client.get("/designer/standard/files/bonus.dmn")
    assert "25.0" in source.text
    assert (packs / "standard" / "bonus.dmn").read_text(encoding="utf-8") == table


async def test_migration_is_refused_when_an_open_task_changed(
    client: httpx.AsyncClient, designer: str, packs: Path
) -> None:
    from engine.base.models import ProcessInstance

    older = await _start_year_end()
    edited = _year_end(packs).replace('name="Self-appraisal"', 'name="Self-assessment"', 1)
    await _save_draft(client, designer, YEAR_END, edited)
    await client.post("/designer/standard/deploy", data={"csrf_token": designer})

    url = "/designer/standard/year_end_appraisal/migrate"
    preview = await client.post(url, data={"instance": str(older), "action": "preview",
                                           "csrf_token": designer})
    assert "refused" in preview.text and "Self-appraisal" in preview.text
    moved = await client.post(url, data={"instance": str(older), "action": "migrate",
                                         "csrf_token": designer})
    assert "not migrated" in moved.text
    row = await ProcessInstance.get(id=older).prefetch_related("definition")
    assert row.definition.version == 1


async def test_an_extending_pack_opens_the_files_it_inherits(
    client: httpx.AsyncClient, designer: str, packs: Path
) -> None:
    """ACME extends the standard pack: the diagrams it does not replace are the standard
    pack's, and its designer page opens them like its own."""
    shutil.copytree(ROOT / "processes" / "acme", packs / "acme")
    home = await client.get("/designer")
    links = set(re.findall(r'href="(/designer/acme/bpmn/[^"]+)"', home.text))
    assert "/designer/acme/bpmn/checkin.bpmn" in links
    for link in links:
        editor = await client.get(link)
        assert editor.status_code == 200, link
        assert "bpmn-modeler" in editor.text
