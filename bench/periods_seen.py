"""How many reports a rules worker has finished, read from its period events.

The worker sends one period event per report it has handled, gathered into records of up to
200 (services/rules/outputs.py, PeriodBatch), so the topic's offsets no longer count reports:
this reads the records and counts what they hold.
"""

import json

from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from liaison_common.kafka_auth import kafka_auth


class PeriodsSeen:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **kafka_auth())
        self.partition = TopicPartition(topic, 0)  # the periods topic has one partition
        self.consumer.assign([self.partition])
        self.consumer.seek_to_beginning()
        self.seen = 0

    def count(self) -> int:
        """Reports seen up to now (ticks, which the worker also writes there, are not counted)."""
        end = self.consumer.end_offsets([self.partition])[self.partition]
        while self.consumer.position(self.partition) < end:
            for records in self.consumer.poll(timeout_ms=200, max_records=5000).values():
                for record in records:
                    self.seen += items_in(record.value)
        return self.seen

    def close(self) -> None:
        self.consumer.close()


def items_in(value: bytes | None) -> int:
    event = json.loads(value or b"{}")
    if "seen" in event:
        return len(event["seen"])
    return 0 if event.get("tick") else 1  # a bare event: one report (an earlier version's)
