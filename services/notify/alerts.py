"""Alerts and their state: one case per alert id, written only by the notify instance that owns
the alert's partition (store_alert for what rules sends, apply_command for every other change),
who may see and act on it, and why each group was (or was not) notified."""

import contextlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import bson
from pymongo.errors import DuplicateKeyError

from liaison_common.events import SEVERITIES
from liaison_common.failpoints import failpoint
from liaison_common.registry_view import RegistryView
from liaison_common.tokens import Principal
from services.notify import alert_events, alert_index, timers
from services.notify.calendar import WorkingCalendar, add_working_time
from services.notify.case_cache import cases, load_case
from services.notify.clock import aware, now
from services.notify.config import Settings
from services.notify.documents import (
    Alert,
    HistoryEntry,
    Notification,
    NotificationItem,
    insert_new_documents,
)
from services.notify.exceptions import Conflict, Forbidden, NotFound
from services.notify.metrics import ACTIONS, END_TO_END_SECONDS, TIME_TO_ACT
from services.notify.planning import insert_items, plan_notifications

log = logging.getLogger(__name__)

GROUP_SUBJECTS = ("group", "work_group")


MAX_SOURCES = 20


WORKING_CALENDAR = WorkingCalendar.load()


def escalation_due(moment: datetime, seconds: float, settings: Settings) -> datetime:
    """When an escalation (or its next reminder) falls due: `seconds` after `moment`, counted on
    working days only when NOTIFY_WORKING_DAYS_ONLY is set."""
    if settings.working_days_only:
        return add_working_time(moment, seconds, WORKING_CALENDAR)
    return moment + timedelta(seconds=seconds)


@dataclass(frozen=True)
class GroupTimers:
    """How long a case waits, set per primary group in the registry (notify's defaults else)."""

    escalation_seconds: float
    reminder_seconds: float
    ack_timeout_seconds: float


def primary_group(routes: list[dict[str, Any]]) -> str | None:
    return next((r.get("group_id") for r in routes if r.get("role") == "primary"), None)


def group_timers(routes: list[dict[str, Any]], view: RegistryView, settings: Settings) -> GroupTimers:
    """The primary group's `escalation_hours`, `reminder_hours` and `ack_timeout_hours` from the
    registry, each falling back to NOTIFY_ESCALATION_DELAY_SECONDS, …_REPEAT_… and
    NOTIFY_ACK_TIMEOUT_SECONDS."""
    primary = primary_group(routes)
    data = (view.get("group", primary) or {}) if primary else {}

    def seconds(field: str, default: float) -> float:
        value = data.get(field)
        return float(value) * 3600 if isinstance(value, int | float) and value > 0 else default

    return GroupTimers(
        escalation_seconds=seconds("escalation_hours", settings.escalation_delay_seconds),
        reminder_seconds=seconds("reminder_hours", settings.escalation_repeat_seconds),
        ack_timeout_seconds=seconds("ack_timeout_hours", settings.ack_timeout_seconds),
    )


def escalates(alert: dict[str, Any]) -> bool:
    """High and critical alerts, and every major incident, are escalated when nobody acknowledges."""
    return alert["severity"] in ("high", "critical") or alert["type"] == "major_incident"


def visible_to(principal: Principal, alert: Alert) -> bool:
    if principal.is_admin:
        return True
    if principal.subject_type in GROUP_SUBJECTS:
        return principal.subject_id in alert.group_ids
    return principal.subject_type == "enterprise" and principal.subject_id == alert.enterprise_id


def may_act(principal: Principal, alert: Alert) -> bool:
    """A group the alert is routed (or escalated) to may acknowledge and resolve it; so may the admin."""
    return principal.is_admin or (
        principal.subject_type in GROUP_SUBJECTS and principal.subject_id in alert.group_ids
    )


def alert_dict(alert: Alert) -> dict[str, Any]:
    return stored_alert_dict(alert.to_mongo().to_dict())


