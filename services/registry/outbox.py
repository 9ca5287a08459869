"""Publishes registry changes to liaison.registry.v1 (a compacted topic), at least once.

A write marks its document pending in the same single-document update that changes it.
This publisher sends every pending document, waits for Kafka's acknowledgement
(acks=all), then clears the marker only if the document still has the version it sent;
a write in between keeps it pending and it is sent again. Consumers key by entity id and
keep the highest version, so a repeat is harmless.

When the topic is empty (a new broker, or a wiped one) every entity is marked pending, so
the topic always ends up holding a full snapshot.
"""

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.structs import TopicPartition

from liaison_common import jsonbytes
from liaison_common.kafka_auth import kafka_auth
from services.registry import service
from services.registry.config import Settings
from services.registry.kinds import KINDS
from services.registry.metrics import OUTBOX_ERRORS, OUTBOX_PENDING, OUTBOX_PUBLISHED

log = logging.getLogger(__name__)


def change_event(kind_name: str, data: dict[str, Any], *, deleted: bool) -> dict[str, Any]:
    return {
        "entity_type": kind_name,
        "id": data["id"],
        "version": data.get("version", 1),
        "deleted": deleted,
        "changed_at": data.get("updated_at") or datetime.now(UTC),
        "data": {key: value for key, value in data.items() if key != "updated_at"},
    }


def topic_is_empty(bootstrap: str, topic: str) -> bool:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, **kafka_auth(), client_id="liaison-registry-snapshot-check"
    )
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise RuntimeError(
                f"topic {topic} does not exist; create it with `python -m liaison_common.topics`"
            )
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return all(offset == 0 for offset in ends.values())
    finally:
        consumer.close()


def mark_all_pending() -> int:
    marked = 0
    for kind in KINDS:
        marked += kind.document.objects(deleted=False).update(set__pending_publish=True)
    return marked


class OutboxPublisher:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._producer: KafkaProducer | None = None
        self.last_error: str | None = None
        self.snapshot_checked = False
        self._next_count = 0.0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="registry-outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._producer is not None:
            self._producer.close(timeout=5)

    def wake(self) -> None:
        """Publish now instead of at the next poll (called after every write)."""
        self._wake.set()

    def _run(self) -> None:
        backoff = self.settings.outbox_poll_seconds
        while not self._stop.is_set():
            try:
                self._ensure_ready()
                sent = self.publish_pending()
                self.last_error = None
                backoff = self.settings.outbox_poll_seconds
                if sent >= self.settings.outbox_batch_size:
                    continue  # more may be waiting: no pause
            except Exception as exc:  # keep going: the marker keeps every change until Kafka has it
                OUTBOX_ERRORS.inc()
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("registry outbox: %s; retrying in %.1fs", self.last_error, backoff)
                backoff = min(backoff * 2, 30.0)
                self._count_pending()  # what waits for the broker shows while it is away
            self._wake.wait(timeout=backoff)
            self._wake.clear()

    def _ensure_ready(self) -> None:
        if self._producer is None:
            self._producer = KafkaProducer(
                bootstrap_servers=self.settings.kafka_bootstrap_servers,
                **kafka_auth(),
                client_id="liaison-registry-outbox",
                acks="all",
                linger_ms=5,
            )
        if not self.snapshot_checked:
            if topic_is_empty(self.settings.kafka_bootstrap_servers, self.settings.topic):
                marked = mark_all_pending()
                log.info(
                    "registry topic %s is empty: publishing a snapshot of %d entities",
                    self.settings.topic,
                    marked,
                )
            self.snapshot_checked = True

    def publish_pending(self) -> int:
        """Send one batch of pending changes of each kind; return how many Kafka acknowledged."""
        assert self._producer is not None
        sent = 0
        for kind in KINDS:
            docs = list(kind.document.objects(pending_publish=True).limit(self.settings.outbox_batch_size))
            futures = []
            for doc in docs:
                event = change_event(kind.name, service.payload(kind, doc), deleted=bool(doc.deleted))
                futures.append(
                    (
                        doc,
                        self._producer.send(
                            self.settings.topic, key=doc.id.encode(), value=jsonbytes.dumps(event)
                        ),
                    )
                )
            if futures:
                self._producer.flush(timeout=30)
            for doc, future in futures:
                future.get(timeout=0)  # raises if Kafka refused it; the marker stays
                with service.WRITES:  # never beside an entity's read-modify-write (FerretDB)
                    kind.document.objects(id=doc.id, version=doc.version).update(set__pending_publish=False)
                OUTBOX_PUBLISHED.labels(kind.name).inc()
                sent += 1
        self._count_pending()
        if time.monotonic() >= self._next_count:
            service.count_entities()  # refreshes the liaison_registry_entities gauge
            self._next_count = time.monotonic() + 15
        return sent

    @staticmethod
    def _count_pending() -> None:
        try:
            OUTBOX_PENDING.set(sum(kind.document.objects(pending_publish=True).count() for kind in KINDS))
        except Exception as exc:  # the database away too: the gauge keeps its last value
            log.debug("registry outbox: pending not counted: %r", exc)
