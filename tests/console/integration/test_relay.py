"""The console with notify away: its pages and its live relay say so instead of failing."""

import socket

import pytest
from fastapi.testclient import TestClient

from services.console.app import create_app
from services.console.config import Settings
from tests.conftest import ADMIN_TOKEN
from tests.kafka_helpers import make_topic

pytestmark = pytest.mark.integration


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_live_relay_says_unavailable_when_notify_is_away(kafka_bootstrap, mongodb_uri, unique_name):
    away = f"http://127.0.0.1:{closed_port()}"
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_uri=mongodb_uri,
        admin_token=ADMIN_TOKEN,
        notify_url=away,
        registry_url=away,
        rules_url=away,
        consumer_group=f"test-console-{unique_name}",
        reports_topic=make_topic(kafka_bootstrap, f"test.console-reports.{unique_name}"),
    )
    with TestClient(create_app(settings)) as client:
        signed_in = client.post("/login", data={"token": ADMIN_TOKEN}, follow_redirects=False)
        assert signed_in.status_code == 303, signed_in.text
        with client.stream("GET", "/stream") as answer:
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/event-stream")
            body = b"".join(answer.iter_raw())
        assert b"event: unavailable" in body
        # The inbox page says notify cannot be reached, in Chinese, rather than a 500.
        inbox = client.get("/inbox")
        assert inbox.status_code in (502, 503) and "<html" in inbox.text.lower(), inbox.text[:300]
