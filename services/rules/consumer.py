"""The rules worker's Kafka consumer: faust-streaming's, with fixes for rebalances (and a shorter
fetch wait, FETCH_MAX_WAIT_MS).

faust-streaming 0.15.3's fetch loop (`Consumer._drain_messages`) hands each fetched message to
the streams and notes its offset as read. A later message at or below the read offset is dropped
as already seen ("DROPPED MESSAGE ROFF"); one further ahead than the next offset is taken for a
gap left by compaction, and the offsets in between count as processed (`_add_gap`), so the
commit passes them. After a rebalance, Faust's recovery resumes the partitions and only then
seeks them to their committed offsets (`perform_seek`). So messages read from the old position
reach the streams around that seek, and with them, in `make bench-rebalance` (docs/scaling.md):
- a batch fetched before the seek ended, handed on after it: the reports between the commit and
  that batch were dropped as already read, and processed minutes later, after their successors,
  each opening a case of its own;
- a fetch that was in flight in Faust's consumer thread while the seek ran returned messages
  from far ahead of the commit: the fetch loop counted the reports in between as a gap, and they
  were never processed at all.

`StaleBatchGuard` keeps the streams to a continuous read from the commit:
- after a rebalance begins, no stream message is handed on until the seek to the committed
  offsets has ended (changelog messages go on: the restore before the seek reads them);
- a fetch that began before a seek ended is stale: it is handed on no further and the partitions
  are sought to their commits again, now that nothing is in flight;
- a stream message further ahead than the next offset of its partition is a skip (Liaison's input
  topics are neither compacted nor transactional): seek again. Should the same jump come back
  after that seek (the log's start moved past the commit under retention), it is real: say so
  and go on.
What was already handed on may be processed twice, in order, which at-least-once allows (alert
ids are deterministic; the case book knows a repeated report).

On the stop path, a stream that sees a message while flow is stopped (the worker is stopping or a
rebalance has begun), or of an earlier group generation, skips it and acknowledges it all the
same (`Stream._py_aiter`: `do_ack or value is skipped_value`). The commit on leaving then covers
reports nobody processed. Such a message is one no stream tracked (`message.tracked` is False),
so `ack` refuses exactly those: the commit stops before them and the next owner reads them.
"""

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

from aiokafka.errors import KafkaConnectionError, NodeNotReadyError, RequestTimedOutError
from aiokafka.protocol.metadata import MetadataRequest
from faust.exceptions import NotReady
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Transport, ensure_aiokafka_TP
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.types import TP, Message

from services.rules.producer import PromptFlushProducer

# How long the broker may hold a fetch for data. faust-streaming fixes it at 1,500 ms, and aiokafka
# keeps one fetch in flight per broker, for the partitions that had nothing buffered when it was
# sent: a report arriving on another partition then waited for that fetch to run out, up to
# 1.5 s (bench-rules' live phase: stalls of 1.5-1.7 s, in bursts). Kafka's Java consumer waits
# 500 ms; 100 ms bounds that stall at the cost of ten small fetches a second when idle.
FETCH_MAX_WAIT_MS = 100
HOLD_BACK_PAUSE = 0.05  # seconds: while a seek is pending, the fetch loop would spin
HOLD_BACK_WARN_AFTER = 30.0  # seconds without the seek that follows a rebalance: say so
log = logging.getLogger(__name__)


class HasOffset(Protocol):
    offset: int


