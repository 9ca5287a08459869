"""The console's Kafka side: enterprise reports kept for the trend charts."""

import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from anyio import to_thread
from pydantic import ValidationError

from liaison_common.events import EnterpriseReport
from liaison_common.kafka_auth import kafka_auth
from liaison_common.kafka_clients import consume_forever, per_partition
from services.console import service
from services.console.config import Settings
from services.console.metrics import REPORTS_STORED

log = logging.getLogger(__name__)


async def consume_reports(settings: Settings) -> None:
    """Store every report's indicators; commit only what is stored (at least once, idempotent)."""

    def open_clients() -> tuple[AIOKafkaConsumer, list[Any]]:
        consumer = AIOKafkaConsumer(
            settings.reports_topic,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            **kafka_auth(),
            group_id=settings.consumer_group,
            client_id="liaison-console",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        return consumer, []

    await consume_forever("console reports", open_clients, per_partition(store_reports), max_records=500)


async def store_reports(
    consumer: AIOKafkaConsumer, tp: TopicPartition, messages: list[ConsumerRecord]
) -> None:
    reports = []
    for message in messages:
        try:
            reports.append(EnterpriseReport.model_validate_json(message.value or b""))
        except (ValidationError, ValueError, RecursionError):
            # Rules consumes the same topic and sends what is unusable to the dead-letter topic
            # with the reason; one record of it is enough.
            REPORTS_STORED.labels("unusable").inc()
    if reports:
        counts = await to_thread.run_sync(service.store_report_points, reports)
        for outcome, count in counts.items():
            REPORTS_STORED.labels(outcome).inc(count)
