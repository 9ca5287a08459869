"""The winter of 2011–12, as weekly reports: deterministic for a given seed number.

From the seed's first phase (附件2 四.6: 12月7日全面展开，第一阶段至2012年3月底): weekly
reports of the 14 key enterprises and of the 20 work groups, Monday to Sunday, from the
week of 2011-12-05 to the week ending 2012-04-01, with the situations the seed worries about:

- 钾肥抢运: potash piling up at the salt lake while rail capacity falls short, until the
  Spring Festival (南客北货) frees wagons in February;
- aluminium smelters with strained working capital (附件1 五) and power costs;
- an aluminium plant over its 附件3 ceiling of 14,000 kWh per tonne;
- thermal coal stocks running low in the cold (附件1 三: 搞好电煤储备监测);
- growth below the 附件1 target in Xining (17.5 %);
- a liaison who stops reporting;
- a major incident reported at once (限时报送);
- wage arrears at a textile firm.
"""

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

FIRST_MONDAY = date(2011, 12, 5)
WEEKS = 17  # the last week ends on 2012-04-01

# (enterprise, weekly production t, energy kWh/t or None, employees, yoy growth %)
BASELINES: dict[str, tuple[float, float | None, int, float]] = {
    "petrochina-qinghai-oilfield": (42000, None, 9800, 21.0),
    "qinghai-electric-power": (0, None, 7600, 20.0),
    "chalco-qinghai": (9800, 13600, 5200, 20.5),
    "yellow-river-hydropower": (0, None, 4100, 24.0),
    "qinghai-salt-lake": (85000, None, 9800, 25.0),
    "western-mining": (16000, None, 8700, 22.0),
    "xining-special-steel": (21000, None, 11800, 19.0),
    "qinghua-coal-chemical": (30000, None, 6200, 26.0),
    "huading-industrial": (420, None, 2300, 20.0),
    "qiaotou-aluminium-power": (6100, 13700, 3100, 19.5),
    "yellow-river-recycled-aluminium": (3000, 13500, 1400, 20.0),
    "qinghai-energy-development": (50000, None, 5400, 21.0),
    "zangyang-carpet": (60, None, 1900, 22.0),
    "qinghai-investment-group": (4000, 13800, 2600, 20.0),
}
POWER_PLANTS = ("qinghai-electric-power", "yellow-river-hydropower", "qinghai-energy-development")
STOPS_REPORTING = ("qinghai-energy-development", 6)  # reports weeks 0–5, then nothing
LATE = {("huading-industrial", 3): 3}  # (enterprise, week): days late


@dataclass(frozen=True)
class Week:
    number: int

    @property
    def start(self) -> date:
        return FIRST_MONDAY + timedelta(weeks=self.number)

    @property
    def end(self) -> date:
        return self.start + timedelta(days=6)

    def submitted(self, days_late: int = 0, hour: int = 9) -> str:
        day = self.end + timedelta(days=1 + days_late)
        return f"{day.isoformat()}T{hour:02d}:30:00+08:00"


