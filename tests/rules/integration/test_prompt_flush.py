"""The flush before each offset commit sends what the producer holds at once, on the real broker:
aiokafka's own flush waits out each batch's linger first, and every agent waited with it."""

import asyncio
import contextlib

import pytest
from aiokafka import AIOKafkaProducer

from liaison_common.kafka_auth import kafka_auth
from services.rules.producer import send_what_lingers
from tests.kafka_helpers import make_topic, wait_for_events

pytestmark = pytest.mark.integration
TEN_MINUTES_MS = 600_000


def test_a_flush_delivers_what_lingers_without_waiting_out_the_linger(kafka_bootstrap, unique_name):
    topic = make_topic(kafka_bootstrap, f"test.rules.prompt-flush.{unique_name}", partitions=2)

    async def send_and_flush() -> list[int]:
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap, **kafka_auth(), linger_ms=TEN_MINUTES_MS
        )
        await producer.start()
        try:
            sent = [
                await producer.send(topic, key=f"k{i}".encode(), value=b'{"n": %d}' % i) for i in range(10)
            ]
            assert not any(future.done() for future in sent)  # lingering: not sent yet
            # aiokafka's flush would return after ten minutes; this one once the broker has them
            await asyncio.wait_for(send_what_lingers(producer), timeout=60)
            assert all(future.done() for future in sent)
            return [future.result().offset for future in sent]
        finally:
            # aiokafka's stop would wait out the linger too, should the flush above have failed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(producer.stop(), timeout=30)

    offsets = asyncio.run(send_and_flush())
    assert all(offset >= 0 for offset in offsets)
    events = wait_for_events(kafka_bootstrap, topic, lambda seen: len(seen) >= 10)
    assert sorted(event["n"] for event in events) == list(range(10))
