"""What the notify integration tests share: the admin header, alerts, publishing, waiting."""

import time
from collections.abc import Callable

from kafka import KafkaProducer

from liaison_common import jsonbytes, tokens
from liaison_common.kafka_auth import kafka_auth
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
