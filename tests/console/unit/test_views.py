"""What the console's pages show, from plain data: filters, ordering, the grid, the charts."""

import time
from datetime import date

from liaison_common.tokens import Principal
from services.console import charts, views
from services.console.service import Sessions


def alert(alert_id: str, **fields):
    return {"alert_id": alert_id, "type": "funding_gap", "severity": "medium", "status": "open",
            "enterprise_id": "chalco-qinghai", "group_ids": ["finance"], **fields}  # fmt: skip


def test_filters_name_the_values_that_do_not_exist():
    filters = views.InboxFilters(type="flood", severity="huge", status="open")
    assert filters.errors() == ["类型 type=flood", "级别 severity=huge"]
    assert views.InboxFilters(type="stockpile", severity="high").errors() == []


def test_severity_is_filtered_here_and_the_rest_is_passed_to_notify():
    filters = views.InboxFilters(type="stockpile", severity="high", enterprise_id="x")
    assert filters.notify_params() == {"type": "stockpile", "enterprise_id": "x"}
    rows = views.inbox_rows([alert("a", severity="high"), alert("b", severity="low")], filters)
    assert [a["alert_id"] for a in rows] == ["a"]


def test_the_inbox_puts_open_alerts_first_then_the_worst_then_the_newest():
    alerts = [
        alert("resolved-critical", status="resolved", severity="critical", received_at="2011-12-20"),
        alert("open-low", severity="low", received_at="2011-12-21"),
        alert("open-high-old", severity="high", received_at="2011-12-01"),
        alert("open-high-new", severity="high", received_at="2011-12-19"),
        alert("acknowledged-critical", status="acknowledged", severity="critical"),
    ]
    order = [a["alert_id"] for a in views.inbox_rows(alerts, views.InboxFilters())]
    assert order == [
        "open-high-new",
        "open-high-old",
        "open-low",
        "acknowledged-critical",
        "resolved-critical",
    ]


def test_only_a_routed_group_or_the_admin_sees_the_buttons():
    assert views.can_act(alert("a"), "group", "finance")
    assert not views.can_act(alert("a"), "group", "operations")
    assert views.can_act(alert("a"), "admin", "admin")
    assert not views.can_act(alert("a", status="resolved"), "group", "finance")


def test_the_grid_colours_each_cell_by_its_worst_unresolved_alert():
    enterprises = [
        {"id": "chalco-qinghai", "name": "中铝青海", "is_key": True},
        {"id": "quiet-key", "name": "平稳企业", "is_key": True},
        {"id": "small-firm", "name": "小企业", "is_key": False},
        {"id": "calm-small", "name": "无事小企业", "is_key": False},
    ]
    counts = [  # notify's GET /v1/alerts/counts
        {"enterprise_id": "chalco-qinghai", "type": "funding_gap", "status": "open", "count": 1,
         "worst_severity": "medium"},
        {"enterprise_id": "chalco-qinghai", "type": "funding_gap", "status": "acknowledged", "count": 1,
         "worst_severity": "critical"},
        {"enterprise_id": "chalco-qinghai", "type": "stockpile", "status": "resolved", "count": 3,
         "worst_severity": "critical"},
        {"enterprise_id": "small-firm", "type": "stockpile", "status": "open", "count": 1, "worst_severity": "low"},
        {"enterprise_id": None, "type": "major_incident", "status": "open", "count": 1, "worst_severity": "high"},
    ]  # fmt: skip
    columns, rows = views.overview_grid(enterprises, counts)
    assert "funding_gap" in columns and "major_incident" in columns
    # Key enterprises always; others only with something open; the worst first.
    assert [r.enterprise_id for r in rows] == ["chalco-qinghai", "small-firm", "quiet-key"]
    chalco = rows[0].cells
    assert (chalco["funding_gap"].worst, chalco["funding_gap"].open_count) == ("critical", 2)
    assert chalco["stockpile"].worst is None  # resolved alerts do not colour the grid
    assert rows[1].cells["stockpile"].worst == "low"


