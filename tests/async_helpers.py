"""Waiting on an event inside an event loop, bounded generously, never for a fixed time."""

import asyncio
from collections.abc import Callable


async def until(condition: Callable[[], object], timeout: float = 10.0, what: str = "it") -> None:
    """Return once `condition()` holds; fail after `timeout` (generous: the tests hold on a busy
    machine, issue 36.11)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"{what} never happened"
        await asyncio.sleep(0.005)
