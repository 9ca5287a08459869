"""Access: tokens (random, hashed, constant-time, revocable, expiring, never logged), who may do
what, and the request size limit of every endpoint."""

import hashlib
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pymongo
import pytest

from liaison_common import tokens
from tests.faults.cluster import ADMIN_TOKEN, Cluster
from tests.faults.helpers import issue_token, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.faults]
ISSUED: list[str] = []  # every token the access tests issue, looked for in the logs at the end


def token(cluster: Cluster, subject_type: str, subject_id: str) -> str:
    value = issue_token(cluster, subject_type, subject_id, description="access test")
    ISSUED.append(value)
    return value


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def report(enterprise_id: str, run: str) -> dict[str, Any]:
    return {"report_id": f"access-{run}-{enterprise_id}", "enterprise_id": enterprise_id,
            "period_start": "2010-01-04", "period_end": "2010-01-10", "submitted_at": "2010-01-11T09:00:00+08:00",
            "indicators": {"working_capital_need": 5000, "cash_on_hand": 1, "credit_available": 1}}  # fmt: skip


def status_everywhere(cluster: Cluster, value: str) -> dict[str, int]:
    """What each service answers this token on a read it would otherwise allow."""
    calls = {
        "registry": f"{cluster.url('registry')}/v1/groups",
        "notify": f"{cluster.url('notify')}/v1/alerts?limit=1",
        "ingest": f"{cluster.url('ingest')}/v1/reports",
    }
    found = {}
    for name, url in calls.items():
        if name == "ingest":  # a report for another enterprise: 403 with a valid token, 401 without
            answer = httpx.post(
                url, json=report("western-mining", "probe"), headers=bearer(value), timeout=30
            )
        else:
            answer = httpx.get(url, headers=bearer(value), timeout=30)
        found[name] = answer.status_code
    return found


def test_tokens_are_random_hashed_revocable_and_expiring(healthy_cluster, scenario):
    # Constant-time comparison is shown where it happens, in the shared function every service
    # calls: tests/common/unit/test_tokens.py.
    scenario.describe(
        "tokens: random, stored hashed, revoked, expired",
        "50 tokens distinct with ≥256 bits; the database holds only their SHA-256; the admin token is compared "
        "with hmac.compare_digest and others are looked up by hash; a revoked and an expired token get 401 "
        "on registry, notify and ingest within the 10 s cache",
    )
    cluster = healthy_cluster
    values = [token(cluster, "group", "finance") for _ in range(50)]
    assert len(set(values)) == 50
    for value in values:
        assert re.fullmatch(r"lsn_[A-Za-z0-9_-]{43}", value), value  # 32 random bytes, URL-safe base64
    database = pymongo.MongoClient(cluster.mongodb_uri, serverSelectionTimeoutMS=5000).get_default_database()
    stored = list(
        database["api_tokens"].find({"token_hash": {"$in": [tokens.hash_token(v) for v in values]}})
    )
    assert len(stored) == 50
    dump = json.dumps(stored, default=str)
    assert not any(value in dump or value[4:] in dump for value in values), "a token is stored in clear"
    assert stored[0]["token_hash"] == hashlib.sha256(values[0].encode()).hexdigest() or any(
        s["token_hash"] == hashlib.sha256(values[0].encode()).hexdigest() for s in stored
    )
    scenario.measured("50 tokens: distinct, 32 random bytes each, only SHA-256 stored")

    revoked, expiring = values[0], values[1]
    assert status_everywhere(cluster, revoked) == {"registry": 200, "notify": 200, "ingest": 403}
    record = database["api_tokens"].find_one({"token_hash": tokens.hash_token(revoked)})
    answer = httpx.delete(
        f"{cluster.url('registry')}/v1/tokens/{record['_id']}", headers=cluster.admin, timeout=30
    )
    assert answer.status_code == 200 and answer.json()["revoked_at"]
    took = wait_until("the revoked token refused everywhere", lambda: set(status_everywhere(cluster, revoked).values()) == {401},
                      timeout=20)  # fmt: skip
    scenario.measured(f"revoked: 401 everywhere after {took:.0f} s")

    assert status_everywhere(cluster, expiring)["notify"] == 200
    soon = datetime.now(UTC) + timedelta(seconds=3)
    database["api_tokens"].update_one(
        {"token_hash": tokens.hash_token(expiring)}, {"$set": {"expires_at": soon}}
    )
    took = wait_until("the expired token refused everywhere", lambda: set(status_everywhere(cluster, expiring).values()) == {401},
                      timeout=25)  # fmt: skip
    scenario.measured(f"expired: 401 everywhere {took:.0f} s after its expiry was set 3 s ahead")


