"""Which groups would receive an alert, and why: the route test.

  python -m services.rules.route_test chalco-qinghai funding_gap
  python -m services.rules.route_test wg-rail report_overdue

Reads the registry from liaison.registry.v1 (as the workers do) and prints the routes the
rules service would give, with the reason for each.
"""

import argparse
import contextlib
import json
import sys

from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from liaison_common.registry_view import RegistryView
from liaison_common.routing import PROBLEM_TYPES, resolve_routes
from liaison_common.topics import partitions_of
from services.rules.alerts import route_rule, subject_of
from services.rules.config import Settings


def load_registry(settings: Settings, view: RegistryView | None = None) -> RegistryView:
    """The registry topic read to its end, into `view` (a new one by default)."""
    view = view if view is not None else RegistryView()
    partitions = [TopicPartition(settings.registry_topic, p) for p in partitions_of(
        settings.kafka_bootstrap_servers, settings.registry_topic)]  # fmt: skip
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    try:
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for records in consumer.poll(timeout_ms=1000).values():
                for record in records:
                    # Not a change event: skipped here, the registry's guard dead-letters it.
                    with contextlib.suppress(ValueError):
                        view.apply(json.loads(record.value))
    finally:
        consumer.close()
    return view


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("subject", help="an enterprise id, or a work group id (wg-…)")
    parser.add_argument("type", choices=PROBLEM_TYPES, help="the problem type")
    args = parser.parse_args(argv)
    view = load_registry(Settings())
    kind = "work_group" if view.has("work_group", args.subject) else "enterprise"
    if not view.has(kind, args.subject):
        parser.error(f"the registry holds no enterprise or work group '{args.subject}'")
    field = "enterprise_id" if kind == "enterprise" else "work_group_id"
    routes = resolve_routes(route_rule(view, args.type), subject_of(view, {field: args.subject}))
    for route in routes:
        print(f"{route.role:<8} {route.group_id:<24} {route.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
