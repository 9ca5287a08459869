"""Reports in, alerts out, through real Kafka and real Faust workers."""

import json
import threading
import time
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer, KafkaProducer

from liaison_common import jsonbytes
from liaison_common.kafka_auth import kafka_auth
from liaison_common.topics import partitions_of
from tests.kafka_helpers import wait_for_events

pytestmark = pytest.mark.integration
WEEK0 = date(2011, 12, 5)


def report(enterprise_id: str, week: int, report_id: str | None = None, **indicators: float) -> dict:
    start = WEEK0 + timedelta(weeks=week)
    end = start + timedelta(days=6)
    return {
        "kind": "enterprise_report",
        "report_id": report_id or f"{enterprise_id}-W{week}",
        "enterprise_id": enterprise_id,
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "submitted_at": f"{(end + timedelta(days=1)).isoformat()}T09:00:00+08:00",
        "indicators": indicators,
    }


def publish(bootstrap: str, topic: str, items: list[tuple[bytes, bytes]]) -> None:
    # One request in flight: a retried batch on a busy machine must not overtake the next one
    # (a week delivered after the week that follows it is taken as a repeat of the case's span).
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        **kafka_auth(),
        acks="all",
        linger_ms=5,
        max_in_flight_requests_per_connection=1,
    )
    for key, value in items:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


def publish_reports(bootstrap: str, topic: str, reports: list[dict]) -> None:
    publish(bootstrap, topic, [(r["enterprise_id"].encode(), jsonbytes.dumps(r)) for r in reports])


def alerts_by_id(bootstrap, topic, until, timeout=90.0) -> dict[str, dict]:
    events = wait_for_events(
        bootstrap, topic, lambda e: until({a["alert_id"]: a for a in e}), timeout=timeout
    )
    return {a["alert_id"]: a for a in events}


def routes(alert: dict) -> list[tuple[str, str]]:
    return [(r["group_id"], r["role"]) for r in alert["routes"]]


def test_reports_become_alerts_with_the_contract_routes(
    kafka_bootstrap, rules_topics, rules_env, spawn_worker
):
    worker = spawn_worker()
    gap = report("chalco-qinghai", 1, working_capital_need=30000, cash_on_hand=12000, credit_available=8000)
    calm = report("western-mining", 1, sales_t=100, production_t=100)
    backlog = report("qinghai-salt-lake", 1, rail_requested_t=100000, rail_shipped_t=52000)
    publish_reports(kafka_bootstrap, rules_topics["reports_topic"], [gap, calm, backlog])
    incident = {
        "kind": "incident", "incident_id": "salt-1", "enterprise_id": "qinghai-salt-lake",
        "occurred_at": "2011-12-20T14:05:00+08:00", "category": "safety", "severity": "critical", "summary": "塌方",
    }  # fmt: skip
    publish(
        kafka_bootstrap, rules_topics["incidents_topic"], [(b"qinghai-salt-lake", jsonbytes.dumps(incident))]
    )
    worker.wait_ready()

    alerts = alerts_by_id(kafka_bootstrap, rules_topics["alerts_topic"], lambda a: len(a) >= 3)
    funding = alerts["funding_gap.chalco-qinghai.2011-12-18"]
    assert routes(funding) == [
        ("finance", "primary"),
        ("wg-credit", "cc"),
        ("wg-liaison", "cc"),
        ("wg-aluminium", "cc"),
    ]
    assert (
        funding["severity"] in ("medium", "high", "critical")
        and funding["evidence"]["values"]["gap"] == 10000
    )
    assert funding["source_ids"] == ["chalco-qinghai-W1"] and "缺口" in funding["summary"]
    transport = alerts["transport_backlog.qinghai-salt-lake.2011-12-18"]
    assert routes(transport)[:2] == [("operations", "primary"), ("wg-rail", "cc")]
    assert ("wg-chemical", "cc") in routes(transport)
    major = alerts["major_incident.qinghai-salt-lake.2011-12-20.salt-1"]
    assert (major["severity"], routes(major)[0]) == ("critical", ("comprehensive", "primary"))
    # docs/contract.md §7: a safety incident goes to the enterprise-management group as well.
    assert routes(major)[1:3] == [("operations", "cc"), ("enterprise-management", "cc")]
    # The tables keyed by enterprise are partitioned like the reports (3 here), although importing
    # the app asks no broker: the worker asked as it started (issue 42.3).
    for table in ("enterprise-history", "enterprise-cases"):
        changelog = f"{rules_env['RULES_APP_ID']}-{table}-changelog"
        assert len(partitions_of(kafka_bootstrap, changelog)) == 3, changelog
    assert not [a for a in alerts.values() if a.get("enterprise_id") == "western-mining"]


