"""Write docs/contract.md: the platform's contract in the repository, from the code that keeps it.

The tables come from the code itself, so the page cannot drift from it: the organisation's ids
(services/registry/data/organisation.json), the topics (liaison_common/topics.py), every
event's fields (liaison_common/events.py and alert_contract.py, the models behind schemas/),
the problem types and their routes (liaison_common/routing.py) with the rules file's thresholds
(services/rules/data/thresholds.json), each service's HTTP calls (its OpenAPI) and settings.
The prose between them says what the tables cannot.

    python scripts/build_contract.py           # rewrite docs/contract.md
    python scripts/build_contract.py --check   # exit 1 when docs/contract.md is not current
"""

import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "contract.md"
sys.path.insert(0, str(REPO))

# The apps are built only to read their OpenAPI: nothing is started or connected, but their
# settings want an admin token and a signing secret.
os.environ.setdefault("LIAISON_ADMIN_TOKEN", "contract-page-only-0123456789")
os.environ.setdefault("NOTIFY_WEBHOOK_SECRET", "contract-page-only-0123456789")

from liaison_common import events, routing, schema_files, topics  # noqa: E402

# What keys each topic's records, and what they carry: the one thing topics.py does not hold.
TOPIC_ROLES = {
    topics.INBOUND: (
        "the enterprise or work group id",
        "submissions enterprise systems publish themselves, each with its token",
    ),
    topics.REPORTS: ("`enterprise_id`", "validated enterprise reports"),
    topics.WORKGROUP_REPORTS: ("`work_group_id`", "validated work-group weekly reports"),
    topics.INCIDENTS: ("`enterprise_id`", "validated major incidents"),
    topics.DLQ: ("the original key", "rejected input: the original bytes, where it came from, and why"),
    topics.PROBLEMS: ("`enterprise_id` (or the subject's id)", "problems detected, before routing"),
    topics.ALERTS: ("`alert_id`", "routed alerts: each record is the latest state of a case"),
    topics.REGISTRY: ("the entity's id", "every change of the organisation (a table)"),
    topics.ALERT_EVENTS: ("`alert_id`", "every change of a case (§6)"),
    topics.ALERT_INDEX: ("`alert_id`", "notify's inbox index, one entry per case (a table; ours)"),
    topics.REPORTING: ("the ISO week", "each week's reporting completeness and timeliness (ours)"),
    topics.RULES_PERIODS: ("none", "every report's period, for rules' event-time clock (internal)"),
}

SERVICES = (
    ("ingest", 8001, "services.ingest"),
    ("registry", 8002, "services.registry"),
    ("notify", 8003, "services.notify"),
    ("console", 8005, "services.console"),
)


def table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += [
        "| " + " | ".join(str(cell).replace("|", "\\|").replace("\n", " ") for cell in row) + " |"
        for row in rows
    ]
    return "\n".join(lines)


def identifiers() -> str:
    data = json.loads(
        (REPO / "services" / "registry" / "data" / "organisation.json").read_text(encoding="utf-8")
    )
    groups = table(
        ("id", "No.", "name", "leader"),
        (
            (f"`{g['id']}`", g["number"], g["name"], g.get("leader") or "")
            for g in data["coordination_groups"]
        ),
    )
    work_groups = table(
        ("id", "No.", "name"),
        ((f"`{g['id']}`", g["number"], g["name"]) for g in data["work_groups"]),
    )
    key = [e for e in data["enterprises"] if e.get("is_key")]
    enterprises = table(
        ("id", "name", "work groups", "region"),
        (
            (
                f"`{e['id']}`",
                e["name"],
                ", ".join(f"`{w}`" for w in e.get("work_group_ids") or []),
                e.get("region") or "",
            )
            for e in key
        ),
    )
    others = len(data["enterprises"]) - len(key)
    return (
        f"Every id is a lowercase slug (`{events.SLUG_PATTERN}`), stable once given. The registry holds "
        f"the organisation transcribed from the seed (`services/registry/data/organisation.json`); these "
        f"are its ids.\n\n"
        f"### The {len(data['coordination_groups'])} coordination groups (协调组)\n\n{groups}\n\n"
        f"### The {len(data['work_groups'])} work groups (保增稳产工作组), in the seed's order\n\n"
        f"{work_groups}\n\n"
        f"### The {len(key)} key enterprises with liaisons\n\n{enterprises}\n\n"
        f"The registry also holds {others} more enterprises the seed names (the firms the work groups "
        f"follow, the restructuring sectors' lead firms); `GET /v1/enterprises` lists them all.\n"
    )


