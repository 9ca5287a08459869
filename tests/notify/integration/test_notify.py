"""Notify against the real Kafka and FerretDB, a real webhook receiver and a real SMTP server."""

import hashlib
import hmac
import json
import threading
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from kafka import KafkaProducer

from liaison_common import jsonbytes
from liaison_common.kafka_auth import kafka_auth
from tests.notify.integration.helpers import (
    ADMIN,
    SECRET,
    alert,
    delivered_ids,
    escalations_of,
    eventually,
    marker_after,
    outbox_settled,
    publish,
    sentinel_after,
    token,
)
from tests.notify.receivers import WebhookReceiver

pytestmark = pytest.mark.integration


def test_an_alert_is_stored_and_delivered_on_every_channel(notify, kafka_bootstrap, topics, receivers):
    finance_hook, _, smtp = receivers
    with notify() as client:
        publish(kafka_bootstrap, topics["alerts_topic"], alert())
        eventually(lambda: finance_hook.accepted() and smtp.messages)
        request = finance_hook.accepted()[0]
        headers = {k.lower(): v for k, v in request["headers"].items()}
        expected = hmac.new(
            SECRET.encode(), headers["x-liaison-timestamp"].encode() + b"." + request["body"], hashlib.sha256
        )
        assert headers["x-liaison-signature"] == "sha256=" + expected.hexdigest()
        payload = json.loads(request["body"])
        assert payload["version"] == "4" and payload["alerts"][0]["labels"]["alertname"] == "funding_gap"
        assert payload["liaison"]["alerts"][0]["alert_id"] == "funding_gap.chalco-qinghai.2011-12-18"
        mail = smtp.messages[0]
        assert mail.rcpt_tos == ["finance@example.org"] and "funding_gap" in mail.content.decode(
            "utf-8", "replace"
        )

        finance = token("group", "finance")
        inbox = client.get("/v1/alerts", params={"group_id": "finance"}, headers=finance).json()
        assert [a["alert_id"] for a in inbox] == ["funding_gap.chalco-qinghai.2011-12-18"]
        assert inbox[0]["status"] == "open"
        events = [h["event"] for h in eventually(lambda: _history_with_sent(client))]
        assert events[0] == "received" and events.count("sent") == 2


def _history_with_sent(client: TestClient) -> list[dict] | None:
    history = client.get("/v1/alerts/funding_gap.chalco-qinghai.2011-12-18", headers=ADMIN).json()["history"]
    return history if [h["event"] for h in history].count("sent") >= 2 else None


def test_the_same_alert_twice_is_stored_and_sent_once_and_the_worse_severity_wins(
    notify, kafka_bootstrap, topics, receivers
):
    finance_hook, _, _ = receivers
    with notify() as client:
        publish(kafka_bootstrap, topics["alerts_topic"], alert(), alert(), alert(severity="high"))
        eventually(
            lambda: (
                client.get("/v1/alerts/funding_gap.chalco-qinghai.2011-12-18", headers=ADMIN)
                .json()
                .get("severity")
                == "high"
            )
        )
        eventually(finance_hook.accepted)  # the grouping window closes, the notification leaves
        sentinel = sentinel_after(kafka_bootstrap, topics["alerts_topic"], alert(), finance_hook)
        stored = [a["alert_id"] for a in client.get("/v1/alerts", headers=ADMIN).json()]
        assert sorted(stored) == sorted(["funding_gap.chalco-qinghai.2011-12-18", sentinel])
        assert delivered_ids(finance_hook) == ["funding_gap.chalco-qinghai.2011-12-18", sentinel]


def test_alerts_of_one_group_and_type_within_the_window_go_out_together(
    notify, kafka_bootstrap, topics, receivers
):
    finance_hook, _, _ = receivers
    with notify(group_wait_seconds=2.0):
        publish(kafka_bootstrap, topics["alerts_topic"], alert("a.1"), alert("a.2"), alert("a.3"))
        eventually(lambda: finance_hook.accepted())
        eventually(outbox_settled)  # a notification of its own for any of the three would have left
        payloads = finance_hook.payloads()
        assert len(payloads) == 1 and sorted(a["labels"]["alert_id"] for a in payloads[0]["alerts"]) == [
            "a.1",
            "a.2",
            "a.3",
        ]


def test_a_receiver_down_then_up_gets_the_notification_once(notify, kafka_bootstrap, topics, receivers):
    finance_hook, _, _ = receivers
    finance_hook.down = True
    with notify():
        publish(kafka_bootstrap, topics["alerts_topic"], alert())
        eventually(lambda: len(finance_hook.requests) >= 3)
        finance_hook.down = False
        eventually(lambda: finance_hook.accepted())
        eventually(outbox_settled)
    keys = [r["headers"]["Idempotency-Key"] for r in finance_hook.requests]
    assert len(set(keys)) == 1 and len(finance_hook.accepted()) == 1


