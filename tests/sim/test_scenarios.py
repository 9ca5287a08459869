"""The simulated winter: deterministic, valid by the contract, and carrying its scenarios."""

from liaison_common.events import SUBMISSION_KINDS
from liaison_sim.scenarios import WEEKS, winter
from services.rules.detectors import EnterpriseFacts, Snapshot, detect, remember
from services.rules.thresholds import Thresholds

KINDS = {"reports": "enterprise_report", "workgroup-reports": "workgroup_report", "incidents": "incident"}


def test_the_same_seed_gives_the_same_winter_and_another_seed_another():
    assert winter(7) == winter(7)
    assert winter(7) != winter(8)


def test_every_submission_is_valid_and_the_weeks_run_to_the_end_of_march():
    weeks = winter()
    assert len(weeks) == WEEKS
    for week in weeks:
        for kind, items in week.items():
            for item in items:
                SUBMISSION_KINDS[KINDS[kind]].model.model_validate(item)
    assert weeks[0]["reports"][0]["period_start"] == "2011-12-05"
    assert weeks[-1]["reports"][0]["period_end"] == "2012-04-01"


def test_the_scenarios_raise_the_problems_they_are_about():
    thresholds = Thresholds.load()
    facts = {
        "qinghai-salt-lake": EnterpriseFacts("qinghai-salt-lake", "青海盐湖工业集团公司", "钾肥"),
        "qiaotou-aluminium-power": EnterpriseFacts(
            "qiaotou-aluminium-power", "青海桥头铝电有限公司", "电解铝"
        ),
        "chalco-qinghai": EnterpriseFacts("chalco-qinghai", "中国铝业股份有限公司青海分公司", "电解铝"),
        "qinghai-electric-power": EnterpriseFacts("qinghai-electric-power", "青海省电力公司", "电力"),
        "xining-special-steel": EnterpriseFacts(
            "xining-special-steel", "西宁特殊钢集团有限责任公司", "特钢", "西宁"
        ),
    }
    model = SUBMISSION_KINDS["enterprise_report"].model
    found: dict[str, set[str]] = {e: set() for e in facts}
    history: dict[str, list[Snapshot]] = {e: [] for e in facts}
    for week in winter():
        for item in week["reports"]:
            if item["enterprise_id"] in facts:
                report = model.model_validate(item)
                found[report.enterprise_id] |= {
                    p.type
                    for p in detect(
                        facts[report.enterprise_id], report, history[report.enterprise_id], thresholds
                    )
                }
                history[report.enterprise_id] = remember(history[report.enterprise_id], report, 8)
    assert {"transport_backlog", "stockpile"} <= found["qinghai-salt-lake"]
    assert {"funding_gap", "energy_overuse"} <= found["qiaotou-aluminium-power"]
    assert {"funding_gap", "power_shortage"} <= found["chalco-qinghai"]
    assert "power_shortage" in found["qinghai-electric-power"]
    assert "growth_shortfall" in found["xining-special-steel"]


def test_a_liaison_stops_reporting_and_an_incident_is_reported():
    weeks = winter()
    energy = [
        w for w in weeks if any(r["enterprise_id"] == "qinghai-energy-development" for r in w["reports"])
    ]
    assert len(energy) == 6
    assert sum(len(w["incidents"]) for w in weeks) == 1
