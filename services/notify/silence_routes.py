"""Silences (docs/contract.md §4): a group quiets its own deliveries for a while, the admin any."""

from datetime import UTC, datetime
from typing import Any, cast

from anyio import to_thread
from fastapi import APIRouter, Query, Request

from liaison_common.validation import field_error
from liaison_common.web import CurrentPrincipal, UnprocessableError, answers
from services.notify import (
    access,
    silences,
)
from services.notify.bodies import SilenceCreate
from services.notify.config import Settings
from services.notify.documents import Silence
from services.notify.exceptions import Forbidden, NotFound, TooMany

silences_router = APIRouter(tags=["silences"])


@silences_router.post("/v1/silences", status_code=201, responses=answers(400, 401, 403, 429, 503))
async def create_silence(
    principal: CurrentPrincipal, body: SilenceCreate, request: Request
) -> dict[str, Any]:
    """A group silences its own deliveries (group_id is itself); the admin any."""
    matchers = body.matchers.model_dump(exclude_none=True)
    if not principal.is_admin:
        if principal.subject_type not in access.GROUP_SUBJECTS:
            raise Forbidden("only a group (for its own deliveries) or the admin may silence")
        if matchers.setdefault("group_id", principal.subject_id) != principal.subject_id:
            raise Forbidden(
                f"a token of '{principal.subject_id}' may silence only its own deliveries (matchers.group_id)"
            )
    if not matchers:
        raise UnprocessableError([field_error(["body", "matchers"], "name at least one matcher")])
    starts_at = body.starts_at or datetime.now(UTC)
    if body.ends_at <= starts_at:
        raise UnprocessableError([field_error(["body", "ends_at"], "ends_at must be after starts_at")])
    by = "admin" if principal.is_admin else principal.subject_id
    cap = cast(Settings, request.app.state.settings).max_silences_per_creator
    active = await to_thread.run_sync(silences.active)
    if sum(1 for s in active if s.get("created_by") == by) >= cap:
        raise TooMany(f"'{by}' has {cap} active silences, the most it may have; expire one first")
    return await to_thread.run_sync(
        lambda: silences.create(
            matchers=matchers,
            starts_at=starts_at,
            ends_at=body.ends_at,
            comment=body.comment,
            created_by=by,
        )
    )


@silences_router.get("/v1/silences", responses=answers(401, 503))
async def list_silences(
    principal: CurrentPrincipal,
    request: Request,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> list[dict[str, Any]]:
    """The silences the caller may see: a group its own, the admin all; newest first."""

    def query() -> list[dict[str, Any]]:
        found = Silence.objects.order_by("-created_at")
        if not principal.is_admin:
            found = found.filter(matchers__group_id=principal.subject_id)
        return [silences.silence_dict(s) for s in found.skip(offset).limit(limit)]

    return await to_thread.run_sync(query)


@silences_router.delete("/v1/silences/{silence_id}", responses=answers(401, 403, 404, 503))
async def expire_silence(principal: CurrentPrincipal, silence_id: str, request: Request) -> dict[str, Any]:
    """Expire the silence now (it stays listed, with its new end)."""

    def expire() -> dict[str, Any]:
        found = Silence.objects(silence_id=silence_id).first()
        if found is None:
            raise NotFound(f"no silence with id '{silence_id}'")
        if not principal.is_admin and (found.matchers or {}).get("group_id") != principal.subject_id:
            raise Forbidden(f"silence '{silence_id}' is not '{principal.subject_id}''s")
        expired = silences.expire(silence_id)
        assert expired is not None
        return expired

    return await to_thread.run_sync(expire)
