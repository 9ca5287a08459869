"""mongoengine documents of notify: alerts with their history, and the delivery outbox."""

from collections.abc import Mapping
from typing import Any

import mongoengine as me
from pymongo.errors import BulkWriteError

from services.notify.clock import aware

DUPLICATE_KEY = 11000


def insert_new_documents(document_class: type[me.Document], documents: list[Mapping[str, Any]]) -> set[int]:
    """Insert the documents in one round trip, unordered; return the indexes of those refused
    because their `_id` (or another unique key) is stored already: a redelivery, which keeps
    what was stored. Any other error is raised."""
    if not documents:
        return set()
    try:
        document_class._get_collection().insert_many(list(documents), ordered=False)
    except BulkWriteError as error:
        errors = error.details.get("writeErrors", [])
        if error.details.get("writeConcernErrors") or any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        return {e["index"] for e in errors}
    return set()


# The inbox's filters, newest first: a group's, an enterprise's, a status, all of them. Alerts and
# their index entries (AlertIndexEntry) are read by the same filters.
INBOX_INDEXES: list[Any] = [
    ("group_ids", "-received_at"),
    ("enterprise_id", "-received_at"),
    ("status", "-received_at"),
    "-received_at",
]


class HistoryEntry(me.EmbeddedDocument):
    at = me.DateTimeField(required=True)
    event = me.StringField(required=True)  # received, updated, sent, acknowledged, escalated, resolved …
    by = me.StringField()  # who: a group, a channel kind, "rules", "notify"
    detail = me.StringField()
    ref = me.StringField()  # the id of the command that made this entry (commands are applied once)


class Alert(me.Document):
    """An alert as rules published it, plus its lifecycle. One document per alert_id."""

    # The inbox's filters, newest first: a group's, an enterprise's, a status, all of them.
    meta = {
        "collection": "alerts",
        "strict": False,
        "indexes": INBOX_INDEXES,
    }

    alert_id = me.StringField(primary_key=True)
    type = me.StringField(required=True)
    severity = me.StringField(required=True)
    enterprise_id = me.StringField()
    work_group_id = me.StringField()
    region = me.StringField()  # docs/contract.md §7: a region's growth case names the region instead
    period_end = me.StringField()  # the case's first period
    last_period_end = me.StringField()  # the latest period in which it was detected
    occurrences = me.IntField(default=1)
    measures = me.ListField(me.DictField())
    resolved_by = me.StringField()  # "group", "data" or "correction" once resolved
    detected_at = me.StringField()
    submitted_at = me.StringField()
    summary = me.StringField()
    evidence = me.DictField()
    routes = me.ListField(me.DictField())
    source_ids = me.ListField(me.StringField())
    # Every group that may see it: the routes, and the comprehensive group once escalated.
    group_ids = me.ListField(me.StringField())
    status = me.StringField(default="open", choices=("open", "acknowledged", "resolved"))
    received_at = me.DateTimeField(required=True)
    updated_at = me.DateTimeField()
    first_delivered_at = me.DateTimeField()
    escalation_level = me.IntField(default=0)
    next_escalation_at = me.DateTimeField()
    # 协调中: a routed group is coordinating the case until then; no escalation or reminder before.
    coordinating_until = me.DateTimeField()
    history = me.EmbeddedDocumentListField(HistoryEntry)
    # The rules' weekly "updated" entries beyond the latest KEPT_UPDATES, taken out of `history`
    # (a case open for a year would carry 52 of them, and every write of the case with them):
    # how many there were. Every one stays on liaison.alert-events.v1, the full audit log.
    earlier_updates = me.IntField()
    # A planning of notifications that was decided but not yet done ("alerts" or "escalation"): set
    # in the same write as the change that calls for it, cleared once planned, so a writer killed
    # in between plans it when the message comes again. Escalations and commands use it; what
    # rules sends is planned before it is written instead (alerts.store_new, store_repeats).
    pending_plan = me.StringField()
    # Written by earlier versions: the consumer batch that inserted it, while its planning was
    # pending. New cases are planned before they are inserted now (alerts.store_new).
    plan_batch = me.StringField()
    # Silences and inhibitions that kept a group from being notified: {group_id, kind, id, at, reason}.
    suppressions = me.ListField(me.DictField())
    # Set on the copy in the archive (alerts resolved more than NOTIFY_ARCHIVE_AFTER_DAYS ago).
    archived_at = me.DateTimeField()