def topic_table() -> str:
    missing = [spec.name for spec in topics.TOPICS if spec.name not in TOPIC_ROLES]
    if missing:
        raise SystemExit(f"say what keys and carries {', '.join(missing)} in TOPIC_ROLES")
    rows = []
    for spec in topics.TOPICS:
        key, carries = TOPIC_ROLES[spec.name]
        kept = "compacted" if spec.config.get("cleanup.policy") == "compact" else "kept a year"
        if spec.config.get("retention.ms") == topics.WEEK_MS:
            kept = "kept a week"
        rows.append((f"`{spec.name}`", key, carries, spec.partitions, kept))
    return table(("topic", "key", "carries", "partitions", "retention"), rows)


def type_of(prop: dict[str, Any]) -> str:
    if "anyOf" in prop:
        return " or ".join(type_of(p) for p in prop["anyOf"])
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    if "enum" in prop:
        return " / ".join(f"`{v}`" for v in prop["enum"])
    kind = str(prop.get("type", "any"))
    if kind == "array":
        return f"list of {type_of(prop.get('items', {}))}"
    if prop.get("format"):
        return f"{kind} ({prop['format']})"
    return kind


def bounds_of(prop: dict[str, Any]) -> str:
    parts = []
    for name, say in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("minLength", "length ≥"),
        ("maxLength", "length ≤"),
        ("maxItems", "at most items:"),
        ("pattern", "matches"),
    ):
        if name in prop:
            value = f"`{prop[name]}`" if name == "pattern" else prop[name]
            parts.append(f"{say} {value}")
    for option in prop.get("anyOf", []):
        nested = bounds_of(option)
        if nested:
            parts.append(nested)
    return ", ".join(parts)


def fields_table(schema: dict[str, Any]) -> str:
    required = set(schema.get("required", []))
    rows = []
    for name, prop in schema.get("properties", {}).items():
        note = " ".join(x for x in (prop.get("description", ""), bounds_of(prop)) if x)
        rows.append((f"`{name}`", type_of(prop), "yes" if name in required else "", note))
    return table(("field", "type", "required", "notes"), rows)


def event_sections() -> str:
    titles = {
        "enterprise_report": 'An enterprise\'s weekly report (`"kind": "enterprise_report"`, '
        "`liaison.reports.v1`)",
        "incident": 'A major incident (`"kind": "incident"`, `liaison.incidents.v1`)',
        "workgroup_report": 'A work group\'s weekly report (`"kind": "workgroup_report"`, '
        "`liaison.workgroup-reports.v1`)",
        "problem": "A detected problem (`liaison.problems.v1`)",
        "alert": "An alert, a case (`liaison.alerts.v1`, and what notify stores)",
    }
    out = []
    for kind in schema_files.SCHEMA_FILES:
        schema = schema_files.json_schema(kind)
        source = f"JSON Schema: `schemas/{schema_files.SCHEMA_FILES[kind]}`."
        out.append(f"### {titles[kind]}\n\n{source}\n\n{fields_table(schema)}\n")
        for name, nested in sorted(schema.get("$defs", {}).items()):
            out.append(f"`{name}`:\n\n{fields_table(nested)}\n")
    return "\n".join(out)


def routes_table() -> str:
    rows = []
    for rule in routing.DEFAULT_ROUTE_RULES.values():
        cc = ", ".join(f"`{g}`" for g in rule.cc)
        if rule.cc_when_sme:
            cc = ", ".join(x for x in (cc, " ".join(f"`{g}` when an SME" for g in rule.cc_when_sme)) if x)
        rows.append((f"`{rule.problem_type}`", rule.description, f"`{rule.primary}`", cc))
    categories = ", ".join(f"`{c}` → `{g}`" for c, (g, _) in routing.INCIDENT_CATEGORY_CC.items())
    return table(("type", "what", "primary", "cc"), rows) + (
        f"\n\nEvery alert about an enterprise is also sent, as `cc`, to each work group the enterprise "
        f"is linked to. A major incident adds, by its category: {categories}.\n"
    )


