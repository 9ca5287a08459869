"""The alerts' index: one small entry per alert, with what the inbox filters and sorts by and
what the dispatcher's periodic work reads (the open-alerts gauge, the escalation resync).

FerretDB 1.24 pushes neither a sort nor a limit down to PostgreSQL once a query has a filter:
it reads every matching document whole and sorts them in its own memory. A finance inbox over
7,000 stored alerts took 2.7–3.7 s (`make bench-scale`), and the once-a-minute escalation resync
read all 20,000 open alerts whole, nearly all of it histories, routes and evidence read only to
be thrown away. So these read the small entries, and the inbox then reads the page's alerts one
by one by `_id`, which an index serves.

An entry has the alert's one writer, who writes it *before* the alert whenever what it holds
changes: a writer killed in between leaves the entry ahead of its alert, and the change applied
again (the message comes again) brings them level. An entry whose alert is not there (not yet
inserted, or archived meanwhile) is left out of the page.
"""

import json
import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReplaceOne

from liaison_common import jsonbytes
from liaison_common.alert_contract import severity_rank
from liaison_common.registry_follower import follow_topic
from services.notify.clock import aware
from services.notify.documents import Alert, AlertIndexEntry, insert_new_documents

log = logging.getLogger(__name__)

FILTERS = ("group_ids", "enterprise_id", "type", "status")
# The page's alerts are read side by side: each read waits on the database, not on Python.
_readers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="inbox-read")


def entry_of(alert: Alert) -> dict[str, Any]:
    return {
        "_id": alert.alert_id,
        "group_ids": list(alert.group_ids),
        "enterprise_id": alert.enterprise_id,
        "type": alert.type,
        "status": alert.status,
        "received_at": alert.received_at,
        "severity": alert.severity,
        "escalation_level": alert.escalation_level,
        "next_escalation_at": alert.next_escalation_at,
        "primary_group": next((r.get("group_id") for r in alert.routes if r.get("role") == "primary"), None),
    }


def save(alert: Alert, listed: dict[str, Any]) -> None:
    """Save a changed alert, its entry first if what the entry holds changed since `listed`."""
    if entry_of(alert) != listed:
        write_entries([alert])
    alert.save()


def write_entries(alerts: list[Alert]) -> None:
    """Write the alerts' entries (before the alerts themselves), in one round trip."""
    if not alerts:
        return
    entries = [entry_of(alert) for alert in alerts]
    requests = [ReplaceOne({"_id": entry["_id"]}, entry, upsert=True) for entry in entries]
    AlertIndexEntry._get_collection().bulk_write(requests, ordered=False)
    announce(entries)


def insert_entries(alerts: list[Alert]) -> None:
    """The entries of new alerts, in one round trip; one there already (a redelivery) stays."""
    if not alerts:
        return
    entries = [entry_of(alert) for alert in alerts]
    refused = insert_new_documents(AlertIndexEntry, [dict(entry) for entry in entries])
    # Only the entries inserted: a refused one belongs to an alert stored before (a repeat this
    # writer did not know of after a restart), whose entry stays as it is.
    announce([entry for index, entry in enumerate(entries) if index not in refused])


def forget(alert_id: str) -> None:
    """An alert leaves the inbox (archived)."""
    AlertIndexEntry._get_collection().delete_one({"_id": alert_id})
    view.apply(alert_id, None, time.time_ns())
    outbox.put((alert_id, None))


def page(filters: dict[str, Any], *, limit: int, offset: int) -> list[dict[str, Any]]:
    """The stored documents of the page's alerts, newest first. `filters` use the alerts' own
    field names (those of FILTERS), already narrowed to what the caller may see."""
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise ValueError(f"the inbox does not filter by {', '.join(sorted(unknown))}")
    if view.loaded.is_set():
        ids = view.ids(filters, limit=limit, offset=offset)
    else:  # still loading at start: the database sorts (slower, the same answer)
        ids = [
            entry["_id"]
            for entry in AlertIndexEntry._get_collection()
            .find(filters, {"_id": 1})
            .sort([("received_at", -1), ("_id", 1)])
            .skip(offset)
            .limit(limit)
        ]
    alerts = Alert._get_collection()
    found = list(_readers.map(lambda alert_id: alerts.find_one({"_id": alert_id}), ids))
    return [doc for doc in found if doc is not None]


