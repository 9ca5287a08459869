"""The platform that `make up` leaves running, seen from outside as a user sees it."""

import json
import time

import httpx
import pytest

from liaison_client.local import local_admin_token
from tests.kafka_helpers import wait_for_events

pytestmark = pytest.mark.integration
REGISTRY = "http://127.0.0.1:8002"
INGEST = "http://127.0.0.1:8001"
NOTIFY = "http://127.0.0.1:8003"
PROMETHEUS = "http://127.0.0.1:9090"


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    try:
        response = httpx.get(url, headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=5)
    except httpx.TransportError as error:
        pytest.fail(f"{url} is not answering ({error}); run `make up` first")
    return response.status_code, response.content


@pytest.fixture(scope="module")
def admin_token() -> str:
    return local_admin_token() or ""


def test_registry_is_healthy_and_seeded(admin_token):
    status, body = get(f"{REGISTRY}/healthz")
    assert status == 200
    entities = json.loads(body)["entities"]
    assert (entities["group"], entities["work_group"]) == (8, 20)
    status, body = get(f"{REGISTRY}/v1/enterprises?is_key=true", admin_token)
    assert status == 200 and len(json.loads(body)) == 14


def test_registry_refuses_a_caller_without_a_token():
    status, body = get(f"{REGISTRY}/v1/groups")
    assert status == 401 and "detail" in json.loads(body)


def test_ingest_knows_the_registry_and_takes_a_report(admin_token):
    status, body = get(f"{INGEST}/healthz")
    assert status == 200 and json.loads(body)["enterprises_known"] >= 101
    report = {
        "report_id": f"e2e-{time.time_ns()}",
        "enterprise_id": "qinghai-salt-lake",
        "period_start": "2011-12-12",
        "period_end": "2011-12-18",
        "submitted_at": "2011-12-19T09:30:00+08:00",
        "indicators": {"inventory_t": 420000, "sales_t": 60000},
    }
    headers = {"Authorization": f"Bearer {admin_token}"}
    first = httpx.post(f"{INGEST}/v1/reports", json=report, headers=headers, timeout=10)
    # Accepted, or (after earlier runs of the suite sent their own report for this week) a
    # correction of the last one (docs/contract.md §7): a new report either way.
    assert (first.status_code, first.json()["status"] in ("accepted", "correction")) == (202, True), (
        first.text
    )
    again = httpx.post(f"{INGEST}/v1/reports", json=report, headers=headers, timeout=10)
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    # Rules turns it into an alert: 420,000 t in stock is 7 weeks of sales (stockpile ≥ 4).
    alerts = wait_for_events(
        "127.0.0.1:9092", "liaison.alerts.v1",
        lambda events: any(report["report_id"] in e.get("source_ids", []) for e in events), timeout=120,
    )  # fmt: skip
    alert = next(e for e in alerts if report["report_id"] in e.get("source_ids", []))
    # A case of the salt lake's stockpile: this week's own, or (after `make up`'s demo found the
    # stockpile in the weeks around it) the demo's case, which this report joins.
    assert alert["alert_id"].startswith("stockpile.qinghai-salt-lake.")
    assert alert["last_period_end"] >= "2011-12-18" and alert["measures"]
    assert (alert["routes"][0]["group_id"], alert["routes"][0]["role"]) == ("industry-matching", "primary")
    # Notify stores it: the industry-matching group sees it in its inbox.
    group = httpx.post(
        f"{REGISTRY}/v1/tokens",
        json={"subject_type": "group", "subject_id": "industry-matching"},
        headers=headers,
    ).json()["token"]
    deadline = time.monotonic() + 60
    while True:
        status, body = get(f"{NOTIFY}/v1/alerts/{alert['alert_id']}", group)
        if status == 200 and report["report_id"] in json.loads(body)["source_ids"]:
            break
        assert time.monotonic() < deadline, f"the alert did not reach notify: {status} {body[:200]!r}"
        time.sleep(0.5)


@pytest.mark.parametrize(
    "job", ["liaison-registry", "liaison-ingest", "liaison-rules", "liaison-notify", "liaison-console"]
)
def test_prometheus_scrapes_every_service(job):
    deadline = time.monotonic() + 30
    while True:
        status, body = get(f"{PROMETHEUS}/api/v1/targets")
        assert status == 200
        targets = [t for t in json.loads(body)["data"]["activeTargets"] if t["labels"].get("job") == job]
        if targets and targets[0]["health"] == "up":
            break
        assert time.monotonic() < deadline, f"{job} target not up in Prometheus: {targets}"
        time.sleep(1)


