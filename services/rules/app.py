"""The rules service: a Faust app whose agents detect problems and route them as alerts.

  reports ───┐                      ┌─► problems (each detected problem, before routing)
  wg-reports ┴─► detection agents ──┼─► alerts   (the same problem, routed)
  incidents ───► urgent lane ───────┤   (a consumer group and producer of its own: never
                                    │    behind a backlog of reports; urgent_lane.py)
                                    └─► rules-periods (1 partition) ──► reporting agent
                                                                        ├─► problems + alerts (report_overdue)
            registry ──► RegistryView (every worker, in memory)         └─► reporting (completeness)

Run: python -m services.rules worker -l info   (RULES_* variables configure it, see config.py)

Where things are:
  app.py              this file: the Faust app, its topics and tables, the state workers share
  outputs.py          reading an input, dead-lettering it, and publishing problems, alerts, periods
  agents.py           the detection agents (reports, work-group reports), and the urgent lane's task
  urgent_lane.py      incidents apart: their own consumer group and producer
  reporting_agent.py  the reporting agent: overdue reporters and completeness
  regional_agent.py   the regions' growth against 附件1's targets (docs/contract.md §7)
  operations.py       the registry view, metrics, health, the progress watch
  domain/             the pure domain logic, no I/O (problems, detectors, cases, alerts,
                      measures, reporting, regional, quality, thresholds, ...)

The periods of up to 200 reports go to rules-periods as one record (outputs.PeriodBatch),
sent before each offset commit: the reporting agent sees one Faust event per record, not per
report. Likewise the history and cases tables hold their writes until the next commit
(write_behind.py): a key that many reports change between two commits is written once.

Inputs are read as raw bytes and validated here again, so that anything unusable goes to
the dead-letter topic with its reason instead of stopping an agent. Outputs are sent as they
are made and the producer is flushed before offsets are committed, and every agent iterates its
stream from the start (see agents.py), so a worker killed mid-stream loses nothing; alert
ids are deterministic, so what it repeats after a restart replaces itself downstream.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import faust

from liaison_common.deadletter import MAX_DEAD_LETTER_BYTES
from liaison_common.kafka_auth import faust_credentials
from liaison_common.logs import configure_logging
from liaison_common.registry_view import RegistryView
from liaison_common.topics import partitions_of
from services.rules.config import Settings
from services.rules.consumer import RulesTransport
from services.rules.domain.thresholds import Thresholds
from services.rules.write_behind import WriteBehindTable

configure_logging()
settings = Settings()
thresholds = Thresholds.load()
registry = RegistryView()
registry_ready = asyncio.Event()


def input_partitions() -> int:
    """RULES_PARTITIONS, or as many as the reports topic has: 3 under `make up`, 12 in the
    Kubernetes prod overlay. The tables below are partitioned alike (their changelogs are
    declared with the app's topic_partitions, set from this as the worker starts)."""
    if settings.partitions:
        return settings.partitions
    return len(partitions_of(settings.kafka_bootstrap_servers, settings.reports_topic))


class RulesApp(faust.App):
    """faust.App with two fixes for rebalances: its consumer hands the streams only reports read
    continuously from the commits (services/rules/consumer.py), and a worker being stopped finishes
    its events in flight and sends its table writes before it gives its partitions away.

    faust-streaming 0.15.3 answers a rebalance that comes while the worker stops (SIGTERM, a
    scale-down, a rolling update) by closing the consumer at once, with the last events' table
    writes still in the producer. The next owner then restores the table without them and
    reads the reports again from the last commit with an older case book: `make
    bench-rebalance` saw cases split in two, and a case's updates missing, each time a worker
    stopped while another joined (docs/scaling.md).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Called before each offset commit, in order: what the agents gather for later is handed
        # to the producer (services/rules/outputs.py, PeriodBatch), which the commit then flushes.
        self.before_commit: list[Callable[[], Awaitable[None]]] = []
        # Records a turn of the consumer's fetch loop hands on (services/rules/consumer.py).
        self.fair_share_records: int | None = None

    async def on_first_start(self) -> None:
        # Asked here, as the worker starts, and not at import: importing the app (a test, a
        # script, the contract's build) never needs a broker. Changelog topics are declared after
        # this, with these partitions (faust.topics.Topic.declare reads conf.topic_partitions).
        self.conf.topic_partitions = await asyncio.to_thread(input_partitions)
        await super().on_first_start()

    def _new_transport(self) -> Any:
        return RulesTransport(self.conf.broker_consumer, self)

    async def _on_partitions_revoked(self, revoked: set[Any]) -> None:
        # What the agents hold for the next commit (table writes, period events) goes out while
        # the tables still serve every partition: held, a write could outlive the partition's
        # return from another worker, with the value it had before.
        for hand_over in self.before_commit:
            try:
                await hand_over()
            except Exception as error:  # its events are not committed: their next owner redoes them
                self.log.warning("could not hand over what was held for the commit: %r", error)
        if self.should_stop and self._consumer is not None:
            try:
                self.flow_control.suspend()
                self.flow_control.clear()
                await self._consumer_wait_empty(self.consumer, self.log)
                await self._producer_flush(self.log)
            except Exception as error:  # stopping anyway: say so, and let Faust close the consumer
                self.log.warning("could not flush before giving the partitions away: %r", error)
        await super()._on_partitions_revoked(revoked)


app = RulesApp(
    settings.app_id,
    broker=f"kafka://{settings.kafka_bootstrap_servers}",
    broker_credentials=faust_credentials(),  # this worker's own user (KAFKA_USERNAME)
    store=settings.store,
    datadir=settings.datadir,
    web_host=settings.web_host,
    # Loopback by default, and none of Faust's own pages: /table/ would show every enterprise's
    # last reports to anyone who reaches the port. /healthz, /metrics and /v1/thresholds remain.
    web_bind=settings.web_host,
    web_tables_enabled=False,
    web_router_enabled=False,
    web_graph_enabled=False,
    web_port=settings.web_port,
    topic_partitions=settings.partitions or 1,  # until the worker starts (on_first_start)
    topic_replication_factor=settings.topic_replication_factor,
    table_standby_replicas=settings.table_standby_replicas,
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
    # A report makes about five outputs (problems, alerts, its period, table changelogs): let the
    # producer gather them into one request instead of one each (Faust lingers 0 ms by default).
    producer_linger=settings.producer_linger_ms / 1000,
    producer_max_batch_size=256 * 1024,
    producer_max_request_size=MAX_DEAD_LETTER_BYTES,  # a dead letter of a 10 MB input fits
    # Outputs are sent at once (not attached to the input's offset with
    # stream_publish_on_commit: a commit that stalls on one partition then held that partition's
    # alerts back for good; the fault suite saw it). The commit flushes the producer first and
    # the agents wait behind it: every 2 s, not 0.5 s (docs/benchmarks.md: 174 → 224–402/s).
    stream_buffer_maxsize=settings.stream_buffer_maxsize,
    consumer_max_fetch_size=settings.max_fetch_bytes,
    broker_commit_every=1000,
    broker_commit_interval=2.0,
    # A worker that dies is noticed after this long and its partitions go to the others (or to
    # itself restarted); Faust's default of 60 s left a killed worker's partitions idle a minute.
    broker_session_timeout=15.0,
    broker_heartbeat_interval=3.0,
)

RAW: dict[str, Any] = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}
reports_topic = app.topic(settings.reports_topic, **RAW)
workgroup_reports_topic = app.topic(settings.workgroup_reports_topic, **RAW)
problems_topic = app.topic(settings.problems_topic, **RAW)
alerts_topic = app.topic(settings.alerts_topic, **RAW)
dlq_topic = app.topic(settings.dlq_topic, **RAW)
reporting_topic = app.topic(settings.reporting_topic, **RAW)
periods_topic = app.topic(settings.periods_topic, partitions=1, **RAW)
# Internal: each report's growth figures, keyed by region, for the regional judgement of
# 附件1's targets (regional.py). Faust creates it (its name has the app id's prefix, which the
# rules user's ACLs cover); one partition, one owner, like the periods.
region_growth_topic = app.topic(f"{settings.app_id}-region-growth", partitions=1, internal=True, **RAW)


def table_options() -> dict[str, int]:
    """A dict of its own for each table: Faust's RocksDB store pops keys from the one it gets."""
    return settings.rocksdb_options() if settings.store.startswith("rocksdb") else {}


# The two tables keyed by enterprise have as many partitions as the reports (input_partitions).
# Per enterprise: its last reports (Snapshot.as_dict), newest `history_size` by period.
history = WriteBehindTable(
    app.Table("enterprise-history", default=list, key_type=str, options=table_options())
)
# Per enterprise: its cases (services.rules.domain.cases.CaseBook), one per problem type.
cases = WriteBehindTable(app.Table("enterprise-cases", default=dict, key_type=str, options=table_options()))
# Both are written once per key between two commits (services/rules/write_behind.py).
app.before_commit += [history.flush, cases.flush]
app.fair_share_records = settings.fair_share_records
# Per region: its contributions, judged periods and cases (services.rules.domain.regional).
region_growth = app.Table("region-growth", default=dict, partitions=1, key_type=str, options=table_options())
# One key, "state": the reporting state of services.rules.domain.reporting (one partition, one owner).
reporting_state = app.Table(
    "reporting-state", default=dict, partitions=1, key_type=str, options=table_options()
)

# The topics the agents read (their lag is measured, their progress watched). Incidents are read
# by the urgent lane (urgent_lane.py), which measures its own lag.
INPUT_TOPICS = frozenset(
    {
        settings.reports_topic,
        settings.workgroup_reports_topic,
        settings.periods_topic,
    }
)
last_offsets: dict[tuple[str, int], int] = {}
