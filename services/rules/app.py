"""The rules service: a Faust app whose agents detect problems and route them as alerts.

  reports ──┐                       ┌─► problems (each detected problem, before routing)
  incidents ├─► detection agents ───┼─► alerts   (the same problem, routed)
  wg-reports┘                       └─► rules-periods (1 partition) ──► reporting agent
                                                                        ├─► problems + alerts (report_overdue)
            registry ──► RegistryView (every worker, in memory)         └─► reporting (completeness)

Run: python -m services.rules worker -l info   (RULES_* variables configure it, see config.py)

Inputs are read as raw bytes and validated here again, so that anything unusable goes to
the dead-letter topic with its reason instead of stopping an agent. Outputs are sent as they
are made and the producer is flushed before offsets are committed, and every agent iterates its
stream from the start (see iterate_at_once), so a worker killed mid-stream loses nothing; alert
ids are deterministic, so what it repeats after a restart replaces itself downstream.
"""

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import faust
from anyio import to_thread
from faust.types import TP
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from liaison_common import jsonbytes
from liaison_common.deadletter import MAX_DEAD_LETTER_BYTES, RawMessage, dead_letter
from liaison_common.events import EnterpriseReport, Incident, WorkgroupReport
from liaison_common.logs import configure_logging
from liaison_common.registry_follower import follow_registry
from liaison_common.registry_view import RegistryView
from liaison_common.topics import partitions_of
from services.rules import reporting
from services.rules.alerts import build_alert, resolution_alert
from services.rules.cases import CaseBook, CaseUpdate
from services.rules.config import Settings
from services.rules.detectors import (
    CATEGORY_TYPES,
    EnterpriseFacts,
    Problem,
    Snapshot,
    detect,
    incident_problem,
    remember,
)
from services.rules.metrics import (
    ALERTS,
    CONSUMER_LAG,
    EVENTS,
    PROBLEMS,
    PROCESSING_SECONDS,
    REGISTRY_ENTITIES,
    SUBMISSION_TO_ALERT_SECONDS,
    TABLE_KEYS,
)
from services.rules.thresholds import Thresholds
from services.rules.watchdog import GroupOffsets, ProgressWatch, start_over

configure_logging()
log = logging.getLogger(__name__)
settings = Settings()
thresholds = Thresholds.load()
registry = RegistryView()
registry_ready = asyncio.Event()

app = faust.App(
    settings.app_id,
    broker=f"kafka://{settings.kafka_bootstrap_servers}",
    store=settings.store,
    datadir=settings.datadir,
    web_host=settings.web_host,
    # Loopback by default, and none of Faust's own pages: /table/ would show every enterprise's
    # last reports to anyone who reaches the port. /healthz, /metrics and /v1/thresholds remain.
    web_bind=settings.web_host,
    web_tables_enabled=False,
    web_router_enabled=False,
    web_graph_enabled=False,
    web_port=settings.web_port,
    topic_partitions=3,
    topic_replication_factor=1,
    table_standby_replicas=0,
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
    # A report makes about five outputs (problems, alerts, its period, table changelogs): let the
    # producer gather them into one request instead of one each (Faust lingers 0 ms by default).
    producer_linger=0.02,
    producer_max_batch_size=256 * 1024,
    producer_max_request_size=MAX_DEAD_LETTER_BYTES,  # a dead letter of a 10 MB input fits
    # Outputs are sent at once (not attached to the input's offset with
    # stream_publish_on_commit: a commit that stalls on one partition then held that partition's
    # alerts back for good; the fault suite saw it). The commit flushes the producer first and
    # the agents wait behind it: every 2 s, not 0.5 s (docs/benchmarks.md: 174 → 224–402/s).
    broker_commit_every=1000,
    broker_commit_interval=2.0,
    # A worker that dies is noticed after this long and its partitions go to the others (or to
    # itself restarted); Faust's default of 60 s left a killed worker's partitions idle a minute.
    broker_session_timeout=15.0,
    broker_heartbeat_interval=3.0,
)