class StaleBatchGuard:
    """Hands on only stream messages read continuously from the committed offsets (see above)."""

    def __init__(
        self,
        seek_again: Callable[[], Awaitable[None]],
        from_stream: Callable[[Any], bool] = lambda tp: True,
    ) -> None:
        self.seek_again = seek_again
        self.from_stream = from_stream
        self.rebalances_begun = 0
        self.sought_after_rebalance = 0  # the rebalances_begun that the last finished seek followed
        self.seeks_done = 0
        self.next_offset: dict[Any, int] = {}  # per stream partition, from the last seek on
        self.reseeked_from: dict[Any, int] = {}  # a jump answered by a seek once: taken if it recurs
        self.stale_batches = 0
        self.skips_caught = 0
        self.held_back = 0
        self.pending_since = 0.0
        self.warned_of_wait = False

    def rebalance_began(self) -> None:
        self.rebalances_begun += 1
        self.pending_since = time.monotonic()
        self.warned_of_wait = False

    def seek_started(self) -> int:
        return self.rebalances_begun

    def seek_ended(self, started_after: int, committed: Mapping[Any, int | None]) -> None:
        self.seeks_done += 1
        self.sought_after_rebalance = max(self.sought_after_rebalance, started_after)
        self.next_offset = {
            tp: offset for tp, offset in committed.items() if offset is not None and self.from_stream(tp)
        }

    @property
    def seek_pending(self) -> bool:
        return self.sought_after_rebalance < self.rebalances_begun

    async def hand_on(self, batch: AsyncIterator[tuple[Any, HasOffset]]) -> AsyncIterator[Any]:
        # Counted when the fetch begins, not when its first message arrives: a fetch that began
        # before a seek can return after it, with messages read from the old position.
        fetched_in = self.seeks_done
        held = 0
        async for item in batch:
            if self.seeks_done != fetched_in:
                await self._seek_again("a fetch that began before the seek to the commits ended")
                return
            tp, message = item
            if self.from_stream(tp):
                if self.seek_pending:
                    held += 1  # read again from the commit once the seek has ended
                    continue
                expected = self.next_offset.get(tp)
                if expected is not None and message.offset > expected:
                    if self.reseeked_from.get(tp) != expected:
                        self.reseeked_from[tp] = expected
                        self.skips_caught += 1
                        await self._seek_again(
                            f"{tp}: offset {message.offset} came where {expected} was next"
                        )
                        return
                    log.warning(
                        "%s: offsets %d to %d are not in the log (retention?): going on from %d",
                        tp,
                        expected,
                        message.offset - 1,
                        message.offset,
                    )
                if expected is None or message.offset >= expected:
                    self.next_offset[tp] = message.offset + 1
            yield item
            # Resumed when the fetch loop asks for the next message: it has handed this one on
            # and noted its offset as read. A seek that ended meanwhile made that note stale.
            if self.seeks_done != fetched_in:
                await self._seek_again("a seek to the commits ended while a batch was handed on")
                return
        if held:
            self.held_back += held
            waited = time.monotonic() - self.pending_since
            if waited > HOLD_BACK_WARN_AFTER and not self.warned_of_wait:
                # Faust seeks after every rebalance; without it the stall watchdog restarts us
                log.warning("stream messages held back %.0f s, waiting for the seek to the commits", waited)
                self.warned_of_wait = True
            await asyncio.sleep(HOLD_BACK_PAUSE)  # the same messages come again until the seek

    async def _seek_again(self, why: str) -> None:
        self.stale_batches += 1
        log.info("%s: seeking to the committed offsets again", why)
        try:
            await self.seek_again()
        except Exception as error:  # a rebalance has begun: its own seek will follow it
            log.warning("could not seek to the committed offsets again: %r", error)


