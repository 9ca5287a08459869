"""Background tasks a service runs beside its HTTP API (consumers, followers, dispatchers)."""

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)


async def stop_tasks(tasks: list[asyncio.Task[None]], *, timeout: float = 15.0) -> None:
    """Cancel every task, then wait for each to finish its cleanup, at most `timeout` seconds in
    all: a Kafka client that does not stop (seen once in the notify tests: a shutdown that
    waited forever) must not keep the service from stopping."""
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        log.warning("a background task did not stop within %.0f s: %r", timeout, task.get_coro())
    for task in tasks:
        if task.done() and not task.cancelled():
            with contextlib.suppress(Exception):
                task.result()
