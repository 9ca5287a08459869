"""The winter of 2011–12, as weekly reports: deterministic for a given seed number.

From the seed's first phase (附件2 四.6: 12月7日全面展开，第一阶段至2012年3月底): weekly
reports of the 14 key enterprises, of three more firms that the work groups follow, and of the
20 work groups, Monday to Sunday, from the week of 2011-12-05 to the week ending 2012-04-01,
with the situations the seed worries about:

- 钾肥抢运: potash piling up at the salt lake while rail capacity falls short, until the
  Spring Festival (南客北货) frees wagons in February; the province's rail freight behind the
  pace of 附件1's 3,800万吨 in December (wg-rail's figures);
- aluminium smelters with strained working capital (附件1 五) and power costs;
- an aluminium plant over its 附件3 renovation target of 14,000 kWh per tonne;
- the cold of January (附件1 三): thermal coal running low at the thermal plants, supply short
  of demand, purchased power behind the 45亿千瓦时 contracts and the 龙羊峡 outflow under its
  planned increase (wg-power's figures), and a cold-weather emergency reported at once;
- ferroalloy and silicon-carbide furnaces halted through January (附件7's restructuring sectors);
- a Tibetan-medicine SME short of working capital after the festival (附件5, 附件7);
- a 铬铁 furnace over 附件3's 3,000 kWh/t in the cold, and its dust over 100 mg/m³ one week;
- a liaison's typo questioned by the statistics group, and its correction (docs/contract.md §7);
- growth below the 附件1 target in Xining (17.5 %);
- a liaison who stops reporting, and a work group that forgets a week;
- a major incident reported at once (限时报送);
- wage arrears at a textile firm.

After `make up` every one of the eight coordination groups has at least one case in its inbox.
"""

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

FIRST_MONDAY = date(2011, 12, 5)
WEEKS = 17  # the last week ends on 2012-04-01