class RulesConsumerThread(AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read by its fetcher when it starts
        return consumer

    async def _fetch_records(
        self,
        consumer: Any,
        active_partitions: set[TP],
        timeout: float | None = None,
        max_records: int | None = None,
    ) -> Any:
        # aiokafka hands on each partition's fetched records in the order its fetches came back, as
        # many as a call takes: a report on a quiet partition waited behind all that the draining
        # ones had fetched. A turn takes a fair share, and the partitions just served go to the
        # back, behind the others' fetched records: round robin.
        share = getattr(self.app, "fair_share_records", None) or max_records
        records = await super()._fetch_records(
            consumer, active_partitions, timeout=timeout, max_records=share
        )
        to_the_back(consumer._fetcher._records, records)
        return records


def to_the_back(fetched: "OrderedDict[Any, Any]", served: Iterable[Any]) -> None:
    """The partitions just served go behind the others' fetched records (aiokafka's fetcher hands
    them on in the order of its buffer)."""
    for tp in served:
        if tp in fetched:
            fetched.move_to_end(tp)


class RebalanceSafeConsumer(AIOKafkaConsumer):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.stale_batch_guard = StaleBatchGuard(self.perform_seek, self._from_stream)
        # Faust's `changelog_topics` builds a new set at each call: too dear for every message.
        # The tables are registered before the first assignment, so it is read at each one.
        self._changelog_topics: frozenset[str] = frozenset()

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return RulesConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        self.stale_batch_guard.rebalance_began()
        await super().on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        self.stale_batch_guard.rebalance_began()
        self._changelog_topics = frozenset(self.app.tables.changelog_topics)
        await super().on_partitions_assigned(assigned, generation_id)

    async def perform_seek(self) -> None:
        started_after = self.stale_batch_guard.seek_started()
        await super().perform_seek()
        # aiokafka's seek_to_committed leaves a partition that has no commit yet where its fetches
        # had got to. The guard above drops what was fetched before a seek, to be read again
        # after it: on such a partition it never was, and those reports were lost (a worker that
        # kept a fresh partition across a rebalance skipped its first 16 reports in a full make
        # test). No commit means from the beginning (auto_offset_reset "earliest"), as for a
        # worker that starts: redone reports count nothing twice (cases know their periods).
        uncommitted = from_the_beginning(self._read_offset, self._from_stream, self.assignment())
        if uncommitted:
            await self._thread.seek_to_beginning(*(ensure_aiokafka_TP(tp) for tp in uncommitted))
        # Faust's read offsets are the committed offsets now: the next offset of each partition
        self.stale_batch_guard.seek_ended(started_after, dict(self._read_offset))

    async def _commit_offsets(self, offsets: Mapping[TP, int], start_new_transaction: bool = True) -> bool:
        # What the agents gather for later (the period events) goes to the producer first: Faust
        # flushes the producer next and commits only then.
        for hand_over in getattr(self.app, "before_commit", ()):
            await hand_over()
        return bool(await super()._commit_offsets(offsets, start_new_transaction))

    def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        return self.stale_batch_guard.hand_on(super().getmany(timeout))

    def _from_stream(self, tp: TP) -> bool:
        return tp.topic not in self._changelog_topics

    def ack(self, message: Message) -> bool:
        app = self.app
        if skipped_unprocessed(message, app.flow_control.is_active(), app.consumer_generation_id):
            return False
        return bool(super().ack(message))


def from_the_beginning(
    read_offsets: Mapping[TP, int | None], from_stream: Callable[[TP], bool], assigned: Iterable[TP]
) -> list[TP]:
    """The stream partitions a seek to the commits must start from the beginning: assigned, with
    no commit (None) or one of 0, which aiokafka's seek_to_committed leaves where they were.
    Changelog partitions are the tables' recovery's, never sought here."""
    assigned = set(assigned)
    return sorted(
        tp for tp, offset in read_offsets.items() if not offset and from_stream(tp) and tp in assigned
    )


def skipped_unprocessed(message: Any, flow_active: bool, generation_id: int) -> bool:
    """A message a stream skipped without processing it: no stream tracked it, and it came while
    flow was stopped or from an earlier generation (the stream's own test for skipping,
    `Stream._py_aiter`). A message that failed to decode is untracked too, but comes while flow
    is active and of the current generation: its acknowledgement goes through."""
    return not message.tracked and (not flow_active or message.generation_id != generation_id)


class RulesTransport(Transport):
    """The aiokafka transport (kafka://), with the consumer above, a producer whose flush sends
    at once what lingers (services/rules/producer.py), and a controller lookup that survives a
    broker lost."""

    Consumer = RebalanceSafeConsumer
    Producer = PromptFlushProducer

    async def _get_controller_node(self, owner: Any, client: Any, timeout: int = 30000) -> int | None:
        # Faust asks the first broker of the metadata only, and creates its topics through the
        # controller it names: a broker killed and not yet fenced (seconds) is still listed, and
        # a worker that started then exited with NodeNotReadyError
        # (tests/scale/test_three_brokers.py). Ask each in turn; create through one that answers.
        failures = []
        for node_id in [broker.nodeId for broker in client.cluster.brokers()]:
            try:
                waited = await owner.wait(client.send(node_id, MetadataRequest([])), timeout=timeout)
            except (NodeNotReadyError, KafkaConnectionError, RequestTimedOutError) as error:
                failures.append(f"{node_id}: {error!r}")
                continue
            if waited.stopped:
                return None
            controller = int(waited.result.controller_id)
            # Under KRaft the "controller" named is any broker, and every broker forwards
            # CreateTopics to the real controllers: if the one named is the lost one, use this.
            return controller if await client.ready(controller) else node_id
        raise NotReady(f"no broker answered for the controller: {'; '.join(failures) or 'none known'}")
