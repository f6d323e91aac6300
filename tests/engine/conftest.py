"""Engine fixtures: a small team with a reporting line and HR, and the standard pack."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.org import ORG_TEAM as TEAM_CSV

STANDARD = Path(__file__).resolve().parents[2] / "processes" / "standard"

# Dana directs Morgan, who leads Eve and Eli; Hana is HR.


@pytest.fixture
async def org(db: str) -> None:
    """The team, imported through the org-chart import."""
    from engine.people.org_import import import_org

    report = await import_org(TEAM_CSV)
    assert not report.errors, report.errors


@pytest.fixture
async def standard(org: None) -> None:
    """The team, and the standard pack deployed."""
    from engine.packs.definitions import deploy_pack

    await deploy_pack(STANDARD, "test", search=[STANDARD.parent])
