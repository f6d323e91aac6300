"""HR's downloads: whatever the cycle and the pack are called, the files open as plain data."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from openpyxl import load_workbook

from engine.base.models import Cycle, ProcessDefinition
from engine.packs.definitions import deploy_pack
from engine.workflow import runtime

ROOT = Path(__file__).resolve().parents[2]
FORMULA = '=HYPERLINK("http://evil.example","Objectives")'


async def test_a_cycle_and_a_process_with_awkward_names_download_safely(
    client, people, login
) -> None:
    await deploy_pack(ROOT / "processes" / "standard", "test", search=[ROOT / "processes"])
    cycle = await Cycle.create(name="Évaluation 2026 — 年末 =1+1")
    await runtime.start_process("objective_setting", subject="E300",
                                actor=await runtime.actor_for("E400"), cycle_id=cycle.id)
    await ProcessDefinition.filter(process_id="objective_setting").update(title=FORMULA)
    await login(people["hr"])

    answer = await client.get(f"/hr/dashboard/export.csv?cycle={cycle.id}")
    assert answer.status_code == 200
    assert 'filename="sightline-evaluation-2026-1-1.csv"' in answer.headers["content-disposition"]
    header, *rows = list(csv.reader(io.StringIO(answer.text)))
    assert "'" + FORMULA in header
    assert any("Ada Lovelace" in row for row in rows)

    answer = await client.get(f"/hr/dashboard/export.xlsx?cycle={cycle.id}")
    assert answer.status_code == 200
    assert 'filename="sightline-evaluation-2026-1-1.xlsx"' in answer.headers["content-disposition"]
    book = load_workbook(io.BytesIO(answer.content))
    results = book.worksheets[0]
    assert results.title == "Évaluation 2026 — 年末 =1+1"
    titles = {cell.value: cell.data_type for cell in results[1]}
    assert titles[FORMULA] == "s"
    assert not [cell.coordinate for sheet in book.worksheets for row in sheet.iter_rows()
                for cell in row if cell.data_type == "f"]
