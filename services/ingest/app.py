"""Ingest's FastAPI app and its wiring: HTTP routes, the Kafka producer, the registry
follower and the liaison.inbound.v1 consumer, all in one process.

Run: uvicorn --factory services.ingest.app:create_app --port 8001
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from liaison_common import db
from liaison_common.background import stop_tasks
from liaison_common.events import SUBMISSION_KINDS
from liaison_common.logs import configure_logging
from liaison_common.registry_follower import follow_registry
from liaison_common.registry_view import RegistryView
from liaison_common.web import ANY_REQUEST, install_common
from services.ingest.claims import DuplicateStore
from services.ingest.config import Settings
from services.ingest.exceptions import BrokerUnavailable, RegistryNotReady
from services.ingest.kafka import Producer, consume_inbound
from services.ingest.metrics import REGISTRY_ENTITIES
from services.ingest.routes import install_routes
from services.ingest.service import Pipeline


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()  # read from the environment
    producer = Producer(settings)
    pipeline = Pipeline(
        settings=settings,
        producer=producer,
        registry=RegistryView(),
        registry_ready=asyncio.Event(),
        store=DuplicateStore(settings.duplicate_memory_ids),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db.connect(settings.mongodb_uri)
        await to_thread.run_sync(pipeline.store.load)
        # Events created outside the running loop must belong to it.
        pipeline.registry_ready = asyncio.Event()
        follower = follow_registry(
            settings.kafka_bootstrap_servers,
            settings.registry_topic,
            pipeline.registry,
            pipeline.registry_ready,
            client_id="liaison-ingest-registry",
            on_batch=_count_registry,
        )
        tasks = [asyncio.create_task(follower)]
        if settings.inbound_enabled:
            tasks.append(asyncio.create_task(consume_inbound(settings, pipeline, producer)))
        try:
            yield
        finally:
            await stop_tasks(tasks)
            await producer.stop()
            db.disconnect()

    app = FastAPI(
        title="Liaison ingest",
        version="1",
        description="Enterprise reports, major incidents and work-group reports, validated and written "
        "to Kafka. 202 means Kafka has the event.",
        lifespan=lifespan,
        responses=ANY_REQUEST,
    )
    app.state.settings = settings
    app.state.pipeline = pipeline
    install_common(app, service="ingest", max_body_bytes=settings.max_body_bytes, guard_text=False)

    @app.exception_handler(BrokerUnavailable)
    async def broker_unavailable(request: Request, exc: BrokerUnavailable) -> JSONResponse:
        return JSONResponse(
            {"detail": f"Kafka is unavailable, nothing was accepted; retry: {exc}"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(RegistryNotReady)
    async def registry_not_ready(request: Request, exc: RegistryNotReady) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "2"})

    install_routes(app)
    _add_event_schemas_to_openapi(app)
    configure_logging()
    return app


def _count_registry(view: RegistryView) -> None:
    for entity_type in ("enterprise", "work_group", "group"):
        REGISTRY_ENTITIES.labels(entity_type).set(view.count(entity_type))


def _add_event_schemas_to_openapi(app: FastAPI) -> None:
    original = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = original()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for kind in SUBMISSION_KINDS.values():
                model_schema = kind.model.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, definition in model_schema.pop("$defs", {}).items():
                    components.setdefault(name, definition)
                components[kind.model.__name__] = model_schema
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
