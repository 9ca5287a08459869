"""Background tasks a service runs beside its HTTP API (consumers, followers, dispatchers)."""

import asyncio
import contextlib


async def stop_tasks(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel every task, then wait for each to finish its cleanup."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
