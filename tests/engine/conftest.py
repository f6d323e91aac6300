"""Engine fixtures: a small team with a reporting line and HR, and the standard pack."""

from __future__ import annotations

from pathlib import Path

import pytest

STANDARD = Path(__file__).resolve().parents[2] / "processes" / "standard"

# Dana directs Morgan, who leads Eve and Eli; Hana is HR.
TEAM_CSV = """employee_id,name,email,title,job_family,org_unit_code,org_unit_name,\
parent_org_unit_code,manager_id,groups
D1,Dana Director,dana@example.com,Director,people_manager,ORG,Org,,,
M1,Morgan Manager,morgan@example.com,Team lead,people_manager,ORG,Org,,D1,
E1,Eve Employee,eve@example.com,Engineer,engineering,ORG,Org,,M1,
E2,Eli Employee,eli@example.com,Engineer,engineering,ORG,Org,,M1,
H1,Hana HR,hana@example.com,HR partner,individual_contributor,ORG,Org,,D1,hr
"""


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
