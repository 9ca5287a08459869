"""Issue 35 on the running platform: text no store keeps is a 422 naming the field and changes
nothing; far dates are 4xx; an enterprise reads its case's facts, never the groups' notes."""

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from liaison_client.local import local_admin_token

pytestmark = pytest.mark.integration
REGISTRY = "http://127.0.0.1:8002"
INGEST = "http://127.0.0.1:8001"
NOTIFY = "http://127.0.0.1:8003"
CONSOLE = "http://127.0.0.1:8005"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def admin() -> dict[str, str]:
    return bearer(local_admin_token() or "")


def token(admin: dict[str, str], subject_type: str, subject_id: str) -> dict[str, str]:
    answer = httpx.post(
        f"{REGISTRY}/v1/tokens", json={"subject_type": subject_type, "subject_id": subject_id}, headers=admin
    )
    assert answer.status_code == 201, answer.text
    return bearer(answer.json()["token"])


@pytest.fixture(scope="module")
def case(admin: dict[str, str]) -> dict[str, Any]:
    """A workforce case (enterprise-management) of an enterprise of the module's own."""
    enterprise_id = f"e2e-trust-{time.time_ns()}"
    body = {"id": enterprise_id, "name": f"可信测试企业{enterprise_id[-6:]}"}
    assert httpx.post(f"{REGISTRY}/v1/enterprises", json=body, headers=admin).status_code == 201
    report = {
        "report_id": f"{enterprise_id}-w1", "enterprise_id": enterprise_id, "period_start": "2006-05-01",
        "period_end": "2006-05-07", "submitted_at": "2006-05-08T09:00:00+08:00", "indicators": {"wage_arrears": 50},
    }  # fmt: skip
    deadline = time.monotonic() + 30
    while httpx.post(f"{INGEST}/v1/reports", json=report, headers=admin).status_code == 422:
        assert time.monotonic() < deadline, "ingest never learnt the new enterprise"
        time.sleep(0.5)
    alert_id = f"workforce_cut.{enterprise_id}.2006-05-07"
    deadline = time.monotonic() + 60
    while httpx.get(f"{NOTIFY}/v1/alerts/{alert_id}", headers=admin).status_code != 200:
        assert time.monotonic() < deadline, f"{alert_id} never stored"
        time.sleep(0.5)
    return {"enterprise_id": enterprise_id, "alert_id": alert_id}


def test_a_nul_in_a_comment_is_a_422_naming_it_and_the_case_stays_as_it_was(case, admin):
    group = token(admin, "group", "enterprise-management")
    url = f"{NOTIFY}/v1/alerts/{case['alert_id']}"
    ack = httpx.post(f"{url}/ack", json={"comment": "a\u0000b"}, headers=group)
    assert ack.status_code == 422 and ack.json()["detail"][0]["loc"] == ["body", "comment"], ack.text
    assert httpx.get(url, headers=admin).json()["status"] == "open"
    listed = httpx.get(f"{NOTIFY}/v1/alerts", params={"enterprise_id": case["enterprise_id"]}, headers=admin)
    assert [a["status"] for a in listed.json()] == ["open"]  # the index agrees with the store


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/alerts/{id}/comments", {"comment": "\ud800"}, "comment"),
        ("/v1/silences", {"matchers": {"type": "stockpile"}, "ends_at": "2031-01-01T00:00:00Z", "comment": "\ud800"}, "comment"),
        ("/v1/alerts/{id}/coordinate", {"until": "9999-12-31"}, "until"),
    ],
)  # fmt: skip
def test_lone_surrogates_and_far_dates_are_4xx_naming_the_field(case, admin, path, body, field):
    group = token(admin, "group", "enterprise-management")
    content = json.dumps(body).encode()  # a lone surrogate travels as the escape \ud800
    answer = httpx.post(
        NOTIFY + path.format(id=case["alert_id"]),
        content=content,
        headers={**group, "Content-Type": "application/json"},
    )
    assert 400 <= answer.status_code < 500, answer.text
    assert field in {str(part) for error in answer.json()["detail"] for part in error["loc"]}, answer.text


def test_a_digest_of_year_9999_is_a_422():
    answer = httpx.get(
        f"{NOTIFY}/v1/digests/operations",
        params={"week": "9999-W52"},
        headers=bearer(local_admin_token() or ""),
    )
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["query", "week"]


def test_an_enterprise_reads_its_cases_facts_but_not_the_groups_notes(case, admin):
    group = token(admin, "group", "enterprise-management")
    url = f"{NOTIFY}/v1/alerts/{case['alert_id']}"
    note = "内部：该企业负责人电话13800000000"
    assert httpx.post(f"{url}/comments", json={"comment": note}, headers=group).status_code in (200, 201)
    deadline = time.monotonic() + 30
    while note not in httpx.get(url, headers=admin).text:  # the admin (and the group) see the note
        assert time.monotonic() < deadline
        time.sleep(0.3)
    own = token(admin, "enterprise", case["enterprise_id"])
    mine = httpx.get(url, headers=own)
    assert (
        mine.status_code == 200 and mine.json()["type"] == "workforce_cut" and mine.json()["status"] == "open"
    )
    assert note not in mine.text and "suppressions" not in mine.json()
    listed = httpx.get(f"{NOTIFY}/v1/alerts", headers=own)
    assert listed.status_code == 200 and note not in listed.text
    why = httpx.get(f"{url}/notifications", headers=own).json()
    assert why["groups"] and all(g["deliveries"] == [] and g["silences"] == [] for g in why["groups"])


