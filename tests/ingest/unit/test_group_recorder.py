"""Ingest's group commit: concurrent requests share an insert, and each gets its own answer."""

import asyncio
import threading
from typing import Any

import pytest

from services.ingest.claims import GroupRecorder


class SlowStore:
    """Stands in for DuplicateStore.record_indexed: the first insert waits until released, so
    that the requests arriving meanwhile queue up; a key seen before (or earlier in the same
    insert) is taken by its first submitter."""

    def __init__(self) -> None:
        self.inserts: list[list[str]] = []
        self.owners: dict[str, str] = {}
        self.release = threading.Event()
        self.failing_insert = 0  # the n-th insert (from 1) fails; 0: none

    def record_indexed(self, accepted: list[dict[str, Any]]) -> dict[int, str]:
        if not self.inserts:
            self.release.wait(5)
        self.inserts.append([doc["_id"] for doc in accepted])
        if len(self.inserts) == self.failing_insert:
            raise ConnectionError("the database is away")
        taken = {}
        for index, doc in enumerate(accepted):
            if doc["_id"] in self.owners:
                taken[index] = self.owners[doc["_id"]]
            else:
                self.owners[doc["_id"]] = doc["subject_id"]
        return taken


def docs(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"_id": key, "subject_id": subject} for key, subject in pairs]


def test_requests_arriving_during_an_insert_share_the_next_one() -> None:
    store = SlowStore()

    async def scenario() -> list[dict[str, str]]:
        recorder = GroupRecorder(store)  # type: ignore[arg-type]
        first = asyncio.create_task(recorder.record(docs(("r:1", "chalco"))))
        await asyncio.sleep(0.05)  # the first insert is running (and held)
        others = [asyncio.create_task(recorder.record(docs((f"r:{i}", "chalco")))) for i in (2, 3, 4)]
        await asyncio.sleep(0.05)
        store.release.set()
        return await asyncio.gather(first, *others)

    answers = asyncio.run(scenario())
    assert store.inserts == [["r:1"], ["r:2", "r:3", "r:4"]]  # one insert for the three that waited
    assert answers == [{}, {}, {}, {}]  # every one of them recorded first


def test_each_request_hears_only_of_its_own_ids_taken_by_someone_else() -> None:
    store = SlowStore()
    store.owners["r:old"] = "western-mining"

    async def scenario() -> list[dict[str, str]]:
        recorder = GroupRecorder(store)  # type: ignore[arg-type]
        holder = asyncio.create_task(recorder.record(docs(("r:0", "chalco"))))
        await asyncio.sleep(0.05)
        a = asyncio.create_task(recorder.record(docs(("r:same", "chalco"), ("r:a", "chalco"))))
        b = asyncio.create_task(recorder.record(docs(("r:old", "chalco"), ("r:same", "salt-lake"))))
        await asyncio.sleep(0.05)
        store.release.set()
        return await asyncio.gather(holder, a, b)

    holder, a, b = asyncio.run(scenario())
    assert holder == {}
    assert a == {}  # its r:same went in first, in the same insert
    assert b == {"r:old": "western-mining", "r:same": "chalco"}


def test_a_failed_insert_fails_every_request_of_its_group_and_the_next_group_goes_on() -> None:
    store = SlowStore()
    store.failing_insert = 2

    async def scenario() -> tuple[list[Any], dict[str, str]]:
        recorder = GroupRecorder(store)  # type: ignore[arg-type]
        holder = asyncio.create_task(recorder.record(docs(("r:0", "chalco"))))
        await asyncio.sleep(0.05)
        group = [asyncio.create_task(recorder.record(docs((f"r:{i}", "chalco")))) for i in (1, 2)]
        await asyncio.sleep(0.05)
        store.release.set()
        answers = await asyncio.gather(holder, *group, return_exceptions=True)
        later = await recorder.record(docs(("r:3", "chalco")))
        return answers, later

    answers, later = asyncio.run(scenario())
    assert answers[0] == {}
    assert [type(answer) for answer in answers[1:]] == [ConnectionError, ConnectionError]
    assert later == {}  # the recorder goes on after a failed insert
    assert store.inserts == [["r:0"], ["r:1", "r:2"], ["r:3"]]


@pytest.mark.parametrize("count", [1, 5])
def test_a_request_alone_is_inserted_at_once(count: int) -> None:
    store = SlowStore()
    store.release.set()

    async def scenario() -> None:
        recorder = GroupRecorder(store)  # type: ignore[arg-type]
        for i in range(count):
            assert await recorder.record(docs((f"r:{i}", "chalco"))) == {}

    asyncio.run(scenario())
    assert store.inserts == [[f"r:{i}"] for i in range(count)]
