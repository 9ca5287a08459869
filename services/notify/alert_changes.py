"""liaison.alert-events.v1 (docs/contract.md §6): one record per change of an alert, and the way
every change reaches the alert's one writer.

FerretDB loses concurrent updates of one document, so an alert has one writer: the notify
instance that owns the alert's partition (the same number on liaison.alerts.v1 and on this
topic, assigned together). Changes decided elsewhere — an acknowledgement over HTTP, a
delivery by the dispatcher, an escalation that fell due — are published here as commands
(`"command": true`); the owner applies them. Changes the owner makes itself (received,
updated, resolved by data, reopened, notified, silenced) are recorded here after the fact.
Either way the topic is the alerts' audit log: one record per change.
"""

import asyncio
import logging
import queue
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from liaison_common import jsonbytes
from liaison_common.kafka_auth import kafka_auth
from liaison_common.kafka_clients import stop_quietly

log = logging.getLogger(__name__)

EVENTS = (
    "received",
    "updated",
    "notified",
    "delivered",
    "delivery_failed",
    "acknowledged",
    "resolved",
    "reopened",
    "escalated",
    "silenced",
    "commented",  # beyond docs/contract.md §6's list: a group's note on the case
    "archived",  # beyond it too: resolved long ago, moved to the read-only archive
    "coordinating",  # beyond it too: 协调中, a group coordinates the case until a date
    "corrected",  # docs/contract.md §7: a correction of a period changed the case
)
_pending: "queue.SimpleQueue[dict[str, Any]]" = queue.SimpleQueue()


def change(
    alert_id: str, event: str, *, by: str, detail: Any = "", at: datetime | None = None, command: bool = False
) -> dict[str, Any]:
    """The record of one change (pure); a command is a change for the alert's writer to apply."""
    if event not in EVENTS:
        raise ValueError(f"unknown alert event {event!r}")
    moment = at or datetime.now(UTC)
    record = {"alert_id": alert_id, "event": event, "at": moment.isoformat(), "by": by, "detail": detail}
    if command:
        record["command"] = True
        record["id"] = uuid.uuid4().hex
    return record


def record(alert_id: str, event: str, *, by: str, detail: Any = "", at: datetime | None = None) -> None:
    """Queue one change for the topic (thread-safe; called where the change is stored)."""
    _pending.put(change(alert_id, event, by=by, detail=detail, at=at))


def enqueue(item: dict[str, Any]) -> None:
    """Queue a prepared record or command (thread-safe)."""
    _pending.put(item)


class Commands:
    """Publishes a command and waits for the broker's acknowledgement (for HTTP actions)."""

    def __init__(self, bootstrap_servers: str, topic: str):
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def send(self, command: dict[str, Any], *, timeout: float = 10.0) -> None:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.bootstrap_servers,
                    **kafka_auth(),
                    acks="all",
                    client_id="liaison-notify-commands",
                )
                try:
                    await asyncio.wait_for(producer.start(), timeout=timeout)
                except Exception:
                    await stop_quietly(producer)
                    raise
                self._producer = producer
            producer = self._producer
        key, value = command["alert_id"].encode(), jsonbytes.dumps(command)
        try:
            await asyncio.wait_for(producer.send_and_wait(self.topic, key=key, value=value), timeout=timeout)
        except Exception:
            await self.stop()
            raise

    async def stop(self) -> None:
        async with self._lock:
            if self._producer is not None:
                await stop_quietly(self._producer)
                self._producer = None


def drain(pending: "queue.SimpleQueue[Any]", limit: int = 500) -> list[Any]:
    taken: list[Any] = []
    while len(taken) < limit:
        try:
            taken.append(pending.get_nowait())
        except queue.Empty:
            break
    return taken


def keyed(item: dict[str, Any]) -> tuple[bytes, bytes]:
    return item["alert_id"].encode(), jsonbytes.dumps(item)


async def publish_forever(
    bootstrap_servers: str,
    topic: str,
    *,
    pending: "queue.SimpleQueue[Any]" = _pending,
    encode: Callable[[Any], tuple[bytes, bytes | None]] = keyed,
    client_id: str = "liaison-notify-alert-events",
    idle_seconds: float = 0.2,
) -> None:
    """Send what was queued, in order (each item as `encode` makes it a key and a value); a
    record is dropped only after the broker refused it for a minute (logged), so that a broker
    outage does not hold notify's memory forever."""
    while True:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            **kafka_auth(),
            client_id=client_id,
            acks="all",
            linger_ms=5,
            enable_idempotence=True,
        )
        try:
            await producer.start()
            while True:
                batch = drain(pending)
                if not batch:
                    await asyncio.sleep(idle_seconds)
                    continue
                futures = []
                for item in batch:
                    key, value = encode(item)
                    futures.append(await producer.send(topic, key=key, value=value))
                await asyncio.wait_for(asyncio.gather(*futures), timeout=60)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("%s: %r; reconnecting in 2 s", topic, error)
            await asyncio.sleep(2)
        finally:
            await stop_quietly(producer)
