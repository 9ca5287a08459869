"""Bad input: fuzzed HTTP calls, garbage on every Kafka input topic, NoSQL operator injection."""

import base64
import contextlib
import json
import uuid
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from kafka import KafkaProducer
from kafka.errors import KafkaError
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from liaison_common.deadletter import MAX_DEAD_LETTER_BYTES
from liaison_common.kafka_auth import kafka_auth
from tests.faults.cluster import Cluster
from tests.faults.helpers import issue_token, read_topic, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.faults]
BOUND = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# ------------------------------------------------------------------ schemathesis
# Operation by operation with hypothesis directly: schemathesis' pytest plugin (from_fixture)
# reads a private attribute pytest 9 no longer has.


def fuzz(
    url: str, headers: dict[str, str], *, exclude: tuple[str, ...] = ()
) -> tuple[dict[str, int], list[str]]:
    """Positive and negative cases for every operation; (calls per operation, failures). An
    operation with no call at all is a failure too: a schema nothing can be generated from
    would otherwise pass unseen (issue 36.8)."""
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    failures: list[str] = []
    calls: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in exclude:
            continue
        name = f"{operation.method.upper()} {operation.path}"
        calls[name] = 0
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            seen: list[str] = []
            counter: list[int] = []
            # Unsatisfiable: nothing to make negative (no parameters, no body); the positive run counts.
            with contextlib.suppress(Unsatisfiable):
                _fuzz_one(operation, mode, headers, seen, counter)()
            calls[name] += len(counter)
            failures.extend(seen)
        if calls[name] == 0:
            failures.append(f"{name}: never called (no case could be generated from its schema)")
    return calls, failures


def check_failures(error: BaseException) -> list[BaseException]:
    """The check failures in what a case raised: schemathesis 4 raises a FailureGroup (an
    exception group, not an AssertionError) when more than one check fails, a Failure (an
    AssertionError) for one."""
    if isinstance(error, BaseExceptionGroup):
        return [e for inner in error.exceptions for e in check_failures(inner)]
    return [error] if isinstance(error, AssertionError) else []


def _fuzz_one(operation: Any, mode: Any, headers: dict[str, str], seen: list[str], counter: list[int]) -> Any:
    @given(case=operation.as_strategy(generation_mode=mode))
    @BOUND
    def run(case: Any) -> None:
        counter.append(1)
        try:
            case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)
        except (AssertionError, BaseExceptionGroup) as error:
            found = check_failures(error)
            if not found:
                raise
            if len(seen) < 3:
                said = "; ".join(str(f) for f in found)
                seen.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {said}"[:600])

    return run


@pytest.fixture(scope="module")
def fuzz_cluster(cluster: Cluster) -> Cluster:
    cluster.ensure_running()
    if not cluster["registry-fuzz"].alive:
        cluster["registry-fuzz"].start()
    return cluster


@pytest.mark.parametrize(
    ("service", "port_name", "exclude"),
    [
        ("ingest", "ingest", ()),
        # Writes included, against a registry of its own (its own database, publishing off), so
        # fuzzed entities never reach the cluster's organisation.
        ("registry", "registry-fuzz", ()),
        # The event stream never ends; the notify and console suites test it.
        ("notify", "notify", ("/v1/alerts/stream",)),
    ],
)
def test_schemathesis(service, port_name, exclude, fuzz_cluster, scenario):
    scenario.describe(
        f"schemathesis over {service}'s OpenAPI (bounded: 25 positive and 25 negative examples per operation)",
        "no 5xx; every status code, content type and body as the OpenAPI documents it",
    )
    calls, failures = fuzz(fuzz_cluster.url(port_name), fuzz_cluster.admin, exclude=exclude)
    writes = [name for name in calls if not name.startswith("GET ")]
    scenario.measured(
        f"{len(calls)} operations ({len(writes)} writes), {sum(calls.values())} calls, "
        f"fewest calls of one operation {min(calls.values())}, {len(failures)} failures"
    )
    assert writes, f"{service}: no write operation was fuzzed"
    assert not failures, "\n\n".join(failures)


