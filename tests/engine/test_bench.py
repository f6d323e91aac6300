"""`sightline bench`: each mode runs end to end on a tiny population and reports every figure,
on a throwaway database that never is the user's own. No timing thresholds: machines differ."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.operations import bench
from engine.operations.bench.common import asyncpg_url

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("SIGHTLINE_TEST_DATABASE_URL", "")


async def test_the_launch_bench_times_submissions_before_and_during_a_launch() -> None:
    result = await bench.launch_bench(30, clients=2, client_instances=6, warmup=1, before=3)

    assert result["process"] == "year_end_appraisal"
    assert result["instances"] == 30 and result["instances_in_error"] == 0
    assert result["launch_instances_per_s"] > 0 and result["bare_spiff_starts_per_s"] > 0
    assert result["bare_spiff_starts"] == 30
    assert result["launch_ratio"] == pytest.approx(
        result["launch_instances_per_s"] / result["bare_spiff_starts_per_s"], rel=0.05)
    assert result["submit_clients"] == 2
    assert result["submissions_before_launch"] == 2 * 3
    # Each client submits at least once while the launch runs.
    assert result["concurrent_submissions"] >= 2
    for prefix, suffix in (("submit", "_before_launch"), ("concurrent_submit", "")):
        p50, p95, top = (result[f"{prefix}_{q}_ms{suffix}"] for q in ("p50", "p95", "max"))
        assert 0 < p50 <= p95 <= top
    assert result["submit_errors"] == {}
    assert result["database"] == "sqlite (file)"


async def test_the_conflicts_bench_signs_each_pair_from_two_processes() -> None:
    result = await bench.conflicts_bench(3)

    assert result["pairs"] == 3
    assert 0 <= result["false_conflicts"] <= 3 and result["other_errors"] == 0
    assert result["pairs_completed"] == 3 - result["false_conflicts"]
    assert 0 < result["signoff_p50_ms"] <= result["signoff_p95_ms"] <= result["signoff_max_ms"]
    assert result["database"] == "sqlite (file)"


async def test_a_sqlite_url_gets_a_temporary_file_and_its_own_is_left_alone(
    tmp_path: Path,
) -> None:
    own = tmp_path / "own.db"
    own.write_bytes(b"precious")
    async with bench.bench_database(f"sqlite://{own}") as (url, label):
        assert label == "sqlite (file)"
        assert url.startswith("sqlite://") and str(own) not in url
        used = Path(url.removeprefix("sqlite://"))
        used.write_bytes(b"scratch")
    assert not used.parent.exists()
    assert own.read_bytes() == b"precious"


@pytest.mark.postgres
async def test_a_postgres_url_gets_a_throwaway_database_dropped_afterwards() -> None:
    if not PG_URL:
        pytest.skip("PostgreSQL is not configured: set SIGHTLINE_TEST_DATABASE_URL")
    import asyncpg

    async def databases() -> set[str]:
        admin = await asyncpg.connect(asyncpg_url(PG_URL, "postgres"))
        try:
            return {r["datname"] for r in await admin.fetch("SELECT datname FROM pg_database")}
        finally:
            await admin.close()

    async with bench.bench_database(PG_URL) as (url, label):
        assert label == "postgresql"
        name = url.rsplit("/", 1)[1]
        assert name.startswith("sightline_bench_") and name != PG_URL.rsplit("/", 1)[1]
        assert name in await databases()
    assert name not in await databases()


def test_the_app_and_its_benches_import_without_the_test_suites_packages() -> None:
    """A plain install has no pytest, aiosmtpd or playwright: nothing at runtime imports them."""
    script = """
import importlib, pkgutil, sys

class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"pytest", "_pytest", "aiosmtpd", "playwright"}:
            raise ImportError(f"test-only package {name} imported at runtime")

sys.meta_path.insert(0, Missing())
for package in ("config", "forms", "engine", "webapp"):
    importlib.import_module(package)
    for module in pkgutil.walk_packages(sys.modules[package].__path__, package + "."):
        importlib.import_module(module.name)
from webapp.cli import build_parser
build_parser().parse_args(["bench", "--web"])
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


async def test_the_web_bench_fills_the_task_table_it_measures_the_inbox_over(
    standard: None,
) -> None:
    from engine.base.models import HumanTask, ProcessInstance
    from engine.operations.bench_fill import fill_task_table

    counts = await fill_task_table(20, "calibration", group_tasks=1, multi_candidate_tasks=1)

    # Eve and Eli: last year's objective setting completed, this year's running.
    assert counts == {"task_rows": 20, "open_task_rows": 4, "instances": 4}
    assert await ProcessInstance.filter(status="running").count() == 2
    assert await HumanTask.all().count() == 20
    assert await HumanTask.filter(status="ready", candidate_group="calibration").count() == 1
    assert await HumanTask.filter(status="ready", candidate_group=None,
                                  assignee_id=None).count() == 1
