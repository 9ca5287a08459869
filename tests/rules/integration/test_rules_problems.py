"""What rules publishes besides alerts: every detected problem on liaison.problems.v1, the
problems a work-group report states, and a case's resolution by data."""

from datetime import date, timedelta

import pytest

from liaison_common import jsonbytes
from tests.kafka_helpers import wait_for_events
from tests.rules.integration.test_rules_pipeline import alerts_by_id, publish, publish_reports, report, routes

pytestmark = pytest.mark.integration


def test_problems_topic_holds_each_detected_problem_before_routing(
    kafka_bootstrap, rules_topics, spawn_worker
):
    worker = spawn_worker()
    gap = report("chalco-qinghai", 1, working_capital_need=30000, cash_on_hand=12000, credit_available=8000,
                 lines_halted=1)  # fmt: skip
    publish_reports(kafka_bootstrap, rules_topics["reports_topic"], [gap])
    worker.wait_ready()
    problems = wait_for_events(
        kafka_bootstrap, rules_topics["problems_topic"], lambda e: len(e) >= 2, timeout=90
    )
    assert {(p["type"], p["enterprise_id"], p["period_end"]) for p in problems} == {
        ("funding_gap", "chalco-qinghai", gap["period_end"]),
        ("production_halt", "chalco-qinghai", gap["period_end"]),
    }
    assert all("routes" not in p and p["source_ids"] == [gap["report_id"]] for p in problems)


def test_a_work_group_report_states_problems_that_become_alerts(kafka_bootstrap, rules_topics, spawn_worker):
    worker = spawn_worker()
    wg = {"kind": "workgroup_report", "report_id": "rail-W1", "work_group_id": "wg-rail",
          "period_start": "2011-12-12", "period_end": "2011-12-18", "submitted_at": "2011-12-19T09:00:00+08:00",
          "progress": "组织钾肥抢运",
          "open_problems": [{"enterprise_id": "qinghai-salt-lake", "category": "transport", "text": "车皮不足"}]}  # fmt: skip
    publish(kafka_bootstrap, rules_topics["workgroup_reports_topic"], [(b"wg-rail", jsonbytes.dumps(wg))])
    worker.wait_ready()
    alerts = alerts_by_id(kafka_bootstrap, rules_topics["alerts_topic"],
                          lambda a: "transport_backlog.qinghai-salt-lake.2011-12-18" in a)  # fmt: skip
    stated = alerts["transport_backlog.qinghai-salt-lake.2011-12-18"]
    assert stated["severity"] == "low" and "车皮不足" in stated["summary"] and "wg-rail" in stated["summary"]
    assert routes(stated)[:2] == [("operations", "primary"), ("wg-rail", "cc")]
    assert stated["evidence"]["reported_by"] == "wg-rail" and stated["source_ids"] == ["rail-W1"]


def test_a_case_absent_from_two_reports_is_resolved_by_data(kafka_bootstrap, rules_topics, spawn_worker):
    worker = spawn_worker()
    gap = {"working_capital_need": 100, "cash_on_hand": 1}
    calm = {"working_capital_need": 1, "cash_on_hand": 100}
    weeks = [report("huading-industrial", 0, **gap), report("huading-industrial", 1, **gap),
             report("huading-industrial", 2, **calm), report("huading-industrial", 3, **calm),
             report("huading-industrial", 4, **gap)]  # fmt: skip
    publish_reports(kafka_bootstrap, rules_topics["reports_topic"], weeks)
    worker.wait_ready()
    case_id = f"funding_gap.huading-industrial.{weeks[0]['period_end']}"
    events = wait_for_events(
        kafka_bootstrap, rules_topics["alerts_topic"],
        lambda e: len([a for a in e if a["alert_id"] == case_id]) >= 4, timeout=90,
    )  # fmt: skip
    mine = [a for a in events if a["alert_id"] == case_id]
    assert [(a["state"], a["occurrences"]) for a in mine] == [
        ("open", 1),
        ("open", 2),
        ("resolved", 2),
        ("open", 3),
    ]
    assert mine[2]["resolved_by"] == "data" and mine[2]["source_ids"] == [weeks[3]["report_id"]]
    assert (
        mine[3]["last_period_end"] == weeks[4]["period_end"]
        and mine[3]["period_end"] == weeks[0]["period_end"]
    )


