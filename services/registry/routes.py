"""HTTP routes of the registry: parse, call service, answer. docs/contract.md §4."""

import secrets
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse

from liaison_common.events import INCIDENT_CATEGORIES
from liaison_common.routing import PROBLEM_TYPES
from liaison_common.tokens import ApiToken, Principal
from liaison_common.validation import field_error
from liaison_common.web import AdminPrincipal, CurrentPrincipal, UnprocessableError, answers
from liaison_common.webhooks import webhook_target_problem
from services.registry import schemas, service
from services.registry.exceptions import Forbidden
from services.registry.kinds import KINDS, Kind
from services.registry.outbox import OutboxPublisher


# The app's parts a route needs, as typed dependencies (app.py puts them on app.state).
async def _publisher(request: Request) -> OutboxPublisher | None:
    return cast(OutboxPublisher | None, request.app.state.publisher)


async def _allow_private_webhooks(request: Request) -> bool:
    return bool(request.app.state.settings.allow_private_webhooks)


PublisherDep = Annotated[OutboxPublisher | None, Depends(_publisher)]
AllowPrivateWebhooksDep = Annotated[bool, Depends(_allow_private_webhooks)]


def _published(publisher: OutboxPublisher | None) -> None:
    """Wake the outbox publisher: the change just stored goes to the topic now, not at its next poll."""
    if publisher is not None:
        publisher.wake()


# Filters that lists take besides limit and offset: query parameter -> document field.
LIST_FILTERS: dict[str, dict[str, str]] = {
    "enterprise": {
        "work_group_id": "work_group_ids",
        "is_key": "is_key",
        "is_sme": "is_sme",
        "region": "region",
    },
    "contact": {"enterprise_id": "enterprise_id"},
    "subscription": {"group_id": "group_id", "channel": "channel"},
    "unit": {"kind": "kind"},
    "matchmaking_event": {"group_id": "group_id"},
    "indicator_range": {"enterprise_id": "enterprise_id", "indicator": "indicator"},
}


# Entities not every token may read: subscriptions (webhook targets, e-mail addresses) and
# contacts (people's phones). Who may read one, and the filter that narrows a list to it.
GROUP_SUBJECTS = ("group", "work_group")


def _read_scope(kind: Kind, who: Principal) -> dict[str, Any]:
    """Extra list filters for this reader (403 when it may read none of this kind)."""
    if who.is_admin or kind.name not in ("subscription", "contact"):
        return {}
    if kind.name == "subscription" and who.subject_type in GROUP_SUBJECTS:
        return {"group_id": who.subject_id}
    if kind.name == "contact":
        if who.subject_type == "enterprise":
            return {"enterprise_id": who.subject_id}
        if who.subject_type in GROUP_SUBJECTS:
            return {}  # the officials who coordinate with the liaisons
    raise Forbidden(f"a token of {who.subject_type} '{who.subject_id}' may not read {kind.path}")


def _may_read(kind: Kind, who: Principal, data: dict[str, Any]) -> None:
    scope = _read_scope(kind, who)
    if any(data.get(field) != value for field, value in scope.items()):
        raise Forbidden(
            f"this {kind.name} belongs to another {'group' if kind.name == 'subscription' else 'enterprise'}"
        )


def _check_target(kind: Kind, data: dict[str, Any], *, allow_private: bool) -> None:
    """A webhook subscription's target must be a URL Liaison may call (422 naming target)."""
    if kind.name != "subscription":
        return
    target = data.get("target")
    if data.get("channel") == "webhook":
        problem = webhook_target_problem(target, allow_private=allow_private)
    elif data.get("channel") == "email" and target is not None:
        problem = None if "@" in target and not any(c.isspace() for c in target) else "not an e-mail address"
    else:
        problem = None
    if problem:
        raise UnprocessableError([field_error(["body", "target"], problem)])


