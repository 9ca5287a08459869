"""Notify behaviours no other test showed: who a stream and a list show, subscriptions that must
not deliver, a delivery that expires, a late item, escalation from a severity raise."""

import json
import threading
from datetime import datetime, timedelta

import pytest
from kafka import KafkaProducer

from liaison_common import jsonbytes
from liaison_common.kafka_auth import kafka_auth
from services.notify import clock, delivery
from services.notify.documents import AlertIndexEntry, Notification, NotificationItem
from tests.kafka_helpers import make_topic
from tests.notify.integration.helpers import (
    ADMIN,
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


def registry_event(
    topic: str, kafka_bootstrap: str, subscription: dict, *, deleted: bool = False, version: int = 1
):
    event = {"entity_type": "subscription", "id": subscription["id"], "version": version, "deleted": deleted,
             "data": subscription}  # fmt: skip
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, **kafka_auth(), acks="all")
    producer.send(topic, key=subscription["id"].encode(), value=jsonbytes.dumps(event))
    producer.flush()
    producer.close()


def test_a_stream_never_carries_another_groups_alert(notify, kafka_bootstrap, topics):
    operations_only = alert("stockpile.chalco-qinghai.2011-12-18", type="stockpile",
                            routes=[{"group_id": "operations", "role": "primary"}])  # fmt: skip
    with notify() as client:
        seen: list[str] = []
        connected = threading.Event()

        def listen() -> None:
            with client.stream("GET", "/v1/alerts/stream", headers=token("group", "finance")) as response:
                for line in response.iter_lines():
                    if line.startswith(": connected"):
                        connected.set()
                    if line.startswith("data:"):
                        seen.append(json.loads(line[5:])["alert_id"])
                        if seen[-1] == "funding_gap.chalco-qinghai.2011-12-18":
                            return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert connected.wait(timeout=30)
        publish(kafka_bootstrap, topics["alerts_topic"], operations_only)  # first, on its own key
        eventually(
            lambda: client.get(f"/v1/alerts/{operations_only['alert_id']}", headers=ADMIN).status_code == 200
        )
        publish(kafka_bootstrap, topics["alerts_topic"], alert())  # then one routed to finance
        listener.join(timeout=30)
    assert seen == ["funding_gap.chalco-qinghai.2011-12-18"]  # the operations alert never reached finance


def test_lists_for_an_enterprise_token_and_the_admins_filters(notify, kafka_bootstrap, topics):
    other = alert("funding_gap.western-mining.2011-12-18", enterprise_id="western-mining")
    with notify() as client:
        publish(kafka_bootstrap, topics["alerts_topic"], alert(), other)
        eventually(lambda: len(client.get("/v1/alerts", headers=ADMIN).json()) == 2)
        chalco = token("enterprise", "chalco-qinghai")
        assert [a["alert_id"] for a in client.get("/v1/alerts", headers=chalco).json()] == [
            "funding_gap.chalco-qinghai.2011-12-18"
        ]
        assert (
            client.get("/v1/alerts", params={"enterprise_id": "western-mining"}, headers=chalco).status_code
            == 403
        )
        assert (
            client.post("/v1/alerts/funding_gap.chalco-qinghai.2011-12-18/ack", headers=chalco).status_code
            == 403
        )
        by_enterprise = client.get(
            "/v1/alerts", params={"enterprise_id": "western-mining"}, headers=ADMIN
        ).json()
        assert [a["alert_id"] for a in by_enterprise] == ["funding_gap.western-mining.2011-12-18"]
        assert len(client.get("/v1/alerts", params={"group_id": "finance"}, headers=ADMIN).json()) == 2
        assert client.get("/v1/alerts", params={"group_id": "sme"}, headers=ADMIN).json() == []


