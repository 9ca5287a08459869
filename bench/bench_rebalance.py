"""Rebalancing on this machine: rules workers join and leave a consumer group mid-stream, and
nothing is lost or counted twice (issue 15).

  make bench-rebalance          (N=10000 reports by default; needs make up)
  PARTS=rebalancing|throughput  one of the two; SCHEDULE="0.3:start:B,0.6:stop:A" other changes
                                (workers A, B, C, and any other name the schedule gives, each once)
                                (stop: SIGTERM; kill: SIGKILL, a crash: no commit, no leaving);
  SCALER=1                      workers started and stopped by the group's lag, as KEDA would
                                (LagScaler: one more above SCALER_UP=100 per worker, one fewer
                                below SCALER_DOWN=10; one change at a time, 20 s apart); the
                                schedule then only kills worker A at 45 %;
  RUNS=5                        the rebalancing part again and again, each on topics of its own;
  RATE=150 reports/s; STORE=memory:// tables in memory; KEEP=1 keeps topics and database;
  LOG_LEVEL (default info) for the workers' logs (.local/logs/bench-rebalance-*.log);
  STALL_RESTART_SECONDS=0 turns the rules watchdog's restarts off

Uses topics of 12 partitions, a rules consumer group, a notify consumer group and a database of
its own on `make up`'s broker and FerretDB, so the running platform is not disturbed.

1. Rebalancing: two notify instances share the alerts topic. N weekly reports of 20 enterprises
   are sent at a steady pace; a funding gap comes and goes in each enterprise (six weeks with it,
   six without), which makes a case per episode: opened, updated five times, resolved by data.
   Rules worker A starts first; B joins at 15 % of the stream, C at 30 %; A leaves at 55 %, B at
   75 % (each stop a SIGTERM: the worker commits and leaves the group), and C finishes alone.
   Then the script checks, against what the input implies:
   - on the alerts topic, every case and every one of its occurrences 1..n (none missing);
     redelivered outputs (the same case and count again, which at-least-once allows) are counted;
   - in notify's database, one alert per case (none lost, none split in two, none extra), with
     the case's final count, status and history (received once, resolved when resolved).
   It exits 1 if anything is missing or wrong.
2. Throughput with one, two and three workers: N_THROUGHPUT reports (3000) on the topic once the
   workers hold their partitions; reports/s from the first output to the last. On 2 cores more
   workers show the cost of sharing, not a gain.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import httpx
from kafka import KafkaConsumer, KafkaProducer
from kafka.structs import TopicPartition
from periods_seen import PeriodsSeen
from pymongo import MongoClient

from liaison_client.local import local_mongodb_uri
from liaison_common.kafka_auth import kafka_auth, use_local_kafka_admin
from liaison_common.registry_follower import read_registry
from liaison_common.registry_view import RegistryView
from liaison_common.topics import REGISTRY, TopicSpec, ensure_topics

REPO = Path(__file__).resolve().parents[1]
LOGS = REPO / ".local" / "logs"
PARTITIONS = 12
ENTERPRISE_COUNT = 20
GAP_WEEKS, QUIET_WEEKS = 6, 6  # six weeks short of cash, six weeks without: one case per episode
FIRST_MONDAY = date(2011, 12, 5)
RULES_TOPICS = ("reports", "incidents", "workgroup_reports", "problems", "alerts", "dlq", "reporting")
SCHEDULE = ((0.15, "start", "B"), (0.30, "start", "C"), (0.55, "stop", "A"), (0.75, "stop", "B"))


def schedule() -> tuple[tuple[float, str, str], ...]:
    """SCHEDULE="0.3:start:B,0.6:stop:A" replaces the default (to look at one kind of change)."""
    text = os.environ.get("SCHEDULE")
    if not text:
        # With the scaler, the workers come and go by lag; the schedule only crashes one.
        return ((0.45, "kill", "A"),) if os.environ.get("SCALER") else SCHEDULE
    steps = [step.split(":") for step in text.split(",")]
    return tuple((float(share), action, name) for share, action, name in steps)


def say(text: str) -> None:
    print(text, flush=True)


# ------------------------------------------------------------------ the input and what it implies


def has_gap(week: int) -> bool:
    return week % (GAP_WEEKS + QUIET_WEEKS) < GAP_WEEKS


def period_end(week: int) -> str:
    return (FIRST_MONDAY + timedelta(weeks=week, days=6)).isoformat()


def report(enterprise: str, week: int, run: str) -> dict:
    start = FIRST_MONDAY + timedelta(weeks=week)
    cash = 1 if has_gap(week) else 5000
    return {
        "kind": "enterprise_report",
        "report_id": f"rebalance-{run}-{enterprise}-{week}",
        "enterprise_id": enterprise,
        "period_start": start.isoformat(),
        "period_end": period_end(week),
        "submitted_at": f"{(start + timedelta(days=7)).isoformat()}T09:00:00+08:00",
        "indicators": {
            "production_t": 1000,
            "sales_t": 1000,
            "inventory_t": 1000,
            "working_capital_need": 1000,
            "cash_on_hand": cash,
            "credit_available": 0,
        },
    }


@dataclass(frozen=True)
class ExpectedCase:
    occurrences: int
    status: str  # "resolved" (by data) or "open"


def expected_cases(enterprises: list[str], weeks: int) -> dict[str, ExpectedCase]:
    """Every funding-gap case the input makes (services/rules/domain/cases.py): an episode of gap weeks
    opens one; two reports without it resolve it; the next episode is more than four weeks later,
    so it is a new case, not a reopening."""
    cases = {}
    cycle = GAP_WEEKS + QUIET_WEEKS
    for enterprise in enterprises:
        for first in range(0, weeks, cycle):
            occurrences = min(GAP_WEEKS, weeks - first)
            resolved = weeks > first + GAP_WEEKS + 1  # the second week without a gap was reported
            cases[f"funding_gap.{enterprise}.{period_end(first)}"] = ExpectedCase(
                occurrences, "resolved" if resolved else "open"
            )
    return cases


# ------------------------------------------------------------------ processes


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    popen: subprocess.Popen | None = None
    started: float = 0.0
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = LOGS / f"bench-rebalance-{self.name}.log"

    def start(self) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv, cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        self.started = time.perf_counter()

    def health(self) -> dict | None:
        try:
            answer = httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
        except httpx.TransportError:
            return None
        return answer.json() if answer.status_code == 200 else None

    def wait_until(self, ready, timeout: float = 180) -> float:
        """Seconds from the start until ready(health) holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise SystemExit(f"{self.name} exited:\n{self.log.read_text()[-3000:]}")
            health = self.health()
            if health is not None and ready(health):
                return time.perf_counter() - self.started
            time.sleep(0.2)
        raise SystemExit(f"{self.name} not ready in {timeout:.0f} s (log: {self.log})")

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill: no commit, no leaving the group."""
        if self.running:
            assert self.popen is not None
            self.popen.kill()
            self.popen.wait()

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def base_env() -> dict[str, str]:
    prefixes = ("RULES_", "NOTIFY_", "INGEST_", "REGISTRY_", "CONSOLE_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)} | {"PYTHONUNBUFFERED": "1"}


def rules_worker(name: str, topics: dict[str, str], app_id: str, datadir: str) -> Service:
    port = free_port()
    env = base_env() | {
        f"RULES_{key.upper()}_TOPIC": topic for key, topic in topics.items() if key in RULES_TOPICS
    }
    env |= {
        "RULES_PERIODS_TOPIC": topics["periods"],
        "RULES_REGISTRY_TOPIC": REGISTRY,
        "RULES_APP_ID": app_id,
        "RULES_DATADIR": str(Path(datadir) / name),  # each worker its own tables, as on its own node
        "RULES_WEB_PORT": str(port),
        "RULES_STORE": os.environ.get("STORE", "rocksdb://"),
        # The stall watchdog (services/rules/watchdog.py): 0 turns it off, to tell its restarts apart.
        "RULES_STALL_RESTART_SECONDS": os.environ.get("STALL_RESTART_SECONDS", "120"),
    }
    level = os.environ.get("LOG_LEVEL", "info")  # not warn: see bench_rules.start_worker
    argv = [sys.executable, "-m", "services.rules", "worker", "-l", level, "--web-port", str(port)]
    return Service(f"rules-{name}", argv, env, port)


def notify_instance(name: str, topics: dict[str, str], database: str, group: str) -> Service:
    port = free_port()
    env = base_env() | {
        "MONGODB_URI": local_mongodb_uri(database),
        "LIAISON_ADMIN_TOKEN": "bench-rebalance-" + uuid.uuid4().hex,
        "NOTIFY_ALERTS_TOPIC": topics["alerts"],
        "NOTIFY_ALERT_EVENTS_TOPIC": topics["alert_events"],
        "NOTIFY_ALERT_INDEX_TOPIC": topics["alert_index"],
        "NOTIFY_REPORTING_TOPIC": topics["reporting"],
        "NOTIFY_DLQ_TOPIC": topics["dlq"],
        "NOTIFY_CONSUMER_GROUP": group,
        "NOTIFY_SMTP_PORT": str(free_port()),  # nobody listens: e-mails wait, the inbox is what counts
    }
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "services.notify.app:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
    ]
    return Service(f"notify-{name}", argv, env, port)


def holds_partitions(health: dict) -> bool:
    return health.get("assigned_partitions", 0) > 0


# ------------------------------------------------------------------ Kafka helpers


def make_topics(bootstrap: str, run: str, *, with_notify: bool) -> dict[str, str]:
    topics = {key: f"bench.rebalance.{key}.{run}" for key in RULES_TOPICS}
    specs = [TopicSpec(topic, PARTITIONS) for topic in topics.values()]
    topics["periods"] = f"bench.rebalance.periods.{run}"
    specs.append(TopicSpec(topics["periods"], 1))
    if with_notify:
        topics["alert_events"] = f"bench.rebalance.alert_events.{run}"
        topics["alert_index"] = f"bench.rebalance.alert_index.{run}"
        specs += [
            TopicSpec(topics["alert_events"], PARTITIONS),
            TopicSpec(topics["alert_index"], PARTITIONS, {"cleanup.policy": "compact"}),
        ]
    ensure_topics(bootstrap, tuple(specs))
    return topics


def end_offsets(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, **kafka_auth())
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return consumer.end_offsets(partitions)
    finally:
        consumer.close()


def group_lag(bootstrap: str, group: str, topic: str) -> int:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **kafka_auth())
    try:
        committed = admin.list_group_offsets(group).get(group, {})
    finally:
        admin.close()
    ends = end_offsets(bootstrap, topic)
    return sum(
        end - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0)
        for tp, end in ends.items()
    )


def read_all(bootstrap: str, topic: str) -> list[dict]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, **kafka_auth(), enable_auto_commit=False)
    try:
        ends = end_offsets(bootstrap, topic)
        consumer.assign(list(ends))
        consumer.seek_to_beginning()
        values = []
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            for records in consumer.poll(timeout_ms=1000).values():
                values += [json.loads(record.value) for record in records]
        return values
    finally:
        consumer.close()


def send_steadily(bootstrap: str, topic: str, items: list[dict], rate: float, at_fraction) -> float:
    """Send the items at `rate` per second; call at_fraction(f) as f of them have gone."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, **kafka_auth(), acks="all", linger_ms=5)
    began = time.perf_counter()
    for i, item in enumerate(items):
        producer.send(topic, key=item["enterprise_id"].encode(), value=json.dumps(item).encode())
        at_fraction(i / len(items))
        delay = began + (i + 1) / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    producer.flush()
    producer.close()
    return time.perf_counter() - began