def test_prometheus_holds_the_registry_metrics():
    deadline = time.monotonic() + 30
    while True:
        _, body = get(f"{PROMETHEUS}/api/v1/query?query=liaison_registry_entities")
        series = json.loads(body)["data"]["result"]
        if {s["metric"]["entity_type"] for s in series} >= {"group", "work_group", "enterprise"}:
            break
        assert time.monotonic() < deadline, f"liaison_registry_entities not in Prometheus: {series}"
        time.sleep(1)


def test_a_subscription_and_a_routing_rule_made_in_the_registry_reach_rules_and_notify(admin_token):
    """Nothing injected: the registry's own API makes the enterprise, the routing rule and the
    webhook subscription; rules routes by the new rule, notify delivers signed with the
    subscription's own secret."""
    import hashlib
    import hmac
    import uuid

    from tests.notify.receivers import WebhookReceiver

    headers = {"Authorization": f"Bearer {admin_token}"}
    suffix = uuid.uuid4().hex[:8]
    rule_url = f"{REGISTRY}/v1/routing-rules/workforce_cut"
    original = httpx.get(rule_url, headers=headers, timeout=10).json()
    receiver = WebhookReceiver()
    subscription_id = f"e2e-sme-{suffix}"
    try:
        changed = httpx.patch(rule_url, json={"primary": "sme", "cc": ["enterprise-management"]}, headers=headers,
                              timeout=10)  # fmt: skip
        assert changed.status_code == 200, changed.text
        created = httpx.post(f"{REGISTRY}/v1/subscriptions", headers=headers, timeout=10,
                             json={"id": subscription_id, "group_id": "sme", "channel": "webhook",
                                   "target": receiver.url})  # fmt: skip
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        for attempt in range(3):  # each a new enterprise, so each a new case that notify plans
            # rules, ingest and notify follow the registry topic: a moment for the rule and channel
            time.sleep(3)
            enterprise_id = f"e2e-co-{suffix}-{attempt}"
            body = {
                "id": enterprise_id,
                "name": f"端到端测试企业{suffix}{attempt}",
                "work_group_ids": ["wg-light-textile"],
            }
            assert (
                httpx.post(f"{REGISTRY}/v1/enterprises", json=body, headers=headers, timeout=10).status_code
                == 201
            )
            time.sleep(2)
            report = {"report_id": f"e2e-{suffix}-{attempt}", "enterprise_id": enterprise_id,
                      "period_start": "2005-03-07", "period_end": "2005-03-13",
                      "submitted_at": "2005-03-14T09:00:00+08:00", "indicators": {"wage_arrears": 120}}  # fmt: skip
            answer = httpx.post(f"{INGEST}/v1/reports", json=report, headers=headers, timeout=10)
            assert answer.status_code == 202, answer.text
            deadline = time.monotonic() + 30
            while not alert_deliveries(receiver) and time.monotonic() < deadline:
                time.sleep(0.5)
            if alert_deliveries(receiver):
                break
        assert alert_deliveries(receiver), "no alert reached the subscription made through the registry"
        request = alert_deliveries(receiver)[0]
        alert = json.loads(request["body"])["liaison"]["alerts"][0]
        assert alert["type"] == "workforce_cut" and alert["enterprise_id"].startswith(f"e2e-co-{suffix}")
        assert ("sme", "primary") in [(r["group_id"], r["role"]) for r in alert["routes"]]
        sent_headers = {k.lower(): v for k, v in request["headers"].items()}
        signed = sent_headers["x-liaison-timestamp"].encode() + b"." + request["body"]
        expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        assert sent_headers["x-liaison-signature"] == expected
    finally:
        receiver.close()
        httpx.delete(f"{REGISTRY}/v1/subscriptions/{subscription_id}", headers=headers, timeout=10)
        restore = {k: original[k] for k in ("primary", "cc", "cc_when_sme") if k in original}
        httpx.patch(rule_url, json=restore, headers=headers, timeout=10)


def alert_deliveries(receiver: object) -> list[dict]:
    """Requests carrying alerts (a new subscription may also get a weekly digest)."""
    return [r for r in receiver.accepted() if json.loads(r["body"])["liaison"].get("alerts")]  # type: ignore[attr-defined]