def test_disabled_inbox_and_deleted_subscriptions_deliver_nothing(notify, kafka_bootstrap, topics):
    receiver, control = WebhookReceiver(), WebhookReceiver()
    try:
        base = {"group_id": "sme", "channel": "webhook", "target": receiver.url}
        # The control: an enabled subscription of the same group, told in the same pass.
        registry_event(topics["registry_topic"], kafka_bootstrap,
                       {**base, "id": "sme-control", "target": control.url, "enabled": True})  # fmt: skip
        registry_event(topics["registry_topic"], kafka_bootstrap, {**base, "id": "sme-off", "enabled": False})
        registry_event(
            topics["registry_topic"], kafka_bootstrap, {**base, "id": "sme-inbox", "channel": "inbox"}
        )
        registry_event(topics["registry_topic"], kafka_bootstrap, {**base, "id": "sme-gone", "enabled": True})
        registry_event(
            topics["registry_topic"], kafka_bootstrap, {**base, "id": "sme-gone"}, deleted=True, version=2
        )
        with notify() as client:
            sme = alert(routes=[{"group_id": "sme", "role": "primary"}])
            publish(kafka_bootstrap, topics["alerts_topic"], sme)
            eventually(lambda: client.get(f"/v1/alerts/{sme['alert_id']}", headers=ADMIN).status_code == 200)
            eventually(lambda: delivered_ids(control) == [sme["alert_id"]])
            eventually(outbox_settled)  # whatever was planned for the group has left
            assert receiver.accepted() == []
            why = client.get(f"/v1/alerts/{sme['alert_id']}/notifications", headers=ADMIN).json()
            deliveries = next(g for g in why["groups"] if g["group_id"] == "sme")["deliveries"]
            assert [d["outcome"] for d in deliveries] == ["delivered"]  # the control's, only
            assert (
                client.get("/v1/alerts", headers=token("group", "sme")).json()[0]["alert_id"]
                == sme["alert_id"]
            )
    finally:
        receiver.close()
        control.close()


def test_a_delivery_that_never_succeeds_expires_and_settles_its_items(
    notify, kafka_bootstrap, topics, receivers
):
    finance_hook, _, _ = receivers
    finance_hook.close()  # nobody listens: every attempt is refused
    with notify(delivery_expiry_seconds=2.0, retry_max_seconds=0.5) as client:
        publish(kafka_bootstrap, topics["alerts_topic"], alert())
        alert_id = "funding_gap.chalco-qinghai.2011-12-18"

        def expired() -> list[dict] | None:
            groups = (
                client.get(f"/v1/alerts/{alert_id}/notifications", headers=ADMIN).json().get("groups", [])
            )
            finance = next((g for g in groups if g["group_id"] == "finance"), {"deliveries": []})
            hooks = [d for d in finance["deliveries"] if d["channel"] == "webhook"]
            return hooks if hooks and hooks[0]["outcome"] == "failed" else None

        hooks = eventually(expired, timeout=30)
        assert hooks[0]["attempts"] >= 1 and finance_hook.url not in json.dumps(hooks)
        key = hooks[0]["notification_id"]
        assert Notification.objects(key=key).first().status == "expired"
        assert all(item.sent_in == f"expired:{key}" for item in NotificationItem.objects(key=key))