def test_who_may_do_what(healthy_cluster, scenario):
    scenario.describe(
        "access rules of docs/contract.md §4",
        "an enterprise token submits only for its enterprise; a group token cannot list, read, acknowledge or "
        "resolve another group's alerts; only the admin token writes to the registry or issues tokens",
    )
    cluster, run = healthy_cluster, uuid.uuid4().hex[:6]
    chalco = token(cluster, "enterprise", "chalco-qinghai")
    finance = token(cluster, "group", "finance")
    operations = token(cluster, "group", "operations")
    checks = 0

    def expect(status: int, answer: httpx.Response, what: str) -> None:
        nonlocal checks
        assert answer.status_code == status, f"{what}: {answer.status_code} {answer.text[:200]}"
        checks += 1

    ingest, registry, notify = cluster.url("ingest"), cluster.url("registry"), cluster.url("notify")
    expect(403, httpx.post(f"{ingest}/v1/reports", json=report("western-mining", run), headers=bearer(chalco)),
           "an enterprise submitting for another")  # fmt: skip
    batch = httpx.post(f"{ingest}/v1/reports", json=[report("chalco-qinghai", run + "a"), report("western-mining", run + "b")],
                       headers=bearer(chalco)).json()  # fmt: skip
    assert [item["status"] for item in batch] == ["accepted", "rejected"], batch
    checks += 1
    expect(202, httpx.post(f"{ingest}/v1/reports", json=report("chalco-qinghai", run), headers=bearer(chalco)),
           "an enterprise submitting for itself")  # fmt: skip
    # An early week, before every later scenario's (alerts are cases, docs/contract.md §6).
    alert_id = "funding_gap.chalco-qinghai.2010-01-10"
    wait_until("the alert stored", lambda: httpx.get(f"{notify}/v1/alerts/{alert_id}", headers=cluster.admin).status_code == 200,
               timeout=120)  # fmt: skip
    expect(
        200, httpx.get(f"{notify}/v1/alerts/{alert_id}", headers=bearer(finance)), "the routed group reads it"
    )
    expect(403, httpx.get(f"{notify}/v1/alerts", params={"group_id": "finance"}, headers=bearer(operations)),
           "another group lists the finance group's alerts")  # fmt: skip
    listed = httpx.get(
        f"{notify}/v1/alerts", params={"enterprise_id": "chalco-qinghai"}, headers=bearer(operations)
    )
    assert all("operations" in a["group_ids"] for a in listed.json()), "another group's alert in a list"
    checks += 1
    for call in ("", "/ack", "/resolve"):
        method = httpx.get if not call else httpx.post
        answer = method(f"{notify}/v1/alerts/{alert_id}{call}", headers=bearer(operations))  # type: ignore[operator]
        assert answer.status_code in (403, 404), f"operations {call or 'read'}: {answer.status_code}"
        checks += 1
    expect(
        403,
        httpx.post(f"{notify}/v1/alerts/{alert_id}/ack", headers=bearer(chalco)),
        "the enterprise acknowledges",
    )
    expect(200, httpx.post(f"{notify}/v1/alerts/{alert_id}/ack", json={"comment": "ok"}, headers=bearer(finance)),
           "the routed group acknowledges")  # fmt: skip
    unit = {"id": f"access-unit-{run}", "name": "访问测试单位", "kind": "department"}
    for who, value in (("a group", finance), ("an enterprise", chalco)):
        expect(
            403,
            httpx.post(f"{registry}/v1/units", json=unit, headers=bearer(value)),
            f"{who} writes the registry",
        )
        expect(403, httpx.patch(f"{registry}/v1/groups/finance", json={"leader": "x"}, headers=bearer(value)),
               f"{who} changes a group")  # fmt: skip
        expect(
            403,
            httpx.delete(f"{registry}/v1/enterprises/chalco-qinghai", headers=bearer(value)),
            f"{who} deletes",
        )
        expect(403, httpx.post(f"{registry}/v1/tokens", json={"subject_type": "admin", "subject_id": "admin"},
                               headers=bearer(value)), f"{who} issues a token")  # fmt: skip
    expect(401, httpx.post(f"{registry}/v1/units", json=unit), "no token at all")
    expect(201, httpx.post(f"{registry}/v1/units", json=unit, headers=cluster.admin), "the admin writes")
    scenario.measured(f"{checks} access checks")


