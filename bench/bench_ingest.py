"""Ingest throughput and latency on this machine, beside a bare kafka-python producer.

  make bench-ingest            (N=2000 by default; N=10000 make bench-ingest for more)

Needs the platform running (`make up`). Sends N fresh reports three ways:
  1. single: one report per POST /v1/reports, C concurrent clients;
  2. batch:  POST /v1/reports with arrays of B reports;
  3. bare:   kafka-python KafkaProducer(acks=all) sending the same JSON to a scratch topic,
             the ceiling any HTTP entry point on this broker can approach.
"""

import argparse
import asyncio
import json
import os
import platform
import time
import uuid

import httpx
from kafka import KafkaProducer

from liaison_client.local import local_admin_token
from liaison_common.kafka_auth import kafka_auth, use_local_kafka_admin
from liaison_common.topics import TopicSpec, ensure_topics

KEY_ENTERPRISES = [
    "chalco-qinghai",
    "qinghai-salt-lake",
    "qiaotou-aluminium-power",
    "xining-special-steel",
    "huading-industrial",
    "western-mining",
    "qinghai-electric-power",
    "yellow-river-hydropower",
]


def reports(n: int, run: str) -> list[dict]:
    return [
        {
            "kind": "enterprise_report",
            "report_id": f"bench-{run}-{i}",
            "enterprise_id": KEY_ENTERPRISES[i % len(KEY_ENTERPRISES)],
            "period_start": "2011-12-12",
            "period_end": "2011-12-18",
            "submitted_at": "2011-12-19T09:30:00+08:00",
            "reporter": "bench",
            "indicators": {"production_t": 9800 + i % 100, "sales_t": 7600, "inventory_t": 31000},
        }
        for i in range(n)
    ]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def line(name: str, count: int, seconds: float, latencies: list[float], unit: str) -> float:
    rate = count / seconds
    print(
        f"{name:<34} {rate:>9.0f} reports/s   latency per {unit}: "
        f"p50 {percentile(latencies, 50) * 1000:7.1f} ms   p99 {percentile(latencies, 99) * 1000:7.1f} ms"
    )
    return rate


async def single(url: str, token: str, items: list[dict], concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue = list(reversed(items))
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:

        async def worker() -> None:
            while queue:
                item = queue.pop()
                started = time.perf_counter()
                response = await client.post("/v1/reports", json=item)
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 202, response.text

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies


def batch(url: str, token: str, items: list[dict], size: int) -> tuple[float, list[float]]:
    latencies = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
        started = time.perf_counter()
        for i in range(0, len(items), size):
            t = time.perf_counter()
            response = client.post("/v1/reports", json=items[i : i + size])
            latencies.append(time.perf_counter() - t)
            assert response.status_code == 202, response.text[:300]
        return time.perf_counter() - started, latencies


def bare(bootstrap: str, items: list[dict]) -> tuple[float, list[float], float, list[float]]:
    topic = f"bench.bare.{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, (TopicSpec(topic, 3),))
    producer = KafkaProducer(bootstrap_servers=bootstrap, **kafka_auth(), acks="all", linger_ms=2)
    payloads = [(i["enterprise_id"].encode(), json.dumps(i, ensure_ascii=False).encode()) for i in items]
    # One at a time, waiting for each acknowledgement (what a single HTTP submission does).
    latencies = []
    started = time.perf_counter()
    for key, value in payloads:
        t = time.perf_counter()
        producer.send(topic, key=key, value=value).get(timeout=30)
        latencies.append(time.perf_counter() - t)
    one_by_one = time.perf_counter() - started
    # Pipelined: send everything, then wait (what a batch does).
    started = time.perf_counter()
    futures = [producer.send(topic, key=key, value=value) for key, value in payloads]
    producer.flush()
    pipelined = time.perf_counter() - started
    for future in futures:
        future.get(timeout=0)
    producer.close()
    return one_by_one, latencies, pipelined, [pipelined / len(payloads)]


def main() -> None:
    use_local_kafka_admin()  # the local broker wants SASL: be its admin
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=int(os.environ.get("N", "2000")))
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--url", default="http://127.0.0.1:8001")
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    args = parser.parse_args()
    token = local_admin_token() or ""
    run = uuid.uuid4().hex[:8]
    with open("/proc/cpuinfo") as cpuinfo:
        cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), "?")
    print(f"machine: {os.cpu_count()} cores, {cpu}; Python {platform.python_version()}; N={args.n}")
    print(f"ingest at {args.url}, broker at {args.bootstrap}; every report is new (run {run})\n")

    seconds, latencies = asyncio.run(single(args.url, token, reports(args.n, run + "s"), args.concurrency))
    single_rate = line(f"ingest single (C={args.concurrency})", args.n, seconds, latencies, "request")
    seconds, latencies = batch(args.url, token, reports(args.n, run + "b"), args.batch_size)
    batch_rate = line(f"ingest batch (B={args.batch_size})", args.n, seconds, latencies, "batch")
    one_by_one, latencies, pipelined, _ = bare(args.bootstrap, reports(args.n, run + "k"))
    bare_single = line("bare producer, wait for each ack", args.n, one_by_one, latencies, "message")
    bare_pipelined = args.n / pipelined
    print(f"{'bare producer, pipelined':<34} {bare_pipelined:>9.0f} reports/s")
    print(
        f"\nratio ingest/bare: single {single_rate / bare_single:.2f} "
        f"(C={args.concurrency} HTTP clients vs one synchronous producer), "
        f"batch {batch_rate / bare_pipelined:.2f}"
    )


if __name__ == "__main__":
    main()