def entries(**filters: Any) -> list[dict[str, Any]]:
    """The entries matching an equality filter on their fields (raw documents)."""
    return list(AlertIndexEntry._get_collection().find(filters))


def rebuild_if_incomplete(batch: int = 500) -> int:
    """Write every alert's entry when there are fewer entries than alerts: the first start after
    an upgrade, or a writer killed between an archiving's two steps. Returns the entries written."""
    entries, stored = AlertIndexEntry._get_collection(), Alert._get_collection()
    if entries.estimated_document_count() >= stored.estimated_document_count():
        return 0
    log.info("alert index: writing the entries of %d stored alerts …", stored.estimated_document_count())
    written, requests = 0, []
    for doc in stored.find({}):
        entry = entry_of(Alert._from_son(doc))
        requests.append(ReplaceOne({"_id": entry["_id"]}, entry, upsert=True))
        if len(requests) >= batch:
            entries.bulk_write(requests, ordered=False)
            written += len(requests)
            requests = []
            log.info("alert index: %d entries written", written)
    if requests:
        entries.bulk_write(requests, ordered=False)
        written += len(requests)
    log.info("alert index: %d entries written, done", written)
    return written


# ------------------------------------------------------------------ the index in memory

# Every instance holds every entry in memory (about 300 bytes each): the inbox filters and sorts
# here, and reads from the database only the page's alerts. An instance learns its own writes at
# once and every instance's writes from liaison.alert-index.v1, a compacted topic keyed by alert
# id whose records are the entries (a tombstone when an alert is archived). A record of an older
# write that arrives after a newer one changes nothing: each entry carries the nanosecond of its
# write (its one writer's clock).


class View:
    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.loaded = threading.Event()

    def apply(self, alert_id: str, entry: dict[str, Any] | None, version: int) -> None:
        with self._lock:
            current = self._entries.get(alert_id)
            if current is not None and current["v"] > version:
                return
            if entry is None:
                self._entries.pop(alert_id, None)
            else:
                self._entries[alert_id] = {**entry, "_id": alert_id, "v": version}

    def ids(self, filters: dict[str, Any], *, limit: int, offset: int) -> list[str]:
        with self._lock:
            found = [entry for entry in self._entries.values() if matches(entry, filters)]
        found.sort(key=lambda entry: (-entry["t"], entry["_id"]))
        return [entry["_id"] for entry in found[offset : offset + limit]]

    def tally(self, filters: dict[str, Any], *, statuses: tuple[str, ...]) -> list[dict[str, Any]]:
        """How many alerts of each (enterprise, type, status) match, with the worst severity
        among them: the comprehensive group's overview, without reading an alert."""
        cells: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
        with self._lock:
            for entry in self._entries.values():
                if entry.get("status") not in statuses or not matches(entry, filters):
                    continue
                key = (entry.get("enterprise_id"), entry.get("type"), entry.get("status"))
                cell = cells.setdefault(
                    key,
                    {
                        "enterprise_id": key[0],
                        "type": key[1],
                        "status": key[2],
                        "count": 0,
                        "worst_severity": None,
                    },
                )
                cell["count"] += 1
                if severity_rank(entry.get("severity")) > severity_rank(cell["worst_severity"]):
                    cell["worst_severity"] = entry.get("severity")
        return sorted(
            cells.values(), key=lambda c: (str(c["enterprise_id"]), str(c["type"]), str(c["status"]))
        )

    def open_counts(self) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
        """The open alerts per (group, severity), and per primary group those escalated at least
        once (not acknowledged in time): the gauges of metrics.py."""
        counts: dict[tuple[str, str], int] = {}
        overdue: dict[str, int] = {}
        with self._lock:
            for entry in self._entries.values():
                if entry.get("status") != "open":
                    continue
                for group_id in entry.get("group_ids") or ():
                    key = (group_id, entry.get("severity") or "")
                    counts[key] = counts.get(key, 0) + 1
                if (entry.get("level") or 0) >= 1 and entry.get("primary"):
                    overdue[entry["primary"]] = overdue.get(entry["primary"], 0) + 1
        return counts, overdue

    def escalations(self) -> list[tuple[str, datetime]]:
        """Every alert not resolved with an escalation (or reminder) to come, and when."""
        with self._lock:
            return [
                (alert_id, moment_of(entry["next"]))
                for alert_id, entry in self._entries.items()
                if entry.get("status") in ("open", "acknowledged") and entry.get("next") is not None
            ]

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, alert_id: str) -> dict[str, Any] | None:
        return self._entries.get(alert_id)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
        self.loaded.clear()