def test_an_item_that_missed_its_notification_goes_out_in_the_next(
    notify, kafka_bootstrap, topics, receivers
):
    finance_hook, _, _ = receivers
    with notify() as client:
        publish(kafka_bootstrap, topics["alerts_topic"], alert())
        eventually(lambda: finance_hook.accepted())
        # The receiver has it a moment before notify records the delivery: wait for the record.
        key = eventually(
            lambda: next(
                (n.key for n in Notification.objects(subscription_id="finance-hook", status="delivered")),
                None,
            )
        )
        # An alert planned into that notification after it left (the race the late check is for).
        # Routed to a group with no channel, so only the late check can carry it to finance's hook.
        late = alert("funding_gap.western-mining.2011-12-18", enterprise_id="western-mining",
                     routes=[{"group_id": "sme", "role": "primary"}])  # fmt: skip
        publish(kafka_bootstrap, topics["alerts_topic"], late)
        eventually(lambda: client.get(f"/v1/alerts/{late['alert_id']}", headers=ADMIN).status_code == 200)
        before = len(finance_hook.accepted())
        NotificationItem(key=key, alert_id=late["alert_id"], created_at=clock.now()).save(force_insert=True)
        sentinel_after(kafka_bootstrap, topics["alerts_topic"], late, finance_hook,
                       routes=[{"group_id": "finance", "role": "primary"}])  # fmt: skip
        assert late["alert_id"] not in delivered_ids(finance_hook)  # nothing else would have sent it
        before = len(finance_hook.accepted())
        assert delivery.replan_late_items(key, client.app.state.settings) == 1
        eventually(lambda: len(finance_hook.accepted()) > before)
        carried = [a["labels"]["alert_id"] for p in finance_hook.payloads()[before:] for a in p["alerts"]]
        assert late["alert_id"] in carried


def test_a_severity_raise_schedules_escalation_and_a_resolution_stops_it(
    notify, kafka_bootstrap, topics, receivers
):
    _, comprehensive_hook, _ = receivers
    with notify(escalation_delay_seconds=1.0, escalation_repeat_seconds=1.0) as client:
        alert_id = "funding_gap.chalco-qinghai.2011-12-18"
        publish(kafka_bootstrap, topics["alerts_topic"], alert(severity="medium"))
        eventually(lambda: client.get(f"/v1/alerts/{alert_id}", headers=ADMIN).status_code == 200)
        # A high marker after it: its escalation is due after the medium case's would have been.
        first = marker_after(kafka_bootstrap, topics["alerts_topic"], alert(), severity="high")
        eventually(lambda: escalations_of(comprehensive_hook, first["alert_id"]), timeout=20)
        assert escalations_of(comprehensive_hook, alert_id) == 0  # medium: no escalation
        publish(kafka_bootstrap, topics["alerts_topic"], alert(severity="high"))  # the same period, worse
        eventually(lambda: escalations_of(comprehensive_hook, alert_id), timeout=20)
        resolved = client.post(f"/v1/alerts/{alert_id}/resolve", headers=token("group", "finance"))
        assert resolved.status_code == 200
        sent = escalations_of(comprehensive_hook, alert_id)
        # A second marker, escalated once and reminded once: due after any reminder of the
        # resolved case (1 s + 1 s after the resolution, against at most 1 s).
        second = marker_after(kafka_bootstrap, topics["alerts_topic"], alert(), severity="high")
        eventually(lambda: escalations_of(comprehensive_hook, second["alert_id"]) >= 2, timeout=20)
        assert escalations_of(comprehensive_hook, alert_id) == sent