RAW: dict[str, Any] = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}
reports_topic = app.topic(settings.reports_topic, **RAW)
incidents_topic = app.topic(settings.incidents_topic, **RAW)
workgroup_reports_topic = app.topic(settings.workgroup_reports_topic, **RAW)
problems_topic = app.topic(settings.problems_topic, **RAW)
alerts_topic = app.topic(settings.alerts_topic, **RAW)
dlq_topic = app.topic(settings.dlq_topic, **RAW)
reporting_topic = app.topic(settings.reporting_topic, **RAW)
periods_topic = app.topic(settings.periods_topic, partitions=1, **RAW)

# Per enterprise: its last reports (Snapshot.as_dict), newest `history_size` by period.
history = app.Table("enterprise-history", default=list, partitions=3, key_type=str)
# Per enterprise: its cases (services.rules.cases.CaseBook), one per problem type.
cases = app.Table("enterprise-cases", default=dict, partitions=3, key_type=str)
# One key, "state": the reporting state of services.rules.reporting (one partition, one owner).
reporting_state = app.Table("reporting-state", default=dict, partitions=1, key_type=str)

last_offsets: dict[tuple[str, int], int] = {}


# ------------------------------------------------------------------ helpers


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
        errors = error.errors(include_url=False, include_input=False, include_context=False)
        detail = [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in errors]
        reason = "not_json" if any(e["type"] == "json_invalid" for e in detail) else "invalid"
        await reject(raw, reason, detail)
        return None


def facts_of(enterprise_id: str) -> EnterpriseFacts | None:
    data = registry.get("enterprise", enterprise_id)
    if data is None:
        return None
    return EnterpriseFacts(
        enterprise_id, data.get("name") or enterprise_id, data.get("main_product"), data.get("region")
    )


async def emit_problem(
    problem: Problem, *, submitted_at: str | None = None, case: CaseUpdate | None = None
) -> None:
    """Publish the problem, and its routed alert, from the same event.

    Routing is done here rather than by a second agent reading liaison.problems.v1: Faust's
    cost is per event consumed, and a second hop doubled it (docs/benchmarks.md). The problems
    topic still holds every detected problem, before routing, as the contract has it.
    """
    value = problem.as_dict()
    if submitted_at is not None:
        value["submitted_at"] = submitted_at
    await problems_topic.send(key=problem.subject_id.encode(), value=jsonbytes.dumps(value))
    PROBLEMS.labels(problem.type).inc()
    alert = build_alert(value, registry, detected_at=datetime.now(UTC).isoformat(), case=case)
    await alerts_topic.send(key=alert["alert_id"].encode(), value=jsonbytes.dumps(alert))
    for route in alert["routes"]:
        ALERTS.labels(route["group_id"], route["role"]).inc()
    if submitted_at is not None:
        age = datetime.now(UTC) - datetime.fromisoformat(submitted_at)
        SUBMISSION_TO_ALERT_SECONDS.observe(max(age.total_seconds(), 0))


async def emit_resolution(facts: EnterpriseFacts, case: CaseUpdate, report_id: str) -> None:
    """The case's problem was absent from two reports in a row: resolved by data."""
    alert = resolution_alert(
        facts, case, registry, report_id=report_id, detected_at=datetime.now(UTC).isoformat()
    )
    await alerts_topic.send(key=alert["alert_id"].encode(), value=jsonbytes.dumps(alert))


async def emit_period(
    raw: RawMessage, kind: str, subject_id: str, report_id: str, period_end: str, submitted_at: str
) -> None:
    seen = {"reporter": reporting.reporter_key(kind, subject_id), "report_id": report_id,
            "period_end": period_end, "submitted_at": submitted_at,
            "source": f"{raw.topic}:{raw.partition}"}  # each partition keeps its own clock  # fmt: skip
    await periods_topic.send(key=b"periods", value=jsonbytes.dumps(seen))


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


