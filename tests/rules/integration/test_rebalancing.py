"""Rules workers joining and leaving mid-stream on 12 partitions, on the real broker: no case is
lost, split in two or counted twice (issue 15; docs/scaling.md).

This runs `bench/bench_rebalance.py`'s rebalancing part, shortened: 3,000 reports at 100/s,
worker B joining at 10 %, C at 25 %, A stopped (SIGTERM) at 45 %, B at 70 %, two notify
instances. The script checks every case and occurrence on the alerts topic and in notify's
database against what the input implies, and exits 1 on anything missing or wrong.

What it proves is that: every case whole through joins and leaves. It does not tell the
consumer's four fixes (services/rules/consumer.py) apart: with all four removed, cases still
came out right in most runs (docs/scaling.md, "Can the rebalancing test tell each fix apart?");
tests/rules/unit/test_stale_batch_guard.py fails without each one.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


def test_workers_joining_and_leaving_mid_stream_keep_every_case_whole():
    env = {
        **os.environ,
        "PARTS": "rebalancing",
        "N": "3000",
        "RATE": "100",
        "SCHEDULE": "0.10:start:B,0.25:start:C,0.45:stop:A,0.70:stop:B",
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
