"""Delivering notifications: the channels, and the dispatcher that sends what is due.

Each attempt at a notification is claimed before it is sent: the notify instance whose insert
of the claim (key|attempt|lease window) succeeds sends it; the others skip it. Claims are
inserts, not updates, because FerretDB 1.24 loses concurrent updates of one document (a
lease taken by update let two instances hold it). The sender records the outcome: delivered,
or retried with exponential backoff and jitter until it expires. Everything is in the
database, so a restart of notify carries on where it stopped. A receiver is sent a
notification once, unless notify dies between the receiver's answer and the write that
records it: then the same Idempotency-Key arrives again (in the next lease window), which
the receiver can drop.
"""

import asyncio
import json
import logging
import os
import socket
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
from anyio import to_thread
from mongoengine.errors import NotUniqueError

from services.notify import access, alert_changes, clock, payloads, planning, timers
from services.notify.channels import DeliveryFailed, deliver
from services.notify.config import Settings
from services.notify.documents import DeliveryClaim, Notification, NotificationItem
from services.notify.metrics import DELIVERIES, DELIVERY_SECONDS, PENDING_DELIVERIES

log = logging.getLogger(__name__)
LEASE_SECONDS = 60
INSTANCE = f"{socket.gethostname()}:{os.getpid()}"
# An item planned this long ago and still not sent missed its notification (it was added after
# the notification left): it goes into the current window again.
LATE_AFTER = timedelta(seconds=30)
_last_resync = -1e9  # the first pass reads what is due from the database


class Receivers:
    """Receivers (targets) that are failing, and until when nothing more is sent to them.

    After a failure, the other notifications for the same target wait for its backoff instead
    of each trying (and reading its alerts) in turn: a receiver that is down for a day costs one
    attempt per backoff step, not one per pending notification. In memory, per instance.
    """

    def __init__(self) -> None:
        self._down: dict[str, tuple[int, datetime]] = {}  # target → (failures in a row, until)
        self._lock = threading.Lock()

    def down_until(self, target: str | None, moment: datetime) -> datetime | None:
        with self._lock:
            failing = self._down.get(target or "")
        return failing[1] if failing is not None and failing[1] > moment else None

    def failed(self, target: str | None, moment: datetime, settings: Settings) -> None:
        with self._lock:
            failures = self._down.get(target or "", (0, moment))[0] + 1
            self._down[target or ""] = (
                failures,
                moment + timedelta(seconds=payloads.backoff(failures, settings)),
            )

    def answered(self, target: str | None) -> None:
        with self._lock:
            self._down.pop(target or "", None)


receivers = Receivers()