def test_notify_stopped_mid_retry_and_restarted_still_delivers_once(
    notify, kafka_bootstrap, topics, receivers
):
    finance_hook, _, _ = receivers
    finance_hook.down = True
    with notify():
        publish(kafka_bootstrap, topics["alerts_topic"], alert())
        eventually(lambda: len(finance_hook.requests) >= 2)
    finance_hook.down = False
    with notify():
        eventually(lambda: finance_hook.accepted())
        eventually(outbox_settled)
    assert len(finance_hook.accepted()) == 1


def test_notify_stopped_while_a_receiver_is_answering_sends_again_at_the_next_start(
    notify, kafka_bootstrap, topics, receivers
):
    finance_hook, _, _ = receivers
    finance_hook.delay = 4.0  # notify stops while its request waits for the answer
    with notify():
        publish(kafka_bootstrap, topics["alerts_topic"], alert())
        eventually(lambda: finance_hook.requests)
    finance_hook.delay = 0.0
    # The attempt's outcome is unknown, so it is sent again: at once, not a lease (60 s) later.
    with notify():
        eventually(lambda: len(finance_hook.requests) >= 2, timeout=20)
    keys = {r["headers"]["Idempotency-Key"] for r in finance_hook.requests}
    assert len(keys) == 1  # the same notification, which the receiver can tell is a repeat


def test_a_receiver_that_is_down_is_tried_once_per_backoff_step_not_once_per_notification(
    notify, kafka_bootstrap, topics, receivers
):
    finance_hook, comprehensive_hook, _ = receivers
    finance_hook.down = True
    types = ("funding_gap", "stockpile", "transport_backlog", "power_shortage")
    # Four types: four notifications to the same webhook, due together.
    with notify(retry_initial_seconds=30.0, retry_max_seconds=60.0) as client:
        publish(kafka_bootstrap, topics["alerts_topic"],
                *[alert(f"{kind}.chalco-qinghai.2011-12-18", type=kind) for kind in types])  # fmt: skip
        eventually(lambda: finance_hook.requests)
        # A marker to a receiver that answers, due after the four: once it is delivered, the
        # dispatcher has passed the moment the other three were due (it sends the oldest first).
        comprehensive = [{"group_id": "comprehensive", "role": "primary"}]
        marker = marker_after(kafka_bootstrap, topics["alerts_topic"], alert(routes=comprehensive))
        eventually(lambda: marker["alert_id"] in delivered_ids(comprehensive_hook), timeout=30)
        assert len(finance_hook.requests) == 1
        # The three held back are still pending, never attempted: nothing is lost.
        webhooks = []
        for kind in types:
            why = client.get(
                f"/v1/alerts/{kind}.chalco-qinghai.2011-12-18/notifications", headers=ADMIN
            ).json()
            finance = next(g for g in why["groups"] if g["group_id"] == "finance")
            webhooks += [d for d in finance["deliveries"] if d["channel"] == "webhook"]
        assert len(webhooks) == 4 and {d["outcome"] for d in webhooks} == {"pending"}, webhooks
        assert sorted(d["attempts"] for d in webhooks) == [0, 0, 0, 1]


def test_only_a_group_the_alert_is_routed_to_may_acknowledge_and_resolve(notify, kafka_bootstrap, topics):
    with notify() as client:
        publish(kafka_bootstrap, topics["alerts_topic"], alert())
        alert_id = "funding_gap.chalco-qinghai.2011-12-18"
        eventually(lambda: client.get(f"/v1/alerts/{alert_id}", headers=ADMIN).status_code == 200)
        outsider = token("group", "enterprise-management")
        assert client.get(f"/v1/alerts/{alert_id}", headers=outsider).status_code == 403
        assert client.post(f"/v1/alerts/{alert_id}/ack", headers=outsider).status_code == 403
        assert client.get("/v1/alerts", params={"group_id": "finance"}, headers=outsider).status_code == 403
        assert client.get("/v1/alerts", headers=outsider).json() == []
        credit = token("work_group", "wg-credit")
        acked = client.post(f"/v1/alerts/{alert_id}/ack", json={"comment": "已联系银行"}, headers=credit)
        assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
        assert acked.json()["history"][-1]["detail"] == "已联系银行"
        assert (
            client.get("/v1/alerts", params={"status": "acknowledged"}, headers=credit).json()[0]["alert_id"]
            == alert_id
        )
        resolved = client.post(f"/v1/alerts/{alert_id}/resolve", headers=token("group", "finance"))
        assert resolved.json()["status"] == "resolved"
        assert client.post(f"/v1/alerts/{alert_id}/ack", headers=credit).status_code == 409
        assert client.post("/v1/alerts/no-such-alert/ack", headers=ADMIN).status_code == 404
        assert client.get("/v1/alerts", params={"status": "closed"}, headers=ADMIN).status_code == 422
        assert client.get("/v1/alerts").status_code == 401


