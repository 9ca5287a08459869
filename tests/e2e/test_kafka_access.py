"""The broker `make up` runs: every client authenticates, and each user may do only its part
(docs/contract.md §6; the users and ACLs of liaison_common.kafka_access)."""

import json
import uuid

import httpx
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, TopicAuthorizationFailedError

from liaison_client.local import local_admin_token
from liaison_common import topics
from liaison_common.kafka_access import properties_text
from liaison_common.kafka_auth import read_properties
from tests.conftest import REPO
from tests.kafka_helpers import wait_for_events

pytestmark = pytest.mark.integration
BOOTSTRAP = "127.0.0.1:9092"
SECRETS = REPO / ".local" / "secrets"
INGEST = "http://127.0.0.1:8001"
REGISTRY = "http://127.0.0.1:8002"


def client_options(name: str) -> dict[str, str]:
    """kafka-python settings from one of the librdkafka properties files `make up` writes."""
    path = SECRETS / name
    if not path.exists():
        pytest.skip(f"{path} is missing: the broker on 9092 is not one `make up` started with SASL")
    values = read_properties(str(path))
    assert values["bootstrap.servers"] == BOOTSTRAP and values["security.protocol"] == "SASL_PLAINTEXT"
    return {
        "security_protocol": values["security.protocol"],
        "sasl_mechanism": values["sasl.mechanisms"],
        "sasl_plain_username": values["sasl.username"],
        "sasl_plain_password": values["sasl.password"],
    }


def producer(**options: object) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", max_block_ms=10_000,
                         bootstrap_timeout_ms=8_000, **options)  # fmt: skip


def test_the_properties_files_are_private_and_name_their_users():
    for name, user in (
        ("kafka-client.properties", "enterprise-systems"),
        ("kafka-admin.properties", "admin"),
    ):
        client_options(name)
        path = SECRETS / name
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
        assert read_properties(str(path))["sasl.username"] == user


def test_a_client_without_credentials_or_with_a_wrong_password_gets_nothing():
    client_options("kafka-client.properties")  # skip unless SASL is on
    with pytest.raises(KafkaError):
        producer()  # PLAINTEXT against the SASL listener: never bootstraps
    wrong = {**client_options("kafka-client.properties"), "sasl_plain_password": "not-the-password"}
    with pytest.raises(KafkaError):
        producer(**wrong).send(topics.INBOUND, b"{}").get(timeout=10)


def test_an_enterprise_system_may_submit_on_the_inbound_topic_and_write_nothing_else():
    options = client_options("kafka-client.properties")
    admin = {"Authorization": f"Bearer {local_admin_token()}"}
    token = httpx.post(f"{REGISTRY}/v1/tokens", json={"subject_type": "enterprise", "subject_id": "qinghai-salt-lake"},
                       headers=admin, timeout=10).json()["token"]  # fmt: skip
    report = {
        "kind": "enterprise_report",
        "report_id": f"kafka-acl-{uuid.uuid4().hex[:8]}",
        "enterprise_id": "qinghai-salt-lake",
        "period_start": "2011-12-12",
        "period_end": "2011-12-18",
        "submitted_at": "2011-12-19T09:30:00+08:00",
        "indicators": {"inventory_t": 100000, "sales_t": 60000},
    }
    enterprise = producer(**options)
    try:
        enterprise.send(
            topics.INBOUND, key=b"qinghai-salt-lake", value=json.dumps(report).encode(),
            headers=[("authorization", f"Bearer {token}".encode())],
        ).get(timeout=10)  # fmt: skip
        # A forged alert, or a registry change that every service would adopt: refused by the broker.
        forged_registry = {"entity_type": "subscription", "id": "evil", "version": 10**9, "deleted": False,
                           "data": {"target": "http://attacker.example/"}}  # fmt: skip
        for topic, value in ((topics.ALERTS, b'{"alert_id": "forged"}'),
                             (topics.REGISTRY, json.dumps(forged_registry).encode()),
                             (topics.REPORTS, json.dumps(report).encode())):  # fmt: skip
            with pytest.raises(TopicAuthorizationFailedError):
                enterprise.send(topic, key=b"evil", value=value).get(timeout=10)
    finally:
        enterprise.close()
    # Ingest took the record (the token decides for whom it speaks) and published the report.
    wait_for_events(
        BOOTSTRAP, topics.REPORTS,
        lambda events: any(e.get("report_id") == report["report_id"] for e in events), timeout=60,
    )  # fmt: skip


def test_an_enterprise_system_cannot_even_look_at_the_other_topics():
    options = client_options("kafka-client.properties")
    # Describing a topic (its offsets) is the least any read needs; only the inbound topic, which
    # it writes, may be described. One client per topic: kafka-python keeps asking for a topic
    # it was refused once.
    for topic in (topics.ALERTS, topics.REGISTRY, topics.REPORTS, topics.ALERT_EVENTS):
        consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, **options)
        try:
            with pytest.raises(TopicAuthorizationFailedError):
                consumer.end_offsets([TopicPartition(topic, 0)])
        finally:
            consumer.close()


def test_the_properties_text_is_what_kcat_reads():
    text = properties_text(BOOTSTRAP, "enterprise-systems", "pw")
    assert "sasl.mechanisms=SCRAM-SHA-256" in text and "security.protocol=SASL_PLAINTEXT" in text
