"""Planning notifications: which subscriptions of which groups get an alert, in which grouping
window, unless a silence or an inhibition holds it back. Insert-only, so that any number of
notify instances can plan at once (FerretDB loses concurrent updates, not inserts)."""

import contextlib
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mongoengine.errors import NotUniqueError

from liaison_common.registry_view import RegistryView
from services.notify import alert_changes, silences, timers
from services.notify.clock import EPOCH, now
from services.notify.config import Settings
from services.notify.documents import (
    Alert,
    HistoryEntry,
    Notification,
    NotificationItem,
    insert_new_documents,
)

# A grouping window's notification leaves this long after the window ends, so that an alert
# planned at the window's last moment is in it.
GRACE = timedelta(seconds=1)


def subscriptions_of(view: RegistryView, group_id: str, *, leader: bool = False) -> list[dict[str, Any]]:
    """The group's enabled push channels (the inbox needs no delivery: it is the API): its
    ordinary ones, or (leader=True) its 组长's, which only late reminders reach."""
    found = []
    for subscription_id in view.ids("subscription"):
        data = view.get("subscription", subscription_id) or {}
        if (
            data.get("group_id") == group_id
            and data.get("enabled", True)
            and data.get("channel") in ("webhook", "email")
            and bool(data.get("leader", False)) == leader
        ):
            found.append({**data, "id": subscription_id})
    return found


def plan_notifications(
    alert: Alert,
    group_ids: list[str],
    *,
    view: RegistryView,
    settings: Settings,
    kind: str,
    leader: bool = False,
    items: list[NotificationItem] | None = None,
    changes: list[dict[str, Any]] | None = None,
) -> list[str]:
    """Put the alert into a notification per subscription: for alerts, the one of the current
    grouping window (same subscription, kind and type), for escalations one of its own.

    Insert-only, so that any number of notify instances can plan at once: the window's
    notification is inserted by whoever comes first, and each alert joins it as an item. Given
    `items`, the items are collected there for the caller to insert together (insert_items).

    Given `changes`, the alert's change is not stored yet (planning comes first, so that a writer
    killed in between plans again rather than never): a silenced entry goes on the object only,
    for the caller's write to carry, and the records of what was planned are collected there,
    for the caller to send once that write is done (alert_events.enqueue).
    """
    moment = now()
    keys = []
    for group_id in group_ids:
        held_back = silences.reasons_not_to_deliver(alert, group_id, moment)
        if held_back:
            _silenced(alert, group_id, held_back, moment, changes)
            continue
        channels = []
        for subscription in subscriptions_of(view, group_id, leader=leader):
            channels.append(subscription["channel"])
            grouping = f"{subscription['id']}|{kind}|{alert.type}"
            window = None
            if kind == "alerts":
                window = grouping_window(grouping, moment, settings)
                key, send_at = window.key, window.leaves
            else:
                key, send_at = f"{grouping}|{alert.alert_id}|{alert.escalation_level}", moment
            if window is None or not window.stored:  # a window's notification is inserted once
                insert_notification(
                    key=key,
                    subscription=subscription,
                    group_id=group_id,
                    kind=kind,
                    grouping=grouping,
                    created_at=moment,
                    send_at=send_at,
                )
                if window is not None:
                    window.stored = True
            if items is None:
                add_item(key, alert.alert_id, moment)
            else:
                items.append(NotificationItem(key=key, alert_id=alert.alert_id, created_at=moment))
            keys.append(key)
        _record(
            changes,
            alert.alert_id,
            "notified",
            at=moment,
            detail={"group_id": group_id, "kind": kind, "channels": channels or ["inbox"]},
        )
    return keys


