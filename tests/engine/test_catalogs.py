"""The standard pack's catalogs: rating scale, competency framework, KRAs, measure types and
merit guidelines — consistent with each other, with the scoring and with the forms that show
them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lxml.html
import pytest
from starlette.datastructures import FormData

from engine.packs.loading import load_pack
from engine.scripts.scoring import MAX_ACHIEVEMENT, MEASURE_TYPES, kpi_score
from forms import FormSpec, form_spec, render_schema_template

STANDARD = Path(__file__).resolve().parents[2] / "processes" / "standard"
JOB_FAMILIES = ("individual_contributor", "people_manager", "sales", "engineering")
ADA = {"id": 3, "name": "Ada Lovelace"}


@pytest.fixture(scope="module")
def catalogs() -> dict[str, dict[str, Any]]:
    return load_pack(STANDARD).catalogs()


def family_competencies(catalogs: dict, family: str) -> list[dict[str, str]]:
    """The `competencies` task data the appraisal's prepare step sets for a job family."""
    framework = catalogs["competencies"]
    return [
        {"key": key, "name": framework["competencies"][key]["name"]}
        for key in framework["families"][family]["competencies"]
    ]


def pack_form(name: str, data: dict[str, Any], catalogs: dict) -> FormSpec:
    forms = STANDARD / "forms"
    schema = render_schema_template((forms / f"{name}-schema.json").read_text(), data)
    ui = render_schema_template((forms / f"{name}-uischema.json").read_text(), data)
    return form_spec(schema, ui, catalogs)


# --------------------------------------------------------------------------- rating scale


def test_rating_scale_has_five_labelled_levels_best_first(catalogs):
    levels = catalogs["rating_scale"]["levels"]
    assert [(lv["value"], lv["label"]) for lv in levels] == [
        (5, "Outstanding"),
        (4, "Exceeds expectations"),
        (3, "Meets expectations"),
        (2, "Partly meets expectations"),
        (1, "Does not meet expectations"),
    ]
    assert all(len(lv["definition"]) > 40 for lv in levels)


def test_guideline_distribution_adds_up_and_groups_cover_every_level_once(catalogs):
    distribution = catalogs["rating_scale"]["distribution"]
    shares = {int(level): share for level, share in distribution["shares"].items()}
    assert set(shares) == {1, 2, 3, 4, 5}
    assert sum(shares.values()) == 100
    grouped = [level for group in distribution["groups"] for level in group["levels"]]
    assert sorted(grouped) == [1, 2, 3, 4, 5]
    for group in distribution["groups"]:
        assert group["share"] == sum(shares[level] for level in group["levels"])


# --------------------------------------------------------------------------- competencies


def test_every_job_family_rates_known_competencies(catalogs):
    framework = catalogs["competencies"]
    assert set(JOB_FAMILIES) <= set(framework["families"])
    assert framework["default_family"] in framework["families"]
    for family in framework["families"].values():
        assert len(family["competencies"]) >= 4
        assert set(family["competencies"]) <= set(framework["competencies"])


def test_every_competency_has_behavioural_indicators_for_every_level(catalogs):
    values = {str(lv["value"]) for lv in catalogs["rating_scale"]["levels"]}
    for key, competency in catalogs["competencies"]["competencies"].items():
        assert competency["name"] and competency["description"], key
        assert set(competency["levels"]) == values, key
        for indicators in competency["levels"].values():
            assert indicators and all(sentence.endswith(".") for sentence in indicators), key


def test_families_get_their_own_competencies(catalogs):
    engineering = {c["key"] for c in family_competencies(catalogs, "engineering")}
    sales = {c["key"] for c in family_competencies(catalogs, "sales")}
    managers = {c["key"] for c in family_competencies(catalogs, "people_manager")}
    assert "technical_mastery" in engineering and "technical_mastery" not in sales
    assert "negotiation" in sales and "coaching" in managers and "coaching" not in engineering