def wait_drained(bootstrap: str, groups: list[tuple[str, str]], timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        lags = [group_lag(bootstrap, group, topic) for group, topic in groups]
        if all(lag == 0 for lag in lags):
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 10:  # and nothing new for 10 s
                return
        else:
            quiet_since = None
        time.sleep(2)
    raise SystemExit(f"not drained in {timeout:.0f} s: lags {lags}")


def clean_up(bootstrap: str, run: str, database: str | None = None) -> None:
    """Delete the run's topics (its own and the ones Faust made for its tables) and database."""
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **kafka_auth())
    try:
        names = [name for name in admin.list_topics() if run in name and name.startswith("bench")]
        if names:
            admin.delete_topics(names)
    finally:
        admin.close()
    if database:
        client = MongoClient(local_mongodb_uri("admin"), serverSelectionTimeoutMS=5000)
        try:
            client.drop_database(database)
        finally:
            client.close()


# ------------------------------------------------------------------ the checks


def check_topic(alerts: list[dict], expected: dict[str, ExpectedCase]) -> tuple[list[str], int]:
    """Every occurrence of every case on the alerts topic; the count of redelivered outputs."""
    seen: dict[str, set[int]] = defaultdict(set)
    resolved: set[str] = set()
    outputs: Counter[tuple[str, int, str]] = Counter()
    for alert in alerts:
        if alert.get("type") == "funding_gap":
            seen[alert["alert_id"]].add(int(alert["occurrences"]))
            outputs[(alert["alert_id"], alert["occurrences"], alert.get("state"))] += 1
            if alert.get("state") == "resolved":
                resolved.add(alert["alert_id"])
    errors = [f"unexpected case on the topic: {case}" for case in set(seen) - set(expected)]
    for case, want in expected.items():
        missing = set(range(1, want.occurrences + 1)) - seen.get(case, set())
        if missing:
            errors.append(f"{case}: occurrences {sorted(missing)} never published")
        if (want.status == "resolved") != (case in resolved):
            errors.append(f"{case}: resolution {'missing' if want.status == 'resolved' else 'unexpected'}")
    return errors, sum(count - 1 for count in outputs.values())


