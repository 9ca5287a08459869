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

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pymongo import ReplaceOne
from pymongo.errors import BulkWriteError

from services.notify.documents import Alert, AlertIndexEntry

log = logging.getLogger(__name__)

DUPLICATE_KEY = 11000
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
    requests = [ReplaceOne({"_id": alert.alert_id}, entry_of(alert), upsert=True) for alert in alerts]
    AlertIndexEntry._get_collection().bulk_write(requests, ordered=False)


def insert_entries(alerts: list[Alert]) -> None:
    """The entries of new alerts, in one round trip; one there already (a redelivery) stays."""
    if not alerts:
        return
    try:
        AlertIndexEntry._get_collection().insert_many([entry_of(alert) for alert in alerts], ordered=False)
    except BulkWriteError as error:
        if error.details.get("writeConcernErrors") or any(
            e.get("code") != DUPLICATE_KEY for e in error.details.get("writeErrors", [])
        ):
            raise


def forget(alert_id: str) -> None:
    """An alert leaves the inbox (archived)."""
    AlertIndexEntry._get_collection().delete_one({"_id": alert_id})


def page(filters: dict[str, Any], *, limit: int, offset: int) -> list[dict[str, Any]]:
    """The stored documents of the page's alerts, newest first. `filters` use the alerts' own
    field names (those of FILTERS), already narrowed to what the caller may see."""
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise ValueError(f"the inbox does not filter by {', '.join(sorted(unknown))}")
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
