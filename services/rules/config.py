from pydantic import Field
from pydantic_settings import SettingsConfigDict

from liaison_common import topics
from liaison_common.settings import KafkaSettings


class Settings(KafkaSettings):
    """Rules settings: the broker address plus RULES_* variables (rules needs no database)."""

    model_config = SettingsConfigDict(env_prefix="RULES_", extra="ignore", populate_by_name=True)

    # The Faust app id is the consumer group: workers with the same id share the partitions.
    app_id: str = "liaison-rules"
    web_host: str = "127.0.0.1"
    web_port: int = 8004
    # rocksdb:// (through the rocksdict package) keeps tables on disk, recovered from the
    # changelog topics if lost; memory:// rebuilds them from the changelogs at every start.
    store: str = "rocksdb://"
    datadir: str = ".local/rules"
    history_size: int = 8
    # The partitions of the input topics, which the tables' changelogs must match (Faust refuses
    # a table whose changelog has fewer partitions than its source: PartitionsMismatch). 0, the
    # default, asks the broker how many the reports topic has when the worker starts.
    partitions: int = Field(default=0, ge=0, le=1000)
    # How often the leader asks for the overdue check to run again (it runs on every report too).
    overdue_check_seconds: float = 30.0
    # A report partition silent this long (processing time) stops holding event time back.
    idle_source_seconds: float = 120.0
    # A worker whose assigned input partitions have messages waiting and no commit for this long
    # starts over (services/rules/watchdog.py); 0 turns the watch off. Checked every 15 s.
    stall_restart_seconds: float = 120.0
    # Events a stream holds fetched ahead of its agent (Faust's stream_buffer_maxsize, 4096 by
    # default). One agent reads every partition through one queue, so a live report waits behind
    # whatever is queued ahead of it: this bounds how long a backlog on other partitions delays
    # it. 256 drains a backlog about 1.5 times as fast as 16, for a live p99 of 190-320 ms
    # instead of 170-190 ms while it drains (docs/benchmarks.md).
    stream_buffer_maxsize: int = Field(default=256, ge=1, le=1_000_000)
    # How long the producer waits to gather outputs into one request (Faust's producer_linger,
    # 0 by default: a request per output). Every alert waits up to this long. bench-rules at
    # N = 5,000 (docs/benchmarks.md): at 5 ms a live alert comes in 7 ms instead of 22 (p50) and
    # the live p99 while a backlog drains is 62-86 ms (six runs) instead of 74-109 (three), for
    # a backlog drained at 1,734-2,103 reports/s instead of 2,198-2,389. The commits do not wait it out
    # (services/rules/producer.py).
    producer_linger_ms: int = Field(default=5, ge=0, le=1000)
    # Bytes a fetch brings of one partition (Faust's consumer_max_fetch_size, 1 MiB by default).
    # The consumer hands on one partition's fetched records before the next's, so a live report
    # on another partition waits for what a fetch brought of each partition ahead of it.
    max_fetch_bytes: int = Field(default=16 * 1024, ge=1024, le=64 * 1024**2)
    # Records one turn of the fetch loop hands on before the next partition's turn
    # (services/rules/consumer.py): a live report waits behind a turn of each draining partition,
    # not behind all they fetched. bench-rules (docs/benchmarks.md): live p50 43-50 ms and p99
    # 89-102 ms while a backlog drains, against 73-80 and 124-135 ms handing on whole fetches.
    fair_share_records: int = Field(default=16, ge=1, le=100_000)

    # Replication of the topics Faust creates (table changelogs, the leader and region topics):
    # 1 on one broker (make up), 3 where the brokers are three and min.insync.replicas is 2
    # (the Kubernetes prod overlay): with 1 there, every table write would be refused (acks=all)
    # and a broker lost would lose the tables (issue 41.2).
    topic_replication_factor: int = Field(default=1, ge=1, le=10)
    # Standby copies of each table kept warm on another worker (0: a new owner restores from the
    # changelog).
    table_standby_replicas: int = Field(default=0, ge=0, le=5)
    # RocksDB's memory per table partition (each is a database of its own). Faust's defaults are
    # a 2 GiB block cache and three 64 MiB write buffers for each: far beyond a worker's pod
    # limit once it holds a few dozen partitions. The tables are small (an enterprise's last
    # reports and its cases), so small caches serve them; `rocksdb_memory_bound` is the most a
    # worker can hold, which tests/infra/test_k8s.py checks against the rules pod's limit.
    rocksdb_block_cache_bytes: int = Field(default=4 * 1024**2, ge=1024**2)
    rocksdb_write_buffer_bytes: int = Field(default=2 * 1024**2, ge=1024**2)
    rocksdb_write_buffers: int = Field(default=2, ge=2, le=8)

    def rocksdb_options(self) -> dict[str, int]:
        """Each table's options for Faust's RocksDB store."""
        return {
            "block_cache_size": self.rocksdb_block_cache_bytes,
            "block_cache_compressed_size": 0,
            "write_buffer_size": self.rocksdb_write_buffer_bytes,
            "max_write_buffer_number": self.rocksdb_write_buffers,
        }

    def rocksdb_memory_bound(self, partitions: int) -> int:
        """Bytes of RocksDB memory a worker holds at most: every partition of the two enterprise
        tables, active and standby, and the two one-partition tables, each at its full cache
        and write buffers."""
        databases = 2 * partitions * (1 + self.table_standby_replicas) + 2
        per_database = (
            self.rocksdb_block_cache_bytes + self.rocksdb_write_buffer_bytes * self.rocksdb_write_buffers
        )
        return databases * per_database

    reports_topic: str = topics.REPORTS
    incidents_topic: str = topics.INCIDENTS
    workgroup_reports_topic: str = topics.WORKGROUP_REPORTS
    registry_topic: str = topics.REGISTRY
    problems_topic: str = topics.PROBLEMS
    alerts_topic: str = topics.ALERTS
    dlq_topic: str = topics.DLQ
    reporting_topic: str = topics.REPORTING
    periods_topic: str = topics.RULES_PERIODS
