"""The console's Kafka side: enterprise reports kept for the trend charts."""

import logging
from typing import Any

from aiokafka import AIOKafkaConsumer
from anyio import to_thread
from pydantic import ValidationError

from liaison_common.events import EnterpriseReport
from liaison_common.kafka_auth import kafka_auth
from liaison_common.kafka_clients import Batches, commit_handled, consume_forever
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
            fetch_min_bytes=64 * 1024,
            fetch_max_wait_ms=settings.gather_ms,
        )
        return consumer, []

    await consume_forever("console reports", open_clients, store_reports, max_records=500)


async def store_reports(consumer: AIOKafkaConsumer, batches: Batches) -> None:
    """Every partition's reports in one insert, then one commit of them all."""
    reports = []
    for message in (message for messages in batches.values() for message in messages):
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
    await commit_handled(consumer, batches)