def check_notify(database: str, expected: dict[str, ExpectedCase]) -> list[str]:
    client = MongoClient(local_mongodb_uri("admin"), serverSelectionTimeoutMS=5000)
    try:
        stored = {doc["_id"]: doc for doc in client[database]["alerts"].find({"type": "funding_gap"})}
    finally:
        client.close()
    errors = [f"stored but not implied by the input: {case}" for case in set(stored) - set(expected)]
    for case, want in expected.items():
        doc = stored.get(case)
        if doc is None:
            errors.append(f"{case}: lost (not in notify's database)")
            continue
        events = [entry["event"] for entry in doc.get("history", [])]
        if doc.get("occurrences") != want.occurrences:
            errors.append(f"{case}: occurrences {doc.get('occurrences')}, the input makes {want.occurrences}")
        if doc.get("status") != want.status:
            errors.append(f"{case}: status {doc.get('status')}, the input makes {want.status}")
        if events.count("received") != 1:
            errors.append(f"{case}: received {events.count('received')} times")
        if want.occurrences > 1 and "updated" not in events:
            errors.append(f"{case}: no update in its history")
        if (want.status == "resolved") != ("resolved" in events):
            errors.append(f"{case}: history {events} does not match status {want.status}")
    return errors


# ------------------------------------------------------------------ the two parts


