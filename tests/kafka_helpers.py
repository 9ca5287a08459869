"""Reading what services publish, from the real broker."""

import json
import time
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer

from liaison_common.kafka_auth import kafka_auth
from liaison_common.topics import TopicSpec, ensure_topics


def make_topic(bootstrap: str, name: str, *, partitions: int = 1, compact: bool = False) -> str:
    config = {"cleanup.policy": "compact"} if compact else {}
    ensure_topics(bootstrap, (TopicSpec(name, partitions, config),))
    return name


def wait_for_events(
    bootstrap: str,
    topic: str,
    until: Callable[[list[dict[str, Any]]], bool],
    *,
    timeout: float = 20.0,
) -> list[dict[str, Any]]:
    """Read the topic from the beginning until `until(events)` holds; fail after timeout."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        **kafka_auth(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=500,
    )
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for message in consumer:
                events.append(
                    {"key": message.key.decode() if message.key else None, **json.loads(message.value)}
                )
            if until(events):
                return events
        raise AssertionError(f"timed out after {timeout}s on {topic}; saw {len(events)} events")
    finally:
        consumer.close()


def registry_topic_with_the_seed(bootstrap: str, name: str) -> str:
    """A compacted topic holding the seed's organisation as the registry publishes it."""
    from kafka import KafkaProducer

    from liaison_common import jsonbytes
    from services.registry.kinds import SEED_SECTIONS
    from services.registry.organisation import load_organisation

    topic = make_topic(bootstrap, name, compact=True)
    producer = KafkaProducer(bootstrap_servers=bootstrap, **kafka_auth(), acks="all")
    data = load_organisation()
    for section, entity_type in SEED_SECTIONS.items():
        for item in data[section]:
            event = {
                "entity_type": entity_type,
                "id": item["id"],
                "version": 1,
                "deleted": False,
                "data": item,
            }
            producer.send(topic, key=item["id"].encode(), value=jsonbytes.dumps(event))
    producer.flush()
    producer.close()
    return topic


def metric_value(exposition: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample (0 when absent) in a /metrics text."""
    for line in exposition.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{key}="{wanted}"' in head for key, wanted in labels.items()):
            return float(value)
    return 0.0
