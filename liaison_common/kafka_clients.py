"""Small helpers for aiokafka clients that every service uses, and the one loop of a service
that consumes in a group and commits only what it has handled."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

log = logging.getLogger(__name__)

Batches = dict[TopicPartition, list[ConsumerRecord]]


async def stop_quietly(*clients: Any) -> None:
    """Stop each client; a half-started one may fail to stop, and there is nothing to save then."""
    for client in clients:
        try:
            await client.stop()
        except Exception as error:
            log.debug("stopping a Kafka client: %r", error)


async def consume_forever(
    name: str,
    open_clients: Callable[[], tuple[AIOKafkaConsumer, Sequence[Any]]],
    handle_batches: Callable[[AIOKafkaConsumer, Batches], Awaitable[None]],
    *,
    max_records: int,
    before_start: Callable[[], Awaitable[None]] | None = None,
    restart_seconds: float = 2.0,
) -> None:
    """Consume in a group forever, committing only what `handle_batches` has handled (it
    commits). Whatever goes wrong - the broker or the database away, a batch that cannot be
    stored - stops the clients and starts again after `restart_seconds`: what was not committed
    is read again, at least once and never lost. A message that is itself unusable is the
    handler's to dead-letter (one message never stops a consumer).

    `open_clients` makes the consumer (subscribed) and any other clients the handler uses
    (a producer): all are started in order, and stopped together."""
    while True:
        consumer, others = open_clients()
        try:
            if before_start is not None:
                await before_start()
            await consumer.start()
            for client in others:
                await client.start()
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=max_records)
                if batches:
                    await handle_batches(consumer, batches)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("%s consumer: %r; restarting in %.0f s", name, error, restart_seconds)
            await asyncio.sleep(restart_seconds)
        finally:
            await stop_quietly(consumer, *others)


def per_partition(
    handle: Callable[[AIOKafkaConsumer, TopicPartition, list[ConsumerRecord]], Awaitable[None]],
) -> Callable[[AIOKafkaConsumer, Batches], Awaitable[None]]:
    """A batch handler that handles each partition's messages in turn, then commits them all."""

    async def handle_batches(consumer: AIOKafkaConsumer, batches: Batches) -> None:
        for tp, messages in batches.items():
            await handle(consumer, tp, messages)
        await commit_handled(consumer, batches)

    return handle_batches


async def commit_handled(consumer: AIOKafkaConsumer, batches: Batches) -> None:
    """Commit every partition of a handled batch in one request (one per partition cost the
    broker a write to its offsets log each, at every small batch of a steady stream). Should
    the handling fail halfway, nothing of the batch is committed, and all of it is read again:
    the handlers are idempotent. A partition handed over meanwhile is left to its new owner."""
    assigned = consumer.assignment()
    offsets = {tp: messages[-1].offset + 1 for tp, messages in batches.items() if messages and tp in assigned}
    if offsets:
        await consumer.commit(offsets)