def test_a_failure_group_from_schemathesis_is_recorded_not_lost():
    """Issue 36.8: two failing checks come as a FailureGroup, which is not an AssertionError."""
    from schemathesis.core.failures import Failure, FailureGroup

    one = Failure(operation="GET /x", title="Server error", message="500")
    group = FailureGroup([one, Failure(operation="GET /x", title="Schema", message="bad")], "2 failures")
    assert [str(f.title) for f in check_failures(group)] == ["Server error", "Schema"]  # type: ignore[attr-defined]
    assert check_failures(one) == [one] and check_failures(ValueError("x")) == []


# ------------------------------------------------------------------ garbage on Kafka

INPUT_TOPICS = {
    # topic: who reads it
    "liaison.inbound.v1": "ingest",
    "liaison.reports.v1": "rules",
    "liaison.incidents.v1": "rules",
    "liaison.workgroup-reports.v1": "rules",
    "liaison.rules-periods.v1": "rules",
    "liaison.alerts.v1": "notify",
    "liaison.reporting.v1": "notify",
    "liaison.registry.v1": "registry",
}
COMPACTED = {"liaison.registry.v1", "liaison.reporting.v1"}
TEN_MB = 10_000_000


def garbage(run: str) -> list[tuple[str, bytes | None, bytes]]:
    """(what, key, value): each kind of unusable message the issue names."""
    wrong_types = {"report_id": 5, "enterprise_id": ["x"], "alert_id": {"$ne": None}, "id": 7, "version": "v",
                   "entity_type": 3, "severity": 9, "routes": "all", "week": 1}  # fmt: skip
    return [
        ("not JSON", f"{run}-1".encode(), b"\x00\xffnot json at all {"),
        ("wrong encoding (UTF-16)", f"{run}-2".encode(), json.dumps({"report_id": run}).encode("utf-16")),
        ("wrong types", f"{run}-3".encode(), json.dumps(wrong_types).encode()),
        ("10 MB value", f"{run}-4".encode(), b'{"notes": "' + b"x" * (TEN_MB - 13) + b'"}'),
        ("missing key and fields", None, b"{}"),
        # What a hostile or mistaken sender tried (the hardening issue): each stopped a consumer once.
        ("JSON nested 5,000 deep", f"{run}-5".encode(), b"[" * 5000 + b"]" * 5000),
        (
            "a report dated year 1",
            f"{run}-6".encode(),
            json.dumps(
                {
                    "kind": "enterprise_report",
                    "report_id": f"{run}-y1",
                    "enterprise_id": "chalco-qinghai",
                    "period_start": "0001-01-01",
                    "period_end": "0001-01-07",
                    "submitted_at": "0001-01-08T09:00:00+08:00",
                    "indicators": {"sales_t": 1},
                    "reporter": "chalco-qinghai",
                    "source": "x",
                }
            ).encode(),
        ),
        (
            "indicators of 1e308",
            f"{run}-7".encode(),
            json.dumps(
                {
                    "kind": "enterprise_report",
                    "report_id": f"{run}-big",
                    "enterprise_id": "chalco-qinghai",
                    "period_start": "2009-02-02",
                    "period_end": "2009-02-08",
                    "submitted_at": "2009-02-09T09:00:00+08:00",
                    "indicators": {"sales_t": 1e308, "inventory_t": 1e308},
                }
            ).encode(),
        ),
        (
            "an alert whose routes and evidence have the wrong inner types",
            f"{run}-8".encode(),
            json.dumps(
                {
                    "alert_id": f"funding_gap.{run}.2009-02-08",
                    "type": "funding_gap",
                    "severity": "high",
                    "subject_type": "enterprise",
                    "subject_id": "chalco-qinghai",
                    "period_start": "2009-02-02",
                    "period_end": "2009-02-08",
                    "summary": "x",
                    "routes": [{"group_id": 5}],
                    "evidence": "x",
                    "source_ids": ["x"],
                    "detected_at": "2009-02-09T09:00:00+08:00",
                }
            ).encode(),
        ),
        (
            "a reporting record for week 1-W01",
            f"{run}-9".encode(),
            json.dumps(
                {
                    "week": "1-W01",
                    "period_end": "0001-01-07",
                    "expected": ["chalco-qinghai"],
                    "received": [],
                    "on_time": [],
                    "late": [],
                    "missing": ["chalco-qinghai"],
                }
            ).encode(),
        ),
    ]