def test_a_case_under_coordination_is_not_escalated_until_the_date_it_names(
    notify, kafka_bootstrap, topics, receivers
):
    """协调中: a routed group marks the case under coordination until a moment; escalation and
    reminders wait for it, then go on; other groups, past dates and resolved cases are refused."""
    _, comprehensive_hook, _ = receivers
    # Escalation 3 s after receipt unless coordinated; the coordination ends 8 s from now.
    with notify(escalation_delay_seconds=3.0, escalation_repeat_seconds=1.0) as client:
        alert_id = "funding_gap.chalco-qinghai.2011-12-18"
        publish(kafka_bootstrap, topics["alerts_topic"], alert(severity="high"))
        eventually(lambda: client.get(f"/v1/alerts/{alert_id}", headers=ADMIN).status_code == 200)
        finance = token("group", "finance")
        until = (clock.now() + timedelta(seconds=8)).replace(microsecond=0).isoformat()
        past = client.post(f"/v1/alerts/{alert_id}/coordinate", json={"until": "2011-12-01"}, headers=finance)
        assert past.status_code == 422 and past.json()["detail"][0]["loc"] == ["body", "until"]
        other = client.post(f"/v1/alerts/{alert_id}/coordinate", json={"until": until},
                            headers=token("group", "operations"))  # fmt: skip
        assert other.status_code == 403
        marked = client.post(
            f"/v1/alerts/{alert_id}/coordinate",
            json={"until": until, "comment": "银企对接会已安排"},
            headers=finance,
        )
        assert marked.status_code == 200, marked.text
        case = marked.json()
        assert case["coordinating_until"] == until
        assert (
            case["history"][-1]["event"] == "coordinating"
            and "银企对接会已安排" in case["history"][-1]["detail"]
        )
        eventually(lambda: comprehensive_hook.accepted(), timeout=30)  # escalated once it ended
        # By the case's own record, not a stopwatch (issue 36.11): the escalation came at or
        # after the moment the coordination named.
        history = client.get(f"/v1/alerts/{alert_id}", headers=ADMIN).json()["history"]
        escalated = [entry["at"] for entry in history if entry["event"] == "escalated"]
        assert escalated and datetime.fromisoformat(escalated[0]) >= datetime.fromisoformat(until), (
            "escalated while the case was under coordination"
        )
        assert client.post(f"/v1/alerts/{alert_id}/resolve", headers=finance).status_code == 200
        again = client.post(f"/v1/alerts/{alert_id}/coordinate", json={"until": until}, headers=finance)
        assert again.status_code == 409


def test_an_acknowledged_case_left_unresolved_is_opened_again_and_its_groups_told_again(
    notify, kafka_bootstrap, topics, receivers
):
    finance_hook, _, _ = receivers
    with notify(ack_timeout_seconds=2.0) as client:
        alert_id = "funding_gap.chalco-qinghai.2011-12-18"
        publish(kafka_bootstrap, topics["alerts_topic"], alert(severity="medium"))
        eventually(lambda: finance_hook.accepted())
        told = len(finance_hook.accepted())
        finance = token("group", "finance")
        acknowledged = client.post(f"/v1/alerts/{alert_id}/ack", headers=finance)
        assert acknowledged.status_code == 200 and acknowledged.json()["status"] == "acknowledged"
        reopened = eventually(
            lambda: (
                (a := client.get(f"/v1/alerts/{alert_id}", headers=ADMIN).json())["status"] == "open" and a
            ),
            timeout=30,
        )
        assert reopened["history"][-1]["event"] in ("reopened", "sent")
        assert any(h["event"] == "reopened" and "not resolved" in h["detail"] for h in reopened["history"])
        eventually(lambda: len(finance_hook.accepted()) > told, timeout=30)  # told again
        # Resolved, it stays resolved.
        assert client.post(f"/v1/alerts/{alert_id}/resolve", headers=finance).status_code == 200
        # A marker acknowledged after the resolution: once its acknowledgement has timed out
        # (it is open again), the resolved case's would have too.
        marker = marker_after(kafka_bootstrap, topics["alerts_topic"], alert())
        marker_id = marker["alert_id"]
        eventually(lambda: client.get(f"/v1/alerts/{marker_id}", headers=ADMIN).status_code == 200)
        assert client.post(f"/v1/alerts/{marker_id}/ack", headers=finance).status_code == 200
        eventually(
            lambda: client.get(f"/v1/alerts/{marker_id}", headers=ADMIN).json()["status"] == "open",
            timeout=30,
        )
        assert client.get(f"/v1/alerts/{alert_id}", headers=ADMIN).json()["status"] == "resolved"


# A writer killed between storing and planning, or between planning and storing a new case, is
# the real notify process killed (SIGKILL) at a failpoint in the fault suite
# (tests/faults/test_faults.py, test_notify_killed_between_*), with Kafka redelivering: not
# database edits that imitate what a kill would leave.