class LagScaler:
    """What KEDA's Kafka scaler and the HPA do, on this machine: every few seconds, the group's
    lag on the reports topic; one more worker when it passes `up_per_worker` per running worker,
    one fewer (SIGTERM) when it stays under `down_below`; one change at a time, each after the
    last has had `settle` seconds (the ScaledObject's one pod per period); between 1 and 3."""

    def __init__(self, bootstrap: str, group: str, topic: str, workers: dict[str, "Service"],
                 up_per_worker: int = 500, down_below: int = 50, every: float = 2.0, settle: float = 20.0) -> None:  # fmt: skip
        self.bootstrap, self.group, self.topic, self.workers = bootstrap, group, topic, workers
        self.up_per_worker, self.down_below, self.every, self.settle = (
            up_per_worker,
            down_below,
            every,
            settle,
        )
        self.changes: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def running(self) -> list[str]:
        return [name for name, worker in self.workers.items() if worker.running]

    def run(self) -> None:
        last_change = time.monotonic()
        while not self.stopping.wait(self.every):
            running = self.running()
            if not running:  # a crash took the last one: KEDA's minimum of one brings it back
                name = next(iter(self.workers))
                self.workers[name].start()
                self.changes.append(f"{name} started (none running)")
                last_change = time.monotonic()
                continue
            if time.monotonic() - last_change < self.settle:
                continue
            lag = group_lag(self.bootstrap, self.group, self.topic)
            idle = [name for name in self.workers if name not in running]
            if lag > self.up_per_worker * len(running) and idle:
                self.workers[idle[0]].start()
                self.changes.append(f"{idle[0]} started at lag {lag}")
                say(f"   scaler: lag {lag} with {len(running)} worker(s): starting {idle[0]}")
                last_change = time.monotonic()
            elif lag < self.down_below and len(running) > 1:
                name = running[-1]
                threading.Thread(target=self.workers[name].stop, daemon=True).start()
                self.changes.append(f"{name} stopped at lag {lag}")
                say(f"   scaler: lag {lag} with {len(running)} workers: stopping {name}")
                last_change = time.monotonic()


