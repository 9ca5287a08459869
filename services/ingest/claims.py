"""Who took which id and period: the claims in the database (DuplicateStore), and the group
commit that records the acknowledged submissions of concurrent requests in one insert
(GroupRecorder). The claim comes before the publish, so that a 409 means "not published"."""

import asyncio
import contextlib
import threading
from datetime import UTC, datetime
from typing import Any

from anyio import to_thread
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.ingest.checks import PeriodClaim
from services.ingest.documents import AcceptedSubmission, PublishedSubmission, ReportPeriod

DUPLICATE_KEY = 11000  # the server's code for an insert of an _id that is there already


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
            if any(e["code"] != DUPLICATE_KEY for e in errors):
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
        """Kafka did not take these: the ids are free again (unless Kafka took one after all)."""
        collection = AcceptedSubmission._get_collection()
        marks = PublishedSubmission._get_collection()
        for key in keys:  # one by _id each (FerretDB scans for $in)
            if marks.find_one({"_id": key}, {"_id": 1}) is None:
                collection.delete_one({"_id": key, "published": False})

    def published(self, docs: list[dict[str, Any]]) -> None:
        """Kafka has these: one insert of their marks (ingest_published), and memory holds them.

        A mark is a document of its own, not an update of the claim: FerretDB 1.x updates one
        document per round trip (a bulk_write of 500 updates stopped it answering anyone at all,
        measured 2026-12-06), and marking a batch of 500 claims took 1.2-1.6 s of its 1.6-2 s
        (make bench-scale: 210 reports/s in batches of 500)."""
        if not docs:
            return
        marks = [
            {
                "_id": doc["_id"],
                "partition": doc["partition"],
                "offset": doc["offset"],
                "at": datetime.now(UTC),
            }
            for doc in docs
        ]
        try:
            PublishedSubmission._get_collection().insert_many(marks, ordered=False)
        except BulkWriteError as error:  # marked before: a late acknowledgement recorded twice
            if any(e["code"] != DUPLICATE_KEY for e in error.details["writeErrors"]):
                raise
        for doc in docs:
            self.remember(doc["_id"], doc["subject_id"])

    def published_late(self, doc: dict[str, Any]) -> None:
        """Answered 503, acknowledged after all: its claim may have been released meanwhile, so
        claim it again (a retry that came first has it already), then mark it."""
        with contextlib.suppress(DuplicateKeyError):
            AcceptedSubmission._get_collection().insert_one(
                {
                    "_id": doc["_id"],
                    "kind": doc["_id"].split(":", 1)[0],
                    "subject_id": doc["subject_id"],
                    "accepted_at": datetime.now(UTC),
                    "published": True,
                    "partition": doc["partition"],
                    "offset": doc["offset"],
                }
            )
        self.published([doc])

    def _stale(self, stored: dict[str, Any]) -> bool:
        if stored.get("published", True):  # claims from before the marks, and late ones
            return False
        if PublishedSubmission._get_collection().find_one({"_id": stored["_id"]}, {"_id": 1}) is not None:
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

    @classmethod
    def claim_periods(cls, wanted: list[tuple[str, str, datetime]]) -> list["PeriodClaim"]:
        """claim_period for each (key, report_id, submitted_at) of a batch, in order, with one
        insert and one read for the whole batch: a batch of 500 reports took 500 of each, one
        after the other (make bench-scale: 210 reports/s, against 2,613 before periods were
        claimed). What one item changes, the items after it see, as one at a time would."""
        if not wanted:
            return []
        periods = ReportPeriod._get_collection()
        documents = [
            {"_id": key, "report_id": report_id, "submitted_at": at} for key, report_id, at in wanted
        ]
        refused: set[int] = set()
        try:
            periods.insert_many(documents, ordered=False)
        except BulkWriteError as error:
            for failure in error.details.get("writeErrors", []):
                if failure.get("code") != DUPLICATE_KEY:
                    raise
                refused.add(failure["index"])
        claims: list[PeriodClaim] = [PeriodClaim("new")] * len(wanted)
        if not refused:
            return claims
        # Each refused key as stored now, then as this batch leaves it, item by item.
        keys = sorted({wanted[index][0] for index in refused})
        # One find_one by _id each: FerretDB 1.x reads the whole table for $in. Few are refused
        # (a correction, a report sent again), so few are read.
        stored = [periods.find_one({"_id": key}) for key in keys]
        holders = {doc["_id"]: (doc["report_id"], doc["submitted_at"]) for doc in stored if doc is not None}
        for index in sorted(refused):
            key, report_id, submitted_at = wanted[index]
            holder = holders.get(key)
            if holder is None:  # gone since (an undone claim): the single path settles it
                claims[index] = cls.claim_period(key, report_id, submitted_at)
            elif holder[0] == report_id:
                claims[index] = PeriodClaim("same")
            else:
                earlier = holder[1].replace(tzinfo=holder[1].tzinfo or UTC)
                if submitted_at < earlier:
                    claims[index] = PeriodClaim("stale", replaces=holder[0], holder_submitted_at=earlier)
                    continue
                changed = periods.update_one(
                    {"_id": key, "report_id": holder[0]},
                    {"$set": {"report_id": report_id, "submitted_at": submitted_at}},
                )
                if changed.modified_count == 1:
                    claims[index] = PeriodClaim("correction", replaces=holder[0], holder_submitted_at=earlier)
                else:  # changed under us by another request: read again, one at a time
                    claims[index] = cls.claim_period(key, report_id, submitted_at)
            if claims[index].change in ("new", "correction"):
                holders[key] = (report_id, submitted_at)
        return claims

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
