"""The period events of many reports go to the reporting agent as one record: when the batch is
full, a moment after its first item, and whenever the worker is about to commit (flush)."""

import asyncio
import json

import pytest
import uvloop

from services.rules.outputs import PeriodBatch
from tests.async_helpers import until


def seen(n: int) -> dict[str, str]:
    return {"reporter": f"enterprise:e{n}", "period_end": "2026-11-29", "report_id": f"r{n}"}


class SlowTopic:
    """Records each sent batch; a send takes `delay` seconds to reach the producer's buffer."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.batches: list[list[dict[str, str]]] = []

    async def send(self, value: bytes) -> None:
        await asyncio.sleep(self.delay)
        self.batches.append(json.loads(value)["seen"])


class GatedTopic:
    """Records each sent batch; the first send begins and then waits until the test opens the
    gate, so "a send in flight" is a state the test holds, not a moment it hopes to hit."""

    def __init__(self) -> None:
        self.begun = asyncio.Event()
        self.gate = asyncio.Event()
        self.batches: list[list[dict[str, str]]] = []

    async def send(self, value: bytes) -> None:
        if not self.begun.is_set():  # the first send is the one held in flight
            self.begun.set()
            await self.gate.wait()
        self.batches.append(json.loads(value)["seen"])


def run(loop_factory, main) -> None:
    loop = loop_factory()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()


LOOPS = [asyncio.new_event_loop, uvloop.new_event_loop]


@pytest.mark.parametrize("loop_factory", LOOPS)
def test_a_full_batch_leaves_at_once_and_the_rest_after_the_linger(loop_factory) -> None:
    topic = SlowTopic()
    batch = PeriodBatch(topic.send)

    async def main() -> None:
        for n in range(PeriodBatch.MAX_ITEMS + 50):
            await batch.add(seen(n))
        assert [len(b) for b in topic.batches] == [PeriodBatch.MAX_ITEMS]
        await until(lambda: len(topic.batches) == 2)  # the rest, after the linger (an event, not a time)
        assert [len(b) for b in topic.batches] == [PeriodBatch.MAX_ITEMS, 50]

    run(loop_factory, main)
    sent = [item["report_id"] for b in topic.batches for item in b]
    assert sent == [f"r{n}" for n in range(PeriodBatch.MAX_ITEMS + 50)]  # each once, in order


@pytest.mark.parametrize("loop_factory", LOOPS)
def test_flush_before_a_commit_waits_for_a_send_in_flight(loop_factory) -> None:
    """The commit must not pass reports whose period events are not yet in the producer: a
    flush that finds a lingered batch on its way waits for it, then sends what came since."""
    topic = GatedTopic()
    batch = PeriodBatch(topic.send)

    async def main() -> None:
        await batch.add(seen(1))
        await until(topic.begun.is_set)  # the lingered send has begun, and is held: not ended
        assert topic.batches == []
        await batch.add(seen(2))
        flush = asyncio.get_running_loop().create_task(
            batch.flush()
        )  # what the consumer calls before it commits
        await asyncio.sleep(0)
        assert not flush.done() and topic.batches == []  # it waits for the send in flight
        topic.gate.set()
        await flush
        assert [[i["report_id"] for i in b] for b in topic.batches] == [["r1"], ["r2"]]
        assert len(batch) == 0

    run(loop_factory, main)


def test_flush_with_nothing_gathered_sends_nothing() -> None:
    topic = SlowTopic()
    run(asyncio.new_event_loop, PeriodBatch(topic.send).flush)
    assert topic.batches == []


def test_a_failed_send_keeps_its_items_for_the_next_flush() -> None:
    """A lingered send that fails (the producer refused it) must not lose the periods: the flush
    the consumer makes before its commit sends them, first and in order."""
    topic = SlowTopic()
    failures = [RuntimeError("producer refused the record")]

    async def flaky(value: bytes) -> None:
        if failures:
            raise failures.pop()
        await topic.send(value)

    batch = PeriodBatch(flaky)

    async def main() -> None:
        await batch.add(seen(1))
        with pytest.raises(RuntimeError):
            await batch.flush()
        await batch.add(seen(2))
        await batch.flush()

    run(asyncio.new_event_loop, main)
    assert [[i["report_id"] for i in b] for b in topic.batches] == [["r1", "r2"]]
