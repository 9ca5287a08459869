"""The reporting agent: who is overdue, and how complete each week is (one partition, one owner;
the pure logic is in reporting.py)."""

import asyncio
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from anyio import to_thread
from faust.types import TP

from liaison_common import jsonbytes
from liaison_common.topics import partitions_of
from services.rules.app import (
    app,
    periods_topic,
    registry,
    registry_ready,
    reporting_state,
    reporting_topic,
    settings,
    thresholds,
)
from services.rules.domain import reporting
from services.rules.outputs import RawMessage, done, emit_problem, raw_message, reject

log = logging.getLogger(__name__)


@app.agent(periods_topic)
async def track_reporting(stream: Any) -> None:
    """One partition, so one owner. Every event is observed and the state written at once (so
    a restart loses nothing); completeness and the overdue check, which cost more, run at most
    every CHECK_EVERY seconds, on a tick, and after a quiet moment.

    Not stream.take_events(): with faust-streaming 0.15.3 it handed this agent a batch that
    repeated one event and lacked the next, which made a reporter look late.
    """
    days_after = thresholds.get("report_overdue", "days_after_period_end")
    on_time_days = thresholds.get("report_overdue", "on_time_days_after_period_end").value
    lateness = thresholds.get("report_overdue", "allowed_lateness_days").value
    started_at = time.time()
    state: dict[str, Any] = {}
    weeks: set[str] = set()
    last_check = 0.0
    async for event in stream.events():
        await registry_ready.wait()  # inside the loop: see iterate_at_once
        started, raw = time.perf_counter(), raw_message(event)
        if not state:
            sources = await report_sources()
            parts = dict(reporting_state.items())
            state = reporting.state_from_parts(parts)
            reporting.expect_sources(state, sources, now=started_at)
            old = reporting.older_layout(parts)
            if old:  # written by an earlier version: rewrite it one fact per key
                log.info("reporting state: rewriting %d entries of an older layout", len(old))
                await write_parts(reporting.all_parts(state))
                await delete_keys([k for k in old if k != reporting.META_KEY])
            else:
                await write_parts(reporting.meta_part(state))
        try:
            record = json.loads(raw.value or b"")
            tick = bool(record.get("tick"))
            # {"seen": [...]}: a worker's batch (outputs.PeriodBatch); a bare event is one
            # written by an earlier version, still read.
            observed = [] if tick else record.get("seen", [record])
            if not isinstance(observed, list):
                raise ValueError("'seen' is not a list")
        except Exception as error:  # one bad record never stops the reporting agent
            await reject(raw, "invalid", f"not a period event: {error!r}"[:2000])
            continue
        changed: dict[str, Any] = {}
        refused: list[str] = []
        for index, seen in enumerate(observed):
            try:
                weeks_before = len(state["weeks"])
                week = reporting.observe(
                    state,
                    seen,
                    on_time_days=on_time_days,
                    days_after=days_after.value,
                    now=time.time(),
                    lateness_days=lateness,
                    idle_seconds=settings.idle_source_seconds,
                    today=datetime.now(UTC).date().isoformat(),
                )
            except Exception as error:  # the others of the batch still count
                refused.append(f"item {index}: {error!r}")
                continue
            weeks.add(week)
            new_week = len(state["weeks"]) > weeks_before
            changed.update(reporting.event_parts(state, week, seen["reporter"], new_week=new_week))
        # Written before the offset is committed, so that a restart loses nothing; only the few
        # entries these events changed, never a part that holds every reporter.
        await write_parts(changed)
        if refused:
            detail = f"{len(refused)} of {len(observed)} period events refused: " + "; ".join(refused)
            await reject(raw, "invalid", detail[:2000])
        since_check = time.monotonic() - last_check
        if tick or since_check >= CHECK_EVERY:
            last_check = time.monotonic()
            await check_reporting(state, weeks, days_after, lateness)
            weeks = set()
        elif stream_is_quiet(raw):
            # Quiet now (at a steady trickle, after nearly every report), but checked moments
            # ago: check again once CHECK_EVERY has passed, so that the last report of a burst
            # is not left unchecked until the next, and a trickle is checked twice a second,
            # not at every report.
            tick_after(CHECK_EVERY - since_check)
        done(raw, started)


async def report_sources() -> list[str]:
    """Every partition that carries reports ("topic:partition"), asked of the broker until it
    answers. Raised, the error crashed the agent (seen with the broker frozen for 35 s); Faust
    restarts a crashed agent, but what becomes of the event it held is Faust's business, not
    something to rely on."""
    while True:
        try:
            return [
                f"{topic}:{partition}"
                for topic in (settings.reports_topic, settings.workgroup_reports_topic)
                for partition in await to_thread.run_sync(
                    partitions_of, settings.kafka_bootstrap_servers, topic
                )
            ]
        except Exception as error:
            log.warning("report partitions unknown (%r); asking again in 2 s", error)
            await asyncio.sleep(2)