# What an enterprise reads of its own case (issue 35.7): the facts, the status and the measures.
# Group comments, silences, suppressions and delivery records are for the groups and the admin.
ENTERPRISE_HISTORY = frozenset(
    {"received", "updated", "acknowledged", "resolved", "reopened", "escalated", "corrected", "archived"}
)
GROUP_ONLY_FIELDS = ("suppressions", "earlier_updates")


def as_seen_by(principal: Principal, data: dict[str, Any]) -> dict[str, Any]:
    """The alert as the caller may read it: whole for groups and the admin; for an enterprise,
    without the groups' notes (a history entry keeps its time and event, and the rules' detail)."""
    if principal.subject_type != "enterprise":
        return data
    shown = {k: v for k, v in data.items() if k not in GROUP_ONLY_FIELDS}
    shown["history"] = [
        {"at": entry.get("at"), "event": entry.get("event"), "by": "rules" if entry.get("by") == "rules" else "group",
         **({"detail": entry.get("detail")} if entry.get("by") == "rules" else {})}
        for entry in data.get("history", [])
        if entry.get("event") in ENTERPRISE_HISTORY
    ]  # fmt: skip
    return shown


def inbox_page(filters: dict[str, Any], *, limit: int, offset: int) -> list[dict[str, Any]]:
    """The alerts matching `filters` (already narrowed to what the caller may see), newest first.
    Read as raw documents: building a Document per alert cost more than the query."""
    return [stored_alert_dict(doc) for doc in alert_index.page(filters, limit=limit, offset=offset)]


def stored_alert_dict(data: dict[str, Any]) -> dict[str, Any]:
    """An alert as the API shows it, from its stored document (a list reads these raw: building
    mongoengine objects for a page of alerts with their histories cost most of its time)."""
    data["alert_id"] = data.pop("_id")
    data.pop("pending_plan", None)  # the writer's own bookkeeping
    data.pop("plan_batch", None)
    for moment in (
        "received_at",
        "updated_at",
        "first_delivered_at",
        "next_escalation_at",
        "archived_at",
        "coordinating_until",
    ):
        if data.get(moment) is not None:
            data[moment] = aware(data[moment]).isoformat()  # type: ignore[union-attr]
    data["history"] = [
        {**entry, "at": aware(entry["at"]).isoformat()}  # type: ignore[union-attr]
        for entry in data.get("history", [])
    ]
    return data


CASE_FIELDS = (
    "severity",
    "summary",
    "evidence",
    "source_ids",
    "routes",
    "group_ids",
    "last_period_end",
    "occurrences",
    "measures",
)


def merge(existing: dict[str, Any], incoming: dict[str, Any]) -> dict[str, Any]:
    """A case seen again: a redelivery, another report of the same period, or a later period.

    A later period (or the same one) brings the case's latest severity, summary, evidence,
    `last_period_end` and `occurrences`; an older message (a redelivery after the case moved
    on) changes nothing of that. Sources and routes are united; the status is decided apart.
    """
    merged = dict(existing)
    latest = existing.get("last_period_end") or existing.get("period_end") or ""
    incoming_last = incoming.get("last_period_end") or incoming.get("period_end") or ""
    resolution = incoming.get("state") == "resolved"
    if not resolution and incoming_last > latest:
        merged.update({k: incoming.get(k) for k in ("severity", "summary", "evidence", "measures")})
        merged["last_period_end"] = incoming_last
        merged["occurrences"] = max(
            int(incoming.get("occurrences") or 1), int(existing.get("occurrences") or 1)
        )
    elif not resolution and incoming_last == latest:
        if SEVERITIES.index(incoming["severity"]) > SEVERITIES.index(existing["severity"]):
            merged.update(
                severity=incoming["severity"],
                summary=incoming.get("summary"),
                evidence=incoming.get("evidence"),
            )
        merged["occurrences"] = max(
            int(incoming.get("occurrences") or 1), int(existing.get("occurrences") or 1)
        )
        if not existing.get("measures") and incoming.get("measures"):
            merged["measures"] = incoming["measures"]
    if not resolution:  # the report that ended the case is named in the resolution's history
        merged["source_ids"] = list(
            dict.fromkeys([*existing.get("source_ids", []), *incoming.get("source_ids", [])])
        )[-MAX_SOURCES:]
    known = {route["group_id"] for route in existing.get("routes", [])}
    merged["routes"] = [
        *existing.get("routes", []),
        *[r for r in incoming.get("routes", []) if r["group_id"] not in known],
    ]
    merged["group_ids"] = list(
        dict.fromkeys([*existing.get("group_ids", []), *[r["group_id"] for r in merged["routes"]]])
    )
    return merged