def test_garbage_on_every_kafka_input_topic_goes_to_the_dead_letter_topic(healthy_cluster, scenario):
    scenario.describe(
        "garbage on every Kafka input topic (" + ", ".join(sorted(INPUT_TOPICS)) + "): not JSON, UTF-16, "
        "wrong types, a 10 MB value, no key and no fields; JSON nested 5,000 deep, a report dated year 1, "
        "indicators of 1e308, an alert with wrong inner types, a reporting record for week 1-W01",
        "each message the broker takes is on liaison.dlq.v1 with its source, a reason and its exact bytes; "
        "every worker still runs and a good report still becomes an alert",
    )
    cluster, run = healthy_cluster, uuid.uuid4().hex[:8]
    producer = KafkaProducer(
        bootstrap_servers=cluster.bootstrap,
        **kafka_auth(),
        acks="all",
        max_request_size=MAX_DEAD_LETTER_BYTES,
    )
    sent: dict[tuple[str, int, int], tuple[str, bytes]] = {}
    refused: list[str] = []
    try:
        for topic in INPUT_TOPICS:
            for what, key, value in garbage(run):
                try:
                    meta = producer.send(topic, key=key, value=value).get(timeout=60)
                except KafkaError as error:
                    # A compacted topic takes no message without a key: the broker itself refuses it.
                    assert topic in COMPACTED and key is None, f"{topic} refused {what}: {error!r}"
                    refused.append(f"{topic}: {what}")
                    producer.close()  # kafka-python would report this error again on the next send
                    producer = KafkaProducer(
                        bootstrap_servers=cluster.bootstrap,
                        **kafka_auth(),
                        acks="all",
                        max_request_size=MAX_DEAD_LETTER_BYTES,
                    )
                    continue
                sent[(topic, meta.partition, meta.offset)] = (what, value)
    finally:
        producer.close()

    def dead_letters() -> dict[tuple[str, int, int], dict[str, Any]]:
        found = {}
        for _, value in read_topic(cluster.bootstrap, "liaison.dlq.v1"):
            record = json.loads(value)
            source = record["source"]
            coordinates = (source["topic"], source["partition"], source["offset"])
            if coordinates in sent:
                found[coordinates] = record
        return found

    wait_until(
        f"all {len(sent)} messages dead-lettered",
        lambda: len(dead_letters()) == len(sent),
        timeout=180,
        every=2,
    )
    for coordinates, record in dead_letters().items():
        what, value = sent[coordinates]
        assert record["reason"] and record["detail"], (coordinates, what, record["reason"])
        assert record["rejected_by"] == INPUT_TOPICS[coordinates[0]], (coordinates, record["rejected_by"])
        assert base64.b64decode(record["original_value_base64"]) == value, (coordinates, what)
    scenario.measured(f"{len(sent)} messages on {len(INPUT_TOPICS)} topics, all dead-lettered with a reason")
    scenario.measured(f"refused by the broker (compacted topics need a key): {len(refused)}")
    for name in ("registry", "ingest", "rules", "notify"):
        assert cluster[name].alive, f"{name} died:\n{cluster[name].tail()}"
        assert httpx.get(f"{cluster.url(name)}/healthz", timeout=10).status_code == 200
    # Still working: a good report becomes an alert stored by notify.
    # An early week (2009), before the access scenario's case and every later scenario's: an alert
    # of its own (cases, docs/contract.md §6).
    report = {"report_id": f"after-garbage-{run}", "enterprise_id": "chalco-qinghai", "period_start": "2009-01-05",
              "period_end": "2009-01-11", "submitted_at": "2009-01-12T09:00:00+08:00",
              "indicators": {"working_capital_need": 9000, "cash_on_hand": 10, "credit_available": 10}}  # fmt: skip
    answer = httpx.post(f"{cluster.url('ingest')}/v1/reports", json=report, headers=cluster.admin, timeout=30)
    assert answer.status_code == 202, answer.text
    wait_until(
        "the alert of a good report after the garbage",
        lambda: httpx.get(f"{cluster.url('notify')}/v1/alerts/funding_gap.chalco-qinghai.2009-01-11",
                          headers=cluster.admin, timeout=10).status_code == 200,
        timeout=120,
    )  # fmt: skip