def test_self_appraisal_shows_the_anchors_of_the_subjects_job_family(catalogs):
    data = {"competencies": family_competencies(catalogs, "engineering"), "objectives": []}
    html = pack_form("self-appraisal", data, catalogs).bind().render(action="/t")
    doc = lxml.html.fromstring(html)
    legends = [legend.text_content() for legend in doc.xpath("//legend")]
    assert any(text.startswith("Technical mastery") for text in legends)
    assert not any(text.startswith("Negotiation") for text in legends)
    anchors = [s.text_content() for s in doc.xpath("//span[@class='sl-anchor']")]
    assert "Makes architectural decisions that remain sound years later." in anchors
    assert len(doc.xpath("//div[contains(concat(' ', @class, ' '), ' sl-rating-level ')]")) == 5 * 5
    # The scale's general definitions are shown once, not under every competency.
    assert len(doc.xpath("//details[@class='sl-scale-legend']")) == 1


def test_self_appraisal_keeps_agreed_objectives_fixed_and_takes_the_actuals(catalogs):
    agreed = [{"kra": "Delivery", "title": "Ship", "kpi": "Items", "measure_type":
               "higher_is_better", "baseline": 0, "target": 10, "weight": 100}]
    competencies = family_competencies(catalogs, "sales")
    data = {"competencies": competencies, "objectives": agreed}
    posted = [
        ("objectives-0-title", "Ship something else"),  # read-only: must be ignored
        ("objectives-0-target", "1"),
        ("objectives-0-actual", "12"),
        ("self_summary", "Good year."),
        *((f"self_ratings-{c['key']}", "4") for c in competencies),
    ]
    spec = pack_form("self-appraisal", data, catalogs)
    bound = spec.bind(FormData(posted), data)
    assert bound.validate(), bound.errors
    row = bound.to_data()["objectives"][0]
    assert (row["title"], row["target"], row["actual"]) == ("Ship", 10, 12)
    assert bound.to_data()["self_ratings"] == {c["key"]: 4 for c in competencies}
    shown = lxml.html.fromstring(spec.bind(None, data).render(action="/t"))
    assert "add:objectives" not in lxml.html.tostring(shown, encoding="unicode")
    # Agreed values read as text, the measure by its name; only the actual is an input.
    fixed = [td.text_content().strip() for td in shown.xpath("//td[@class='sl-cell-fixed']")]
    assert fixed[:4] == ["Delivery", "Ship", "Items", "Higher is better"]
    assert not shown.xpath("//input[@name='objectives-0-title' and @type='text']")
    assert shown.xpath(
        "//input[@name='objectives-0-actual' and @type='text' and @inputmode='decimal']"
    )


def test_self_appraisal_without_agreed_objectives_lets_the_employee_list_them(catalogs):
    data = {"competencies": family_competencies(catalogs, "sales"), "objectives": []}
    html = pack_form("self-appraisal", data, catalogs).bind(None, data).render(action="/t")
    assert "add:objectives" in html


def manager_post(competencies: list[dict], rating: int, reason: str = "") -> FormData:
    return FormData([
        *((f"manager_ratings-{c['key']}", "3") for c in competencies),
        ("manager_rating", str(rating)),
        ("override_reason", reason),
        ("potential", "medium"),
        ("manager_comments", "Solid year."),
    ])


def test_manager_rating_other_than_the_proposal_needs_a_reason(catalogs):
    competencies = family_competencies(catalogs, "engineering")
    data = {"competencies": competencies, "proposed_rating": 3, "kpi_result": 3.2}
    spec = pack_form("appraisal-manager", data, catalogs)
    assert spec.bind(manager_post(competencies, 3), data).validate()
    overridden = spec.bind(manager_post(competencies, 4), data)
    assert not overridden.validate()
    assert [label for label, _ in overridden.errors] == [
        "Reason for a different overall rating"
    ]
    assert spec.bind(manager_post(competencies, 4, "Led the release."), data).validate()


