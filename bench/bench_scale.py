"""Is a lived-in platform as fast as an empty one? (issue: a platform that stays fast after a year)

  make bench-scale        (needs `make up`; best on a fresh one: DEMO=0 make up)
  PHASES=after make bench-scale    (measure a platform an earlier run made lived-in, again)
  PHASES=idle make bench-scale     (each process's CPU with nothing submitted, alone: issue 39.4)
  PHASES=after YEAR=2018 make bench-scale    (… on weeks no earlier run used: 2016 is the default;
                                              each run prints the last week it used)

Measures the running platform as it is ("before"), then makes it lived-in — a simulated year:
every enterprise of the registry reporting 52 weeks through ingest, at least ALERTS (20,000)
alerts stored by notify, two webhook subscriptions of which one points at a receiver that is
down — and measures again ("after"), after a VACUUM (ANALYZE) of the local database (`make db-vacuum`,
as after any bulk load). Each phase prints:

- pipeline: submission → stored alert, p50/p99, at a steady rate for SECONDS (60), at each of RATES
  (40 and 100 reports/s), with each process's CPU per report over the run and in its slowest
  second;
- ingest: batches of 500 reports, reports/s;
- inbox: GET /v1/alerts?group_id=finance&limit=100, p50/p99 over 100 calls;
- idle: each process's CPU over IDLE (60) seconds with nothing submitted, and its RSS.

Targets (the issue's): every lived-in figure within 1.5x of the empty one, pipeline p99 under
500 ms at 100 reports/s, the services and the database together under 10 % of one core when
idle (Kafka on its own line), each service under 200 MB RSS. Figures are printed, never
asserted: a benchmark measures, a test checks behaviour.
"""

import json
import os
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from liaison_client.local import local_admin_token
from liaison_common.kafka_auth import kafka_auth, use_local_kafka_admin

REPO = Path(__file__).resolve().parents[1]
INGEST, REGISTRY, NOTIFY = "http://127.0.0.1:8001", "http://127.0.0.1:8002", "http://127.0.0.1:8003"
# The pipeline at each rate: the 100 reports/s, and one this 2-core machine sustains, at
# which lived-in against empty compares the platform rather than a queue (RATE=… for one rate).
RATES = [float(r) for r in os.environ.get("RATE", os.environ.get("RATES", "40,100")).split(",")]
# Long enough for a steady rate: the first second of a run (the sender's threads and connections
# starting) weighs a sixtieth of the p99's sample, not a twentieth.
SECONDS = float(os.environ.get("SECONDS", "60"))
IDLE = float(os.environ.get("IDLE", "60"))
WARM_UP_SECONDS = 10.0
ALERTS = int(os.environ.get("ALERTS", "20000"))
# PHASES=after measures a platform made lived-in by an earlier run again, without filling it more.
PHASES = os.environ.get("PHASES", "before,live,after").split(",")
TICKS = os.sysconf("SC_CLK_TCK")
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def report(enterprise_id: str, monday: date, run: str, **indicators: float) -> dict:
    end = monday + timedelta(days=6)
    return {
        "report_id": f"scale-{run}-{enterprise_id}-{end.isoformat()}",
        "enterprise_id": enterprise_id,
        "period_start": monday.isoformat(),
        "period_end": end.isoformat(),
        "submitted_at": f"{(end + timedelta(days=1)).isoformat()}T09:00:00+08:00",
        "indicators": indicators,
    }


class Seen:
    """When each report id first appears in an alert notify stored (its event stream)."""

    def __init__(self, token: str):
        self.times: dict[str, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, args=(token,), daemon=True)
        self.thread.start()
        time.sleep(1)

    def _watch(self, token: str) -> None:
        with (
            httpx.Client(timeout=httpx.Timeout(10, read=None)) as client,
            client.stream(
                "GET", f"{NOTIFY}/v1/alerts/stream", headers={"Authorization": f"Bearer {token}"}
            ) as answer,
        ):
            for line in answer.iter_lines():
                if self.stop.is_set():
                    return
                if line.startswith("data:"):
                    for source in json.loads(line[5:]).get("source_ids", []):
                        self.times.setdefault(source, time.perf_counter())