def rebalancing(bootstrap: str, enterprises: list[str], n: int, rate: float) -> bool:
    run = uuid.uuid4().hex[:8]
    topics = make_topics(bootstrap, run, with_notify=True)
    app_id, group, database = (
        f"bench-rebalance-{run}",
        f"bench-rebalance-notify-{run}",
        f"bench_rebalance_{run}",
    )
    weeks = n // len(enterprises)
    items = [report(enterprise, week, run) for week in range(weeks) for enterprise in enterprises]
    expected = expected_cases(enterprises, weeks)
    say(
        f"1. rebalancing: {len(items)} reports of {len(enterprises)} enterprises over {weeks} weeks at "
        f"{rate:.0f}/s; topics of {PARTITIONS} partitions; {len(expected)} cases expected"
    )
    with tempfile.TemporaryDirectory() as datadir:
        names = sorted({"A", "B", "C"} | {name for _, _, name in schedule()})  # A starts first
        workers = {name: rules_worker(name, topics, app_id, datadir) for name in names}
        notifies = [notify_instance(str(i), topics, database, group) for i in (1, 2)]
        try:
            for instance in notifies:
                instance.start()
            for instance in notifies:
                instance.wait_until(lambda health: True)
            workers["A"].start()
            joined = workers["A"].wait_until(holds_partitions)
            say(f"   worker A holds partitions {joined:.1f} s after its start; 2 notify instances ready")
            joins: list[float] = []
            pending = list(schedule())

            def at_fraction(fraction: float) -> None:
                while pending and fraction >= pending[0][0]:
                    share, action, name = pending.pop(0)
                    if action == "start":
                        workers[name].start()
                        threading.Thread(
                            target=lambda w=workers[name], s=share: joined_at(w, s), daemon=True
                        ).start()
                    elif action == "kill":
                        say(f"   {share:.0%}: killing worker {name} (SIGKILL)")
                        workers[name].kill()
                    else:
                        say(f"   {share:.0%}: stopping worker {name} (SIGTERM)")
                        threading.Thread(target=workers[name].stop, daemon=True).start()

            def joined_at(worker: Service, share: float) -> None:
                try:
                    seconds = worker.wait_until(holds_partitions)
                except SystemExit as error:  # stopped before it was given a partition
                    say(f"   {share:.0%}: {worker.name} started; it held no partition: {error}")
                    return
                joins.append(seconds)
                say(f"   {share:.0%}: {worker.name} started; it held partitions {seconds:.1f} s later")

            scaler = None
            if os.environ.get("SCALER"):
                scaler = LagScaler(
                    bootstrap, app_id, topics["reports"], workers,
                    up_per_worker=int(os.environ.get("SCALER_UP", "100")),
                    down_below=int(os.environ.get("SCALER_DOWN", "10")),
                )  # fmt: skip
                scaler.thread.start()
            sent = send_steadily(bootstrap, topics["reports"], items, rate, at_fraction)
            say(f"   sent in {sent:.0f} s; waiting for rules and notify to finish")
            began = time.perf_counter()
            wait_drained(bootstrap, [(app_id, topics["reports"]), (group, topics["alerts"])])
            say(f"   drained {time.perf_counter() - began:.0f} s after the last report")
            if scaler is not None:
                scaler.stopping.set()
                say(f"   scaler: {len(scaler.changes)} changes: {'; '.join(scaler.changes) or 'none'}")
        finally:
            for service in [*workers.values(), *notifies]:
                service.stop()
    topic_errors, redelivered = check_topic(read_all(bootstrap, topics["alerts"]), expected)
    store_errors = check_notify(database, expected)
    occurrences = sum(case.occurrences for case in expected.values())
    say(
        f"   alerts topic: every one of {occurrences} occurrences of {len(expected)} cases published "
        if not topic_errors
        else f"   alerts topic: {len(topic_errors)} problems"
    )
    say(f"   redelivered outputs (same case and count again, allowed by at-least-once): {redelivered}")
    say(
        f"   notify's database: {len(expected)} cases, each once, with its count, status and history"
        if not store_errors
        else f"   notify's database: {len(store_errors)} problems"
    )
    for error in (topic_errors + store_errors)[:20]:
        say(f"     {error}")
    if not os.environ.get("KEEP"):  # KEEP=1 leaves the topics and the database to look into
        clean_up(bootstrap, run, database)
    return not topic_errors and not store_errors


