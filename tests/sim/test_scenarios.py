"""The simulated winter: deterministic, valid by the contract, and carrying its scenarios."""

from datetime import date, timedelta

from liaison_common.events import SUBMISSION_KINDS
from liaison_sim.scenarios import WEEKS, winter
from services.rules.domain.detectors import detect
from services.rules.domain.history import remember
from services.rules.domain.problems import EnterpriseFacts, Snapshot
from services.rules.domain.thresholds import Thresholds

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
        "qinghai-huasheng-ferroalloy": EnterpriseFacts(
            "qinghai-huasheng-ferroalloy", "青海华晟铁合金", "硅铁"
        ),
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
    # The potash awaits rail: a transport backlog, not a stockpile (docs/contract.md §7).
    assert "transport_backlog" in found["qinghai-salt-lake"] and "stockpile" not in found["qinghai-salt-lake"]
    assert {"funding_gap", "energy_overuse"} <= found["qiaotou-aluminium-power"]
    assert {"funding_gap", "power_shortage"} <= found["chalco-qinghai"]
    assert "power_shortage" in found["qinghai-electric-power"]
    assert "stockpile" in found["qinghai-huasheng-ferroalloy"]  # the market slump before the halt
    assert "growth_shortfall" not in found["xining-special-steel"]  # never one enterprise alone


def test_the_xining_region_falls_short_of_its_2011_target_as_a_whole():
    """The regional judgement of docs/contract.md §7 over the winter: 西宁's reporting enterprises,
    weighted by output value, fall below 17.5 % in two weeks of December 2011 running; no week
    of 2012 is judged against 附件1's targets."""
    from services.registry.organisation import load_organisation
    from services.rules.domain import regional

    thresholds = Thresholds.load()
    window = thresholds.get("growth_shortfall", "window").value
    regions = {e["id"]: e.get("region") for e in load_organisation()["enterprises"]}
    states: dict[str, dict] = {}
    short: list[tuple[str, str]] = []
    judged: list[str] = []
    for week in winter():
        for item in week["reports"]:
            region = regions.get(item["enterprise_id"])
            indicators = item["indicators"]
            growth = indicators.get("output_value_yoy_pct")
            if not regional.counts_for_region(region, growth, date.fromisoformat(item["period_end"]), window):
                continue
            target = thresholds.get("growth_shortfall", "target_pct", region).value
            for verdict in regional.contribute(
                states.setdefault(region, regional.new_state()),
                enterprise_id=item["enterprise_id"],
                period_end=item["period_end"],
                output_value=indicators.get("output_value"),
                growth_pct=growth,
                target_pct=target,
                running=2,
            ):
                judged.append(verdict.period_end)
                if verdict.short:
                    short.append((region, verdict.period_end))
    assert short == [("西宁", "2011-12-25")]
    assert max(judged) <= "2011-12-31"


def test_a_liaison_stops_reporting_and_an_incident_is_reported():
    weeks = winter()
    energy = [
        w for w in weeks if any(r["enterprise_id"] == "qinghai-energy-development" for r in w["reports"])
    ]
    assert len(energy) == 11
    assert sum(len(w["incidents"]) for w in weeks) == 2


