"""Issue 41.4: every table of the worker opens RocksDB with the bounded options of its settings
(tests/infra/test_k8s.py checks that bound against the rules pod's memory limit)."""

import json
import os
import subprocess
import sys

from services.rules.config import Settings

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def test_every_table_gets_the_bounded_rocksdb_options():
    # In a process of its own: importing the app builds it (RULES_PARTITIONS: no broker asked).
    script = (
        "import json; from services.rules.app import app;"
        "print(json.dumps({name: dict(table.options or {}) for name, table in app.tables.items()}))"
    )
    env = {
        **os.environ,
        "RULES_PARTITIONS": "3",
        "RULES_STORE": "rocksdb://",
        "RULES_ROCKSDB_BLOCK_CACHE_BYTES": "8388608",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    tables = json.loads(result.stdout.strip().splitlines()[-1])
    expected = Settings(rocksdb_block_cache_bytes=8 * 1024**2).rocksdb_options()
    assert len(tables) == 4, sorted(tables)
    for name, options in tables.items():
        assert options == expected, name
    assert expected["block_cache_size"] == 8 * 1024**2 and expected["max_write_buffer_number"] == 2


def test_the_bound_counts_every_partition_active_and_standby():
    settings = Settings(table_standby_replicas=1)
    per_database = 4 * 1024**2 + 2 * 2 * 1024**2
    # Two enterprise tables of 12 partitions, each also standby, and two tables of one partition.
    assert settings.rocksdb_memory_bound(12) == (2 * 12 * 2 + 2) * per_database