def test_manager_form_proposes_the_kpi_rating(catalogs):
    competencies = family_competencies(catalogs, "engineering")
    data = {"competencies": competencies, "proposed_rating": 4, "kpi_result": 3.6}
    html = pack_form("appraisal-manager", data, catalogs).bind(None, data).render(action="/t")
    doc = lxml.html.fromstring(html)
    assert [i.get("value") for i in doc.xpath("//input[@name='manager_rating'][@checked]")] \
        == ["4"]
    assert "3.6 → 4" in html


# The radio of the rating level a mark sits in.
LEVEL_RADIO = "ancestor::div[contains(concat(' ', @class, ' '), ' sl-rating-level ')]//input"


def test_manager_sees_the_employees_self_rating_on_each_competency(catalogs):
    competencies = family_competencies(catalogs, "engineering")
    first, second = competencies[0]["key"], competencies[1]["key"]
    data = {"competencies": competencies, "proposed_rating": 3, "kpi_result": 3.0,
            "self_ratings": {first: 4, second: 2}}
    html = pack_form("appraisal-manager", data, catalogs).bind(None, data).render(action="/t")
    doc = lxml.html.fromstring(html)
    radios = [mark.xpath(LEVEL_RADIO)[0] for mark in doc.xpath("//mark[@class='sl-marker']")]
    marked = {radio.get("name"): radio.get("value") for radio in radios}
    assert marked == {f"manager_ratings-{first}": "4", f"manager_ratings-{second}": "2"}
    # Before a self-appraisal (or without one) there is nothing to mark.
    bare = {"competencies": competencies, "proposed_rating": 3, "kpi_result": 3.0}
    spec = pack_form("appraisal-manager", bare, catalogs)
    assert "sl-marker" not in spec.bind(None, bare).render(action="/t")


# --------------------------------------------------------------------------- KPIs


def test_measure_types_match_the_scoring(catalogs):
    measures = catalogs["measure_types"]
    assert tuple(measures["measure_types"]) == MEASURE_TYPES
    assert measures["cap"] == MAX_ACHIEVEMENT
    for band in measures["score_bands"]:
        assert kpi_score(band["from"]) == band["score"]
        if band["from"] > 0:
            assert kpi_score(band["from"] - 0.01) == band["score"] - 1


def test_kra_library_covers_every_family_with_scorable_kpis(catalogs):
    families = catalogs["kra_library"]["families"]
    assert set(families) == set(catalogs["competencies"]["families"])
    for family in families.values():
        assert len(family["kras"]) >= 3
        for kra in family["kras"]:
            assert kra["kpis"]
            assert all(kpi["measure_type"] in MEASURE_TYPES for kpi in kra["kpis"])


# --------------------------------------------------------------------------- merit


def test_merit_bands_are_contiguous_compa_ratio_ranges(catalogs):
    bands = catalogs["merit_guidelines"]["bands"]
    assert bands[0]["min"] == 0
    for lower, upper in zip(bands, bands[1:], strict=False):
        assert lower["max"] == upper["min"]


def test_merit_guidelines_cover_every_rating_and_band_in_order(catalogs):
    merit = catalogs["merit_guidelines"]
    keys = [band["key"] for band in merit["bands"]]
    table = merit["guidelines"]
    assert sorted(table) == ["1", "2", "3", "4", "5"]
    for rating in table:
        assert list(table[rating]) == keys
        for cell in table[rating].values():
            assert 0 <= cell["low"] <= cell["target"] <= cell["high"]
        # Lower in the range earns at least as much as higher in it.
        targets = [table[rating][key]["target"] for key in keys]
        assert targets == sorted(targets, reverse=True)
    for key in keys:
        # A better rating never earns a smaller guideline.
        targets = [table[str(r)][key]["target"] for r in range(1, 6)]
        assert targets == sorted(targets)
    assert table["1"]["within"]["high"] == 0
