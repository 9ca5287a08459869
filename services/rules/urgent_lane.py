"""The urgent lane: major incidents (附件1 八, 限时报送) handled apart from the reports' stream.

A Faust worker reads every input partition through one fetch loop, and its reports agent takes
them from one queue: an incident that came while a backlog of weekly reports drained waited for
the reports queued and fetched ahead of it, and its alert left in the producer's requests behind
theirs (issue 39: a live p99 14 times the quiet one). An incident needs none of the reports'
state (no history, no case book: each is its own alert), so it needs none of their ordering.

The lane is a consumer group of its own (`<app id>-urgent`) on the incidents topic, with its own
producer (linger 0, its own connection, so its requests never queue behind the reports' batches),
run as a task of each rules worker: the workers share the incidents' partitions as they share
the reports'. Each fetched batch is handled, its outputs flushed with acks=all, and only then its
offsets committed (at least once; an incident's alert id is deterministic, so a redelivery
replaces itself downstream). Anything unusable goes to the dead-letter topic with the reason.

The lane's group, before it first joins, takes over the offsets the worker's own group committed
on the incidents (`take_over_offsets`): an installation upgraded to the lane neither handles its past
incidents again nor skips one that came during the upgrade.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError

from liaison_common import jsonbytes
from liaison_common.deadletter import MAX_DEAD_LETTER_BYTES, RawMessage, dead_letter
from liaison_common.events import Incident
from liaison_common.kafka_auth import kafka_auth
from liaison_common.registry_view import RegistryView
from liaison_common.validation import field_errors
from services.rules.domain.alerts import problem_and_alert
from services.rules.domain.problems import EnterpriseFacts
from services.rules.domain.stated_problems import incident_problem
from services.rules.metrics import (
    ALERTS,
    CONSUMER_LAG,
    EVENTS,
    PROBLEMS,
    PROCESSING_SECONDS,
    SUBMISSION_TO_ALERT_SECONDS,
)

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 2.0  # the broker away: try the lane again after this long
Output = tuple[str, bytes | None, bytes, dict[str, bytes]]  # topic, key, value, headers


def incident_outputs(
    raw: RawMessage,
    view: RegistryView,
    topics: dict[str, str],
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> tuple[list[Output], str]:
    """What one message of the incidents topic becomes, and its outcome ("ok" or "dead_lettered"):
    the problem and its routed alert, or a dead letter naming the fields at fault. Pure."""
    try:
        incident = Incident.model_validate_json(raw.value or b"")
        data = view.get("enterprise", incident.enterprise_id) or {}
        facts = EnterpriseFacts(
            incident.enterprise_id,
            data.get("name") or incident.enterprise_id,
            data.get("main_product"),
            data.get("region"),
        )
        problem, alert = problem_and_alert(
            incident_problem(facts, incident),
            view,
            detected_at=now().isoformat(),
            submitted_at=incident.occurred_at.isoformat(),
        )
    except ValidationError as error:
        detail = field_errors(error)
        reason = "not_json" if any(e["type"] == "json_invalid" for e in detail) else "invalid"
        return [_dead_letter(raw, reason, detail, topics, now())], "dead_lettered"
    except Exception as error:  # one message never stops the lane
        log.warning("%s:%s@%s dead-lettered: %r", raw.topic, raw.partition, raw.offset, error)
        why = f"{type(error).__name__}: {error}"[:2000]
        return [_dead_letter(raw, "processing_error", why, topics, now())], "dead_lettered"
    return [
        (topics["problems"], incident.enterprise_id.encode(), jsonbytes.dumps(problem), {}),
        (topics["alerts"], alert["alert_id"].encode(), jsonbytes.dumps(alert), {}),
    ], "ok"


def _dead_letter(raw: RawMessage, reason: str, detail: Any, topics: dict[str, str], now: datetime) -> Output:
    record = dead_letter(raw, reason=reason, detail=detail, rejected_by="rules", now=now)
    return topics["dlq"], raw.key, jsonbytes.dumps(record), {"liaison-reason": reason.encode()}


def take_over_offsets(bootstrap: str, previous_group: str, group: str, topic: str) -> dict[int, int]:
    """Once, before the lane's group first joins: the offsets the worker's own group committed on
    the incidents topic become the lane's (blocking: kafka-python, from a thread). Nothing is
    done if the lane's group has a commit there already, or the other group none. The offsets
    copied, by partition."""
    from kafka import KafkaAdminClient, KafkaConsumer
    from kafka.structs import OffsetAndMetadata

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **kafka_auth(), client_id=f"{group}-take-over")
    try:
        own = admin.list_group_offsets(group).get(group, {})
        if any(tp.topic == topic for tp in own):
            return {}
        earlier = admin.list_group_offsets(previous_group).get(previous_group, {})
    finally:
        admin.close()
    offsets = {tp: mark for tp, mark in earlier.items() if tp.topic == topic and mark.offset >= 0}
    if not offsets:
        return {}
    committer = KafkaConsumer(
        bootstrap_servers=bootstrap, **kafka_auth(), group_id=group, enable_auto_commit=False
    )
    try:
        committer.commit(
            {tp: OffsetAndMetadata(mark.offset, "taken over", -1) for tp, mark in offsets.items()}
        )
    finally:
        committer.close()
    return {tp.partition: mark.offset for tp, mark in offsets.items()}


class UrgentLane:
    """The incidents' consumer and producer, run until cancelled (see the module's docstring)."""

    def __init__(
        self,
        bootstrap: str,
        group_id: str,
        previous_group_id: str,
        incidents_topic: str,
        topics: dict[str, str],
        view: RegistryView,
        ready: asyncio.Event,
    ) -> None:
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.previous_group_id = previous_group_id
        self.incidents_topic = incidents_topic
        self.topics = topics  # "problems", "alerts", "dlq"
        self.view = view
        self.ready = ready
        self.assigned: set[Any] = set()
        self.handled = 0

    async def run(self) -> None:
        await self.ready.wait()  # the registry read: incidents are routed by it
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except KafkaError as error:
                log.warning("urgent lane: %r; starting again in %.0f s", error, RETRY_AFTER_SECONDS)
                await asyncio.sleep(RETRY_AFTER_SECONDS)

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group_id,
            client_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=500,  # a fetch held for data ends as soon as an incident comes
            **kafka_auth(),
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=f"{self.group_id}-producer",
            acks="all",
            linger_ms=0,
            max_request_size=MAX_DEAD_LETTER_BYTES,  # a dead letter of a 10 MB incident fits
            **kafka_auth(),
        )
        taken = await asyncio.to_thread(
            take_over_offsets, self.bootstrap, self.previous_group_id, self.group_id, self.incidents_topic
        )
        if taken:
            log.info(
                "urgent lane: took over the incidents' offsets %s from %s", taken, self.previous_group_id
            )
        await producer.start()
        try:
            await consumer.start()
            consumer.subscribe([self.incidents_topic])
            try:
                while True:
                    batches = await consumer.getmany(timeout_ms=1000, max_records=100)
                    self.assigned = consumer.assignment()
                    if batches:
                        await self._handle(batches, producer)
                        try:
                            await consumer.commit()  # the positions just handled, now acknowledged
                        except CommitFailedError as error:  # a rebalance: the next owner redoes them
                            log.info("urgent lane: commit refused (%r); redelivered to the next owner", error)
                    await self._measure_lag(consumer)
            finally:
                await consumer.stop()
        finally:
            await producer.stop()

    async def _handle(self, batches: dict[Any, list[Any]], producer: AIOKafkaProducer) -> None:
        deliveries = []
        for tp, messages in batches.items():
            for message in messages:
                started = time.perf_counter()
                raw = RawMessage(tp.topic, tp.partition, message.offset, message.key, message.value)
                outputs, outcome = incident_outputs(raw, self.view, self.topics)
                for topic, key, value, headers in outputs:
                    deliveries.append(
                        await producer.send(topic, value, key=key, headers=list(headers.items()) or None)
                    )
                EVENTS.labels(tp.topic, outcome).inc()
                if outcome == "ok":
                    self._count(outputs, started)
        await asyncio.gather(*deliveries)  # every output acknowledged (acks=all) before the commit

    def _count(self, outputs: list[Output], started: float) -> None:
        PROCESSING_SECONDS.labels(self.incidents_topic).observe(time.perf_counter() - started)
        PROBLEMS.labels("major_incident").inc()
        alert = orjson.loads(outputs[-1][2])
        for route in alert["routes"]:
            ALERTS.labels(route["group_id"], route["role"]).inc()
        age = datetime.now(UTC) - datetime.fromisoformat(alert["submitted_at"])
        SUBMISSION_TO_ALERT_SECONDS.observe(max(age.total_seconds(), 0))
        self.handled += 1

    async def _measure_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in self.assigned:
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            position = await consumer.position(tp)
            CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(highwater - position, 0))
