"""liaison.alert-events.v1 (CONTRACT.md §6): one record per change of an alert.

The functions that change an alert run in worker threads; each change they make is recorded
here with `record(...)` and published, in order, by `publish_forever` on the event loop. The
topic is the alerts' audit log: received, updated, notified, delivered, delivery_failed,
acknowledged, resolved, reopened, escalated, silenced.
"""

import asyncio
import logging
import queue
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from liaison_common import jsonbytes
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
)
_pending: "queue.SimpleQueue[dict[str, Any]]" = queue.SimpleQueue()


def change(
    alert_id: str, event: str, *, by: str, detail: Any = "", at: datetime | None = None
) -> dict[str, Any]:
    """The record of one change (pure)."""
    if event not in EVENTS:
        raise ValueError(f"unknown alert event {event!r}")
    moment = at or datetime.now(UTC)
    return {"alert_id": alert_id, "event": event, "at": moment.isoformat(), "by": by, "detail": detail}


def record(alert_id: str, event: str, *, by: str, detail: Any = "", at: datetime | None = None) -> None:
    """Queue one change for the topic (thread-safe; called where the change is stored)."""
    _pending.put(change(alert_id, event, by=by, detail=detail, at=at))


def drain(limit: int = 500) -> list[dict[str, Any]]:
    taken: list[dict[str, Any]] = []
    while len(taken) < limit:
        try:
            taken.append(_pending.get_nowait())
        except queue.Empty:
            break
    return taken


async def publish_forever(bootstrap_servers: str, topic: str, *, idle_seconds: float = 0.2) -> None:
    """Send what was recorded, in order; a record is dropped only after the broker refused it
    for a minute (logged), so that a broker outage does not hold notify's memory forever."""
    while True:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers, client_id="liaison-notify-alert-events", acks="all",
            linger_ms=5, enable_idempotence=True,
        )  # fmt: skip
        try:
            await producer.start()
            while True:
                batch = drain()
                if not batch:
                    await asyncio.sleep(idle_seconds)
                    continue
                futures = [
                    await producer.send(topic, key=item["alert_id"].encode(), value=jsonbytes.dumps(item))
                    for item in batch
                ]
                await asyncio.wait_for(asyncio.gather(*futures), timeout=60)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("alert events: %r; reconnecting in 2 s", error)
            await asyncio.sleep(2)
        finally:
            await stop_quietly(producer)
