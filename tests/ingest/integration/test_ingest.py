"""Ingest over HTTP and over liaison.inbound.v1, against the real Kafka and FerretDB."""

import base64
import copy
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from kafka import KafkaProducer

from liaison_common import jsonbytes, tokens
from liaison_common.kafka_auth import kafka_auth
from services.ingest.app import create_app
from services.ingest.config import Settings
from tests.conftest import ADMIN_TOKEN
from tests.ingest.unit.test_validation import INCIDENT, REPORT, WG_REPORT
from tests.kafka_helpers import make_topic, metric_value, registry_topic_with_the_seed, wait_for_events

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def registry_topic(kafka_bootstrap: str) -> str:
    return registry_topic_with_the_seed(kafka_bootstrap, f"test.ingest-registry.{time.time_ns()}")


@pytest.fixture
def topics(kafka_bootstrap: str, unique_name: str) -> dict[str, str]:
    names = {
        "inbound_topic": f"test.inbound.{unique_name}",
        "reports_topic": f"test.reports.{unique_name}",
        "incidents_topic": f"test.incidents.{unique_name}",
        "workgroup_reports_topic": f"test.wg-reports.{unique_name}",
        "dlq_topic": f"test.dlq.{unique_name}",
    }
    for name in names.values():
        make_topic(kafka_bootstrap, name)
    return names


@pytest.fixture
def ingest(
    kafka_bootstrap: str, mongodb_uri: str, registry_topic: str, topics: dict[str, str], unique_name: str
) -> Callable[..., object]:
    @contextmanager
    def start(**overrides: object) -> Iterator[TestClient]:
        options = {
            "kafka_bootstrap_servers": kafka_bootstrap,
            "mongodb_uri": mongodb_uri,
            "admin_token": ADMIN_TOKEN,
            "registry_topic": registry_topic,
            "inbound_group": f"test-ingest-{unique_name}",
            "inbound_enabled": False,
            **topics,
            **overrides,
        }
        with TestClient(create_app(Settings(**options))) as client:
            wait_until_ready(client)
            yield client

    return start


