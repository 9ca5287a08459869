"""The console's Kafka side: enterprise reports kept for the trend charts."""

import asyncio
import logging

from aiokafka import AIOKafkaConsumer
from anyio import to_thread
from pydantic import ValidationError

from liaison_common.events import EnterpriseReport
from liaison_common.kafka_auth import kafka_auth
from liaison_common.kafka_clients import stop_quietly
from services.console import service
from services.console.config import Settings
from services.console.metrics import REPORTS_STORED

log = logging.getLogger(__name__)


async def consume_reports(settings: Settings) -> None:
    """Store every report's indicators; commit only what is stored (at least once, idempotent)."""
    while True:
        consumer = AIOKafkaConsumer(
            settings.reports_topic,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            **kafka_auth(),
            group_id=settings.consumer_group,
            client_id="liaison-console",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        try:
            await consumer.start()
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=500)
                for tp, messages in batches.items():
                    reports = []
                    for message in messages:
                        try:
                            reports.append(EnterpriseReport.model_validate_json(message.value or b""))
                        except (ValidationError, ValueError, RecursionError):
                            # Rules consumes the same topic and sends what is unusable to the
                            # dead-letter topic with the reason; one record of it is enough.
                            REPORTS_STORED.labels("unusable").inc()
                    if reports:
                        counts = await to_thread.run_sync(service.store_report_points, reports)
                        for outcome, count in counts.items():
                            REPORTS_STORED.labels(outcome).inc(count)
                    await consumer.commit({tp: messages[-1].offset + 1})
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the broker or the database may be away: start again shortly
            log.warning("console reports consumer: %r; restarting in 2 s", error)
            await asyncio.sleep(2)
        finally:
            await stop_quietly(consumer)