LIMITS = {"ingest": 8 * 1024 * 1024, "registry": 1024 * 1024, "notify": 1024 * 1024}


def test_every_endpoint_refuses_an_oversized_body_with_413(healthy_cluster, scenario):
    scenario.describe(
        "request size limits on every endpoint of ingest, registry and notify",
        "a body one byte over the service's limit gets 413 naming the body, declared (Content-Length) or "
        "streamed (chunked), before any handler reads it",
    )
    cluster = healthy_cluster
    checked = 0
    for service, limit in LIMITS.items():
        spec = httpx.get(f"{cluster.url(service)}/openapi.json", timeout=30).json()
        paths = [*spec["paths"], "/healthz", "/metrics", "/nowhere"]
        for path in paths:
            url = cluster.url(service) + re.sub(r"\{[^}]+\}", "x", path)
            methods = [m.upper() for m in spec["paths"].get(path, {"post": None})]
            for method in methods:
                body = b"{" + b" " * limit + b"}"
                answer = httpx.request(method, url, content=body, headers={**cluster.admin, "Content-Type": "application/json"},
                                       timeout=60)  # fmt: skip
                assert answer.status_code == 413, f"{service} {method} {path}: {answer.status_code}"
                assert answer.json()["detail"][0]["loc"] == ["body"]
                checked += 1

        def chunks(size: int = limit) -> Any:
            yield b"{"
            for _ in range(size // 65536 + 1):
                yield b" " * 65536

        first_write = next(p for p, ops in spec["paths"].items() if "post" in ops)
        answer = httpx.post(cluster.url(service) + re.sub(r"\{[^}]+\}", "x", first_write), content=chunks(),
                            headers={**cluster.admin, "Content-Type": "application/json"}, timeout=60)  # fmt: skip
        assert answer.status_code == 413, f"{service} chunked: {answer.status_code}"
        checked += 1
    scenario.measured(f"{checked} oversized requests, each 413")


def test_no_token_appears_in_any_log(healthy_cluster, scenario):
    scenario.describe(
        "no token in the logs",
        "after the access tests (valid, refused, revoked and expired tokens on every service), no log of any "
        "process of the cluster contains a token or the admin token",
    )
    cluster = healthy_cluster
    # Make every service see a bad token too: refusals are where a careless log would print one.
    for service in ("registry", "notify", "ingest"):
        httpx.get(
            f"{cluster.url(service)}/v1/alerts", headers=bearer("lsn_wrong-" + uuid.uuid4().hex), timeout=30
        )
    secrets = [*ISSUED, ADMIN_TOKEN]
    assert len(secrets) > 10, "run with the other access tests (they issue the tokens looked for)"
    logs = sorted((cluster.root / "logs").glob("*.log"))
    for path in logs:
        text = path.read_text(errors="replace")
        leaked = [s[:10] + "…" for s in secrets if s in text]
        assert not leaked, f"{path.name} holds tokens: {leaked}"
    scenario.measured(
        f"{len(secrets)} tokens looked for in {len(logs)} logs ({sum(p.stat().st_size for p in logs) // 1024} KiB)"
    )