def test_an_alert_resolved_long_ago_moves_to_the_archive_and_stays_readable(notify, kafka_bootstrap, topics):
    alert_id = "funding_gap.chalco-qinghai.2011-12-18"
    with notify(archive_after_days=0, archive_every_seconds=1.0) as client:
        publish(
            kafka_bootstrap,
            topics["alerts_topic"],
            alert(),
            alert("still.open", enterprise_id="western-mining"),
        )
        eventually(lambda: client.get(f"/v1/alerts/{alert_id}", headers=ADMIN).status_code == 200)
        assert client.post(f"/v1/alerts/{alert_id}/resolve", headers=ADMIN).json()["status"] == "resolved"

        def listed() -> set[str]:
            return {a["alert_id"] for a in client.get("/v1/alerts", headers=ADMIN).json()}

        eventually(lambda: alert_id not in listed(), timeout=20)
        assert "still.open" in listed()  # only what was resolved moves
        kept = client.get(f"/v1/alerts/{alert_id}", headers=ADMIN)
        assert kept.status_code == 200 and kept.json()["archived_at"] and kept.json()["status"] == "resolved"
        assert "resolved" in [h["event"] for h in kept.json()["history"]]  # its history moved with it
        refused = client.post(f"/v1/alerts/{alert_id}/ack", headers=ADMIN)
        assert refused.status_code == 409 and "archived" in refused.text


def test_an_unacknowledged_high_alert_is_escalated_and_reminded(notify, kafka_bootstrap, topics, receivers):
    _, comprehensive_hook, _ = receivers
    with notify(escalation_delay_seconds=1.0, escalation_repeat_seconds=1.5) as client:
        publish(
            kafka_bootstrap, topics["alerts_topic"], alert(severity="high"), alert("low.one", severity="low")
        )
        eventually(lambda: len(comprehensive_hook.accepted()) >= 2, timeout=20)
        payloads = comprehensive_hook.payloads()
        assert all(p["liaison"]["kind"] == "escalation" for p in payloads)
        assert {a["labels"]["alert_id"] for p in payloads for a in p["alerts"]} == {
            "funding_gap.chalco-qinghai.2011-12-18"
        }
        escalated = client.get("/v1/alerts/funding_gap.chalco-qinghai.2011-12-18", headers=ADMIN).json()
        assert "comprehensive" in escalated["group_ids"] and escalated["escalation_level"] >= 2
        assert [h["event"] for h in escalated["history"]].count("escalated") == 1
        client.post(
            "/v1/alerts/funding_gap.chalco-qinghai.2011-12-18/ack", headers=token("group", "comprehensive")
        )
        sent = escalations_of(comprehensive_hook, "funding_gap.chalco-qinghai.2011-12-18")
        # A marker escalated and reminded once: its reminder is due after any reminder of the
        # acknowledged case would have been (1 s + 1.5 s after the ack, against at most 1.5 s).
        marker = marker_after(kafka_bootstrap, topics["alerts_topic"], alert(), severity="high")
        eventually(lambda: escalations_of(comprehensive_hook, marker["alert_id"]) >= 2, timeout=30)
        # acknowledged: no more reminders
        assert escalations_of(comprehensive_hook, "funding_gap.chalco-qinghai.2011-12-18") == sent


def test_escalation_survives_a_restart(notify, kafka_bootstrap, topics, receivers):
    _, comprehensive_hook, _ = receivers
    with notify(escalation_delay_seconds=3.0) as client:
        publish(
            kafka_bootstrap,
            topics["alerts_topic"],
            alert(type="major_incident", alert_id="major_incident.x.2011-12-20.i1"),
        )
        eventually(
            lambda: client.get("/v1/alerts/major_incident.x.2011-12-20.i1", headers=ADMIN).status_code == 200
        )
    assert comprehensive_hook.accepted() == []
    with notify(escalation_delay_seconds=3.0):
        eventually(lambda: comprehensive_hook.accepted(), timeout=20)