def _claim(key: str, settings: Settings) -> tuple[Notification, str] | None:
    """This instance's right to send the notification's next attempt (with the claim's id), or
    None. A notification
    still pending that this instance may not send now is put back on its timer for when it may
    (its retry time, or the end of another sender's lease)."""
    moment = clock.now()
    known = timers.destinations.get(key)
    if known is not None and _held_back(key, known[0], known[1], moment, settings):
        return None  # its receiver is failing: held back without reading it
    notification = Notification.objects(key=key).first()
    if notification is None or notification.status not in ("collecting", "pending"):
        timers.destinations.forget(key)
        return None
    created = clock.aware(notification.created_at) or moment
    timers.destinations.remember(key, notification.target, created)
    send_at = clock.aware(notification.send_at)
    if send_at is not None and send_at > moment:
        timers.notifications.schedule(key, send_at)
        return None
    if _held_back(key, notification.target, created, moment, settings):
        return None
    window = int(moment.timestamp() // LEASE_SECONDS)
    earlier = DeliveryClaim.objects(claim_id=f"{key}|{notification.attempts}|{window - 1}").first()
    claimed_at = clock.aware(earlier.claimed_at) if earlier is not None else None
    if claimed_at is not None and claimed_at > moment - timedelta(seconds=LEASE_SECONDS):
        # Claimed at the end of the last window, and maybe still being sent.
        timers.notifications.schedule(key, claimed_at + timedelta(seconds=LEASE_SECONDS))
        return None
    claim_id = f"{key}|{notification.attempts}|{window}"
    try:
        DeliveryClaim(claim_id=claim_id, claimed_at=moment, claimed_by=INSTANCE).save(force_insert=True)
    except NotUniqueError:
        # Another instance sends it (or one that died did): look again once its lease is over.
        timers.notifications.schedule(key, moment + timedelta(seconds=LEASE_SECONDS))
        return None
    return notification, claim_id


def _held_back(key: str, target: str | None, created: datetime, moment: datetime, settings: Settings) -> bool:
    """A notification whose receiver is failing waits for the receiver's next try (put back on
    its timer), unless it is old enough to expire: that attempt goes ahead and records it."""
    held_until = receivers.down_until(target, moment)
    if held_until is None or (moment - created).total_seconds() > settings.delivery_expiry_seconds:
        return False
    timers.notifications.schedule(key, held_until)
    return True


def _release_claim(claim_id: str) -> None:
    """Give back a claim whose attempt this instance did not finish (it is stopping), so that
    the next instance sends it at once rather than a lease later."""
    DeliveryClaim.objects(claim_id=claim_id, claimed_by=INSTANCE).delete()


def _record_delivery(notification: Notification) -> None:
    moment = clock.now()
    timers.destinations.forget(notification.key)
    Notification.objects(key=notification.key).update_one(
        set__status="delivered",
        set__delivered_at=moment,
        set__alert_ids=notification.alert_ids,
        set__attempts=notification.attempts + 1,
    )
    NotificationItem.objects(key=notification.key, alert_id__in=notification.alert_ids).update(
        set__sent_in=notification.key
    )
    created = clock.aware(notification.created_at)
    assert created is not None
    DELIVERY_SECONDS.labels(notification.channel).observe((moment - created).total_seconds())
    # The alerts' history is their writer's to change (FerretDB loses concurrent updates): each
    # delivery is a command for it, on the alert-events topic; it records the channel kind only.
    for alert_id in notification.alert_ids:
        alert_changes.enqueue(
            alert_changes.change(
                alert_id,
                "delivered",
                by="notify",
                at=moment,
                command=True,
                detail={
                    "group_id": notification.group_id,
                    "channel": notification.channel,
                    "notification": notification.key,
                    "kind": notification.kind,
                },
            )
        )


def replan_late_items(key: str, settings: Settings) -> int:
    """Items added to this notification after it left go into the current window's notification.

    Asked once per delivered notification, LATE_AFTER after it left (timers.late_checks): one
    query by the notification's key, never a scan of every item ever planned.
    """
    notification = Notification.objects(key=key).first()
    if notification is None or notification.status != "delivered":
        return 0
    moment = clock.now()
    carried = set(notification.alert_ids)
    replanned = 0
    for item in NotificationItem.objects(key=key, sent_in=None):
        if item.alert_id in carried:
            continue
        window = planning.grouping_window(notification.grouping or notification.key, moment, settings)
        new_key, send_at = window.key, window.leaves
        planning.insert_notification(
            key=new_key,
            subscription={
                "id": notification.subscription_id,
                "channel": notification.channel,
                "target": notification.target,
            },
            group_id=notification.group_id,
            kind=notification.kind,
            grouping=notification.grouping or notification.key,
            created_at=moment,
            send_at=send_at,
        )
        window.stored = True
        planning.add_item(new_key, item.alert_id, moment)
        NotificationItem.objects(key=key, alert_id=item.alert_id).update_one(set__sent_in=f"late:{new_key}")
        replanned += 1
    return replanned


def resync_at_next_pass() -> None:
    """At start: the first pass reads what is due from the database (timers are per process),
    and no receiver is held back by what an earlier run in this process saw of it."""
    global _last_resync, receivers
    _last_resync = -1e9
    receivers = Receivers()


def resync(settings: Settings) -> None:
    """Re-read what is due from the database: at start, then once a minute (work another
    instance planned and left, a claim that lapsed, an escalation command that was lost)."""
    for status in ("collecting", "pending"):  # one equality each: FerretDB serves it from an index
        for notification in Notification.objects(status=status).only(
            "key", "send_at", "target", "created_at"
        ):
            timers.notifications.schedule(notification.key, clock.aware(notification.send_at) or clock.now())
            created = clock.aware(notification.created_at) or clock.now()
            timers.destinations.remember(notification.key, notification.target, created)


def _record_failure(notification: Notification, error: str, settings: Settings) -> str:
    moment = clock.now()
    attempts = notification.attempts + 1
    shown = (access.without_target(error, notification.target) or "")[:300]  # groups read the events
    created = clock.aware(notification.created_at)
    assert created is not None
    expired = (moment - created).total_seconds() > settings.delivery_expiry_seconds
    if attempts == 1 or expired:
        # The first failure and the last (expired) go on each alert's record; the retries in
        # between are on the notification (attempts, last error: why-notified shows them), so
        # a receiver that is down for a day does not flood the alert-events topic.
        for alert_id in notification.alert_ids:
            alert_changes.record(
                alert_id,
                "delivery_failed",
                by="notify",
                at=moment,
                detail={
                    "group_id": notification.group_id,
                    "channel": notification.channel,
                    "attempt": attempts,
                    "error": shown,
                    "expired": expired,
                },
            )
    if expired:
        Notification.objects(key=notification.key).update_one(
            set__status="expired",
            set__attempts=attempts,
            set__last_error=error,
            set__lease_until=clock.EPOCH,
        )
        # Its items are settled too: nothing is left pending for ever.
        NotificationItem.objects(key=notification.key, sent_in=None).update(
            set__sent_in=f"expired:{notification.key}"
        )
        return "expired"
    retry_at = moment + timedelta(seconds=payloads.backoff(attempts, settings))
    Notification.objects(key=notification.key).update_one(
        set__attempts=attempts, set__last_error=error, set__send_at=retry_at, set__lease_until=clock.EPOCH
    )
    timers.notifications.schedule(notification.key, retry_at)
    return "retry"


async def dispatch_due(client: httpx.AsyncClient, settings: Settings) -> int:
    """Send every notification whose time has come (timers.notifications); return how many
    were delivered. The database is read for each notification sent, not to find them."""
    global _last_resync
    if time.monotonic() - _last_resync > timers.RESYNC_SECONDS:
        _last_resync = time.monotonic()
        await to_thread.run_sync(resync, settings)
    moment = clock.now()
    delivered = 0
    for key in timers.notifications.pop_due(moment):
        claimed = await to_thread.run_sync(_claim, key, settings)
        if claimed is None:
            continue  # another instance has it, or it is settled
        notification, claim_id = claimed
        try:
            await deliver(client, notification, settings)
        except asyncio.CancelledError:
            # Stopped mid-send: the outcome is unknown, so the attempt is given back. A receiver
            # that did take it sees the same Idempotency-Key again from the next instance.
            _release_claim(claim_id)
            raise
        except DeliveryFailed as error:
            receivers.failed(notification.target, clock.now(), settings)
            outcome = await to_thread.run_sync(_record_failure, notification, str(error), settings)
            DELIVERIES.labels(notification.channel, outcome).inc()
            log.info("delivery of %s failed (%s): %s", key, outcome, error)
            continue
        receivers.answered(notification.target)
        await to_thread.run_sync(_record_delivery, notification)
        timers.late_checks.schedule(key, clock.now() + LATE_AFTER)
        DELIVERIES.labels(notification.channel, "delivered").inc()
        delivered += 1
    for key in timers.late_checks.pop_due(moment):
        await to_thread.run_sync(replan_late_items, key, settings)
    PENDING_DELIVERIES.set(len(timers.notifications))
    return delivered


def describe(notification: Notification) -> dict[str, Any]:
    data = json.loads(notification.to_json())
    data["key"] = data.pop("_id")
    return data