def wait_until_ready(client: TestClient, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/healthz").status_code != 200:
        assert time.monotonic() < deadline, "ingest did not load the registry"
        time.sleep(0.1)


def report(report_id: str, **changes: object) -> dict:
    """REPORT under another id, in a week of its own (two ids for one week would be a correction,
    docs/contract.md §7); `period_start`/`period_end` in `changes` choose the week."""
    week_end = date(2011, 12, 18) - timedelta(weeks=zlib.crc32(report_id.encode()) % 500)
    period = {"period_start": (week_end - timedelta(days=6)).isoformat(), "period_end": week_end.isoformat()}
    return {**copy.deepcopy(REPORT), **period, "report_id": report_id, **changes}


def token(subject_type: str, subject_id: str) -> dict[str, str]:
    secret, _ = tokens.issue_token(subject_type=subject_type, subject_id=subject_id)
    return {"Authorization": f"Bearer {secret}"}


def test_an_accepted_report_is_on_the_reports_topic_keyed_by_enterprise(ingest, kafka_bootstrap, topics):
    with ingest() as client:
        answer = client.post("/v1/reports", json=report("r-1"), headers=ADMIN)
        assert (answer.status_code, answer.json()) == (202, {"id": "r-1", "status": "accepted"})
    events = wait_for_events(kafka_bootstrap, topics["reports_topic"], lambda e: len(e) >= 1)
    assert events[0]["key"] == "chalco-qinghai"
    assert events[0]["report_id"] == "r-1" and events[0]["indicators"]["inventory_t"] == 31000
    assert events[0]["problems"] == [{"category": "transport", "text": "钾肥待运积压"}]


def test_incidents_and_work_group_reports_go_to_their_topics(ingest, kafka_bootstrap, topics):
    with ingest() as client:
        assert client.post("/v1/incidents", json=INCIDENT, headers=ADMIN).status_code == 202
        assert client.post("/v1/workgroup-reports", json=WG_REPORT, headers=ADMIN).status_code == 202
    incident = wait_for_events(kafka_bootstrap, topics["incidents_topic"], lambda e: len(e) >= 1)[0]
    assert (incident["key"], incident["severity"]) == ("qinghai-salt-lake", "critical")
    wg = wait_for_events(kafka_bootstrap, topics["workgroup_reports_topic"], lambda e: len(e) >= 1)[0]
    assert (wg["key"], wg["open_problems"][0]["enterprise_id"]) == ("wg-rail", "qinghai-salt-lake")


def test_the_same_report_id_is_accepted_once_also_after_a_restart(ingest, kafka_bootstrap, topics):
    with ingest() as client:
        assert client.post("/v1/reports", json=report("dup-1"), headers=ADMIN).status_code == 202
        again = client.post("/v1/reports", json=report("dup-1"), headers=ADMIN)
        assert (again.status_code, again.json()) == (200, {"id": "dup-1", "status": "duplicate"})
    with ingest() as restarted:
        after = restarted.post("/v1/reports", json=report("dup-1"), headers=ADMIN)
        assert (after.status_code, after.json()["status"]) == (200, "duplicate")
        assert restarted.post("/v1/reports", json=report("dup-2"), headers=ADMIN).status_code == 202
    events = wait_for_events(kafka_bootstrap, topics["reports_topic"], lambda e: len(e) >= 2)
    assert [e["report_id"] for e in events] == ["dup-1", "dup-2"]


def test_tokens_decide_who_may_submit_for_whom(ingest):
    with ingest() as client:
        assert client.post("/v1/reports", json=report("a-1")).status_code == 401
        chalco = token("enterprise", "chalco-qinghai")
        assert client.post("/v1/reports", json=report("a-2"), headers=chalco).status_code == 202
        other = client.post("/v1/reports", json=report("a-3", enterprise_id="western-mining"), headers=chalco)
        assert other.status_code == 403 and "enterprise_id" in other.json()["detail"]
        rail = token("work_group", "wg-rail")
        assert client.post("/v1/workgroup-reports", json=WG_REPORT, headers=rail).status_code == 202
        assert client.post("/v1/reports", json=report("a-4"), headers=rail).status_code == 403


def test_invalid_reports_are_422_naming_the_field_and_never_published(ingest, kafka_bootstrap, topics):
    with ingest() as client:
        unknown = client.post("/v1/reports", json=report("u-1", enterprise_id="no-such-co"), headers=ADMIN)
        assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "enterprise_id"]
        negative = client.post("/v1/reports", json=report("u-2", indicators={"sales_t": -5}), headers=ADMIN)
        assert negative.json()["detail"][0]["loc"] == ["body", "indicators", "sales_t"]
        not_json = client.post(
            "/v1/reports", content=b"{oops", headers={**ADMIN, "Content-Type": "application/json"}
        )
        assert not_json.status_code == 422 and not_json.json()["detail"][0]["loc"] == ["body"]
        assert client.post("/v1/reports", json=report("u-3"), headers=ADMIN).status_code == 202
    events = wait_for_events(kafka_bootstrap, topics["reports_topic"], lambda e: len(e) >= 1)
    assert [e["report_id"] for e in events] == ["u-3"]


def test_a_batch_answers_each_item_in_order_and_a_bad_item_never_sinks_the_good(
    ingest, kafka_bootstrap, topics
):
    with ingest(max_batch_items=5) as client:
        good = client.post("/v1/reports", json=[report("b-1"), report("b-2")], headers=ADMIN)
        assert good.status_code == 202 and [a["status"] for a in good.json()] == ["accepted", "accepted"]
        mixed = [report("b-3"), report("b-4", indicators={"inventory_t": -1}), report("b-1"), "not an object"]
        answer = client.post("/v1/reports", json=mixed, headers=ADMIN)
        assert answer.status_code == 207
        assert [(a["index"], a["status"]) for a in answer.json()] == [
            (0, "accepted"), (1, "rejected"), (2, "duplicate"), (3, "rejected"),
        ]  # fmt: skip
        assert answer.json()[1]["detail"][0]["loc"] == ["body", "indicators", "inventory_t"]
        twice = client.post("/v1/reports", json=[report("b-5"), report("b-5")], headers=ADMIN)
        assert [a["status"] for a in twice.json()] == ["accepted", "duplicate"]
        too_many = client.post("/v1/reports", json=[report(f"t-{i}") for i in range(6)], headers=ADMIN)
        assert too_many.status_code == 422
    events = wait_for_events(kafka_bootstrap, topics["reports_topic"], lambda e: len(e) >= 4)
    assert sorted(e["report_id"] for e in events) == ["b-1", "b-2", "b-3", "b-5"]