def test_every_coordination_group_receives_a_case_from_the_winter():
    """The promise of `make up`'s demo: each of the eight groups finds a case in its inbox. Played
    through the rules service's own domain code (detectors, case books, routing) on the registry's
    organisation file, without Kafka (the end-to-end demo itself runs in `make up`)."""
    from liaison_common.events import EnterpriseReport, Incident, WorkgroupReport
    from liaison_common.registry_view import RegistryView
    from services.registry.organisation import load_organisation
    from services.rules.domain.alerts import build_alert
    from services.rules.domain.cases import CaseBook
    from services.rules.domain.stated_problems import incident_problem, province_targets, workgroup_problem

    organisation = load_organisation()
    view = RegistryView()
    sections = {"coordination_groups": "group", "work_groups": "work_group", "enterprises": "enterprise"}
    for section, entity_type in sections.items():
        for item in organisation[section]:
            view.apply({"entity_type": entity_type, "id": item["id"], "version": 1, "data": item})
    thresholds = Thresholds.load()

    def facts(enterprise_id: str) -> EnterpriseFacts:
        data = view.get("enterprise", enterprise_id) or {}
        return EnterpriseFacts(enterprise_id, data["name"], data.get("main_product"), data.get("region"))

    books: dict[str, CaseBook] = {}
    history: dict[str, list[Snapshot]] = {}
    reached: dict[str, set[str]] = {}

    def alert(problem, subject_id: str) -> None:
        value = problem.as_dict()
        case = books.setdefault(subject_id, CaseBook()).detected(problem.type, subject_id, problem.period_end)
        routed = build_alert(value, view, detected_at="2012-01-01T00:00:00+00:00", case=case)
        for route in routed["routes"]:
            reached.setdefault(route["group_id"], set()).add(routed["alert_id"])

    for week in winter():
        for item in week["reports"]:
            report = EnterpriseReport.model_validate(item)
            past = history.get(report.enterprise_id, [])
            for problem in detect(facts(report.enterprise_id), report, past, thresholds):
                alert(problem, report.enterprise_id)
            history[report.enterprise_id] = remember(past, report, 8)
        for item in week["workgroup-reports"]:
            wg_report = WorkgroupReport.model_validate(item)
            for stated in wg_report.open_problems:
                alert(workgroup_problem(wg_report, stated, facts(stated.enterprise_id)), stated.enterprise_id)
            for problem in province_targets(wg_report, thresholds)[0]:
                alert(problem, wg_report.work_group_id)
        for item in week["incidents"]:
            incident = Incident.model_validate(item)
            alert(incident_problem(facts(incident.enterprise_id), incident), incident.enterprise_id)

    groups = [g["id"] for g in organisation["coordination_groups"]]
    assert [g for g in groups if not reached.get(g)] == []
    assert any(a.startswith("production_halt.qinghai-huasheng-ferroalloy") for a in reached["mergers"])
    assert any(a.startswith("funding_gap.qinghai-jingzhu-tibetan-medicine") for a in reached["sme"])
    assert any(a.startswith("transport_backlog.wg-rail.") for a in reached["operations"])
    assert any(a.startswith("power_shortage.wg-power.") for a in reached["operations"])


def test_the_history_keeps_only_what_the_detectors_read_and_finds_the_same_problems():
    """rules keeps in its history table only the indicators HISTORY_INDICATORS names: over the
    whole winter, detection against that history finds exactly what it finds against whole
    reports (a detector that read another indicator of the past would make them differ)."""
    from liaison_common.events import EnterpriseReport
    from services.rules.domain import history

    thresholds = Thresholds.load()
    whole: dict[str, list[Snapshot]] = {}
    kept: dict[str, list[Snapshot]] = {}
    found_whole, found_kept = [], []
    # The winter, and an enterprise whose every history-based detector fires in turn.
    weeks = [w["reports"] for w in winter(5)]
    steady = {"production_t": 1000, "sales_t": 1000, "employees": 500, "output_value_yoy_pct": 25}
    changes = [{}, {}, {}, {}, {}, {"employees": 400}, {"production_t": 500}, {"sales_t": 700},
               {"sales_t": 700}, {"output_value_yoy_pct": 5}, {"output_value_yoy_pct": 5}]  # fmt: skip
    for number, change in enumerate(changes):
        start = date(2011, 12, 5) + timedelta(weeks=number)
        weeks[number].append({
            "kind": "enterprise_report", "report_id": f"probe-{number}", "enterprise_id": "probe",
            "period_start": start.isoformat(), "period_end": (start + timedelta(days=6)).isoformat(),
            "submitted_at": f"{(start + timedelta(days=7)).isoformat()}T09:00:00+08:00",
            "indicators": {**steady, **change},
        })  # fmt: skip
    for reports in weeks:
        for item in reports:
            report = EnterpriseReport.model_validate(item)
            facts = EnterpriseFacts(report.enterprise_id, report.enterprise_id, None, None)
            every = {k: v for k, v in report.indicators.model_dump().items() if v is not None}
            found_whole += [
                p.as_dict() for p in detect(facts, report, whole.get(report.enterprise_id, []), thresholds)
            ]
            found_kept += [
                p.as_dict() for p in detect(facts, report, kept.get(report.enterprise_id, []), thresholds)
            ]
            whole[report.enterprise_id] = sorted(
                [*whole.get(report.enterprise_id, []), Snapshot(report.report_id, item["period_end"], every)],
                key=lambda s: s.period_end,
            )[-8:]
            kept[report.enterprise_id] = remember(kept.get(report.enterprise_id, []), report, 8)
    assert found_kept == found_whole and len(found_whole) > 40
    probe = {p["type"] for p in found_whole if p["enterprise_id"] == "probe"}
    assert probe == {"workforce_cut", "production_halt", "stockpile"}
    assert all(set(s.indicators) <= set(history.HISTORY_INDICATORS) for h in kept.values() for s in h)


