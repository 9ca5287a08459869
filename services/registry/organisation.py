"""The organisation transcribed from the seed (data/organisation.json), checked without I/O."""

import json
from importlib import resources
from typing import Any

from liaison_common.routing import DEFAULT_ROUTE_RULES

EXPECTED_COUNTS = {"coordination_groups": 8, "work_groups": 20, "key_enterprises": 14}


def load_organisation() -> dict[str, Any]:
    text = resources.files("services.registry").joinpath("data/organisation.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def routing_rules() -> list[dict[str, Any]]:
    """The default routing rules of docs/contract.md §3, as registry entities."""
    return [
        {
            "id": rule.problem_type,
            "primary": rule.primary,
            "cc": list(rule.cc),
            "cc_when_sme": list(rule.cc_when_sme),
            "description": rule.description,
        }
        for rule in DEFAULT_ROUTE_RULES.values()
    ]


# Routes the seed implies beyond docs/contract.md §3, each with the seed's words. Not the defaults:
# enterprise systems and acceptance tests rely on the contract's routes. An admin who wants the
# seed's reading applies them with `python -m services.registry.seed --seed-routes` (they are
# routing rules like any other: GET /v1/routes/resolve and the rules workers follow them).
SEED_IMPLIED_ROUTES: dict[str, dict[str, Any]] = {
    "transport_backlog": {
        "cc": ["wg-producer-services"],
        "quote": "研究组织协调公铁联运相关问题和政策",  # 附件2 二.13, 生产型服务业
    },
    "production_halt": {
        "cc": ["wg-power"],
        "quote": "减免停产企业基本电费",  # 附件1 三
    },
    "workforce_cut": {
        "cc_when_sme": ["sme"],
        "quote": "加大对中小企业社保支持力度",  # 附件2 一.5, 中小企业组
    },
}


def seed_routing_rules() -> list[dict[str, Any]]:
    """The contract's routing rules with the seed's implied recipients added (SEED_IMPLIED_ROUTES)."""
    rules = []
    for rule in routing_rules():
        implied = SEED_IMPLIED_ROUTES.get(rule["id"])
        if implied:
            rule = {
                **rule,
                "cc": rule["cc"] + [g for g in implied.get("cc", []) if g not in rule["cc"]],
                "cc_when_sme": rule["cc_when_sme"] + implied.get("cc_when_sme", []),
                "description": f"{rule['description']}（种子文件：{implied['quote']}）",
            }
        rules.append(rule)
    return rules


def problems(data: dict[str, Any]) -> list[str]:
    """Everything wrong with the organisation file: dangling links, duplicate ids, wrong counts."""
    found: list[str] = []
    units = {u["id"] for u in data["units"]}
    groups = {g["id"] for g in data["coordination_groups"]}
    work_groups = {w["id"] for w in data["work_groups"]}
    enterprises = {e["id"] for e in data["enterprises"]}
    all_ids = [
        item["id"]
        for section in ("units", "coordination_groups", "work_groups", "enterprises")
        for item in data[section]
    ]
    duplicates = sorted({i for i in all_ids if all_ids.count(i) > 1})
    if duplicates:
        found.append(f"ids used twice: {duplicates}")
    for unit in data["units"]:
        if unit.get("parent_id") and unit["parent_id"] not in units:
            found.append(f"unit {unit['id']}: unknown parent {unit['parent_id']}")
        if unit.get("enterprise_id") and unit["enterprise_id"] not in enterprises:
            found.append(f"unit {unit['id']}: unknown enterprise {unit['enterprise_id']}")
    for group in data["coordination_groups"]:
        for unit_id in [group["lead_unit_id"], *group["member_unit_ids"]]:
            if unit_id not in units:
                found.append(f"group {group['id']}: unknown unit {unit_id}")
    for wg in data["work_groups"]:
        for unit_id in [*wg["lead_unit_ids"], *wg["participant_unit_ids"]]:
            if unit_id not in units:
                found.append(f"work group {wg['id']}: unknown unit {unit_id}")
    for enterprise in data["enterprises"]:
        for wg_id in enterprise["work_group_ids"]:
            if wg_id not in work_groups:
                found.append(f"enterprise {enterprise['id']}: unknown work group {wg_id}")
    for event in data.get("matchmaking_events", []):
        for unit_id in event["host_unit_ids"]:
            if unit_id not in units:
                found.append(f"matchmaking event {event['id']}: unknown unit {unit_id}")
        for enterprise_id in event["host_enterprise_ids"]:
            if enterprise_id not in enterprises:
                found.append(f"matchmaking event {event['id']}: unknown enterprise {enterprise_id}")
        if event.get("group_id") and event["group_id"] not in groups:
            found.append(f"matchmaking event {event['id']}: unknown group {event['group_id']}")
    for rule in seed_routing_rules():  # the contract's, and the seed's reading
        for group_id in [rule["primary"], *rule["cc"], *rule["cc_when_sme"]]:
            if group_id not in groups | work_groups:
                found.append(f"routing rule {rule['id']}: unknown group {group_id}")
    counts = {
        "coordination_groups": len(groups),
        "work_groups": len(work_groups),
        "key_enterprises": sum(1 for e in data["enterprises"] if e["is_key"]),
    }
    for name, expected in EXPECTED_COUNTS.items():
        if counts[name] != expected:
            found.append(f"{name}: {counts[name]} in the file, the seed has {expected}")
    return found
