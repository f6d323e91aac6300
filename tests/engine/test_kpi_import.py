"""`sightline kpi import FILE.csv`: actuals from other systems, checked as a web update is;
one bad row and nothing is imported, each error named by its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.base import clock
from engine.base.models import Cycle, KpiUpdate, ObjectiveStatus, Record
from engine.people.org_import import import_org
from engine.performance.progress import import_actuals
from tests.engine.test_dashboards import ORG

OBJECTIVES = [
    {"kra": "Delivery", "title": "Ship the API", "key": "ship-api", "target": 10, "weight": 60},
    {"kra": "Quality", "title": "Cut defects", "target": 10, "baseline": 20, "weight": 40,
     "measure_type": "lower_is_better"},
]
GOOD = """employee,objective,actual,status,comment
D1,ship-api,4,on track,From the release tracker
D1,Cut defects,"1,5",,
D2,ship-api,7,at_risk,
"""
BAD = """employee,objective,actual,status,comment
D1,ship-api,4,on track,fine
NOBODY,ship-api,1,,
D1,Write a novel,3,,
D2,ship-api,lots,,
D2,ship-api,2,sideways,
"""


async def _objectives(cycle_name: str = "2026") -> Cycle:
    assert not (await import_org(ORG)).errors
    cycle = await Cycle.create(name=cycle_name)
    from engine.people.directory import current_directory

    directory = await current_directory()
    for key in ("D1", "D2"):
        person = directory.person(key)
        assert person is not None
        await Record.create(kind="objectives", person_id=person.id, cycle=cycle,
                            data={"objectives": OBJECTIVES}, created_at=clock.now())
    return cycle


async def test_a_good_file_records_every_row_as_an_import(db: str) -> None:
    await _objectives()
    report = await import_actuals(GOOD)
    assert str(report) == "recorded 3 progress updates"
    assert await KpiUpdate.filter(source="import").count() == 3
    defects = await ObjectiveStatus.get(objective_key="cut-defects")
    assert (defects.actual, defects.status) == (1.5, "")  # a decimal comma is read
    assert {s.status for s in await ObjectiveStatus.filter(objective_key="ship-api")} == {
        "on_track", "at_risk"}


async def test_bad_rows_are_each_named_by_line_and_nothing_is_imported(db: str) -> None:
    await _objectives()
    report = await import_actuals(BAD)
    assert [n for n, _ in report.errors] == [3, 4, 5, 6]
    text = str(report)
    assert "line 3: no employee “NOBODY”" in text
    assert "line 4: no objective “Write a novel”" in text
    assert "line 5: the actual must be a number, not “lots”" in text
    assert "line 6: the status must be on track, at risk or off track" in text
    assert text.endswith("4 bad rows: nothing imported")
    assert await KpiUpdate.all().count() == 0  # the good first row waits for a clean file


async def test_a_dry_run_checks_and_records_nothing(db: str) -> None:
    await _objectives()
    report = await import_actuals(GOOD, dry_run=True)
    assert str(report) == "would record 3 progress updates"
    assert await KpiUpdate.all().count() == 0


async def test_a_header_without_the_needed_columns_is_refused(db: str) -> None:
    await _objectives()
    report = await import_actuals("person,value\nD1,3\n")
    assert report.errors and "lacks employee, objective, actual" in report.errors[0][1]


async def test_a_named_cycle_is_used_instead_of_the_newest(db: str) -> None:
    old = await _objectives("2025")
    newer = await Cycle.create(name="2026")
    report = await import_actuals("employee,objective,actual,cycle\nD1,ship-api,3,2025\n")
    assert report.recorded == 1 and not report.errors
    assert (await ObjectiveStatus.get()).cycle_id == old.id != newer.id


def test_the_command_prints_errors_with_line_numbers_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from config import settings
    from engine.base import db as engine_db
    from webapp.cli import main

    url = f"sqlite://{tmp_path / 'cli.db'}"
    monkeypatch.setattr(settings, "DATABASE_URL", url)

    async def prepare() -> None:
        await engine_db.create_schema(url)
        try:
            await _objectives()
        finally:
            await engine_db.disconnect()

    asyncio.run(prepare())
    bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
    bad.write_text(BAD)
    good.write_text(GOOD)
    assert main(["kpi", "import", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "line 4: no objective “Write a novel”" in out and "nothing imported" in out
    assert main(["kpi", "import", "--dry-run", str(good)]) == 0
    assert "would record 3 progress updates" in capsys.readouterr().out
    assert main(["kpi", "import", str(good)]) == 0
    assert "recorded 3 progress updates" in capsys.readouterr().out