def test_the_charts_compute_the_funding_gap_and_draw_the_energy_ceiling():
    points = [
        {"period_end": "2011-12-18", "indicators": {"working_capital_need": 900, "cash_on_hand": 100,
                                                    "credit_available": 300, "energy_kwh_per_t": 14200}},
        {"period_end": "2011-12-11", "indicators": {"working_capital_need": 500, "inventory_t": 10}},
    ]  # fmt: skip
    trends = {c.key: c for c in charts.trend_charts(points, energy_ceiling=14000)}
    assert trends["funding"].series[0].points == [(date(2011, 12, 11), 500.0), (date(2011, 12, 18), 500.0)]
    energy, ceiling = trends["energy"].series
    assert energy.points == [(date(2011, 12, 18), 14200.0)]
    assert ceiling.points == [(date(2011, 12, 18), 14000.0)] and ceiling.dashed
    assert trends["rail"].empty and not trends["inventory"].empty
    no_ceiling = {c.key: c for c in charts.trend_charts(points, energy_ceiling=None)}
    assert len(no_ceiling["energy"].series) == 1


def test_charts_and_timeline_share_one_time_axis():
    axis = charts.TimeAxis.spanning([date(2011, 12, 11), date(2012, 1, 8), date(2011, 12, 25)])
    assert axis == charts.TimeAxis(date(2011, 12, 11), date(2012, 1, 8))
    assert axis.fraction(date(2011, 12, 25)) == 0.5
    chart = charts.Chart(
        "inventory", "库存", "吨", [charts.Series("库存", [(date(2011, 12, 25), 5.0)], "#000")]
    )
    svg = charts.chart_svg(chart, axis)
    marks = charts.timeline_marks([alert("a", period_end="2011-12-25"), alert("b")], axis)
    assert [m["alert"]["alert_id"] for m in marks] == ["a"]  # no period: not on the time axis
    centre = charts.LEFT + 0.5 * (charts.WIDTH - charts.LEFT - charts.RIGHT)
    assert f'cx="{centre:.1f}"' in svg and marks[0]["x"] == centre
    assert f'cx="{centre:.1f}"' in charts.timeline_svg(marks, axis)


def test_chart_text_is_escaped():
    axis = charts.TimeAxis(date(2011, 12, 11), date(2011, 12, 18))
    chart = charts.Chart("x", "<script>", "吨", [charts.Series("<b>", [(date(2011, 12, 11), 1.0)], "#000")])
    svg = charts.chart_svg(chart, axis)
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_sessions_expire_and_close():
    sessions = Sessions(lifetime_seconds=0.05)
    principal = Principal("group", "finance")
    session_id = sessions.open(principal, "lsn_x", "金融组")
    assert sessions.get(session_id).principal == principal
    assert sessions.get("guess") is None and sessions.get(None) is None
    time.sleep(0.1)
    assert sessions.get(session_id) is None
    other = Sessions(lifetime_seconds=60)
    session_id = other.open(principal, "lsn_x", "金融组")
    other.close(session_id)
    assert other.get(session_id) is None


def test_a_case_shows_under_coordination_only_while_it_lasts():
    from datetime import UTC, datetime

    from services.console.timeline import coordinating

    moment = datetime(2012, 1, 10, 12, tzinfo=UTC)
    case = {"status": "open", "coordinating_until": "2012-01-20T16:00:00+00:00"}
    assert coordinating(case, moment) == "2012-01-20"
    assert coordinating(case, datetime(2012, 1, 21, tzinfo=UTC)) is None  # over
    assert coordinating({**case, "status": "resolved"}, moment) is None
    assert coordinating({"status": "open"}, moment) is None


def test_a_case_timeline_reads_oldest_first_in_words():
    from services.console.timeline import case_timeline

    alert = {"history": [
        {"at": "2011-12-20T09:00:00+00:00", "event": "coordinating", "by": "group:finance", "detail": "协调中，至 2011-12-30"},
        {"at": "2011-12-19T08:00:00+00:00", "event": "received", "by": "rules", "detail": "finance"},
    ]}  # fmt: skip
    timeline = case_timeline(alert)
    assert [t["event"] for t in timeline] == ["收到", "协调中"]
    assert timeline[0]["at"] == "2011年12月19日 16:00"  # Beijing time, the province's clock
    folded = case_timeline({**alert, "earlier_updates": 44})
    assert [t["event"] for t in folded] == ["收到", "更新", "协调中"]
    assert "此前另有 44 次数据更新" in folded[1]["detail"]