def status_change(existing: dict[str, Any], incoming: dict[str, Any]) -> str | None:
    """`resolved` (by data), `reopened`, or None: what the incoming message does to the status."""
    latest = existing.get("last_period_end") or existing.get("period_end") or ""
    incoming_last = incoming.get("last_period_end") or incoming.get("period_end") or ""
    if incoming.get("state") == "resolved":
        return "resolved" if existing.get("status") != "resolved" and incoming_last >= latest else None
    if existing.get("status") == "resolved" and incoming_last > latest:
        return "reopened"  # detected again in a later period
    return None


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
        alert_events.record(
            alert.alert_id, "received", by="rules", detail={"groups": alert.group_ids}, at=alert.received_at
        )
        if alert.next_escalation_at is not None:
            timers.escalations.schedule(alert.alert_id, alert.next_escalation_at)
        cases.keep(as_stored(document))  # its first update reads nothing
    for change in changes:
        if change["alert_id"] in stored:
            alert_events.enqueue(change)
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
        alert_events.enqueue(change)
    cases.keep(existing)
    return results


def merge_into(
    existing: Alert, incoming: dict[str, Any], *, moment: datetime, view: RegistryView, settings: Settings
) -> tuple[str, list[str]]:
    """Apply one message to a stored case in memory (saved by the caller). Returns the outcome
    and the groups to notify: all of them when the case ended or came back, else the new ones."""
    if incoming.get("correction"):
        return apply_correction(existing, incoming, moment=moment)
    current = alert_dict(existing)
    merged = merge(current, incoming)
    changed = {k: merged.get(k) for k in CASE_FIELDS if merged.get(k) != current.get(k)}
    transition = status_change(current, incoming)
    if not changed and transition is None:
        return "repeat", []
    for key, value in changed.items():
        setattr(existing, key, value)
    existing.updated_at = moment
    if changed:
        detail = ", ".join(sorted(changed))
        existing.history.append(HistoryEntry(at=moment, event="updated", by="rules", detail=detail))
        fold_updates(existing)
        alert_events.record(
            existing.alert_id,
            "updated",
            by="rules",
            detail={
                "fields": sorted(changed),
                "last_period_end": merged.get("last_period_end"),
                "occurrences": merged.get("occurrences"),
            },
            at=moment,
        )
    outcome = "updated"
    if transition == "resolved":
        existing.status, existing.resolved_by, existing.next_escalation_at = "resolved", "data", None
        ended_by = ", ".join(incoming.get("source_ids") or [])
        note = f"absent from two consecutive reports ({ended_by}): resolved by data"
        existing.history.append(HistoryEntry(at=moment, event="resolved", by="rules", detail=note))
        alert_events.record(
            existing.alert_id, "resolved", by="rules", detail={"resolved_by": "data"}, at=moment
        )
        outcome = "resolved"
    elif transition == "reopened":
        existing.status, existing.resolved_by = "open", None
        note = f"detected again in the period ending {merged.get('last_period_end')}"
        existing.history.append(HistoryEntry(at=moment, event="reopened", by="rules", detail=note))
        alert_events.record(existing.alert_id, "reopened", by="rules", detail=note, at=moment)
        outcome = "reopened"
    if existing.next_escalation_at is None and existing.status == "open" and escalates(merged):
        delay = group_timers(existing.routes, view, settings).escalation_seconds
        existing.next_escalation_at = escalation_due(moment, delay, settings)
        timers.escalations.schedule(existing.alert_id, existing.next_escalation_at)
    if outcome in ("resolved", "reopened"):
        return outcome, list(
            existing.group_ids
        )  # the groups are told once that the case ended (or came back)
    return outcome, [g for g in merged["group_ids"] if g not in current.get("group_ids", [])]


