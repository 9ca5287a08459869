"""What one report costs on the running platform: CPU in each process, bytes on each topic,
bytes in the database (the measured base of docs/scaling.md's capacity plan).

  make bench-costs          (N=5000 reports by default; needs make up)

Sends N weekly reports of the registry's enterprises through ingest (batches of 500; now and
then a funding gap that comes and goes, so cases open, update and resolve as in a real winter),
waits until rules and notify have processed everything, and prints, per report:
- CPU milliseconds of each process (ingest, rules, notify, Kafka, FerretDB with PostgreSQL),
  less what the same process spends idle over as long (measured just before);
- bytes added on each topic (the broker's log segments, one replica);
- bytes added in the database, per collection (PostgreSQL's tables under FerretDB, indexes in).
"""

import os
import subprocess
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import httpx
from bench_scale import cpu_seconds, processes, report, wait_drained

from liaison_client.local import local_admin_token
from liaison_common.kafka_auth import use_local_kafka_admin

REPO = Path(__file__).resolve().parents[1]
KAFKA_DATA = REPO / ".local" / "kafka" / "data"
INGEST, REGISTRY = "http://127.0.0.1:8001", "http://127.0.0.1:8002"
PG_URL = "postgres://postgres@127.0.0.1:5433/ferretdb"
MEASURED = ("ingest", "rules", "notify", "kafka", "ferretdb", "postgres")


def topic_bytes() -> dict[str, int]:
    """Bytes of every topic's log segments, by topic (partitions added up)."""
    sizes: dict[str, int] = {}
    for directory in KAFKA_DATA.iterdir():
        if directory.is_dir() and "-" in directory.name and directory.name.startswith("liaison"):
            topic = directory.name.rsplit("-", 1)[0]
            sizes[topic] = sizes.get(topic, 0) + sum(f.stat().st_size for f in directory.glob("*.log"))
    return sizes


def psql() -> str:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))
    return str(found[-1]) if found else "psql"


def collection_bytes() -> dict[str, int]:
    """Bytes of each collection of the liaison database: FerretDB keeps one PostgreSQL table per
    collection (named after it, with a hash) in the schema `liaison`; indexes and TOAST included."""
    query = (
        "select c.relname, pg_total_relation_size(c.oid) from pg_class c join pg_namespace n"
        " on n.oid = c.relnamespace where n.nspname = 'liaison' and c.relkind = 'r'"
    )
    output = subprocess.run(
        [psql(), PG_URL, "-Atc", query], capture_output=True, text=True, check=True
    ).stdout
    sizes: dict[str, int] = {}
    for line in output.splitlines():
        table, size = line.rsplit("|", 1)
        collection = table.rsplit("_", 1)[0] if table[-9:-8] == "_" else table  # name_1a2b3c4d
        sizes[collection] = sizes.get(collection, 0) + int(size)
    return sizes


def cpu_by_process() -> dict[str, float]:
    pids = processes()
    return {name: cpu_seconds(pid) for name, pid in pids.items() if name in MEASURED}


def main() -> None:
    use_local_kafka_admin()
    n = int(os.environ.get("N", "5000"))
    token = local_admin_token()
    headers = {"Authorization": f"Bearer {token}"}
    enterprises = sorted(
        e["id"] for e in httpx.get(f"{REGISTRY}/v1/enterprises", headers=headers, timeout=30).json()
    )
    weeks = max(1, n // len(enterprises))
    run = uuid.uuid4().hex[:6]
    first_monday = date(2015, 1, 5) + timedelta(weeks=int(run, 16) % 400)  # a fresh stretch of weeks
    items = []
    for week in range(weeks):
        for index, enterprise_id in enumerate(enterprises):
            troubled = (week + index) % 9 < 2  # two weeks in nine: a case opens, updates, resolves
            items.append(
                report(
                    enterprise_id,
                    first_monday + timedelta(weeks=week),
                    f"cost-{run}",
                    production_t=1000,
                    sales_t=900,
                    inventory_t=3000,
                    cash_on_hand=100,
                    credit_available=100,
                    working_capital_need=5000 if troubled else 50,
                )
            )
    items = items[:n]
    print(
        f"{len(items)} reports of {len(enterprises)} enterprises over {weeks} weeks, through ingest\n",
        flush=True,
    )

    idle_seconds = 30.0
    idle_start = cpu_by_process()
    time.sleep(idle_seconds)
    idle_rate = {
        name: (seconds - idle_start[name]) / idle_seconds for name, seconds in cpu_by_process().items()
    }

    topics_before, db_before, cpu_before = topic_bytes(), collection_bytes(), cpu_by_process()
    started = time.perf_counter()
    with httpx.Client(base_url=INGEST, headers=headers, timeout=120) as client:
        for i in range(0, len(items), 500):
            client.post("/v1/reports", json=items[i : i + 500]).raise_for_status()
    wait_drained()
    elapsed = time.perf_counter() - started
    cpu_after, topics_after, db_after = cpu_by_process(), topic_bytes(), collection_bytes()

    print(f"\nCPU per report (ms), idle share over the {elapsed:.0f} s taken off:")
    total = 0.0
    for name in MEASURED:
        if name in cpu_after:
            used = cpu_after[name] - cpu_before[name] - idle_rate.get(name, 0.0) * elapsed
            total += used
            print(f"  {name:<9} {used / len(items) * 1000:7.2f}")
    print(f"  {'all':<9} {total / len(items) * 1000:7.2f}")
    print("\nbytes per report on each topic (one replica):")
    for topic in sorted(topics_after):
        added = topics_after[topic] - topics_before.get(topic, 0)
        if added > 0:
            print(f"  {topic:<32} {added / len(items):8.0f}")
    print("\nbytes per report in the database (tables with their indexes):")
    added_total = 0
    for collection in sorted(db_after):
        added = db_after[collection] - db_before.get(collection, 0)
        added_total += added
        if added > 0:
            print(f"  {collection:<32} {added / len(items):8.0f}")
    print(f"  {'all':<32} {added_total / len(items):8.0f}")


if __name__ == "__main__":
    main()