class AlertIndexEntry(me.Document):
    """What the inbox filters and sorts an alert by, and what the dispatcher's periodic work
    reads of it; nothing else (services/notify/alert_index.py)."""

    meta = {
        "collection": "alert_index",
        "strict": False,
        "indexes": list(INBOX_INDEXES),
    }

    alert_id = me.StringField(primary_key=True)
    group_ids = me.ListField(me.StringField())
    enterprise_id = me.StringField()
    type = me.StringField()
    status = me.StringField()
    received_at = me.DateTimeField(required=True)
    severity = me.StringField()
    escalation_level = me.IntField()
    next_escalation_at = me.DateTimeField()
    primary_group = me.StringField()


class Notification(me.Document):
    """One message to one receiver: the outbox row the dispatcher delivers, retries and records.

    Its id is the idempotency key (receiver, grouping key, step), sent as Idempotency-Key, so
    a receiver can tell a repeat; a lease lets only one notify instance send it at a time.
    """

    meta = {"collection": "notifications", "strict": False}

    key = me.StringField(primary_key=True)
    subscription_id = me.StringField(required=True)
    group_id = me.StringField(required=True)
    channel = me.StringField(required=True, choices=("webhook", "email", "inbox"))
    target = me.StringField()
    kind = me.StringField(default="alerts")  # alerts, escalation or digest
    # A digest carries its own content; alert notifications are built from their alerts at send time.
    subject = me.StringField()
    body = me.StringField()
    digest = me.DictField()
    grouping = me.StringField()  # subscription|kind|type: alerts with the same grouping share a window
    alert_ids = me.ListField(me.StringField())
    status = me.StringField(default="collecting", choices=("collecting", "pending", "delivered", "expired"))
    created_at = me.DateTimeField(required=True)
    send_at = me.DateTimeField(required=True)  # the end of the grouping window, then the next retry
    attempts = me.IntField(default=0)
    last_error = me.StringField()
    lease_until = me.DateTimeField()
    delivered_at = me.DateTimeField()


class NotificationItem(me.Document):
    """One alert in a grouped notification. Inserted, never updated by the planner: FerretDB
    1.24 loses concurrent updates of one document (two notify instances adding alerts to the same
    notification lost some), while inserts under a unique index are safe."""

    meta = {
        "collection": "notification_items",
        "indexes": [{"fields": ["key", "alert_id"], "unique": True}, "key", "created_at"],
    }

    key = me.StringField(required=True)  # the notification's key
    alert_id = me.StringField(required=True)
    created_at = me.DateTimeField(required=True)
    sent_in = me.StringField()  # the notification that carried it (a late item goes in a later one)


class DeliveryClaim(me.Document):
    """Who sends one attempt of a notification: the instance whose insert succeeds.

    `_id` is key|attempt|lease window; a claim from the window before, younger than the lease,
    still holds, so a crashed sender's notification is claimed again a lease later.
    """

    meta = {"collection": "delivery_claims", "strict": False}

    claim_id = me.StringField(primary_key=True)
    claimed_at = me.DateTimeField(required=True)
    claimed_by = me.StringField()


class ReportingWeek(me.Document):
    """The week's reporting completeness from rules (liaison.reporting.v1), the latest record."""

    meta = {"collection": "reporting_weeks", "strict": False}

    week = me.StringField(primary_key=True)
    record = me.DictField()


class Silence(me.Document):
    """A group's (or the admin's) silence: matching alerts are stored and listed, not delivered."""

    meta = {"collection": "silences", "strict": False, "indexes": ["ends_at"]}

    silence_id = me.StringField(primary_key=True)
    matchers = me.DictField()  # enterprise_id, type, group_id: each optional, all must match
    starts_at = me.DateTimeField(required=True)
    ends_at = me.DateTimeField(required=True)
    comment = me.StringField()
    created_by = me.StringField()
    created_at = me.DateTimeField(required=True)


def alert_dict(alert: Alert) -> dict[str, Any]:
    return stored_alert_dict(alert.to_mongo().to_dict())


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