def test_a_groups_own_timers_apply_and_late_reminders_reach_its_leader(
    notify, kafka_bootstrap, topics, receivers
):
    """The finance group's escalation comes after its own `escalation_hours`, not notify's
    default; from the first reminder on, its 组长's channel (`leader`) is told too, and it gets
    nothing else."""
    _, comprehensive_hook, _ = receivers
    leader_hook = WebhookReceiver()
    try:
        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, **kafka_auth(), acks="all")
        group = {
            "id": "finance",
            "name": "金融组",
            "escalation_hours": 1.5 / 3600,
            "reminder_hours": 1.5 / 3600,
        }
        leader = {"id": "finance-leader", "group_id": "finance", "channel": "webhook", "target": leader_hook.url,
                  "enabled": True, "leader": True}  # fmt: skip
        for entity_type, data in (("group", group), ("subscription", leader)):
            event = {
                "entity_type": entity_type,
                "id": data["id"],
                "version": 99,
                "deleted": False,
                "data": data,
            }
            producer.send(topics["registry_topic"], key=data["id"].encode(), value=jsonbytes.dumps(event))
        producer.flush()
        producer.close()
        # Notify's default delay is an hour: only the group's own 1.5 s makes this escalate.
        with notify(escalation_delay_seconds=3600.0, escalation_repeat_seconds=3600.0) as client:
            publish(kafka_bootstrap, topics["alerts_topic"], alert(severity="high"),
                    alert("funding_gap.western-mining.2011-12-18", enterprise_id="western-mining"))  # fmt: skip
            eventually(lambda: len(comprehensive_hook.accepted()) >= 2, timeout=30)
            eventually(lambda: leader_hook.accepted(), timeout=30)
            payloads = leader_hook.payloads()
            assert all(p["liaison"]["kind"] == "escalation" for p in payloads)
            # Only the high case escalates, and the leader hears of nothing else (not the medium one).
            assert {a["labels"]["alert_id"] for p in payloads for a in p["alerts"]} == {
                "funding_gap.chalco-qinghai.2011-12-18"
            }
            case = client.get("/v1/alerts/funding_gap.chalco-qinghai.2011-12-18", headers=ADMIN).json()
            assert case["escalation_level"] >= 2
    finally:
        leader_hook.close()


def test_a_case_under_coordination_reopened_meanwhile_is_not_notified_again_until_its_date(
    notify, kafka_bootstrap, topics, receivers
):
    """协调中 holds the group's channels for the case until the date: its end by data is still
    told (good news), its reopening meanwhile reaches the inbox only, with the reason."""
    finance_hook, _, _ = receivers
    alert_id = "funding_gap.chalco-qinghai.2011-12-18"
    with notify() as client:
        publish(kafka_bootstrap, topics["alerts_topic"], alert())
        eventually(lambda: finance_hook.accepted())
        finance = token("group", "finance")
        until = (clock.now() + timedelta(hours=2)).replace(microsecond=0).isoformat()
        marked = client.post(f"/v1/alerts/{alert_id}/coordinate", json={"until": until}, headers=finance)
        assert marked.status_code == 200, marked.text
        told = len(finance_hook.accepted())
        publish(kafka_bootstrap, topics["alerts_topic"],
                alert(state="resolved", resolved_by="data", last_period_end="2012-01-01"))  # fmt: skip
        eventually(lambda: len(finance_hook.accepted()) > told, timeout=30)  # the end is told
        told = len(finance_hook.accepted())
        publish(kafka_bootstrap, topics["alerts_topic"], alert(last_period_end="2012-01-08", occurrences=2))
        eventually(lambda: client.get(f"/v1/alerts/{alert_id}", headers=ADMIN).json()["status"] == "open")

        def held() -> list[dict]:
            why = client.get(f"/v1/alerts/{alert_id}/notifications", headers=ADMIN).json()
            finance_group = next(g for g in why["groups"] if g["group_id"] == "finance")
            return [s for s in finance_group["silences"] if s["kind"] == "coordination"]

        assert eventually(held, timeout=30)[0]["ends_at"].startswith(until[:16])
        sentinel = sentinel_after(kafka_bootstrap, topics["alerts_topic"], alert(), finance_hook)
        assert len(finance_hook.accepted()) == told + 1 and delivered_ids(finance_hook)[-1] == sentinel