def _enterprise_week(enterprise: str, week: Week, rng: random.Random) -> dict[str, Any]:
    production, energy, employees, growth = BASELINES[enterprise]
    n = week.number
    noise = lambda spread: 1 + rng.uniform(-spread, spread)  # noqa: E731  (a short local helper)
    indicators: dict[str, float] = {}
    problems: list[dict[str, str]] = []
    if production:
        made = round(production * noise(0.04))
        sold = round(made * rng.uniform(0.93, 1.02))
        indicators.update(production_t=made, sales_t=sold, inventory_t=round(sold * rng.uniform(1.5, 2.5)))
        indicators.update(rail_requested_t=round(sold * 0.8), rail_shipped_t=round(sold * 0.8 * rng.uniform(0.9, 1.0)),
                          awaiting_shipment_t=round(sold * 0.3))  # fmt: skip
    if energy:
        indicators["energy_kwh_per_t"] = round(energy * noise(0.01))
    indicators.update(
        output_value=round(production * 0.9 * noise(0.05) + 5000),
        output_value_yoy_pct=round(growth + rng.uniform(-1.5, 1.5), 1),
        cash_on_hand=round(20000 * noise(0.1)),
        working_capital_need=round(15000 * noise(0.1)),
        credit_available=round(8000 * noise(0.1)),
        employees=round(employees * noise(0.005)),
        lines_halted=0,
    )
    if enterprise in POWER_PLANTS:
        indicators.update(
            power_demand_mwh=round(300000 * noise(0.03)), coal_stock_days=round(rng.uniform(12, 18), 1)
        )
        indicators["power_supplied_mwh"] = round(indicators["power_demand_mwh"] * rng.uniform(0.97, 1.0))

    # 钾肥抢运: rail falls short and potash piles up until the Spring Festival frees wagons.
    if enterprise == "qinghai-salt-lake" and 2 <= n <= 9:
        sold = round(indicators["sales_t"] * (0.7 if n <= 7 else 0.9))
        indicators.update(sales_t=sold, rail_requested_t=round(90000 * noise(0.02)))
        indicators["rail_shipped_t"] = round(indicators["rail_requested_t"] * (0.55 if n <= 7 else 0.85))
        indicators["awaiting_shipment_t"] = round(120000 + 40000 * min(n - 2, 5))
        indicators["inventory_t"] = round(180000 + 50000 * min(n - 2, 5))
        problems.append({"category": "transport", "text": "钾肥待运积压，铁路车皮不足"})
    # Aluminium: strained working capital, and power costs.
    if enterprise in ("chalco-qinghai", "qiaotou-aluminium-power") and 3 <= n <= 7:
        indicators.update(working_capital_need=round(42000 * noise(0.05)), cash_on_hand=round(9000 * noise(0.1)),
                          credit_available=round(6000 * noise(0.1)))  # fmt: skip
        problems.append({"category": "funding", "text": "铝价下行，流动资金紧张，外购电加价"})
    # Over the 附件3 ceiling for electrolytic aluminium (14,000 kWh/t).
    if enterprise == "qiaotou-aluminium-power" and 5 <= n <= 7:
        indicators["energy_kwh_per_t"] = round(14350 * noise(0.005))
    # Cold weeks: thermal coal runs low at the power company.
    if enterprise == "qinghai-electric-power" and 6 <= n <= 8:
        indicators["coal_stock_days"] = round(rng.uniform(4.0, 6.0), 1)
        problems.append({"category": "power", "text": "寒潮用电高峰，电煤库存不足"})
    if enterprise == "chalco-qinghai" and n == 7:
        indicators["power_demand_mwh"] = 150000
        indicators["power_supplied_mwh"] = 138000
    # Growth below Xining's 17.5 % target (附件1).
    if enterprise == "xining-special-steel" and 4 <= n <= 7:
        indicators["output_value_yoy_pct"] = round(12 + rng.uniform(-1, 1), 1)
    # Wage arrears at the carpet maker after the festival.
    if enterprise == "zangyang-carpet" and n == 10:
        indicators["wage_arrears"] = 180
        problems.append({"category": "workforce", "text": "春节后订单减少，部分工资缓发"})
    return {
        "kind": "enterprise_report",
        "report_id": f"{enterprise}-{week.end.isoformat()}",
        "enterprise_id": enterprise,
        "period_start": week.start.isoformat(),
        "period_end": week.end.isoformat(),
        "submitted_at": week.submitted(LATE.get((enterprise, n), 0)),
        "reporter": "联络员",
        "indicators": indicators,
        "problems": problems,
        "notes": "",
    }


WORK_GROUPS = (
    "wg-chemical", "wg-aluminium", "wg-ferroalloy", "wg-equipment", "wg-tourism-products", "wg-small-processing",
    "wg-light-textile", "wg-biomedicine", "wg-farm-machinery", "wg-export", "wg-agri-processing",
    "wg-private-industry", "wg-producer-services", "wg-tech-innovation", "wg-power", "wg-rail", "wg-credit",
    "wg-provincial-soe", "wg-statistics", "wg-liaison",
)  # fmt: skip


def _workgroup_week(work_group: str, week: Week) -> dict[str, Any]:
    open_problems = []
    if work_group == "wg-rail" and 2 <= week.number <= 7:
        open_problems.append(
            {"enterprise_id": "qinghai-salt-lake", "category": "transport", "text": "钾肥抢运车皮缺口"}
        )
    if work_group == "wg-credit" and 3 <= week.number <= 6:
        open_problems.append(
            {"enterprise_id": "chalco-qinghai", "category": "funding", "text": "流动资金贷款待落实"}
        )
    return {
        "kind": "workgroup_report",
        "report_id": f"{work_group}-{week.end.isoformat()}",
        "work_group_id": work_group,
        "period_start": week.start.isoformat(),
        "period_end": week.end.isoformat(),
        "submitted_at": week.submitted(hour=17),
        "progress": "本周联点帮扶工作按计划推进",
        "open_problems": open_problems,
    }


INCIDENT = {
    "kind": "incident",
    "incident_id": "western-mining-2012-02-08-01",
    "enterprise_id": "western-mining",
    "occurred_at": "2012-02-08T03:40:00+08:00",
    "category": "safety",
    "severity": "major",
    "summary": "锡铁山矿区井下局部冒顶，停产检查，无人员伤亡",
}
INCIDENT_WEEK = 9


def winter(seed: int = 2011) -> list[dict[str, list[dict[str, Any]]]]:
    """Every submission of the first phase, week by week, as they would arrive.

    Week by week matters: rules keeps time by the reports it sees, so a run that sent every
    enterprise report before any work-group report would make the work groups look late.
    """
    rng = random.Random(seed)
    weeks = []
    for n in range(WEEKS):
        week = Week(n)
        reports = [
            _enterprise_week(enterprise, week, rng)
            for enterprise in BASELINES
            if not (enterprise == STOPS_REPORTING[0] and n >= STOPS_REPORTING[1])
        ]
        workgroup_reports = [
            _workgroup_week(work_group, week)
            for work_group in WORK_GROUPS
            if not (work_group == "wg-statistics" and n == 8)  # a week the statistics group forgets
        ]
        weeks.append(
            {
                "reports": reports,
                "workgroup-reports": workgroup_reports,
                "incidents": [INCIDENT] if n == INCIDENT_WEEK else [],
            }
        )
    return weeks
