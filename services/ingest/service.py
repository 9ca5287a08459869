"""What ingest does with a submission, whichever way it came (HTTP or liaison.inbound.v1).

The pure steps (validate, authorise, check against the registry, describe a rejection)
have no I/O. `Pipeline` adds the two side effects: the duplicate check in MongoDB and the
write to Kafka, in the order that loses nothing: claim the id, publish, wait for the
acknowledgement, then mark it accepted; a failed publish releases the claim.
"""

import asyncio
import base64
import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from anyio import to_thread
from mongoengine.errors import NotUniqueError
from pydantic import ValidationError

from liaison_common import jsonbytes
from liaison_common.events import SUBMISSION_KINDS, Contract, SubmissionKind
from liaison_common.registry_view import RegistryView
from liaison_common.tokens import Principal
from services.ingest.config import Settings
from services.ingest.documents import SubmissionRecord
from services.ingest.exceptions import BrokerUnavailable, RegistryNotReady
from services.ingest.metrics import BROKER_ERRORS, REJECTIONS, SUBMISSIONS

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ outcomes


@dataclass
class Outcome:
    """The answer for one submission: accepted, duplicate or rejected (with errors)."""

    status: str
    id: str | None = None
    reason: str | None = None  # rejection class, for metrics and the dead-letter topic
    detail: list[dict[str, Any]] | str | None = None
    http_status: int = 202

    def answer(self) -> dict[str, Any]:
        if self.status == "rejected":
            return {"id": self.id, "status": "rejected", "detail": self.detail}
        return {"id": self.id, "status": self.status}


def rejected(
    reason: str, detail: list[dict[str, Any]] | str, *, http_status: int, id: str | None = None
) -> Outcome:
    return Outcome("rejected", id=id, reason=reason, detail=detail, http_status=http_status)


def field_errors(error: ValidationError) -> list[dict[str, Any]]:
    """pydantic's errors, as FastAPI shows them: loc from the body, msg, type."""
    return [
        {"loc": ["body", *error_item["loc"]], "msg": error_item["msg"], "type": error_item["type"]}
        for error_item in error.errors(include_url=False, include_input=False, include_context=False)
    ]


# ------------------------------------------------------------------ pure steps


def validate(kind: SubmissionKind, item: Any) -> Contract | Outcome:
    """The submission as its event model, or a rejection naming each field at fault."""
    if not isinstance(item, dict):
        return rejected("invalid", [{"loc": ["body"], "msg": "expected a JSON object", "type": "type_error"}],
                        http_status=422)  # fmt: skip
    submitted_kind = item.get("kind", kind.kind)
    if submitted_kind != kind.kind:
        detail = [{"loc": ["body", "kind"], "msg": f"expected '{kind.kind}' here", "type": "value_error"}]
        return rejected("invalid", detail, http_status=422, id=_id_of(kind, item))
    try:
        return kind.model.model_validate(item)
    except ValidationError as error:
        return rejected("invalid", field_errors(error), http_status=422, id=_id_of(kind, item))


def _id_of(kind: SubmissionKind, item: dict[str, Any]) -> str | None:
    value = item.get(kind.id_field)
    return value if isinstance(value, str) else None


def authorise(principal: Principal, kind: SubmissionKind, event: Contract) -> Outcome | None:
    """An enterprise token submits only for its enterprise, a work-group token for its work group."""
    if principal.is_admin:
        return None
    subject_id = getattr(event, kind.subject_field)
    if principal.subject_type == kind.subject_type and principal.subject_id == subject_id:
        return None
    detail = (
        f"a token of {principal.subject_type} '{principal.subject_id}' may not submit "
        f"for {kind.subject_type.replace('_', ' ')} '{subject_id}' ({kind.subject_field})"
    )
    return rejected("forbidden", detail, http_status=403, id=getattr(event, kind.id_field))


def check_registry(view: RegistryView, kind: SubmissionKind, event: Contract) -> Outcome | None:
    """Every enterprise or work group the submission names must be in the registry."""
    errors = []
    subject_id = getattr(event, kind.subject_field)
    if not view.has(kind.subject_type, subject_id):
        errors.append(_unknown(["body", kind.subject_field], kind.subject_type, subject_id))
    for index, problem in enumerate(getattr(event, "open_problems", [])):
        if not view.has("enterprise", problem.enterprise_id):
            errors.append(
                _unknown(
                    ["body", "open_problems", index, "enterprise_id"], "enterprise", problem.enterprise_id
                )
            )
    if errors:
        return rejected("unknown_reference", errors, http_status=422, id=getattr(event, kind.id_field))
    return None


def _unknown(loc: list[Any], subject_type: str, subject_id: str) -> dict[str, Any]:
    label = subject_type.replace("_", " ")
    return {
        "loc": loc,
        "msg": f"unknown {label} '{subject_id}': the registry does not hold it",
        "type": "value_error",
    }


