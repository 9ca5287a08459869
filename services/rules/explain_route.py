"""Which groups would receive an alert, and why.

  python -m services.rules.explain_route chalco-qinghai funding_gap
  python -m services.rules.explain_route wg-rail report_overdue

Reads the registry from liaison.registry.v1 (as the workers do) and prints the routes the
rules service would give, with the reason for each.
"""

import argparse
import sys

from liaison_common.kafka_auth import use_local_kafka_admin
from liaison_common.registry_follower import read_registry
from liaison_common.registry_view import RegistryView
from liaison_common.routing import PROBLEM_TYPES, resolve_routes
from services.rules.config import Settings
from services.rules.domain.alerts import route_rule, subject_of


def main(argv: list[str] | None = None) -> int:
    use_local_kafka_admin()  # run by hand beside `make up`: read the registry topic as its admin
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("subject", help="an enterprise id, or a work group id (wg-…)")
    parser.add_argument("type", choices=PROBLEM_TYPES, help="the problem type")
    args = parser.parse_args(argv)
    settings = Settings()
    view = read_registry(settings.kafka_bootstrap_servers, settings.registry_topic, RegistryView())
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
