"""The reporting agent's deferred check: at a steady trickle every report is the last on the
topic, and the agent asks for one tick at a time, on the event loop the worker really runs
(uvloop, whose timer handles differ from asyncio's: a first version crashed the agent there)."""

import asyncio

import pytest
import uvloop

from services.rules import reporting_agent
from tests.async_helpers import until


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes]] = []

    async def send(self, *, key: bytes, value: bytes) -> None:
        self.sent.append((key, value))


@pytest.mark.parametrize("loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop])
def test_many_quiet_reports_in_a_moment_ask_for_one_tick(monkeypatch, loop_factory) -> None:
    topic = Recorder()
    monkeypatch.setattr(reporting_agent, "periods_topic", topic)
    monkeypatch.setattr(reporting_agent, "_tick_due", [0.0])
    planned: list[float] = []

    async def trickle() -> None:
        loop = asyncio.get_running_loop()
        real = loop.call_later

        def counted(delay, callback, *args, **kwargs):  # every tick the agent plans, counted
            if getattr(callback, "__name__", "") == "send_tick":
                planned.append(delay)
            return real(delay, callback, *args, **kwargs)

        monkeypatch.setattr(loop, "call_later", counted)
        for _ in range(20):  # twenty quiet reports before the planned tick leaves
            reporting_agent.tick_after(0.2)
            await asyncio.sleep(0)
        assert planned == [0.2]  # one tick planned for all twenty, however slow the machine
        await until(lambda: len(topic.sent) == 1)
        await until(lambda: loop.time() >= reporting_agent._tick_due[0])
        reporting_agent.tick_after(0.05)  # a later quiet report asks for the next one
        await until(lambda: len(topic.sent) == 2)

    loop = loop_factory()
    try:
        loop.run_until_complete(trickle())
    finally:
        loop.close()
    assert planned == [0.2, 0.05]
    assert topic.sent == [(b"periods", b'{"tick": true}')] * 2
