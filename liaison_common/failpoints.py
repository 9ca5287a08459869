"""Failpoints: a process killed (SIGKILL) at a named place, for the fault suite only.

A crash between two writes is the case that matters and the hardest to produce by timing; a
named failpoint produces it every time (as FoundationDB's and TiKV's do). Set
`LIAISON_FAILPOINT=<name>` in a process's environment and it kills itself the first time it
reaches that place; unset (always, outside the fault suite), a failpoint is one dictionary read.
"""

import os
import signal

ARMED = os.environ.get("LIAISON_FAILPOINT", "")


def failpoint(name: str) -> None:
    """Die here, as a crash would (no cleanup, no last commit), if this failpoint is armed."""
    if ARMED and name == ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
