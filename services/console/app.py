"""The console's FastAPI app and its wiring: pages, the reports consumer, the upstream clients.

Run: uvicorn --factory services.console.app:create_app --port 8005
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from liaison_common import db
from liaison_common.background import stop_tasks
from liaison_common.logs import configure_logging
from liaison_common.web import install_common
from services.console.config import Settings
from services.console.kafka import consume_reports
from services.console.routes import SameOrigin, install_routes
from services.console.service import Sessions, Upstream


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()  # read from the environment

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db.connect(settings.mongodb_uri)
        client = httpx.AsyncClient(timeout=settings.upstream_timeout_seconds)
        app.state.upstreams = {
            "notify": Upstream("notify", settings.notify_url, client),
            "registry": Upstream("registry", settings.registry_url, client),
            "rules": Upstream("rules", settings.rules_url, client),
            "ingest": Upstream("ingest", settings.ingest_url, client),
        }
        tasks = [asyncio.create_task(consume_reports(settings))]
        try:
            yield
        finally:
            await stop_tasks(tasks)
            await client.aclose()
            db.disconnect()

    app = FastAPI(
        title="Liaison console",
        version="1",
        description="Pages for the coordination and work groups: the inbox, trends, the organisation.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.sessions = Sessions(settings.session_hours * 3600)
    install_common(app, service="console", max_body_bytes=settings.max_body_bytes)
    app.add_middleware(SameOrigin)
    install_routes(app)
    configure_logging()
    return app
