"""What the fault scenarios share: reading whole topics, a webhook receiver that can go away."""

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from liaison_common.kafka_auth import kafka_auth


def read_topic(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes]]:
    """Every message the topic holds now, as (key, value), read from the start to its end."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, **kafka_auth(), enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        found: list[tuple[bytes | None, bytes]] = []
        deadline = time.monotonic() + 120
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            for messages in consumer.poll(timeout_ms=500, max_records=5000).values():
                found.extend((m.key, m.value) for m in messages)
        return found
    finally:
        consumer.close()


def wait_until(
    what: str,
    check: Callable[[], bool],
    timeout: float,
    every: float = 1.0,
    progress: Callable[[], str] | None = None,
) -> float:
    """Poll until `check()` holds; return the seconds it took; fail naming `what` (and `progress()`)."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            seen = f" ({progress()})" if progress is not None else ""
            raise AssertionError(f"{what}: not within {timeout:.0f} s{seen}")
        time.sleep(every)
    return time.monotonic() - started


def issue_token(cluster: Any, subject_type: str, subject_id: str, **extra: Any) -> str:
    answer = httpx.post(
        f"{cluster.url('registry')}/v1/tokens",
        json={"subject_type": subject_type, "subject_id": subject_id, **extra},
        headers=cluster.admin,
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def signature_valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The documented algorithm: X-Liaison-Signature = sha256=HMAC-SHA256(secret, f"{ts}.{body}")."""
    timestamp = headers.get("X-Liaison-Timestamp", "")
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers.get("X-Liaison-Signature", ""), f"sha256={expected}")


class Receiver:
    """A webhook endpoint on a fixed port that can be taken away (connection refused) and back."""

    def __init__(self, secret: str):
        self.secret = secret
        self.requests: list[dict[str, Any]] = []
        self.server: ThreadingHTTPServer | None = None
        self.port = 0
        self.up()

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = dict(self.headers)
                receiver.requests.append(
                    {
                        "headers": headers,
                        "body": body,
                        "signed": signature_valid(receiver.secret, headers, body),
                    }
                )
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def alert_ids(self) -> list[str]:
        """Every alert id delivered, once per delivery (a second delivery shows as a repeat)."""
        ids: list[str] = []
        for request in self.requests:
            payload = json.loads(request["body"])
            # Weekly digests come in the same form, as an alert without an alert_id label.
            ids.extend(
                a["labels"]["alert_id"] for a in payload.get("alerts", []) if "alert_id" in a["labels"]
            )
        return ids

    def idempotency_keys(self) -> list[str]:
        return [r["headers"].get("Idempotency-Key", "") for r in self.requests]


def group_state(bootstrap: str, group: str) -> tuple[str, int]:
    """A consumer group's state (Stable, PreparingRebalance, …) and how many members it has."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **kafka_auth())
    try:
        info = admin.describe_groups([group]).get(group) or {}
    finally:
        admin.close()
    return str(info.get("group_state") or info.get("state") or ""), len(info.get("members") or [])


def caught_up(bootstrap: str, group: str, topic: str) -> bool:
    """Whether a consumer group has committed every message on the topic: a marker after which
    nothing it read can still be on its way (its committed offsets trail what it has done)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **kafka_auth())
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, **kafka_auth())
    try:
        committed = admin.list_group_offsets(group).get(group, {})
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = consumer.end_offsets(partitions)
    finally:
        consumer.close()
        admin.close()
    done = {tp: meta.offset for tp, meta in committed.items()}
    return bool(partitions) and all(done.get(tp, 0) >= end for tp, end in ends.items())
