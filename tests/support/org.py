"""The small organisations tests import, as org-chart CSV (what `sightline org import` reads).

One cast, written once: the people keep their names, titles and managers in every test that
uses them, and a test builds the organisation it needs from these lines with `org_csv`. Two
offices, because tests assert what each one says:

- the engineering team (`TEAM`), everyone in one Engineering unit: Dana directs Morgan, who
  leads Eve and Eli ("Eli Other"); Hana is HR. The web, deployment and browser tests' team.
- the same team in one unit called Org (`ORG_TEAM`), as the engine tests know it ("Eli
  Employee", Hana an individual contributor).

A test whose organisation is its own point (units and partners, odd input, a big population)
writes it where the test is.
"""

from __future__ import annotations

HEADER = (
    "employee_id,name,email,title,job_family,org_unit_code,org_unit_name,"
    "parent_org_unit_code,manager_id,groups"
)


def org_csv(*people: str, header: str = HEADER) -> str:
    """An org-chart CSV of these people's lines under `header`."""
    return "\n".join([header, *people]) + "\n"


# -- the engineering team -----------------------------------------------------------------------

DANA = "D1,Dana Director,dana@example.com,Director,people_manager,ENG,Engineering,,,"
MORGAN = "M1,Morgan Manager,morgan@example.com,Team lead,people_manager,ENG,Engineering,,D1,"
EVE = "E1,Eve Employee,eve@example.com,Software Engineer,engineering,ENG,Engineering,,M1,"
ELI = "E2,Eli Other,eli@example.com,Software Engineer,engineering,ENG,Engineering,,M1,"
HANA = "H1,Hana HR,hana@example.com,HR partner,hr,ENG,Engineering,,D1,hr"
# Dee designs processes (and is in HR, as designers are).
DEE = "X1,Dee Designer,dee@example.com,HR systems designer,hr,ENG,Engineering,,H1,designer;hr"

TEAM = org_csv(DANA, MORGAN, EVE, ELI, HANA)

# -- the same team in the Org unit (engine tests) -------------------------------------------------

ORG_DANA = "D1,Dana Director,dana@example.com,Director,people_manager,ORG,Org,,,"
ORG_MORGAN = "M1,Morgan Manager,morgan@example.com,Team lead,people_manager,ORG,Org,,D1,"
# Morgan at the top, for tests of a manager and their reports alone.
ORG_MORGAN_TOP = "M1,Morgan Manager,morgan@example.com,Team lead,people_manager,ORG,Org,,,"
ORG_EVE = "E1,Eve Employee,eve@example.com,Engineer,engineering,ORG,Org,,M1,"
# Eve in sales, for the packs whose objectives are sales targets.
ORG_EVE_SALES = "E1,Eve Employee,eve@example.com,Account executive,sales,ORG,Org,,M1,"
ORG_ELI = "E2,Eli Employee,eli@example.com,Engineer,engineering,ORG,Org,,M1,"
ORG_HANA = "H1,Hana HR,hana@example.com,HR partner,individual_contributor,ORG,Org,,D1,hr"

ORG_TEAM = org_csv(ORG_DANA, ORG_MORGAN, ORG_EVE, ORG_ELI, ORG_HANA)

# -- the people of the web tests' login fixture (a director's line, no units) --------------------

PEOPLE_HEADER = "employee_id,name,email,title,manager_id,groups"
MARIA = "E100,Maria Okafor,maria@example.com,Director,,"
SAM = "E200,Sam Patel,sam@example.com,Engineering Manager,E100,"
ADA = "E300,Ada Lovelace,ada@example.com,Software Engineer,E200,"
HAL = "E400,Hal Ruiz,hal@example.com,HR Business Partner,E100,hr"
DEE_NAKAMURA = "E500,Dee Nakamura,dee@example.com,HR Systems Designer,E400,designer;hr"

PEOPLE = org_csv(MARIA, SAM, ADA, HAL, DEE_NAKAMURA, header=PEOPLE_HEADER)
