"""Who may see and act on an alert, what an enterprise reads of its own case, and why each
group was (or was not) notified."""

from datetime import datetime, timedelta
from typing import Any

from liaison_common.tokens import Principal
from services.notify.archive import archived
from services.notify.clock import aware
from services.notify.documents import Alert, Notification, NotificationItem
from services.notify.exceptions import Conflict, Forbidden, NotFound

GROUP_SUBJECTS = ("group", "work_group")


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
        {
            "at": entry.get("at"),
            "event": entry.get("event"),
            "by": "rules" if entry.get("by") == "rules" else "group",
            **({"detail": entry.get("detail")} if entry.get("by") == "rules" else {}),
        }
        for entry in data.get("history", [])
        if entry.get("event") in ENTERPRISE_HISTORY
    ]
    return shown


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
    refuse_archived(alert)
    target = ACTION_TARGETS[action]
    if alert.status == "resolved" and action == "ack":
        raise Conflict(f"alert '{alert_id}' is already resolved")
    return alert, alert.status != target


def refuse_archived(alert: Alert) -> None:
    if getattr(alert, "archived_at", None) is not None:
        raise Conflict(f"alert '{alert.alert_id}' was resolved long ago and archived: it is read-only")


def check_comment(alert_id: str, principal: Principal) -> Alert:
    alert = get_visible(alert_id, principal)
    if not may_act(principal, alert):
        raise Forbidden(f"only a group alert '{alert_id}' is routed to may comment on it")
    refuse_archived(alert)
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
    refuse_archived(alert)
    if alert.status == "resolved":
        raise Conflict(f"alert '{alert_id}' is resolved: there is nothing left to coordinate")
    return alert


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
