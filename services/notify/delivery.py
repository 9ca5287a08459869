"""Delivering notifications: the channels, and the dispatcher that sends what is due.

A notification is leased before it is sent (only one notify instance sends it), marked
delivered after the receiver accepted it, and otherwise retried with exponential backoff
and jitter until it expires. Everything is in the database, so a restart of notify carries
on where it stopped. The lease means a receiver is sent a notification once, unless notify
dies between the receiver's answer and the write that records it: then the same
Idempotency-Key arrives again, which the receiver can drop.
"""

import json
import logging
import smtplib
import time
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import httpx
from anyio import to_thread

from liaison_common import jsonbytes
from services.notify import service
from services.notify.config import Settings
from services.notify.documents import Alert, HistoryEntry, Notification
from services.notify.metrics import DELIVERIES, DELIVERY_SECONDS, END_TO_END_SECONDS, PENDING_DELIVERIES

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)


class DeliveryFailed(Exception):
    pass


async def send_webhook(
    client: httpx.AsyncClient, notification: Notification, body: bytes, settings: Settings
) -> None:
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Liaison-Timestamp": timestamp,
        "X-Liaison-Signature": service.signature(settings.webhook_secret.get_secret_value(), timestamp, body),
        "Idempotency-Key": notification.key,
    }
    try:
        answer = await client.post(
            notification.target or "", content=body, headers=headers, timeout=settings.webhook_timeout_seconds
        )
    except httpx.HTTPError as error:
        raise DeliveryFailed(f"{type(error).__name__}: {error}") from error
    if not 200 <= answer.status_code < 300:
        raise DeliveryFailed(f"HTTP {answer.status_code}: {answer.text[:200]}")


def send_email(notification: Notification, subject: str, text: str, settings: Settings) -> None:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = notification.target or ""
    message["Subject"] = subject
    message["Message-ID"] = f"<{notification.key.replace('|', '.')}@liaison>"
    message.set_content(text)
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.webhook_timeout_seconds
        ) as smtp:
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise DeliveryFailed(f"{type(error).__name__}: {error}") from error


async def deliver(client: httpx.AsyncClient, notification: Notification, settings: Settings) -> None:
    if notification.kind == "digest":
        if notification.channel == "webhook":
            body = jsonbytes.dumps(
                {"kind": "digest", "notification_id": notification.key, "digest": notification.digest}
            )
            await send_webhook(client, notification, body, settings)
        elif notification.channel == "email":
            await to_thread.run_sync(
                send_email, notification, notification.subject or "", notification.body or "", settings
            )
        return
    alerts = [service.alert_dict(a) for a in Alert.objects(alert_id__in=notification.alert_ids)]
    alerts.sort(key=lambda a: notification.alert_ids.index(a["alert_id"]))
    if notification.channel == "webhook":
        await send_webhook(
            client, notification, jsonbytes.dumps(service.webhook_payload(notification, alerts)), settings
        )
    elif notification.channel == "email":
        subject, text = service.email_text(notification, alerts)
        await to_thread.run_sync(send_email, notification, subject, text, settings)


def _claim(key: str) -> Notification | None:
    moment = service.now()
    return Notification.objects(key=key, status__in=("collecting", "pending"), lease_until__lt=moment).modify(
        set__lease_until=moment + LEASE, set__status="pending", new=True
    )


def _record_delivery(notification: Notification) -> None:
    moment = service.now()
    Notification.objects(key=notification.key).update_one(
        set__status="delivered",
        set__delivered_at=moment,
        set__lease_until=service.EPOCH,
        set__attempts=notification.attempts + 1,
    )
    created = service.aware(notification.created_at)
    assert created is not None
    DELIVERY_SECONDS.labels(notification.channel).observe((moment - created).total_seconds())
    entry = HistoryEntry(
        at=moment, event="sent", by=f"{notification.channel}:{notification.target}", detail=notification.key
    )
    for alert_id in notification.alert_ids:
        Alert.objects(alert_id=alert_id).update_one(push__history=entry)
        first = Alert.objects(alert_id=alert_id, first_delivered_at=None).modify(
            set__first_delivered_at=moment, new=True
        )
        if first is not None and first.submitted_at:
            submitted = service.aware(_parse(first.submitted_at))
            if submitted is not None:
                END_TO_END_SECONDS.observe(max((moment - submitted).total_seconds(), 0))


def _parse(text: str) -> Any:
    from datetime import datetime

    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _record_failure(notification: Notification, error: str, settings: Settings) -> str:
    moment = service.now()
    attempts = notification.attempts + 1
    created = service.aware(notification.created_at)
    assert created is not None
    if (moment - created).total_seconds() > settings.delivery_expiry_seconds:
        Notification.objects(key=notification.key).update_one(
            set__status="expired",
            set__attempts=attempts,
            set__last_error=error,
            set__lease_until=service.EPOCH,
        )
        return "expired"
    retry_at = moment + timedelta(seconds=service.backoff(attempts, settings))
    Notification.objects(key=notification.key).update_one(
        set__attempts=attempts, set__last_error=error, set__send_at=retry_at, set__lease_until=service.EPOCH
    )
    return "retry"


async def dispatch_due(client: httpx.AsyncClient, settings: Settings) -> int:
    """Send every notification whose time has come; return how many were delivered."""
    moment = service.now()
    due = await to_thread.run_sync(
        lambda: [
            n.key
            for n in Notification.objects(
                status__in=("collecting", "pending"), send_at__lte=moment, lease_until__lt=moment
            ).only("key")
        ]
    )
    delivered = 0
    for key in due:
        notification = await to_thread.run_sync(_claim, key)
        if notification is None:
            continue  # another instance has it
        try:
            await deliver(client, notification, settings)
        except DeliveryFailed as error:
            outcome = await to_thread.run_sync(_record_failure, notification, str(error), settings)
            DELIVERIES.labels(notification.channel, outcome).inc()
            log.info("delivery of %s failed (%s): %s", key, outcome, error)
            continue
        await to_thread.run_sync(_record_delivery, notification)
        DELIVERIES.labels(notification.channel, "delivered").inc()
        delivered += 1
    PENDING_DELIVERIES.set(
        await to_thread.run_sync(lambda: Notification.objects(status__in=("collecting", "pending")).count())
    )
    return delivered


def describe(notification: Notification) -> dict[str, Any]:
    data = json.loads(notification.to_json())
    data["key"] = data.pop("_id")
    return data
