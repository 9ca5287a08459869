"""Storing the cases rules sends: one case per alert id, written only by the notify instance that
owns the alert's partition. New cases are planned, then inserted; repeats are merged
(merging.py), saved once per batch and planned. Commands are in commands.py, who may see and act
in access.py, escalation in escalation.py, the archive in archive.py."""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import bson

from liaison_common.failpoints import failpoint
from liaison_common.registry_view import RegistryView
from services.notify import alert_changes, alert_index, timers
from services.notify.case_cache import cases, load_case
from services.notify.clock import now
from services.notify.config import Settings
from services.notify.documents import (
    Alert,
    HistoryEntry,
    NotificationItem,
    insert_new_documents,
    stored_alert_dict,
)
from services.notify.escalation import escalates, escalation_due, group_timers, plan_escalation
from services.notify.merging import merge_into
from services.notify.planning import insert_items, plan_notifications

log = logging.getLogger(__name__)


def inbox_page(filters: dict[str, Any], *, limit: int, offset: int) -> list[dict[str, Any]]:
    """The alerts matching `filters` (already narrowed to what the caller may see), newest first.
    Read as raw documents: building a Document per alert cost more than the query."""
    return [stored_alert_dict(doc) for doc in alert_index.page(filters, limit=limit, offset=offset)]


