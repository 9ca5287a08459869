"""What ingest does with a submission, whichever way it came (HTTP or liaison.inbound.v1).

The pure steps (validate, authorise, check against the registry, describe a rejection)
have no I/O. `Pipeline` adds the side effects in an order that answers the truth: claim the
id (and a report's period) in the database, publish and wait for Kafka's acknowledgement, then
mark it published, or release the claim when Kafka did not take it (see DuplicateStore). A
409 therefore means "not published", and so does a 503.
"""

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from anyio import to_thread
from pydantic import ValidationError
from pymongo.errors import BulkWriteError, DuplicateKeyError

from liaison_common import jsonbytes
from liaison_common.deadletter import RawMessage
from liaison_common.events import SUBMISSION_KINDS, Contract, SubmissionKind
from liaison_common.registry_view import RegistryView
from liaison_common.tokens import Principal
from liaison_common.validation import field_errors
from services.ingest.config import Settings
from services.ingest.documents import AcceptedSubmission, ReportPeriod
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


# ------------------------------------------------------------------ the pipeline with I/O


class DuplicateStore:
    """The ids ingest has taken, and whose they are: the most recent ones in memory, all of them
    in a collection whose unique _id is the claim.

    An id is claimed in the database before it is published (docs/contract.md §6: a 409 means "not
    published"): two enterprises racing for one id, on one ingest or two, cannot both publish,
    because only one insert of the _id succeeds. The claim is released when Kafka does not take
    the event (503 still means "not published"), and marked published once Kafka has it. A claim
    left unpublished by a crashed instance is taken over by its own submitter's retry after
    STALE_CLAIM_SECONDS, so nothing is lost.

    Memory holds at most `limit` ids, the most recently published (INGEST_DUPLICATE_MEMORY_IDS),
    so that it does not grow with a year of data: a hit answers at once, a miss asks the claim.

    Ids are unique per submitter (docs/contract.md §6): the same id from the enterprise or work
    group that first used it is a duplicate; from anyone else it is a conflict, so that no
    submitter can make another's real report look like a repeat.
    """

    STALE_CLAIM_SECONDS = 60.0

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self._owners: dict[str, str] = {}  # in the order published: the oldest first
        self._lock = threading.Lock()  # claims run in worker threads

    def load(self) -> int:
        """Fill memory with the `limit` most recently accepted ids; return how many."""
        collection = AcceptedSubmission._get_collection()
        newest = collection.find({}, {"subject_id": 1}).sort("accepted_at", -1).limit(self.limit)
        self._owners = {doc["_id"]: doc.get("subject_id", "") for doc in reversed(list(newest))}
        return len(self._owners)

    def __len__(self) -> int:
        return len(self._owners)

    def owner(self, key: str) -> str | None:
        """The enterprise or work group that submitted this id first, if memory holds it."""
        return self._owners.get(key)

    def remember(self, key: str, subject_id: str) -> None:
        with self._lock:
            self._owners.setdefault(key, subject_id)
            while len(self._owners) > self.limit:
                del self._owners[next(iter(self._owners))]  # the oldest goes

    def record(self, accepted: list[dict[str, Any]]) -> dict[str, str]:
        """Claim ids in one insert; return the keys someone claimed first, each with its owner."""
        return {accepted[index]["_id"]: owner for index, owner in self.record_indexed(accepted).items()}

    def record_indexed(self, accepted: list[dict[str, Any]]) -> dict[int, str]:
        """Claim ids in one insert; return the positions of those someone claimed first (an
        earlier one of the same list included), each with its first submitter. A stale
        unpublished claim of the same submitter is taken over (not returned)."""
        if not accepted:
            return {}
        try:
            AcceptedSubmission._get_collection().insert_many(accepted, ordered=False)
        except BulkWriteError as error:
            errors = error.details["writeErrors"]
            if any(e["code"] != 11000 for e in errors):
                raise
            taken = sorted(e["index"] for e in errors)
        else:
            taken = []
        first: dict[int, str] = {}
        for index in taken:
            doc = accepted[index]
            stored = self._stored(doc["_id"])
            owner = "" if stored is None else str(stored.get("subject_id", ""))
            if stored is not None and owner == doc["subject_id"] and self._stale(stored):
                continue  # its own claim, never published (a crash between claim and publish)
            first[index] = owner
        return first

    def release(self, keys: list[str]) -> None:
        """Kafka did not take these: the ids are free again."""
        collection = AcceptedSubmission._get_collection()
        for key in keys:  # one by _id each (FerretDB scans for $in)
            collection.delete_one({"_id": key, "published": False})

    def published(self, docs: list[dict[str, Any]]) -> None:
        """Kafka has these: their claims say so, and memory holds them. One update by _id each
        (FerretDB 1.x scans for $in, and a bulk of upserts stalled it)."""
        collection = AcceptedSubmission._get_collection()
        for doc in docs:
            marked = {"published": True, "partition": doc["partition"], "offset": doc["offset"]}
            done = collection.update_one({"_id": doc["_id"]}, {"$set": marked})
            if done.matched_count == 0:  # released after a 503, acknowledged late: claim it again
                with contextlib.suppress(DuplicateKeyError):  # the retry's own claim: it has it
                    collection.insert_one({**doc, **marked, "accepted_at": datetime.now(UTC)})
            self.remember(doc["_id"], doc["subject_id"])

    def _stale(self, stored: dict[str, Any]) -> bool:
        if stored.get("published", True):
            return False
        claimed = stored.get("accepted_at")
        if not isinstance(claimed, datetime):
            return True
        age = datetime.now(UTC) - claimed.replace(tzinfo=claimed.tzinfo or UTC)
        return age.total_seconds() > self.STALE_CLAIM_SECONDS

    @staticmethod
    def _stored(key: str) -> dict[str, Any] | None:
        found = AcceptedSubmission._get_collection().find_one(
            {"_id": key}, {"subject_id": 1, "published": 1, "accepted_at": 1}
        )
        return None if found is None else dict(found)

    # ---- periods: a second report for the same subject and period is a correction (§7)

    @staticmethod
    def claim_period(key: str, report_id: str, submitted_at: datetime) -> "PeriodClaim":
        """Whose report holds this subject's period: claim it for this report, or replace an
        earlier one (a correction) when this one was submitted later."""
        periods = ReportPeriod._get_collection()
        for _ in range(5):  # a compare-and-set lost to a concurrent request: read again
            try:
                periods.insert_one({"_id": key, "report_id": report_id, "submitted_at": submitted_at})
                return PeriodClaim("new")
            except DuplicateKeyError:
                pass
            stored = periods.find_one({"_id": key})
            if stored is None:
                continue
            if stored["report_id"] == report_id:
                return PeriodClaim("same")
            earlier = stored["submitted_at"].replace(tzinfo=stored["submitted_at"].tzinfo or UTC)
            if submitted_at < earlier:  # the same time: the later arrival wins
                return PeriodClaim("stale", replaces=stored["report_id"], holder_submitted_at=earlier)
            changed = periods.update_one(
                {"_id": key, "report_id": stored["report_id"]},
                {"$set": {"report_id": report_id, "submitted_at": submitted_at}},
            )
            if changed.modified_count == 1:
                return PeriodClaim("correction", replaces=stored["report_id"], holder_submitted_at=earlier)
        raise RuntimeError(f"the period {key} changes under every attempt")

    @staticmethod
    def undo_period(key: str, report_id: str, claim: "PeriodClaim") -> None:
        """Kafka did not take the report: the period goes back to what it was."""
        periods = ReportPeriod._get_collection()
        if claim.change == "new":
            periods.delete_one({"_id": key, "report_id": report_id})
        elif claim.change == "correction" and claim.replaces is not None:
            periods.update_one(
                {"_id": key, "report_id": report_id},
                {"$set": {"report_id": claim.replaces, "submitted_at": claim.holder_submitted_at}},
            )


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


