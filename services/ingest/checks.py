"""The pure steps of a submission, whichever way it came (HTTP or liaison.inbound.v1): decode,
validate, authorise, check against the registry, and describe a rejection (an Outcome). No I/O:
services/ingest/service.py (the Pipeline) calls them and adds the side effects."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from liaison_common.deadletter import RawMessage
from liaison_common.events import SUBMISSION_KINDS, Contract, SubmissionKind
from liaison_common.registry_view import RegistryView
from liaison_common.tokens import Principal
from liaison_common.validation import field_errors


@dataclass
class Outcome:
    """The answer for one submission: accepted, duplicate or rejected (with errors)."""

    status: str
    id: str | None = None
    reason: str | None = None  # rejection class, for metrics and the dead-letter topic
    detail: list[dict[str, Any]] | str | None = None
    http_status: int = 202
    replaces: str | None = None  # a correction: the report_id whose figures it replaces

    def answer(self) -> dict[str, Any]:
        if self.status == "rejected":
            # `reason` lets a client tell an item worth sending again (broker_unavailable: Kafka
            # did not take it) from one that is wrong; `detail` says what, for people.
            return {"id": self.id, "status": "rejected", "reason": self.reason, "detail": self.detail}
        if self.status == "correction":
            return {"id": self.id, "status": "correction", "replaces": self.replaces}
        return {"id": self.id, "status": self.status}


def rejected(
    reason: str, detail: list[dict[str, Any]] | str, *, http_status: int, id: str | None = None
) -> Outcome:
    return Outcome("rejected", id=id, reason=reason, detail=detail, http_status=http_status)


# ------------------------------------------------------------------ pure steps


def validate(kind: SubmissionKind, item: Any) -> Contract | Outcome:
    """The submission as its event model, or a rejection naming each field at fault."""
    if not isinstance(item, dict):
        return rejected(
            "invalid",
            [{"loc": ["body"], "msg": "expected a JSON object", "type": "type_error"}],
            http_status=422,
        )
    submitted_kind = item.get("kind", kind.kind)
    if submitted_kind != kind.kind:
        detail = [{"loc": ["body", "kind"], "msg": f"expected '{kind.kind}' here", "type": "value_error"}]
        return rejected("invalid", detail, http_status=422, id=_id_of(kind, item))
    try:
        return kind.model.model_validate(item)
    except ValidationError as error:
        return rejected("invalid", field_errors(error), http_status=422, id=_id_of(kind, item))


def _id_of(kind: SubmissionKind, item: dict[str, Any]) -> str | None:
    """The submitted id, to echo in the answer, when it is printable text of a sane length
    (a lone surrogate cannot be encoded in the JSON answer and made it a 500)."""
    value = item.get(kind.id_field)
    if not isinstance(value, str) or len(value) > 200:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


def same_id_again(kind: SubmissionKind, submission_id: str, *, owner: str, submitter: str) -> Outcome:
    """A repeat from the same submitter is a duplicate (200); from another, a conflict (409)."""
    if owner == submitter:
        return Outcome("duplicate", id=submission_id, http_status=200)
    detail = [
        {
            "loc": ["body", kind.id_field],
            "msg": f"{kind.id_field} '{submission_id}' is already used by another "
            f"{kind.subject_type.replace('_', ' ')}; ids are unique per submitter, choose another",
            "type": "conflict",
        }
    ]
    return rejected("conflict", detail, http_status=409, id=submission_id)


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


def parse_inbound(message: RawMessage) -> tuple[SubmissionKind, Any] | Outcome:
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
    except RecursionError:
        return rejected("not_json", "the value is nested too deeply to be a submission", http_status=422)
    if not isinstance(item, dict):
        return rejected(
            "invalid",
            [{"loc": ["body"], "msg": "expected a JSON object", "type": "type_error"}],
            http_status=422,
        )
    kind_name = item.get("kind")
    if kind_name not in SUBMISSION_KINDS:
        detail = [
            {"loc": ["body", "kind"], "msg": f"one of {', '.join(SUBMISSION_KINDS)}", "type": "value_error"}
        ]
        return rejected("unknown_kind", detail, http_status=422)
    return SUBMISSION_KINDS[kind_name], item


@dataclass(frozen=True)
class PeriodClaim:
    change: str  # new, same (this report again), correction, stale (an earlier submitted_at)
    replaces: str | None = None
    holder_submitted_at: datetime | None = None


def period_key(kind: SubmissionKind, event: Contract) -> str | None:
    """The subject's period, for the kinds that report one (enterprise and work-group reports)."""
    start, end = getattr(event, "period_start", None), getattr(event, "period_end", None)
    if start is None or end is None:
        return None
    return f"{kind.kind}:{getattr(event, kind.subject_field)}:{start.isoformat()}:{end.isoformat()}"


def stale_correction(kind: SubmissionKind, submission_id: str, claim: PeriodClaim) -> Outcome:
    detail = [
        {
            "loc": ["body", "submitted_at"],
            "msg": f"report '{claim.replaces}' for the same period was submitted at "
            f"{claim.holder_submitted_at.isoformat() if claim.holder_submitted_at else '?'}; a correction "
            "must be submitted later than the report it replaces",
            "type": "conflict",
        }
    ]
    return rejected("conflict", detail, http_status=409, id=submission_id)