# Table entries written, or weeks checked, between two turns of the event loop. The detection
# agents share this worker's one thread: in one piece, a check after a backlog that spanned many
# weeks (bench-rules: up to 500 weeks, and 2,000 entries forgotten) held every live report on
# other partitions 30-70 ms.
TURN = 64


async def write_parts(parts: dict[str, Any]) -> None:
    for key, value in parts.items():
        reporting_state[key] = value
        await send_table_writes_by_turns()


async def delete_keys(keys: list[str]) -> None:
    for key in keys:
        if key in reporting_state:
            del reporting_state[key]
            await send_table_writes_by_turns()


async def send_table_writes_by_turns() -> None:
    """When a turn's worth of table writes waits for the producer, wait until Faust has sent
    them, leaving the loop to the other agents meanwhile.

    Faust holds each table write for the producer, and while more than 100 wait it hands no
    input to any agent until they are sent (`ProducerBuffer.wait_until_ebb`, with a warning
    each time): a batch of 200 reports' periods made 400 writes at once, and the live reports
    on other partitions waited for all of them."""
    buffer = app.producer.buffer
    if buffer.size >= TURN:
        await buffer.flush_atmost(buffer.size)  # sent by Faust's own task, in order
        await asyncio.sleep(0)


CHECK_EVERY = 0.5
_tick_due = [0.0]  # when the planned tick leaves (the loop's clock); in the past: none planned


def tick_after(delay: float) -> None:
    """A tick to this agent's own topic in `delay` seconds, unless one is planned already."""
    loop = asyncio.get_running_loop()
    if _tick_due[0] > loop.time():
        return

    def send_tick() -> None:
        task = loop.create_task(periods_topic.send(key=b"periods", value=b'{"tick": true}'))
        _ticks_in_flight.add(task)
        task.add_done_callback(_ticks_in_flight.discard)

    delay = max(delay, 0.0)
    _tick_due[0] = loop.time() + delay
    loop.call_later(delay, send_tick)  # uvloop's handle has no when(): the time is kept above


_ticks_in_flight: set["asyncio.Task[Any]"] = set()  # referenced until sent


def stream_is_quiet(raw: RawMessage) -> bool:
    """True when this was the last message the topic had (nothing more to read right now)."""
    highwater = app.consumer.highwater(TP(raw.topic, raw.partition))
    return highwater is None or raw.offset + 1 >= highwater


async def check_reporting(state: dict[str, Any], weeks: set[str], days_after: Any, lateness: int) -> None:
    expected = reporting.expected_reporters(registry)
    for count, week in enumerate(sorted(weeks), 1):
        record = reporting.completeness(state, week, expected)
        record["computed_at"] = datetime.now(UTC).isoformat()
        await reporting_topic.send(key=week.encode(), value=jsonbytes.dumps(record))
        if count % (TURN // 4) == 0:  # a week costs about as much as four entries
            await asyncio.sleep(0)
    # Partitions gone quiet stop holding time back.
    reporting.advance(
        state,
        now=time.time(),
        lateness_days=lateness,
        idle_seconds=settings.idle_source_seconds,
        today=datetime.now(UTC).date().isoformat(),
    )
    names = {key: _name(key) for key in expected}
    missed = reporting.overdue(state, expected, days_after=days_after.value)
    for count, (reporter, period_end) in enumerate(missed, 1):
        problem = reporting.overdue_problem(
            reporter, period_end, names, state, days_after=days_after.value, source=days_after.source
        )
        await emit_problem(problem)
        if count % (TURN // 4) == 0:
            await asyncio.sleep(0)
    # The watermark moved; the flags of those who missed a week changed; forgotten weeks leave
    # the table.
    await write_parts(
        {**reporting.meta_part(state), **reporting.flagged_parts(state, {r for r, _ in missed})}
    )
    await delete_keys(reporting.forget_old_weeks(state))


def _name(reporter: str) -> str:
    kind, subject_id = reporter.split(":", 1)
    data = registry.get(kind, subject_id) or {}
    return str(data.get("name") or subject_id)


@app.timer(interval=settings.overdue_check_seconds, on_leader=True)
async def ask_for_overdue_check() -> None:
    """Registry changes (a new key enterprise) can make someone overdue without a new report."""
    if registry_ready.is_set():
        await periods_topic.send(key=b"periods", value=b'{"tick": true}')
