"""Faust's own cost on this machine: an agent that does none of the rules' domain work, but reads
the same reports and makes the same number of Kafka writes per report as the rules worker (one
table write, FLOOR_OUTPUTS sends, the last to a counting topic), with the rules worker's producer
and commit settings. `make bench-rules` runs it beside the worker: the worker can go no faster
than this, whatever its own code costs.

  python bench/faust_floor.py worker -l info     (FLOOR_* variables: set by bench_rules.py)
"""

import os
from typing import Any

import faust

from liaison_common.kafka_auth import faust_credentials

OUTPUTS = int(os.environ.get("FLOOR_OUTPUTS", "4"))
TABLE_WRITES = int(os.environ.get("FLOOR_TABLE_WRITES", "1"))
RAW: dict[str, Any] = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}

app = faust.App(
    os.environ["FLOOR_APP_ID"],
    broker=f"kafka://{os.environ.get('KAFKA_BOOTSTRAP_SERVERS', '127.0.0.1:9092')}",
    broker_credentials=faust_credentials(),
    store="rocksdb://",
    datadir=os.environ["FLOOR_DATADIR"],
    web_port=int(os.environ.get("FLOOR_WEB_PORT", "6099")),
    web_bind="127.0.0.1",
    topic_partitions=3,
    topic_replication_factor=1,
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
    producer_linger=0.02,  # as services/rules/app.py
    producer_max_batch_size=256 * 1024,
    broker_commit_every=1000,
    broker_commit_interval=2.0,
)
reports = app.topic(os.environ["FLOOR_SOURCE"], **RAW)
sink = app.topic(os.environ["FLOOR_SINK"], **RAW)
done = app.topic(os.environ["FLOOR_DONE"], **RAW)
state = app.Table("floor-state", default=bytes, partitions=3, key_type=bytes, value_type=bytes)


@app.agent(reports)
async def pass_through(stream: Any) -> None:
    async for event in stream.events():
        key, value = event.message.key, event.message.value
        for _ in range(TABLE_WRITES):
            state[key] = value
        for _ in range(OUTPUTS - 1):
            await sink.send(key=key, value=value)
        await done.send(key=key, value=value)


if __name__ == "__main__":
    app.main()