# ------------------------------------------------------------------ detection agents


# iterate_at_once: every agent starts iterating its stream at once, and the worker has read the
# registry before it joins its group (preload_registry, from __main__), so the wait inside the
# loop is already over. An agent that awaited the registry before its first `async for` let
# faust-streaming 0.15.3 commit, unprocessed, the events fetched meanwhile; one that awaited it
# at its first event lost the first events of each partition and never committed them: after
# a restart with a backlog, the fault suite's kill -9 of 5,000 reports lost alerts both ways.
@app.agent(reports_topic)
async def detect_in_reports(stream: Any) -> None:
    async for event in stream.events():
        await registry_ready.wait()  # inside the loop: see iterate_at_once
        await guarded(raw_message(event), handle_report)


async def handle_report(raw: RawMessage, started: float) -> None:
    report = await parse(raw, EnterpriseReport)
    if report is None:
        return
    facts = facts_of(report.enterprise_id)
    if facts is None:
        await reject(raw, "unknown_reference", f"unknown enterprise '{report.enterprise_id}'")
        return
    # A redelivered report (the same report_id) is judged against the others, as it was the
    # first time: so it raises the same alerts, with the same ids.
    known = [
        Snapshot.of(item) for item in history[report.enterprise_id] if item["report_id"] != report.report_id
    ]
    submitted_at = report.submitted_at.isoformat()
    book = CaseBook(cases[report.enterprise_id])
    period_end = report.period_end.isoformat()
    problems = detect(facts, report, known, thresholds)
    for problem in problems:
        case = book.detected(problem.type, report.enterprise_id, period_end)
        await emit_problem(problem, submitted_at=submitted_at, case=case)
    for ended in book.absent({problem.type for problem in problems}, period_end):
        await emit_resolution(facts, ended, report.report_id)
    book.forget_old(period_end)
    cases[report.enterprise_id] = book.data
    history[report.enterprise_id] = [s.as_dict() for s in remember(known, report, settings.history_size)]
    await emit_period(
        raw,
        "enterprise",
        report.enterprise_id,
        report.report_id,
        report.period_end.isoformat(),
        submitted_at,
    )
    done(raw, started)


@app.agent(incidents_topic)
async def detect_in_incidents(stream: Any) -> None:
    async for event in stream.events():
        await registry_ready.wait()  # inside the loop: see iterate_at_once
        await guarded(raw_message(event), handle_incident)


async def handle_incident(raw: RawMessage, started: float) -> None:
    incident = await parse(raw, Incident)
    if incident is None:
        return
    facts = facts_of(incident.enterprise_id) or EnterpriseFacts(
        incident.enterprise_id, incident.enterprise_id
    )
    await emit_problem(incident_problem(facts, incident), submitted_at=incident.occurred_at.isoformat())
    done(raw, started)


@app.agent(workgroup_reports_topic)
async def detect_in_workgroup_reports(stream: Any) -> None:
    async for event in stream.events():
        await registry_ready.wait()  # inside the loop: see iterate_at_once
        await guarded(raw_message(event), handle_workgroup_report)


async def handle_workgroup_report(raw: RawMessage, started: float) -> None:
    report = await parse(raw, WorkgroupReport)
    if report is None:
        return
    submitted_at, period_end = report.submitted_at.isoformat(), report.period_end.isoformat()
    for open_problem in report.open_problems:
        facts = facts_of(open_problem.enterprise_id)
        name = facts.name if facts else open_problem.enterprise_id
        problem = Problem(
            CATEGORY_TYPES[open_problem.category], open_problem.enterprise_id, period_end, "low",
            f"{name}：{open_problem.text}（{report.work_group_id}报告）",
            {"stated": [open_problem.text], "category": open_problem.category,
             "reported_by": report.work_group_id, "rule": "a problem a work-group report states",
             "source": "CONTRACT.md §3"},
            [report.report_id],
        )  # fmt: skip
        await emit_problem(problem, submitted_at=submitted_at)
    await emit_period(raw, "work_group", report.work_group_id, report.report_id, period_end, submitted_at)
    done(raw, started)