# (enterprise, weekly production t, energy kWh/t or None, employees, yoy growth %). Growth sits
# above the 附件1 target of the enterprise's region (海西 23, 海东 39, 西宁 17.5, else 19).
BASELINES: dict[str, tuple[float, float | None, int, float]] = {
    "petrochina-qinghai-oilfield": (42000, None, 9800, 25.5),
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
    # Followed by wg-ferroalloy (附件2 二.3) and wg-biomedicine (二.8), not key enterprises.
    "qinghai-huasheng-ferroalloy": (1800, None, 650, 21.0),
    "haidong-guiqiang-silicon-carbide": (900, None, 420, 41.0),
    "qinghai-jingzhu-tibetan-medicine": (12, None, 380, 22.0),
    # Followed by wg-ferroalloy (附件3（四）): a 铬铁 furnace against its 3,000 kWh/t renovation
    # target and the 100 mg/m³ dust limit, both exercised in January.
    "tianyi-metallurgy": (1200, 2900, 520, 20.0),
}
# Output value (万元) per tonne, at the winter of 2011's prices as far as public figures go, so
# that money and the regional weights (by output value) keep their proportions: potash ~3,000
# 元/t, thermal coal ~600, coal and coke ~1,200, crude ~5,000, aluminium ~16,000, special steel
# ~5,000, ferroalloys ~6,500–8,000, silicon carbide ~6,000; a machine maker's, a carpet maker's
# and a Tibetan-medicine maker's tonnes are worth far more.
VALUE_PER_TONNE = {
    "petrochina-qinghai-oilfield": 0.5,
    "chalco-qinghai": 1.6,
    "qinghai-salt-lake": 0.3,
    "western-mining": 0.8,  # concentrates and smelted lead and zinc, together
    "xining-special-steel": 0.5,
    "qinghua-coal-chemical": 0.12,
    "huading-industrial": 3.0,
    "qiaotou-aluminium-power": 1.6,
    "yellow-river-recycled-aluminium": 1.5,
    "qinghai-energy-development": 0.06,
    "zangyang-carpet": 15.0,
    "qinghai-investment-group": 1.6,
    "qinghai-huasheng-ferroalloy": 0.65,
    "haidong-guiqiang-silicon-carbide": 0.6,
    "qinghai-jingzhu-tibetan-medicine": 20.0,
    "tianyi-metallurgy": 0.8,
}
# The province's electricity demand a week: about 560亿千瓦时 in 2011 (56 million MWh a year), of
# which the 45亿千瓦时 bought in from outside over the winter is about a fifth; one smelter alone
# draws some 130,000 MWh a week (9,800 t × 13,600 kWh/t).
PROVINCE_DEMAND_MWH_A_WEEK = 1_080_000
# Power: the grid company reports the province's demand and supply; the thermal plants (the
# energy group's, and the smelter that runs its own) their days of coal (附件1 三: 电煤储备).
GRID = "qinghai-electric-power"
THERMAL_PLANTS = ("qinghai-energy-development", "qiaotou-aluminium-power")
STOPS_REPORTING = ("qinghai-energy-development", 11)  # reports weeks 0–10, then nothing
LATE = {("huading-industrial", 3): 3}  # (enterprise, week): days late
COLD_WEEKS = range(6, 9)  # 2012-01-16 to 2012-02-05
HALTED_WEEKS = range(4, 8)  # 2012-01-02 to 2012-01-29
HALTED = ("qinghai-huasheng-ferroalloy", "haidong-guiqiang-silicon-carbide")
# A typo (the week's inventory a hundred times over) that the statistics group questions, and
# the liaison's correction the same afternoon (docs/contract.md §7).
TYPO = ("huading-industrial", 5)


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
        indicators.update(
            rail_requested_t=round(sold * 0.8),
            rail_shipped_t=round(sold * 0.8 * rng.uniform(0.9, 1.0)),
            awaiting_shipment_t=round(sold * 0.3),
        )
    if energy:
        indicators["energy_kwh_per_t"] = round(energy * noise(0.01))
    # Money in proportion to the enterprise's size: its week's output value (万元), about 30 万元
    # per employee a year where it makes no tonnes to speak of.
    output_value = round(
        max(production * VALUE_PER_TONNE.get(enterprise, 0.9), employees * 30 / 52) * noise(0.05)
    )
    indicators.update(
        output_value=output_value,
        output_value_yoy_pct=round(growth + rng.uniform(-1.5, 1.5), 1),
        cash_on_hand=round(output_value * 2.5 * noise(0.1)),
        working_capital_need=round(output_value * 2.0 * noise(0.1)),
        credit_available=round(output_value * 1.0 * noise(0.1)),
        employees=round(employees * noise(0.005)),
        lines_halted=0,
    )
    if enterprise == GRID:
        indicators["power_demand_mwh"] = round(PROVINCE_DEMAND_MWH_A_WEEK * noise(0.03))
        indicators["power_supplied_mwh"] = round(indicators["power_demand_mwh"] * rng.uniform(0.97, 1.0))
    if enterprise in THERMAL_PLANTS:
        indicators["coal_stock_days"] = round(rng.uniform(12, 18), 1)
    if enterprise == "tianyi-metallurgy":
        indicators["dust_mg_m3"] = round(rng.uniform(70, 90))

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
        indicators.update(
            working_capital_need=round(output_value * 4.5 * noise(0.05)),
            cash_on_hand=round(output_value * 1.0 * noise(0.1)),
            credit_available=round(output_value * 0.6 * noise(0.1)),
        )
        problems.append({"category": "funding", "text": "铝价下行，流动资金紧张，外购电加价"})
    # Over the 附件3 ceiling for electrolytic aluminium (14,000 kWh/t).
    if enterprise == "qiaotou-aluminium-power" and 5 <= n <= 7:
        indicators["energy_kwh_per_t"] = round(14350 * noise(0.005))
    # The cold: thermal coal runs low at the thermal plants, and supply falls short of demand.
    if enterprise in THERMAL_PLANTS and n in COLD_WEEKS:
        indicators["coal_stock_days"] = round(rng.uniform(4.0, 6.0), 1)
        problems.append({"category": "power", "text": "寒潮用电高峰，电煤库存不足"})
    if enterprise == GRID and n in COLD_WEEKS:
        indicators["power_supplied_mwh"] = round(indicators["power_demand_mwh"] * rng.uniform(0.9, 0.93))
    # Before the halt, the ferroalloy market slumps: sales lag output and unsold stock piles up
    # in the works (not at the railhead): a stockpile for 产业对接组, whose 产销对接 it is.
    if enterprise == "qinghai-huasheng-ferroalloy" and 1 <= n <= 3:
        indicators["sales_t"] = round(indicators["production_t"] * 0.7)
        indicators["inventory_t"] = round(indicators["production_t"] * (3 + 1.5 * n))
        indicators["awaiting_shipment_t"] = round(indicators["sales_t"] * 0.3)
        problems.append({"category": "market", "text": "铁合金市场低迷，产品销售不畅，库存增加"})
    # Ferroalloy and silicon carbide: furnaces halted through January, the output with them.
    if enterprise in HALTED and n in HALTED_WEEKS:
        indicators.update(lines_halted=2, production_t=round(indicators["production_t"] * 0.4))
        indicators["sales_t"] = min(indicators["sales_t"], indicators["production_t"])
        problems.append({"category": "production", "text": "市场低迷、电价上涨，矿热炉停炉"})
    # The 铬铁 furnace in the cold: electricity per tonne above 附件3's 3,000 kWh/t while the
    # furnaces run below capacity, and the dust over 100 mg/m³ the week its filter fails.
    if enterprise == "tianyi-metallurgy" and n in COLD_WEEKS:
        indicators["energy_kwh_per_t"] = round(3180 * noise(0.005))
    if enterprise == "tianyi-metallurgy" and n == 7:
        indicators["dust_mg_m3"] = 135
    # A Tibetan-medicine SME short of working capital after the festival: its customers (the
    # hospitals and distributors) pay late, and its loan has not come through.
    if enterprise == "qinghai-jingzhu-tibetan-medicine" and 9 <= n <= 12:
        indicators.update(
            working_capital_need=round(output_value * 6),
            cash_on_hand=round(output_value * 1.2),
            credit_available=round(output_value * 0.5),
        )
        problems.append({"category": "funding", "text": "节后货款回笼慢，应收账款增加，流动资金贷款未到位"})
    if enterprise == "chalco-qinghai" and n == 7:
        indicators["power_demand_mwh"] = 150000
        indicators["power_supplied_mwh"] = 138000
    # The steel maker's growth falls in the last weeks of 2011, far enough to take the 西宁 region
    # as a whole (its reporting enterprises weighted by output value) below its 17.5 % target of
    # 附件1, which is 2011's ("今年"): the weeks ending 12-18 and 12-25 (docs/contract.md §7).
    if enterprise == "xining-special-steel" and 1 <= n <= 2:
        indicators["output_value_yoy_pct"] = round(-3 + rng.uniform(-1, 1), 1)
    # Wage arrears at the carpet maker after the festival.
    if enterprise == "zangyang-carpet" and n == 10:
        indicators["wage_arrears"] = 180
        problems.append({"category": "workforce", "text": "春节后订单减少，部分工资缓发"})
    if (enterprise, n) == TYPO:  # the liaison types the week's inventory a hundred times over
        indicators["inventory_t"] = indicators["inventory_t"] * 100
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
    "wg-chemical",
    "wg-aluminium",
    "wg-ferroalloy",
    "wg-equipment",
    "wg-tourism-products",
    "wg-small-processing",
    "wg-light-textile",
    "wg-biomedicine",
    "wg-farm-machinery",
    "wg-export",
    "wg-agri-processing",
    "wg-private-industry",
    "wg-producer-services",
    "wg-tech-innovation",
    "wg-power",
    "wg-rail",
    "wg-credit",
    "wg-provincial-soe",
    "wg-statistics",
    "wg-liaison",
)


