"""The default SECRET_KEY serves only a development machine: `sightline serve`, `sightline
worker` and the app itself refuse it with one line saying what to set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_KEY = "dev-only-change-me"


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "SECRET_KEY": DEFAULT_KEY, "SIGHTLINE_DEV": "false",
                   "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_the_commands_refuse_the_default_key_in_one_line(command):
    done = _run(["-m", "webapp.cli", command])

    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("sightline: SECRET_KEY is the built-in default")
    assert "set SECRET_KEY" in lines[0] and "SIGHTLINE_DEV=true" in lines[0]


def test_the_app_refuses_the_default_key_and_an_empty_one():
    for key in (DEFAULT_KEY, ""):
        done = _run(["-c", "import webapp.app"], SECRET_KEY=key)
        assert done.returncode != 0
        assert "InsecureSecretKey: SECRET_KEY is" in done.stderr
        assert "set SECRET_KEY to a long random value" in done.stderr


def test_development_mode_may_use_the_default_key():
    done = _run(["-c", "import webapp.app; print('built')"], SIGHTLINE_DEV="true")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "built"
