"""The rules worker's consumer fixes for rebalances (services/rules/consumer.py): the streams get
only messages read continuously from the committed offsets. A batch fetched before a seek to the
commits ended is handed on no further, nothing of a stream is handed on between a rebalance and
its seek, and a jump in a partition's offsets is answered by seeking again, so no report between
the commit and a stale batch is dropped or counted as a gap unprocessed."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from services.rules.consumer import StaleBatchGuard, skipped_unprocessed

STREAM, CHANGELOG = "reports-0", "cases-changelog-0"


@dataclass
class Record:
    offset: int


class Partitions:
    """Counts the seeks the guard asks for; a seek sets the next offsets to the commits."""

    def __init__(self, committed: int | None = None) -> None:
        self.committed = committed
        self.seeks_again = 0
        self.guard = StaleBatchGuard(self.seek_again, lambda tp: tp == STREAM)

    async def seek_again(self) -> None:
        self.seeks_again += 1
        self.guard.seek_ended(self.guard.seek_started(), {STREAM: self.committed})

    def seek(self, committed: int | None) -> None:
        """The recovery's seek after a rebalance."""
        self.committed = committed
        self.guard.seek_ended(self.guard.seek_started(), {STREAM: committed})


async def batch(
    guard: StaleBatchGuard, offsets: list[int], tp: str = STREAM, seek_ends_before: int | None = None
) -> AsyncIterator[tuple[str, Record]]:
    for offset in offsets:
        if offset == seek_ends_before:
            guard.seek_ended(guard.seek_started(), {STREAM: offset})
        yield tp, Record(offset)


def hand_on(
    guard: StaleBatchGuard, source: AsyncIterator[tuple[str, Record]], seek_ends_after: int | None = None
) -> list[int]:
    """The fetch loop: takes every message the guard hands on; a seek may end while it hands
    one on (seek_ends_after)."""

    async def run() -> list[int]:
        handed = []
        async for _tp, record in guard.hand_on(source):
            handed.append(record.offset)
            if record.offset == seek_ends_after:
                guard.seek_ended(guard.seek_started(), {STREAM: 75})
        return handed

    return asyncio.run(run())


def test_a_batch_with_no_seek_is_handed_on_whole():
    partitions = Partitions()
    assert hand_on(partitions.guard, batch(partitions.guard, [75, 76, 77])) == [75, 76, 77]
    assert partitions.seeks_again == 0


def test_a_seek_that_ends_while_a_message_is_handed_on_stops_the_batch_and_seeks_again():
    partitions = Partitions(committed=75)
    guard = partitions.guard
    handed = hand_on(guard, batch(guard, list(range(75, 95))), seek_ends_after=78)
    assert handed == [75, 76, 77, 78]  # 79-94 are not handed on: they will be fetched again
    assert partitions.seeks_again == 1
    assert guard.stale_batches == 1


def test_a_seek_that_ends_between_two_messages_stops_the_batch_before_the_next():
    partitions = Partitions(committed=75)
    guard = partitions.guard
    assert hand_on(guard, batch(guard, [75, 76, 77, 78], seek_ends_before=77)) == [75, 76]
    assert partitions.seeks_again == 1


def test_a_fetch_that_began_before_a_seek_ended_and_returned_after_it_is_stale():
    # Faust fetches in a thread of its own: the messages of a fetch in flight while the seek ran
    # come from the old position. Handed on, they would make the fetch loop count the offsets
    # between the commit and them as a gap (committed, never processed).
    partitions = Partitions(committed=102)
    guard = partitions.guard
    assert hand_on(guard, batch(guard, [142, 143], seek_ends_before=142)) == []
    assert partitions.seeks_again == 1


def test_a_batch_fetched_after_the_seek_ended_is_fresh():
    partitions = Partitions()
    guard = partitions.guard
    partitions.seek(75)  # the recovery's seek, before this fetch began
    assert hand_on(guard, batch(guard, [75, 76, 77])) == [75, 76, 77]
    assert partitions.seeks_again == 0


def test_a_seek_that_ends_while_the_last_message_is_handed_on_still_seeks_again():
    # the fetch loop has noted offset 78 as read, ahead of the commit: without a second seek
    # the next fetch's 75-77 would be dropped as already read
    partitions = Partitions(committed=75)
    guard = partitions.guard
    assert hand_on(guard, batch(guard, [75, 76, 77, 78]), seek_ends_after=78) == [75, 76, 77, 78]
    assert partitions.seeks_again == 1


def test_a_seek_that_fails_does_not_stop_the_fetch_loop():
    # a rebalance began meanwhile: its own seek to the committed offsets follows it
    async def failing_seek() -> None:
        raise RuntimeError("rebalancing")

    guard = StaleBatchGuard(failing_seek)
    assert hand_on(guard, batch(guard, [75, 76, 77]), seek_ends_after=76) == [75, 76]
    assert guard.stale_batches == 1