@dataclass(frozen=True)
class InboundMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def parse_inbound(message: InboundMessage) -> tuple[SubmissionKind, Any] | Outcome:
    """Decode a raw message from liaison.inbound.v1 down to (kind, object), or say why not."""
    if message.value is None:
        return rejected("empty", "the message has no value", http_status=422)
    try:
        text = message.value.decode("utf-8")
    except UnicodeDecodeError as error:
        return rejected("encoding", f"the value is not UTF-8: {error}", http_status=422)
    try:
        item = json.loads(text)
    except json.JSONDecodeError as error:
        return rejected("not_json", f"the value is not JSON: {error}", http_status=422)
    if not isinstance(item, dict):
        return rejected("invalid", [{"loc": ["body"], "msg": "expected a JSON object", "type": "type_error"}],
                        http_status=422)  # fmt: skip
    kind_name = item.get("kind")
    if kind_name not in SUBMISSION_KINDS:
        detail = [
            {"loc": ["body", "kind"], "msg": f"one of {', '.join(SUBMISSION_KINDS)}", "type": "value_error"}
        ]
        return rejected("unknown_kind", detail, http_status=422)
    return SUBMISSION_KINDS[kind_name], item


def dlq_record(message: InboundMessage, outcome: Outcome, *, now: datetime) -> dict[str, Any]:
    """What the dead-letter topic keeps: the original bytes whole, where they came from, and why."""
    value = message.value or b""
    record: dict[str, Any] = {
        "reason": outcome.reason,
        "detail": outcome.detail,
        "source": {"topic": message.topic, "partition": message.partition, "offset": message.offset},
        "original_key": message.key.decode("utf-8", "replace") if message.key is not None else None,
        "original_value_base64": base64.b64encode(value).decode("ascii"),
        "original_size": len(value),
        "original_sha256": hashlib.sha256(value).hexdigest(),
        "rejected_at": now.isoformat(),
        "rejected_by": "ingest",
    }
    return record


# ------------------------------------------------------------------ the pipeline with I/O


class DuplicateStore:
    """Claims submission ids in MongoDB (a unique _id), so each is accepted once, across restarts."""

    def __init__(self, stale_after: float):
        self.stale_after = timedelta(seconds=stale_after)

    def claim(self, key: str, kind: str, subject_id: str, source: str) -> str:
        """'new' (go ahead), 'duplicate' (already accepted) or 'in_flight' (being published)."""
        now = datetime.now(UTC)
        record = SubmissionRecord(
            key=key, kind=kind, subject_id=subject_id, status="pending", source=source, claimed_at=now
        )
        try:
            record.save(force_insert=True)
            return "new"
        except NotUniqueError:
            pass
        existing = SubmissionRecord.objects(key=key).first()
        if existing is None:  # released in between: try once more
            return self.claim(key, kind, subject_id, source)
        if existing.status == "accepted":
            return "duplicate"
        # A pending claim older than the publish timeout was left by a crash: take it over.
        stale_before = now - self.stale_after
        taken = SubmissionRecord.objects(key=key, status="pending", claimed_at__lt=stale_before).update(
            set__claimed_at=now, set__source=source
        )
        return "new" if taken else "in_flight"

    def confirm(self, key: str, topic: str, partition: int, offset: int) -> None:
        SubmissionRecord.objects(key=key).update(
            set__status="accepted",
            set__accepted_at=datetime.now(UTC),
            set__topic=topic,
            set__partition=partition,
            set__offset=offset,
        )

    def release(self, key: str) -> None:
        SubmissionRecord.objects(key=key, status="pending").delete()


@dataclass
class Pipeline:
    """Validate → authorise → registry → claim → publish → confirm, for HTTP and Kafka alike."""

    settings: Settings
    producer: Any  # services.ingest.kafka.Producer
    registry: RegistryView
    registry_ready: asyncio.Event
    store: DuplicateStore = field(init=False)

    def __post_init__(self) -> None:
        self.store = DuplicateStore(self.settings.stale_claim_seconds)

    async def submit(self, kind: SubmissionKind, item: Any, principal: Principal, *, source: str) -> Outcome:
        outcome = await self._submit(kind, item, principal, source=source)
        SUBMISSIONS.labels(kind.kind, source, outcome.status).inc()
        if outcome.status == "rejected":
            REJECTIONS.labels(source, outcome.reason or "invalid").inc()
        return outcome

    async def _submit(self, kind: SubmissionKind, item: Any, principal: Principal, *, source: str) -> Outcome:
        event = validate(kind, item)
        if isinstance(event, Outcome):
            return event
        refusal = authorise(principal, kind, event)
        if refusal is not None:
            return refusal
        if not self.registry_ready.is_set():
            raise RegistryNotReady("the registry has not been loaded from Kafka yet")
        unknown = check_registry(self.registry, kind, event)
        if unknown is not None:
            return unknown
        submission_id = getattr(event, kind.id_field)
        subject_id = getattr(event, kind.subject_field)
        key = f"{kind.kind}:{submission_id}"
        claim = await to_thread.run_sync(self.store.claim, key, kind.kind, subject_id, source)
        if claim == "duplicate":
            return Outcome("duplicate", id=submission_id, http_status=200)
        if claim == "in_flight":
            detail = f"{kind.id_field} '{submission_id}' is being accepted by another request; retry shortly"
            return rejected("in_flight", detail, http_status=409, id=submission_id)
        topic = self.settings.topic_for(kind.kind)
        try:
            partition, offset = await self.producer.publish(
                topic,
                key=subject_id.encode(),
                value=jsonbytes.dumps(event.model_dump(mode="json")),
                headers=[("liaison-source", source.encode()), ("liaison-kind", kind.kind.encode())],
            )
        except BrokerUnavailable:
            BROKER_ERRORS.inc()
            await to_thread.run_sync(self.store.release, key)
            raise
        await to_thread.run_sync(self.store.confirm, key, topic, partition, offset)
        return Outcome("accepted", id=submission_id, http_status=202)
