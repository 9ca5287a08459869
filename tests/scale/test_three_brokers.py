"""Beyond one machine (issue 41.6): three KRaft brokers on loopback, every topic replicated three
times with min.insync.replicas 2, the services unchanged. One broker is killed (SIGKILL) while
2,000 reports flow and a second rules worker joins (a rebalance); every accepted report is
processed, every case right, nothing lost or doubled; the broker returns and catches up.

A package of its own: its cluster (three brokers, FerretDB, four services and a second worker)
runs after the fault suite's has stopped, not beside it."""

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from kafka.admin import KafkaAdminClient

from liaison_common.kafka_auth import kafka_auth
from tests.faults.cluster import Cluster
from tests.faults.helpers import wait_until
from tests.faults.test_faults import (
    ENTERPRISES,
    alert_id,
    alerts_on_topic,
    assert_each_case_counted_once,
    assert_stored_once,
    funding_report,
    submit_all,
)
from tests.kafka_helpers import metric_value

pytestmark = [pytest.mark.integration, pytest.mark.faults]
WATCHED = ("liaison.reports.v1", "liaison.alerts.v1", "liaison.alert-events.v1")


@pytest.fixture(scope="module")
def three_brokers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cluster = Cluster(Path(tmp_path_factory.mktemp("three-brokers")), brokers=3)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def replicas(cluster: Cluster) -> dict[tuple[str, int], tuple[int, int]]:
    """Per partition of the watched topics and rules' changelogs: (replicas, in-sync replicas)."""
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap, **kafka_auth(), client_id="three-brokers")
    try:
        names = [t for t in admin.list_topics() if t in WATCHED or t.startswith("liaison-rules-")]
        found = {}
        for topic in admin.describe_topics(names):
            for partition in topic["partitions"]:
                found[(topic["name"], partition["partition_index"])] = (
                    len(partition["replica_nodes"]),
                    len(partition["isr_nodes"]),
                )
        return found
    finally:
        admin.close()


def test_a_broker_killed_while_reports_flow_and_workers_rebalance_loses_and_doubles_nothing(three_brokers):
    cluster, run, year = three_brokers, uuid.uuid4().hex[:6], 2015
    placed = replicas(cluster)
    assert placed and all(count == 3 for count, _ in placed.values()), placed  # replicated 3 times
    # 2,000 reports: 40 enterprises, 50 weeks; a funding gap one week in seven, each its own case.
    reports = [
        funding_report(run, enterprise_id, year, number, gap=(index + number) % 7 == 0)
        for number in range(1, 51)
        for index, enterprise_id in enumerate(ENTERPRISES[:40])
    ]
    expected = {alert_id("funding_gap", r) for r in reports if r["indicators"]["credit_available"] == 400}

    def reports_done() -> float:
        metrics = httpx.get(f"{cluster.url('rules')}/metrics", timeout=10).text
        return metric_value(metrics, "liaison_rules_events_total", topic="liaison.reports.v1", outcome="ok")

    def submit_paced() -> None:
        # 50 reports every half second: the flow lasts about 20 s, so that the broker's loss and
        # the second worker's arrival (some seconds to start and join) both land inside it.
        for start in range(0, len(reports), 50):
            submit_all(cluster, reports[start : start + 50], 50)
            time.sleep(0.5)

    done_before = reports_done()
    with ThreadPoolExecutor(max_workers=1) as pool:
        submission = pool.submit(submit_paced)
        wait_until("a quarter of the reports processed", lambda: reports_done() - done_before >= len(reports) // 4,
                   timeout=300, every=0.05)  # fmt: skip
        cluster["kafka-2"].kill()  # a broker lost: SIGKILL, no controlled shutdown
        at_kill = reports_done() - done_before
        cluster["rules-2"].start()  # and a worker joins: the partitions move while it is away
        at_join = reports_done() - done_before
        submission.result()  # every report accepted (ingest retried what the loss refused)
    assert at_kill < len(reports) // 2 and at_join < len(reports), (at_kill, at_join)
    print(
        f"three brokers: broker killed after {at_kill:.0f} reports, the second worker ready after {at_join:.0f}"
    )

    wait_until("every expected alert on the topic", lambda: set(alerts_on_topic(cluster, "funding_gap", year))
               >= expected, timeout=300)  # fmt: skip
    on_topic = alerts_on_topic(cluster, "funding_gap", year)
    assert set(on_topic) == expected, f"unexpected alerts: {sorted(set(on_topic) - expected)[:5]}"
    assert_stored_once(cluster, "funding_gap", year, expected)
    assert_each_case_counted_once(cluster, expected)  # nothing judged twice inside a case either

    # The broker returns and catches up: every partition in sync on all three again.
    cluster["kafka-2"].start()
    started = time.monotonic()
    wait_until("every partition back in sync on three brokers",
               lambda: all(isr == 3 for _, isr in replicas(cluster).values()), timeout=180, every=1)  # fmt: skip
    print(f"three brokers: {len(expected)} cases right; the killed broker in sync "
          f"{time.monotonic() - started:.0f} s after its return")  # fmt: skip
