"""python -m liaison_sim — play the winter of 2011–12 through the running platform.

Submits every week's reports through ingest (the real pipeline: ingest → Kafka → rules →
notify), with a progress bar, then waits for the alerts to reach the groups' inboxes and
prints what arrived where.
"""

import argparse
import os
import sys
import time
from collections import Counter

import httpx
from tqdm import tqdm

from liaison_client.client import LiaisonClient
from liaison_client.local import local_admin_token
from liaison_common import topics
from liaison_common.kafka_auth import use_local_kafka_admin
from liaison_sim.scenarios import winter


def main(argv: list[str] | None = None) -> int:
    use_local_kafka_admin()  # the local broker wants SASL: be its admin
    parser = argparse.ArgumentParser(prog="python -m liaison_sim", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2011, help="the same seed gives the same winter")
    parser.add_argument("--ingest", default="http://127.0.0.1:8001")
    parser.add_argument("--notify", default="http://127.0.0.1:8003")
    parser.add_argument("--token", default=local_admin_token(), help="default: $LIAISON_ADMIN_TOKEN")
    parser.add_argument("--kafka", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    parser.add_argument(
        "--wait", type=float, default=300.0, help="seconds to wait for rules and notify to work through it"
    )
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("no token: pass --token or set LIAISON_ADMIN_TOKEN")
    weeks = winter(args.seed)
    total = sum(len(items) for week in weeks for items in week.values())
    client = LiaisonClient(args.ingest, args.token)
    outcome: Counter[str] = Counter()
    try:
        with tqdm(total=total, unit="report", desc="winter 2011–12", file=sys.stderr) as bar:
            for week in weeks:
                for kind, items in week.items():
                    if items:
                        summary = client.submit(kind, items, progress=bar.update)
                        outcome.update(
                            accepted=summary.accepted + summary.corrected,
                            duplicate=summary.duplicate,
                            rejected=summary.rejected,
                        )
                        for row, item_id, reason in summary.rejections[:3]:
                            print(f"rejected {kind} row {row} ({item_id}): {reason}", file=sys.stderr)
    finally:
        client.close()
    print(
        f"submitted {total}: {outcome['accepted']} accepted, {outcome['duplicate']} duplicate, {outcome['rejected']} rejected"
    )
    deadline = time.monotonic() + args.wait
    drained = wait_drained(args.kafka, deadline)
    return (
        0 if outcome["rejected"] == 0 and drained and show_inboxes(args.notify, args.token, deadline) else 1
    )


# What the pipeline must have worked through before the winter is over: rules' inputs, then
# notify's. The command returns on a quiet platform, so that whatever comes next (a user's own
# report, a test) is not queued behind the winter.
PIPELINE = (
    ("liaison-rules", [topics.REPORTS, topics.INCIDENTS, topics.WORKGROUP_REPORTS, topics.RULES_PERIODS]),
    ("liaison-notify", [topics.ALERTS, topics.ALERT_EVENTS, topics.REPORTING]),
)


# docs/contract.md §1, in the seed's order: the winter brings each of them at least one case.
COORDINATION_GROUPS = (
    "comprehensive",
    "operations",
    "tech-renovation",
    "finance",
    "sme",
    "mergers",
    "industry-matching",
    "enterprise-management",
)


def wait_drained(bootstrap: str, deadline: float) -> bool:
    """Until rules and notify have committed everything on their input topics (progress every 10 s)."""
    said = 0.0
    while True:
        left = {group: topics.group_backlog(bootstrap, group, names) for group, names in PIPELINE}
        if not any(left.values()):
            return True
        if time.monotonic() > deadline:
            print(f"the pipeline has not caught up: {left} messages left; see .local/logs/", file=sys.stderr)
            return False
        if time.monotonic() - said >= 10:
            said = time.monotonic()
            print(
                "working through it: " + ", ".join(f"{g} {n} messages left" for g, n in left.items()),
                file=sys.stderr,
            )
        time.sleep(1)


def show_inboxes(notify: str, token: str, deadline: float) -> bool:
    """Wait until the alerts stop arriving, then print them by type and by group."""
    headers = {"Authorization": f"Bearer {token}"}
    last, steady = -1, 0
    alerts: list[dict] = []
    while time.monotonic() < deadline:
        alerts = httpx.get(f"{notify}/v1/alerts", params={"limit": 1000}, headers=headers, timeout=30).json()
        steady = steady + 1 if len(alerts) == last and alerts else 0
        if steady >= 3:
            break
        last = len(alerts)
        time.sleep(2)
    if not alerts:
        print("no alerts arrived in the inboxes; see .local/logs/", file=sys.stderr)
        return False
    by_type = Counter(a["type"] for a in alerts)
    by_group = Counter(g for a in alerts for g in a["group_ids"])
    print(f"\n{len(alerts)} alerts in the inboxes:")
    print("  by type:  " + ", ".join(f"{t} {n}" for t, n in by_type.most_common()))
    print("  coordination groups: " + ", ".join(f"{g} {by_group.get(g, 0)}" for g in COORDINATION_GROUPS))
    work_groups = [(g, n) for g, n in by_group.most_common() if g not in COORDINATION_GROUPS]
    print("  work groups: " + ", ".join(f"{g} {n}" for g, n in work_groups))
    if empty := [g for g in COORDINATION_GROUPS if not by_group.get(g)]:
        print(
            f"  no case reached {', '.join(empty)} (the winter gives each group at least one)",
            file=sys.stderr,
        )
    worst = sorted(
        alerts, key=lambda a: ("low", "medium", "high", "critical").index(a["severity"]), reverse=True
    )[:5]
    print("  the most severe:")
    for a in worst:
        print(f"    [{a['severity']}] {a['summary']}")
    print(
        f'\nthe finance group\'s inbox:  curl -s -H "Authorization: Bearer $LIAISON_ADMIN_TOKEN" "{notify}/v1/alerts?group_id=finance"'
    )
    return True


if __name__ == "__main__":
    sys.exit(main())