def test_a_regions_growth_is_judged_as_a_whole_and_only_for_2011(kafka_bootstrap, rules_topics, spawn_worker):
    """docs/contract.md §7: 西宁's reporting enterprises weighted by output value, two weeks running
    below 17.5 %, make one case of the region; a single enterprise far below does not, while a
    larger one lifts the region; the weeks of 2012 are not judged against 附件1's targets."""
    worker = spawn_worker()
    weeks = []
    for week in (1, 2, 4, 5):  # 2011-12-18, 2011-12-25; 2012-01-08, 2012-01-15
        weeks += [
            report("xining-special-steel", week, output_value=9000, output_value_yoy_pct=4.0),
            report("chalco-qinghai", week, output_value=1000, output_value_yoy_pct=30.0),
            # 海西: one far below, one larger above: the region as a whole meets its 23 %.
            report("qinghai-salt-lake", week, output_value=1000, output_value_yoy_pct=2.0),
            report("petrochina-qinghai-oilfield", week, output_value=9000, output_value_yoy_pct=28.0),
        ]
    sentinel = report("chalco-qinghai", 6, lines_halted=1)  # after every other report of its partition
    publish_reports(kafka_bootstrap, rules_topics["reports_topic"], [*weeks, sentinel])
    worker.wait_ready()
    alerts = alerts_by_id(
        kafka_bootstrap,
        rules_topics["alerts_topic"],
        lambda a: (
            "growth_shortfall.西宁.2011-12-25" in a and "production_halt.chalco-qinghai.2012-01-22" in a
        ),
    )
    case = alerts["growth_shortfall.西宁.2011-12-25"]
    assert case["region"] == "西宁" and "enterprise_id" not in case
    assert case["evidence"]["values"]["region_growth_pct"] == {"2011-12-18": 6.6, "2011-12-25": 6.6}
    assert routes(case) == [("operations", "primary"), ("comprehensive", "cc")]
    assert set(case["evidence"]["region_source"]) == {"chalco-qinghai", "xining-special-steel"}
    assert "确保完成地区年度工业发展目标任务" in case["measures"][0]["quote"]
    growth = sorted(a for a in alerts if a.startswith("growth_shortfall"))
    assert growth == ["growth_shortfall.西宁.2011-12-25"]  # no enterprise, no 海西, no 2012


def test_history_makes_a_stockpile_and_a_stated_problem_makes_an_alert(
    kafka_bootstrap, rules_topics, spawn_worker
):
    worker = spawn_worker()
    weeks = [report("qiaotou-aluminium-power", w, sales_t=100, inventory_t=150) for w in range(3)]
    weeks.append(report("qiaotou-aluminium-power", 3, sales_t=100, inventory_t=450))
    stated = report("huading-industrial", 0)
    stated["problems"] = [{"category": "market", "text": "订单不足"}]
    publish_reports(kafka_bootstrap, rules_topics["reports_topic"], [*weeks, stated])
    worker.wait_ready()
    alerts = alerts_by_id(kafka_bootstrap, rules_topics["alerts_topic"],
                          lambda a: "stockpile.huading-industrial.2011-12-11" in a and "stockpile.qiaotou-aluminium-power.2012-01-01" in a)  # fmt: skip
    assert alerts["stockpile.huading-industrial.2011-12-11"]["severity"] == "low"
    assert routes(alerts["stockpile.huading-industrial.2011-12-11"])[:2] == [
        ("industry-matching", "primary"),
        ("operations", "cc"),
    ]
    stockpiles = [i for i in alerts if i.startswith("stockpile.qiaotou")]
    assert stockpiles == ["stockpile.qiaotou-aluminium-power.2012-01-01"]


