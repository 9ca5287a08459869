"""A stored case seen again: a redelivery, another report of the same period, a later period, a
resolution by data, a correction. In memory; the caller (alerts.store_repeats) saves and plans."""

from datetime import datetime
from typing import Any

from liaison_common.alert_contract import SEVERITIES
from liaison_common.registry_view import RegistryView
from services.notify import alert_changes, timers
from services.notify.config import Settings
from services.notify.documents import Alert, HistoryEntry, alert_dict
from services.notify.escalation import escalates, escalation_due, group_timers

MAX_SOURCES = 20


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
        alert_changes.record(
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
        alert_changes.record(
            existing.alert_id, "resolved", by="rules", detail={"resolved_by": "data"}, at=moment
        )
        outcome = "resolved"
    elif transition == "reopened":
        existing.status, existing.resolved_by = "open", None
        note = f"detected again in the period ending {merged.get('last_period_end')}"
        existing.history.append(HistoryEntry(at=moment, event="reopened", by="rules", detail=note))
        alert_changes.record(existing.alert_id, "reopened", by="rules", detail=note, at=moment)
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
    note = (
        f"report {detail['report_id']} corrects {detail['replaces']}"
        f" for the period ending {detail['period_end']}"
    )
    existing.history.append(HistoryEntry(at=moment, event="corrected", by="rules", detail=note))
    existing.updated_at = moment
    alert_changes.record(existing.alert_id, "corrected", by="rules", detail=detail, at=moment)
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
