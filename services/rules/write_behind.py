"""A Faust table whose writes wait for the next offset commit: a key that many events change
between two commits is written once, with one changelog record.

Each write to a Faust table costs a RocksDB put, a changelog record and, when the producer
acknowledges it, a second put (the changelog offset): about a seventh of the worker's time per
report (bench-rules' profile, docs/benchmarks.md). A worker catching up on a backlog changes the
same few enterprises' history and cases report after report, so it holds the latest value of
each key and writes it before the commit, as Kafka Streams' record cache does
(`statestore.cache.max.bytes`).

Why it stays correct:
- reads see the held value first, so the agents see their own writes at once;
- the worker's consumer writes what is held before every offset commit
  (`RulesApp.before_commit`), and the app before it gives partitions away, so no commit
  passes an event whose state has not gone to the table and its changelog; a worker that dies
  with writes held has not committed those events either, and their next owner processes them
  again from the table as it was;
- a held write keeps the Faust event it was made in: the table writes it to that event's
  partition (Faust takes the changelog partition and the RocksDB partition from the current
  event), as it would have at the time.
"""

import weakref
from typing import Any

from faust.streams import _current_event, current_event

# Held keys beyond which a write goes to the table at once (and everything held with it): bounds
# memory when a backlog spans many keys between two commits.
MAX_HELD = 10_000


class WriteBehindTable:
    """Reads and writes of one Faust table (`table[key]`, `table.get(key)`, `table[key] = v`),
    with the writes held until `flush`. Only values are held: a key is never deleted."""

    def __init__(self, table: Any, max_held: int = MAX_HELD) -> None:
        self.table = table
        self.max_held = max_held
        self._held: dict[Any, tuple[Any, Any]] = {}  # key -> (value, the event it was set in)

    def __getitem__(self, key: Any) -> Any:
        held = self._held.get(key)
        return held[0] if held is not None else self.table[key]

    def get(self, key: Any, default: Any = None) -> Any:
        held = self._held.get(key)
        return held[0] if held is not None else self.table.get(key, default)

    def __setitem__(self, key: Any, value: Any) -> None:
        event = current_event()
        if event is None:
            raise RuntimeError("a table is written only while an agent processes an event")
        self._held[key] = (value, event)
        if len(self._held) >= self.max_held:
            self.write_held()

    def __len__(self) -> int:
        return len(self.table)  # as last written: a new key counts once its write is made

    @property
    def held(self) -> int:
        return len(self._held)

    def write_held(self) -> None:
        """Every held value to the table, each in the event it was set in. Synchronous, so no
        agent writes while it runs."""
        held, self._held = self._held, {}
        for key, (value, event) in held.items():
            token = _current_event.set(weakref.ref(event))
            try:
                self.table[key] = value
            finally:
                _current_event.reset(token)

    async def flush(self) -> None:
        """`write_held`, in the form `RulesApp.before_commit` calls."""
        self.write_held()
