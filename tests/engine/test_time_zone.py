"""The organisation's time zone: times people type without a zone are its local time, stored
in UTC; a zone that does not exist is refused by name, and so is a server started with one."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.base import clock
from engine.performance.one_on_ones import parse_when
from engine.talent.training import parse_moment
from engine.workflow.notifications import digest_time
from engine.workflow.scheduled_meetings import meeting_time

ROOT = Path(__file__).resolve().parents[2]


def test_a_time_typed_in_berlin_is_stored_in_utc_across_the_clock_change() -> None:
    with clock.in_zone("Europe/Berlin"):
        assert parse_when("2027-01-15T10:00") == datetime(2027, 1, 15, 9, 0, tzinfo=UTC)
        assert parse_when("2027-07-15 10:00") == datetime(2027, 7, 15, 8, 0, tzinfo=UTC)
        assert parse_moment("starts_at", "2027-07-15T10:00") == datetime(
            2027, 7, 15, 8, 0, tzinfo=UTC)
        assert meeting_time("discussion_at", ["2027-01-15T10:00"]) == datetime(
            2027, 1, 15, 9, 0, tzinfo=UTC)
        # A time that names its zone means that zone, whatever the organisation's.
        assert parse_when("2027-01-15T10:00+05:30") == datetime(2027, 1, 15, 4, 30,
                                                                 tzinfo=UTC)
        assert clock.wall_time(datetime(2027, 7, 15, 8, 0, tzinfo=UTC)) == (
            "15 July 2027 10:00 Europe/Berlin")
    # Without a zone set, typed times are UTC.
    assert parse_when("2027-01-15T10:00") == datetime(2027, 1, 15, 10, 0, tzinfo=UTC)
    assert clock.zone_name() == "UTC"


def test_the_daily_digest_goes_at_the_hour_of_the_organisation_s_clocks() -> None:
    early_may = datetime(2099, 5, 4, 6, 0, tzinfo=UTC)
    with clock.in_zone("Europe/Berlin"):  # summer time: UTC+2
        assert digest_time(early_may, 7) == datetime(2099, 5, 4, 5, 0, tzinfo=UTC)
        # Just before midnight UTC it is already the next day in Berlin.
        assert digest_time(datetime(2099, 5, 4, 23, 30, tzinfo=UTC), 7) == datetime(
            2099, 5, 5, 5, 0, tzinfo=UTC)
    assert digest_time(early_may, 7) == datetime(2099, 5, 4, 7, 0, tzinfo=UTC)


def test_a_zone_that_does_not_exist_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'Mars/Olympus' is not a time zone"):
        clock.time_zone("Mars/Olympus")
    assert clock.time_zone("utc") is UTC


def test_the_command_line_refuses_to_start_in_a_zone_that_does_not_exist(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "TIME_ZONE": "Europe/Atlantis",
           "DATABASE_URL": f"sqlite://{tmp_path / 'db.sqlite'}"}
    ran = subprocess.run([sys.executable, "-m", "webapp.cli", "db", "upgrade"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode != 0
    assert "TIME_ZONE 'Europe/Atlantis' is not a time zone" in ran.stderr
    assert not (tmp_path / "db.sqlite").exists()  # nothing was done