def test_malformed_events_go_to_the_dead_letter_topic_and_the_worker_keeps_going(
    kafka_bootstrap, rules_topics, spawn_worker
):
    worker = spawn_worker()
    publish(
        kafka_bootstrap,
        rules_topics["reports_topic"],
        [
            (b"x", b"\xff\xfe not json"),
            (b"x", b'{"kind": "enterprise_report", "report_id": "r"}'),
            (b"nobody", jsonbytes.dumps(report("no-such-co", 0))),
            (b"chalco-qinghai", jsonbytes.dumps(report("chalco-qinghai", 0, lines_halted=2))),
        ],
    )
    publish(kafka_bootstrap, rules_topics["periods_topic"], [(b"x", b"[]")])
    # The urgent lane (incidents) dead-letters alike, naming the field.
    publish(
        kafka_bootstrap,
        rules_topics["incidents_topic"],
        [(b"x", b'{"kind": "incident", "incident_id": "i"}')],
    )
    worker.wait_ready()
    dead = wait_for_events(kafka_bootstrap, rules_topics["dlq_topic"], lambda e: len(e) >= 5, timeout=90)
    assert sorted(d["reason"] for d in dead) == [
        "invalid",
        "invalid",
        "invalid",
        "not_json",
        "unknown_reference",
    ]
    from_the_lane = [d for d in dead if d["source"]["topic"] == rules_topics["incidents_topic"]]
    assert ["body", "enterprise_id"] in [e["loc"] for e in from_the_lane[0]["detail"]]
    assert all(d["rejected_by"] == "rules" for d in dead)
    alerts = alerts_by_id(kafka_bootstrap, rules_topics["alerts_topic"], lambda a: len(a) >= 1)
    assert "production_halt.chalco-qinghai.2011-12-11" in alerts


def changelog_records(bootstrap: str, topic: str, until: Any, timeout: float = 30.0) -> dict[str, bytes]:
    """A Faust table's changelog as {key: latest value bytes}, read until `until(records)` holds."""
    deadline = time.monotonic() + timeout
    records: dict[str, bytes] = {}
    while time.monotonic() < deadline:
        consumer = KafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            **kafka_auth(),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            consumer_timeout_ms=1000,
        )
        try:
            for message in consumer:
                records[json.loads(message.key)] = message.value
        finally:
            consumer.close()
        if until(records):
            return records
        time.sleep(0.5)
    raise AssertionError(f"{topic} did not hold what was expected: {sorted(records)}")