def test_the_weekly_digest(notify, kafka_bootstrap, topics):
    with notify() as client:
        reporting = {"week": "2011-W50", "period_end": "2011-12-18", "expected": 34, "received": 30, "on_time": 28,
                     "reporting_rate": 0.88, "timeliness_rate": 0.82, "missing": ["enterprise:western-mining"],
                     "by_work_group": {}}  # fmt: skip
        publish(kafka_bootstrap, topics["reporting_topic"], reporting)
        publish(
            kafka_bootstrap, topics["alerts_topic"],
            alert(), alert("stockpile.chalco-qinghai.2011-12-18", type="stockpile"),
            alert("funding_gap.chalco-qinghai.2011-12-25", period_end="2011-12-25"),
        )  # fmt: skip
        eventually(lambda: len(client.get("/v1/alerts", headers=ADMIN).json()) == 3)
        client.post("/v1/alerts/funding_gap.chalco-qinghai.2011-12-18/ack", headers=ADMIN)
        finance = token("group", "finance")
        digest = eventually(lambda: _digest_with_reporting(client, finance))
        assert digest["alerts"] == {"total": 2, "new": 2, "open": 1, "acknowledged": 1, "resolved": 0}
        assert digest["by_enterprise"] == {"chalco-qinghai": {"funding_gap": 1, "stockpile": 1}}
        assert digest["reporting"]["missing"] == ["enterprise:western-mining"]
        markdown = client.get(
            "/v1/digests/finance", params={"week": "2011-W50", "format": "markdown"}, headers=finance
        )
        assert "| chalco-qinghai | stockpile | 1 |" in markdown.text and "报送率 88%" in markdown.text
        html = client.get(
            "/v1/digests/finance", params={"week": "2011-W50", "format": "html"}, headers=finance
        )
        assert html.headers["content-type"].startswith("text/html") and "<table>" in html.text
        assert client.get("/v1/digests/sme", params={"week": "2011-W50"}, headers=finance).status_code == 403
        assert (
            client.get("/v1/digests/finance", params={"week": "2011-W99"}, headers=finance).status_code == 422
        )


def _digest_with_reporting(client: TestClient, headers: dict) -> dict | None:
    digest = client.get("/v1/digests/finance", params={"week": "2011-W50"}, headers=headers).json()
    return digest if digest.get("reporting") else None


def test_a_stream_client_sees_a_new_alert(notify, kafka_bootstrap, topics):
    with notify() as client:
        finance = token("group", "finance")
        seen: list[str] = []
        connected = threading.Event()

        def listen() -> None:
            with client.stream("GET", "/v1/alerts/stream", headers=finance) as response:
                for line in response.iter_lines():
                    if line.startswith(": connected"):
                        connected.set()
                    if line.startswith("data:"):
                        seen.append(json.loads(line[5:])["alert_id"])
                        return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert connected.wait(timeout=30), "the stream did not open"
        publish(kafka_bootstrap, topics["alerts_topic"], alert())
        listener.join(timeout=30)
        assert seen == ["funding_gap.chalco-qinghai.2011-12-18"]


def test_an_unusable_alert_goes_to_the_dead_letter_topic(notify, kafka_bootstrap, topics):
    from tests.kafka_helpers import wait_for_events

    with notify():
        publish(kafka_bootstrap, topics["alerts_topic"], {"alert_id": "x"}, alert())
        dead = wait_for_events(kafka_bootstrap, topics["dlq_topic"], lambda e: len(e) >= 1)
    assert dead[0]["rejected_by"] == "notify" and "routes" in dead[0]["detail"]


def test_a_new_week_sends_the_week_before_as_a_digest_by_email_and_webhook(
    notify, kafka_bootstrap, topics, receivers
):
    finance_hook, _, smtp = receivers
    with notify() as client:
        publish(kafka_bootstrap, topics["alerts_topic"], alert())
        week50 = {"week": "2011-W50", "period_end": "2011-12-18", "expected": 34, "received": 30, "on_time": 28,
                  "reporting_rate": 0.88, "timeliness_rate": 0.82, "missing": [], "by_work_group": {}}  # fmt: skip
        publish(kafka_bootstrap, topics["reporting_topic"], week50)
        # W50's digest counts the alert: it must be stored before W51 closes W50.
        eventually(lambda: client.get(f"/v1/alerts/{CASE_ID}", headers=ADMIN).status_code == 200)
        publish(
            kafka_bootstrap,
            topics["reporting_topic"],
            {**week50, "week": "2011-W51", "period_end": "2011-12-25"},
        )
        publish(kafka_bootstrap, topics["reporting_topic"], {**week50, "week": "2011-W51", "received": 31})
        eventually(lambda: [p for p in finance_hook.payloads() if p["liaison"].get("kind") == "digest"])
        mails = eventually(
            lambda: [
                m
                for m in map(_decoded, smtp.messages)
                if "周报" in m["subject"] and "2011-W50" in m["subject"]
            ]
        )
        # In place of a wait: W52 after the repeated W51, on the same topic. A second W50 digest,
        # had the repeat planned one, would leave before W52's digest of W51.
        publish(
            kafka_bootstrap,
            topics["reporting_topic"],
            {**week50, "week": "2011-W52", "period_end": "2012-01-01"},
        )
        eventually(
            lambda: [
                p for p in finance_hook.payloads() if p["liaison"].get("digest", {}).get("week") == "2011-W51"
            ]
        )
    digests = [p for p in finance_hook.payloads() if p["liaison"].get("kind") == "digest"]
    for payload in finance_hook.payloads():  # every body on a webhook is Alertmanager's v4 form
        assert payload["version"] == "4" and payload["alerts"] and payload["alerts"][0]["labels"]["alertname"]
    weeks = sorted(d["liaison"]["digest"]["week"] for d in digests)
    assert weeks == ["2011-W49", "2011-W50", "2011-W51"]  # once each, although W51 came twice
    w50 = next(d["liaison"]["digest"] for d in digests if d["liaison"]["digest"]["week"] == "2011-W50")
    assert w50["alerts"]["total"] == 1 and w50["reporting"]["received"] == 30
    w50_mail = next(m for m in mails if "2011-W50" in m["subject"])
    assert "预警 1 条" in w50_mail["body"] and "应报 34，已报 30，按时 28" in w50_mail["body"]


