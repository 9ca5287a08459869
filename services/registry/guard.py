"""Keeps liaison.registry.v1 honest: what is on it and is not a change event goes to the
dead-letter topic, once, with the reason.

Every service follows the topic from its start and skips such a message; this one reader,
in a consumer group of its own with committed offsets, is the one that reports it, so a
foreign message is dead-lettered once and not again at each restart of a follower.
"""

import json
import logging
import threading
from datetime import UTC, datetime

from kafka import KafkaConsumer, KafkaProducer
from kafka.structs import OffsetAndMetadata

from liaison_common import jsonbytes
from liaison_common.deadletter import MAX_DEAD_LETTER_BYTES, RawMessage, dead_letter
from liaison_common.kafka_auth import kafka_auth
from liaison_common.registry_view import change_event_problem
from services.registry.config import Settings
from services.registry.metrics import TOPIC_DEAD_LETTERS

log = logging.getLogger(__name__)


def unusable(value: bytes | None) -> str | None:
    """Why this record is not a change event, or None when it is. Never raises: a record that
    made the guard raise (JSON nested 5,000 deep: RecursionError) stopped it for good."""
    try:
        event = json.loads(value or b"")
    except (ValueError, RecursionError) as error:
        return f"not JSON: {error!r}"
    try:
        return change_event_problem(event)
    except Exception as error:
        return f"not a change event: {error!r}"


class TopicGuard:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="registry-topic-guard", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._guard()
            except Exception as error:  # the broker may be away: try again shortly
                log.warning("registry topic guard: %r; again in 2 s", error)
                self._stop.wait(2)

    def _guard(self) -> None:
        servers = self.settings.kafka_bootstrap_servers
        consumer = KafkaConsumer(
            self.settings.topic,
            bootstrap_servers=servers,
            **kafka_auth(),
            group_id=self.settings.guard_group,
            client_id="liaison-registry-guard",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        producer = KafkaProducer(
            bootstrap_servers=servers, **kafka_auth(), acks="all", max_request_size=MAX_DEAD_LETTER_BYTES
        )
        try:
            while not self._stop.is_set():
                for tp, messages in consumer.poll(timeout_ms=500, max_records=500).items():
                    for message in messages:
                        problem = unusable(message.value)
                        if problem is None:
                            continue
                        raw = RawMessage(tp.topic, tp.partition, message.offset, message.key, message.value)
                        record = dead_letter(
                            raw,
                            reason="invalid",
                            detail=problem,
                            rejected_by="registry",
                            now=datetime.now(UTC),
                        )
                        producer.send(self.settings.dlq_topic, key=message.key, value=jsonbytes.dumps(record))
                        TOPIC_DEAD_LETTERS.inc()
                    producer.flush(timeout=30)
                    consumer.commit({tp: OffsetAndMetadata(messages[-1].offset + 1, "", -1)})
        finally:
            consumer.close()
            producer.close()
