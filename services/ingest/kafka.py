"""Ingest's Kafka connections: the producer, the registry follower, the inbound consumer."""

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from anyio import to_thread

from liaison_common import jsonbytes
from liaison_common.deadletter import MAX_DEAD_LETTER_BYTES, RawMessage, dead_letter
from liaison_common.kafka_auth import kafka_auth
from liaison_common.kafka_clients import consume_forever, per_partition, stop_quietly
from liaison_common.tokens import Principal, authenticate
from services.ingest.checks import Outcome, parse_inbound, rejected
from services.ingest.config import Settings
from services.ingest.exceptions import BrokerUnavailable, RegistryNotReady
from services.ingest.metrics import DLQ_EVENTS, INBOUND_LAG, REJECTIONS
from services.ingest.service import Pipeline

log = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = MAX_DEAD_LETTER_BYTES  # the dead-letter copy of a 10 MB value, base64-encoded, fits


class Producer:
    """aiokafka with acks=all; started on first use so that ingest runs (and answers 503) without a broker."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._stopping: set[asyncio.Task[None]] = set()

    async def _started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.settings.kafka_bootstrap_servers,
                    **kafka_auth(),
                    client_id="liaison-ingest",
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=2,
                    max_request_size=MAX_MESSAGE_BYTES,
                    request_timeout_ms=int(self.settings.publish_timeout_seconds * 1000),
                )
                try:
                    await asyncio.wait_for(producer.start(), timeout=self.settings.publish_timeout_seconds)
                except (KafkaError, TimeoutError, OSError) as error:
                    await stop_quietly(producer)
                    raise BrokerUnavailable(f"Kafka is unreachable: {error!r}") from error
                self._producer = producer
            return self._producer

    async def publish(
        self, topic: str, *, key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]] = ()
    ) -> tuple[int, int]:
        """Send one and wait for the acknowledgement; (partition, offset), or BrokerUnavailable."""
        result = (await self.publish_many(topic, [(key, value)], headers=headers))[0]
        if isinstance(result, BaseException):
            raise BrokerUnavailable(f"Kafka did not acknowledge: {result!r}")
        return result

    async def publish_many(
        self,
        topic: str,
        messages: Sequence[tuple[bytes | None, bytes]],
        *,
        headers: Sequence[tuple[str, bytes]] = (),
        on_late: Callable[[int, int, int], None] | None = None,
    ) -> list[tuple[int, int] | BaseException]:
        """Send all, in order, then wait: (partition, offset) or the error, for each message.

        A message not acknowledged in time is reported as an error, but the producer may still
        deliver it (it holds the batch until it is sent or expires). `on_late(index, partition,
        offset)` is then called when such a message is acknowledged after all, so that the
        caller can record that it was published (a 503 must not hide a published report).
        """
        producer = await self._started()
        try:
            futures = [
                await producer.send(topic, value=value, key=key, headers=list(headers))
                for key, value in messages
            ]
        except (KafkaError, TimeoutError) as error:
            await self._discard(producer)
            raise BrokerUnavailable(f"Kafka did not acknowledge: {error!r}") from error
        _, pending = await asyncio.wait(futures, timeout=self.settings.publish_timeout_seconds)
        results: list[tuple[int, int] | BaseException] = []
        for index, future in enumerate(futures):
            if future in pending:
                results.append(TimeoutError("no acknowledgement in time"))
                if on_late is not None:
                    future.add_done_callback(partial(_acknowledged_late, on_late, index))
            elif future.exception() is not None:
                results.append(future.exception())
            else:
                metadata = future.result()
                results.append((metadata.partition, metadata.offset))
        if any(isinstance(r, BaseException) for r in results):
            await self._discard(producer)
        return results

    async def _discard(self, producer: AIOKafkaProducer) -> None:
        """Start afresh after a failed send: a new producer id restarts the sequence numbers.

        An idempotent producer whose batches expired while the broker was away keeps sequence
        numbers the broker never saw; aiokafka then fails every later send with
        OutOfOrderSequenceNumber, for good (the fault suite's Kafka outage found ingest stuck
        so). The old producer is stopped in the background so that no request waits for it.
        """
        async with self._lock:
            if self._producer is producer:
                self._producer = None
                task = asyncio.create_task(stop_quietly(producer))
                self._stopping.add(task)
                task.add_done_callback(self._stopping.discard)

    async def stop(self) -> None:
        if self._producer is not None:
            await stop_quietly(self._producer)
            self._producer = None


def _acknowledged_late(
    on_late: Callable[[int, int, int], None], index: int, future: "asyncio.Future[Any]"
) -> None:
    if future.cancelled() or future.exception() is not None:
        return  # never published: the 503 was true
    metadata = future.result()
    on_late(index, metadata.partition, metadata.offset)


async def consume_inbound(settings: Settings, pipeline: Pipeline, producer: Producer) -> None:
    """liaison.inbound.v1 → validated topics or the dead-letter topic; commit only what is acknowledged."""
    await pipeline.registry_ready.wait()  # ids are checked against the registry

    def open_clients() -> tuple[AIOKafkaConsumer, list[Any]]:
        consumer = AIOKafkaConsumer(
            settings.inbound_topic,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            **kafka_auth(),
            group_id=settings.inbound_group,
            client_id="liaison-ingest-inbound",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=MAX_MESSAGE_BYTES,
            fetch_max_bytes=MAX_MESSAGE_BYTES * 2,
        )
        return consumer, []

    async def handle(consumer: AIOKafkaConsumer, tp: TopicPartition, messages: list[ConsumerRecord]) -> None:
        for message in messages:
            raw = RawMessage(
                tp.topic,
                tp.partition,
                message.offset,
                message.key,
                message.value,
                tuple(message.headers or ()),
            )
            await handle_guarded(raw, settings=settings, pipeline=pipeline, producer=producer)
        # Everything here is on its output topic, acknowledged: committed next.
        highwater = consumer.highwater(tp)
        if highwater is not None:
            INBOUND_LAG.set(max(highwater - messages[-1].offset - 1, 0))

    await consume_forever("inbound", open_clients, per_partition(handle), max_records=200)


async def handle_guarded(
    raw: RawMessage, *, settings: Settings, pipeline: Pipeline, producer: Producer
) -> None:
    """One message never stops the consumer: whatever it raises sends it to the dead-letter
    topic with the reason. Only the broker being away (nothing can be published, the message
    is read again after the restart) is left to the consumer loop."""
    try:
        await handle_inbound(raw, settings=settings, pipeline=pipeline, producer=producer)
    except (BrokerUnavailable, RegistryNotReady):
        raise
    except Exception as error:
        log.warning("inbound message %s:%s@%s dead-lettered: %r", raw.topic, raw.partition, raw.offset, error)
        outcome = rejected("processing_error", f"{type(error).__name__}: {error}"[:2000], http_status=500)
        await dead_letter_outcome(raw, outcome, settings=settings, producer=producer)


async def handle_inbound(
    raw: RawMessage, *, settings: Settings, pipeline: Pipeline, producer: Producer
) -> Outcome:
    principal = await inbound_principal(raw, settings)
    parsed = parse_inbound(raw)
    if isinstance(principal, Outcome):
        outcome = principal
        REJECTIONS.labels("kafka", outcome.reason or "invalid").inc()
    elif isinstance(parsed, Outcome):
        outcome = parsed
        REJECTIONS.labels("kafka", outcome.reason or "invalid").inc()
    else:
        kind, item = parsed
        outcome = await pipeline.submit(kind, item, principal, source="kafka")
    if outcome.status == "rejected":
        await dead_letter_outcome(raw, outcome, settings=settings, producer=producer)
    return outcome


async def inbound_principal(raw: RawMessage, settings: Settings) -> Principal | Outcome:
    """Who sent the record: its `authorization: Bearer <token>` header (docs/contract.md §6), checked
    as over HTTP; without one, or with an unknown token, the record is `unauthenticated`."""
    header = raw.header("authorization")
    if header is None:
        return rejected(
            "unauthenticated", "the record has no 'authorization: Bearer <token>' header", http_status=401
        )
    scheme, _, token = header.decode("utf-8", "replace").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return rejected(
            "unauthenticated", "the authorization header is not 'Bearer <token>'", http_status=401
        )
    admin_token = settings.admin_token.get_secret_value()
    principal = await to_thread.run_sync(lambda: authenticate(token.strip(), admin_token=admin_token))
    if principal is None:
        return rejected("unauthenticated", "unknown, revoked or expired token", http_status=401)
    return principal


async def dead_letter_outcome(
    raw: RawMessage, outcome: Outcome, *, settings: Settings, producer: Producer
) -> None:
    reason = outcome.reason or "invalid"
    record = dead_letter(
        raw, reason=reason, detail=outcome.detail, rejected_by="ingest", now=datetime.now(UTC)
    )
    await producer.publish(
        settings.dlq_topic,
        key=raw.key,
        value=jsonbytes.dumps(record),
        headers=[("liaison-reason", reason.encode())],
    )
    DLQ_EVENTS.labels(reason).inc()
