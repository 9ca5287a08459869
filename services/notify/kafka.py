"""Notify's Kafka side: the alerts and reporting consumer, committing only what is stored."""

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from anyio import to_thread
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure

from liaison_common import jsonbytes
from liaison_common.alert_contract import AlertEvent
from liaison_common.deadletter import MAX_DEAD_LETTER_BYTES, RawMessage, dead_letter
from liaison_common.kafka_auth import kafka_auth
from liaison_common.kafka_clients import Batches, commit_handled, consume_forever
from liaison_common.registry_view import RegistryView
from services.notify import alert_index, case_cache, case_store, commands, digests, documents
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


class Handover(ConsumerRebalanceListener):
    """A partition is handed over only once the batch in hand is stored and committed, so the
    old and the new owner never write the same alert at once (FerretDB would lose updates)."""

    def __init__(self, busy: asyncio.Lock):
        self.busy = busy

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self.busy:
            # The next owner of a partition may change its cases: what this writer saved is no
            # longer sure to be what the store holds.
            case_cache.cases.forget_all()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        pass


def usable_command(value: bytes | None) -> dict[str, Any] | None:
    """A command for the alert's writer, or None for a plain record (ValueError if unusable)."""
    record = json.loads(value or b"")
    if not isinstance(record, dict):
        raise ValueError("an alert event is a JSON object")
    if not record.get("command"):
        return None
    if not isinstance(record.get("alert_id"), str) or record.get("event") not in COMMANDS:
        raise ValueError(f"a command needs an alert_id and an event among {', '.join(COMMANDS)}")
    if not isinstance(record.get("detail", {}), dict) or not isinstance(record.get("at", ""), str):
        raise ValueError("a command's detail is an object and its at a timestamp")
    return record


COMMANDS = ("acknowledged", "resolved", "delivered", "escalated", "commented", "coordinating", "reopened")


async def consume(
    settings: Settings,
    view: RegistryView,
    ready: asyncio.Event,
    on_alert: Callable[[documents.Alert, str], None],
) -> None:
    await ready.wait()  # subscriptions come from the registry
    # The clients of the current round (a round ends when anything fails; the next makes new ones).
    current: dict[str, Any] = {}

    def open_clients() -> tuple[AIOKafkaConsumer, list[Any]]:
        # Range assignment gives one instance the same partition number of the alerts and the
        # alert-events topics: the one writer of the alerts keyed there (alert_changes.py).
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            **kafka_auth(),
            group_id=settings.consumer_group,
            client_id="liaison-notify",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            partition_assignment_strategy=(RangePartitionAssignor,),
        )
        current["busy"] = asyncio.Lock()
        case_cache.cases.forget_all()  # a new round: whatever happened meanwhile, read the store
        consumer.subscribe(
            [settings.alerts_topic, settings.alert_events_topic, settings.reporting_topic],
            listener=Handover(current["busy"]),
        )
        current["producer"] = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            **kafka_auth(),
            acks="all",
            max_request_size=MAX_DEAD_LETTER_BYTES,
        )
        return consumer, [current["producer"]]

    async def before_start() -> None:
        # Before the first alert: an installation from before the alert index gets it, in the
        # database and then (once this instance has read the topic) on the topic.
        await to_thread.run_sync(alert_index.rebuild_if_incomplete)
        while not alert_index.view.loaded.is_set():
            await asyncio.sleep(0.1)
        await to_thread.run_sync(alert_index.publish_missing)

    async def handle_batches(consumer: AIOKafkaConsumer, batches: Batches) -> None:
        # Partitions apart run side by side: an alert and its commands share one partition
        # number (and so one lane), which keeps one writer per alert. A task group: a lane that
        # fails stops the others before the consumer restarts.
        async with current["busy"]:
            async with asyncio.TaskGroup() as lanes:
                for lane in _lanes(batches):
                    lanes.create_task(
                        _run_lane(lane, consumer, settings, view, current["producer"], on_alert)
                    )
            await commit_handled(consumer, batches)  # one commit for the batch, once every lane is done

    await consume_forever("notify", open_clients, handle_batches, max_records=600, before_start=before_start)


def _lanes(batches: dict[Any, list[Any]]) -> list[list[tuple[Any, list[Any]]]]:
    by_partition: dict[int, list[tuple[Any, list[Any]]]] = {}
    for tp, messages in batches.items():
        by_partition.setdefault(tp.partition, []).append((tp, messages))
    return list(by_partition.values())


async def _run_lane(
    lane: list[tuple[Any, list[Any]]],
    consumer: AIOKafkaConsumer,
    settings: Settings,
    view: RegistryView,
    producer: AIOKafkaProducer,
    on_alert: Callable[[documents.Alert, str], None],
) -> None:
    """One partition number's messages, topic after topic, in order (committed by the caller)."""
    for tp, messages in lane:
        if tp not in consumer.assignment():
            continue  # handed over meanwhile: its new owner reads these again
        if tp.topic == settings.alerts_topic:
            await _store_alerts_guarded(messages, settings, view, producer, on_alert)
        elif tp.topic == settings.reporting_topic:
            for message in latest_per_week(messages):
                await _handle_guarded(message, tp.topic, settings, view, producer, on_alert)
        else:
            for message in messages:
                await _handle_guarded(message, tp.topic, settings, view, producer, on_alert)