def test_the_winter_keeps_the_proportions_the_seeds_numbers_allow(seed_text):
    """Issue 37.12: the province's weekly demand consistent with 45亿千瓦时 bought in over the
    winter and with one smelter's draw; output values per tonne plausible for potash and coal;
    晶珠's squeeze not a herb-buying season in February."""
    from liaison_sim.scenarios import VALUE_PER_TONNE

    assert "确保今冬明春45亿千瓦时外购电合同的兑现" in seed_text.replace("\u3000", "")
    weeks = winter()
    grid = [r["indicators"]["power_demand_mwh"] for w in weeks for r in w["reports"]
            if r["enterprise_id"] == "qinghai-electric-power"]  # fmt: skip
    bought_a_week = 4_500_000 / (152 / 7)  # 45亿千瓦时 over 2011-11-01 to 2012-03-31, in MWh
    assert all(0.1 < bought_a_week / demand < 0.35 for demand in grid)  # about a fifth bought in
    chalco = next(r for r in weeks[0]["reports"] if r["enterprise_id"] == "chalco-qinghai")["indicators"]
    draw = chalco["production_t"] * chalco["energy_kwh_per_t"] / 1000  # MWh a week
    assert 0.05 < draw / min(grid) < 0.25  # one smelter: a large share, never the province's all
    for enterprise, most in (("qinghai-salt-lake", 0.5), ("qinghai-energy-development", 0.2)):
        report = next(r for r in weeks[0]["reports"] if r["enterprise_id"] == enterprise)["indicators"]
        assert report["output_value"] / report["production_t"] < most * 1.1, enterprise
    assert VALUE_PER_TONNE["qinghai-salt-lake"] < VALUE_PER_TONNE["chalco-qinghai"]
    jingzhu = [p["text"] for w in weeks for r in w["reports"] for p in r["problems"]
               if r["enterprise_id"] == "qinghai-jingzhu-tibetan-medicine"]  # fmt: skip
    assert jingzhu and not any("收购" in text for text in jingzhu)


def test_a_chromium_furnace_exceeds_its_annex_3_target_and_its_dust_limit():
    """Issue 37.12: at least one 硅铁 or 铬铁 energy target and one dust reading exercised."""
    thresholds = Thresholds.load()
    facts = EnterpriseFacts("tianyi-metallurgy", "天益冶金", "铬铁")
    model = SUBMISSION_KINDS["enterprise_report"].model
    history: list[Snapshot] = []
    found = []
    for week in winter():
        for item in week["reports"]:
            if item["enterprise_id"] == "tianyi-metallurgy":
                report = model.model_validate(item)
                found += detect(facts, report, history, thresholds)
                history = remember(history, report, 8)
    energy = [p for p in found if p.type == "energy_overuse"]
    assert any("3000" in p.summary and "铬铁单位电耗" in p.summary for p in energy)
    assert any("粉尘排放浓度135毫克/立方米" in p.summary for p in energy)


def test_the_winter_has_one_typo_that_the_check_questions_and_its_correction():
    """Issue 38.2: "The winter simulation includes one typo and its correction." The typo is
    implausible against the enterprise's own history; the correction is the same week under
    another report_id, submitted later, and plausible."""
    from services.rules.domain import quality

    thresholds = Thresholds.load()
    settings = quality.OutlierSettings.of(thresholds)
    reports = [r for w in winter() for r in w["reports"]]
    periods: dict[tuple[str, str], list[dict]] = {}
    for r in reports:
        periods.setdefault((r["enterprise_id"], r["period_end"]), []).append(r)
    twice = [rs for rs in periods.values() if len(rs) > 1]
    assert len(twice) == 1
    typo, fix = twice[0]
    assert typo["report_id"] != fix["report_id"] and fix["submitted_at"] > typo["submitted_at"]
    earlier = [r["indicators"] for r in reports
               if r["enterprise_id"] == typo["enterprise_id"] and r["period_end"] < typo["period_end"]]  # fmt: skip
    assert len(earlier) >= settings.min_history

    def questioned(report: dict) -> set[str]:
        values = {k: float(v) for k, v in report["indicators"].items()}
        return {
            f.indicator for f in quality.check(values, earlier, ranges={}, confirming={}, settings=settings)
        }

    assert questioned(typo) == {"inventory_t"} and questioned(fix) == set()