def test_the_inbox_lists_newest_first_follows_each_change_and_lists_alerts_stored_before_its_entries(
    notify, kafka_bootstrap, topics, unique_name
):
    """Newest first, a page at a time (alerts stored together are ordered by id); a status
    filter follows an acknowledgement; alerts stored by a version without the alert index
    (its entries dropped here, and a topic of its own that is empty) are listed again after a
    restart."""
    ids = [f"funding_gap.chalco-qinghai.2011-12-{day:02d}" for day in range(1, 21)]
    batch = [alert(alert_id, period_end=alert_id[-10:], severity="high") for alert_id in ids]
    with notify() as client:

        def listed(**params: object) -> list[str]:
            return [a["alert_id"] for a in client.get("/v1/alerts", params=params, headers=ADMIN).json()]

        publish(kafka_bootstrap, topics["alerts_topic"], *batch[:10])
        eventually(lambda: len(listed(group_id="finance")) == 10)
        publish(kafka_bootstrap, topics["alerts_topic"], *batch[10:])
        eventually(lambda: len(listed(group_id="finance")) == 20)
        received = {a["alert_id"]: a["received_at"] for a in client.get("/v1/alerts", headers=ADMIN).json()}
        newest_first = sorted(sorted(ids), key=lambda i: received[i], reverse=True)
        assert listed(group_id="finance") == newest_first
        assert set(newest_first[:10]) == set(ids[10:]), "the later alerts come first"
        assert listed(group_id="finance", limit=5, offset=5) == newest_first[5:10]

        finance = token("group", "finance")
        assert client.post(f"/v1/alerts/{ids[0]}/ack", headers=finance).status_code == 200
        assert listed(status="acknowledged") == [ids[0]]
        assert ids[0] not in listed(status="open") and len(listed(status="open")) == 19
        assert listed(group_id="comprehensive") == []
        AlertIndexEntry.drop_collection()  # as an installation from before the alert index

    empty_topic = make_topic(
        kafka_bootstrap, f"test.notify-alert-index-2.{unique_name}", partitions=3, compact=True
    )
    with notify(alert_index_topic=empty_topic) as client:
        eventually(lambda: len(listed(group_id="finance")) == 20)
        assert listed(group_id="finance") == newest_first
        assert listed(status="acknowledged") == [ids[0]]


def test_a_repeat_after_a_restart_leaves_the_inbox_as_it_was(notify, kafka_bootstrap, topics):
    """After a restart the writer no longer knows which alerts it stored, so a repeat is tried as
    new first: the alert and its index entry stay as they were (acknowledged, where it was)."""
    from services.notify.case_store import known_alerts

    with notify() as client:

        def listed(**params: object) -> list[str]:
            return [a["alert_id"] for a in client.get("/v1/alerts", params=params, headers=ADMIN).json()]

        publish(kafka_bootstrap, topics["alerts_topic"], alert())
        eventually(lambda: listed() == [CASE_ID])
        assert client.post(f"/v1/alerts/{CASE_ID}/ack", headers=token("group", "finance")).status_code == 200
        known_alerts.forget(CASE_ID)  # as after a restart
        publish(kafka_bootstrap, topics["alerts_topic"], alert(summary="again"), alert("funding_gap.other.2011-12-18",
                                                                                   enterprise_id="western-mining"))  # fmt: skip
        eventually(lambda: len(listed()) == 2)
        # A marker on the case's partition: notify takes it after the repeat, and an entry it
        # writes is in its own view at once, so once the marker is listed the repeat's would be.
        marker = marker_after(kafka_bootstrap, topics["alerts_topic"], alert())
        eventually(lambda: marker["alert_id"] in listed())
        assert listed(status="acknowledged") == [CASE_ID]
        assert CASE_ID not in listed(status="open")


CASE_ID = "funding_gap.chalco-qinghai.2011-12-18"