def test_with_the_broker_down_the_answer_is_503_and_nothing_is_half_written(ingest, kafka_bootstrap, topics):
    with ingest() as healthy:
        registry, ready = healthy.app.state.pipeline.registry, healthy.app.state.pipeline.registry_ready
        assert ready.is_set()
    # A broker that does not answer: the registry is known (from before), Kafka is not.
    app = create_app(
        Settings(
            kafka_bootstrap_servers="127.0.0.1:1",
            mongodb_uri=healthy.app.state.settings.mongodb_uri,
            admin_token=ADMIN_TOKEN,
            inbound_enabled=False,
            publish_timeout_seconds=1.0,
            **topics,
        )
    )
    with TestClient(app) as down:
        down.app.state.pipeline.registry = registry
        down.app.state.pipeline.registry_ready.set()
        answer = down.post("/v1/reports", json=report("down-1"), headers=ADMIN)
        assert answer.status_code == 503 and answer.headers["Retry-After"]
    with ingest() as back:
        # Not 'duplicate': the failed attempt left no claim behind.
        assert back.post("/v1/reports", json=report("down-1"), headers=ADMIN).status_code == 202
    events = wait_for_events(kafka_bootstrap, topics["reports_topic"], lambda e: len(e) >= 1)
    assert [e["report_id"] for e in events] == ["down-1"]


def test_oversized_bodies_get_413(ingest):
    with ingest(max_body_bytes=10_000) as client:
        big = report("big-1", notes="x" * 4000)
        answer = client.post("/v1/reports", json=[big, big, big], headers=ADMIN)
        assert answer.status_code == 413


def test_the_inbound_topic_forwards_good_events_and_dead_letters_the_rest(ingest, kafka_bootstrap, topics):
    producer = KafkaProducer(
        bootstrap_servers=kafka_bootstrap, **kafka_auth(), acks="all", max_request_size=11_000_000
    )
    huge = b'{"kind": "enterprise_report", "notes": "' + b"x" * 3_000_000 + b'"}'
    admin = [("authorization", f"Bearer {ADMIN_TOKEN}".encode())]
    with ingest() as _:  # connects the database, so that a token can be issued
        salt_lake = [("authorization", token("enterprise", "qinghai-salt-lake")["Authorization"].encode())]
    sent = [
        (b"chalco-qinghai", jsonbytes.dumps(report("in-1")), admin),
        (b"x", b"\xff\xfe not utf-8", admin),
        (b"x", b"{definitely not json", admin),
        (b"chalco-qinghai", jsonbytes.dumps(report("in-2", indicators={"inventory_t": -3})), admin),
        (b"nobody", jsonbytes.dumps(report("in-3", enterprise_id="no-such-co")), admin),
        (b"x", huge, admin),
        (b"chalco-qinghai", jsonbytes.dumps(report("in-1")), admin),  # a redelivery: not forwarded twice
        (b"chalco-qinghai", jsonbytes.dumps(report("in-4")), []),  # no token
        (b"chalco-qinghai", jsonbytes.dumps(report("in-5")), [("authorization", b"Bearer lsn_nope")]),
        (b"chalco-qinghai", jsonbytes.dumps(report("in-6")), salt_lake),  # another enterprise's token
        (b"x", b"[" * 5000 + b"]" * 5000, admin),  # too deep for json.loads
        (b"qinghai-salt-lake", jsonbytes.dumps(INCIDENT), salt_lake),
    ]
    for key, value, headers in sent:
        producer.send(topics["inbound_topic"], key=key, value=value, headers=headers)
    producer.flush()
    producer.close()
    with ingest(inbound_enabled=True):
        dlq = wait_for_events(kafka_bootstrap, topics["dlq_topic"], lambda e: len(e) >= 9, timeout=60)
        incidents = wait_for_events(kafka_bootstrap, topics["incidents_topic"], lambda e: len(e) >= 1)
    reasons = [d["reason"] for d in dlq]
    assert reasons == ["encoding", "not_json", "invalid", "unknown_reference", "invalid", "unauthenticated",
                       "unauthenticated", "forbidden", "not_json"]  # fmt: skip
    assert base64.b64decode(dlq[1]["original_value_base64"]) == b"{definitely not json"
    assert dlq[2]["detail"][0]["loc"] == ["body", "indicators", "inventory_t"]
    assert dlq[4]["original_size"] == len(huge)
    assert all(d["source"]["topic"] == topics["inbound_topic"] for d in dlq)
    reports = wait_for_events(kafka_bootstrap, topics["reports_topic"], lambda e: len(e) >= 1)
    assert [r["report_id"] for r in reports] == ["in-1"]
    assert incidents[0]["incident_id"] == INCIDENT["incident_id"]


