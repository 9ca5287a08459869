"""From a detected problem to a routed alert (CONTRACT.md §2, Alert): pure functions."""

from typing import Any

from liaison_common.registry_view import RegistryView
from liaison_common.routing import DEFAULT_ROUTE_RULES, RouteRule, Subject, resolve_routes


def alert_id(problem: dict[str, Any]) -> str:
    """Deterministic: the same problem of the same subject in the same period, the same id.

    An incident is its own problem, so its id carries the incident id as well.
    """
    subject = problem.get("enterprise_id") or problem.get("work_group_id")
    base = f"{problem['type']}.{subject}.{problem['period_end']}"
    if problem["type"] == "major_incident":
        return f"{base}.{problem['source_ids'][0]}"
    return base


def route_rule(view: RegistryView, problem_type: str) -> RouteRule:
    """The registry's routing rule for the type (admins may change it), else the contract's default."""
    data = view.get("routing_rule", problem_type)
    if data is None:
        return DEFAULT_ROUTE_RULES[problem_type]
    return RouteRule(
        problem_type, data["primary"], tuple(data.get("cc") or ()), tuple(data.get("cc_when_sme") or ()),
        data.get("description") or "",
    )  # fmt: skip


def subject_of(view: RegistryView, problem: dict[str, Any]) -> Subject:
    if problem.get("enterprise_id"):
        enterprise = view.get("enterprise", problem["enterprise_id"]) or {}
        return Subject(
            problem["enterprise_id"], "enterprise", bool(enterprise.get("is_sme")),
            tuple(enterprise.get("work_group_ids") or ()),
        )  # fmt: skip
    return Subject(problem["work_group_id"], "work_group")


def build_alert(problem: dict[str, Any], view: RegistryView, *, detected_at: str) -> dict[str, Any]:
    routes = resolve_routes(route_rule(view, problem["type"]), subject_of(view, problem))
    alert = {
        "alert_id": alert_id(problem),
        "type": problem["type"],
        "severity": problem["severity"],
        "period_end": problem["period_end"],
        "detected_at": detected_at,
        "summary": problem["summary"],
        "evidence": problem["evidence"],
        "routes": [{"group_id": r.group_id, "role": r.role} for r in routes],
        "source_ids": problem["source_ids"],
    }
    for field in ("enterprise_id", "work_group_id", "submitted_at"):
        if problem.get(field):
            alert[field] = problem[field]
    return alert
