"""What every agent does with a message: read it as its contract model (or dead-letter it with
the reason), and publish what it found: problems with their routed alerts, resolutions, and the
period event the reporting agent counts."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

from pydantic import ValidationError

from liaison_common import jsonbytes
from liaison_common.deadletter import RawMessage, dead_letter
from liaison_common.validation import field_errors
from services.rules.app import (
    alerts_topic,
    app,
    dlq_topic,
    last_offsets,
    periods_topic,
    problems_topic,
    registry,
)
from services.rules.domain import reporting
from services.rules.domain.alerts import problem_and_alert, resolution_alert, withdrawal_alert
from services.rules.domain.cases import CaseUpdate
from services.rules.domain.problems import EnterpriseFacts, Problem
from services.rules.metrics import ALERTS, EVENTS, PROBLEMS, PROCESSING_SECONDS, SUBMISSION_TO_ALERT_SECONDS

log = logging.getLogger(__name__)


def raw_message(event: Any) -> RawMessage:
    message = event.message
    return RawMessage(message.topic, message.partition, message.offset, message.key, message.value)


async def reject(raw: RawMessage, reason: str, detail: Any) -> None:
    record = dead_letter(raw, reason=reason, detail=detail, rejected_by="rules", now=datetime.now(UTC))
    await dlq_topic.send(
        key=raw.key, value=jsonbytes.dumps(record), headers={"liaison-reason": reason.encode()}
    )
    EVENTS.labels(raw.topic, "dead_lettered").inc()


async def parse(raw: RawMessage, model: Any) -> Any | None:
    """The event as its contract model, or None after sending it to the dead-letter topic."""
    try:
        return model.model_validate_json(raw.value or b"")
    except ValidationError as error:
        detail = field_errors(error)
        reason = "not_json" if any(e["type"] == "json_invalid" for e in detail) else "invalid"
        await reject(raw, reason, detail)
        return None


async def produce(topic: Any, key: bytes, value: bytes) -> None:
    """A record to the app's producer, where Faust's `Topic.send` ends too, without the
    FutureMessage, callbacks and sensor calls it makes around each record (8-12 % of the
    worker's samples in bench-rules' profile). As before, the record is in the producer's
    buffer on return and the commit flushes the producer first; one the producer fails to
    deliver is logged."""
    delivery = await app.producer.send(topic.get_topic_name(), key, value, None, None, None)
    cast("asyncio.Future[Any]", delivery).add_done_callback(_log_failed_delivery)


def _log_failed_delivery(delivery: "asyncio.Future[Any]") -> None:
    if not delivery.cancelled() and delivery.exception() is not None:
        log.error("an output was not delivered: %r", delivery.exception())


def work_group_facts(work_group_id: str) -> EnterpriseFacts:
    """A work group as the subject of its own cases (its province-wide figures): id and name."""
    data = registry.get("work_group", work_group_id) or {}
    return EnterpriseFacts(work_group_id, data.get("name") or work_group_id)


def facts_of(enterprise_id: str) -> EnterpriseFacts | None:
    data = registry.get("enterprise", enterprise_id)
    if data is None:
        return None
    return EnterpriseFacts(
        enterprise_id, data.get("name") or enterprise_id, data.get("main_product"), data.get("region")
    )


async def emit_problem(
    problem: Problem,
    *,
    submitted_at: str | None = None,
    case: CaseUpdate | None = None,
    correction: dict[str, Any] | None = None,
) -> None:
    """Publish the problem, and its routed alert, from the same event.

    Routing is done here rather than by a second agent reading liaison.problems.v1: Faust's
    cost is per event consumed, and a second hop doubled it (docs/benchmarks.md). The problems
    topic still holds every detected problem, before routing, as the contract has it.
    """
    value, alert = problem_and_alert(
        problem,
        registry,
        detected_at=datetime.now(UTC).isoformat(),
        submitted_at=submitted_at,
        case=case,
        correction=correction,
    )
    await produce(problems_topic, problem.subject_id.encode(), jsonbytes.dumps(value))
    PROBLEMS.labels(problem.type).inc()
    await produce(alerts_topic, alert["alert_id"].encode(), jsonbytes.dumps(alert))
    for route in alert["routes"]:
        ALERTS.labels(route["group_id"], route["role"]).inc()
    if submitted_at is not None:
        age = datetime.now(UTC) - datetime.fromisoformat(submitted_at)
        SUBMISSION_TO_ALERT_SECONDS.observe(max(age.total_seconds(), 0))


async def emit_resolution(
    facts: EnterpriseFacts,
    case: CaseUpdate,
    report_id: str,
    *,
    subject_kind: str = "enterprise",
    summary: str | None = None,
) -> None:
    """The case's problem was absent from two reports in a row (or a data query's figures were
    confirmed): resolved by data."""
    alert = resolution_alert(
        facts,
        case,
        registry,
        report_id=report_id,
        detected_at=datetime.now(UTC).isoformat(),
        subject_kind=subject_kind,
        **({"summary": summary} if summary else {}),
    )
    await produce(alerts_topic, alert["alert_id"].encode(), jsonbytes.dumps(alert))


async def emit_withdrawal(
    facts: EnterpriseFacts, case: CaseUpdate, correction: dict[str, Any], *, subject_kind: str = "enterprise"
) -> None:
    """A correction no longer shows the case's problem in its period (docs/contract.md §7)."""
    alert = withdrawal_alert(
        facts,
        case,
        registry,
        correction=correction,
        detected_at=datetime.now(UTC).isoformat(),
        subject_kind=subject_kind,
    )
    await produce(alerts_topic, alert["alert_id"].encode(), jsonbytes.dumps(alert))