def apply_correction(existing: Alert, incoming: dict[str, Any], *, moment: datetime) -> tuple[str, list[str]]:
    """A correction of one period changed the case (docs/contract.md §7): withdrawn whole (resolved by
    correction), recounted (`occurrences`, `last_period_end`), or judged again on the corrected
    figures. Every group already told is told of it; who acknowledged stays in the history."""
    correction = incoming["correction"]
    detail = {k: correction.get(k) for k in ("report_id", "replaces", "period_end", "withdrawn")}
    if correction.get("withdrawn"):
        existing.occurrences = int(incoming.get("occurrences") or existing.occurrences or 1)
        existing.last_period_end = incoming.get("last_period_end") or existing.last_period_end
        if incoming.get("state") == "resolved":
            resolved_by = incoming.get("resolved_by") or "correction"  # a data query's: "data"
            if existing.status == "resolved" and existing.resolved_by == resolved_by:
                return "repeat", []
            existing.status, existing.next_escalation_at = "resolved", None
            existing.resolved_by = detail["resolved_by"] = resolved_by
    else:
        same = all(existing_value == incoming.get(k) for k, existing_value in _figures(existing).items())
        if same and set(incoming.get("source_ids") or []) <= set(existing.source_ids or []):
            return "repeat", []
        existing.severity = incoming.get("severity") or existing.severity
        existing.summary = incoming.get("summary") or existing.summary
        existing.evidence = incoming.get("evidence") or existing.evidence
    # The correcting report takes the replaced one's place among the case's sources.
    sources = [s for s in existing.source_ids or [] if s != correction.get("replaces")]
    existing.source_ids = list(dict.fromkeys([*sources, *(incoming.get("source_ids") or [])]))[-MAX_SOURCES:]
    detail["occurrences"], detail["last_period_end"] = existing.occurrences, existing.last_period_end
    note = f"report {detail['report_id']} corrects {detail['replaces']} for the period ending {detail['period_end']}"
    existing.history.append(HistoryEntry(at=moment, event="corrected", by="rules", detail=note))
    existing.updated_at = moment
    alert_events.record(existing.alert_id, "corrected", by="rules", detail=detail, at=moment)
    return ("resolved" if existing.status == "resolved" else "corrected"), list(existing.group_ids)


def _figures(alert: Alert) -> dict[str, Any]:
    return {"severity": alert.severity, "summary": alert.summary, "evidence": alert.evidence}


# The rules' weekly updates a stored case keeps in its history (the latest ones); the rest are
# counted in `earlier_updates`, so that a case's document, and the cost of each of its writes,
# stops growing with its age (FerretDB reads and rewrites a document whole on every update).
KEPT_UPDATES = 8


def fold_updates(alert: Alert) -> None:
    """Keep the latest KEPT_UPDATES of the rules' "updated" entries; count the ones taken out.
    Every other entry (received, acknowledgements, comments, deliveries …) stays."""
    updates = [i for i, entry in enumerate(alert.history) if entry.event == "updated" and entry.by == "rules"]
    excess = len(updates) - KEPT_UPDATES
    if excess <= 0:
        return
    dropped = set(updates[:excess])
    alert.history = [entry for i, entry in enumerate(alert.history) if i not in dropped]
    alert.earlier_updates = (alert.earlier_updates or 0) + excess


def planned(alert: Alert) -> None:
    alert.pending_plan = alert.plan_batch = None
    Alert.objects(alert_id=alert.alert_id).update_one(unset__pending_plan=True, unset__plan_batch=True)


def plan_escalation(alert: Alert, *, view: RegistryView, settings: Settings, group: str) -> None:
    """An escalation goes to 综合组 (`group`); from the first reminder on (level 2), also to
    the 组长 of the case's primary group, through the subscriptions marked `leader`."""
    plan_notifications(alert, [group], view=view, settings=settings, kind="escalation")
    primary = primary_group(alert.routes)
    if alert.escalation_level >= 2 and primary:
        plan_notifications(alert, [primary], view=view, settings=settings, kind="escalation", leader=True)


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


