"""The broker's TLS listener (issue 41.4): records carry liaisons' bearer tokens, so the manifests
connect every client over TLS, and `make up`'s broker has the same listener on 127.0.0.1:9096.
The clients here are built by liaison_common.kafka_auth from KAFKA_SSL_CAFILE, as the services'
are, and must check the broker's certificate against that CA and nothing else."""

import asyncio
import json
import subprocess
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaTimeoutError

from liaison_common import kafka_auth as auth
from liaison_common.topics import TopicSpec, ensure_topics
from tests.conftest import REPO

pytestmark = pytest.mark.integration
TLS = "127.0.0.1:9096"
CA = REPO / ".local" / "secrets" / "kafka-ca.crt"


@pytest.fixture
def over_tls(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """The admin's client settings over TLS, from the environment as a service takes them."""
    if not CA.exists():
        pytest.skip(f"{CA} is missing: the broker was not started by this `make up`")
    auth.use_local_kafka_admin()
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(CA))
    options = auth.kafka_auth()
    assert options["security_protocol"] == "SASL_SSL"
    return options


def connect(options: dict[str, object]) -> KafkaConsumer:
    """A consumer, which reaches the broker as it is made; one that cannot times out bootstrapping."""
    return KafkaConsumer(bootstrap_servers=TLS, request_timeout_ms=8000, bootstrap_timeout_ms=8000, **options)


def a_topic() -> str:
    name = f"test.tls.{uuid.uuid4().hex[:8]}"
    ensure_topics(TLS, (TopicSpec(name, 1),))  # the admin client over TLS too
    return name


def test_kafka_python_and_aiokafka_clients_write_and_read_over_tls(over_tls):
    topic = a_topic()
    producer = KafkaProducer(bootstrap_servers=TLS, acks="all", **over_tls)
    producer.send(topic, value=json.dumps({"via": "kafka-python"}).encode()).get(timeout=30)
    producer.close()

    async def aiokafka_round_trip() -> list[dict]:
        sender = AIOKafkaProducer(bootstrap_servers=TLS, acks="all", **over_tls)
        await sender.start()
        try:
            await sender.send_and_wait(topic, json.dumps({"via": "aiokafka"}).encode())
        finally:
            await sender.stop()
        reader = AIOKafkaConsumer(topic, bootstrap_servers=TLS, auto_offset_reset="earliest", **over_tls)
        await reader.start()
        try:
            batches = await reader.getmany(timeout_ms=10_000)
            return [json.loads(m.value) for ms in batches.values() for m in ms]
        finally:
            await reader.stop()

    assert asyncio.run(aiokafka_round_trip()) == [{"via": "kafka-python"}, {"via": "aiokafka"}]
    # Faust's worker gets the same: SCRAM over TLS, with the same context.
    credentials = auth.faust_credentials()
    assert credentials.protocol.value == "SASL_SSL"
    assert credentials.ssl_context is over_tls["ssl_context"]


def test_a_client_that_trusts_another_ca_does_not_connect(over_tls, tmp_path: Path, monkeypatch):
    other = tmp_path / "other-ca.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=Other CA",
         "-keyout", str(tmp_path / "other.key"), "-out", str(other)],
        check=True, capture_output=True,
    )  # fmt: skip
    connect(over_tls).close()  # the control: with the broker's own CA it connects
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(other))
    options = auth.kafka_auth()
    with pytest.raises(KafkaTimeoutError):
        connect(options)
    # Nor one that speaks SASL without TLS to the TLS port.
    plain = {k: v for k, v in over_tls.items() if k != "ssl_context"} | {
        "security_protocol": "SASL_PLAINTEXT"
    }
    with pytest.raises(KafkaTimeoutError):
        connect(plain)


def test_a_missing_ca_file_is_named():
    with pytest.raises(ValueError, match="KAFKA_SSL_CAFILE: no such file"):
        auth.tls_context("/nonexistent/ca.crt")