def thresholds_table() -> str:
    data = json.loads((REPO / "services" / "rules" / "data" / "thresholds.json").read_text(encoding="utf-8"))
    rows = []
    for problem, entries in data.items():
        if not isinstance(entries, dict) or problem in ("about",):
            continue
        for name, entry in entries.items():
            if isinstance(entry, dict) and "value" in entry:
                rows.append(
                    (
                        f"`{problem}`",
                        f"`{name}`",
                        json.dumps(entry["value"], ensure_ascii=False),
                        entry.get("source", ""),
                    )
                )
    return table(("problem", "threshold", "value", "source"), rows)


def http_section() -> str:
    out = []
    for name, port, package in SERVICES:
        module = __import__(f"{package}.app", fromlist=["create_app"])
        spec = module.create_app().openapi()
        rows = []
        for path, operations in spec.get("paths", {}).items():
            for method, operation in operations.items():
                rows.append((f"`{method.upper()} {path}`", operation.get("summary", "")))
        out.append(f"### {name}, port {port}\n\n{table(('call', 'what'), rows)}\n")
    return "\n".join(out)


def settings_section() -> str:
    out = []
    for name, _, package in (*SERVICES, ("rules", 8004, "services.rules")):
        module = __import__(f"{package}.config", fromlist=["Settings"])
        settings = module.Settings
        prefix = str(settings.model_config.get("env_prefix", ""))
        rows = []
        for field_name, info in settings.model_fields.items():
            alias = info.validation_alias if isinstance(info.validation_alias, str) else None
            variable = alias or f"{prefix}{field_name}".upper()
            default = "required" if info.is_required() else f"`{info.default}`"
            if "secret" in field_name or "token" in field_name or "password" in field_name:
                default = "required" if info.is_required() else "(generated by `make up`)"
            rows.append((f"`{variable}`", default))
        listed = table(("variable", "default"), rows)
        out.append(f"<details><summary>{name}: {len(rows)} settings</summary>\n\n{listed}\n\n</details>\n")
    return "\n".join(out)