ARCHIVE = "alerts_archive"


def archived(alert_id: str) -> Alert | None:
    """An alert moved to the archive (resolved long ago): read-only, still readable by id."""
    doc = Alert._get_db()[ARCHIVE].find_one({"_id": alert_id})
    return None if doc is None else Alert._from_son(doc)


def archive_resolved(settings: Settings) -> int:
    """Move alerts resolved more than `archive_after_days` ago to the archive collection, so
    that the working set (the inbox, the writer's lookups) stays the size of what is current.

    Each move is an insert into the archive, then a delete that holds only if the alert has not
    changed since it was read (a comment, a reopening): otherwise the copy is taken back and the
    alert stays. Any notify instance may run it; a second mover finds the copy there already.
    """
    cutoff = now() - timedelta(days=settings.archive_after_days)
    live, archive = Alert._get_collection(), Alert._get_db()[ARCHIVE]
    moved = 0
    for found in Alert.objects(status="resolved").only("alert_id", "updated_at"):
        updated_at = aware(found.updated_at)
        if updated_at is None or updated_at >= cutoff:
            continue
        doc = live.find_one({"_id": found.alert_id})
        if doc is None or doc.get("status") != "resolved" or doc.get("updated_at") != found.updated_at:
            continue  # changed since
        doc["archived_at"] = now()
        with contextlib.suppress(DuplicateKeyError):
            archive.insert_one(doc)
        if live.delete_one(
            {"_id": found.alert_id, "status": "resolved", "updated_at": found.updated_at}
        ).deleted_count:
            moved += 1
            alert_index.forget(found.alert_id)
            alert_events.record(
                found.alert_id,
                "archived",
                by="notify",
                at=doc["archived_at"],
                detail={"after_days": settings.archive_after_days},
            )
        else:
            archive.delete_one({"_id": found.alert_id})
    return moved


def get_visible(alert_id: str, principal: Principal) -> Alert:
    alert = Alert.objects(alert_id=alert_id).first() or archived(alert_id)
    if alert is None:
        raise NotFound(f"no alert with id '{alert_id}'")
    if not visible_to(principal, alert):
        raise Forbidden(
            f"alert '{alert_id}' is not routed to {principal.subject_type} '{principal.subject_id}'"
        )
    return alert


ACTION_TARGETS = {"ack": "acknowledged", "resolve": "resolved"}


def check_action(alert_id: str, principal: Principal, *, action: str) -> tuple[Alert, bool]:
    """May this principal acknowledge or resolve the alert? (alert, whether anything would change);
    NotFound, Forbidden or Conflict otherwise. The change itself is a command for the alert's
    writer (see apply_command)."""
    alert = get_visible(alert_id, principal)
    if not may_act(principal, alert):
        raise Forbidden(f"only a group alert '{alert_id}' is routed to may {action} it")
    _refuse_archived(alert)
    target = ACTION_TARGETS[action]
    if alert.status == "resolved" and action == "ack":
        raise Conflict(f"alert '{alert_id}' is already resolved")
    return alert, alert.status != target


def _refuse_archived(alert: Alert) -> None:
    if getattr(alert, "archived_at", None) is not None:
        raise Conflict(f"alert '{alert.alert_id}' was resolved long ago and archived: it is read-only")


def command_applied(alert_id: str, command_id: str) -> Alert | None:
    alert = Alert.objects(alert_id=alert_id).first()
    if alert is None or not any(entry.ref == command_id for entry in alert.history):
        return None
    return alert


def check_comment(alert_id: str, principal: Principal) -> Alert:
    alert = get_visible(alert_id, principal)
    if not may_act(principal, alert):
        raise Forbidden(f"only a group alert '{alert_id}' is routed to may comment on it")
    _refuse_archived(alert)
    return alert


# How far ahead a group may put a case under coordination (协调中): a season at most, so that no
# case drops out of escalation for good by a typing error.
MAX_COORDINATION_DAYS = 92