# ------------------------------------------------------------------ reporting: overdue and completeness


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
            state = reporting.state_from_parts(dict(reporting_state.items()))
            reporting.expect_sources(state, sources, now=started_at)
            save_reporting(state, None)
        try:
            seen = json.loads(raw.value or b"")
            tick = bool(seen.get("tick"))
            if not tick:
                week = reporting.observe(
                    state, seen, on_time_days=on_time_days, days_after=days_after.value,
                    now=time.time(), lateness_days=lateness, idle_seconds=settings.idle_source_seconds,
                    today=datetime.now(UTC).date().isoformat(),
                )  # fmt: skip
                weeks.add(week)
        except Exception as error:  # one bad record never stops the reporting agent
            await reject(raw, "invalid", f"not a period event: {error!r}"[:2000])
            continue
        # Written before the offset is committed, so that a restart loses nothing; only the parts
        # this event changed (the clocks and its week), never the whole state.
        save_reporting(state, [] if tick else [week], flagged=False)
        if tick or time.monotonic() - last_check >= CHECK_EVERY or stream_is_quiet(raw):
            last_check = time.monotonic()
            await check_reporting(state, weeks, days_after, lateness)
            weeks = set()
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


def save_reporting(state: dict[str, Any], weeks: list[str] | None, *, flagged: bool = True) -> None:
    """Write the reporting state's parts to its table: the clocks, the given weeks (all when
    None) and the flags; drop the weeks the state has forgotten (and the one-key form)."""
    for key, value in reporting.state_parts(state, weeks, flagged=flagged).items():
        reporting_state[key] = value
    if weeks is None:
        kept = {reporting.WEEK_PREFIX + week for week in state["weeks"]}
        stale = [
            k
            for k in reporting_state
            if k == "state" or (k.startswith(reporting.WEEK_PREFIX) and k not in kept)
        ]
        for key in stale:
            del reporting_state[key]


CHECK_EVERY = 0.5


def stream_is_quiet(raw: RawMessage) -> bool:
    """True when this was the last message the topic had (nothing more to read right now)."""
    highwater = app.consumer.highwater(TP(raw.topic, raw.partition))
    return highwater is None or raw.offset + 1 >= highwater


async def check_reporting(state: dict[str, Any], weeks: set[str], days_after: Any, lateness: int) -> None:
    expected = reporting.expected_reporters(registry)
    for week in sorted(weeks):
        record = reporting.completeness(state, week, expected)
        record["computed_at"] = datetime.now(UTC).isoformat()
        await reporting_topic.send(key=week.encode(), value=jsonbytes.dumps(record))
    # Partitions gone quiet stop holding time back.
    reporting.advance(
        state, now=time.time(), lateness_days=lateness, idle_seconds=settings.idle_source_seconds,
        today=datetime.now(UTC).date().isoformat(),
    )  # fmt: skip
    names = {key: _name(key) for key in expected}
    missed = reporting.overdue(state, expected, days_after=days_after.value)
    for reporter, period_end in missed:
        problem = reporting.overdue_problem(
            reporter, period_end, names, state, days_after=days_after.value, source=days_after.source
        )
        await emit_problem(problem)
    before = len(state["weeks"])
    reporting.forget_old_weeks(state)
    # The watermark moved; the flags changed if a week was missed; forgotten weeks leave the table.
    save_reporting(state, None if len(state["weeks"]) < before else [], flagged=bool(missed))


def _name(reporter: str) -> str:
    kind, subject_id = reporter.split(":", 1)
    data = registry.get(kind, subject_id) or {}
    return str(data.get("name") or subject_id)


@app.timer(interval=settings.overdue_check_seconds, on_leader=True)
async def ask_for_overdue_check() -> None:
    """Registry changes (a new key enterprise) can make someone overdue without a new report."""
    if registry_ready.is_set():
        await periods_topic.send(key=b"periods", value=b'{"tick": true}')


