"""The shared consumer loop's commit: one request for a handled batch, never for a partition
handed over meanwhile."""

import asyncio
from types import SimpleNamespace

import pytest
from aiokafka import TopicPartition

from liaison_common.kafka_clients import commit_handled, per_partition


class Consumer:
    """What the loop asks of a consumer: its assignment, and commits (recorded)."""

    def __init__(self, assigned: set[TopicPartition]):
        self.assigned = assigned
        self.commits: list[dict[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets)


def records(*offsets: int) -> list[SimpleNamespace]:
    return [SimpleNamespace(offset=offset) for offset in offsets]


def test_a_handled_batch_is_committed_in_one_request_past_its_last_message():
    a, b, gone = (TopicPartition("liaison.reports.v1", p) for p in range(3))
    consumer = Consumer({a, b})
    handled = []

    async def handle(_consumer, tp, messages):
        handled.append((tp.partition, [m.offset for m in messages]))

    batches = {a: records(4, 5, 6), b: records(10), gone: records(7)}
    asyncio.run(per_partition(handle)(consumer, batches))
    assert handled == [(0, [4, 5, 6]), (1, [10]), (2, [7])]
    assert consumer.commits == [{a: 7, b: 11}]  # the partition handed over is its new owner's


def test_a_batch_that_fails_halfway_commits_nothing_so_all_of_it_comes_again():
    a, b = TopicPartition("t", 0), TopicPartition("t", 1)
    consumer = Consumer({a, b})

    async def handle(_consumer, tp, messages):
        if tp == b:
            raise ConnectionError("the database is away")

    with pytest.raises(ConnectionError):
        asyncio.run(per_partition(handle)(consumer, {a: records(1), b: records(2)}))
    assert consumer.commits == []
    asyncio.run(commit_handled(consumer, {}))
    assert consumer.commits == []  # an empty batch asks nothing of the broker
