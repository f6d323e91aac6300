"""The designer's visual form builder: HR edits fields, sees the preview and saves drafts that
keep the files' formatting; a form the builder cannot show opens as JSON; routing problems in
words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from engine.packs import form_builder as fb
from tests.webapp.test_designer import designer, packs  # noqa: F401 (fixtures)

FORM = "/designer/standard/forms/checkin"
SCHEMA_FILE = "/designer/standard/files/forms/checkin-schema.json"
UI_FILE = "/designer/standard/files/forms/checkin-uischema.json"


def _posted(fields: list[fb.BuilderField], token: str, **extra: str) -> dict[str, Any]:
    """The builder's form data for `fields`, as the page posts it."""
    data: dict[str, Any] = {"csrf_token": token, **extra}
    for i, item in enumerate(fields):
        p = f"f-{i}-"
        data.update({p + "original": item.original, p + "name": item.name if item.original
                     else "", p + "label": item.label, p + "kind": item.kind,
                     p + "help": item.help, p + "scale": item.scale,
                     p + "options": "\n".join(o.label for o in item.options)})
        if item.required:
            data[p + "required"] = "yes"
        for j, column in enumerate(item.columns):
            q = f"{p}c-{j}-"
            data.update({q + "original": column.original, q + "label": column.label,
                         q + "kind": column.kind, q + "name": ""})
            if column.required:
                data[q + "required"] = "yes"
    return data


async def _fields(client: httpx.AsyncClient) -> list[fb.BuilderField]:
    schema = (await client.get(SCHEMA_FILE)).text
    ui = (await client.get(UI_FILE)).text
    return fb.read_form_texts(schema, ui)


async def test_the_builder_shows_each_field_and_the_preview(
    client: httpx.AsyncClient, designer: str  # noqa: F811
) -> None:
    page = await client.get(FORM)

    assert page.status_code == 200
    assert 'aria-current="page">Builder</a>' in page.text
    assert 'value="Date of the check-in conversation"' in page.text
    assert '<option value="choice" selected>Choice</option>' in page.text
    assert "On track\nAt risk\nOff track</textarea>" in page.text
    assert "<form" in page.text.split('id="form-preview"', 1)[1]


async def test_adding_a_field_comes_back_with_the_builder_and_the_preview(
    client: httpx.AsyncClient, designer: str  # noqa: F811
) -> None:
    fields = await _fields(client)
    answer = await client.post(f"{FORM}/builder", data=_posted(fields, designer, _action="add"),
                               headers={"HX-Request": "true"})

    assert answer.status_code == 200
    assert answer.text.count('<li class="builder-field') == len(fields) + 1
    assert 'value="New question"' in answer.text
    assert 'id="form-preview" aria-live="polite" hx-swap-oob="true"' in answer.text
    assert "New question" in answer.text.split('hx-swap-oob="true"', 1)[1]


async def test_a_form_built_from_text_rating_and_table_is_saved_in_the_files_style(
    client: httpx.AsyncClient, designer: str  # noqa: F811
) -> None:
    before = (await client.get(SCHEMA_FILE)).text
    # The file as a Windows editor saved it: CRLF line endings stay.
    await client.post(SCHEMA_FILE, content=before.replace("\n", "\r\n").encode(),
                      headers={"X-CSRF-Token": designer, "Content-Type": "text/plain"})
    fields = await _fields(client)
    fields += [
        fb.BuilderField("", "Main takeaway", "text", help="One sentence."),
        fb.BuilderField("", "Energy level", "rating", required=True,
                        scale="rating_scale.levels"),
        fb.BuilderField("", "Follow-ups", "table", columns=[
            fb.BuilderField("", "Action", "text", required=True),
            fb.BuilderField("", "Due", "date")]),
    ]
    saved = await client.post(f"{FORM}/builder", data=_posted(fields, designer, _action="save"))

    assert saved.status_code == 303
    schema = (await client.get(SCHEMA_FILE)).text
    ui = (await client.get(UI_FILE)).text
    assert "\r\n" in schema and "\n" not in schema.replace("\r\n", "")
    assert schema.startswith(before.split('  "properties"')[0].replace("\n", "\r\n")
                             .replace('"coaching_notes"]', '"coaching_notes", "energy_level"]'))
    assert '    "main_takeaway": {"title": "Main takeaway", "type": "string"},\r\n' in schema
    assert '"energy_level": {"title": "Energy level", "type": "integer"}' in schema
    assert '"ui:widget": "rating", "ui:options": {"scale": "rating_scale.levels"}' in ui
    reread = fb.read_form_texts(schema, ui)
    assert [f.name for f in reread][-3:] == ["main_takeaway", "energy_level", "follow_ups"]
    assert [c.label for c in reread[-1].columns] == ["Action", "Due"]
    assert reread[-2].required and reread[-1].columns[0].required


async def test_bad_builder_input_is_refused_with_the_reason_and_loses_nothing(
    client: httpx.AsyncClient, designer: str  # noqa: F811
) -> None:
    before = (await client.get(SCHEMA_FILE)).text
    fields = await _fields(client)
    fields.append(fb.BuilderField("", "Mood", "choice", help="How did it go?"))
    fields[0].label = "When we met"

    answer = await client.post(f"{FORM}/builder", data=_posted(fields, designer, _action="save"))

    assert answer.status_code == 422
    assert "Not saved yet — fix what is marked below." in answer.text
    assert "Type at least one option, one per line." in answer.text
    assert 'value="When we met"' in answer.text and 'value="How did it go?"' in answer.text
    assert (await client.get(SCHEMA_FILE)).text == before


async def test_a_form_the_builder_cannot_show_opens_as_json_with_a_plain_message(
    client: httpx.AsyncClient, designer: str  # noqa: F811
) -> None:
    page = await client.get("/designer/standard/forms/self-appraisal")

    assert page.status_code == 200
    assert "The builder cannot show this form: it is a template filled in" in page.text
    assert 'name="schema"' in page.text and 'aria-current="page">JSON</a>' in page.text


async def test_an_unmapped_lane_reads_for_hr_with_the_detail_kept(
    client: httpx.AsyncClient, designer: str, packs: Path  # noqa: F811
) -> None:
    toml = (packs / "standard" / "pack.toml").read_text()
    await client.post("/designer/standard/files/pack.toml",
                      content=toml.replace('"Manager" = "subject.manager"\n', "").encode(),
                      headers={"X-CSRF-Token": designer, "Content-Type": "text/plain"})

    page = await client.get("/designer/standard/validate")

    assert "Nobody is named for the lane “Manager”, so its tasks would go to HR." in page.text
    assert "lane &#39;Manager&#39; is not mapped in [lanes] of pack.toml" in page.text


async def test_a_german_designer_reads_the_types_and_the_problems_in_german(
    client: httpx.AsyncClient, designer: str  # noqa: F811
) -> None:
    german = {"Accept-Language": "de"}
    page = await client.get(FORM, headers=german)
    assert '<option value="choice" selected>Auswahl</option>' in page.text
    assert ">Langer Text</option>" in page.text and ">Long text<" not in page.text
    fields = await _fields(client)
    fields.append(fb.BuilderField("", "Stimmung", "choice"))
    answer = await client.post(f"{FORM}/builder", headers=german,
                               data=_posted(fields, designer, _action="save"))
    assert answer.status_code == 422
    assert "Geben Sie mindestens eine Option ein, eine pro Zeile." in answer.text
    assert "Type at least one option" not in answer.text
