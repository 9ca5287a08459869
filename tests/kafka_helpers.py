"""Reading what services publish, from the real broker."""

import json
import time
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer

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
