"""The registry's FastAPI app and its wiring.

Run: uvicorn --factory services.registry.app:create_app --port 8002
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from liaison_common import db
from liaison_common.logs import configure_logging
from liaison_common.web import ANY_REQUEST, install_common
from services.registry.config import Settings
from services.registry.guard import TopicGuard
from services.registry.outbox import OutboxPublisher
from services.registry.routes import install_routes


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()  # read from the environment

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db.connect(settings.mongodb_uri)
        publisher = OutboxPublisher(settings) if settings.publish_enabled else None
        guard = TopicGuard(settings) if settings.publish_enabled else None
        app.state.publisher = publisher
        if publisher is not None and guard is not None:
            publisher.start()
            guard.start()
        try:
            yield
        finally:
            if publisher is not None and guard is not None:
                publisher.stop()
                guard.stop()
            db.disconnect()

    app = FastAPI(
        title="Liaison registry",
        version="1",
        description="The organisation of 附件2 (coordination groups, work groups, key enterprises), "
        "routing rules and API tokens. Every change is published to liaison.registry.v1.",
        lifespan=lifespan,
        responses=ANY_REQUEST,
    )
    app.state.settings = settings
    app.state.publisher = None
    install_common(app, service="registry", max_body_bytes=settings.max_body_bytes)

    install_routes(app)
    configure_logging()
    return app