def latest_per_week(messages: list[Any]) -> list[Any]:
    """A batch of reporting records with only the last of each week (the store keeps the latest
    record of a week, and the first of a week plans digests however often it comes): rules sends
    one per report, and each stored one is a round trip. Unusable ones all stay, for the
    dead-letter topic."""
    weeks: list[str | None] = []
    for message in messages:
        try:
            record = json.loads(message.value or b"")
        except (ValueError, RecursionError):  # JSON nested thousands deep raises the latter
            record = None
        usable = isinstance(record, dict) and isinstance(record.get("week"), str)
        weeks.append(record["week"] if usable else None)
    last = {week: index for index, week in enumerate(weeks) if week is not None}
    return [
        m for i, (m, week) in enumerate(zip(messages, weeks, strict=True)) if week is None or last[week] == i
    ]


async def _store_alerts_guarded(
    messages: list[Any],
    settings: Settings,
    view: RegistryView,
    producer: AIOKafkaProducer,
    on_alert: Callable[[documents.Alert, str], None],
) -> None:
    """A partition's alerts of one batch, stored together (case_store.store_alerts: a few round trips
    for the batch instead of three per alert). Should the batch fail for another reason than the
    database being away, its messages are handled one by one, so that only the one at fault goes
    to the dead-letter topic; what the batch stored before it failed is a repeat the second time."""
    usable: list[dict[str, Any]] = []
    for message in messages:
        try:
            alert, _ = usable_alert(message.value)
        except Exception:  # whatever it is, the guard below sends it on with the reason
            alert = None
        if alert is None:  # to the dead-letter topic, with the reason
            await _handle_guarded(message, settings.alerts_topic, settings, view, producer, on_alert)
        else:
            usable.append(alert)
    if not usable:
        return
    try:
        stored = await to_thread.run_sync(
            lambda: case_store.store_alerts(usable, view=view, settings=settings)
        )
    except (ConnectionFailure, asyncio.CancelledError):
        raise
    except Exception as error:
        log.warning("a batch of %d alerts failed (%r); storing them one by one", len(usable), error)
        for message in messages:
            await _handle_guarded(message, settings.alerts_topic, settings, view, producer, on_alert)
        return
    for alert, outcome in stored:
        ALERTS_RECEIVED.labels(outcome).inc()
        if outcome != "repeat":
            on_alert(alert, outcome)


async def _handle_guarded(
    message: Any,
    topic: str,
    settings: Settings,
    view: RegistryView,
    producer: AIOKafkaProducer,
    on_alert: Callable[[documents.Alert, str], None],
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
            raw,
            reason="processing_error",
            detail=f"{type(error).__name__}: {error}"[:2000],
            rejected_by="notify",
            now=datetime.now(UTC),
        )
        await producer.send_and_wait(settings.dlq_topic, key=message.key, value=jsonbytes.dumps(record))


async def _handle(
    message: Any,
    topic: str,
    settings: Settings,
    view: RegistryView,
    producer: AIOKafkaProducer,
    on_alert: Callable[[documents.Alert, str], None],
) -> None:
    if topic == settings.reporting_topic:
        try:
            record = json.loads(message.value or b"")
            if not isinstance(record, dict) or not isinstance(record.get("week"), str):
                raise ValueError("not a reporting record: an object with a week is expected")
            week_over = await to_thread.run_sync(lambda: digests.store_reporting(record))
            digests.planner.ask(week_over, view=view)  # apart: the lanes do not wait for it
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raw = RawMessage(topic, message.partition, message.offset, message.key, message.value)
            record = dead_letter(
                raw, reason="invalid", detail=repr(error), rejected_by="notify", now=datetime.now(UTC)
            )
            await producer.send_and_wait(settings.dlq_topic, key=message.key, value=jsonbytes.dumps(record))
        return
    if topic == settings.alert_events_topic:
        command = usable_command(message.value)
        if command is None:
            return  # a record of a change already made (the audit log), not a command
        applied, changed = await to_thread.run_sync(
            lambda: commands.apply_command(command, view=view, settings=settings)
        )
        if changed and applied is not None:
            on_alert(applied, "changed")
        return
    alert, why = usable_alert(message.value)
    if alert is None:
        raw = RawMessage(topic, message.partition, message.offset, message.key, message.value)
        record = dead_letter(raw, reason="invalid", detail=why, rejected_by="notify", now=datetime.now(UTC))
        await producer.send_and_wait(settings.dlq_topic, key=message.key, value=jsonbytes.dumps(record))
        return
    stored, outcome = await to_thread.run_sync(
        lambda: case_store.store_alert(alert, view=view, settings=settings)
    )
    ALERTS_RECEIVED.labels(outcome).inc()
    if outcome != "repeat":
        on_alert(stored, outcome)