class OnTopic:
    """When each report id first appears in an alert on liaison.alerts.v1 (rules' output): the
    pipeline's first stage, apart from notify's."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.stop = threading.Event()
        self.consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, **kafka_auth())
        partitions = [
            TopicPartition("liaison.alerts.v1", p)
            for p in self.consumer.partitions_for_topic("liaison.alerts.v1") or ()
        ]
        self.consumer.assign(partitions)
        self.consumer.seek_to_end()
        for tp in partitions:
            self.consumer.position(tp)
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.stop.is_set():
            for records in self.consumer.poll(timeout_ms=200).values():
                for record in records:
                    for source in json.loads(record.value).get("source_ids", []):
                        self.times.setdefault(source, time.perf_counter())
        self.consumer.close()


def pipeline(
    client: httpx.Client,
    token: str,
    enterprises: list[str],
    start: date,
    rate: float,
    seconds: float = SECONDS,
) -> str:
    """A steady rate of reports with a funding gap (each enterprise once a week, weeks moving on)."""
    run, seen, on_topic, sent = uuid.uuid4().hex[:6], Seen(token), OnTopic(), {}
    total = int(rate * seconds)
    gap = {"working_capital_need": 50000, "cash_on_hand": 100, "credit_available": 100}
    items = [
        report(
            enterprises[i % len(enterprises)],
            start + timedelta(weeks=i // len(enterprises)),
            run,
            **gap,
        )
        for i in range(total)
    ]
    pids = processes()
    cpu_before = cpu_by_process(pids)
    started = time.perf_counter()
    each_second = CpuEachSecond(pids)

    def send(index: int) -> None:
        # Each report at its moment: one request takes longer than 1/rate (ingest answers once
        # Kafka has it), so senders side by side keep the rate.
        item = items[index]
        time.sleep(max(0.0, started + index / rate - time.perf_counter()))
        sent[item["report_id"]] = time.perf_counter()
        answer = client.post("/v1/reports", json=item)
        assert answer.status_code in (200, 202), answer.text[:200]

    with ThreadPoolExecutor(max_workers=16) as senders:
        list(senders.map(send, range(total)))
    achieved = total / (time.perf_counter() - started)
    deadline = time.monotonic() + 60
    while len([r for r in sent if r in seen.times]) < total and time.monotonic() < deadline:
        time.sleep(0.2)
    cpu_after = cpu_by_process(pids)
    each_second.finish()
    cpu_per_report = {name: (cpu_after[name] - cpu_before[name]) / total for name in pids}
    seen.stop.set()
    on_topic.stop.set()
    latencies = [seen.times[r] - sent[r] for r in sent if r in seen.times]
    to_topic = [on_topic.times[r] - sent[r] for r in sent if r in on_topic.times]
    # The worst of each second of sending: where in the run the tail lies.
    worst: dict[int, float] = {}
    for r in sent:
        if r in seen.times:
            second = int(sent[r] - started)
            worst[second] = max(worst.get(second, 0.0), seen.times[r] - sent[r])
    timeline = " ".join(f"{worst[s] * 1000:.0f}" for s in sorted(worst))
    slowest = max(worst, key=worst.__getitem__) if worst else 0
    return (
        f"pipeline at {rate:.0f}/s (sent at {achieved:.0f}/s): {len(latencies)}/{total} stored, p50 {percentile(latencies, 50) * 1000:.0f} ms,"
        f" p99 {percentile(latencies, 99) * 1000:.0f} ms\n"
        f"  worst of each second of sending (ms): {timeline}\n"
        f"  CPU in second {slowest}, the slowest (of a core): {each_second.busiest(slowest)}\n"
        f"  of which submission → alert on liaison.alerts.v1 (ingest, rules): p50"
        f" {percentile(to_topic, 50) * 1000:.0f} ms, p99 {percentile(to_topic, 99) * 1000:.0f} ms\n"
        f"  CPU per report (ms): "
        + ", ".join(f"{name} {seconds * 1000:.1f}" for name, seconds in sorted(cpu_per_report.items()))
        + f"; together {sum(cpu_per_report.values()) * 1000:.1f} (Kafka and Prometheus included)"
    )


def ingest_batches(client: httpx.Client, enterprises: list[str], year: int) -> str:
    run = uuid.uuid4().hex[:6]
    items = [
        report(e, date(year, 1, 2) + timedelta(weeks=w), run, production_t=100, sales_t=100)
        for w in range(10)
        for e in enterprises
    ][:2000]
    started = time.perf_counter()
    for i in range(0, len(items), 500):
        answer = client.post("/v1/reports", json=items[i : i + 500])
        assert answer.status_code in (202, 207), answer.text[:200]
    return f"ingest, batches of 500: {len(items) / (time.perf_counter() - started):.0f} reports/s"


def inbox(token: str) -> str:
    times = []
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for _ in range(100):
            started = time.perf_counter()
            client.get(f"{NOTIFY}/v1/alerts", params={"group_id": "finance", "limit": 100}).raise_for_status()
            times.append(time.perf_counter() - started)
    return f"inbox (finance, 100 per page): p50 {percentile(times, 50) * 1000:.0f} ms, p99 {percentile(times, 99) * 1000:.0f} ms"


def processes() -> dict[str, int]:
    found = {}
    for pidfile in sorted((REPO / ".local" / "run").glob("*.pid")):
        try:
            found[pidfile.stem] = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            continue
    return found


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_by_process(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds of each named process with its live descendants (PostgreSQL's backends are
    children of the postmaster), and of the children it reaped: one pass over /proc."""
    named = set(pids.values())
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            fields = _stat(pid)
        except (OSError, IndexError):
            continue  # ended in between
        parents[pid] = int(fields[1])
        # utime + stime, and for a named process also what its reaped children used
        ticks[pid] = int(fields[11]) + int(fields[12])
        if pid in named:
            ticks[pid] += int(fields[13]) + int(fields[14])
    children: dict[int, list[int]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    totals = {}
    for name, pid in pids.items():
        total, frontier = 0, [pid]
        while frontier:
            total += sum(ticks.get(member, 0) for member in frontier)
            frontier = [child for member in frontier for child in children.get(member, ())]
        totals[name] = total / TICKS
    return totals


class CpuEachSecond:
    """Each process's share of a core in each second of a run: where a slow second's time went."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.samples: list[dict[str, float]] = [cpu_by_process(pids)]
        self.stop = threading.Event()
        self.started = time.perf_counter()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.stop.wait(max(0.0, self.started + len(self.samples) - time.perf_counter())):
            self.samples.append(cpu_by_process(self.pids))

    def finish(self) -> None:
        self.stop.set()
        self.thread.join()

    def busiest(self, second: int, top: int = 4) -> str:
        """The processes that used the most CPU in that second of the run."""
        if second + 1 >= len(self.samples):
            return "?"
        before, after = self.samples[second], self.samples[second + 1]
        shares = sorted(((after[n] - before[n]) * 100, n) for n in self.pids)[::-1][:top]
        return ", ".join(f"{name} {share:.0f} %" for share, name in shares)


def rss_mb(pid: int) -> float:
    """Resident memory of the process itself (a sum over PostgreSQL's backends would count the
    shared buffers once per backend)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


def idle() -> list[str]:
    pids = processes()
    before = cpu_by_process(pids)
    time.sleep(IDLE)
    after = cpu_by_process(pids)
    lines, platform_total = [], 0.0
    for name, pid in pids.items():
        share = (after[name] - before[name]) / IDLE * 100
        if name not in ("kafka", "prometheus"):
            platform_total += share
        lines.append(f"  {name:<11} {share:5.1f} % of a core   RSS {rss_mb(pid):6.0f} MB")
    lines.append(
        f"  services + database together: {platform_total:.1f} % of a core (Kafka and Prometheus apart)"
    )
    return lines


def first_monday(year: int) -> date:
    january_first = date(year, 1, 1)
    return january_first + timedelta(days=-january_first.weekday() % 7)


def weeks_of(reports: int, enterprises: list[str]) -> int:
    """Weeks a run of `reports` covers, each enterprise once a week (`pipeline`)."""
    return -(-reports // len(enterprises))


def measure(label: str, token: str, enterprises: list[str], year: int, *, warm_up: bool) -> None:
    """The figures of one phase, on weeks from the first Monday of `year` on, each rate's weeks
    right after the previous rate's: every enterprise reports every week, as its liaison would.

    With `warm_up`, ten seconds of reports on the weeks just before come first, not measured: a
    platform just started is cold (the broker's JIT, first connections, consumer groups
    settling), and an enterprise whose last report is weeks old is overdue for those weeks. Its
    next report raised an overdue-report alert or three at once: on a lived-in platform, 295 of
    them in the first seconds of a run, where the empty one had none (docs/benchmarks.md)."""
    print(f"\n== {label}")
    wait_drained()  # measured on a platform that has caught up
    week = first_monday(year)
    with httpx.Client(base_url=INGEST, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        if warm_up:
            warm_weeks = weeks_of(int(min(RATES) * WARM_UP_SECONDS), enterprises)
            start = week - timedelta(weeks=warm_weeks)
            pipeline(client, token, enterprises, start, min(RATES), seconds=WARM_UP_SECONDS)
        for rate in RATES:
            wait_drained()  # a rate measured on a platform that has caught up with the one before
            print(pipeline(client, token, enterprises, week, rate))
            week += timedelta(weeks=weeks_of(int(rate * SECONDS), enterprises))
        print(f"  (weeks {first_monday(year)} to {week - timedelta(days=1)})")
        print(ingest_batches(client, enterprises, year))
    print(inbox(token))
    wait_drained()  # idle means nothing left to process
    print(f"idle for {IDLE:.0f} s:")
    for line in idle():
        print(line)


def live_in(token: str, enterprises: list[str]) -> None:
    """A year of reports from every enterprise, ALERTS stored alerts, a receiver that is down."""
    headers = {"Authorization": f"Bearer {token}"}
    run = uuid.uuid4().hex[:6]
    for group, target in (("finance", "http://127.0.0.1:9/down"), ("sme", "http://127.0.0.1:9/down-too")):
        body = {"id": f"scale-{run}-{group}", "group_id": group, "channel": "webhook", "target": target}
        httpx.post(f"{REGISTRY}/v1/subscriptions", json=body, headers=headers, timeout=30)
    year = first_monday(2013)  # its 52 weeks end the day before the first Monday of 2014
    items = []
    for week in range(52):
        for index, enterprise_id in enumerate(enterprises):
            troubled = (week + index) % 9 == 0  # now and then a funding gap, a case that comes and goes
            items.append(
                report(
                    enterprise_id,
                    year + timedelta(weeks=week),
                    run,
                    production_t=1000,
                    sales_t=900,
                    inventory_t=3000,
                    cash_on_hand=100,
                    credit_available=100,
                    working_capital_need=5000 if troubled else 50,
                )
            )
    print(
        f"lived-in: {len(items)} reports ({len(enterprises)} enterprises x 52 weeks) through ingest …",
        flush=True,
    )
    with httpx.Client(base_url=INGEST, headers=headers, timeout=120) as client:
        for i in range(0, len(items), 500):
            client.post("/v1/reports", json=items[i : i + 500]).raise_for_status()
    print(f"lived-in: {ALERTS} alerts onto liaison.alerts.v1 for notify to store …", flush=True)
    producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, **kafka_auth(), acks=1, linger_ms=20)
    for n in range(ALERTS):
        enterprise_id = enterprises[n % len(enterprises)]
        alert: dict[str, Any] = {
            "alert_id": f"stated_problem.{enterprise_id}.scale-{run}-{n}",
            "type": "stated_problem",
            "severity": "low",
            "enterprise_id": enterprise_id,
            "period_end": "2013-06-30",
            "detected_at": "2013-07-01T09:00:00+08:00",
            "summary": "历史问题",
            "evidence": {},
            "routes": [{"group_id": ("finance", "comprehensive", "operations")[n % 3], "role": "primary"}],
            "source_ids": [f"scale-{run}-{n}"],
        }
        producer.send("liaison.alerts.v1", key=alert["alert_id"].encode(), value=json.dumps(alert).encode())
    producer.flush()
    producer.close()
    wait_drained()
    vacuum_after_load()


def vacuum_after_load() -> None:
    """`make db-vacuum` on the local PostgreSQL, as after any bulk load: a year that came a week
    at a time had autovacuum behind it all along. Of two runs without it, one measured its 40/s
    pipeline while PostgreSQL caught up with the load (p99 6.6 s, 31 ms of its CPU per report)."""
    if not (REPO / ".local" / "run" / "postgres.pid").exists():
        print(
            "lived-in: no local PostgreSQL (not `make up`'s FerretDB): no VACUUM after the load", flush=True
        )
        return
    started = time.monotonic()
    subprocess.run([str(REPO / "scripts" / "platform.sh"), "vacuum"], check=True, stdout=subprocess.DEVNULL)
    print(f"lived-in: VACUUM (ANALYZE) after the load ({time.monotonic() - started:.1f} s)", flush=True)


def backlog() -> dict[str, int]:
    """Messages not yet processed (end offset minus committed offset) by rules and notify."""
    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP, **kafka_auth())
    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, **kafka_auth())
    try:
        left = {}
        for group, topics in (
            ("liaison-rules", ("liaison.reports.v1",)),
            ("liaison-notify", ("liaison.alerts.v1", "liaison.alert-events.v1", "liaison.reporting.v1")),
        ):
            committed = admin.list_group_offsets(group).get(group, {})
            for topic in topics:
                partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
                ends = consumer.end_offsets(partitions)
                left[topic] = sum(
                    ends[tp] - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0)
                    for tp in partitions
                )
        return left
    finally:
        consumer.close()
        admin.close()


