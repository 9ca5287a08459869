"""Rules throughput and latency on this machine, beside a bare aiokafka consume-and-produce loop.

  make bench-rules            (N=5000 by default; N=20000 make bench-rules for more)
  WORKER_ONLY=1 make bench-rules     the worker's phases only (1, 2 and 7), to compare settings

Needs the platform's Kafka and registry topic (`make up`). PROFILE=1 runs the worker under
py-spy and leaves collapsed stacks in .local/profile-rules.txt. Uses topics and a consumer
group of its own, so the running platform is not disturbed:
  1. backlog: N weekly reports (every detector on, about a third of them raising a problem)
     are on the topic before one rules worker starts; events/s from its first to its last
     output;
  2. live: reports sent one every 10 ms with a funding gap each, so each makes an alert;
     p50/p99 from the broker's append of the report to its append of the alert (both topics
     stamp LogAppendTime), then from the send and until this process read it; once after the
     backlog has drained, and once while another backlog of N drains on the other partitions
     (the worker paused while it is written);
  3. bare: an aiokafka loop that consumes the same N reports, parses, changes and produces
     them, the ceiling a Python consumer reaches on this broker;
  4. the domain work alone: the worker's own work on the same N reports (parse, history,
     detection, cases, routing, JSON of the outputs and of the state; bench/rules_domain.py),
     without Kafka;
  5. fair: an aiokafka loop doing that same work and producing the same outputs (each send
     awaited into the producer's batch, flushed and committed per batch of 500). The worker's
     ratio to this loop is the one that says how much Faust and the tables cost;
  6. Faust alone: a Faust agent with none of the domain work that reads the same reports and
     makes the same Kafka writes per report (bench/faust_floor.py): the ceiling of a Faust
     worker on this machine, whatever its own code costs;
  7. urgent: incidents sent one every 100 ms while a backlog of URGENT_BACKLOG reports (20,000
     by default) drains on every partition; p50/p99 from the broker's append of the incident to
     its append of the alert (the incidents topic stamps LogAppendTime too), and the backlog's
     throughput meanwhile. The run ends with the ratios of issue 39 against the live p99 with no
     backlog, measured in the same run so that the machine's speed cancels.
"""

import asyncio
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaConsumer, KafkaProducer
from kafka.partitioner.default import murmur2
from periods_seen import PeriodsSeen
from rules_domain import DomainWork, outputs_of

from liaison_common.kafka_auth import kafka_auth, use_local_kafka_admin
from liaison_common.registry_follower import read_registry
from liaison_common.registry_view import RegistryView
from liaison_common.topics import REGISTRY, TopicSpec, ensure_topics

REPO = Path(__file__).resolve().parents[1]
LOG = REPO / ".local" / "logs" / "bench-rules-worker.log"
REPORT_PARTITIONS = 3
ENTERPRISES = [
    "chalco-qinghai",
    "qinghai-salt-lake",
    "qiaotou-aluminium-power",
    "xining-special-steel",
    "huading-industrial",
    "western-mining",
    "qinghai-electric-power",
    "yellow-river-hydropower",
    "qinghua-coal-chemical",
    "zangyang-carpet",
]


def report(i: int, run: str, *, gap: bool = False, enterprise: str | None = None) -> dict:
    """The i-th report of the run: the enterprises in turn, a week each round; or, for
    `enterprise`, that enterprise's report of week i."""
    by_enterprise = enterprise is not None
    week = i if by_enterprise else i // len(ENTERPRISES)
    enterprise = enterprise or ENTERPRISES[i % len(ENTERPRISES)]
    start = date(2011, 12, 5) + timedelta(weeks=week % 500)
    indicators = {
        "production_t": 1000 + (i * 37) % 400,
        "sales_t": 900 + (i * 53) % 300,
        "inventory_t": 2000 + (i * 97) % 3000,
        "rail_requested_t": 1000,
        "rail_shipped_t": 700 + (i * 11) % 400,
        "power_demand_mwh": 100,
        "power_supplied_mwh": 90 + i % 15,
        "energy_kwh_per_t": 13500 + (i * 7) % 1000,
        "employees": 1000 - i % 80,
        "output_value_yoy_pct": 10 + i % 20,
    }
    if gap:
        indicators.update({"working_capital_need": 1000, "cash_on_hand": 1, "credit_available": 1})
    return {
        "kind": "enterprise_report",
        "report_id": f"bench-{run}-{enterprise}-{week}" if by_enterprise else f"bench-{run}-{i}",
        "enterprise_id": enterprise,
        "period_start": start.isoformat(),
        "period_end": (start + timedelta(days=6)).isoformat(),
        "submitted_at": f"{(start + timedelta(days=7)).isoformat()}T09:00:00+08:00",
        "indicators": indicators,
    }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def count_messages(bootstrap: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, **kafka_auth())
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        from kafka.structs import TopicPartition

        ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return sum(ends.values())
    finally:
        consumer.close()


