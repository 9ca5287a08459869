"""python -m services.rules worker -l info  — a rules worker (Faust's own command line)."""

import asyncio
import sys

import uvloop

# uvloop before anything makes a loop: Faust's own loop is then libuv's (about a tenth of the
# worker's time went to the standard loop's select and socket calls; docs/benchmarks.md).
asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

# The app, then every module that adds agents, timers and pages to it.
from services.rules import agents, regional_agent, reporting_agent  # noqa: E402, F401
from services.rules.app import app  # noqa: E402
from services.rules.operations import preload_registry  # noqa: E402

if __name__ == "__main__":
    if "worker" in sys.argv[1:]:
        # The registry is read before the worker joins its group: an agent that had to wait
        # for it at its first event lost the events fetched meanwhile after a restart with a
        # backlog (faust-streaming 0.15.3; found by the fault suite's kill -9).
        preload_registry()
    app.main()
