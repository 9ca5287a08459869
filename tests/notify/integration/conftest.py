"""Fixtures of the notify integration tests: receivers, topics with the seed and subscriptions,
and notify itself, in-process, against the real Kafka and FerretDB."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from kafka import KafkaProducer

from liaison_common import jsonbytes
from liaison_common.kafka_auth import kafka_auth
from services.notify.app import create_app
from services.notify.config import Settings
from tests.conftest import ADMIN_TOKEN
from tests.kafka_helpers import make_topic, registry_topic_with_the_seed
from tests.notify.integration.helpers import SECRET
from tests.notify.receivers import SmtpServer, WebhookReceiver


@pytest.fixture
def receivers() -> Iterator[tuple[WebhookReceiver, WebhookReceiver, SmtpServer]]:
    finance, comprehensive, smtp = WebhookReceiver(), WebhookReceiver(), SmtpServer()
    yield finance, comprehensive, smtp
    finance.close()
    comprehensive.close()
    smtp.close()


@pytest.fixture
def topics(kafka_bootstrap: str, unique_name: str, receivers) -> dict[str, str]:
    finance, comprehensive, _ = receivers
    registry = registry_topic_with_the_seed(kafka_bootstrap, f"test.notify-registry.{unique_name}")
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, **kafka_auth(), acks="all")
    subscriptions = [
        {"id": "finance-hook", "group_id": "finance", "channel": "webhook", "target": finance.url, "enabled": True},
        {"id": "finance-mail", "group_id": "finance", "channel": "email", "target": "finance@example.org", "enabled": True},
        {"id": "comprehensive-hook", "group_id": "comprehensive", "channel": "webhook", "target": comprehensive.url,
         "enabled": True},
    ]  # fmt: skip
    for item in subscriptions:
        event = {
            "entity_type": "subscription",
            "id": item["id"],
            "version": 1,
            "deleted": False,
            "data": item,
        }
        producer.send(registry, key=item["id"].encode(), value=jsonbytes.dumps(event))
    producer.flush()
    producer.close()
    return {
        "registry_topic": registry,
        "alerts_topic": make_topic(kafka_bootstrap, f"test.notify-alerts.{unique_name}", partitions=3),
        "reporting_topic": make_topic(kafka_bootstrap, f"test.notify-reporting.{unique_name}"),
        "dlq_topic": make_topic(kafka_bootstrap, f"test.notify-dlq.{unique_name}"),
        "alert_events_topic": make_topic(
            kafka_bootstrap, f"test.notify-alert-events.{unique_name}", partitions=3
        ),
        "alert_index_topic": make_topic(
            kafka_bootstrap, f"test.notify-alert-index.{unique_name}", partitions=3, compact=True
        ),
    }


@pytest.fixture
def notify(kafka_bootstrap, mongodb_uri, topics, receivers, unique_name) -> Callable[..., object]:
    _, _, smtp = receivers

    @contextmanager
    def start(**overrides: object) -> Iterator[TestClient]:
        options = {
            "kafka_bootstrap_servers": kafka_bootstrap,
            "mongodb_uri": mongodb_uri,
            "admin_token": ADMIN_TOKEN,
            "consumer_group": f"test-notify-{unique_name}",
            "webhook_secret": SECRET,
            "smtp_port": smtp.port,
            "group_wait_seconds": 0.5,
            "poll_seconds": 0.1,
            "retry_initial_seconds": 0.2,
            "retry_max_seconds": 1.0,
            **topics,
            **overrides,
        }
        with TestClient(create_app(Settings(**options))) as client:
            deadline = time.monotonic() + 30
            while client.get("/healthz").status_code != 200:
                assert time.monotonic() < deadline, "notify did not load the registry"
                time.sleep(0.1)
            yield client

    return start