def test_the_rail_groups_figures_behind_the_pace_of_annex_1_are_one_case_of_the_group_until_they_catch_up(
    kafka_bootstrap, rules_topics, spawn_worker
):
    worker = spawn_worker()
    # Rail freight this year so far against 3,800万吨 (附件1 四), week by week in December 2011.
    figures = [("2011-12-04", 33_000_000), ("2011-12-11", 34_000_000), ("2011-12-18", 36_000_000),
               ("2011-12-25", 37_000_000)]  # fmt: skip
    weeks = []
    for end, freight in figures:
        start = (date.fromisoformat(end) - timedelta(days=6)).isoformat()
        weeks.append({"kind": "workgroup_report", "report_id": f"rail-{end}", "work_group_id": "wg-rail",
                      "period_start": start, "period_end": end, "submitted_at": f"{end}T17:00:00+08:00",
                      "indicators": {"rail_freight_ytd_t": freight}})  # fmt: skip
    publish(
        kafka_bootstrap,
        rules_topics["workgroup_reports_topic"],
        [(b"wg-rail", jsonbytes.dumps(week)) for week in weeks],
    )
    worker.wait_ready()
    case_id = "transport_backlog.wg-rail.2011-12-04"
    events = wait_for_events(
        kafka_bootstrap,
        rules_topics["alerts_topic"],
        lambda e: len([a for a in e if a["alert_id"] == case_id]) >= 3,
        timeout=90,
    )
    mine = [a for a in events if a["alert_id"] == case_id]
    assert [(a["state"], a["occurrences"]) for a in mine] == [("open", 1), ("open", 2), ("resolved", 2)]
    first = mine[0]
    assert first["work_group_id"] == "wg-rail" and "enterprise_id" not in first
    assert routes(first) == [("operations", "primary"), ("wg-rail", "cc")]
    assert "全省铁路运量本年累计3,300.0万吨" in first["summary"]
    assert first["evidence"]["source"] == "铁路部门要加大对工业发展的支持力度，确保今年运量达到3800万吨"
    assert mine[2]["resolved_by"] == "data" and mine[2]["source_ids"] == ["rail-2011-12-25"]


def test_a_work_groups_correction_replaces_its_figures_and_withdraws_the_case_they_no_longer_show(
    kafka_bootstrap, rules_topics, spawn_worker
):
    """docs/contract.md §7 (issue 38.1): "Work-group reports the same." The rail group's week behind the
    pace of 3,800万吨 was a typo; its correction (same period, later submitted_at) withdraws the
    case, and the typo delivered again afterwards changes nothing."""
    worker = spawn_worker()
    end, start = "2011-12-04", "2011-11-28"

    def week(report_id: str, freight: float, hour: int, end: str = end, start: str = start) -> dict:
        return {"kind": "workgroup_report", "report_id": report_id, "work_group_id": "wg-rail",
                "period_start": start, "period_end": end, "submitted_at": f"{end}T{hour:02d}:00:00+08:00",
                "indicators": {"rail_freight_ytd_t": freight}}  # fmt: skip

    typo, fixed = week("rail-typo", 3_300_000, 9), week("rail-fixed", 36_000_000, 15)
    # The next week, behind the pace: when its case appears, the typo's redelivery before it (same
    # key, same partition, in order) has been read.
    after = week("rail-next", 34_000_000, 9, end="2011-12-11", start="2011-12-05")
    publish(
        kafka_bootstrap,
        rules_topics["workgroup_reports_topic"],
        [(b"wg-rail", jsonbytes.dumps(item)) for item in (typo, fixed, typo, after)],
    )
    worker.wait_ready()
    case_id = f"transport_backlog.wg-rail.{end}"
    events = wait_for_events(
        kafka_bootstrap,
        rules_topics["alerts_topic"],
        lambda e: any(a["source_ids"] == ["rail-next"] for a in e),
        timeout=90,
    )
    mine = [a for a in events if a["alert_id"] == case_id]
    # Opened by the typo, withdrawn by the correction, and the typo again changed nothing.
    assert [a["state"] for a in mine] == ["open", "resolved"]
    withdrawn = mine[1]
    assert withdrawn["resolved_by"] == "correction" and withdrawn["work_group_id"] == "wg-rail"
    assert withdrawn["correction"]["replaces"] == "rail-typo" and withdrawn["source_ids"] == ["rail-fixed"]
    assert routes(withdrawn) == [("operations", "primary"), ("wg-rail", "cc")]
