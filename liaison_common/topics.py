"""Kafka topic names (docs/contract.md §2) and how each is created.

Topic auto-creation is off on the broker, so every topic is created here, on purpose.
Run `python -m liaison_common.topics` to create the missing ones (idempotent).
"""

import os
import sys
import time
from dataclasses import dataclass, field

from liaison_common.kafka_auth import kafka_auth

INBOUND = "liaison.inbound.v1"
REPORTS = "liaison.reports.v1"
WORKGROUP_REPORTS = "liaison.workgroup-reports.v1"
INCIDENTS = "liaison.incidents.v1"
DLQ = "liaison.dlq.v1"
PROBLEMS = "liaison.problems.v1"
ALERTS = "liaison.alerts.v1"
REGISTRY = "liaison.registry.v1"
# docs/contract.md §6: every change of an alert, keyed by alert_id (the audit log of a case).
ALERT_EVENTS = "liaison.alert-events.v1"
# Ours, beyond the external contract (docs/contract.md §2 marks it so): notify's alert index
# (services/notify/alert_index.py), one entry per alert, keyed by alert_id, that every notify
# instance holds in memory for the inbox.
ALERT_INDEX = "liaison.alert-index.v1"
# Ours, beyond the external contract: weekly reporting completeness and timeliness (rules →
# notify, dashboards).
REPORTING = "liaison.reporting.v1"
# Internal to rules: every report's period, on one partition, for the event-time watermark.
RULES_PERIODS = "liaison.rules-periods.v1"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 3
    config: dict[str, str] = field(default_factory=dict)


WEEK_MS = str(7 * 24 * 3600 * 1000)
YEAR_MS = str(365 * 24 * 3600 * 1000)

TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(INBOUND, config={"retention.ms": WEEK_MS, "max.message.bytes": "10485760"}),
    TopicSpec(REPORTS, config={"retention.ms": YEAR_MS}),
    TopicSpec(WORKGROUP_REPORTS, config={"retention.ms": YEAR_MS}),
    TopicSpec(INCIDENTS, config={"retention.ms": YEAR_MS}),
    # Rejected input is kept long enough for someone to look at it and replay it.
    # A dead letter carries the original bytes base64-encoded: a 10 MB input needs ~13.4 MB.
    TopicSpec(DLQ, config={"retention.ms": YEAR_MS, "max.message.bytes": str(16 * 1024 * 1024)}),
    TopicSpec(PROBLEMS, config={"retention.ms": YEAR_MS}),
    TopicSpec(ALERTS, config={"retention.ms": YEAR_MS}),
    TopicSpec(ALERT_EVENTS, config={"retention.ms": YEAR_MS}),
    # A table: compaction keeps each alert's latest entry (a tombstone once it is archived).
    TopicSpec(ALERT_INDEX, config={"cleanup.policy": "compact"}),
    # The registry is a table: compaction keeps the latest state of every entity.
    # One partition keeps every change in one order for the consumers that rebuild it.
    TopicSpec(REGISTRY, partitions=1, config={"cleanup.policy": "compact", "min.compaction.lag.ms": "0"}),
    # One record per week (key: 2011-W50), the latest wins.
    TopicSpec(REPORTING, partitions=1, config={"cleanup.policy": "compact"}),
    TopicSpec(RULES_PERIODS, partitions=1, config={"retention.ms": YEAR_MS}),
)


def ensure_topics(
    bootstrap_servers: str, specs: tuple[TopicSpec, ...] = TOPICS, replication_factor: int | None = None
) -> list[str]:
    """Create the topics that do not exist yet; return the names created. Each is replicated
    `replication_factor` times, by default LIAISON_TOPIC_REPLICATION (1: one broker, `make up`;
    3 on a cluster of three whose min.insync.replicas is 2)."""
    if replication_factor is None:
        replication_factor = int(os.environ.get("LIAISON_TOPIC_REPLICATION", "1"))
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, **kafka_auth(), client_id="liaison-topics")
    try:
        existing = set(admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        present = [spec for spec in specs if spec.name in existing and spec.config]
        if present:
            from kafka.admin import ConfigResource, ConfigResourceType

            # Bring the settings of existing topics up to date (a newer version may raise a limit).
            admin.alter_configs(
                [ConfigResource(ConfigResourceType.TOPIC, spec.name, configs=spec.config) for spec in present]
            )
        if missing:
            admin.create_topics(
                [
                    NewTopic(
                        name=spec.name,
                        num_partitions=spec.partitions,
                        replication_factor=replication_factor,
                        topic_configs=spec.config,
                    )
                    for spec in missing
                ]
            )
        return [spec.name for spec in missing]
    finally:
        admin.close()


def main() -> int:
    from liaison_common.kafka_auth import use_local_kafka_admin
    from liaison_common.settings import KafkaSettings

    use_local_kafka_admin()

    created = ensure_topics(KafkaSettings().kafka_bootstrap_servers)
    for name in created:
        print(f"created topic {name}")
    print(f"{len(TOPICS)} topics present ({len(created)} created)")
    return 0


if __name__ == "__main__":
    sys.exit(main())


METADATA_ATTEMPTS = 20  # half a second apart: longer than a lost broker takes to be fenced


def partitions_of(bootstrap_servers: str, topic: str) -> list[int]:
    """The partition numbers of a topic; an error naming the topic if it does not exist."""
    from kafka import KafkaConsumer
    from kafka.errors import KafkaConnectionError, NodeNotReadyError

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers, **kafka_auth(), client_id="liaison-metadata"
    )
    try:
        # kafka-python 3 asks one broker for the metadata and raises if it is gone: with several
        # brokers, one lost and not yet fenced (seconds), ask again (the next is another).
        for attempt in range(METADATA_ATTEMPTS):
            try:
                partitions = consumer.partitions_for_topic(topic)
                break
            except (KafkaConnectionError, NodeNotReadyError):
                if attempt == METADATA_ATTEMPTS - 1:
                    raise
                time.sleep(0.5)
    finally:
        consumer.close()
    if not partitions:
        raise RuntimeError(f"topic {topic} does not exist; create it with `python -m liaison_common.topics`")
    return sorted(partitions)


def group_backlog(bootstrap_servers: str, group: str, topics: list[str]) -> int:
    """Messages on `topics` that consumer group `group` has not committed yet (end − committed;
    a partition it never committed counts from its start)."""
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, **kafka_auth(), client_id="liaison-backlog")
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, **kafka_auth(), client_id="liaison-backlog")
    try:
        committed = admin.list_group_offsets(group).get(group, {})
        partitions = [
            TopicPartition(topic, number)
            for topic in topics
            for number in consumer.partitions_for_topic(topic) or ()
        ]
        ends = consumer.end_offsets(partitions)
        left = 0
        for tp in partitions:
            mark = committed.get(tp)
            left += ends[tp] - (mark.offset if mark is not None and mark.offset >= 0 else 0)
        return left
    finally:
        consumer.close()
        admin.close()