# What each work group says it did, week after week (its duties in 附件2 二, in brief).
PROGRESS = {
    "wg-chemical": "走访联点化工企业，协调解决运输问题",
    "wg-aluminium": "协调电解铝企业流动资金和外购电价格",
    "wg-ferroalloy": "跟踪铁合金、碳化硅企业开停炉情况，研判市场",
    "wg-equipment": "帮助装备制造企业拓展市场",
    "wg-rail": "组织钾肥突击抢运，协调车皮计划",
    "wg-power": "协调电煤供应和外购电，跟踪龙羊峡出库流量",
    "wg-credit": "组织银企对接，落实重点企业流动资金贷款",
    "wg-statistics": "汇总联点企业周报，做好统计监测",
    "wg-liaison": "督促14户重点企业联络员按时报送",
}
RAIL_PACE = {0: 0.93, 1: 0.94, 2: 0.97}  # December: the potash rush holds rail freight back
POWER_PACE_IN_THE_COLD = 0.9


def _share_of(day: date, first: date, last: date) -> float:
    return ((day - first).days + 1) / ((last - first).days + 1)


def _workgroup_week(work_group: str, week: Week, rng: random.Random) -> dict[str, Any]:
    open_problems = []
    indicators: dict[str, float] = {}
    if work_group == "wg-rail" and 2 <= week.number <= 7:
        open_problems.append(
            {"enterprise_id": "qinghai-salt-lake", "category": "transport", "text": "钾肥抢运车皮缺口"}
        )
    if work_group == "wg-credit" and 3 <= week.number <= 6:
        open_problems.append(
            {"enterprise_id": "chalco-qinghai", "category": "funding", "text": "流动资金贷款待落实"}
        )
    # 附件1's province-wide figures: rail freight and road-rail this year so far (3,800 and 700
    # 万吨), purchased power this winter so far (45亿千瓦时 = 4.5 million MWh), the 龙羊峡 outflow.
    year = week.end.year
    if work_group == "wg-rail":
        share = _share_of(week.end, date(year, 1, 1), date(year, 12, 31))
        pace = RAIL_PACE.get(week.number, rng.uniform(0.98, 1.02))
        indicators["rail_freight_ytd_t"] = round(38_000_000 * share * pace)
        indicators["road_rail_ytd_t"] = round(7_000_000 * share * rng.uniform(0.98, 1.03))
    if work_group == "wg-power":
        share = _share_of(week.end, date(2011, 11, 1), date(2012, 3, 31))
        cold = week.number in COLD_WEEKS
        pace = POWER_PACE_IN_THE_COLD if cold else rng.uniform(0.97, 1.02)
        indicators["purchased_power_mwh"] = round(4_500_000 * share * pace)
        indicators["longyangxia_outflow_increase_m3_s"] = 35 if cold else 50
    return {
        "kind": "workgroup_report",
        "report_id": f"{work_group}-{week.end.isoformat()}",
        "work_group_id": work_group,
        "period_start": week.start.isoformat(),
        "period_end": week.end.isoformat(),
        "submitted_at": week.submitted(hour=17),
        "progress": PROGRESS.get(work_group, "本周联点帮扶工作按计划推进"),
        "open_problems": open_problems,
        "indicators": indicators,
    }