def test_a_silence_is_active_from_its_start_until_its_end_and_a_day_ends_in_beijing():
    from datetime import UTC, datetime

    from services.console.timeline import end_of_day_beijing, silence_active

    silence = {"starts_at": "2012-01-10T00:00:00+00:00", "ends_at": "2012-01-12T16:00:00+00:00"}
    assert silence_active(silence, datetime(2012, 1, 11, tzinfo=UTC))
    assert not silence_active(silence, datetime(2012, 1, 12, 16, tzinfo=UTC))
    assert end_of_day_beijing("2012-01-12") == datetime(2012, 1, 12, 16, tzinfo=UTC)
    # Typed as an official writes it: the field is text, the browser's locale plays no part.
    assert (
        end_of_day_beijing("2012年1月12日")
        == end_of_day_beijing("2012/1/12")
        == end_of_day_beijing("2012-01-12")
    )


def test_a_case_timeline_names_every_group_service_channel_and_date_in_chinese():
    """Issue 40.3: the timeline read "收到 rules comprehensive, operations, wg-liaison"."""
    from services.console.timeline import case_timeline, chinese_date

    names = {"finance": "金融协调组", "wg-credit": "信贷工作组", "comprehensive": "综合协调组"}
    alert = {"history": [
        {"at": "2011-12-19T08:00:00+00:00", "event": "received", "by": "rules", "detail": "finance, wg-credit"},
        {"at": "2011-12-19T08:01:00+00:00", "event": "sent", "by": "webhook", "detail": "n-1f2e"},
        {"at": "2011-12-20T08:00:00+00:00", "event": "updated", "by": "rules", "detail": "evidence, occurrences"},
        {"at": "2011-12-21T08:00:00+00:00", "event": "acknowledged", "by": "group:finance", "detail": "已联系银行"},
        {"at": "2011-12-22T08:00:00+00:00", "event": "escalated", "by": "notify", "detail": "to comprehensive, level 1"},
        {"at": "2011-12-23T08:00:00+00:00", "event": "silenced", "by": "notify", "detail": "wg-credit: 计划检修"},
        {"at": "2011-12-24T08:00:00+00:00", "event": "reopened", "by": "rules", "detail": "detected again in the period ending 2011-12-25"},
        {"at": "2011-12-25T08:00:00+00:00", "event": "corrected", "by": "rules", "detail": "report r-2 corrects r-1 for the period ending 2011-12-25"},
        {"at": "2011-12-26T08:00:00+00:00", "event": "resolved", "by": "rules", "detail": "absent from two consecutive reports (r-3, r-4): resolved by data"},
        {"at": "2011-12-27T08:00:00+00:00", "event": "commented", "by": "admin", "detail": "ok"},
        {"at": "2011-12-28T08:00:00+00:00", "event": "coordinating", "by": "group:finance", "detail": "协调中，至 2012-01-20T16:00:00+00:00：等银行批复"},
    ]}  # fmt: skip
    lines = case_timeline(alert, names)
    text = " ".join(f"{line['event']} {line['by']} {line['detail']}" for line in lines)
    for machine_word in (
        "rules",
        "notify",
        "webhook",
        "finance",
        "wg-credit",
        "comprehensive",
        "level",
        "period ending",
    ):
        assert machine_word not in text, machine_word
    assert lines[0] == {
        "at": "2011年12月19日 16:00",
        "event": "收到",
        "by": "预警规则",
        "detail": "分送 金融协调组、信贷工作组",
    }
    assert lines[1]["by"] == "Webhook 推送" and lines[3]["by"] == "金融协调组"
    assert lines[2]["detail"] == "更新了依据、出现次数"
    assert lines[4]["detail"] == "升级至综合协调组（第1级）"
    assert lines[5]["detail"] == "信贷工作组：计划检修"
    assert "2011年12月25日" in lines[6]["detail"] and "r-1" in lines[7]["detail"]
    assert lines[8]["detail"].endswith("按数据自动办结") and lines[9]["by"] == "管理员"
    assert lines[10]["detail"] == "协调中，至2012年1月20日：等银行批复"
    assert chinese_date("2025-03-05") == "2025年3月5日" and chinese_date("") == ""


