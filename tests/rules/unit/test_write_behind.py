"""The history and cases tables hold their writes until the worker commits: the agents read
their own writes at once, each key is written once per commit, and each write goes to the
partition of the event it was made in (where Faust puts its changelog record)."""

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from faust.streams import _current_event, current_event

from services.rules.write_behind import WriteBehindTable


@dataclass
class Message:
    partition: int


@dataclass
class Event:
    message: Message


class RecordingTable(dict):
    """A stand-in for a Faust table: records each write with the partition Faust would take
    for it (the current event's), and answers a missing key with its default, as Faust does."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, Any, int]] = []

    def __missing__(self, key: str) -> list:
        return []

    def __setitem__(self, key: str, value: Any) -> None:
        event = current_event()
        assert event is not None, "Faust refuses a table write outside an event"
        self.writes.append((key, value, event.message.partition))
        super().__setitem__(key, value)


@contextmanager
def in_event(partition: int) -> Iterator[Event]:
    """As inside an agent processing an event of `partition` (Faust's current event)."""
    event = Event(Message(partition))
    token = _current_event.set(weakref.ref(event))
    try:
        yield event
    finally:
        _current_event.reset(token)


def test_reads_see_the_held_write_before_the_table_has_it() -> None:
    table = RecordingTable()
    cache = WriteBehindTable(table)
    with in_event(2):
        assert cache["chalco"] == []  # the table's default
        cache["chalco"] = ["week 1"]
        assert cache["chalco"] == ["week 1"]
        assert cache.get("chalco") == ["week 1"]
        assert cache.get("other", "none") == "none"
    assert table.writes == []
    assert cache.held == 1


def test_flush_writes_each_key_once_to_the_partition_of_its_event() -> None:
    table = RecordingTable()
    cache = WriteBehindTable(table)
    for week in range(1, 4):
        for key, partition in (("chalco", 0), ("salt-lake", 2)):
            with in_event(partition):
                cache[key] = [f"week {week}"]
    cache.write_held()
    assert sorted(table.writes) == [("chalco", ["week 3"], 0), ("salt-lake", ["week 3"], 2)]
    assert cache.held == 0
    assert current_event() is None  # the flush leaves no event behind it
    cache.write_held()  # nothing held: nothing written again
    assert len(table.writes) == 2


def test_a_write_outside_an_event_is_refused() -> None:
    cache = WriteBehindTable(RecordingTable())
    with pytest.raises(RuntimeError, match="only while an agent processes an event"):
        cache["chalco"] = ["week 1"]


def test_too_many_held_keys_are_written_at_once() -> None:
    table = RecordingTable()
    cache = WriteBehindTable(table, max_held=3)
    with in_event(1):
        for n in range(3):
            cache[f"e{n}"] = [n]
    assert [key for key, _, _ in table.writes] == ["e0", "e1", "e2"]
    assert cache.held == 0
