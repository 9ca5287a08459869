"""The reporting agent writes its table in turns: Faust stops handing any input to any agent
while more than 100 table writes wait for the producer, so a batch of 200 reports' periods (400
writes) or a check that forgets old weeks must not leave them all waiting at once."""

import asyncio
from typing import Any

import pytest

from services.rules import reporting_agent


class Buffer:
    """Faust's producer buffer as the agent sees it: writes wait in it until they are sent."""

    def __init__(self) -> None:
        self.waiting: list[str] = []
        self.sent: list[str] = []
        self.most_waiting = 0

    @property
    def size(self) -> int:
        return len(self.waiting)

    def put(self, record: str) -> None:
        self.waiting.append(record)
        self.most_waiting = max(self.most_waiting, len(self.waiting))

    async def flush_atmost(self, n: int) -> int:
        sent, self.waiting = self.waiting[:n], self.waiting[n:]
        self.sent += sent
        return len(sent)


class Table(dict):
    """A table whose every write and delete is a changelog record in the buffer."""

    def __init__(self, buffer: Buffer) -> None:
        super().__init__()
        self.buffer = buffer

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.buffer.put(f"set {key}")

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.buffer.put(f"del {key}")


class App:
    def __init__(self, buffer: Buffer) -> None:
        self.producer = type("Producer", (), {"buffer": buffer})()


@pytest.fixture
def buffer(monkeypatch: pytest.MonkeyPatch) -> Buffer:
    buffer = Buffer()
    monkeypatch.setattr(reporting_agent, "app", App(buffer))
    monkeypatch.setattr(reporting_agent, "reporting_state", Table(buffer))
    return buffer


def test_a_batch_of_writes_never_leaves_more_than_a_turn_waiting(buffer: Buffer) -> None:
    parts = {f"got:2012-W{week:02d}|enterprise:e{n}": True for week in range(1, 41) for n in range(10)}
    asyncio.run(reporting_agent.write_parts(parts))
    assert reporting_agent.reporting_state == parts  # every entry written, in order
    assert buffer.sent + buffer.waiting == [f"set {key}" for key in parts]
    assert buffer.most_waiting <= reporting_agent.TURN < 100


def test_forgetting_many_weeks_never_leaves_more_than_a_turn_waiting(buffer: Buffer) -> None:
    keys = [f"got:2011-W{week:02d}|enterprise:e{n}" for week in range(1, 53) for n in range(10)]
    asyncio.run(reporting_agent.write_parts(dict.fromkeys(keys, True)))
    buffer.most_waiting = 0
    asyncio.run(reporting_agent.delete_keys([*keys, "got:never-written"]))
    assert reporting_agent.reporting_state == {}
    records = buffer.sent + buffer.waiting
    assert records == [f"set {key}" for key in keys] + [f"del {key}" for key in keys]
    assert buffer.most_waiting <= reporting_agent.TURN
