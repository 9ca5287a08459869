"""附件1's province-wide targets, reported by the rail and power work groups, against their pace."""

from datetime import date, timedelta

from liaison_common.events import WorkgroupReport
from services.rules.domain.cases import CaseBook
from services.rules.domain.stated_problems import province_targets
from services.rules.domain.thresholds import Thresholds

T = Thresholds.load()


def report(work_group: str, period_end: str, **indicators: float) -> WorkgroupReport:
    start = (date.fromisoformat(period_end) - timedelta(days=6)).isoformat()
    return WorkgroupReport.model_validate({
        "report_id": f"{work_group}-{period_end}", "work_group_id": work_group, "period_start": start,
        "period_end": period_end, "submitted_at": f"{period_end}T17:00:00+08:00", "indicators": indicators,
    })  # fmt: skip


def test_rail_freight_behind_the_pace_of_3800_wan_tonnes_is_a_transport_case_of_the_rail_group():
    # By 2011-12-18, 352 of 365 days: the pace is 3,664.7万吨; 3,400万吨 is 93 % of it.
    problems, judged = province_targets(report("wg-rail", "2011-12-18", rail_freight_ytd_t=34_000_000), T)
    assert judged == {"transport_backlog"}
    [problem] = problems
    assert (problem.type, problem.subject_id, problem.subject_kind) == (
        "transport_backlog",
        "wg-rail",
        "work_group",
    )
    assert problem.as_dict()["work_group_id"] == "wg-rail"
    assert "全省铁路运量本年累计3,400.0万吨" in problem.summary and "3,664.7万吨" in problem.summary
    assert problem.evidence["threshold"]["target"] == 38_000_000
    assert problem.evidence["source"] == "铁路部门要加大对工业发展的支持力度，确保今年运量达到3800万吨"
    assert problem.severity == "low"  # 7 % short of the pace


def test_on_pace_nothing_is_raised_but_the_type_is_judged_so_an_open_case_can_resolve():
    problems, judged = province_targets(report("wg-rail", "2011-12-18", rail_freight_ytd_t=36_000_000), T)
    assert problems == [] and judged == {"transport_backlog"}


def test_after_the_target_year_the_2011_target_judges_nothing():
    problems, judged = province_targets(report("wg-rail", "2012-01-15", rail_freight_ytd_t=100), T)
    assert problems == [] and judged == set()


def test_purchased_power_and_the_longyangxia_outflow_make_one_power_case_with_both_findings():
    # 2012-01-22: 83 of 152 days of 今冬明春; the pace is 245.7万MWh (24.6亿千瓦时).
    problems, _ = province_targets(
        report("wg-power", "2012-01-22", purchased_power_mwh=2_200_000, longyangxia_outflow_increase_m3_s=35),
        T,
    )
    [problem] = problems
    assert problem.type == "power_shortage" and problem.subject_id == "wg-power"
    assert [f["threshold"]["target"] for f in problem.evidence["findings"]] == [4_500_000, 50]
    assert "今冬明春外购电合同累计兑现22.0亿千瓦时" in problem.summary
    assert "龙羊峡水库出库流量按计划增加35.0立方米/秒，低于目标50.0立方米/秒" in problem.summary


def test_a_report_without_the_figures_neither_opens_nor_resolves_a_case():
    problems, judged = province_targets(report("wg-chemical", "2011-12-18"), T)
    assert problems == [] and judged == set()


def test_a_pace_case_opens_updates_and_resolves_by_data_over_the_groups_reports():
    book = CaseBook()
    weeks = [("2011-12-04", 33_000_000), ("2011-12-11", 34_000_000), ("2011-12-18", 36_000_000),
             ("2011-12-25", 37_000_000)]  # fmt: skip
    changes = []
    for end, value in weeks:
        problems, judged = province_targets(report("wg-rail", end, rail_freight_ytd_t=value), T)
        for problem in problems:
            changes.append(book.detected(problem.type, "wg-rail", end).change)
        unjudged = set(book.data) - judged
        changes += [c.change for c in book.absent({p.type for p in problems} | unjudged, end)]
    assert changes == ["opened", "updated", "resolved"]