INCIDENTS = {
    7: {
        "kind": "incident",
        "incident_id": "qinghai-electric-power-2012-01-19-01",
        "enterprise_id": "qinghai-electric-power",
        "occurred_at": "2012-01-19T20:10:00+08:00",
        "category": "supply",
        "severity": "critical",
        "summary": "寒潮致全省用电负荷创新高，电煤告急，启动有序用电应急预案",
    },
    9: {
        "kind": "incident",
        "incident_id": "western-mining-2012-02-08-01",
        "enterprise_id": "western-mining",
        "occurred_at": "2012-02-08T03:40:00+08:00",
        "category": "safety",
        "severity": "major",
        "summary": "锡铁山矿区井下局部冒顶，停产检查，无人员伤亡",
    },
}


def corrected(report: dict[str, Any]) -> dict[str, Any]:
    """The liaison's correction of the typo: the same week, another report_id, submitted later
    (docs/contract.md §7: it replaces the earlier report's figures)."""
    indicators = {**report["indicators"], "inventory_t": report["indicators"]["inventory_t"] / 100}
    submitted = datetime.fromisoformat(report["submitted_at"]) + timedelta(hours=6)
    return {**report, "report_id": f"{report['report_id']}-fix", "submitted_at": submitted.isoformat(),
            "indicators": indicators, "notes": "更正：库存量误填，多输了两个零"}  # fmt: skip


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
        if n == TYPO[1]:
            reports.append(corrected(next(r for r in reports if r["enterprise_id"] == TYPO[0])))
        workgroup_reports = [
            _workgroup_week(work_group, week, rng)
            for work_group in WORK_GROUPS
            if not (work_group == "wg-statistics" and n == 8)  # a week the statistics group forgets
        ]
        weeks.append(
            {
                "reports": reports,
                "workgroup-reports": workgroup_reports,
                "incidents": [INCIDENTS[n]] if n in INCIDENTS else [],
            }
        )
    return weeks