def _filters(kind: Kind, request: Request) -> dict[str, Any]:
    allowed = LIST_FILTERS.get(kind.name, {})
    filters: dict[str, Any] = {}
    errors = []
    for name, value in request.query_params.items():
        if name in ("limit", "offset"):
            continue
        if name not in allowed:
            errors.append(
                field_error(["query", name], f"unknown filter; {kind.path} take: {sorted(allowed) or 'none'}")
            )
            continue
        if name.startswith("is_"):
            if value not in ("true", "false"):
                errors.append(field_error(["query", name], "must be true or false"))
                continue
            filters[allowed[name]] = value == "true"
        else:
            filters[allowed[name]] = value
    if errors:
        raise UnprocessableError(errors)
    return filters


def add_entity_routes(router: APIRouter, kind: Kind) -> None:
    """The five calls of one kind of entity: two reads (scoped by the caller's token) and three
    writes (the admin's, each published to liaison.registry.v1)."""
    add_entity_reads(router, kind)
    add_entity_writes(router, kind)


def add_entity_reads(router: APIRouter, kind: Kind) -> None:
    read_model, label = kind.read, kind.name.replace("_", " ")

    @router.get(
        f"/v1/{kind.path}",
        response_model=list[read_model],  # type: ignore[valid-type]
        summary=f"List {label}s",
        tags=[kind.path],
        responses=answers(401, 403, 503),
    )
    def list_entities(
        who: CurrentPrincipal,
        request: Request,
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=1_000_000),
    ) -> list[dict[str, Any]]:
        filters = _filters(kind, request)
        for field, value in _read_scope(kind, who).items():
            if filters.setdefault(field, value) != value:
                raise Forbidden(f"a token of '{who.subject_id}' lists only its own {kind.path}")
        docs = service.list_entities(kind, limit=limit, offset=offset, filters=filters)
        return [service.read(kind, doc) for doc in docs]

    @router.get(
        f"/v1/{kind.path}/{{entity_id}}",
        response_model=read_model,
        summary=f"One {label}",
        tags=[kind.path],
        responses=answers(401, 403, 404, 503),
    )
    def get_entity(entity_id: str, who: CurrentPrincipal) -> dict[str, Any]:
        data = service.read(kind, service.get(kind, entity_id))
        _may_read(kind, who, data)
        return data


def add_entity_writes(router: APIRouter, kind: Kind) -> None:
    create_model, update_model, read_model = kind.create, kind.update, kind.read
    label = kind.name.replace("_", " ")

    @router.post(
        f"/v1/{kind.path}",
        response_model=read_model,
        status_code=201,
        summary=f"Create a {label} (admin)",
        tags=[kind.path],
        responses=answers(400, 401, 403, 409, 503),
    )
    def create_entity(
        _: AdminPrincipal,
        body: create_model,  # type: ignore[valid-type]
        publisher: PublisherDep,
        allow_private: AllowPrivateWebhooksDep,
    ) -> dict[str, Any]:
        data = body.model_dump()  # type: ignore[attr-defined]
        _check_target(kind, data, allow_private=allow_private)
        if kind.name == "subscription" and data.get("channel") == "webhook" and not data.get("secret"):
            data["secret"] = secrets.token_urlsafe(32)  # one signing secret per subscription
        doc = service.create(kind, data)
        _published(publisher)
        return service.read(kind, doc)

    @router.patch(
        f"/v1/{kind.path}/{{entity_id}}",
        response_model=read_model,
        summary=f"Change a {label} (admin)",
        tags=[kind.path],
        responses=answers(400, 401, 403, 404, 503),
    )
    def update_entity(
        _: AdminPrincipal,
        entity_id: str,
        body: update_model,  # type: ignore[valid-type]
        publisher: PublisherDep,
        allow_private: AllowPrivateWebhooksDep,
    ) -> dict[str, Any]:
        changes = body.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
        # A field the entity must have cannot be set to null (found by the fault suite's fuzzing).
        required = {name for name, field in create_model.model_fields.items() if field.is_required()}
        cleared = [name for name, value in changes.items() if value is None and name in required]
        if cleared:
            raise UnprocessableError(
                [field_error(["body", name], "is required and cannot be null") for name in cleared]
            )
        if kind.name == "subscription" and ("target" in changes or "channel" in changes):
            current = service.read(kind, service.get(kind, entity_id))
            _check_target(kind, {**current, **changes}, allow_private=allow_private)
        doc = service.update(kind, entity_id, changes)
        _published(publisher)
        return service.read(kind, doc)

    @router.delete(
        f"/v1/{kind.path}/{{entity_id}}",
        status_code=204,
        summary=f"Delete a {label} (admin)",
        tags=[kind.path],
        responses=answers(401, 403, 404, 409, 503),
    )
    def delete_entity(entity_id: str, _: AdminPrincipal, publisher: PublisherDep) -> Response:
        service.delete(kind, entity_id)
        _published(publisher)
        return Response(status_code=204)


