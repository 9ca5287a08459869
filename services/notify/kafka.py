"""Notify's Kafka side: the alerts and reporting consumer, committing only what is stored."""

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from anyio import to_thread
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure

from liaison_common import jsonbytes
from liaison_common.deadletter import MAX_DEAD_LETTER_BYTES, RawMessage, dead_letter
from liaison_common.events import AlertEvent
from liaison_common.kafka_clients import stop_quietly
from liaison_common.registry_view import RegistryView
from services.notify import service
from services.notify.config import Settings
from services.notify.metrics import ALERTS_RECEIVED

log = logging.getLogger(__name__)


def usable_alert(value: bytes | None) -> tuple[dict[str, Any] | None, str]:
    """The alert as its contract (AlertEvent) has it, or (None, why not)."""
    try:
        alert = AlertEvent.model_validate_json(value or b"")
    except ValidationError as error:
        problems = error.errors(include_url=False, include_input=False, include_context=False)[:10]
        return None, "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in problems
        )
    return alert.model_dump(mode="json"), ""


async def consume(
    settings: Settings,
    view: RegistryView,
    ready: asyncio.Event,
    on_alert: Callable[[service.Alert, str], None],
) -> None:
    await ready.wait()  # subscriptions come from the registry
    while True:
        consumer = AIOKafkaConsumer(
            settings.alerts_topic,
            settings.reporting_topic,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=settings.consumer_group,
            client_id="liaison-notify",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            acks="all",
            max_request_size=MAX_DEAD_LETTER_BYTES,
        )
        try:
            await consumer.start()
            await producer.start()
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=200)
                for tp, messages in batches.items():
                    for message in messages:
                        await _handle_guarded(message, tp.topic, settings, view, producer, on_alert)
                    await consumer.commit({tp: messages[-1].offset + 1})
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("notify consumer: %r; restarting in 2 s", error)
            await asyncio.sleep(2)
        finally:
            await stop_quietly(consumer, producer)


async def _handle_guarded(
    message: Any,
    topic: str,
    settings: Settings,
    view: RegistryView,
    producer: AIOKafkaProducer,
    on_alert: Callable[[service.Alert, str], None],
) -> None:
    """One message never stops the consumer: whatever it raises (an overflow, a recursion, a
    type the store refuses) sends it to the dead-letter topic with the reason. Only the
    database being away is left to the loop, which reads the message again after it restarts."""
    try:
        await _handle(message, topic, settings, view, producer, on_alert)
    except (ConnectionFailure, asyncio.CancelledError):
        raise
    except Exception as error:
        log.warning("message %s@%s dead-lettered: %r", topic, message.offset, error)
        raw = RawMessage(topic, message.partition, message.offset, message.key, message.value)
        record = dead_letter(
            raw, reason="processing_error", detail=f"{type(error).__name__}: {error}"[:2000],
            rejected_by="notify", now=datetime.now(UTC),
        )  # fmt: skip
        await producer.send_and_wait(settings.dlq_topic, key=message.key, value=jsonbytes.dumps(record))


async def _handle(
    message: Any,
    topic: str,
    settings: Settings,
    view: RegistryView,
    producer: AIOKafkaProducer,
    on_alert: Callable[[service.Alert, str], None],
) -> None:
    if topic == settings.reporting_topic:
        try:
            record = json.loads(message.value or b"")
            if not isinstance(record, dict) or not isinstance(record.get("week"), str):
                raise ValueError("not a reporting record: an object with a week is expected")
            planned = await to_thread.run_sync(lambda: service.store_reporting(record, view=view))
            if planned:
                log.info("weekly digests planned: %s", ", ".join(planned))
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raw = RawMessage(topic, message.partition, message.offset, message.key, message.value)
            record = dead_letter(
                raw, reason="invalid", detail=repr(error), rejected_by="notify", now=datetime.now(UTC)
            )
            await producer.send_and_wait(settings.dlq_topic, key=message.key, value=jsonbytes.dumps(record))
        return
    alert, why = usable_alert(message.value)
    if alert is None:
        raw = RawMessage(topic, message.partition, message.offset, message.key, message.value)
        record = dead_letter(raw, reason="invalid", detail=why, rejected_by="notify", now=datetime.now(UTC))
        await producer.send_and_wait(settings.dlq_topic, key=message.key, value=jsonbytes.dumps(record))
        return
    stored, outcome = await to_thread.run_sync(
        lambda: service.store_alert(alert, view=view, settings=settings)
    )
    ALERTS_RECEIVED.labels(outcome).inc()
    if outcome != "repeat":
        on_alert(stored, outcome)
