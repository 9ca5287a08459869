"""Every rejection rule of docs/contract.md §2, without any service."""

import copy

import pytest

from liaison_common.deadletter import RawMessage
from liaison_common.events import SUBMISSION_KINDS
from liaison_common.registry_view import RegistryView
from liaison_common.tokens import Principal
from services.ingest.checks import (
    Outcome,
    authorise,
    check_registry,
    parse_inbound,
    validate,
)

REPORT = {
    "kind": "enterprise_report",
    "report_id": "chalco-qinghai-2011-W50",
    "enterprise_id": "chalco-qinghai",
    "period_start": "2011-12-12",
    "period_end": "2011-12-18",
    "submitted_at": "2011-12-19T09:30:00+08:00",
    "reporter": "联络员",
    "indicators": {"production_t": 9800, "sales_t": 7600, "inventory_t": 31000},
    "problems": [{"category": "transport", "text": "钾肥待运积压"}],
    "notes": "",
}
INCIDENT = {
    "kind": "incident",
    "incident_id": "salt-lake-1",
    "enterprise_id": "qinghai-salt-lake",
    "occurred_at": "2011-12-20T14:05:00+08:00",
    "category": "safety",
    "severity": "critical",
    "summary": "事故",
}
WG_REPORT = {
    "kind": "workgroup_report",
    "report_id": "wg-rail-2011-W50",
    "work_group_id": "wg-rail",
    "period_start": "2011-12-12",
    "period_end": "2011-12-18",
    "submitted_at": "2011-12-19T17:00:00+08:00",
    "progress": "抢运",
    "open_problems": [{"enterprise_id": "qinghai-salt-lake", "category": "transport", "text": "车皮不足"}],
}
REPORTS = SUBMISSION_KINDS["enterprise_report"]


def changed(base, path, value):
    item = copy.deepcopy(base)
    target = item
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return item


DELETE = object()


def error_locs(outcome):
    assert isinstance(outcome, Outcome) and outcome.status == "rejected"
    return [tuple(error["loc"]) for error in outcome.detail]


def test_the_contract_examples_are_valid():
    for kind, item in (
        ("enterprise_report", REPORT),
        ("incident", INCIDENT),
        ("workgroup_report", WG_REPORT),
    ):
        assert not isinstance(validate(SUBMISSION_KINDS[kind], item), Outcome)


@pytest.mark.parametrize(
    ("path", "value", "loc"),
    [
        (("colour",), "red", ("body", "colour")),
        (("indicators", "happiness_index"), 3, ("body", "indicators", "happiness_index")),
        (("indicators", "inventory_t"), -1, ("body", "indicators", "inventory_t")),
        (("indicators", "sales_t"), "7600", ("body", "indicators", "sales_t")),
        (("indicators", "sales_t"), True, ("body", "indicators", "sales_t")),
        (("period_end",), "2011-12-01", ("body", "period_end")),
        (("period_start",), "12/12/2011", ("body", "period_start")),
        (("submitted_at",), "2011-12-19T09:30:00", ("body", "submitted_at")),
        (("enterprise_id",), DELETE, ("body", "enterprise_id")),
        (("report_id",), DELETE, ("body", "report_id")),
        (("enterprise_id",), {"$ne": None}, ("body", "enterprise_id")),
        (("report_id",), "a b/../c", ("body", "report_id")),
        (("problems", 0, "category"), "weather", ("body", "problems", 0, "category")),
        (("kind",), "incident", ("body", "kind")),
    ],
)
def test_a_bad_report_is_rejected_naming_the_field(path, value, loc):
    assert loc in error_locs(validate(REPORTS, changed(REPORT, path, value)))


def test_growth_may_be_negative_but_other_quantities_may_not():
    ok = validate(REPORTS, changed(REPORT, ("indicators", "output_value_yoy_pct"), -12.5))
    assert not isinstance(ok, Outcome)


def test_a_work_group_reports_the_province_wide_figures_within_bounds():
    kind = SUBMISSION_KINDS["workgroup_report"]
    figures = {"rail_freight_ytd_t": 34_448_000, "longyangxia_outflow_increase_m3_s": -20}
    assert not isinstance(validate(kind, changed(WG_REPORT, ("indicators",), figures)), Outcome)
    for name, value in [("rail_freight_ytd_t", -1), ("purchased_power_mwh", 1e13), ("coal_t", 5)]:
        locs = error_locs(validate(kind, changed(WG_REPORT, ("indicators",), {name: value})))
        assert ("body", "indicators", name) in locs, name


def test_every_error_is_reported_at_once():
    item = changed(changed(REPORT, ("indicators", "inventory_t"), -1), ("colour",), "red")
    assert len(error_locs(validate(REPORTS, item))) == 2


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("severity",), "minor"),
        (("category",), "weather"),
        (("occurred_at",), "yesterday"),
        (("summary",), ""),
    ],
)
def test_a_bad_incident_is_rejected(path, value):
    locs = error_locs(validate(SUBMISSION_KINDS["incident"], changed(INCIDENT, path, value)))
    assert ("body", path[0]) in locs


def test_an_enterprise_token_submits_only_for_its_own_enterprise():
    event = validate(REPORTS, REPORT)
    assert authorise(Principal("enterprise", "chalco-qinghai"), REPORTS, event) is None
    refused = authorise(Principal("enterprise", "western-mining"), REPORTS, event)
    assert refused is not None and refused.http_status == 403 and "enterprise_id" in refused.detail
    assert authorise(Principal("group", "finance"), REPORTS, event).http_status == 403
    assert authorise(Principal("admin", "admin"), REPORTS, event) is None


def test_a_work_group_token_submits_only_for_its_work_group():
    kind = SUBMISSION_KINDS["workgroup_report"]
    event = validate(kind, WG_REPORT)
    assert authorise(Principal("work_group", "wg-rail"), kind, event) is None
    assert authorise(Principal("work_group", "wg-power"), kind, event).http_status == 403


def test_ids_the_registry_does_not_hold_are_rejected_naming_the_field():
    view = RegistryView()
    view.apply({"entity_type": "work_group", "id": "wg-rail", "version": 1, "data": {}})
    kind = SUBMISSION_KINDS["workgroup_report"]
    outcome = check_registry(view, kind, validate(kind, WG_REPORT))
    assert error_locs(outcome) == [("body", "open_problems", 0, "enterprise_id")]
    view.apply({"entity_type": "enterprise", "id": "qinghai-salt-lake", "version": 1, "data": {}})
    assert check_registry(view, kind, validate(kind, WG_REPORT)) is None


def test_a_deleted_enterprise_is_unknown_and_an_old_event_does_not_revive_it():
    view = RegistryView()
    view.apply({"entity_type": "enterprise", "id": "a", "version": 1, "data": {}})
    view.apply({"entity_type": "enterprise", "id": "a", "version": 2, "deleted": True, "data": {}})
    view.apply({"entity_type": "enterprise", "id": "a", "version": 1, "data": {}})
    assert not view.has("enterprise", "a")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "empty"),
        (b"\xff\xfe\x00garbage", "encoding"),
        (b"{not json", "not_json"),
        (b"[1, 2]", "invalid"),
        (b'{"kind": "gossip"}', "unknown_kind"),
        (b'{"report_id": "x"}', "unknown_kind"),
    ],
)
def test_unusable_inbound_messages_say_why(value, reason):
    outcome = parse_inbound(RawMessage("liaison.inbound.v1", 0, 7, b"k", value))
    assert isinstance(outcome, Outcome) and outcome.reason == reason
