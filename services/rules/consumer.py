"""The rules worker's Kafka consumer: faust-streaming's, with one fix for rebalances.

faust-streaming 0.15.3's fetch loop (`Consumer._drain_messages`) hands each fetched message to
the streams and then notes its offset as read; a later message at or below the read offset is
dropped as already seen ("DROPPED MESSAGE ROFF"). After a rebalance, Faust's recovery resumes the
partitions and then seeks them to their committed offsets (`perform_seek`, which also sets the
read offsets to them). A batch fetched before that seek ended can still be being handed on when
it ends: the fetch loop then notes its offsets, ahead of the commit, and the fetch position may
have moved past the seek too. Every message between the commit and those offsets is then
dropped unprocessed. Nothing acknowledges them, so the partition's commits stop there; the next
owner (after a restart or the next rebalance) reads them again, after their successors, against
a case book that already holds the later weeks. `make bench-rebalance` traced exactly that
(docs/scaling.md): a worker that joined processed one enterprise's offsets 75-78, then 95 on,
and only minutes later, after the next rebalance, 79-94, each opening a case of its own.

The fix (`StaleBatchGuard`): a batch fetched before a seek ended is stale. It is handed on no
further, and every partition is sought to its commit once more, now that nothing is in flight,
so they are read again from there. What was already handed on is processed twice, in order,
which at-least-once allows (alert ids are deterministic; the case book knows a repeated report).
"""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.transport.drivers.aiokafka import Transport
from faust.types import TP, Message

Item = TypeVar("Item")
log = logging.getLogger(__name__)


class StaleBatchGuard:
    """Counts the seeks that have ended, and stops handing on a batch fetched before one."""

    def __init__(self, seek_again: Callable[[], Awaitable[None]]) -> None:
        self.seek_again = seek_again
        self.seeks_done = 0
        self.stale_batches = 0

    def seek_ended(self) -> None:
        self.seeks_done += 1

    async def hand_on(self, batch: AsyncIterator[Item]) -> AsyncIterator[Item]:
        fetched_in: int | None = None
        async for item in batch:
            if fetched_in is None:  # the fetch has just returned: nothing ran in between
                fetched_in = self.seeks_done
            if self.seeks_done != fetched_in:
                await self._stale()
                return
            yield item
            # Resumed when the fetch loop asks for the next message: it has handed this one on
            # and noted its offset as read. A seek that ended meanwhile made that note stale.
            if self.seeks_done != fetched_in:
                await self._stale()
                return

    async def _stale(self) -> None:
        self.stale_batches += 1
        log.info(
            "a batch fetched before the seek to the committed offsets was still being handed on: "
            "seeking to the committed offsets again"
        )
        try:
            await self.seek_again()
        except Exception as error:  # a rebalance has begun: its own seek will follow it
            log.warning("could not seek to the committed offsets again: %r", error)


class RebalanceSafeConsumer(AIOKafkaConsumer):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.stale_batch_guard = StaleBatchGuard(self.perform_seek)

    async def perform_seek(self) -> None:
        await super().perform_seek()
        self.stale_batch_guard.seek_ended()

    def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        return self.stale_batch_guard.hand_on(super().getmany(timeout))


class RulesTransport(Transport):
    """The aiokafka transport (kafka://), with the consumer above."""

    Consumer = RebalanceSafeConsumer