def test_the_console_refuses_a_cross_origin_post_and_escapes_what_it_echoes(admin):
    """Issue 35.9-10: a form posted from a page on another port is refused (SameSite ignores
    ports); an alert id in the URL is never echoed as markup."""
    group = token(admin, "group", "operations")["Authorization"].removeprefix("Bearer ")
    with httpx.Client(base_url=CONSOLE, follow_redirects=False) as browser:
        own = {"Origin": CONSOLE}
        signed_in = browser.post("/login", data={"token": group}, headers=own)
        assert signed_in.status_code == 303 and browser.cookies
        silence = {"until": "2031-01-01", "comment": "跨站", "type": "stockpile"}
        foreign = browser.post("/silences", data=silence, headers={"Origin": "http://127.0.0.1:9999"})
        assert foreign.status_code == 403
        by_referer = browser.post("/silences", data=silence, headers={"Referer": "http://127.0.0.1:9999/x"})
        assert by_referer.status_code == 403
        listed = httpx.get(f"{NOTIFY}/v1/silences", headers=bearer(group)).json()
        assert "跨站" not in str(listed)  # nothing was created
        evil = "<img src=x onerror=alert(1)>"
        for path in (f"/alerts/{evil}", f"/alerts/{evil}/act"):
            method = "GET" if path.endswith(">") else "POST"
            answer = browser.request(
                method,
                path,
                headers={**own, "HX-Request": "true"},
                data={"action": "ack"} if method == "POST" else None,
            )
            assert evil not in answer.text, (path, answer.text[:300])


def test_one_token_may_hold_five_streams_and_a_sixth_is_a_clear_429(admin):
    """Issue 35.11: each stream is fed every alert; a token's streams are capped."""
    import contextlib

    group = token(admin, "group", "sme")
    with contextlib.ExitStack() as held, httpx.Client(timeout=10) as http:
        for _ in range(5):
            stream = held.enter_context(http.stream("GET", f"{NOTIFY}/v1/alerts/stream", headers=group))
            assert stream.status_code == 200
        sixth = held.enter_context(http.stream("GET", f"{NOTIFY}/v1/alerts/stream", headers=group))
        assert sixth.status_code == 429 and "streams open" in json.loads(sixth.read())["detail"]
        other = token(admin, "group", "sme")  # another token of the same group is not counted
        with http.stream("GET", f"{NOTIFY}/v1/alerts/stream", headers=other) as own:
            assert own.status_code == 200


def test_a_group_may_hold_a_hundred_active_silences_and_the_next_is_a_clear_429(admin):
    """Issue 35.11: silences are re-read every 10 s and scanned at every planning, so a creator's
    active silences are capped (NOTIFY_MAX_SILENCES_PER_CREATOR, 100); an expired one frees room."""
    group = token(admin, "group", "mergers")
    ends_at = (datetime.now(UTC) + timedelta(minutes=30)).isoformat()
    nowhere = f"cap-test-{uuid.uuid4().hex[:8]}"  # matches no enterprise: delays nobody's deliveries
    made: list[str] = []
    try:
        now = datetime.now(UTC)
        listed = httpx.get(f"{NOTIFY}/v1/silences?limit=1000", headers=group, timeout=10).json()
        existing = [
            s for s in listed if datetime.fromisoformat(s["ends_at"]) > now and s["created_by"] == "mergers"
        ]
        for number in range(100 - len(existing)):
            body = {"matchers": {"enterprise_id": nowhere}, "ends_at": ends_at, "comment": f"cap {number}"}
            answer = httpx.post(f"{NOTIFY}/v1/silences", json=body, headers=group, timeout=10)
            assert answer.status_code == 201, answer.text
            made.append(answer.json()["id"])
        body = {"matchers": {"enterprise_id": nowhere}, "ends_at": ends_at, "comment": "one too many"}
        refused = httpx.post(f"{NOTIFY}/v1/silences", json=body, headers=group, timeout=10)
        assert refused.status_code == 429 and "100 active silences" in refused.json()["detail"]
        assert (
            httpx.delete(f"{NOTIFY}/v1/silences/{made.pop()}", headers=group, timeout=10).status_code == 200
        )
        again = httpx.post(f"{NOTIFY}/v1/silences", json=body, headers=group, timeout=10)
        assert again.status_code == 201
        made.append(again.json()["id"])
    finally:
        for silence_id in made:
            httpx.delete(f"{NOTIFY}/v1/silences/{silence_id}", headers=group, timeout=10)


def test_one_token_may_hold_twenty_console_sessions_and_the_next_sign_in_is_a_clear_429(admin):
    """Issue 35.11: sessions live in the console's memory and are walked at each sign-in."""
    group = token(admin, "group", "mergers")["Authorization"].removeprefix("Bearer ")
    clients = [httpx.Client(base_url=CONSOLE, follow_redirects=False, timeout=10) for _ in range(21)]
    try:
        for client in clients[:20]:
            assert client.post("/login", data={"token": group}).status_code == 303
        refused = clients[20].post("/login", data={"token": group})
        assert refused.status_code == 429 and "20处登录" in refused.text
        clients[0].post("/logout")  # signing out frees a place
        assert clients[20].post("/login", data={"token": group}).status_code == 303
    finally:
        for client in clients:
            client.post("/logout")
            client.close()