TEMPLATE = """# The contract (generated: do not edit)

What the services promise one another and their users: ids, topics, events, routes, HTTP calls,
settings, and the rules for cases, corrections and data queries. `python
scripts/build_contract.py` writes this page from the code that keeps each promise, and
`tests/infra/test_docs.py` fails when it is not current, so it cannot drift (`make contract`
rewrites it). The code cites its
sections as `docs/contract.md §N`. It follows the platform's external contract (v2, kept
outside the repository with the seed); where the two differ, the external one is the
acceptance tests' and is a defect here.

## 1. Identifiers

{identifiers}

## 2. Topics and events

Values are JSON in UTF-8; a record's key is the id named. Nothing is dropped in silence: what a
service cannot use goes to `liaison.dlq.v1` with the original bytes and the reason.

{topics}

{events}

## 3. Problem types and their routes

Each problem type has a primary group and groups in copy; §7 says where the seed refines them.
A problem a report states itself raises an alert of the matching type, at `low` severity at
least.

{routes}
The thresholds live in one rules file (`services/rules/data/thresholds.json`), each with its
source in the seed where there is one:

{thresholds}

## 4. HTTP

JSON in and out; an error is `{{"detail": ...}}` naming the field, never a 500 for bad input.
Tokens are bearer tokens (`Authorization: Bearer <token>`): the admin token from
`LIAISON_ADMIN_TOKEN`, and tokens the registry issues (`POST /v1/tokens`) for an enterprise, a
work group, a group or an admin, which work on every service. An enterprise token submits only
for its enterprise; a group token sees and acts on only its group's alerts. Ingest answers 202
`{{"id", "status": "accepted"}}` once the broker has a submission, 200 `"duplicate"` for the same
id from the same submitter, 409 for an id another submitter used, and 202 `"correction"` (with
`replaces`) for a correction (§7). Lists take `limit` (default 100, at most 1000) and `offset`.
Every service also answers `GET /healthz` and `GET /metrics` (Prometheus' text format).

{http}

## 5. Configuration

Each service reads its settings from the environment; `KAFKA_BOOTSTRAP_SERVERS`, `MONGODB_URI`
and `LIAISON_ADMIN_TOKEN` are common to all.

{settings}

## 6. Bounds, direct submissions, cases, their events, silences

- **Bounds** (422 naming the field): periods from {earliest}, at most {max_days} days long, ending
  no later than the day after `submitted_at`; `submitted_at` and `occurred_at` no later than a day
  from now; every indicator a finite number of at most {max_quantity:g}. `report_id` and
  `incident_id` are unique per submitter.
- **Direct submissions on Kafka** carry the header `authorization: Bearer <token>`, with the
  same rights as over HTTP; one without, or with a token that may not submit for its subject,
  goes to `liaison.dlq.v1` as `unauthenticated` or `forbidden`.
- **Alerts are cases**: one problem of one subject while it lasts. A later period with the
  same problem updates the case (`last_period_end`, `occurrences`); it carries the seed's
  `measures` that fit it and, once resolved, `resolved_by` (`group`, `data` or `correction`).
  A case absent from two running reports that carry its indicators is resolved by data; the
  same problem within four weeks reopens it under the same id.
- **Every change of a case is an event** on `liaison.alert-events.v1`: `received`, `updated`,
  `notified`, `delivered`, `delivery_failed`, `acknowledged`, `resolved`, `reopened`,
  `escalated`, `silenced`, `corrected`, with `alert_id`, `event`, `at`, `by` and `detail`.
- **Silences and why a group was told**: `POST /v1/silences` (matchers on enterprise, type and
  group; a group silences only its own deliveries), `GET /v1/silences`, `DELETE
  /v1/silences/{{id}}`; `GET /v1/alerts/{{id}}/notifications` says for each group routed its
  reason, the silences that applied and each delivery's channel, time and outcome, never the
  target.

## 7. The seed read closely: routes, corrections, data quality (where it differs from §3, this holds)

- **Goods waiting for rail are a transport problem**: a report whose goods awaiting shipment
  are at least half its inventory raises no `stockpile`; when they exceed two weeks of its mean
  sales it raises `transport_backlog` even where the rail ratio alone would not.
- **Regional growth targets are 2011's, and for regions**: 附件1's targets judge periods ending
  in 2011 only, and a region as a whole (its reporting enterprises weighted by output value);
  the case's subject is the region (`growth_shortfall.<region>.<period_end>`).
- **A work group's overdue report** goes to `comprehensive` only; a major incident adds a group
  by its category (§3).
- **Measures fit the case**: a product's own renovation measure (附件3), a power measure that
  names what failed, SME measures (附件5) only for SMEs, and a 附件7 lead firm never told to join
  another lead.
- **Corrections**: a report from the same submitter for the same subject and period under
  another `report_id` replaces the earlier figures everywhere (an earlier `submitted_at` than the
  one it replaces is refused, 409 naming `submitted_at`); the period's cases are judged again, a
  problem no longer shown is withdrawn (`resolved_by: "correction"`, or one occurrence fewer),
  and the change is a `corrected` event.
- **Resolved by data means the data says so**: only reports that carry the indicators a case
  reads can continue or resolve it.
- **Implausible figures are questioned, not alerted** (DHIS2's outlier checks): against the
  subject's own history (the thresholds under `data_quality` above) or a range an admin set
  (registry kind `indicator-ranges`), an implausible figure raises a `data_query` case (low;
  `wg-statistics`, cc `wg-liaison` for a key enterprise) naming the indicator, its value and the
  expected range, and no detector reading that indicator fires on that report. A correction, or
  a next report at the same level, resolves it by data.
"""


def render() -> str:
    return TEMPLATE.format(
        identifiers=identifiers(),
        topics=topic_table(),
        events=event_sections(),
        routes=routes_table(),
        thresholds=thresholds_table(),
        http=http_section(),
        settings=settings_section(),
        earliest=events.EARLIEST_PERIOD.isoformat(),
        max_days=events.MAX_PERIOD_DAYS,
        max_quantity=events.MAX_QUANTITY,
    )


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            print(
                f"{OUT.relative_to(REPO)} is not current: run python scripts/build_contract.py",
                file=sys.stderr,
            )
            return 1
        print(f"{OUT.relative_to(REPO)} is current")
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(REPO)} ({len(text):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
