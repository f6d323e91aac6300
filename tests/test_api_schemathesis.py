"""The REST API against its own OpenAPI document, live: the real app in its own process on
demo-like data (the engineering team, the standard pack, objective setting under way), a
token made the way an administrator scripts it (`sightline token create … --as`, its last
line), and schemathesis (its CLI, every check but positive_data_acceptance, which takes any
schema-valid body for one the business rules must accept) run against /api/v1/openapi.json.
It must find no server error and no answer that breaks the document."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.browser.app_server import LIVE_APP, ROOT, serving

BIN = Path(sys.executable).parent
# Fixed, so a run in CI is the run a developer repeats; bounded, so the suite stays quick.
SEED = "20261207"
MAX_EXAMPLES = "20"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The app serving a fresh SQLite database; (its URL, the database file)."""
    database = tmp_path_factory.mktemp("api") / "sightline.db"
    env = {"API_RATE_LIMIT": "1000000"}  # schemathesis is one client making many calls
    with serving(LIVE_APP, [str(database), "objectives"], database.with_suffix(".log"),
                 env=env) as url:
        yield url, database


def _token_create(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite://{database}", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "webapp.cli", "token", "create", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_token_create_prints_a_token_that_works_on_its_last_line(live):
    url, database = live
    made = _token_create(database, "--name", "BI export", "--scope", "api", "--as", "h1")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"sl_pat_[A-Za-z0-9_-]{43}", token)
    answer = httpx.get(f"{url}/api/v1/people/E1",
                       headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.json()["name"] == "Eve Employee"

    service = _token_create(database, "--name", "Okta", "--scope", "scim")
    scim_token = service.stdout.strip().splitlines()[-1]
    assert scim_token.startswith("sl_svc_")
    refused = httpx.get(f"{url}/api/v1/people", headers={"Authorization": f"Bearer {scim_token}"})
    assert refused.status_code == 403  # a SCIM token is not an API token

    unknown = _token_create(database, "--name", "x", "--scope", "api", "--as", "nobody")
    assert unknown.returncode == 1 and "no login named 'nobody'" in unknown.stderr


def test_schemathesis_finds_no_server_error_and_no_answer_off_the_schema(live):
    url, database = live
    made = _token_create(database, "--name", "schemathesis", "--scope", "api", "--as", "h1")
    token = made.stdout.strip().splitlines()[-1]
    run = subprocess.run(
        [str(BIN / "schemathesis"), "run", f"{url}/api/v1/openapi.json",
         "--url", f"{url}/api/v1", "--header", f"Authorization: Bearer {token}",
         "--checks", "all", "--exclude-checks", "positive_data_acceptance",
         "--max-examples", MAX_EXAMPLES, "--seed", SEED, "--workers", "1",
         "--request-timeout", "30"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"},
    )
    output = run.stdout + run.stderr
    tested = re.search(r"Tested:\s*(\d+)", output)
    cases = re.search(r"(\d+) generated, (\d+) passed", output)
    print(f"schemathesis: {tested.group(1) if tested else '?'} operations, "
          f"{cases.group(1) if cases else '?'} test cases, "
          f"{cases.group(2) if cases else '?'} passed")
    assert run.returncode == 0, output[-6000:]
    assert cases is not None and cases.group(1) == cases.group(2), output[-3000:]
    assert int(tested.group(1)) >= 17