# ------------------------------------------------------------------ NoSQL operator injection

INJECTIONS_IN_QUERIES = [
    ("notify", "/v1/alerts", {"enterprise_id[$ne]": "x"}),
    ("notify", "/v1/alerts", {"enterprise_id": '{"$ne": null}'}),
    ("notify", "/v1/alerts", {"$where": "sleep(100)"}),
    ("notify", "/v1/alerts", {"evidence.values.gap": "1"}),
    ("notify", "/v1/alerts", {"group_id": "$ne"}),
    ("registry", "/v1/enterprises", {"id[$ne]": "x"}),
    ("registry", "/v1/enterprises", {"$where": "1 == 1"}),
    ("registry", "/v1/enterprises", {"work_group_ids.0": "wg-liaison"}),
    ("registry", "/v1/routes/resolve", {"enterprise_id": '{"$gt": ""}', "type": "funding_gap"}),
    ("registry", "/v1/tokens", {"subject_id[$regex]": ".*"}),
]


def test_nosql_operator_injection_is_rejected_with_422(healthy_cluster, scenario):
    scenario.describe(
        'NoSQL operator injection: {"$ne": null}, $where, $regex and dotted keys in query parameters '
        "and bodies of ingest, registry and notify",
        "422 naming the parameter or field, never a result widened by the operator",
    )
    cluster = healthy_cluster
    enterprise_token = issue_token(cluster, "enterprise", "chalco-qinghai")
    checked = 0
    for service, path, params in INJECTIONS_IN_QUERIES:
        answer = httpx.get(f"{cluster.url(service)}{path}", params=params, headers=cluster.admin, timeout=30)
        assert answer.status_code == 422, (
            f"{service} {path} {params}: {answer.status_code} {answer.text[:200]}"
        )
        assert "detail" in answer.json()
        checked += 1
    report = {"report_id": "inj-1", "enterprise_id": "chalco-qinghai", "period_start": "2019-02-04",
              "period_end": "2019-02-10", "submitted_at": "2019-02-11T09:00:00+08:00"}  # fmt: skip
    bodies = [
        ("ingest", "/v1/reports", {**report, "enterprise_id": {"$ne": None}}, enterprise_token),
        ("ingest", "/v1/reports", {**report, "$where": "1"}, enterprise_token),
        ("ingest", "/v1/reports", {**report, "indicators": {"$gt": 0}}, enterprise_token),
        ("ingest", "/v1/reports", {**report, "indicators.inventory_t": 5}, enterprise_token),
        ("registry", "/v1/units", {"id": "inj-unit", "name": {"$ne": None}, "kind": "department"}, None),
        ("registry", "/v1/units", {"id": {"$gt": ""}, "name": "x", "kind": "department"}, None),
        ("registry", "/v1/tokens", {"subject_type": "group", "subject_id": {"$ne": None}}, None),
        (
            "registry",
            "/v1/subscriptions",
            {
                "id": "inj-sub",
                "group_id": "finance",
                "channel": "webhook",
                "target": "http://x",
                "filters.$where": "1",
            },
            None,
        ),
        ("notify", "/v1/alerts/x/ack", {"comment": {"$ne": None}}, None),
        ("notify", "/v1/alerts/x/ack", {"comment": "ok", "$set": {"status": "resolved"}}, None),
    ]
    for service, path, body, token in bodies:
        headers = {"Authorization": f"Bearer {token}"} if token else cluster.admin
        answer = httpx.post(f"{cluster.url(service)}{path}", json=body, headers=headers, timeout=30)
        assert answer.status_code == 422, f"{service} {path} {body}: {answer.status_code} {answer.text[:200]}"
        checked += 1
    scenario.measured(f"{checked} injection attempts, each 422")