def _decoded(message: object) -> dict[str, str]:
    """Subject and text of an e-mail the SMTP receiver got, decoded (base64, encoded words)."""
    import email
    from email import policy

    parsed = email.message_from_bytes(message.content, policy=policy.default)  # type: ignore[attr-defined]
    return {"subject": str(parsed["subject"]), "body": parsed.get_body(("plain",)).get_content()}


CASE_ID = "funding_gap.chalco-qinghai.2011-12-18"


def _events_of(kafka_bootstrap: str, topic: str, alert_id: str, wanted: list[str]) -> list[dict]:
    from tests.kafka_helpers import wait_for_events

    def enough(events: list[dict]) -> bool:
        names = [e["event"] for e in events if e["alert_id"] == alert_id]
        return all(names.count(w) >= wanted.count(w) for w in set(wanted))

    return [
        e for e in wait_for_events(kafka_bootstrap, topic, enough, timeout=30) if e["alert_id"] == alert_id
    ]


def test_a_case_is_updated_week_after_week_resolved_by_data_and_reopened(
    notify, kafka_bootstrap, topics, receivers
):
    finance_hook, _, _ = receivers
    with notify() as client:
        publish(kafka_bootstrap, topics["alerts_topic"], alert(last_period_end="2011-12-18", occurrences=1))
        eventually(lambda: finance_hook.accepted())
        publish(kafka_bootstrap, topics["alerts_topic"],
                alert(last_period_end="2011-12-25", occurrences=2, severity="high", summary="缺口扩大"))  # fmt: skip
        case = eventually(lambda: _alert_where(client, lambda a: a.get("occurrences") == 2))
        assert (case["period_end"], case["last_period_end"], case["severity"]) == (
            "2011-12-18",
            "2011-12-25",
            "high",
        )
        assert len(client.get("/v1/alerts", headers=ADMIN).json()) == 1  # one case, not a card per week
        publish(kafka_bootstrap, topics["alerts_topic"],
                alert(last_period_end="2011-12-25", occurrences=2, severity="low", state="resolved", resolved_by="data"))  # fmt: skip
        case = eventually(lambda: _alert_where(client, lambda a: a["status"] == "resolved"))
        assert case["resolved_by"] == "data" and case["severity"] == "high"
        publish(kafka_bootstrap, topics["alerts_topic"], alert(last_period_end="2012-01-15", occurrences=3))
        case = eventually(lambda: _alert_where(client, lambda a: a["status"] == "open"))
        assert [h["event"] for h in case["history"]].count("reopened") == 1
        events = _events_of(kafka_bootstrap, topics["alert_events_topic"], CASE_ID,
                            ["received", "updated", "updated", "resolved", "reopened", "delivered"])  # fmt: skip
        assert {e["by"] for e in events if e["event"] in ("received", "resolved", "reopened")} == {"rules"}
        assert all(set(e) >= {"alert_id", "event", "at", "by", "detail"} for e in events)


def _alert_where(client: TestClient, condition: Callable[[dict], bool]) -> dict | None:
    found = client.get(f"/v1/alerts/{CASE_ID}", headers=ADMIN)
    return found.json() if found.status_code == 200 and condition(found.json()) else None


def test_acknowledge_and_resolve_are_events_and_resolve_by_a_group_says_so(notify, kafka_bootstrap, topics):
    with notify() as client:
        publish(kafka_bootstrap, topics["alerts_topic"], alert())
        eventually(lambda: client.get(f"/v1/alerts/{CASE_ID}", headers=ADMIN).status_code == 200)
        finance = token("group", "finance")
        assert (
            client.post(f"/v1/alerts/{CASE_ID}/ack", json={"comment": "在办"}, headers=finance).status_code
            == 200
        )
        resolved = client.post(f"/v1/alerts/{CASE_ID}/resolve", headers=finance)
        assert resolved.status_code == 200 and resolved.json()["resolved_by"] == "group"
        assert client.get(f"/v1/alerts/{CASE_ID}", headers=ADMIN).json()["status"] == "resolved"
        events = _events_of(
            kafka_bootstrap, topics["alert_events_topic"], CASE_ID, ["acknowledged", "resolved"]
        )
    acknowledged = next(e for e in events if e["event"] == "acknowledged")
    assert acknowledged["by"] == "finance" and acknowledged["detail"]["comment"] == "在办"