def test_ids_are_unique_per_submitter_and_another_submitters_id_is_a_409(ingest):
    with ingest() as client:
        chalco, salt_lake = token("enterprise", "chalco-qinghai"), token("enterprise", "qinghai-salt-lake")
        taken = report("chalco-qinghai-2011-W51")
        assert client.post("/v1/reports", json=taken, headers=chalco).status_code == 202
        assert client.post("/v1/reports", json=taken, headers=chalco).json()["status"] == "duplicate"
        squatted = {**taken, "enterprise_id": "qinghai-salt-lake"}
        answer = client.post("/v1/reports", json=squatted, headers=salt_lake)
        assert answer.status_code == 409, answer.text
        assert answer.json()["detail"][0]["loc"] == ["body", "report_id"]
        # The squatter goes first next time: the real owner is refused, never told "duplicate".
        first = report("salt-lake-first", enterprise_id="qinghai-salt-lake")
        assert client.post("/v1/reports", json=first, headers=salt_lake).status_code == 202
        batch = client.post(
            "/v1/reports", json=[{**first, "enterprise_id": "chalco-qinghai"}], headers=chalco
        )
        assert batch.status_code == 207 and batch.json()[0]["status"] == "rejected"


def test_an_id_older_than_the_duplicate_memory_is_still_a_duplicate_or_a_conflict(ingest):
    # Memory keeps the 2 most recent ids; the first one is forgotten and found by the store.
    with ingest(duplicate_memory_ids=2) as client:
        chalco, salt_lake = token("enterprise", "chalco-qinghai"), token("enterprise", "qinghai-salt-lake")
        for number in (1, 2, 3):
            assert client.post("/v1/reports", json=report(f"old-{number}"), headers=chalco).status_code == 202
        again = client.post("/v1/reports", json=report("old-1"), headers=chalco)
        assert (again.status_code, again.json()["status"]) == (200, "duplicate")
        squatted = report("old-2", enterprise_id="qinghai-salt-lake")
        client.post("/v1/reports", json=report("old-4"), headers=chalco)  # old-2 leaves memory
        answer = client.post("/v1/reports", json=squatted, headers=salt_lake)
        assert answer.status_code == 409 and answer.json()["detail"][0]["type"] == "conflict", answer.text


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"period_start": "0001-01-01", "period_end": "0001-01-07"}, "period_start"),
        ({"period_start": "2099-01-05", "period_end": "2099-01-11"}, "period_end"),
        ({"period_start": "2011-10-01", "period_end": "2011-12-18"}, "period_end"),
        ({"submitted_at": "2099-01-01T00:00:00+08:00"}, "submitted_at"),
        ({"indicators": {"sales_t": 1e308}}, "indicators"),
    ],
)
def test_submissions_out_of_bounds_are_a_422_naming_the_field(ingest, changes, field):
    with ingest() as client:
        answer = client.post("/v1/reports", json=report(f"bounds-{field}", **changes), headers=ADMIN)
    assert answer.status_code == 422, answer.text
    assert field in {loc for error in answer.json()["detail"] for loc in error["loc"]}