def test_after_a_rebalance_stream_messages_wait_for_the_seek_and_changelog_messages_do_not():
    # Faust's recovery resumes the stream partitions before it seeks them to their commits:
    # what it fetched meanwhile was read from wherever the position was, not from the commit
    partitions = Partitions()
    guard = partitions.guard
    guard.rebalance_began()
    assert hand_on(guard, batch(guard, [70, 71, 72])) == []
    assert hand_on(guard, batch(guard, [7, 8], tp=CHANGELOG)) == [7, 8]  # the restore goes on
    assert guard.held_back == 3
    partitions.seek(60)
    assert hand_on(guard, batch(guard, [60, 61, 62])) == [60, 61, 62]  # read again from the commit
    assert partitions.seeks_again == 0


def test_a_seek_that_began_before_the_next_rebalance_does_not_release_its_messages():
    partitions = Partitions()
    guard = partitions.guard
    guard.rebalance_began()
    started_after = guard.seek_started()
    guard.rebalance_began()  # a second rebalance while the first one's seek ran
    guard.seek_ended(started_after, {STREAM: 80})
    assert guard.seek_pending
    assert hand_on(guard, batch(guard, [80, 82])) == []
    partitions.seek(80)
    assert hand_on(guard, batch(guard, [80, 81])) == [80, 81]


def test_a_jump_past_the_next_offset_is_a_skip_answered_by_seeking_again():
    partitions = Partitions()
    guard = partitions.guard
    partitions.seek(119)
    assert hand_on(guard, batch(guard, [119, 120])) == [119, 120]
    # 121-290 never arrived: handed on, 291 would make Faust count them as a gap
    assert hand_on(guard, batch(guard, [291, 292])) == []
    assert partitions.seeks_again == 1
    assert guard.skips_caught == 1
    assert hand_on(guard, batch(guard, [119, 120, 121])) == [119, 120, 121]  # read again in order


def test_the_same_jump_after_a_seek_again_is_taken_as_the_start_of_the_log():
    # retention deleted the segment the commit points into: the log starts at 500 now
    partitions = Partitions()
    guard = partitions.guard
    partitions.seek(100)
    assert hand_on(guard, batch(guard, [500, 501])) == []
    assert hand_on(guard, batch(guard, [500, 501])) == [500, 501]
    assert partitions.seeks_again == 1


def test_a_partition_never_committed_takes_its_first_offset_as_it_comes():
    partitions = Partitions()
    guard = partitions.guard
    partitions.seek(None)
    assert hand_on(guard, batch(guard, [40, 41])) == [40, 41]
    assert hand_on(guard, batch(guard, [43])) == []  # 42 is missing: a skip


def test_a_seek_that_does_not_come_is_reported(caplog):
    partitions = Partitions()
    guard = partitions.guard
    guard.rebalance_began()
    guard.pending_since -= 31  # the rebalance began 31 s ago and no seek has ended since
    with caplog.at_level("WARNING", logger="services.rules.consumer"):
        assert hand_on(guard, batch(guard, [70])) == []
        assert hand_on(guard, batch(guard, [70])) == []
    warnings = [r.getMessage() for r in caplog.records if "held back" in r.getMessage()]
    assert len(warnings) == 1 and "waiting for the seek" in warnings[0]


@dataclass
class Delivered:
    tracked: bool
    generation_id: int


def test_an_event_a_stopping_stream_skipped_is_not_acknowledged():
    # Faust acknowledges the events a stream skips while flow is stopped (a worker stopping, a
    # rebalance begun) or of an earlier generation; committed, they would be lost
    assert skipped_unprocessed(Delivered(tracked=False, generation_id=3), flow_active=False, generation_id=3)
    assert skipped_unprocessed(Delivered(tracked=False, generation_id=2), flow_active=True, generation_id=3)


def test_processed_and_undecodable_events_are_acknowledged():
    assert not skipped_unprocessed(
        Delivered(tracked=True, generation_id=3), flow_active=False, generation_id=3
    )
    assert not skipped_unprocessed(
        Delivered(tracked=True, generation_id=2), flow_active=True, generation_id=3
    )
    # a message that failed to decode is never tracked, but comes while flow is active
    assert not skipped_unprocessed(
        Delivered(tracked=False, generation_id=3), flow_active=True, generation_id=3
    )


def test_a_seek_to_the_commits_starts_uncommitted_stream_partitions_from_the_beginning():
    """aiokafka's seek_to_committed leaves a partition without a commit where its fetches got
    to: the messages the guard dropped there were never read again (a full make test lost a
    fresh partition's first 16 reports). Those partitions go back to the beginning; committed
    ones, unassigned ones and the tables' changelogs are left alone."""
    from faust.types import TP

    from services.rules.consumer import from_the_beginning

    reports = [TP("reports", n) for n in range(4)]
    changelog = TP("app-enterprise-cases-changelog", 0)
    read_offsets = {reports[0]: None, reports[1]: 0, reports[2]: 17, reports[3]: None, changelog: None}
    chosen = from_the_beginning(
        read_offsets, lambda tp: not tp.topic.endswith("-changelog"), assigned=[*reports[:3], changelog]
    )
    assert chosen == [reports[0], reports[1]]
