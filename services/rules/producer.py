"""The rules worker's Kafka producer: faust-streaming's, with a flush that does not wait out the
linger.

Faust flushes the producer before each offset commit, and its fetch loop hands no input to any
agent until the commit has ended. aiokafka's `flush` waits for every open batch, and sends a batch
only once it has lingered `linger_ms` (RULES_PRODUCER_LINGER_MS, 20 ms then): each commit held
every agent 22-26 ms, about twice a second while a backlog drained, and a live report on another
partition waited with them (bench-rules; docs/benchmarks.md). Here `flush` closes the batches
open when it is called, so that the sender takes them at once, and waits for those: everything
produced before the commit began. Batches opened meanwhile linger as usual.
"""

from typing import Any

from faust.transport.drivers.aiokafka import Producer


async def send_what_lingers(producer: Any) -> None:
    """Send every batch an aiokafka producer holds now, without waiting out its linger, and wait
    until the broker has them (as `flush` does, less the linger). The accumulator's
    `flush_for_commit` is what aiokafka's own transactions use to end a transaction's batches."""
    accumulator = getattr(producer, "_message_accumulator", None)
    if accumulator is None or not hasattr(accumulator, "flush_for_commit"):
        await producer.flush()  # another aiokafka: correct, only slower
        return
    await accumulator.flush_for_commit()


class PromptFlushProducer(Producer):
    async def flush(self) -> None:
        if self.app.in_transaction or self._producer is None:
            await super().flush()
            return
        await self.buffer.flush()  # the table writes Faust holds for the producer, first
        await send_what_lingers(self._producer)
