"""HTTP routes of ingest (docs/contract.md §4): one object, or a JSON array for a batch."""

import json
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from liaison_common.events import SUBMISSION_KINDS, SubmissionKind
from liaison_common.tokens import Principal
from liaison_common.validation import field_error
from liaison_common.web import CurrentPrincipal, ErrorRead, answers
from services.ingest.config import Settings
from services.ingest.service import Pipeline

PATHS = {
    "enterprise_report": "/v1/reports",
    "incident": "/v1/incidents",
    "workgroup_report": "/v1/workgroup-reports",
}


def _request_body_doc(kind: SubmissionKind) -> dict[str, Any]:
    """OpenAPI for a body that is one event or an array of them (parsed by hand, item by item)."""
    ref = {"$ref": f"#/components/schemas/{kind.model.__name__}"}
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"anyOf": [ref, {"type": "array", "items": ref}]}}},
        }
    }


# The app's parts a route needs, as typed dependencies (app.py puts them on app.state).
async def _settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


async def _pipeline(request: Request) -> Pipeline:
    return cast(Pipeline, request.app.state.pipeline)


SettingsDep = Annotated[Settings, Depends(_settings)]
PipelineDep = Annotated[Pipeline, Depends(_pipeline)]


def add_submission_route(router: APIRouter, kind: SubmissionKind) -> None:
    async def submit(
        principal: CurrentPrincipal, request: Request, settings: SettingsDep, pipeline: PipelineDep
    ) -> JSONResponse:
        body = await _json_body(request)
        if isinstance(body, list):
            return await _submit_batch(pipeline, kind, body, principal, settings.max_batch_items)
        outcome = await pipeline.submit(kind, body, principal, source="http")
        if outcome.status == "rejected":
            return JSONResponse({"detail": outcome.detail}, status_code=outcome.http_status)
        return JSONResponse(outcome.answer(), status_code=outcome.http_status)

    router.add_api_route(
        PATHS[kind.kind],
        submit,
        methods=["POST"],
        status_code=202,
        summary=f"Submit {kind.kind.replace('_', ' ')}s: one object, or an array of up to 1,000",
        tags=["submissions"],
        openapi_extra=_request_body_doc(kind),
        responses={
            200: {"description": "a duplicate: this id was accepted before"},
            207: {"description": "a batch with duplicates or rejections: one answer per item, in order"},
            **answers(401, 403, 409, 503),
            403: {
                "model": ErrorRead,
                "description": "the token may not submit for this enterprise or work group",
            },
            409: {
                "model": ErrorRead,
                "description": "another submitter already used this id (docs/contract.md §6)",
            },
            503: {"description": "Kafka or the registry is not available; retry after Retry-After"},
        },
    )


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        detail = [field_error(["body"], f"the body is not valid JSON: {error}", "json_invalid")]
        raise HTTPException(422, detail=detail) from None
    except RecursionError:
        detail = [field_error(["body"], "the body is nested too deeply to be a submission", "json_invalid")]
        raise HTTPException(422, detail=detail) from None


async def _submit_batch(
    pipeline: Pipeline, kind: SubmissionKind, items: list[Any], principal: Principal, max_items: int
) -> JSONResponse:
    if not items:
        raise HTTPException(422, detail=[field_error(["body"], "the batch is empty")])
    if len(items) > max_items:
        raise HTTPException(422, detail=[field_error(["body"], f"at most {max_items} items per batch")])
    outcomes = await pipeline.submit_many(kind, items, principal, source="http")
    answers = [{"index": i, **outcome.answer()} for i, outcome in enumerate(outcomes)]
    all_accepted = all(outcome.status in ("accepted", "correction") for outcome in outcomes)
    return JSONResponse(answers, status_code=202 if all_accepted else 207)


router = APIRouter()
for _kind in SUBMISSION_KINDS.values():
    add_submission_route(router, _kind)


def install_routes(app: FastAPI) -> None:
    app.include_router(router)

    @app.get("/healthz", tags=["ops"], responses=answers(503))
    async def healthz(pipeline: PipelineDep) -> JSONResponse:
        ready = pipeline.registry_ready.is_set()
        body = {
            "status": "ok" if ready else "starting",
            "service": "ingest",
            "registry_loaded": ready,
            "enterprises_known": pipeline.registry.count("enterprise"),
        }
        return JSONResponse(body, status_code=200 if ready else 503)