def test_overdue_reporters_are_alerted_in_event_time(
    kafka_bootstrap, rules_topics, spawn_worker, unique_name
):
    worker = spawn_worker()
    # Chalco, western-mining and wg-rail report week 0; only chalco reports weeks 1 and 2
    # (submitted the day after each period): western-mining and wg-rail missed week 1.
    first = [report(e, 0) for e in ("chalco-qinghai", "western-mining")]
    later = [report("chalco-qinghai", w) for w in (1, 2)]
    wg = {
        "kind": "workgroup_report", "report_id": "rail-W0", "work_group_id": "wg-rail", "period_start": "2011-12-05",
        "period_end": "2011-12-11", "submitted_at": "2011-12-12T09:00:00+08:00",
    }  # fmt: skip
    publish(kafka_bootstrap, rules_topics["workgroup_reports_topic"], [(b"wg-rail", jsonbytes.dumps(wg))])
    publish_reports(kafka_bootstrap, rules_topics["reports_topic"], first + later)
    worker.wait_ready()
    alerts = alerts_by_id(
        kafka_bootstrap, rules_topics["alerts_topic"],
        lambda a: "report_overdue.western-mining.2011-12-18" in a and "report_overdue.wg-rail.2011-12-18" in a,
    )  # fmt: skip
    rail = alerts["report_overdue.wg-rail.2011-12-18"]
    assert rail["work_group_id"] == "wg-rail"
    assert routes(rail) == [("comprehensive", "primary")]  # docs/contract.md §7: the comprehensive group only
    assert not [a for a in alerts if a.startswith("report_overdue.chalco-qinghai")]
    reporting = wait_for_events(
        kafka_bootstrap, rules_topics["reporting_topic"],
        lambda e: any(r["week"] == "2011-W49" and r["received"] == 3 for r in e),
    )  # fmt: skip
    week0 = [r for r in reporting if r["week"] == "2011-W49"][-1]
    assert week0["expected"] == 34 and week0["received"] == 3 and week0["on_time"] == 3
    # The reporting state was written to its table's changelog one fact per key: its clocks,
    # each reporter's last period, each week's end, each (week, reporter) reported, and the
    # flags of those who missed a week. No record holds every reporter, so none grows with them.
    changelog = f"test-rules-{unique_name}-reporting-state-changelog"
    wanted = {
        "meta",
        "last:enterprise:chalco-qinghai",
        "last:enterprise:western-mining",
        "last:work_group:wg-rail",
        "week:2011-W49",
        "week:2011-W50",
        "week:2011-W51",
        "got:2011-W49|enterprise:chalco-qinghai",
        "got:2011-W49|enterprise:western-mining",
        "got:2011-W49|work_group:wg-rail",
        "got:2011-W50|enterprise:chalco-qinghai",
        "got:2011-W51|enterprise:chalco-qinghai",
        "flagged:enterprise:western-mining",
        "flagged:work_group:wg-rail",
    }
    records = changelog_records(kafka_bootstrap, changelog, lambda r: wanted <= set(r))
    assert {k for k in records if not k.startswith("flagged:")} == {
        k for k in wanted if not k.startswith("flagged:")
    }
    # (The clocks' record holds one clock per input partition: bounded by partitions, not reporters.)
    assert max(len(value) for key, value in records.items() if key != "meta") < 200
    log = worker.log.read_text()
    assert "Crashed" not in log, log[-2000:]


def test_replaying_the_same_input_gives_the_same_alert_ids_and_no_more(
    kafka_bootstrap, rules_topics, spawn_worker
):
    worker = spawn_worker()
    batch = [report("chalco-qinghai", w, working_capital_need=100, cash_on_hand=1) for w in range(5)]
    publish_reports(kafka_bootstrap, rules_topics["reports_topic"], batch)
    worker.wait_ready()

    def funding(events):
        return [e for e in events if e["type"] == "funding_gap"]

    first = wait_for_events(
        kafka_bootstrap, rules_topics["alerts_topic"], lambda e: len(funding(e)) >= 5, timeout=90
    )
    # Five weeks of the same gap are one case: the first week's id, counted week by week.
    case_id = f"funding_gap.chalco-qinghai.{batch[0]['period_end']}"
    assert {e["alert_id"] for e in funding(first)} == {case_id}
    assert [e["occurrences"] for e in funding(first)] == [1, 2, 3, 4, 5]
    assert funding(first)[-1]["last_period_end"] == batch[-1]["period_end"]
    publish_reports(kafka_bootstrap, rules_topics["reports_topic"], batch)  # the same input again
    # A marker in place of a quiet spell: the case's next week, after the replay on the same
    # partition (one enterprise, one key), so its alert comes after anything the replay caused.
    marker = report("chalco-qinghai", 5, working_capital_need=100, cash_on_hand=1)
    publish_reports(kafka_bootstrap, rules_topics["reports_topic"], [marker])

    def marker_seen(events: list[dict]) -> bool:
        return any(e["last_period_end"] == marker["period_end"] for e in funding(events))

    again = funding(wait_for_events(kafka_bootstrap, rules_topics["alerts_topic"], marker_seen, timeout=90))
    assert {e["alert_id"] for e in again} == {case_id}
    before_marker = again[
        : next(i for i, e in enumerate(again) if e["last_period_end"] == marker["period_end"])
    ]
    assert max(e["occurrences"] for e in before_marker) == 5  # a replay adds no occurrence
    assert again[len(before_marker)]["occurrences"] == 6  # nor does it shift the next week's count