def test_a_silence_holds_back_a_groups_deliveries_and_why_notified_says_so(
    notify, kafka_bootstrap, topics, receivers
):
    finance_hook, _, smtp = receivers
    with notify() as client:
        finance, sme = token("group", "finance"), token("group", "sme")
        window = {"starts_at": "2011-01-01T00:00:00+00:00", "ends_at": "2099-01-01T00:00:00+00:00"}
        refused = client.post(
            "/v1/silences", json={"matchers": {"group_id": "finance"}, **window}, headers=sme
        )
        assert refused.status_code == 403
        created = client.post("/v1/silences", json={"matchers": {"enterprise_id": "chalco-qinghai"}, **window,
                                                    "comment": "协调中"}, headers=finance)  # fmt: skip
        assert created.status_code == 201, created.text
        assert created.json()["matchers"] == {"enterprise_id": "chalco-qinghai", "group_id": "finance"}
        assert [s["id"] for s in client.get("/v1/silences", headers=finance).json()] == [created.json()["id"]]
        assert client.get("/v1/silences", headers=sme).json() == []
        publish(kafka_bootstrap, topics["alerts_topic"], alert())
        why = eventually(lambda: _silenced_for(client, "finance"))
        assert why["silences"][0]["id"] == created.json()["id"] and why["deliveries"] == []
        sentinel = sentinel_after(kafka_bootstrap, topics["alerts_topic"], alert(), finance_hook)
        assert delivered_ids(finance_hook) == [sentinel]  # the silenced alert's never left
        mails = eventually(lambda: [_decoded(m) for m in smtp.messages])  # the sentinel's, by e-mail too
        assert all("哨兵" in mail["body"] for mail in mails), mails
        assert (
            client.get(f"/v1/alerts/{CASE_ID}", headers=finance).json()["status"] == "open"
        )  # listed as usual
        expired = client.delete(f"/v1/silences/{created.json()['id']}", headers=finance)
        assert expired.status_code == 200
        publish(kafka_bootstrap, topics["alerts_topic"], alert("funding_gap.chalco-qinghai.2012-01-08"))
        eventually(lambda: "funding_gap.chalco-qinghai.2012-01-08" in delivered_ids(finance_hook))
        other = client.get(
            "/v1/alerts/funding_gap.chalco-qinghai.2012-01-08/notifications", headers=finance
        ).json()
        finance_entry = next(g for g in other["groups"] if g["group_id"] == "finance")
        deliveries = eventually(lambda: _delivered(client, "funding_gap.chalco-qinghai.2012-01-08"))
        assert {d["channel"] for d in deliveries} == {"webhook", "email"}
        assert finance_entry["role"] == "primary" and "target" not in json.dumps(deliveries)
        assert finance_hook.url not in json.dumps(client.get(f"/v1/alerts/{CASE_ID}", headers=ADMIN).json())


def _silenced_for(client: TestClient, group_id: str) -> dict | None:
    answer = client.get(f"/v1/alerts/{CASE_ID}/notifications", headers=ADMIN)
    if answer.status_code != 200:
        return None
    entry = next((g for g in answer.json()["groups"] if g["group_id"] == group_id), None)
    return entry if entry and entry["silences"] else None


def _delivered(client: TestClient, alert_id: str) -> list[dict] | None:
    groups = client.get(f"/v1/alerts/{alert_id}/notifications", headers=ADMIN).json()["groups"]
    finance = next(g for g in groups if g["group_id"] == "finance")
    done = [d for d in finance["deliveries"] if d["outcome"] == "delivered"]
    return done if len(done) >= 2 else None


def test_an_open_major_incident_inhibits_the_halts_it_explains(notify, kafka_bootstrap, topics, receivers):
    _, comprehensive_hook, _ = receivers
    incident = alert("major_incident.chalco-qinghai.2011-12-18.i-1", type="major_incident", severity="critical",
                     routes=[{"group_id": "comprehensive", "role": "primary"}])  # fmt: skip
    halt = alert("production_halt.chalco-qinghai.2011-12-18", type="production_halt",
                 routes=[{"group_id": "comprehensive", "role": "primary"}])  # fmt: skip
    with notify() as client:
        publish(kafka_bootstrap, topics["alerts_topic"], incident)
        eventually(lambda: comprehensive_hook.accepted())
        publish(kafka_bootstrap, topics["alerts_topic"], halt)
        why = eventually(lambda: client.get(f"/v1/alerts/{halt['alert_id']}/notifications", headers=ADMIN).json()
                         if client.get(f"/v1/alerts/{halt['alert_id']}", headers=ADMIN).status_code == 200 else None)  # fmt: skip
        entry = eventually(lambda: next(g for g in client.get(f"/v1/alerts/{halt['alert_id']}/notifications",
                                        headers=ADMIN).json()["groups"] if g["silences"]))  # fmt: skip
        assert why["alert_id"] == halt["alert_id"]
        assert (
            entry["silences"][0]["kind"] == "inhibition"
            and entry["silences"][0]["id"] == incident["alert_id"]
        )
        sentinel_after(kafka_bootstrap, topics["alerts_topic"], halt, comprehensive_hook)
        carried = [
            a["alert_id"]
            for r in comprehensive_hook.accepted()
            for a in json.loads(r["body"])["liaison"]["alerts"]
        ]
        assert halt["alert_id"] not in carried


