"""Incidents on the urgent lane (issue 39.1), through a real broker and a real rules worker."""

import time

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.structs import OffsetAndMetadata, TopicPartition

from liaison_common import jsonbytes
from liaison_common.kafka_auth import kafka_auth
from services.registry.organisation import load_organisation
from tests.kafka_helpers import wait_for_events
from tests.rules.integration.test_rules_pipeline import publish, publish_reports, report

pytestmark = pytest.mark.integration
# Every enterprise of the seed but the incident's, 200 weeks each (all before today: a report
# from the future is refused): 20,000 reports, each with a funding gap, so one alert each.
ENTERPRISES = [e["id"] for e in load_organisation()["enterprises"] if e["id"] != "qinghai-salt-lake"]
BACKLOG_WEEKS = 200


def incident(incident_id: str, day: int = 20) -> dict:
    return {
        "kind": "incident", "incident_id": incident_id, "enterprise_id": "qinghai-salt-lake",
        "occurred_at": f"2011-12-{day}T14:05:00+08:00", "category": "safety", "severity": "critical",
        "summary": "塌方",
    }  # fmt: skip


def alert_timestamps(
    bootstrap: str, topic: str, until_id: str, timeout: float = 120.0
) -> dict[str, list[int]]:
    """Every alert's append times (ms) by alert id, read until `until_id` is among them."""
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, **kafka_auth(),
        auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=500,
    )  # fmt: skip
    stamps: dict[str, list[int]] = {}
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for message in consumer:
                stamps.setdefault(message.key.decode(), []).append(message.timestamp)
            if until_id in stamps:
                return stamps
        raise AssertionError(f"no alert {until_id} in {timeout:.0f} s; saw {len(stamps)} alert ids")
    finally:
        consumer.close()


def wait_for_drain_to_begin(bootstrap: str, topic: str, alerts: int = 100, timeout: float = 120.0) -> None:
    """Returns as soon as `alerts` alerts are out (wait_for_events reads on while more come)."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        **kafka_auth(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    deadline, seen = time.monotonic() + timeout, 0
    try:
        while seen < alerts:
            assert time.monotonic() < deadline, f"only {seen} alerts in {timeout:.0f} s"
            seen += sum(len(records) for records in consumer.poll(timeout_ms=200, max_records=50).values())
    finally:
        consumer.close()


def test_an_incident_overtakes_a_backlog_of_reports(kafka_bootstrap, rules_topics, spawn_worker):
    """An incident that comes while thousands of reports drain is handled as it comes: when its
    alert is appended, few of the reports that were waiting when it came have been handled.
    Bounded by work done, not by time: on the reports' stream it waited for the reports queued
    and fetched ahead of it (a stream buffer of 256 and a fetch of each partition), and its
    alert for the producer's requests ahead of it."""
    backlog = [
        report(enterprise, week, working_capital_need=30000, cash_on_hand=1, credit_available=1)
        for week in range(BACKLOG_WEEKS)
        for enterprise in ENTERPRISES
    ]
    publish_reports(kafka_bootstrap, rules_topics["reports_topic"], backlog)
    worker = spawn_worker()
    worker.wait_ready()
    wait_for_drain_to_begin(kafka_bootstrap, rules_topics["alerts_topic"])
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, **kafka_auth(), acks="all")
    sent = producer.send(
        rules_topics["incidents_topic"], key=b"qinghai-salt-lake", value=jsonbytes.dumps(incident("cave-in"))
    )
    incident_appended = sent.get(timeout=30).timestamp
    producer.close()

    incident_alert = "major_incident.qinghai-salt-lake.2011-12-20.cave-in"
    stamps = alert_timestamps(kafka_bootstrap, rules_topics["alerts_topic"], incident_alert)
    alerted = stamps[incident_alert][0]
    # Each report of the backlog updates its enterprise's funding-gap case: one alert each.
    report_alerts = [t for key, times in stamps.items() if key.startswith("funding_gap.") for t in times]
    still_waiting = len(backlog) - len([t for t in report_alerts if t < incident_appended])
    assert still_waiting >= 2000, f"only {still_waiting} reports waited when the incident came: no test"
    handled_meanwhile = len([t for t in report_alerts if incident_appended <= t <= alerted])
    # Measured here: 22-24 reports (17-60 ms) on the lane; 104-305 (178-211 ms) when incidents
    # were an agent of the reports' worker, behind its stream buffer and its producer.
    assert handled_meanwhile < 75, (
        f"{handled_meanwhile} reports were handled between the incident's arrival and its alert"
    )


def test_the_lane_takes_over_where_the_workers_group_left_the_incidents(
    kafka_bootstrap, rules_topics, spawn_worker, rules_env
):
    """An installation upgraded to the lane: incidents the worker's own group had committed are
    not handled again, and one that came after that commit is handled."""
    topic = rules_topics["incidents_topic"]
    publish(kafka_bootstrap, topic, [(b"qinghai-salt-lake", jsonbytes.dumps(incident("handled-before", 18)))])
    # The worker's group (before the lane) had committed past it, on the partition it went to.
    probe = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap,
        **kafka_auth(),
        group_id=rules_env["RULES_APP_ID"],
        enable_auto_commit=False,
    )
    ends = probe.end_offsets([TopicPartition(topic, p) for p in probe.partitions_for_topic(topic)])
    probe.commit({tp: OffsetAndMetadata(end, None, -1) for tp, end in ends.items() if end > 0})
    probe.close()
    publish(kafka_bootstrap, topic, [(b"qinghai-salt-lake", jsonbytes.dumps(incident("after-upgrade", 19)))])
    spawn_worker().wait_ready()

    # Problems are keyed by enterprise: the earlier incident's would come before the later one's.
    problems = wait_for_events(
        kafka_bootstrap,
        rules_topics["problems_topic"],
        lambda e: any(p["source_ids"] == ["after-upgrade"] for p in e),
        timeout=90,
    )
    assert [p["source_ids"] for p in problems if p["type"] == "major_incident"] == [["after-upgrade"]], [
        (p["source_ids"], p["detected_at"] if "detected_at" in p else p.get("submitted_at")) for p in problems
    ]