def _token_read(record: ApiToken) -> dict[str, Any]:
    return {
        "token_id": record.token_id,
        "subject_type": record.subject_type,
        "subject_id": record.subject_id,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "revoked_at": record.revoked_at,
        "description": record.description or "",
    }


router = APIRouter()
for kind in KINDS:
    add_entity_routes(router, kind)


@router.get(
    "/v1/routes/resolve",
    response_model=schemas.ResolveRead,
    tags=["routing"],
    responses=answers(401, 503),
)
def resolve_routes(
    _: CurrentPrincipal,
    type: str = Query(..., description="problem type, docs/contract.md §3"),
    enterprise_id: str | None = Query(None),
    work_group_id: str | None = Query(None),
    category: str | None = Query(
        None,
        description="a major incident's category (docs/contract.md §7: safety and environment add a group)",
    ),
) -> dict[str, Any]:
    errors = []
    if category is not None and category not in INCIDENT_CATEGORIES:
        errors.append(field_error(["query", "category"], f"one of {', '.join(INCIDENT_CATEGORIES)}"))
    if type not in PROBLEM_TYPES:
        errors.append(
            field_error(["query", "type"], f"unknown problem type; one of {', '.join(PROBLEM_TYPES)}")
        )
    if (enterprise_id is None) == (work_group_id is None):
        errors.append(
            field_error(["query", "enterprise_id"], "give exactly one of enterprise_id or work_group_id")
        )
    if errors:
        raise UnprocessableError(errors)
    routes = service.resolve(
        problem_type=type, enterprise_id=enterprise_id, work_group_id=work_group_id, category=category
    )
    return {
        "type": type,
        "enterprise_id": enterprise_id,
        "work_group_id": work_group_id,
        "routes": [route.as_dict() for route in routes],
    }


@router.post(
    "/v1/tokens",
    response_model=schemas.TokenIssued,
    status_code=201,
    tags=["tokens"],
    responses=answers(400, 401, 403, 503),
)
def issue_token(body: schemas.TokenCreate, _: AdminPrincipal) -> dict[str, Any]:
    token, record = service.issue_token(
        subject_type=body.subject_type,
        subject_id=body.subject_id,
        expires_in_days=body.expires_in_days,
        description=body.description,
    )
    return {**_token_read(record), "token": token}


@router.get(
    "/v1/tokens",
    response_model=list[schemas.TokenRead],
    tags=["tokens"],
    responses=answers(401, 403, 503),
)
def list_tokens(
    _: AdminPrincipal,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> list[dict[str, Any]]:
    return [_token_read(r) for r in ApiToken.objects.order_by("created_at").skip(offset).limit(limit)]


@router.delete(
    "/v1/tokens/{token_id}",
    response_model=schemas.TokenRead,
    tags=["tokens"],
    responses=answers(401, 403, 404, 503),
)
def revoke_token(token_id: str, _: AdminPrincipal) -> dict[str, Any]:
    return _token_read(service.revoke_token(token_id))


def install_routes(app: FastAPI) -> None:
    app.include_router(router)

    @app.get("/healthz", tags=["ops"], responses=answers(503))
    def healthz(publisher: PublisherDep) -> JSONResponse:
        body: dict[str, Any] = {"status": "ok", "service": "registry"}
        try:
            body["entities"] = service.count_entities()
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "database": str(exc)}, status_code=503)
        if publisher is not None:
            body["outbox"] = {"last_error": publisher.last_error}
        return JSONResponse(body)