class PeriodBatch:
    """The period events of many reports, sent to the reporting agent as one record.

    The reporting agent counts every report a worker reads; one record each made a second Faust
    event per report, about as dear as the report's own (docs/benchmarks.md). So the agents add
    here and the batch leaves when it holds MAX_ITEMS, LINGER seconds after its first item, and
    before every offset commit (`before_commit`, called by the worker's consumer): an offset is
    never committed before the period events of the reports below it have gone to the producer,
    which the commit flushes next.
    """

    MAX_ITEMS = 200  # about 40 KB a record
    LINGER = 0.05  # seconds

    def __init__(self, send: Callable[[bytes], Awaitable[Any]]) -> None:
        self._send = send
        self._items: list[dict[str, Any]] = []
        self._lock = asyncio.Lock()  # one send at a time: before_commit waits for one in flight
        self._flush_planned = False

    def __len__(self) -> int:
        return len(self._items)

    async def add(self, seen: dict[str, Any]) -> None:
        self._items.append(seen)
        if len(self._items) >= self.MAX_ITEMS:
            await self.flush()
        elif not self._flush_planned:
            self._flush_planned = True
            asyncio.get_running_loop().call_later(self.LINGER, self._flush_later)

    def _flush_later(self) -> None:
        self._flush_planned = False
        task = asyncio.get_running_loop().create_task(self.flush())
        _flushes_in_flight.add(task)  # referenced until done
        task.add_done_callback(_flushes_in_flight.discard)

    async def flush(self) -> None:
        """Hand what is gathered to the producer (returns once it is in the producer's buffer)."""
        async with self._lock:
            if not self._items:
                return
            items, self._items = self._items, []
            try:
                await self._send(jsonbytes.dumps({"seen": items}))
            except BaseException:
                # Back in front, for the next flush: a lingered send that failed must not let the
                # next commit pass reports whose periods went nowhere.
                self._items[:0] = items
                raise


_flushes_in_flight: set["asyncio.Task[Any]"] = set()


async def _send_periods(value: bytes) -> None:
    await periods_topic.send(key=b"periods", value=value)


periods = PeriodBatch(_send_periods)
app.before_commit.append(periods.flush)


async def emit_period(
    raw: RawMessage,
    kind: str,
    subject_id: str,
    report_id: str,
    period_end: str,
    submitted_at: str,
    *,
    corrected: bool = False,
) -> None:
    seen: dict[str, Any] = {
        "reporter": reporting.reporter_key(kind, subject_id),
        "report_id": report_id,
        "period_end": period_end,
        "submitted_at": submitted_at,
        "source": f"{raw.topic}:{raw.partition}",
    }  # each partition keeps its own clock
    if corrected:
        seen["corrected"] = True
    await periods.add(seen)


async def guarded(raw: RawMessage, handle: Callable[[RawMessage, float], Awaitable[None]]) -> None:
    """One message never stops an agent: whatever handling it raises sends it to the dead-letter
    topic with the reason, and the agent goes on with the next."""
    started = time.perf_counter()
    try:
        await handle(raw, started)
    except asyncio.CancelledError:
        raise
    except Exception as error:
        log.warning("%s:%s@%s dead-lettered: %r", raw.topic, raw.partition, raw.offset, error)
        await reject(raw, "processing_error", f"{type(error).__name__}: {error}"[:2000])


def done(raw: RawMessage, started: float) -> None:
    EVENTS.labels(raw.topic, "ok").inc()
    PROCESSING_SECONDS.labels(raw.topic).observe(time.perf_counter() - started)
    last_offsets[(raw.topic, raw.partition)] = raw.offset
