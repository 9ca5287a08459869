"""Garbage collection for a long-running service: full collections that skip what start-up built.

CPython's full collection (generation 2) walks every object it tracks. In a lived-in notify
that means an index of every alert, the registry and the framework: 147–243 ms each, every 10–35 s
under load, and every alert in flight waits that long (docs/benchmarks.md, "Pauses"). Once
start-up is done, `settle_after_startup` collects once and freezes the survivors (`gc.freeze`:
no later collection walks them again), and collects the young generation less often. Garbage
made later is collected as before; only the start-up heap, which lives as long as the process,
is left out. Notify does it only when NOTIFY_SETTLE_HEAP is true: after a year's load into a
running notify it held 257 MB with it, not 172–182.
"""

import gc
import logging
import time

log = logging.getLogger(__name__)

# New objects between two collections of the youngest generation (CPython's default is 700);
# the older generations keep CPython's ratios (10 and 10).
THRESHOLDS = (10_000, 10, 10)
_settled = [False]


def settle_after_startup() -> None:
    """Once a process: collect, freeze what survives, and make young collections rarer."""
    if _settled[0]:
        return
    _settled[0] = True
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    log.info(
        "heap settled: %d objects frozen out of later collections (%.0f ms)",
        gc.get_freeze_count(),
        (time.perf_counter() - started) * 1000,
    )