def test_every_evidence_field_the_detectors_write_has_a_chinese_label():
    import re
    from pathlib import Path

    from services.console.views import EVIDENCE_LABELS, evidence_label

    rules = Path(views.__file__).parents[1] / "rules" / "domain"
    source = "".join(
        (rules / name).read_text(encoding="utf-8")
        for name in ("detectors.py", "production_detectors.py", "stated_problems.py")
    )
    # The keys of each evidence_of(values, threshold, ...) call: every quoted name followed by a colon.
    written = set(re.findall(r'\{"([a-z_]+)":', source)) | set(re.findall(r', "([a-z_]+)":', source))
    # Structural keys of the evidence and of the problem itself, not values shown by name:
    written -= {"values", "threshold", "rule", "source", "findings", "reported_by", "indicators", "period_end",
                "report_id", "severity", "enterprise", "work_group", "submitted_at"}  # fmt: skip
    missing = sorted(name for name in written if name not in EVIDENCE_LABELS)
    assert missing == []
    assert evidence_label("inventory_t") == "库存（吨）" and evidence_label("unknown_x") == "unknown_x"


def test_a_liaisons_correction_sends_the_whole_week_again_with_the_typed_figures_in_place():
    """docs/contract.md §7: a correction replaces the report's figures everywhere, so every figure of
    the week goes again; only the typed ones change, and a typed word is named, not sent."""
    from datetime import UTC, datetime

    import pytest

    from services.console.views import correction_report

    original = {"report_id": "e-w4", "period_start": "2004-03-29", "period_end": "2004-04-04",
                "indicators": {"inventory_t": 910000.0, "sales_t": 6004.0}}  # fmt: skip
    moment = datetime(2004, 4, 6, 2, 30, tzinfo=UTC)
    report = correction_report(
        original, {"inventory_t": "9,100", "sales_t": " "}, enterprise_id="e", now=moment
    )
    assert report["indicators"] == {"inventory_t": 9100.0, "sales_t": 6004.0}
    assert (report["period_start"], report["period_end"]) == ("2004-03-29", "2004-04-04")
    assert report["report_id"] == "e-w4-fix-20040406103000" and report["submitted_at"].endswith("+08:00")
    with pytest.raises(ValueError, match="库存（吨）"):
        correction_report(original, {"inventory_t": "九千"}, enterprise_id="e", now=moment)


def test_queries_list_open_ones_first_and_rates_the_lowest_first_by_name():
    from services.console.views import query_rows, rate_rows

    finding = {"indicator": "inventory_t", "value": 910000, "expected_min": 900, "expected_max": 90000}
    rows = query_rows([
        {"alert_id": "a", "period_end": "2004-04-04", "status": "resolved", "evidence": {"findings": [finding]}},
        {"alert_id": "b", "period_end": "2004-03-07", "status": "open", "evidence": {"findings": [finding]}},
    ])  # fmt: skip
    assert [r["alert_id"] for r in rows] == ["b", "a"] and rows[0]["findings"][0]["label"] == "库存（吨）"
    rates = {"subjects": [
        {"subject_type": "enterprise", "subject_id": "x", "reporting_rate": 0.9},
        {"subject_type": "work_group", "subject_id": "wg-rail", "reporting_rate": 0.5},
        {"subject_type": "enterprise", "subject_id": "y", "reporting_rate": None},
    ]}  # fmt: skip
    ordered = rate_rows(rates, {"wg-rail": "铁路运输工作组"})
    assert [(r["name"], r["kind"]) for r in ordered] == [
        ("铁路运输工作组", "工作组"),
        ("x", "企业"),
        ("y", "企业"),
    ]
