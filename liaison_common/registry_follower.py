"""Following liaison.registry.v1 into a RegistryView, for services that need the registry
on every event (ingest's id checks, rules' routing) without an HTTP call per event."""

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from anyio import to_thread

from liaison_common.kafka_auth import kafka_auth
from liaison_common.kafka_clients import stop_quietly
from liaison_common.registry_view import RegistryView
from liaison_common.topics import partitions_of

log = logging.getLogger(__name__)


async def follow_registry(
    bootstrap_servers: str,
    topic: str,
    view: RegistryView,
    ready: asyncio.Event,
    *,
    client_id: str,
    on_batch: Callable[[RegistryView], None] | None = None,
) -> None:
    """Read the topic from the start, forever; set `ready` once caught up with its end."""

    def caught_up() -> None:
        ready.set()
        log.info(
            "registry loaded: %d enterprises, %d work groups",
            view.count("enterprise"),
            view.count("work_group"),
        )

    await follow_topic(
        bootstrap_servers,
        topic,
        client_id=client_id,
        apply=lambda message: apply_record(view, message.value, message.offset),
        caught_up=caught_up,
        after_batch=None if on_batch is None else lambda: on_batch(view),
    )


async def follow_topic(
    bootstrap_servers: str,
    topic: str,
    *,
    client_id: str,
    apply: Callable[[Any], None],
    caught_up: Callable[[], None],
    after_batch: Callable[[], None] | None = None,
) -> None:
    """A table's topic into memory: every partition read from the start with no consumer group,
    each message handed to `apply`, `caught_up` called once its end (as it was at the start) is
    reached, forever; a broker that goes away is waited for (and the topic read again)."""
    while True:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            **kafka_auth(),
            client_id=client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        announced = False
        try:
            await consumer.start()
            partitions = await to_thread.run_sync(partitions_of, bootstrap_servers, topic)
            assigned = [TopicPartition(topic, p) for p in partitions]
            consumer.assign(assigned)
            await consumer.seek_to_beginning(*assigned)
            targets = await consumer.end_offsets(assigned)
            while True:
                if not announced and await _caught_up(consumer, targets):
                    announced = True
                    caught_up()
                batches = await consumer.getmany(timeout_ms=500, max_records=2000)
                for messages in batches.values():
                    for message in messages:
                        apply(message)
                if after_batch is not None:
                    after_batch()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("%s follower: %r; reconnecting in 2 s", topic, error)
            await asyncio.sleep(2)
        finally:
            await stop_quietly(consumer)


def apply_record(view: RegistryView, value: bytes | None, offset: int) -> None:
    """One record of the registry topic into the view. Whatever it holds (not JSON, JSON nested
    5,000 deep, the wrong shape), a bad record is skipped with a warning, never raised: every
    service reads this topic from its start, so one record that raised would keep all of them
    from ever becoming ready. The registry's guard dead-letters it."""
    try:
        view.apply(json.loads(value or b""))
    except Exception as error:
        log.warning("registry event at offset %d unreadable: %r", offset, error)


async def _caught_up(consumer: AIOKafkaConsumer, targets: dict[TopicPartition, int]) -> bool:
    for tp, end in targets.items():
        if await consumer.position(tp) < end:
            return False
    return True


def read_registry(bootstrap_servers: str, topic: str, view: RegistryView) -> RegistryView:
    """The registry topic read once to its end into `view`, synchronously (a worker before it
    starts, a command-line tool). Anything that is not a change event is skipped: the registry's
    guard dead-letters it."""
    from kafka import KafkaConsumer
    from kafka.structs import TopicPartition as SyncTopicPartition

    partitions = [SyncTopicPartition(topic, p) for p in partitions_of(bootstrap_servers, topic)]
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, **kafka_auth(), enable_auto_commit=False)
    try:
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for records in consumer.poll(timeout_ms=1000).values():
                for record in records:
                    apply_record(view, record.value, record.offset)
    finally:
        consumer.close()
    return view