def coordination_problem(until: datetime, moment: datetime) -> str | None:
    """What is wrong with this end of a coordination (协调中), if anything."""
    if until <= moment:
        return "must be in the future"
    if until > moment + timedelta(days=MAX_COORDINATION_DAYS):
        return f"at most {MAX_COORDINATION_DAYS} days ahead"
    return None


def check_coordination(alert_id: str, principal: Principal) -> Alert:
    """May this principal mark the case 协调中? NotFound, Forbidden or Conflict otherwise."""
    alert = get_visible(alert_id, principal)
    if not may_act(principal, alert):
        raise Forbidden(f"only a group alert '{alert_id}' is routed to may coordinate it")
    _refuse_archived(alert)
    if alert.status == "resolved":
        raise Conflict(f"alert '{alert_id}' is resolved: there is nothing left to coordinate")
    return alert


def action_applied(alert_id: str, action: str) -> Alert | None:
    """The alert once the writer has applied the action (read your write), else None."""
    alert = Alert.objects(alert_id=alert_id).first()
    if alert is None:
        return None
    done = alert.status == ACTION_TARGETS[action] or (action == "ack" and alert.status == "resolved")
    return alert if done else None


def escalations_due(settings: Settings, *, resync: bool = False) -> list[dict[str, Any]]:
    """Commands to escalate (or remind about) every open alert whose escalation time has come.

    The due times are in memory (timers.escalations), filled by the writer as it sets them and
    re-read from the database when `resync` is asked (at start, then once a minute). Read-only:
    the alert's writer applies the commands, and a level applied already changes nothing.
    """
    moment = now()
    if resync and alert_index.view.loaded.is_set():  # from the index in memory, not the database
        for alert_id, when in alert_index.view.escalations():
            timers.escalations.schedule(alert_id, when)
    elif resync:  # still loading at start: the database's entries
        for status in ("open", "acknowledged"):  # one equality each: FerretDB reads all for $in
            for entry in alert_index.entries(status=status):
                if entry.get("next_escalation_at") is not None:
                    timers.escalations.schedule(entry["_id"], aware(entry["next_escalation_at"]) or moment)
    commands = []
    for alert_id in timers.escalations.pop_due(moment):
        alert = (
            Alert.objects(alert_id=alert_id)
            .only("alert_id", "status", "escalation_level", "next_escalation_at")
            .first()
        )
        due_at = aware(alert.next_escalation_at) if alert is not None else None
        if alert is None or alert.status == "resolved" or due_at is None:
            continue  # resolved or gone since
        if due_at > moment:
            timers.escalations.schedule(alert_id, due_at)
            continue
        if alert.status == "acknowledged":  # acknowledged and left unresolved: open it again
            detail = {"reason": "acknowledged and not resolved in time (the group's acknowledgement timeout)"}
            commands.append(
                alert_events.change(alert_id, "reopened", by="notify", at=moment, command=True, detail=detail)
            )
            continue
        level = alert.escalation_level + 1
        commands.append(
            alert_events.change(
                alert_id,
                "escalated",
                by="notify",
                at=moment,
                command=True,
                detail={"to": settings.escalation_group, "level": level},
            )
        )
    return commands


def apply_command(
    command: dict[str, Any], *, view: RegistryView, settings: Settings
) -> tuple[Alert | None, bool]:
    """Apply one command from liaison.alert-events.v1 to its alert; only the owner of the
    alert's partition calls this, so every alert has one writer. Returns (alert, changed).

    Each command is idempotent: applying it again (a redelivery) changes nothing.
    """
    alert = load_case(command["alert_id"])
    if alert is None:
        return None, False
    if alert.pending_plan:
        # A writer killed between storing a change and planning its notifications left them
        # unplanned: plan them before anything else changes the case (a redelivered command may
        # find nothing more to do, and another command would overwrite the pending plan).
        finish_planning(alert, view=view, settings=settings)
    applied = _apply_command(alert, command, view=view, settings=settings)
    cases.keep(alert)  # saved, or unchanged: either way what the store holds
    return applied