class GroupRecorder:
    """Records the acknowledged submissions of concurrent requests in one insert (a group
    commit): while one insert runs, the records of the requests that come meanwhile wait and go
    together in the next. A request alone waits for nothing; at a hundred single reports a
    second, the database sees a few inserts a second instead of a hundred."""

    def __init__(self, store: DuplicateStore) -> None:
        self.store = store
        self._waiting: list[tuple[list[dict[str, Any]], asyncio.Future[dict[str, str]]]] = []
        self._inserting = False
        self._task: asyncio.Task[None] | None = None  # the running inserts (a reference keeps it alive)

    async def record(self, accepted: list[dict[str, Any]]) -> dict[str, str]:
        """As DuplicateStore.record: the keys of `accepted` someone recorded first, with their owner."""
        answer: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
        self._waiting.append((accepted, answer))
        if not self._inserting:
            self._inserting = True
            self._task = asyncio.get_running_loop().create_task(self._insert_while_waiting())
        return await answer

    async def _insert_while_waiting(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                documents = [doc for accepted, _ in group for doc in accepted]
                try:
                    taken = await to_thread.run_sync(self.store.record_indexed, documents)
                except Exception as error:  # the database away: every request of the group answers 503
                    for _, answer in group:
                        if not answer.done():
                            answer.set_exception(error)
                    continue
                start = 0
                for accepted, answer in group:
                    mine = {
                        accepted[index - start]["_id"]: owner
                        for index, owner in taken.items()
                        if start <= index < start + len(accepted)
                    }
                    start += len(accepted)
                    if not answer.done():  # a request cancelled meanwhile needs no answer
                        answer.set_result(mine)
        finally:
            self._inserting = False


@dataclass(frozen=True)
class Prepared:
    """A submission that passed every check and is ready for Kafka."""

    index: int
    key: str
    id: str
    subject_id: str
    value: bytes
    period: str | None = None  # the subject's period (reports), for corrections
    submitted_at: datetime | None = None


class Publisher(Protocol):
    """What the pipeline needs of Kafka (services/ingest/kafka.py's Producer is the real one)."""

    async def publish_many(
        self,
        topic: str,
        messages: Sequence[tuple[bytes | None, bytes]],
        *,
        headers: Sequence[tuple[str, bytes]] = (),
        on_late: Callable[[int, int, int], None] | None = None,
    ) -> list[tuple[int, int] | BaseException]: ...


@dataclass
class Pipeline:
    """Validate → authorise → registry → duplicate? → claim the id and period → publish → mark
    published (or release the claims), for HTTP and Kafka alike."""

    settings: Settings
    producer: Publisher
    registry: RegistryView
    registry_ready: asyncio.Event
    store: DuplicateStore = field(default_factory=DuplicateStore)
    recorder: GroupRecorder = field(init=False)
    _late: set["asyncio.Task[Any]"] = field(default_factory=set)  # recording late acknowledgements
    _periods: dict[str, PeriodClaim] = field(default_factory=dict)  # claimed, not yet published

    def __post_init__(self) -> None:
        self.recorder = GroupRecorder(self.store)

    async def submit(self, kind: SubmissionKind, item: Any, principal: Principal, *, source: str) -> Outcome:
        return (await self.submit_many(kind, [item], principal, source=source))[0]

    async def submit_many(
        self, kind: SubmissionKind, items: list[Any], principal: Principal, *, source: str
    ) -> list[Outcome]:
        """Check every item, publish the good ones together (in order), record what Kafka acknowledged."""
        outcomes: list[Outcome | None] = [None] * len(items)
        ready: list[Prepared] = []
        owners_in_batch: dict[str, str] = {}
        for index, item in enumerate(items):
            checked = self._check(kind, item, principal)
            if isinstance(checked, Outcome):
                outcomes[index] = checked
                continue
            submission_id = getattr(checked, kind.id_field)
            subject_id = getattr(checked, kind.subject_field)
            key = f"{kind.kind}:{submission_id}"
            owner = self.store.owner(key) or owners_in_batch.get(key)
            if owner is not None:
                outcomes[index] = same_id_again(kind, submission_id, owner=owner, submitter=subject_id)
                continue
            owners_in_batch[key] = subject_id
            value = jsonbytes.dumps(checked.model_dump(mode="json"))
            submitted_at = getattr(checked, "submitted_at", None)
            ready.append(
                Prepared(
                    index, key, submission_id, subject_id, value, period_key(kind, checked), submitted_at
                )
            )
        if ready:
            ready = await self._claim(kind, ready, outcomes, source=source)
        if ready:
            await self._publish(kind, ready, outcomes, source=source)
        final = [outcome for outcome in outcomes if outcome is not None]
        for outcome in final:
            SUBMISSIONS.labels(kind.kind, source, outcome.status).inc()
            if outcome.status == "rejected":
                REJECTIONS.labels(source, outcome.reason or "invalid").inc()
        return final

    def _check(self, kind: SubmissionKind, item: Any, principal: Principal) -> Contract | Outcome:
        event = validate(kind, item)
        if isinstance(event, Outcome):
            return event
        refusal = authorise(principal, kind, event)
        if refusal is not None:
            return refusal
        if not self.registry_ready.is_set():
            raise RegistryNotReady("the registry has not been loaded from Kafka yet")
        unknown = check_registry(self.registry, kind, event)
        return unknown if unknown is not None else event

    async def _claim(
        self, kind: SubmissionKind, ready: list[Prepared], outcomes: list[Outcome | None], *, source: str
    ) -> list[Prepared]:
        """Claim each id, then each report's period, before anything is published: what another
        submitter holds is a 409, what this one sent before a duplicate, a later report for a
        period a correction; an earlier one for a period is a 409 naming submitted_at."""
        topic = self.settings.topic_for(kind.kind)
        claims = [
            {
                "_id": item.key,
                "kind": kind.kind,
                "subject_id": item.subject_id,
                "source": source,
                "accepted_at": datetime.now(UTC),
                "topic": topic,
                "published": False,
            }
            for item in ready
        ]
        taken = await self.recorder.record(claims)
        claimed = []
        for item in ready:
            if item.key in taken:
                outcomes[item.index] = same_id_again(
                    kind, item.id, owner=taken[item.key], submitter=item.subject_id
                )
            else:
                claimed.append(item)
        keep = []
        released = []
        for item in claimed:
            if item.period is None or item.submitted_at is None:
                keep.append(item)
                continue
            period = await to_thread.run_sync(
                self.store.claim_period, item.period, item.id, item.submitted_at.astimezone(UTC)
            )
            if period.change == "stale":
                outcomes[item.index] = stale_correction(kind, item.id, period)
                released.append(item.key)
                continue
            self._periods[item.key] = period
            keep.append(item)
        if released:
            await to_thread.run_sync(self.store.release, released)
        return keep

    async def _undo_claims(self, items: list[Prepared]) -> None:
        """Kafka did not take these: their ids and periods are free again (503: not published)."""
        await to_thread.run_sync(self.store.release, [item.key for item in items])
        for item in items:
            period = self._periods.pop(item.key, None)
            if period is not None and item.period is not None:
                await to_thread.run_sync(self.store.undo_period, item.period, item.id, period)

    async def _publish(
        self, kind: SubmissionKind, ready: list[Prepared], outcomes: list[Outcome | None], *, source: str
    ) -> None:
        topic = self.settings.topic_for(kind.kind)
        headers = [("liaison-source", source.encode()), ("liaison-kind", kind.kind.encode())]
        loop = asyncio.get_running_loop()

        def acknowledged_late(index: int, partition: int, offset: int) -> None:
            # Answered 503, published after all: claim it again as published, so that the retry
            # is a duplicate (if the retry came first, Kafka has two copies: the rules and notify
            # are idempotent by report id).
            item = ready[index]
            doc = {"_id": item.key, "subject_id": item.subject_id, "partition": partition, "offset": offset}
            log.info("%s was acknowledged after its 503; recorded", item.key)
            task = loop.create_task(to_thread.run_sync(self.store.published, [doc]))
            self._late.add(task)
            task.add_done_callback(self._late.discard)

        try:
            results = await self.producer.publish_many(
                topic,
                [(item.subject_id.encode(), item.value) for item in ready],
                headers=headers,
                on_late=acknowledged_late,
            )
        except BaseException:
            await self._undo_claims(ready)
            raise
        published = []
        failed = []
        for item, result in zip(ready, results, strict=True):
            if isinstance(result, BaseException):
                BROKER_ERRORS.inc()
                detail = f"Kafka did not acknowledge this item; nothing was accepted, retry it: {result!r}"
                outcomes[item.index] = rejected("broker_unavailable", detail, http_status=503, id=item.id)
                failed.append(item)
                continue
            partition, offset = result
            published.append(
                {"_id": item.key, "subject_id": item.subject_id, "partition": partition, "offset": offset}
            )
            period = self._periods.pop(item.key, None)
            if period is not None and period.change == "correction":
                outcomes[item.index] = Outcome(
                    "correction", id=item.id, http_status=202, replaces=period.replaces
                )
            else:
                outcomes[item.index] = Outcome("accepted", id=item.id, http_status=202)
        if failed:
            await self._undo_claims(failed)
        if not published:
            raise BrokerUnavailable("Kafka acknowledged none of the submissions")
        await to_thread.run_sync(self.store.published, published)
