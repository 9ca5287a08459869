"""The rules consumer's fetch loop takes its turns round robin (issue 39.1): a report on a quiet
partition is handed on after a turn of each draining partition, not after all they fetched.

Driven through aiokafka's own `Fetcher.fetched_records` (the loop the worker's consumer thread
calls) over a buffer of its own `FetchResult`s; only the assignment and the records are stand-ins.
"""

import asyncio
from collections import OrderedDict
from types import SimpleNamespace
from typing import Any

from aiokafka.consumer.fetcher import Fetcher, FetchResult
from aiokafka.structs import TopicPartition

from services.rules.consumer import to_the_back

QUIET, DRAINING_1, DRAINING_2 = (TopicPartition("reports", p) for p in range(3))


class Records:
    """What one fetch brought of a partition: offsets from `start`."""

    def __init__(self, start: int, count: int) -> None:
        self.next_fetch_offset = start
        self.end = start + count

    def __iter__(self) -> "Records":
        return self

    def __next__(self) -> tuple[int, int]:
        if self.next_fetch_offset >= self.end:
            raise StopIteration
        self.next_fetch_offset += 1
        return (0, self.next_fetch_offset - 1)


class State:
    paused = False

    def __init__(self, position: int) -> None:
        self.position = position

    def consumed_to(self, offset: int) -> None:
        self.position = offset


FETCHED = 30  # reports a fetch brings of a partition (16 KiB, the worker's max_fetch_bytes)


class Buffer:
    """aiokafka's fetcher buffer: each partition's fetched records, in the order they came."""

    def __init__(self) -> None:
        self.states: dict[TopicPartition, State] = {}
        self.records: OrderedDict[TopicPartition, FetchResult] = OrderedDict()
        self.fetcher = SimpleNamespace(
            _records=self.records,
            _subscriptions=SimpleNamespace(reassignment_in_progress=False),
            _notify=lambda future: None,
            _wait_consume_future=None,
        )

    def fetch(self, tp: TopicPartition, count: int) -> None:
        """A fetch of `count` records of the partition came back (appended, as aiokafka does)."""
        state = self.states.setdefault(tp, State(0))
        assignment = SimpleNamespace(active=True, state_value=self.states.__getitem__)
        records = Records(state.position, count)
        self.records[tp] = FetchResult(tp, assignment=assignment, partition_records=records, backoff=0.1)

    async def turn(self, share: int | None) -> dict[TopicPartition, list[Any]]:
        records = await Fetcher.fetched_records(self.fetcher, set(self.states), 0, share)
        for tp in (DRAINING_1, DRAINING_2):  # a draining partition handed on in full is fetched again
            if tp not in self.records:
                self.fetch(tp, FETCHED)
        return records


def handed_on_before_a_live_report(share: int | None, *, in_turns: bool) -> int:
    """Two partitions drain; a live report comes on the quiet one while the first turn is handed
    on. The reports handed on before it: the rest of that turn and the turns between."""

    async def run() -> int:
        buffer = Buffer()
        buffer.fetch(DRAINING_1, FETCHED)
        buffer.fetch(DRAINING_2, FETCHED)
        ahead = 0
        for turn in range(100):
            records = await buffer.turn(share)
            if QUIET in records:  # within a turn, Faust hands on the partitions' records in turn
                return ahead
            ahead += sum(len(batch) for batch in records.values())
            if in_turns:
                to_the_back(buffer.records, records)
            if turn == 0:
                buffer.fetch(QUIET, 1)
        raise AssertionError("the live report was never handed on")

    return asyncio.run(run())


def test_a_live_report_waits_for_a_turn_of_each_draining_partition_not_for_all_they_fetched() -> None:
    assert handed_on_before_a_live_report(16, in_turns=True) <= 2 * 16


def test_the_worker_before_handed_on_all_that_was_fetched_in_one_turn() -> None:
    # What the worker did before: a turn took all that was fetched (Faust asks for no limit).
    assert handed_on_before_a_live_report(None, in_turns=False) == 2 * FETCHED
    # A share alone, without the round robin, serves the first partition until it has nothing.
    assert handed_on_before_a_live_report(16, in_turns=False) > 2 * 16