def wait_drained() -> None:
    """Until rules and notify have caught up with everything sent (progress every 15 s)."""
    deadline = time.monotonic() + 3600
    while time.monotonic() < deadline:
        left = backlog()
        print("  not yet processed: " + ", ".join(f"{t} {n}" for t, n in left.items()), flush=True)
        if sum(left.values()) <= 5:  # a record or two may arrive meanwhile (digests, reporting)
            return
        time.sleep(15)


def main() -> None:
    use_local_kafka_admin()  # the local broker wants SASL: be its admin
    token = local_admin_token() or ""
    enterprises = [
        e["id"]
        for e in httpx.get(
            f"{REGISTRY}/v1/enterprises",
            params={"limit": 1000},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ).json()
    ]
    print(
        f"{os.cpu_count()} cores; {len(enterprises)} enterprises in the registry; pipeline at {', '.join(f'{r:.0f}' for r in RATES)} reports/s, {SECONDS:.0f} s each"
    )
    if PHASES == ["idle"]:
        wait_drained()  # idle means nothing left to process
        print(f"idle for {IDLE:.0f} s:")
        for line in idle():
            print(line)
        return
    if "before" in PHASES:
        # Weeks that end before the simulated year (2013) begins: 2010 and the next.
        measure("before (as the platform is now)", token, enterprises, 2010, warm_up=True)
    if "live" in PHASES:
        live_in(token, enterprises)
    if "after" in PHASES:
        # Weeks no earlier run used, or the reports update the cases an earlier run opened
        # (PHASES=after YEAR=2018 … for each further run on the same platform: a run at the
        # default rates and SECONDS spans a year and a half). Right after the simulated year,
        # its last week is the one before: no warm-up needed.
        year = int(os.environ.get("YEAR", "2014" if "live" in PHASES else "2016"))
        measure("after a simulated year", token, enterprises, year, warm_up="live" not in PHASES)


if __name__ == "__main__":
    main()
