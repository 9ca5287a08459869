"""What the notify integration tests share: the admin header, alerts, publishing, waiting."""

import time
import uuid
from collections.abc import Callable
from typing import Any

from kafka import KafkaProducer

from liaison_common import jsonbytes, tokens
from liaison_common.kafka_auth import kafka_auth
from services.notify.documents import Notification
from tests.conftest import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SECRET = "test-webhook-secret-0123456789"


def alert(alert_id: str = "funding_gap.chalco-qinghai.2011-12-18", **changes: object) -> dict:
    return {
        "alert_id": alert_id,
        "type": "funding_gap",
        "severity": "medium",
        "enterprise_id": "chalco-qinghai",
        "period_end": "2011-12-18",
        "detected_at": "2011-12-19T09:31:00+08:00",
        "submitted_at": "2011-12-19T09:30:00+08:00",
        "summary": "中国铝业股份有限公司青海分公司资金缺口10000万元。",
        "evidence": {"values": {"gap": 10000}},
        "routes": [
            {"group_id": "finance", "role": "primary"},
            {"group_id": "wg-credit", "role": "cc"},
            {"group_id": "wg-aluminium", "role": "cc"},
        ],
        "source_ids": ["chalco-qinghai-2011-W50"],
        **changes,
    }


def publish(bootstrap: str, topic: str, *items: dict) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, **kafka_auth(), acks="all")
    for item in items:
        producer.send(
            topic, key=str(item.get("alert_id", item.get("week"))).encode(), value=jsonbytes.dumps(item)
        )
    producer.flush()
    producer.close()


def delivered_ids(hook: Any) -> list[str]:
    """The alert ids of every notification a webhook receiver accepted, once per notification."""
    return [a["labels"]["alert_id"] for payload in hook.payloads() for a in payload["alerts"]]


def marker_after(bootstrap: str, topic: str, after: dict, **changes: object) -> dict:
    """Publish an alert of another enterprise (so no silence or inhibition of `after`'s applies)
    on `after`'s partition (its key): notify takes it after `after` and anything published
    before it. Returns the alert published."""
    fields = {"routes": after["routes"][:1], **changes}
    item = alert(f"stockpile.marker-{uuid.uuid4().hex[:8]}.2011-12-18", type="stockpile",
                 enterprise_id="xining-special-steel", summary="哨兵", **fields)  # fmt: skip
    producer = KafkaProducer(bootstrap_servers=bootstrap, **kafka_auth(), acks="all")
    producer.send(topic, key=str(after["alert_id"]).encode(), value=jsonbytes.dumps(item))
    producer.flush()
    producer.close()
    return item


def escalations_of(hook: Any, alert_id: str) -> int:
    """How many escalation notifications carried this alert to a receiver."""
    return sum(
        1
        for payload in hook.payloads()
        if payload["liaison"]["kind"] == "escalation"
        and alert_id in [a["labels"]["alert_id"] for a in payload["alerts"]]
    )


def outbox_settled() -> bool:
    """Whether every notification planned in this test's database is delivered or given up. A
    settled notification is never sent again: once all are, a second sending of any would have
    reached its receiver already (the status is written after the receiver answered)."""
    return (
        Notification.objects.count() > 0
        and not Notification.objects(status__in=["collecting", "pending"]).count()
    )


def sentinel_after(bootstrap: str, topic: str, after: dict, hook: Any, **changes: object) -> str:
    """In place of a fixed wait before asserting that nothing more came: a marker (marker_after)
    to a group the hook serves. Its notification is planned after those of `after` and anything
    published before it, and leaves after them: once the hook has it, a duplicate planned for
    them would have come. Returns its alert id."""
    sentinel_id = str(marker_after(bootstrap, topic, after, **changes)["alert_id"])
    eventually(lambda: sentinel_id in delivered_ids(hook), timeout=30)
    return sentinel_id


def eventually(check: Callable[[], object], timeout: float = 30.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def token(subject_type: str, subject_id: str) -> dict[str, str]:
    secret, _ = tokens.issue_token(subject_type=subject_type, subject_id=subject_id)
    return {"Authorization": f"Bearer {secret}"}
