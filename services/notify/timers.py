"""Due work in memory: when each notification is next due, when each alert escalates.

The dispatcher used to ask the database every half second for what was due, a query whose
cost grows with every notification and alert ever stored (FerretDB filters most of it in
memory). Now whoever plans a notification, records a failed attempt, or sets an alert's
escalation time also schedules it here; the dispatcher pops what is due, and re-reads the
database only once a minute (RESYNC_SECONDS), for work another instance planned and left.
A restart rebuilds the heaps from the database the same way. Thread-safe: the planners run
in worker threads.
"""

import heapq
import threading
from datetime import datetime

RESYNC_SECONDS = 60.0
# Escalation times are re-read less often: one read of every open alert's index entry, which on
# a lived-in installation (20,000 open alerts) is seconds of the database's time. An alert's
# writer schedules its own escalations as it sets them; this is for the ones another instance
# left, and a start reads them all at once anyway.
ESCALATION_RESYNC_SECONDS = 600.0


class DueQueue:
    """Keys with the moment they are due; a key scheduled again keeps only its latest moment."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []
        self._due_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def schedule(self, key: str, at: datetime) -> None:
        moment = at.timestamp()
        with self._lock:
            self._due_at[key] = moment
            heapq.heappush(self._heap, (moment, key))

    def pop_due(self, now: datetime, limit: int = 500) -> list[str]:
        """The keys due at `now`, oldest first (each once)."""
        moment = now.timestamp()
        found: list[str] = []
        with self._lock:
            while self._heap and self._heap[0][0] <= moment and len(found) < limit:
                at, key = heapq.heappop(self._heap)
                if self._due_at.get(key) == at:  # not rescheduled or cancelled since
                    del self._due_at[key]
                    found.append(key)
            if len(self._heap) > 4 * len(self._due_at) + 1000:  # drop stale entries now and then
                self._heap = [(at, key) for key, at in self._due_at.items()]
                heapq.heapify(self._heap)
        return found

    def __len__(self) -> int:
        with self._lock:
            return len(self._due_at)


class Destinations:
    """Each pending notification's receiver (its target) and when it was created: enough for
    the dispatcher to hold back a notification whose receiver is failing without reading it
    from the database (hundreds of them per backoff step, with a receiver down for a day)."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._known: dict[str, tuple[str | None, datetime]] = {}
        self._lock = threading.Lock()

    def remember(self, key: str, target: str | None, created_at: datetime) -> None:
        with self._lock:
            if len(self._known) >= self.limit and key not in self._known:
                self._known.clear()  # rare; what is forgotten is read from the database again
            self._known[key] = (target, created_at)

    def get(self, key: str) -> tuple[str | None, datetime] | None:
        return self._known.get(key)

    def forget(self, key: str) -> None:
        with self._lock:
            self._known.pop(key, None)


notifications = DueQueue()  # notification key → its send_at (first attempt or next retry)
destinations = Destinations()  # notification key → (target, created_at), while it is pending
late_checks = DueQueue()  # notification key → when to look for items that missed it
escalations = DueQueue()  # alert id → next_escalation_at