def test_a_deeply_nested_body_or_a_lone_surrogate_is_a_422_not_a_500(ingest):
    with ingest() as client:
        deep = client.post("/v1/reports", content=b"[" * 5000 + b"]" * 5000, headers=ADMIN)
        assert deep.status_code == 422
        body = b'[{"report_id": "ab\\ud800", "enterprise_id": "chalco-qinghai"}]'
        lone = client.post("/v1/reports", content=body, headers={**ADMIN, "Content-Type": "application/json"})
        assert lone.status_code in (207, 422) and lone.json()


def test_metrics_count_submissions_by_outcome(ingest):
    labels = {"kind": "enterprise_report", "source": "http"}
    with ingest() as client:
        before = client.get("/metrics").text
        client.post("/v1/reports", json=report("m-1"), headers=ADMIN)
        client.post("/v1/reports", json=report("m-1"), headers=ADMIN)
        client.post("/v1/reports", json=report("m-2", indicators={"inventory_t": -1}), headers=ADMIN)
        after = client.get("/metrics").text
    for outcome in ("accepted", "duplicate", "rejected"):
        name = "liaison_ingest_submissions_total"
        assert (
            metric_value(after, name, outcome=outcome, **labels)
            == metric_value(before, name, outcome=outcome, **labels) + 1
        )
    timed = {"service": "ingest", "route": "/v1/reports", "method": "POST"}
    assert metric_value(after, "liaison_http_request_duration_seconds_count", **timed) == (
        metric_value(before, "liaison_http_request_duration_seconds_count", **timed) + 3
    )


