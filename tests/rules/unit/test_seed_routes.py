"""docs/contract.md §7, "routes the seed implies": goods awaiting rail, regional growth, a work group's
overdue report, incidents by category; and "resolved by data means the data says so"."""

from datetime import date

from liaison_common.events import EnterpriseReport
from liaison_common.registry_view import RegistryView
from liaison_common.routing import DEFAULT_ROUTE_RULES, Subject, resolve_routes
from services.rules.domain import regional
from services.rules.domain.alerts import build_alert
from services.rules.domain.cases import CaseBook
from services.rules.domain.detectors import detect
from services.rules.domain.history import judged_types
from services.rules.domain.problems import EnterpriseFacts, Snapshot
from services.rules.domain.thresholds import Thresholds
from tests.rules.unit.weeks import weekly_history, weekly_report

T = Thresholds.load()
SALT_LAKE = EnterpriseFacts("qinghai-salt-lake", "青海盐湖工业集团公司", "钾肥", "海西")


def report(week: int, **indicators: float) -> EnterpriseReport:
    return weekly_report("qinghai-salt-lake", week, **indicators)


def history(*weeks: dict) -> list[Snapshot]:
    return weekly_history("qinghai-salt-lake", *weeks)


def types(current: EnterpriseReport, past: list[Snapshot]) -> set[str]:
    return {p.type for p in detect(SALT_LAKE, current, past, T)}


# ---- goods awaiting rail ("全力抓好钾肥突击抢运工作…抢运积压产品")


def test_stock_mostly_awaiting_rail_is_a_transport_backlog_not_a_stockpile():
    past = history({"sales_t": 100}, {"sales_t": 100}, {"sales_t": 100})
    # 600 t of stock is six weeks of sales: a stockpile, unless half of it waits for rail.
    assert types(report(3, sales_t=100, inventory_t=600, awaiting_shipment_t=100), past) == {"stockpile"}
    found = types(report(3, sales_t=100, inventory_t=600, awaiting_shipment_t=300), past)
    assert found == {"transport_backlog"}  # 300 t awaiting > 2 weeks of sales, the rail ratio unread


def test_awaiting_rail_within_two_weeks_of_sales_raises_nothing():
    past = history({"sales_t": 100}, {"sales_t": 100}, {"sales_t": 100})
    assert types(report(3, sales_t=100, inventory_t=400, awaiting_shipment_t=200), past) == set()
    assert types(report(3, sales_t=100, inventory_t=400, awaiting_shipment_t=201), past) == {
        "transport_backlog"
    }


def test_the_rail_ratio_is_judged_as_usual_beside_it():
    found = types(report(0, rail_requested_t=1000, rail_shipped_t=700), [])
    assert found == {"transport_backlog"}


# ---- resolved by data only by reports that carry the indicators


def test_a_report_silent_on_a_cases_indicators_neither_continues_nor_resolves_it():
    book = CaseBook()
    book.detected("funding_gap", "huading-industrial", "2011-12-11")
    output_only = judged_types(report(1, production_t=100, sales_t=90))
    assert "funding_gap" not in output_only
    said_nothing_of = set(book.data) - output_only
    for week_end in ("2011-12-18", "2011-12-25", "2012-01-01"):
        assert book.absent(said_nothing_of, week_end) == []
    with_funding = judged_types(report(1, working_capital_need=10, cash_on_hand=20))
    assert "funding_gap" in with_funding
    assert book.absent(set(), "2012-01-08") == []
    assert [u.change for u in book.absent(set(), "2012-01-15")] == ["resolved"]


# ---- routes


def test_a_work_groups_overdue_report_goes_to_the_comprehensive_group_alone():
    rule = DEFAULT_ROUTE_RULES["report_overdue"]
    assert [(r.group_id, r.role) for r in resolve_routes(rule, Subject("wg-rail", "work_group"))] == [
        ("comprehensive", "primary")
    ]
    key = Subject("chalco-qinghai", "enterprise", work_group_ids=("wg-liaison", "wg-aluminium"))
    assert [r.group_id for r in resolve_routes(rule, key)] == ["comprehensive", "wg-liaison", "wg-aluminium"]


def test_an_incident_adds_the_group_its_category_goes_to(seed_text):
    rule = DEFAULT_ROUTE_RULES["major_incident"]
    subject = Subject("xining-special-steel", "enterprise")

    def groups(category: str) -> list[str]:
        return [r.group_id for r in resolve_routes(rule, subject, incident_category=category)]

    assert groups("safety") == ["comprehensive", "operations", "enterprise-management"]
    assert groups("environment") == ["comprehensive", "operations", "tech-renovation"]
    assert groups("supply") == ["comprehensive", "operations"]
    assert "及时上报企业管理组" in seed_text


def test_a_built_incident_alert_carries_the_category_route():
    problem = {
        "type": "major_incident",
        "enterprise_id": "xining-special-steel",
        "period_end": "2011-12-20",
        "severity": "high",
        "summary": "炉前喷溅",
        "evidence": {"category": "safety", "incident_id": "i-1"},
        "source_ids": ["i-1"],
    }
    alert = build_alert(problem, RegistryView(), detected_at="2011-12-20T10:00:00+08:00")
    assert [r["group_id"] for r in alert["routes"]][:3] == [
        "comprehensive",
        "operations",
        "enterprise-management",
    ]


# ---- regions judged as a whole, for 2011


def contribute(state: dict, enterprise: str, period_end: str, value: float | None, pct: float):
    return regional.contribute(
        state,
        enterprise_id=enterprise,
        period_end=period_end,
        output_value=value,
        growth_pct=pct,
        target_pct=17.5,
        running=2,
    )


def test_a_region_is_judged_on_its_enterprises_growth_weighted_by_output_value():
    state = regional.new_state()
    # A small firm far below and a large one above: the region (weighted) meets 17.5 %.
    for week in ("2011-12-11", "2011-12-18"):
        contribute(state, "small", week, 1_000, 2.0)
        verdicts = contribute(state, "large", week, 9_000, 20.0)
    assert verdicts[-1].growth_pct == 18.2 and not verdicts[-1].short


def test_a_period_waits_for_every_enterprise_of_the_period_before():
    state = regional.new_state()
    assert [v.period_end for v in contribute(state, "a", "2011-12-11", 100, 5.0)] == ["2011-12-11"]
    contribute(state, "b", "2011-12-11", 100, 6.0)  # late for a judged period: its figure changes
    assert contribute(state, "a", "2011-12-18", 100, 5.0) == []  # b has not reported yet
    [verdict] = contribute(state, "b", "2011-12-18", 100, 7.0)
    assert verdict.short and verdict.growth_pct == 6.0 and verdict.reporters == 2


def test_one_short_period_is_not_yet_a_shortfall():
    state = regional.new_state()
    [first] = contribute(state, "a", "2011-12-11", 100, 5.0)
    assert not first.short
    [second] = contribute(state, "a", "2011-12-18", 100, 20.0)
    assert not second.short


def test_only_2011s_periods_of_enterprises_with_a_region_are_judged(seed_text):
    window = T.get("growth_shortfall", "window").value
    assert regional.counts_for_region("西宁", 3.0, date(2011, 12, 25), window)
    assert not regional.counts_for_region("西宁", 3.0, date(2012, 1, 1), window)  # 2012: not "今年"
    assert not regional.counts_for_region(None, 3.0, date(2011, 12, 25), window)
    assert not regional.counts_for_region("西宁", None, date(2011, 12, 25), window)
    assert "确保今年全省规模以上工业增长19％目标的完成" in seed_text