def matches(entry: dict[str, Any], filters: dict[str, Any]) -> bool:
    for field, wanted in filters.items():
        value = entry.get(field)
        if field == "group_ids":
            if wanted not in (value or ()):
                return False
        elif value != wanted:
            return False
    return True


view = View()
outbox: "queue.SimpleQueue[tuple[str, dict[str, Any] | None]]" = queue.SimpleQueue()


def compact(entry: dict[str, Any]) -> dict[str, Any]:
    """What the view keeps of an entry (and the topic carries): the inbox's filters and its
    order, and what the open-alerts gauge and the escalation resync read (so that neither reads
    the database)."""
    return {
        "group_ids": list(entry.get("group_ids") or []),
        "enterprise_id": entry.get("enterprise_id"),
        "type": entry.get("type"),
        "status": entry.get("status"),
        "severity": entry.get("severity"),
        "t": milliseconds(entry.get("received_at")) or 0,
        "level": entry.get("escalation_level") or 0,
        "primary": entry.get("primary_group"),
        "next": milliseconds(entry.get("next_escalation_at")),
    }


UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def milliseconds(moment: datetime | None) -> int | None:
    """Whole milliseconds since 1970, as the database keeps a time: the same entry read back
    compares equal."""
    moment = aware(moment)
    return None if moment is None else (moment - UNIX_EPOCH) // timedelta(milliseconds=1)


def moment_of(ms: int | float) -> datetime:
    return UNIX_EPOCH + timedelta(milliseconds=ms)


def announce(entries: list[dict[str, Any]]) -> None:
    """Entries just written: into this instance's view at once, and onto the topic for the others."""
    version = time.time_ns()
    for entry in entries:
        small = {**compact(entry), "v": version}
        view.apply(entry["_id"], small, version)
        outbox.put((entry["_id"], small))


def encode(item: tuple[str, dict[str, Any] | None]) -> tuple[bytes, bytes | None]:
    alert_id, entry = item
    return alert_id.encode(), None if entry is None else jsonbytes.dumps(entry)


def apply_record(key: bytes | None, value: bytes | None) -> None:
    """One record of the topic into the view; one that is not an entry is skipped (logged)."""
    if key is None:
        return
    alert_id = key.decode("utf-8", "replace")
    if value is None:
        view.apply(alert_id, None, time.time_ns())
        return
    try:
        entry = json.loads(value)
        if not isinstance(entry, dict) or not isinstance(entry.get("t"), int | float):
            raise ValueError("not an index entry")
        view.apply(alert_id, entry, int(entry.get("v") or 0))
    except (ValueError, TypeError, RecursionError) as error:
        log.warning("alert index: record for %r skipped: %r", alert_id[:80], error)


async def follow(bootstrap_servers: str, topic: str) -> None:
    """Load the topic into the view (then `view.loaded` is set), and follow it, forever."""

    def loaded() -> None:
        log.info("alert index: %d entries loaded from %s", len(view), topic)
        view.loaded.set()

    await follow_topic(
        bootstrap_servers,
        topic,
        client_id="liaison-notify-alert-index",
        apply=lambda message: apply_record(message.key, message.value),
        caught_up=loaded,
    )


def publish_missing() -> int:
    """After the view is loaded at start: put on the topic every entry of the database that the
    topic lacks or holds in an older state (an installation from before the topic; a writer that
    died before its record went out). One read of every entry, once. Returns how many."""
    stale = []
    for entry in AlertIndexEntry._get_collection().find({}):
        known = view.get(entry["_id"])
        small = compact(entry)
        if known is None or {k: known.get(k) for k in small} != small:
            stale.append(entry)
    for start in range(0, len(stale), 500):
        announce(stale[start : start + 500])
    if stale:
        log.info("alert index: %d entries put on the topic", len(stale))
    return len(stale)