def test_a_worker_killed_mid_stream_loses_nothing(kafka_bootstrap, rules_topics, spawn_worker):
    from services.registry.organisation import load_organisation

    # 30 enterprises of the seed, 100 weeks each: 3,000 reports, so that the kill lands mid-stream.
    enterprises = [e["id"] for e in load_organisation()["enterprises"]][:30]
    batch = [report(e, w, wage_arrears=1) for w in range(100) for e in enterprises]
    # One case per enterprise (wages owed every week), its id the first week's; by the end each
    # case has counted all 100 weeks.
    expected = {f"workforce_cut.{e}.{batch[0]['period_end']}" for e in enterprises}
    last_week = batch[-1]["period_end"]
    worker = spawn_worker()
    worker.wait_ready()

    killed = threading.Event()

    def stream() -> None:
        # A third of the reports, then the rest once the worker is dead: the kill lands mid-stream
        # however fast this machine is, and the reports keep coming while no worker runs.
        for start in range(0, len(batch), 100):
            if start == 1000:
                killed.wait(timeout=120)
            publish_reports(kafka_bootstrap, rules_topics["reports_topic"], batch[start : start + 100])

    feeder = threading.Thread(target=stream)
    feeder.start()
    wait_for_events(kafka_bootstrap, rules_topics["alerts_topic"],
                    lambda e: any(a["type"] == "workforce_cut" for a in e), timeout=90)  # fmt: skip
    worker.kill()
    killed.set()
    published = wait_for_events(kafka_bootstrap, rules_topics["alerts_topic"], lambda e: True)
    before_kill = len([a for a in published if a["type"] == "workforce_cut"])  # one per report judged
    feeder.join()
    assert 0 < before_kill <= 1000, before_kill
    spawn_worker().wait_ready()

    def complete(events: list[dict]) -> bool:
        done = {
            a["alert_id"] for a in events if a["occurrences"] == 100 and a["last_period_end"] == last_week
        }
        return done >= expected

    events = wait_for_events(kafka_bootstrap, rules_topics["alerts_topic"], complete, timeout=120)
    assert {a["alert_id"] for a in events if a["type"] == "workforce_cut"} == expected
    assert max(a["occurrences"] for a in events) == 100  # nothing counted twice


def test_two_workers_share_the_partitions_and_produce_each_alert(
    kafka_bootstrap, rules_topics, spawn_worker, rules_env
):
    one, two = spawn_worker("-one"), spawn_worker("-two")
    one.wait_ready()
    two.wait_ready()
    # Both workers in the group, the partitions shared, before the reports come: a worker ready
    # is not yet a member (once in a full run the second joined mid-stream and a case stopped
    # short of ten); this test is about sharing, the rebalance mid-stream is test_rebalancing's.
    from tests.faults.helpers import group_state

    deadline = time.monotonic() + 90
    while group_state(kafka_bootstrap, rules_env["RULES_APP_ID"]) != ("Stable", 2):
        assert time.monotonic() < deadline, group_state(kafka_bootstrap, rules_env["RULES_APP_ID"])
        time.sleep(0.5)
    enterprises = [
        "chalco-qinghai",
        "qinghai-salt-lake",
        "western-mining",
        "huading-industrial",
        "zangyang-carpet",
    ]
    batch = [report(e, w, lines_halted=1) for w in range(10) for e in enterprises]
    expected = {f"production_halt.{e}.{batch[0]['period_end']}" for e in enterprises}
    publish_reports(kafka_bootstrap, rules_topics["reports_topic"], batch)
    events = wait_for_events(
        kafka_bootstrap, rules_topics["alerts_topic"],
        lambda e: {a["alert_id"] for a in e if a["occurrences"] == 10} >= expected, timeout=120,
    )  # fmt: skip
    assert {a["alert_id"] for a in events if a["type"] == "production_halt"} == expected
    # Both workers processed reports (their own counters), not just held partitions.
    processed = [reports_processed(worker, rules_topics["reports_topic"]) for worker in (one, two)]
    assert all(count > 0 for count in processed) and sum(processed) >= len(batch), processed


def reports_processed(worker, topic: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{worker.port}/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if (
            line.startswith("liaison_rules_events_total{")
            and f'topic="{topic}"' in line
            and 'outcome="ok"' in line
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total
