"""What ingest does with a submission, whichever way it came (HTTP or liaison.inbound.v1).

The pure steps (validate, authorise, check against the registry, describe a rejection)
have no I/O. `Pipeline` adds the side effects in an order that answers the truth: claim the
id (and a report's period) in the database, publish and wait for Kafka's acknowledgement, then
mark it published, or release the claim when Kafka did not take it (see DuplicateStore). A
409 therefore means "not published", and so does a 503.
"""

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from anyio import to_thread

from liaison_common import jsonbytes
from liaison_common.events import Contract, SubmissionKind
from liaison_common.registry_view import RegistryView
from liaison_common.tokens import Principal
from services.ingest.checks import (
    Outcome,
    PeriodClaim,
    authorise,
    check_registry,
    period_key,
    rejected,
    same_id_again,
    stale_correction,
    validate,
)
from services.ingest.claims import DuplicateStore, GroupRecorder
from services.ingest.config import Settings
from services.ingest.exceptions import BrokerUnavailable, RegistryNotReady
from services.ingest.metrics import BROKER_ERRORS, REJECTIONS, SUBMISSIONS

log = logging.getLogger(__name__)


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
        keep = [item for item in claimed if item.period is None or item.submitted_at is None]
        with_period = [
            (item, (item.period, item.id, item.submitted_at.astimezone(UTC)))
            for item in claimed
            if item.period is not None and item.submitted_at is not None
        ]
        # The batch's periods in one call (one insert, one read), in the batch's order.
        periods = await to_thread.run_sync(self.store.claim_periods, [wanted for _, wanted in with_period])
        released = []
        for (item, _), period in zip(with_period, periods, strict=True):
            if period.change == "stale":
                outcomes[item.index] = stale_correction(kind, item.id, period)
                released.append(item.key)
                continue
            self._periods[item.key] = period
            keep.append(item)
        if released:
            await to_thread.run_sync(self.store.release, released)
        return sorted(keep, key=lambda item: item.index)  # published in the order submitted

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
            task = loop.create_task(to_thread.run_sync(self.store.published_late, doc))
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
