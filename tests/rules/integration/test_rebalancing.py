"""Rules workers joining mid-stream on 12 partitions, on the real broker: no case is lost, split
in two or counted twice (issue 15; docs/scaling.md).

This runs `bench/bench_rebalance.py`'s rebalancing part, shortened: 3,000 reports at 100/s,
worker B joining at 10 %, C at 25 %, two notify instances. The script checks every case and
occurrence on the alerts topic and in notify's database against what the input implies, and
exits 1 on anything missing or wrong. The defect it guards against (services/rules/consumer.py)
depends on timing, so without the fix the test fails in some runs, not all.

Workers leaving are not in this test: a worker stopped mid-stream can still, in some runs, make
a case miss its resolution (a clean-clone CI run saw 7 of 260 cases merged with the next when A
stopped); that defect is open, docs/scaling.md.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


def test_workers_joining_mid_stream_keep_every_case_whole():
    env = {
        **os.environ,
        "PARTS": "rebalancing",
        "N": "3000",
        "RATE": "100",
        "SCHEDULE": "0.10:start:B,0.25:start:C",
    }
    run = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_rebalance.py")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, f"rebalancing left cases wrong:\n{output[-4000:]}"
    assert "every one of" in output and "each once, with its count, status and history" in output, output[
        -4000:
    ]
