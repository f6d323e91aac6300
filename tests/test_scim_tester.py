"""The SCIM endpoint checked by an independent checker: scim2-tester runs its whole suite
(discovery, create, read, attribute filtering, replace, delete, PATCH add/replace/remove on
every attribute the server publishes) against the real app in its own process, with a token
made by `sightline token create` as an administrator wiring an identity provider would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from app_server import LIVE_APP, ROOT, serving
from scim2_client.client import BaseSyncSCIMClient
from scim2_tester import Status, check_server

# What a check may end as and still count as passing: MUST and SHOULD met, or a MAY used.
PASSING = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE, Status.SKIPPED}


class HttpxSCIMClient(BaseSyncSCIMClient):
    """scim2-client over an httpx.Client: scim2-client's own network engine is written for
    the httpx2 fork, which has the same API (this is its engine, on httpx)."""

    def __init__(self, client: httpx.Client, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client

    def _stays_under_base_url(self, endpoint: str) -> bool:
        url = self.client.build_request("GET", endpoint).url
        base = self.client.base_url
        return url.scheme == base.scheme and url.host == base.host and (
            url.port == base.port and url.raw_path.startswith(base.raw_path))

    def _parse_json(self, response: Any) -> Any:
        return response.json()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, url, **kwargs)


def make_token(database_url: str) -> str:
    """`sightline token create --scope scim`: the token is the last line it prints."""
    done = subprocess.run(
        [sys.executable, "-m", "webapp.cli", "token", "create", "--name", "scim2-tester",
         "--scope", "scim"],
        cwd=ROOT, env={**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_scim2_tester_passes_every_check(tmp_path: Path) -> None:
    database = tmp_path / "sightline.db"
    with serving(LIVE_APP, [str(database), "objectives"], tmp_path / "server.log") as url:
        token = make_token(f"sqlite://{database}")
        with httpx.Client(
            base_url=f"{url}/scim/v2", headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as http:
            results = check_server(HttpxSCIMClient(http))
    counts = Counter(result.status.name for result in results)
    print(f"scim2-tester: {len(results)} checks, " + ", ".join(
        f"{count} {status.lower()}" for status, count in sorted(counts.items())))
    failed = [
        f"{result.title} [{result.resource_type or '-'}] {result.status.name}: {result.reason} "
        f"({result.data})"
        for result in results
        if result.status not in PASSING
    ]
    assert not failed, "\n".join(failed)
    assert counts["SUCCESS"] > 0


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-s"])