class KnownAlerts:
    """Alert ids this writer has stored or found (at most `limit`, the most recent): a repeat of
    a known case skips the insert that would fail, one database round trip of three."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._ids: dict[str, None] = {}
        self._lock = threading.Lock()

    def has(self, alert_id: str) -> bool:
        return alert_id in self._ids

    def add(self, alert_id: str) -> None:
        with self._lock:
            self._ids.pop(alert_id, None)
            self._ids[alert_id] = None  # the most recent last
            while len(self._ids) > self.limit:
                del self._ids[next(iter(self._ids))]

    def forget(self, alert_id: str) -> None:
        with self._lock:
            self._ids.pop(alert_id, None)


known_alerts = KnownAlerts()


def store_alert(incoming: dict[str, Any], *, view: RegistryView, settings: Settings) -> tuple[Alert, str]:
    """Insert or update one case (see store_alerts). Returns (alert, outcome): new, updated,
    reopened, resolved, repeat."""
    return store_alerts([incoming], view=view, settings=settings)[0]


def store_alerts(
    batch: list[dict[str, Any]],
    *,
    view: RegistryView,
    settings: Settings,
    side_by_side: bool = True,
    assume_new: frozenset[str] = frozenset(),
) -> list[tuple[Alert, str]]:
    """Store one partition's alerts of a consumer batch: insert the new cases, merge the repeats,
    and plan their notifications when a case is new, reopened, resolved by data or routed to new
    groups. Returns (alert, outcome) per stored message: new, updated, reopened, resolved, repeat.

    FerretDB answers each round trip in milliseconds whatever it carries, so the number of round
    trips is the cost: the new cases are planned in one insert and go in with one more, and each
    repeated case is read once (none when this writer saved it last) and written once however
    often the batch names it. `side_by_side=False` stores the repeats one after the other, in the
    calling thread; `assume_new` names cases to insert whatever the index says.
    """
    moment = now()
    # New: neither stored by this writer lately nor in the alerts' index, which holds every case
    # not archived (loaded before the first message is read: kafka.consume).
    firsts: dict[str, dict[str, Any]] = {}
    for item in batch:
        alert_id = item["alert_id"]
        if alert_id not in firsts and (alert_id in assume_new or not is_stored(alert_id)):
            firsts[alert_id] = item
    # One millisecond apart (a stored time's precision), so that the newest first stays the
    # order in which they came.
    candidates = [
        new_alert(
            item,
            moment=moment - timedelta(milliseconds=len(firsts) - 1 - i),
            view=view,
            settings=settings,
        )
        for i, item in enumerate(firsts.values())
    ]
    fresh = store_new(candidates, view=view, settings=settings)
    inserted = {alert.alert_id for alert in fresh}
    results: list[tuple[Alert, str]] = [(alert, "new") for alert in fresh]
    repeats: dict[str, list[dict[str, Any]]] = {}
    for item in batch:
        alert_id = item["alert_id"]
        if not (item is firsts.get(alert_id) and alert_id in inserted):
            repeats.setdefault(alert_id, []).append(item)

    # Each case has its own thread of round trips (read, write, plan): the cases are apart, so
    # they go side by side, and the database's latency, not its work, is what they wait on.
    def store(case: tuple[str, list[dict[str, Any]]]) -> list[tuple[Alert, str]]:
        return store_repeats(case[0], case[1], moment=moment, view=view, settings=settings)

    pooled = side_by_side and len(repeats) > 1
    for outcomes in (_case_workers.map if pooled else map)(store, list(repeats.items())):
        results.extend(outcomes)
    return results


def is_stored(alert_id: str) -> bool:
    return known_alerts.has(alert_id) or alert_index.view.get(alert_id) is not None


_case_workers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="notify-case")


def new_alert(incoming: dict[str, Any], *, moment: datetime, view: RegistryView, settings: Settings) -> Alert:
    """The stored form of a case rules sent for the first time (not yet saved)."""
    fields = {
        k: incoming.get(k)
        for k in (
            "type",
            "severity",
            "enterprise_id",
            "work_group_id",
            "region",
            "period_end",
            "detected_at",
            "submitted_at",
            "summary",
        )
    }
    group_ids = list(dict.fromkeys(r["group_id"] for r in incoming.get("routes", [])))
    resolved_at_once = incoming.get("state") == "resolved"
    return Alert(
        alert_id=incoming["alert_id"],
        **fields,
        last_period_end=incoming.get("last_period_end") or incoming.get("period_end"),
        occurrences=int(incoming.get("occurrences") or 1),
        measures=incoming.get("measures") or [],
        evidence=incoming.get("evidence") or {},
        routes=incoming.get("routes") or [],
        source_ids=incoming.get("source_ids") or [],
        group_ids=group_ids,
        status="resolved" if resolved_at_once else "open",
        resolved_by=(incoming.get("resolved_by") or "data") if resolved_at_once else None,
        received_at=moment,
        updated_at=moment,
        next_escalation_at=escalation_due(
            moment, group_timers(incoming.get("routes") or [], view, settings).escalation_seconds, settings
        )
        if escalates(incoming) and not resolved_at_once
        else None,
        history=[HistoryEntry(at=moment, event="received", by="rules", detail=", ".join(group_ids))],
    )


def store_new(candidates: list[Alert], *, view: RegistryView, settings: Settings) -> list[Alert]:
    """Plan, then insert, the cases rules sent for the first time; return those inserted.

    Planned first: a writer killed between the two plans them again when their messages come
    again (a receiver may hear of a case twice, with the same alert id), where one killed after
    an insert that came first would find them stored and plan them never. So nothing marks a
    case as planned, and a new case is one write: the mark and its removal, a second write of
    every new case, took most of a batch's time when every enterprise opened a case at once
    (docs/benchmarks.md).
    """
    if not candidates:
        return []
    for alert in candidates:
        alert.validate()  # what save() would check: a bad message fails before anything is written
    items: list[NotificationItem] = []
    changes: list[dict[str, Any]] = []  # what planning did, recorded once the cases are stored
    for alert in candidates:
        if alert.status != "resolved":  # one resolved at once is news to nobody
            plan_notifications(
                alert,
                alert.group_ids,
                view=view,
                settings=settings,
                kind="alerts",
                items=items,
                changes=changes,
            )
    insert_items(items)
    failpoint("notify.new.after-plan")
    documents = [alert.to_mongo() for alert in candidates]
    stored = insert_new(candidates, documents)
    fresh = [alert for alert in candidates if alert.alert_id in stored]
    if len(fresh) < len(candidates):  # stored, though the index did not know them: planned again
        log.info("%d of %d new cases were stored already", len(candidates) - len(fresh), len(candidates))
    for alert, document in zip(candidates, documents, strict=True):
        if alert.alert_id not in stored:
            continue
        known_alerts.add(alert.alert_id)
        alert_changes.record(
            alert.alert_id, "received", by="rules", detail={"groups": alert.group_ids}, at=alert.received_at
        )
        if alert.next_escalation_at is not None:
            timers.escalations.schedule(alert.alert_id, alert.next_escalation_at)
        cases.keep(as_stored(document))  # its first update reads nothing
    for change in changes:
        if change["alert_id"] in stored:
            alert_changes.enqueue(change)
    return fresh


def as_stored(document: Any) -> Alert:
    """The alert inserted as `document`, as a read from the store gives it (times to the
    millisecond, a document that exists): what the case cache keeps."""
    return Alert._from_son(bson.decode(bson.encode(document)))


def insert_new(candidates: list[Alert], documents: list[Any]) -> set[str]:
    """Insert the cases (`documents`: their to_mongo()) in one round trip; the ids inserted (the
    others were stored already). Validated by the caller."""
    if not candidates:
        return set()
    alert_index.insert_entries(candidates)  # the entries first (alert_index.py)
    refused = insert_new_documents(Alert, documents)
    return {alert.alert_id for i, alert in enumerate(candidates) if i not in refused}


def store_repeats(
    alert_id: str, items: list[dict[str, Any]], *, moment: datetime, view: RegistryView, settings: Settings
) -> list[tuple[Alert, str]]:
    """Merge every message of one stored case, in order: one read (none when this writer saved
    the case last: case_cache.py), one write, one planning."""
    existing = load_case(alert_id)
    if existing is None:  # archived since this writer saw it: a new alert again
        known_alerts.forget(alert_id)
        first, *later = items
        # Already in a case worker's thread: no pool in the pool.
        again = store_alerts(
            [first], view=view, settings=settings, side_by_side=False, assume_new=frozenset({alert_id})
        )
        return again + (
            store_repeats(alert_id, later, moment=moment, view=view, settings=settings) if later else []
        )
    known_alerts.add(alert_id)
    finish_planning(existing, view=view, settings=settings)  # a writer killed before it planned: plan now
    results: list[tuple[Alert, str]] = []
    to_plan: list[str] = []
    listed = alert_index.entry_of(existing)
    for incoming in items:
        outcome, groups = merge_into(existing, incoming, moment=moment, view=view, settings=settings)
        results.append((existing, outcome))
        to_plan.extend(g for g in groups if g not in to_plan)
    # Planned before the change is saved, as a new case is (store_new): at least once.
    changes: list[dict[str, Any]] = []
    if to_plan:
        planned_items: list[NotificationItem] = []
        plan_notifications(
            existing,
            to_plan,
            view=view,
            settings=settings,
            kind="alerts",
            items=planned_items,
            changes=changes,
        )
        insert_items(planned_items)
    if to_plan or any(outcome != "repeat" for _, outcome in results):
        alert_index.save(existing, listed)
    for change in changes:
        alert_changes.enqueue(change)
    cases.keep(existing)
    return results


def planned(alert: Alert) -> None:
    alert.pending_plan = alert.plan_batch = None
    Alert.objects(alert_id=alert.alert_id).update_one(unset__pending_plan=True, unset__plan_batch=True)


def finish_planning(alert: Alert, *, view: RegistryView, settings: Settings) -> None:
    """Plan what a writer killed between its change and its planning left undone: at least once
    (an escalation's notification has a fixed key, so it is planned once; an alert planned in
    part before the kill may reach a receiver a second time, with the same alert id)."""
    if alert.pending_plan == "alerts":
        plan_notifications(alert, alert.group_ids, view=view, settings=settings, kind="alerts")
    elif alert.pending_plan == "escalation":
        plan_escalation(alert, view=view, settings=settings, group=settings.escalation_group)
    else:
        return
    planned(alert)