def throughput(bootstrap: str, enterprises: list[str], workers_count: int, n: int) -> tuple[float, float]:
    run = uuid.uuid4().hex[:8]
    topics = make_topics(bootstrap, run, with_notify=False)
    app_id = f"bench-rebalance-{run}"
    weeks = n // len(enterprises)
    items = [report(enterprise, week, run) for week in range(weeks) for enterprise in enterprises]
    with tempfile.TemporaryDirectory() as datadir:
        workers = [
            rules_worker(f"{workers_count}-{i}", topics, app_id, datadir) for i in range(workers_count)
        ]
        try:
            for worker in workers:
                worker.start()
            joined = max(worker.wait_until(holds_partitions) for worker in workers)
            time.sleep(5)  # let the last rebalance settle
            send_steadily(bootstrap, topics["reports"], items, 1e9, lambda fraction: None)
            first = None
            periods = PeriodsSeen(bootstrap, topics["periods"])
            while True:
                done = periods.count()
                if done and first is None:
                    first = (time.perf_counter(), done)
                if done >= len(items):
                    break
                time.sleep(0.2)
            periods.close()
            elapsed = time.perf_counter() - first[0]
            return (len(items) - first[1]) / elapsed if elapsed > 0 else float("nan"), joined
        finally:
            for worker in workers:
                worker.stop()
            clean_up(bootstrap, run)


def main() -> None:
    use_local_kafka_admin()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    n = int(os.environ.get("N", "10000"))
    rate = float(os.environ.get("RATE", "150"))
    view = read_registry(bootstrap, REGISTRY, RegistryView())
    enterprises = sorted(view.ids("enterprise"))[:ENTERPRISE_COUNT]
    if len(enterprises) < ENTERPRISE_COUNT:
        raise SystemExit(f"the registry holds {len(enterprises)} enterprises; run `make up` first")
    say(f"machine: {os.cpu_count()} cores; N={n}; one Kafka broker (make up)\n")
    parts = os.environ.get("PARTS", "rebalancing,throughput").split(",")
    whole = True
    if "rebalancing" in parts:
        runs = int(os.environ.get("RUNS", "1"))
        results = []
        for run_number in range(1, runs + 1):
            if runs > 1:
                say(f"run {run_number} of {runs}")
            results.append(rebalancing(bootstrap, enterprises, n, rate))
        whole = all(results)
        if runs > 1:
            say(f"\nrebalancing runs with every case right: {sum(results)} of {runs}")
    say("")
    if "throughput" not in parts:
        sys.exit(0 if whole else 1)
    n_throughput = int(os.environ.get("N_THROUGHPUT", "3000"))
    say(f"2. throughput: {n_throughput} reports on topics of {PARTITIONS} partitions, backlog drained")
    for count in (1, 2, 3):
        rate_k, joined = throughput(bootstrap, enterprises, count, n_throughput)
        say(
            f"   {count} worker{'s' if count > 1 else ' '}: {rate_k:6.0f} reports/s   "
            f"(the last to start held partitions {joined:.1f} s after it started)"
        )
    if "rebalancing" in parts:
        say("\nrebalancing: " + ("nothing lost, nothing counted twice" if whole else "FAILED (see above)"))
    sys.exit(0 if whole else 1)


if __name__ == "__main__":
    main()