def _apply_command(
    alert: Alert, command: dict[str, Any], *, view: RegistryView, settings: Settings
) -> tuple[Alert | None, bool]:
    listed = alert_index.entry_of(alert)
    event, detail = command["event"], command.get("detail") or {}
    moment = datetime.fromisoformat(command["at"]) if command.get("at") else now()
    if event in ("acknowledged", "resolved"):
        if alert.status == event or (event == "acknowledged" and alert.status == "resolved"):
            return alert, False
        alert.status = event
        alert.next_escalation_at = None
        ack_timeout = group_timers(alert.routes, view, settings).ack_timeout_seconds
        if event == "acknowledged" and ack_timeout > 0:
            # Re-triggered if it is still not resolved by then (or by the end of a coordination).
            timeout_at = escalation_due(moment, ack_timeout, settings)
            until = aware(alert.coordinating_until)
            alert.next_escalation_at = max(timeout_at, until) if until is not None else timeout_at
            timers.escalations.schedule(alert.alert_id, alert.next_escalation_at)
        alert.updated_at = moment
        if event == "resolved":
            alert.resolved_by = "group"
        alert.history.append(
            HistoryEntry(
                at=moment,
                event=event,
                by=str(detail.get("principal") or command["by"]),
                detail=str(detail.get("comment") or ""),
            )
        )
        alert_index.save(alert, listed)
        action = "ack" if event == "acknowledged" else "resolve"
        ACTIONS.labels(action).inc()
        received = aware(alert.received_at)
        if received is not None:
            TIME_TO_ACT.labels(str(command["by"]), action).observe(
                max((moment - received).total_seconds(), 0)
            )
        return alert, True
    if event == "commented":
        if any(entry.ref == command.get("id") for entry in alert.history):
            return alert, False
        alert.history.append(
            HistoryEntry(
                at=moment,
                event="commented",
                by=str(detail.get("principal") or command["by"]),
                detail=str(detail.get("comment") or ""),
                ref=command.get("id"),
            )
        )
        alert.updated_at = moment
        alert_index.save(alert, listed)
        return alert, True
    if event == "reopened":  # an acknowledgement that timed out (escalations_due)
        if alert.status != "acknowledged":
            return alert, False  # resolved, or reopened already: nothing to do
        alert.status = "open"
        alert.updated_at = moment
        alert.next_escalation_at = (
            escalation_due(moment, group_timers(alert.routes, view, settings).escalation_seconds, settings)
            if escalates(alert_dict(alert))
            else None
        )
        if alert.next_escalation_at is not None:
            timers.escalations.schedule(alert.alert_id, alert.next_escalation_at)
        alert.history.append(
            HistoryEntry(at=moment, event="reopened", by="notify", detail=str(detail.get("reason") or ""))
        )
        alert.pending_plan = "alerts"
        alert_index.save(alert, listed)
        failpoint("notify.reopened.after-store")
        # The groups are told again: the case is theirs once more.
        plan_notifications(alert, alert.group_ids, view=view, settings=settings, kind="alerts")
        planned(alert)
        return alert, True
    if event == "coordinating":
        if any(entry.ref == command.get("id") for entry in alert.history):
            return alert, False
        until = datetime.fromisoformat(str(detail["until"]))
        alert.coordinating_until = until
        # Escalation and reminders wait for the coordination to end; then, if the case is still
        # open, they go on from there.
        due = aware(alert.next_escalation_at)
        if alert.status in ("open", "acknowledged") and due is not None and due < until:
            alert.next_escalation_at = until
            timers.escalations.schedule(alert.alert_id, until)
        note = f"协调中，至 {until.isoformat()}" + (f"：{detail['comment']}" if detail.get("comment") else "")
        alert.history.append(
            HistoryEntry(
                at=moment,
                event="coordinating",
                by=str(detail.get("principal") or command["by"]),
                detail=note,
                ref=command.get("id"),
            )
        )
        alert.updated_at = moment
        alert_index.save(alert, listed)
        return alert, True
    if event == "delivered":
        notification_id = str(detail.get("notification") or "")
        if any(h.event == "sent" and h.detail == notification_id for h in alert.history):
            return alert, False
        alert.history.append(
            HistoryEntry(at=moment, event="sent", by=str(detail.get("channel") or ""), detail=notification_id)
        )
        first = alert.first_delivered_at is None
        if first:
            alert.first_delivered_at = moment
        alert_index.save(alert, listed)
        if first and alert.submitted_at:
            with contextlib.suppress(ValueError):
                submitted = datetime.fromisoformat(alert.submitted_at)
                END_TO_END_SECONDS.observe(max((moment - submitted).total_seconds(), 0))
        return alert, True
    if event == "escalated":
        level = int(detail.get("level") or 0)
        if alert.status != "open" or alert.escalation_level != level - 1:
            finish_planning(alert, view=view, settings=settings)
            return alert, False
        group = str(detail.get("to") or settings.escalation_group)
        alert.escalation_level = level
        reminder = group_timers(alert.routes, view, settings).reminder_seconds
        alert.next_escalation_at = escalation_due(moment, reminder, settings)
        timers.escalations.schedule(alert.alert_id, alert.next_escalation_at)
        if group not in alert.group_ids:
            alert.group_ids.append(group)
        alert.updated_at = moment
        alert.history.append(
            HistoryEntry(
                at=moment,
                event="escalated" if level == 1 else "reminded",
                by="notify",
                detail=f"to {group}, level {level}",
            )
        )
        alert.pending_plan = "escalation"
        alert_index.save(alert, listed)
        failpoint("notify.escalated.after-store")
        plan_escalation(alert, view=view, settings=settings, group=group)
        planned(alert)
        return alert, True
    return alert, False  # delivery_failed and the rest are records only


