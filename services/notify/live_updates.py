"""Server-sent events: new and changed alerts, pushed to the callers allowed to see them.

In process: each notify instance pushes what it stored or changed itself.
"""

import asyncio
from typing import Any


class Broadcaster:
    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[dict[str, Any]]] = set()

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._queues.discard(queue)

    @property
    def listening(self) -> bool:
        """Anyone connected: without a stream client, an alert need not be put into words."""
        return bool(self._queues)

    def publish(self, event: dict[str, Any]) -> None:
        for queue in list(self._queues):
            if queue.full():  # a client that does not read loses the oldest, not the service
                queue.get_nowait()
            queue.put_nowait(event)