# Settings of the worker a run may set (RULES_STREAM_BUFFER_MAXSIZE=… make bench-rules); every
# other RULES_ variable is the benchmark's own.
WORKER_TUNING = {
    "RULES_STREAM_BUFFER_MAXSIZE",
    "RULES_MAX_FETCH_BYTES",
    "RULES_PRODUCER_LINGER_MS",
    "RULES_FAIR_SHARE_RECORDS",
}


def start_worker(
    bootstrap: str, topics: dict[str, str], run: str, port: int, datadir: str
) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RULES_") or k in WORKER_TUNING}
    env.update({f"RULES_{name.upper()}_TOPIC": topic for name, topic in topics.items()})
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "RULES_REGISTRY_TOPIC": REGISTRY,
            "RULES_APP_ID": f"bench-rules-{run}",
            "RULES_DATADIR": datadir,
            "RULES_WEB_PORT": str(port),
        }
    )
    LOG.parent.mkdir(parents=True, exist_ok=True)
    log = LOG.open("wb")
    # `-l info`, as `make up` and the manifests run it. Not `-l warn`: at WARN and above Faust's
    # worker starts its terminal spinner, which sets the root logger to DEBUG so that every log
    # call spins it, and each of Faust's per-message debug lines then builds its record (5 % of
    # the worker's time in a profile).
    command = [sys.executable, "-m", "services.rules", "worker", "-l", "info", "--web-port", str(port)]
    return subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_healthy(port: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the rules worker exited:\n{LOG.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit("the rules worker did not become ready")


def fill(bootstrap: str, topic: str, n: int, run: str, enterprises: list[str] | None = None) -> None:
    """N reports on the topic; of `enterprises` only (in turn, a week each round), if given."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, **kafka_auth(), acks="all", linger_ms=5)
    for i in range(n):
        if enterprises:
            item = report(i // len(enterprises), run, enterprise=enterprises[i % len(enterprises)])
        else:
            item = report(i, run)
        producer.send(topic, key=item["enterprise_id"].encode(), value=json.dumps(item).encode())
    producer.flush()
    producer.close()


def drain_rate(
    done_so_far: Callable[[], int], n: int, process: subprocess.Popen, timeout: float = 600
) -> float:
    """Reports per second from the process's first finished report to its N-th, as
    `done_so_far` counts them."""
    first = None
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise SystemExit(f"{process.args!r} exited before it drained the backlog (see .local/logs)")
        done = done_so_far()
        if done and first is None:
            first = (time.perf_counter(), done)
        if done >= n:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"the backlog was not drained in {timeout:.0f} s")
        time.sleep(0.2)
    assert first is not None
    elapsed = time.perf_counter() - first[0]
    return (n - first[1]) / elapsed if elapsed > 0 else float("nan")


def partition_of(enterprise: str, partitions: int) -> int:
    """The partition the producers' default partitioner (murmur2 of the key) puts its reports on."""
    return (murmur2(enterprise.encode()) & 0x7FFFFFFF) % partitions


class Latency(NamedTuple):
    """One live report's alert, in seconds."""

    at: float  # into the sending, when the report was sent
    read_here: float  # from the send until this process read the alert
    from_send: float  # from the send until the broker appended the alert
    # From the broker's append of the report to its append of the alert: the worker's part, with
    # none of this process's delays (its sender shares the GIL with the thread writing a backlog).
    in_broker_and_worker: float


def live_latency(
    bootstrap: str,
    topics: dict[str, str],
    run: str,
    count: int = 300,
    enterprises: list[str] | None = None,
    on_start: Callable[[], None] | None = None,
    on_sent: Callable[[], None] | None = None,
) -> list[Latency]:
    """Send reports at a steady pace (of `enterprises` only, in turn, if given); a thread reads
    the alerts as they come. For each report whose alert came: its `Latency`s. The reports and
    alerts topics stamp LogAppendTime, so the first figure is the broker's and the worker's
    alone; the others add this process's delays (its sender and reader share the GIL with each
    other and, while a backlog drains, with the thread writing that backlog)."""
    consumer = KafkaConsumer(
        topics["alerts"], bootstrap_servers=bootstrap, **kafka_auth(), auto_offset_reset="latest"
    )
    consumer.poll(timeout_ms=1000)  # join before sending
    received: dict[str, float] = {}
    appended_ms: dict[str, int] = {}  # the broker's LogAppendTime of each report's alert
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            for records in consumer.poll(timeout_ms=100).values():
                for record in records:
                    alert = json.loads(record.value)
                    if alert["type"] == "funding_gap":
                        for source in alert.get("source_ids", []):
                            received.setdefault(source, time.perf_counter())
                            appended_ms.setdefault(source, record.timestamp)

    reader = threading.Thread(target=read)
    reader.start()
    producer = KafkaProducer(bootstrap_servers=bootstrap, **kafka_auth(), acks="all", linger_ms=0)
    producer.partitions_for(topics["reports"])  # the topic's metadata before the clock starts
    sent: dict[str, float] = {}
    sent_ms: dict[str, int] = {}
    report_appended_ms: dict[str, int] = {}  # the broker's LogAppendTime of each report

    def note_appended(report_id: str) -> Callable[[Any], None]:
        return lambda metadata: report_appended_ms.__setitem__(report_id, metadata.timestamp)

    if on_start is not None:
        on_start()
    for i in range(count):
        if enterprises:
            # Weeks the earlier live phase's cases do not hold (a period a case holds is a redelivery).
            week = 200 + i // len(enterprises)
            item = report(week, run + "-live", gap=True, enterprise=enterprises[i % len(enterprises)])
        else:
            item = report(10_000_000 + i, run + "-live", gap=True)
        sent[item["report_id"]] = time.perf_counter()
        sent_ms[item["report_id"]] = int(time.time() * 1000)
        producer.send(
            topics["reports"], key=item["enterprise_id"].encode(), value=json.dumps(item).encode()
        ).add_callback(note_appended(item["report_id"]))
        time.sleep(0.01)
    producer.flush()
    if on_sent is not None:
        on_sent()
    deadline = time.monotonic() + 60
    while len([r for r in sent if r in received]) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    reader.join()
    consumer.close()
    producer.close()
    start = min(sent.values())
    return sorted(
        Latency(
            at=sent[r] - start,
            read_here=received[r] - sent[r],
            from_send=(appended_ms[r] - sent_ms[r]) / 1000,
            in_broker_and_worker=(appended_ms[r] - report_appended_ms[r]) / 1000,
        )
        for r in sent
        if r in received and r in report_appended_ms
    )


def live_during_drain(
    bootstrap: str, topics: dict[str, str], run: str, n: int, worker: subprocess.Popen
) -> tuple[str, list[Latency]]:
    """Live reports on one partition while a backlog of N reports drains on the others (the
    issue's "live p99 < 100 ms while a backlog of 5,000 drains on other partitions").

    The worker is paused (SIGSTOP) while this process writes the backlog and resumed as the
    live reports start, so the whole backlog waits on its partitions from the first live report
    on. Written while the worker ran, the backlog arrived over the first second and a half of
    the live phase, and its writer took a core of this 2-core machine from the worker."""
    live = [e for e in ENTERPRISES if partition_of(e, REPORT_PARTITIONS) == 0]
    others = [e for e in ENTERPRISES if e not in live]
    periods = PeriodsSeen(bootstrap, topics["periods"])
    before = periods.count()
    at_end: list[int] = []  # the backlog's outputs when the last live report was sent
    os.kill(worker.pid, signal.SIGSTOP)  # a few seconds, well within its session timeout (15 s)
    try:
        fill(bootstrap, topics["reports"], n, run + "-drain", others)
        timeline = live_latency(
            bootstrap,
            topics,
            run + "-drain",
            enterprises=live,
            on_start=lambda: os.kill(worker.pid, signal.SIGCONT),
            on_sent=lambda: at_end.append(periods.count() - before),
        )
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    periods.close()
    if not timeline:
        return "rules, live while a backlog drains: no alert came", timeline
    return (
        f"{'rules, live while a backlog drains':<36} {latency_line(timeline)}\n"
        f"{worst_per_half_second(timeline)}\n"
        f"  ({len(timeline)} alerts on partition 0 of {', '.join(live)}; when the last was sent,"
        f" {at_end[0]} of the {n} + 300 reports (backlog on partitions 1-2, live) were done)"
    ), timeline


def incident(k: int, run: str) -> dict:
    return {
        "kind": "incident",
        "incident_id": f"bench-{run}-{k}",
        "enterprise_id": "qinghai-salt-lake",
        "occurred_at": "2011-12-20T14:05:00+08:00",
        "category": "safety",
        "severity": "critical",
        "summary": "塌方",
    }


class UrgentRun(NamedTuple):
    latencies: list[float]  # seconds from the incident's append to its alert's
    sent: int  # incidents sent while the backlog drained
    backlog_rate: float  # the backlog's reports/s meanwhile


def incidents_during_drain(
    bootstrap: str, topics: dict[str, str], run: str, backlog: int, worker: subprocess.Popen
) -> UrgentRun:
    """Incidents one every 100 ms while a backlog of reports drains on every partition.

    As in the live phase, the worker is paused while the backlog is written and resumed as the
    first incident is sent; incidents are sent until the backlog has drained."""
    consumer = KafkaConsumer(
        topics["alerts"], bootstrap_servers=bootstrap, **kafka_auth(), auto_offset_reset="latest"
    )
    consumer.poll(timeout_ms=1000)  # join before sending
    alert_appended_ms: dict[str, int] = {}
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            for records in consumer.poll(timeout_ms=100).values():
                for record in records:
                    if record.key and record.key.startswith(b"major_incident."):
                        incident_id = record.key.decode().rsplit(".", 1)[1]
                        alert_appended_ms.setdefault(incident_id, record.timestamp)

    periods = PeriodsSeen(bootstrap, topics["periods"])
    before = periods.count()
    # Enterprises of no earlier phase, each in weeks of its own: every report a new period, as a
    # weekly deadline brings them (a period a case already holds would be a redelivery).
    view = read_registry(bootstrap, REGISTRY, RegistryView())
    enterprises = [e for e in view.ids("enterprise") if e not in ENTERPRISES]
    weeks = -(-backlog // len(enterprises))
    if weeks > 700:  # report() dates week w 2011-12-05 + w weeks: later ones would be in the future
        raise SystemExit(f"URGENT_BACKLOG={backlog} needs {weeks} weeks of {len(enterprises)} enterprises")
    os.kill(worker.pid, signal.SIGSTOP)  # a few seconds, well within its session timeout (15 s)
    try:
        fill(bootstrap, topics["reports"], backlog, run + "-urgent", enterprises)
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    reader = threading.Thread(target=read)
    reader.start()
    producer = KafkaProducer(bootstrap_servers=bootstrap, **kafka_auth(), acks="all", linger_ms=0)
    producer.partitions_for(topics["incidents"])
    appended_ms: dict[str, int] = {}
    started, done, k = time.perf_counter(), 0, 0
    deadline = time.monotonic() + 900
    try:
        while done < backlog:
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the rules worker exited or did not drain the backlog (see .local/logs)")
            item = incident(k, run)
            producer.send(
                topics["incidents"], key=item["enterprise_id"].encode(), value=json.dumps(item).encode()
            ).add_callback(
                lambda metadata, i=item["incident_id"]: appended_ms.__setitem__(i, metadata.timestamp)
            )
            k += 1
            time.sleep(0.1)
            if k % 10 == 0:
                done = periods.count() - before
        elapsed = time.perf_counter() - started
        producer.flush()
        wait_until = time.monotonic() + 60
        while (
            len(set(appended_ms) & set(alert_appended_ms)) < len(appended_ms)
            and time.monotonic() < wait_until
        ):
            time.sleep(0.2)
    finally:
        stop.set()
        reader.join()
        consumer.close()
        producer.close()
        periods.close()
    latencies = [
        (alert_appended_ms[i] - appended_ms[i]) / 1000 for i in appended_ms if i in alert_appended_ms
    ]
    return UrgentRun(latencies, k, backlog / elapsed)


def worst_per_half_second(timeline: list[Latency]) -> str:
    halves: dict[int, float] = {}
    for item in timeline:
        half = int(item.at * 2)
        halves[half] = max(halves.get(half, 0.0), item.in_broker_and_worker)
    worst = " ".join(f"{halves[k] * 1000:.0f}" for k in sorted(halves))
    return f"{'  worst per half second of sending':<36} {worst} ms"


def latency_line(timeline: list[Latency]) -> str:
    """p50/p99 from the report's append to the alert's, and from the send (to the alert's
    append, and until this process read it)."""

    def p50_p99(values: list[float]) -> str:
        return f"p50 {percentile(values, 50) * 1000:.1f}, p99 {percentile(values, 99) * 1000:.1f} ms"

    appended = [item.in_broker_and_worker for item in timeline]
    return (
        f"p50 {percentile(appended, 50) * 1000:7.1f} ms   p99 {percentile(appended, 99) * 1000:7.1f} ms"
        f"   (from the send: {p50_p99([item.from_send for item in timeline])};"
        f" read here: {p50_p99([item.read_here for item in timeline])})"
    )


Outputs = Callable[[bytes, bytes | None], list[tuple[str, bytes | None, bytes]]]


async def consume_produce(bootstrap: str, source: str, n: int, name: str, outputs: Outputs) -> float:
    """An aiokafka loop over N messages of `source`: each message's outputs (topic, key, value)
    sent into the producer's batch, flushed and committed per fetched batch. Messages/s."""
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        **kafka_auth(),
        group_id=f"bench-{name}-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **kafka_auth(), acks="all", linger_ms=5)
    await consumer.start()
    await producer.start()
    seen, started = 0, None
    try:
        while seen < n:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            for tp, messages in batches.items():
                if started is None:
                    started = time.perf_counter()
                for message in messages:
                    for topic, key, value in outputs(message.value, message.key):
                        await producer.send(topic, key=key, value=value)
                    seen += 1
                await producer.flush()
                await consumer.commit({tp: messages[-1].offset + 1})
    finally:
        await consumer.stop()
        await producer.stop()
    assert started is not None
    return n / (time.perf_counter() - started)


async def bare_loop(bootstrap: str, source: str, n: int) -> float:
    """Parse, change and produce each message: the ceiling of a Python consumer here."""
    sink = f"bench.bare-sink.{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, (TopicSpec(sink, 3),))

    def outputs(value: bytes, key: bytes | None) -> list[tuple[str, bytes | None, bytes]]:
        event = json.loads(value)
        event["seen"] = True
        return [(sink, key, json.dumps(event).encode())]

    return await consume_produce(bootstrap, source, n, "bare", outputs)


async def fair_loop(bootstrap: str, source: str, n: int, view: RegistryView) -> float:
    """The worker's work in a bare aiokafka loop: the same outputs, to topics of its own."""
    work = DomainWork(view)
    sinks = {
        name: f"bench.fair-{name}.{uuid.uuid4().hex[:8]}" for name in ("problems", "alerts", "periods", "dlq")
    }
    ensure_topics(bootstrap, tuple(TopicSpec(topic, 3) for topic in sinks.values()))

    def outputs(value: bytes, key: bytes | None) -> list[tuple[str, bytes | None, bytes]]:
        return [(sinks[name], out_key, out_value) for name, out_key, out_value in work.handle(value)]

    return await consume_produce(bootstrap, source, n, "fair", outputs)


def faust_floor(bootstrap: str, source: str, n: int, run: str, outputs: float) -> float:
    """Reports/s of bench/faust_floor.py: a Faust agent with none of the domain work and the
    worker's Kafka writes per report (a table write and as many sends), from the same backlog."""
    sink, done = f"bench.floor-sink.{run}", f"bench.floor-done.{run}"
    ensure_topics(bootstrap, (TopicSpec(sink, 3), TopicSpec(done, 3)))
    with tempfile.TemporaryDirectory() as datadir:
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "FLOOR_APP_ID": f"bench-floor-{run}",
            "FLOOR_DATADIR": datadir,
            "FLOOR_SOURCE": source,
            "FLOOR_SINK": sink,
            "FLOOR_DONE": done,
            "FLOOR_OUTPUTS": str(round(outputs)),
            "FLOOR_WEB_PORT": str(19000 + int(run[:3], 16) % 1000),  # beside the worker's 18xxx
        }
        with (REPO / ".local" / "logs" / "bench-faust-floor.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, str(REPO / "bench" / "faust_floor.py"), "worker", "-l", "info"],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                return drain_rate(lambda: count_messages(bootstrap, done), n, process)
            finally:
                process.terminate()
                process.wait(timeout=30)


def domain_alone(
    values: list[bytes], view: RegistryView, *, check_outliers: bool = True
) -> tuple[float, float]:
    """Reports/s of the domain work alone, and outputs per report."""
    work = DomainWork(view, check_outliers=check_outliers)
    started = time.perf_counter()
    outputs = outputs_of(work, values)
    return len(values) / (time.perf_counter() - started), outputs / len(values)


def outlier_check_cost(values: list[bytes], view: RegistryView, worker_rate: float) -> str:
    """What the outlier check of docs/contract.md §7 costs (issue 38.6): the domain work with and
    without it, best of three each (the check is small beside the noise of one run), and that
    difference as a share of the worker's time per report in the backlog."""
    with_check = max(domain_alone(values, view)[0] for _ in range(3))
    without = max(domain_alone(values, view, check_outliers=False)[0] for _ in range(3))
    cost_s = max(1 / with_check - 1 / without, 0.0)
    share = cost_s * worker_rate if worker_rate else float("nan")
    return (
        f"{'outlier check (§7), its cost':<36} {cost_s * 1e6:>8.1f} µs a report   "
        f"({with_check:.0f} vs {without:.0f} reports/s of domain work; {share:.1%} of the worker's "
        f"time per report at {worker_rate:.0f}/s)"
    )


def print_ratios(timeline: list[Latency], during: list[Latency], urgent: UrgentRun, rate: float) -> None:
    """Issue 39's targets, as ratios within this run so that the machine's speed cancels."""
    if not (timeline and urgent.latencies and during):
        return
    quiet = percentile([item.in_broker_and_worker for item in timeline], 99)
    live = percentile([item.in_broker_and_worker for item in during], 99)
    incidents = percentile(urgent.latencies, 99)
    print(
        f"issue 39, p99 during a drain / live p99 with no backlog ({quiet * 1000:.0f} ms): "
        f"incidents {incidents / quiet:.1f}x (target <= 2), live reports {live / quiet:.1f}x (target <= 3); "
        f"backlog {rate:.0f}/s alone, {urgent.backlog_rate:.0f}/s under incidents"
    )


def main() -> None:
    use_local_kafka_admin()  # the local broker wants SASL: be its admin
    n = int(os.environ.get("N", "5000"))
    urgent_backlog = int(os.environ.get("URGENT_BACKLOG", "20000"))
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    run = uuid.uuid4().hex[:8]
    topics = {
        name: f"bench.rules.{name}.{run}"
        for name in ("reports", "incidents", "workgroup_reports", "problems", "alerts", "dlq", "reporting")
    }
    topics["periods"] = f"bench.rules.periods.{run}"
    ensure_topics(
        bootstrap,
        tuple(
            TopicSpec(
                t,
                1 if name == "periods" else REPORT_PARTITIONS,
                # The broker stamps each report and alert as it appends it: latency without this
                # process's delays (rules never reads a record's timestamp).
                {"message.timestamp.type": "LogAppendTime"}
                if name in ("reports", "incidents", "alerts")
                else {},
            )
            for name, t in topics.items()
        ),
    )
    with open("/proc/cpuinfo") as cpuinfo:
        cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), "?")
    print(
        f"machine: {os.cpu_count()} cores, {cpu}; Python {platform.python_version()}; N={n}; one rules worker\n"
    )
    port = 18000 + int(run[:3], 16) % 1000
    fill(bootstrap, topics["reports"], n, run)
    with tempfile.TemporaryDirectory() as datadir:
        process = start_worker(bootstrap, topics, run, port, datadir)
        try:
            wait_healthy(port, process)
            profiler = None
            if os.environ.get("PROFILE"):
                # py-spy samples the worker for 10 s of the drain: collapsed stacks in .local/profile-rules.txt
                profiler = subprocess.Popen(
                    [
                        # The venv's py-spy (a dev dependency), found without .venv/bin on PATH.
                        shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"),
                        "record",
                        "--pid",
                        str(process.pid),
                        "--duration",
                        "10",
                        "--format",
                        "raw",
                        "-o",
                        str(REPO / ".local" / "profile-rules.txt"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            periods = PeriodsSeen(bootstrap, topics["periods"])
            rate = drain_rate(periods.count, n, process)
            periods.close()
            if profiler is not None:
                profiler.wait(timeout=60)
            problems = count_messages(bootstrap, topics["problems"])
            print(
                f"{'rules, backlog of N reports':<36} {rate:>8.0f} reports/s   ({problems} problems, every detector on)"
            )
            timeline = live_latency(bootstrap, topics, run)
            during, during_timeline = live_during_drain(bootstrap, topics, run, n, process)
            urgent = incidents_during_drain(bootstrap, topics, run, urgent_backlog, process)
        finally:
            process.terminate()
            process.wait(timeout=30)
    if timeline:
        print(f"{'rules, live: report → alert':<36} {latency_line(timeline)}   ({len(timeline)} alerts)")
        # The worst latency of each half second of sending: a stall shows where it was.
        print(worst_per_half_second(timeline))
    if during:
        print(during)
    if urgent.latencies:
        print(
            f"{'rules, incidents while a backlog drains':<36} "
            f"p50 {percentile(urgent.latencies, 50) * 1000:7.1f} ms   p99 {percentile(urgent.latencies, 99) * 1000:7.1f} ms"
            f"   ({len(urgent.latencies)} of {urgent.sent} incidents, one every 100 ms, while {urgent_backlog}"
            f" reports drained at {urgent.backlog_rate:.0f}/s)"
        )
    else:
        print("rules, incidents while a backlog drains: no alert came")
    if os.environ.get("WORKER_ONLY"):  # the worker's phases only (comparing its settings)
        print_ratios(timeline, during_timeline, urgent, rate)
        return
    bare = asyncio.run(bare_loop(bootstrap, topics["reports"], n))
    print(f"{'bare aiokafka consume→produce':<36} {bare:>8.0f} events/s")
    view = read_registry(bootstrap, REGISTRY, RegistryView())
    alone, per_report = domain_alone(
        [json.dumps(report(i, run)).encode() for i in range(n)],
        view,  # the reports on the topic
    )
    print(
        f"{'the domain work alone (no Kafka)':<36} {alone:>8.0f} reports/s   ({per_report:.1f} outputs per report)"
    )
    print(outlier_check_cost([json.dumps(report(i, run)).encode() for i in range(n)], view, rate))
    fair = asyncio.run(fair_loop(bootstrap, topics["reports"], n, view))
    print(f"{'fair: aiokafka loop doing that work':<36} {fair:>8.0f} reports/s")
    # The worker sends each report's problems and alerts as they come, and gathers the period
    # events into records of up to 200 (outputs.PeriodBatch): one send a report fewer.
    sends = max(per_report - 1, 1)
    floor = faust_floor(bootstrap, topics["reports"], n, run, sends)
    print(
        f"{'Faust alone: same reads and writes':<36} {floor:>8.0f} reports/s   "
        f"(no domain work; a table write and {round(sends)} sends per report)"
    )
    print(
        f"\nratio rules/bare: {rate / bare:.2f}   rules/fair: {rate / fair:.2f}   "
        f"rules/Faust alone: {rate / floor:.2f}"
    )
    print_ratios(timeline, during_timeline, urgent, rate)


if __name__ == "__main__":
    main()
