"""The urgent lane's handling of one incident message (issue 39.1): pure, without Kafka."""

import base64
import json
from datetime import UTC, datetime

from liaison_common import jsonbytes
from liaison_common.deadletter import RawMessage
from liaison_common.registry_view import RegistryView
from services.rules.urgent_lane import incident_outputs

TOPICS = {"problems": "p", "alerts": "a", "dlq": "d"}
NOW = datetime(2011, 12, 20, 6, 6, tzinfo=UTC)
INCIDENT = {
    "kind": "incident", "incident_id": "salt-1", "enterprise_id": "qinghai-salt-lake",
    "occurred_at": "2011-12-20T14:05:00+08:00", "category": "safety", "severity": "critical", "summary": "塌方",
}  # fmt: skip


def view() -> RegistryView:
    registry = RegistryView()
    registry.apply({"entity_type": "enterprise", "id": "qinghai-salt-lake", "version": 1,
                    "data": {"name": "青海盐湖工业股份有限公司", "work_group_ids": ["wg-liaison", "wg-chemical"]}})  # fmt: skip
    return registry


def raw(value: bytes, offset: int = 7) -> RawMessage:
    return RawMessage("liaison.incidents.v1", 1, offset, b"qinghai-salt-lake", value)


def test_an_incident_becomes_its_problem_and_its_routed_alert():
    outputs, outcome = incident_outputs(raw(jsonbytes.dumps(INCIDENT)), view(), TOPICS, now=lambda: NOW)
    assert outcome == "ok"
    assert [(topic, key) for topic, key, _, _ in outputs] == [
        ("p", b"qinghai-salt-lake"),
        ("a", b"major_incident.qinghai-salt-lake.2011-12-20.salt-1"),
    ]
    problem, alert = (json.loads(value) for _, _, value, _ in outputs)
    assert problem["type"] == "major_incident" and problem["submitted_at"] == "2011-12-20T14:05:00+08:00"
    assert alert["severity"] == "critical" and alert["detected_at"] == NOW.isoformat()
    assert "青海盐湖工业股份有限公司" in alert["summary"] and "塌方" in alert["summary"]
    # docs/contract.md §3 and §7: comprehensive leads, operations and (a safety incident)
    # enterprise management in copy, then the enterprise's own work groups.
    assert [(r["group_id"], r["role"]) for r in alert["routes"]][:3] == [
        ("comprehensive", "primary"),
        ("operations", "cc"),
        ("enterprise-management", "cc"),
    ]


def test_an_unusable_incident_is_dead_lettered_naming_the_field_and_keeping_the_bytes():
    broken = dict(INCIDENT, category="volcano")
    del broken["occurred_at"]
    value = jsonbytes.dumps(broken)
    outputs, outcome = incident_outputs(raw(value), view(), TOPICS, now=lambda: NOW)
    assert outcome == "dead_lettered" and len(outputs) == 1
    topic, key, letter, headers = outputs[0]
    assert (topic, key, headers) == ("d", b"qinghai-salt-lake", {"liaison-reason": b"invalid"})
    record = json.loads(letter)
    assert {e["loc"][-1] for e in record["detail"]} >= {"occurred_at", "category"}
    assert base64.b64decode(record["original_value_base64"]) == value
    assert record["source"] == {"topic": "liaison.incidents.v1", "partition": 1, "offset": 7}
    assert record["rejected_by"] == "rules"

    outputs, outcome = incident_outputs(raw(b"\xff not json"), view(), TOPICS, now=lambda: NOW)
    assert outcome == "dead_lettered" and json.loads(outputs[0][2])["reason"] == "not_json"