def test_messages_that_used_to_stop_notify_are_dead_lettered_and_the_next_is_stored(
    notify, kafka_bootstrap, topics
):
    from tests.kafka_helpers import wait_for_events

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, **kafka_auth(), acks="all")
    producer.send(topics["reporting_topic"], key=b"1-W01", value=jsonbytes.dumps({"week": "1-W01"}))
    producer.send(topics["alerts_topic"], key=b"x", value=b"[" * 5000 + b"]" * 5000)
    producer.send(topics["alerts_topic"], key=b"x", value=jsonbytes.dumps(alert(routes=[{"group_id": 5}])))
    producer.send(topics["alerts_topic"], key=b"x", value=jsonbytes.dumps(alert(evidence="x")))
    producer.flush()
    producer.close()
    with notify() as client:
        publish(kafka_bootstrap, topics["alerts_topic"], alert())
        eventually(lambda: client.get(f"/v1/alerts/{CASE_ID}", headers=ADMIN).status_code == 200)
        dead = wait_for_events(kafka_bootstrap, topics["dlq_topic"], lambda e: len(e) >= 4)
    assert {d["rejected_by"] for d in dead} == {"notify"}
    assert len({(d["source"]["topic"], d["source"]["offset"]) for d in dead}) == 4


def test_two_instances_apply_1000_concurrent_comments_and_acks_each_exactly_once(
    notify, kafka_bootstrap, topics
):
    """One writer per alert: FerretDB loses concurrent updates of one document, so every change
    is a command that the owner of the alert's partition applies (alert_changes.py)."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.kafka_helpers import wait_for_events

    ids = [
        f"funding_gap.chalco-qinghai.2011-{month:02d}-{day:02d}" for month in (10, 11) for day in range(1, 26)
    ]
    with notify() as first, notify() as second:
        publish(kafka_bootstrap, topics["alerts_topic"], *[alert(alert_id) for alert_id in ids])
        eventually(lambda: len(first.get("/v1/alerts", params={"limit": 1000}, headers=ADMIN).json()) == 50)
        finance = token("group", "finance")
        requests = [(ids[n % 50], n) for n in range(1000)]

        def act(item: tuple[str, int]) -> int:
            alert_id, n = item
            client = (first, second)[n % 2]
            if n < 50:  # the first request for each alert acknowledges it, the rest are notes
                return client.post(
                    f"/v1/alerts/{alert_id}/ack", json={"comment": f"ack {n}"}, headers=finance
                ).status_code
            answer = client.post(
                f"/v1/alerts/{alert_id}/comments", json={"comment": f"note {n}"}, headers=finance
            )
            return answer.status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(act, requests))
        assert set(statuses) == {200}
        stored = {
            a["alert_id"]: a for a in first.get("/v1/alerts", params={"limit": 1000}, headers=ADMIN).json()
        }
    notes = sorted(h["detail"] for a in stored.values() for h in a["history"] if h["event"] == "commented")
    assert notes == sorted(f"note {n}" for n in range(50, 1000))  # each exactly once
    assert {a["status"] for a in stored.values()} == {"acknowledged"}
    assert all([h["event"] for h in a["history"]].count("acknowledged") == 1 for a in stored.values())
    commands = wait_for_events(
        kafka_bootstrap, topics["alert_events_topic"],
        lambda e: len([x for x in e if x["event"] in ("commented", "acknowledged")]) >= 1000,
    )  # fmt: skip
    on_topic = sorted(x["detail"]["comment"] for x in commands if x["event"] == "commented")
    assert on_topic == notes  # the topic and the store agree


def test_a_webhook_subscription_with_its_own_secret_is_signed_with_it(notify, kafka_bootstrap, topics):
    own_secret = "sme-own-secret-0123456789abcdef"
    receiver = WebhookReceiver()
    try:
        subscription = {"id": "sme-hook", "group_id": "sme", "channel": "webhook", "target": receiver.url,
                        "enabled": True, "secret": own_secret}  # fmt: skip
        event = {
            "entity_type": "subscription",
            "id": "sme-hook",
            "version": 1,
            "deleted": False,
            "data": subscription,
        }
        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, **kafka_auth(), acks="all")
        producer.send(topics["registry_topic"], key=b"sme-hook", value=jsonbytes.dumps(event))
        producer.flush()
        producer.close()
        with notify():
            publish(
                kafka_bootstrap,
                topics["alerts_topic"],
                alert(routes=[{"group_id": "sme", "role": "primary"}]),
            )
            request = eventually(lambda: receiver.accepted())[0]  # type: ignore[index]
    finally:
        receiver.close()
    headers = {k.lower(): v for k, v in request["headers"].items()}
    signed = headers["x-liaison-timestamp"].encode() + b"." + request["body"]
    assert (
        headers["x-liaison-signature"]
        == "sha256=" + hmac.new(own_secret.encode(), signed, hashlib.sha256).hexdigest()
    )
    assert (
        headers["x-liaison-signature"]
        != "sha256=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    )


def test_the_overview_counts_come_from_the_index_and_respect_who_asks(notify, kafka_bootstrap, topics):
    later = "funding_gap.chalco-qinghai.2011-12-25"
    stockpile = "stockpile.western-mining.2011-12-18"
    with notify() as client:
        publish(
            kafka_bootstrap,
            topics["alerts_topic"],
            alert(),
            alert(later, severity="critical", period_end="2011-12-25"),
            alert(
                stockpile,
                type="stockpile",
                enterprise_id="western-mining",
                severity="low",
                routes=[{"group_id": "enterprise-management", "role": "primary"}],
            ),
        )
        for alert_id in (CASE_ID, later, stockpile):
            eventually(lambda a=alert_id: client.get(f"/v1/alerts/{a}", headers=ADMIN).status_code == 200)
        finance = token("group", "finance")
        assert client.post(f"/v1/alerts/{CASE_ID}/ack", headers=finance).status_code == 200
        counted = client.get("/v1/alerts/counts", headers=ADMIN)
        assert counted.status_code == 200
        assert counted.json() == [
            {"enterprise_id": "chalco-qinghai", "type": "funding_gap", "status": "acknowledged", "count": 1,
             "worst_severity": "medium"},
            {"enterprise_id": "chalco-qinghai", "type": "funding_gap", "status": "open", "count": 1,
             "worst_severity": "critical"},
            {"enterprise_id": "western-mining", "type": "stockpile", "status": "open", "count": 1,
             "worst_severity": "low"},
        ]  # fmt: skip
        # A group counts only what is routed to it; an enterprise only its own.
        assert [c["enterprise_id"] for c in client.get("/v1/alerts/counts", headers=finance).json()] == [
            "chalco-qinghai",
            "chalco-qinghai",
        ]
        mining = client.get("/v1/alerts/counts", headers=token("enterprise", "western-mining")).json()
        assert [(c["type"], c["count"]) for c in mining] == [("stockpile", 1)]
        assert client.get("/v1/alerts/counts", params={"group_id": "sme"}, headers=finance).status_code == 403
        resolved = client.get("/v1/alerts/counts", params={"status": "resolved"}, headers=ADMIN)
        assert resolved.status_code == 200 and resolved.json() == []
        assert client.get("/v1/alerts/counts", params={"status": "closed"}, headers=ADMIN).status_code == 422


def test_a_case_of_a_whole_year_keeps_its_latest_updates_and_the_topic_keeps_them_all(
    notify, kafka_bootstrap, topics
):
    from datetime import date, timedelta

    from services.notify.merging import KEPT_UPDATES

    weeks = [(date(2011, 12, 18) + timedelta(weeks=w)).isoformat() for w in range(KEPT_UPDATES + 6)]
    with notify() as client:
        publish(kafka_bootstrap, topics["alerts_topic"], alert(last_period_end=weeks[0], occurrences=1))
        eventually(lambda: client.get(f"/v1/alerts/{CASE_ID}", headers=ADMIN).status_code == 200)
        finance = token("group", "finance")
        assert (
            client.post(f"/v1/alerts/{CASE_ID}/ack", json={"comment": "在办"}, headers=finance).status_code
            == 200
        )
        later = [alert(last_period_end=week, occurrences=n + 1) for n, week in enumerate(weeks) if n > 0]
        publish(kafka_bootstrap, topics["alerts_topic"], *later)
        case = eventually(lambda: _alert_where(client, lambda a: a["last_period_end"] == weeks[-1]))
        events = [h["event"] for h in case["history"]]
        assert events.count("updated") == KEPT_UPDATES
        assert case["earlier_updates"] == len(later) - KEPT_UPDATES
        # What people did stays whole: the receipt and the acknowledgement with its comment.
        assert events[0] == "received" and "acknowledged" in events
        updated = [h for h in case["history"] if h["event"] == "updated"]
        assert max(h["at"] for h in updated) == case["updated_at"]
        recorded = _events_of(
            kafka_bootstrap, topics["alert_events_topic"], CASE_ID, ["updated"] * len(later)
        )
    assert [e["event"] for e in recorded].count("updated") == len(later)
