"""Around the agents: the registry view every worker keeps, its metrics and health pages, the
thresholds page, and the progress watch (watchdog.py)."""

import logging
import time
from typing import Any

from anyio import to_thread

from liaison_common.metrics import exposition
from liaison_common.registry_follower import follow_registry, read_registry
from liaison_common.registry_view import RegistryView
from services.rules.agents import urgent_lane
from services.rules.app import (
    INPUT_TOPICS,
    app,
    cases,
    history,
    last_offsets,
    registry,
    registry_ready,
    reporting_state,
    settings,
    thresholds,
)
from services.rules.metrics import CONSUMER_LAG, REGISTRY_ENTITIES, TABLE_KEYS
from services.rules.watchdog import GroupOffsets, ProgressWatch, start_over

log = logging.getLogger(__name__)


def preload_registry() -> None:
    """Read the registry topic to its end into the view, before the worker starts consuming."""
    read_registry(settings.kafka_bootstrap_servers, settings.registry_topic, registry)
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
    for tp in app.consumer.assignment():
        highwater = app.consumer.highwater(tp)
        if tp.topic not in INPUT_TOPICS or highwater is None:
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
    assigned = sorted(
        (tp.topic, tp.partition) for tp in app.consumer.assignment() if tp.topic in INPUT_TOPICS
    )
    try:
        offsets = await to_thread.run_sync(group_offsets.read, assigned)
    except Exception as error:  # the broker away: no judgement this time
        log.info("progress watch: offsets unavailable (%r)", error)
        return
    stalled = progress_watch.observe(offsets, time.monotonic())
    if stalled:
        waiting = sum(offsets[p][1] - offsets[p][0] for p in stalled)
        named = ", ".join(f"{topic}:{number}" for topic, number in stalled)
        start_over(
            f"{waiting} messages waiting on {named} and no commit for {settings.stall_restart_seconds:.0f} s"
        )


@app.page("/metrics")
async def metrics_page(web: Any, request: Any) -> Any:
    # aiohttp takes the charset separately from the content type.
    body, content_type = exposition()  # the services' common exposition (no `_created` series)
    return web.bytes(body, content_type=content_type.split(";")[0] + "; version=0.0.4")


@app.page("/healthz")
async def health_page(web: Any, request: Any) -> Any:
    body = {
        "status": "ok" if registry_ready.is_set() else "starting",
        "service": "rules",
        "registry_loaded": registry_ready.is_set(),
        "enterprises_known": registry.count("enterprise"),
        "assigned_partitions": len(app.consumer.assignment()),
        "table_keys": {"enterprise-history": len(history), "reporting-state": len(reporting_state)},
        "urgent_lane": {
            "assigned_partitions": len(urgent_lane.assigned),
            "incidents_handled": urgent_lane.handled,
        },
    }
    return web.json(body, status=200 if registry_ready.is_set() else 503)


@app.page("/v1/thresholds")
async def thresholds_page(web: Any, request: Any) -> Any:
    """The rules file in force, every threshold with its source (the console draws them on charts)."""
    return web.json(thresholds.as_dict())
