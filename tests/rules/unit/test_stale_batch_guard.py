"""The rules worker's consumer fix for rebalances (services/rules/consumer.py): a batch fetched
before a seek to the committed offsets ended is handed on no further, and the partitions are
sought again, so no message between the commit and the stale batch is dropped unprocessed."""

import asyncio
from collections.abc import AsyncIterator

from services.rules.consumer import StaleBatchGuard


class Partition:
    """Offsets 0..n of one partition, fetched in batches; a seek puts the position back."""

    def __init__(self) -> None:
        self.seeks_again = 0

    async def seek_again(self) -> None:
        self.seeks_again += 1


async def batch(
    offsets: list[int], guard: StaleBatchGuard, seek_ends_before: int | None = None
) -> AsyncIterator[int]:
    for offset in offsets:
        if offset == seek_ends_before:
            guard.seek_ended()
        yield offset


def hand_on(
    guard: StaleBatchGuard, source: AsyncIterator[int], seek_ends_after: int | None = None
) -> list[int]:
    """The fetch loop: takes every message the guard hands on; a seek may end while it hands
    one on (seek_ends_after)."""

    async def run() -> list[int]:
        handed = []
        async for offset in guard.hand_on(source):
            handed.append(offset)
            if offset == seek_ends_after:
                guard.seek_ended()
        return handed

    return asyncio.run(run())


def test_a_batch_with_no_seek_is_handed_on_whole():
    partition = Partition()
    guard = StaleBatchGuard(partition.seek_again)
    assert hand_on(guard, batch([75, 76, 77], guard)) == [75, 76, 77]
    assert partition.seeks_again == 0


def test_a_seek_that_ends_while_a_message_is_handed_on_stops_the_batch_and_seeks_again():
    partition = Partition()
    guard = StaleBatchGuard(partition.seek_again)
    handed = hand_on(guard, batch(list(range(75, 95)), guard), seek_ends_after=78)
    assert handed == [75, 76, 77, 78]  # 79-94 are not handed on: they will be fetched again
    assert partition.seeks_again == 1
    assert guard.stale_batches == 1


def test_a_seek_that_ends_between_two_messages_stops_the_batch_before_the_next():
    partition = Partition()
    guard = StaleBatchGuard(partition.seek_again)
    handed = hand_on(guard, batch([75, 76, 77, 78], guard, seek_ends_before=77))
    assert handed == [75, 76]
    assert partition.seeks_again == 1


def test_a_batch_fetched_after_the_seek_ended_is_fresh():
    partition = Partition()
    guard = StaleBatchGuard(partition.seek_again)
    guard.seek_ended()  # the recovery's seek, before this fetch returned
    assert hand_on(guard, batch([75, 76, 77], guard)) == [75, 76, 77]
    # and the next batch after a stale one is fresh again
    assert hand_on(guard, batch([78, 79], guard), seek_ends_after=78) == [78]
    assert hand_on(guard, batch([78, 79, 80], guard)) == [78, 79, 80]
    assert partition.seeks_again == 1


def test_a_seek_that_ends_while_the_last_message_is_handed_on_still_seeks_again():
    # the fetch loop has noted offset 78 as read, ahead of the commit: without a second seek
    # the next fetch's 75-77 would be dropped as already read
    partition = Partition()
    guard = StaleBatchGuard(partition.seek_again)
    assert hand_on(guard, batch([75, 76, 77, 78], guard), seek_ends_after=78) == [75, 76, 77, 78]
    assert partition.seeks_again == 1


def test_a_seek_that_fails_does_not_stop_the_fetch_loop():
    # a rebalance began meanwhile: its own seek to the committed offsets follows it
    async def failing_seek() -> None:
        raise RuntimeError("rebalancing")

    guard = StaleBatchGuard(failing_seek)
    assert hand_on(guard, batch([75, 76, 77], guard), seek_ends_after=76) == [75, 76]
    assert guard.stale_batches == 1