def without_target(text: str | None, target: str | None) -> str | None:
    """An error message with the receiver's URL or address taken out (groups read it)."""
    if not text or not target:
        return text
    return text.replace(target, "<target>")


def why_notified(alert_id: str, principal: Principal) -> dict[str, Any]:
    """Why each routed group was (or was not) notified of the alert (docs/contract.md §6)."""
    alert = get_visible(alert_id, principal)
    items = list(NotificationItem.objects(alert_id=alert_id).only("key"))
    keys = [item.key for item in items]
    notifications = list(Notification.objects(key__in=keys)) if keys else []
    groups: dict[str, dict[str, Any]] = {}
    for route in alert.routes:
        groups[route["group_id"]] = {
            "group_id": route["group_id"],
            "role": route.get("role"),
            "reason": route.get("reason") or "",
            "silences": [],
            "deliveries": [],
        }
    for group_id in alert.group_ids:
        groups.setdefault(
            group_id,
            {
                "group_id": group_id,
                "role": "escalation",
                "reason": "escalated: not acknowledged in time",
                "silences": [],
                "deliveries": [],
            },
        )
    if principal.subject_type == "enterprise":  # who was told and how is the groups' (35.7)
        return {"alert_id": alert.alert_id, "status": alert.status, "groups": list(groups.values())}
    for held in alert.suppressions or []:
        entry = groups.get(held.get("group_id", ""))
        if entry is not None:
            entry["silences"].append(
                {k: held.get(k) for k in ("kind", "id", "reason", "at", "ends_at") if k in held}
            )
    for notification in notifications:
        entry = groups.get(notification.group_id)
        if entry is None:
            continue
        delivered_at = aware(notification.delivered_at)
        entry["deliveries"].append(
            {
                "channel": notification.channel,
                "kind": notification.kind,
                "notification_id": notification.key,
                "outcome": {"delivered": "delivered", "expired": "failed"}.get(
                    notification.status, "pending"
                ),
                "at": delivered_at.isoformat() if delivered_at else None,
                "attempts": notification.attempts,
                "last_error": without_target(notification.last_error, notification.target),
            }
        )
    if principal.subject_type in GROUP_SUBJECTS and not principal.is_admin:
        shown = [groups[principal.subject_id]] if principal.subject_id in groups else []
    else:
        shown = list(groups.values())
    return {"alert_id": alert_id, "status": alert.status, "groups": shown}
