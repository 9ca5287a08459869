"""Issue 42.3: importing the rules app (a test, a script, the contract's build) never asks Kafka
anything; the worker asks for the reports' partitions as it starts."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def test_the_app_imports_with_no_broker_and_no_partitions_given():
    script = (
        "from services.rules.app import app, history, cases;"
        "print(app.conf.topic_partitions, history.table.partitions, cases.table.partitions)"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("RULES_")}
    # Nothing listens on port 1: a metadata request there fails (or waits out its timeout).
    env["KAFKA_BOOTSTRAP_SERVERS"] = "127.0.0.1:1"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # Until the worker starts: one partition by default, and the tables follow the app's setting.
    assert result.stdout.split() == ["1", "None", "None"]
