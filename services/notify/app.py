"""Notify's FastAPI app and its wiring: the HTTP API, the alerts consumer, the registry
follower, and the dispatcher that delivers notifications and escalates.

Run: uvicorn --factory services.notify.app:create_app --port 8003
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import httpx
from anyio import to_thread
from fastapi import FastAPI

from liaison_common import db
from liaison_common.background import stop_tasks
from liaison_common.heap import settle_after_startup
from liaison_common.logs import configure_logging
from liaison_common.registry_follower import follow_registry
from liaison_common.registry_view import RegistryView
from liaison_common.web import ANY_REQUEST, install_common
from services.notify import (
    alert_changes,
    alert_index,
    archive,
    channels,
    digests,
    documents,
    escalation,
    timers,
)
from services.notify.config import Settings
from services.notify.delivery import dispatch_due, resync_at_next_pass
from services.notify.documents import Alert
from services.notify.kafka import consume
from services.notify.live_updates import Broadcaster
from services.notify.metrics import ESCALATIONS, OPEN_ALERTS, OVERDUE_ALERTS, REGISTRY_ENTITIES
from services.notify.routes import install_routes

log = logging.getLogger(__name__)


async def settle_heap_once_loaded(settings: Settings) -> None:
    """Once the alert index is loaded, the bulk of what notify keeps is built: freeze it out of
    later full collections (liaison_common/heap.py)."""
    if settings.settle_heap:
        while not alert_index.view.loaded.is_set():  # a threading.Event, set by the follower
            await asyncio.sleep(1)
        settle_after_startup()


async def run_dispatcher(settings: Settings) -> None:
    """Deliver what is due and escalate what is overdue, forever."""
    resync_at_next_pass()
    loop = asyncio.get_running_loop()
    last_gauge, last_resync = 0.0, -1e9
    # The first archiving a minute after start (or sooner, if it runs more often than that).
    every = settings.archive_every_seconds
    last_archive = loop.time() - every + min(60.0, every)
    async with httpx.AsyncClient() as client:
        while True:
            try:
                await dispatch_due(client, settings)
                # Due escalations are commands for each alert's writer (alert_changes.py).
                resync = loop.time() - last_resync > timers.ESCALATION_RESYNC_SECONDS
                if resync:
                    last_resync = loop.time()
                find_due = partial(escalation.escalations_due, settings, resync=resync)
                due = await to_thread.run_sync(find_due)
                for command in due:
                    alert_changes.enqueue(command)
                    ESCALATIONS.inc()
                # Counted in memory (milliseconds); not counted until the index has loaded.
                if loop.time() - last_gauge > settings.open_alerts_count_seconds and _count_open_alerts():
                    last_gauge = loop.time()
                if loop.time() - last_archive > every:
                    last_archive = loop.time()
                    moved = await to_thread.run_sync(archive.archive_resolved, settings)
                    if moved:
                        log.info(
                            "archived %d alerts resolved over %s days ago",
                            moved,
                            settings.archive_after_days,
                        )
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database or a receiver may be away: try again shortly
                log.warning("dispatcher: %r", error)
            await asyncio.sleep(settings.poll_seconds)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()  # read from the environment
    view = RegistryView()
    broadcaster = Broadcaster()

    def secret_of(subscription_id: str) -> str | None:
        secret = (view.get("subscription", subscription_id) or {}).get("secret")
        return str(secret) if secret else None

    channels.subscription_secret = secret_of

    def on_alert(alert: Alert, outcome: str) -> None:
        if not broadcaster.listening:  # nobody streams: no need to put the alert into words
            return
        broadcaster.publish(
            {"event": "new" if outcome == "new" else "changed", "alert": documents.alert_dict(alert)}
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db.connect(settings.mongodb_uri)
        digests.forget_planned()  # what an earlier run in this process saw (another database, in tests)
        alert_index.view.clear()  # the same: loaded again from the topic
        bootstrap = settings.kafka_bootstrap_servers
        app.state.registry_ready = asyncio.Event()
        follower = follow_registry(
            settings.kafka_bootstrap_servers,
            settings.registry_topic,
            view,
            app.state.registry_ready,
            client_id="liaison-notify-registry",
            on_batch=_count_registry,
        )
        tasks = [
            asyncio.create_task(follower),
            asyncio.create_task(consume(settings, view, app.state.registry_ready, on_alert)),
            asyncio.create_task(run_dispatcher(settings)),
            asyncio.create_task(
                alert_changes.publish_forever(settings.kafka_bootstrap_servers, settings.alert_events_topic)
            ),
            asyncio.create_task(alert_index.follow(bootstrap, settings.alert_index_topic)),
            asyncio.create_task(settle_heap_once_loaded(settings)),
            asyncio.create_task(
                alert_changes.publish_forever(
                    bootstrap,
                    settings.alert_index_topic,
                    pending=alert_index.outbox,
                    encode=alert_index.encode,
                    client_id="liaison-notify-alert-index",
                )
            ),
        ]
        try:
            yield
        finally:
            await stop_tasks(tasks)
            await app.state.commands.stop()
            db.disconnect()

    app = FastAPI(
        title="Liaison notify",
        version="1",
        description="Alerts for the coordination and work groups: the inbox, acknowledgement, escalation, "
        "delivery by webhook and email, and weekly digests.",
        lifespan=lifespan,
        responses=ANY_REQUEST,
    )
    app.state.settings = settings
    app.state.broadcaster = broadcaster
    app.state.commands = alert_changes.Commands(settings.kafka_bootstrap_servers, settings.alert_events_topic)
    app.state.registry_ready = asyncio.Event()
    install_common(app, service="notify", max_body_bytes=settings.max_body_bytes)

    install_routes(app)
    configure_logging()
    return app


def _count_registry(view: RegistryView) -> None:
    for entity_type in ("enterprise", "group", "subscription"):
        REGISTRY_ENTITIES.labels(entity_type).set(view.count(entity_type))


def _count_open_alerts() -> bool:
    """Set the open-alerts gauges from the index in memory; False while it is still loading."""
    if not alert_index.view.loaded.is_set():
        return False
    counts, overdue = alert_index.view.open_counts()
    OPEN_ALERTS.clear()
    for (group_id, severity), count in counts.items():
        OPEN_ALERTS.labels(group_id, severity).set(count)
    OVERDUE_ALERTS.clear()
    for group_id, count in overdue.items():
        OVERDUE_ALERTS.labels(group_id).set(count)
    return True