def _silenced(
    alert: Alert,
    group_id: str,
    held_back: list[dict[str, Any]],
    moment: datetime,
    changes: list[dict[str, Any]] | None,
) -> None:
    """A silence holds the group's delivery back: the case's history says so, and why."""
    entry = HistoryEntry(
        at=moment,
        event="silenced",
        by="notify",
        detail=f"{group_id}: " + "; ".join(h["reason"] for h in held_back),
    )
    if changes is None:
        Alert.objects(alert_id=alert.alert_id).update_one(
            push_all__suppressions=held_back, push__history=entry
        )
    # Mirrored on the object, which the writer keeps as the store has it (case_cache.py).
    alert.suppressions = [*(alert.suppressions or []), *held_back]
    alert.history.append(entry)
    _record(
        changes,
        alert.alert_id,
        "silenced",
        at=moment,
        detail={"group_id": group_id, "by": [{"kind": h["kind"], "id": h["id"]} for h in held_back]},
    )


def _record(changes: list[dict[str, Any]] | None, alert_id: str, event: str, **fields: Any) -> None:
    if changes is None:
        alert_changes.record(alert_id, event, by="notify", **fields)
    else:
        changes.append(alert_changes.change(alert_id, event, by="notify", **fields))


def grouping_window(grouping: str, moment: datetime, settings: Settings) -> "Window":
    """The window (its notification's key, and when it leaves) collecting `grouping`'s alerts at `moment`.

    A window opens with the first alert of its grouping and stays open `group_wait_seconds`
    (as Alertmanager's group_wait): alerts that arrive together are sent together, never split
    by a boundary fixed to the clock, up to `max_alerts_per_notification`, after which the next
    alert opens a window of its own. Windows are this writer's own (in memory): alerts of one
    grouping written by two notify instances go out in two notifications.
    """
    with _windows_lock:
        opened = _windows.get(grouping)
        if (
            opened is None
            or moment >= opened.leaves - GRACE
            or opened.alerts >= settings.max_alerts_per_notification
        ):
            # The key is unique per window even when a full one is followed in the same ms.
            stamp = int(moment.timestamp() * 1000)
            key = f"{grouping}|w{stamp}" if opened is None or opened.stamp != stamp else f"{opened.key}+"
            opened = Window(key, moment + timedelta(seconds=settings.group_wait_seconds) + GRACE, stamp)
            _windows[grouping] = opened
            if len(_windows) > 10_000:
                for stale in [g for g, window in _windows.items() if window.leaves < moment]:
                    del _windows[stale]
        opened.alerts += 1
        return opened


@dataclass
class Window:
    key: str
    leaves: datetime
    stamp: int  # the millisecond it opened
    alerts: int = 0
    stored: bool = False  # its notification is in the database (inserted by this writer)


_windows: dict[str, Window] = {}


_windows_lock = threading.Lock()


def insert_notification(
    *,
    key: str,
    subscription: dict[str, Any],
    group_id: str,
    kind: str,
    grouping: str,
    created_at: datetime,
    send_at: datetime,
) -> None:
    # A NotUniqueError means another alert (or instance) opened this window first.
    with contextlib.suppress(NotUniqueError):
        timers.notifications.schedule(key, send_at)
        timers.destinations.remember(key, subscription.get("target"), created_at)
        Notification(
            key=key,
            subscription_id=subscription["id"],
            group_id=group_id,
            channel=subscription["channel"],
            target=subscription.get("target"),
            kind=kind,
            grouping=grouping,
            alert_ids=[],
            status="pending",
            created_at=created_at,
            send_at=send_at,
            lease_until=EPOCH,
        ).save(force_insert=True)


def add_item(key: str, alert_id: str, moment: datetime) -> None:
    with contextlib.suppress(NotUniqueError):  # planned before: a redelivered alert event
        NotificationItem(key=key, alert_id=alert_id, created_at=moment).save(force_insert=True)


def insert_items(items: list[NotificationItem]) -> None:
    """Insert planned items in one round trip; one planned before (a redelivery) stays as it was."""
    insert_new_documents(NotificationItem, [item.to_mongo() for item in items])


# ------------------------------------------------------------------ actions and escalation