# ------------------------------------------------------------------ registry, metrics, health


def preload_registry() -> None:
    """Read the registry topic to its end into the view, before the worker starts consuming."""
    from services.rules.route_test import load_registry

    load_registry(settings, registry)
    _count_registry(registry)
    if registry.count("enterprise"):
        registry_ready.set()  # the follower replays the topic too and keeps the view current


@app.task
async def keep_registry() -> None:
    await follow_registry(
        settings.kafka_bootstrap_servers,
        settings.registry_topic,
        registry,
        registry_ready,
        client_id=f"{settings.app_id}-registry",
        on_batch=_count_registry,
    )


def _count_registry(view: RegistryView) -> None:
    for entity_type in ("enterprise", "work_group", "group", "routing_rule"):
        REGISTRY_ENTITIES.labels(entity_type).set(view.count(entity_type))


@app.timer(interval=5.0)
async def measure() -> None:
    TABLE_KEYS.labels("enterprise-history").set(len(history))
    TABLE_KEYS.labels("enterprise-cases").set(len(cases))
    TABLE_KEYS.labels("reporting-state").set(len(reporting_state))
    inputs = {settings.reports_topic, settings.incidents_topic, settings.workgroup_reports_topic,
              settings.periods_topic}  # fmt: skip
    for tp in app.consumer.assignment():
        highwater = app.consumer.highwater(tp)
        if tp.topic not in inputs or highwater is None:
            continue
        processed = last_offsets.get((tp.topic, tp.partition), -1)
        CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(highwater - processed - 1, 0))


progress_watch = ProgressWatch(settings.stall_restart_seconds)
group_offsets = GroupOffsets(settings.kafka_bootstrap_servers, settings.app_id)


@app.timer(interval=15.0)
async def watch_progress() -> None:
    """Start over when assigned input partitions have work waiting and no commit for
    stall_restart_seconds (see services/rules/watchdog.py for why)."""
    if settings.stall_restart_seconds <= 0 or not registry_ready.is_set():
        return
    inputs = {settings.reports_topic, settings.incidents_topic, settings.workgroup_reports_topic,
              settings.periods_topic}  # fmt: skip
    assigned = sorted((tp.topic, tp.partition) for tp in app.consumer.assignment() if tp.topic in inputs)
    try:
        offsets = await to_thread.run_sync(group_offsets.read, assigned)
    except Exception as error:  # the broker away: no judgement this time
        log.info("progress watch: offsets unavailable (%r)", error)
        return
    stalled = progress_watch.observe(offsets, time.monotonic())
    if stalled:
        waiting = sum(offsets[p][1] - offsets[p][0] for p in stalled)
        named = ", ".join(f"{topic}:{number}" for topic, number in stalled)
        start_over(f"{waiting} messages waiting on {named} and no commit for "
                   f"{settings.stall_restart_seconds:.0f} s")  # fmt: skip


@app.page("/metrics")
async def metrics_page(web: Any, request: Any) -> Any:
    # aiohttp takes the charset separately from the content type.
    return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0] + "; version=0.0.4")


@app.page("/healthz")
async def health_page(web: Any, request: Any) -> Any:
    body = {
        "status": "ok" if registry_ready.is_set() else "starting",
        "service": "rules",
        "registry_loaded": registry_ready.is_set(),
        "enterprises_known": registry.count("enterprise"),
        "assigned_partitions": len(app.consumer.assignment()),
        "table_keys": {"enterprise-history": len(history), "reporting-state": len(reporting_state)},
    }
    return web.json(body, status=200 if registry_ready.is_set() else 503)


@app.page("/v1/thresholds")
async def thresholds_page(web: Any, request: Any) -> Any:
    """The rules file in force, every threshold with its source (the console draws them on charts)."""
    return web.json(thresholds.as_dict())
