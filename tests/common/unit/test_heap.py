"""Notify freezes what start-up built out of later full collections, once a process."""

import gc

from liaison_common import heap


def test_settling_freezes_the_start_up_heap_once_and_makes_young_collections_rarer(monkeypatch) -> None:
    thresholds = gc.get_threshold()
    monkeypatch.setattr(heap, "_settled", [False])
    try:
        heap.settle_after_startup()
        frozen = gc.get_freeze_count()
        assert frozen > 1000  # at least this test process's modules and their objects
        assert gc.get_threshold() == heap.THRESHOLDS
        kept_alive = [[n] for n in range(10)]  # tracked, made after start-up: a second call freezes nothing
        heap.settle_after_startup()
        assert gc.get_freeze_count() == frozen
        assert kept_alive
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