def test_a_409_is_never_published_even_when_two_replicas_race_for_one_id(ingest, kafka_bootstrap, topics):
    """Issue 35.2: the id is claimed in the database before it is published, so of two
    enterprises racing for one report_id on two ingest replicas, one is accepted, the other
    answered 409, and only the winner's report is on the topic."""
    with ingest() as first, ingest() as second:
        chalco, salt_lake = token("enterprise", "chalco-qinghai"), token("enterprise", "qinghai-salt-lake")
        for attempt in range(4):
            racing = report(f"race-{attempt}")
            answers: dict[str, int] = {}

            def post(
                client: TestClient,
                enterprise: str,
                headers: dict[str, str],
                body: dict = racing,
                answers: dict[str, int] = answers,
            ) -> None:
                answers[enterprise] = client.post(
                    "/v1/reports", json={**body, "enterprise_id": enterprise}, headers=headers
                ).status_code

            threads = [
                threading.Thread(target=post, args=(first, "chalco-qinghai", chalco)),
                threading.Thread(target=post, args=(second, "qinghai-salt-lake", salt_lake)),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert sorted(answers.values()) == [202, 409], answers
        # A marker after the races: once it is on the topic, every accepted report before it is.
        assert first.post("/v1/reports", json=report("race-marker"), headers=ADMIN).status_code == 202
    events = wait_for_events(
        kafka_bootstrap, topics["reports_topic"], lambda e: any(x["report_id"] == "race-marker" for x in e)
    )
    raced = [
        e["report_id"]
        for e in events
        if e["report_id"].startswith("race-") and e["report_id"] != "race-marker"
    ]
    assert sorted(raced) == [f"race-{n}" for n in range(4)]  # each id once: the 409s went nowhere


def test_corrections_in_one_batch_are_judged_in_order_as_one_at_a_time_would_be(
    ingest, kafka_bootstrap, topics
):
    """A batch's periods are claimed together (one insert, one read): each item still sees what
    the items before it did. In one batch: a report, its correction, one submitted earlier than
    the correction (409), and a correction of a period an earlier request holds."""
    w48 = {"period_start": "2011-11-28", "period_end": "2011-12-04"}
    w49 = {"period_start": "2011-12-05", "period_end": "2011-12-11"}
    with ingest() as client:
        chalco = token("enterprise", "chalco-qinghai")
        held = report("held-w49", **w49, submitted_at="2011-12-12T09:00:00+08:00")
        assert client.post("/v1/reports", json=held, headers=chalco).status_code == 202
        batch = [
            report("first-w48", **w48, submitted_at="2011-12-05T09:00:00+08:00"),
            report("second-w48", **w48, submitted_at="2011-12-05T15:00:00+08:00"),
            report("between-w48", **w48, submitted_at="2011-12-05T12:00:00+08:00"),
            report("fixed-w49", **w49, submitted_at="2011-12-12T15:00:00+08:00"),
            report("batch-marker"),
        ]
        answer = client.post("/v1/reports", json=batch, headers=chalco)
        assert answer.status_code == 207
        assert [(a["status"], a.get("replaces")) for a in answer.json()] == [
            ("accepted", None),
            ("correction", "first-w48"),
            ("rejected", None),
            ("correction", "held-w49"),
            ("accepted", None),
        ]
        assert answer.json()[2]["detail"][0]["loc"] == ["body", "submitted_at"]
        assert "second-w48" in answer.json()[2]["detail"][0]["msg"]
    events = wait_for_events(
        kafka_bootstrap, topics["reports_topic"], lambda e: any(x["report_id"] == "batch-marker" for x in e)
    )
    assert [e["report_id"] for e in events] == [
        "held-w49",
        "first-w48",
        "second-w48",
        "fixed-w49",
        "batch-marker",
    ]


def test_a_later_report_for_the_same_period_is_a_correction(ingest, kafka_bootstrap, topics):
    """docs/contract.md §7: the same submitter, subject and period under another report_id replaces
    the earlier report (202, "correction", naming what it replaces); one submitted earlier than
    the report it would replace is a 409 naming submitted_at, and is not published."""
    week = {"period_start": "2011-11-28", "period_end": "2011-12-04"}
    with ingest() as client:
        chalco = token("enterprise", "chalco-qinghai")
        typo = report("typo-w48", **week, submitted_at="2011-12-05T09:00:00+08:00")
        assert client.post("/v1/reports", json=typo, headers=chalco).status_code == 202
        fixed = report("fixed-w48", **week, submitted_at="2011-12-05T15:00:00+08:00")
        answer = client.post("/v1/reports", json=fixed, headers=chalco)
        assert (answer.status_code, answer.json()) == (
            202,
            {"id": "fixed-w48", "status": "correction", "replaces": "typo-w48"},
        )
        older = report("older-w48", **week, submitted_at="2011-12-05T12:00:00+08:00")
        refused = client.post("/v1/reports", json=older, headers=chalco)
        assert refused.status_code == 409 and refused.json()["detail"][0]["loc"] == ["body", "submitted_at"]
        # The replaced report sent again is still a duplicate, not a correction of the correction.
        assert client.post("/v1/reports", json=typo, headers=chalco).json()["status"] == "duplicate"
        # The refused id was released: the same id, submitted later, is a correction after all.
        later = {**older, "submitted_at": "2011-12-06T09:00:00+08:00"}
        assert client.post("/v1/reports", json=later, headers=chalco).json() == {
            "id": "older-w48",
            "status": "correction",
            "replaces": "fixed-w48",
        }
        marker = client.post("/v1/reports", json=report("correction-marker"), headers=chalco)
        assert marker.status_code == 202
    events = wait_for_events(
        kafka_bootstrap,
        topics["reports_topic"],
        lambda e: any(x["report_id"] == "correction-marker" for x in e),
    )
    assert [e["report_id"] for e in events if e["period_end"] == "2011-12-04"] == [
        "typo-w48",
        "fixed-w48",
        "older-w48",
    ]
