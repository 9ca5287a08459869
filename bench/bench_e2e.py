"""The whole pipeline under load: ingest → Kafka → rules → notify, beside the bare broker.

  make bench            (N=200 by default, at most 238: one report per key enterprise and week
                         of the first phase, so that each makes its own funding_gap alert)

Needs the platform running (`make up`). Each report carries a funding gap, so each becomes an
alert; a Server-Sent Events client on notify sees each one stored. Prints throughput and the
latency from submission to the stored alert (p50/p95/p99), beside a bare produce-and-consume
loop on the same broker, and the peak memory of each service.
"""

import json
import os
import platform
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import httpx
from kafka import KafkaConsumer, KafkaProducer

from liaison_client.local import local_admin_token
from liaison_common.kafka_auth import kafka_auth, use_local_kafka_admin
from liaison_common.topics import TopicSpec, ensure_topics

REPO = Path(__file__).resolve().parents[1]
ENTERPRISES = [
    "petrochina-qinghai-oilfield",
    "qinghai-electric-power",
    "chalco-qinghai",
    "yellow-river-hydropower",
    "qinghai-salt-lake",
    "western-mining",
    "xining-special-steel",
    "qinghua-coal-chemical",
    "huading-industrial",
    "qiaotou-aluminium-power",
    "yellow-river-recycled-aluminium",
    "qinghai-energy-development",
    "zangyang-carpet",
    "qinghai-investment-group",
]


def reports(n: int, run: str) -> list[dict]:
    items = []
    for i in range(n):
        start = date(2011, 12, 5) + timedelta(weeks=i // len(ENTERPRISES))
        items.append(
            {
                "report_id": f"bench-e2e-{run}-{i}",
                "enterprise_id": ENTERPRISES[i % len(ENTERPRISES)],
                "period_start": start.isoformat(),
                "period_end": (start + timedelta(days=6)).isoformat(),
                "submitted_at": f"{(start + timedelta(days=7)).isoformat()}T09:00:00+08:00",
                "indicators": {"working_capital_need": 50000, "cash_on_hand": 100, "credit_available": 100},
            }
        )
    return items


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def watch_notify(
    url: str, token: str, wanted: set[str], seen: dict[str, float], stop: threading.Event
) -> None:
    """Record when each of our report ids first appears in an alert notify stored."""
    with (
        httpx.Client(timeout=httpx.Timeout(10, read=None)) as client,  # an event stream: no read timeout
        client.stream(
            "GET", f"{url}/v1/alerts/stream", headers={"Authorization": f"Bearer {token}"}
        ) as answer,
    ):
        for line in answer.iter_lines():
            if stop.is_set():
                return
            if line.startswith("data:"):
                for source in json.loads(line[5:]).get("source_ids", []):
                    if source in wanted:
                        seen.setdefault(source, time.perf_counter())


def bare_loop(bootstrap: str, items: list[dict]) -> float:
    topic = f"bench.e2e-bare.{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, (TopicSpec(topic, 3),))
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, **kafka_auth(), auto_offset_reset="earliest", group_id=topic
    )
    consumer.poll(timeout_ms=1000)
    producer = KafkaProducer(bootstrap_servers=bootstrap, **kafka_auth(), acks="all", linger_ms=5)
    started = time.perf_counter()
    for item in items:
        producer.send(topic, key=item["enterprise_id"].encode(), value=json.dumps(item).encode())
    producer.flush()
    received = 0
    while received < len(items):
        received += sum(len(batch) for batch in consumer.poll(timeout_ms=500).values())
    elapsed = time.perf_counter() - started
    consumer.close()
    producer.close()
    return len(items) / elapsed


def peak_memory() -> dict[str, str]:
    found = {}
    for pidfile in sorted((REPO / ".local" / "run").glob("*.pid")):
        try:
            status = Path(f"/proc/{pidfile.read_text().strip()}/status").read_text()
        except OSError:
            continue
        peak = next(
            (line.split(":", 1)[1].strip() for line in status.splitlines() if line.startswith("VmHWM")), "?"
        )
        found[pidfile.stem] = peak
    return found


def main() -> None:
    use_local_kafka_admin()  # the local broker wants SASL: be its admin
    n = min(int(os.environ.get("N", "200")), 238)
    token = local_admin_token() or ""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    ingest, notify = "http://127.0.0.1:8001", "http://127.0.0.1:8003"
    run = uuid.uuid4().hex[:8]
    items = reports(n, run)
    with open("/proc/cpuinfo") as cpuinfo:
        cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), "?")
    print(
        f"machine: {os.cpu_count()} cores, {cpu}; Python {platform.python_version()}; N={n} reports, each an alert\n"
    )

    seen: dict[str, float] = {}
    stop = threading.Event()
    watcher = threading.Thread(
        target=watch_notify, args=(notify, token, {i["report_id"] for i in items}, seen, stop), daemon=True
    )
    watcher.start()
    time.sleep(1)
    sent: dict[str, float] = {}
    with httpx.Client(base_url=ingest, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for i in range(0, n, 50):  # batches of 50, as an enterprise system sending a day's reports would
            batch = items[i : i + 50]
            moment = time.perf_counter()
            answer = client.post("/v1/reports", json=batch)
            assert answer.status_code in (202, 207), answer.text[:300]
            for item in batch:
                sent[item["report_id"]] = moment
    deadline = time.monotonic() + 120
    while len(seen) < n and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    latencies = [seen[r] - sent[r] for r in sent if r in seen]
    if not latencies:
        raise SystemExit("no alert reached notify; is the platform up (make up)?")
    elapsed = max(seen.values()) - min(sent.values())
    print(
        f"{'pipeline: submitted → stored alert':<38} {len(latencies) / elapsed:>7.0f} reports/s   "
        f"({len(latencies)}/{n} stored in {elapsed:.1f} s)"
    )
    print(
        f"{'latency, submission → stored alert':<38} p50 {percentile(latencies, 50) * 1000:7.0f} ms   "
        f"p95 {percentile(latencies, 95) * 1000:7.0f} ms   p99 {percentile(latencies, 99) * 1000:7.0f} ms"
    )
    bare = bare_loop(bootstrap, items)
    print(f"{'bare broker: produce → consume':<38} {bare:>7.0f} reports/s")
    print(f"\nratio pipeline/bare: {len(latencies) / elapsed / bare:.3f}")
    print("peak memory (VmHWM): " + ", ".join(f"{name} {peak}" for name, peak in peak_memory().items()))


if __name__ == "__main__":
    main()
