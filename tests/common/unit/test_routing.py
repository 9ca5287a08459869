from liaison_common.routing import DEFAULT_ROUTE_RULES, PROBLEM_TYPES, Subject, resolve_routes


def roles(routes):
    return [(r.group_id, r.role) for r in routes]


def test_every_problem_type_of_the_contract_has_a_rule():
    assert set(DEFAULT_ROUTE_RULES) == set(PROBLEM_TYPES)


def test_funding_gap_of_an_sme_copies_the_sme_group_and_credit_work_group():
    subject = Subject("qinghai-tailin-garment", is_sme=True, work_group_ids=("wg-light-textile",))
    assert roles(resolve_routes(DEFAULT_ROUTE_RULES["funding_gap"], subject)) == [
        ("finance", "primary"),
        ("wg-credit", "cc"),
        ("sme", "cc"),
        ("wg-light-textile", "cc"),
    ]


def test_funding_gap_of_a_large_enterprise_does_not_copy_the_sme_group():
    subject = Subject("chalco-qinghai", is_sme=False, work_group_ids=("wg-liaison", "wg-aluminium"))
    assert ("sme", "cc") not in roles(resolve_routes(DEFAULT_ROUTE_RULES["funding_gap"], subject))


def test_linked_work_groups_are_copied_once_even_when_the_rule_names_them():
    subject = Subject("qinghai-electric-power", work_group_ids=("wg-liaison", "wg-power"))
    routes = roles(resolve_routes(DEFAULT_ROUTE_RULES["power_shortage"], subject))
    assert routes == [("operations", "primary"), ("wg-power", "cc"), ("wg-liaison", "cc")]


def test_energy_overuse_goes_to_tech_renovation_and_the_linked_work_group():
    subject = Subject("wutong-group", work_group_ids=("wg-ferroalloy",))
    routes = roles(resolve_routes(DEFAULT_ROUTE_RULES["energy_overuse"], subject))
    assert routes == [("tech-renovation", "primary"), ("wg-ferroalloy", "cc")]


def test_report_overdue_of_a_work_group_goes_to_the_comprehensive_group_only():
    """docs/contract.md §7: wg-liaison follows the 14 key enterprises, not the work groups."""
    routes = roles(
        resolve_routes(DEFAULT_ROUTE_RULES["report_overdue"], Subject("wg-rail", kind="work_group"))
    )
    assert routes == [("comprehensive", "primary")]


def test_a_primary_group_is_never_also_a_cc():
    subject = Subject("x", work_group_ids=("comprehensive",))
    routes = resolve_routes(DEFAULT_ROUTE_RULES["major_incident"], subject)
    assert [r.group_id for r in routes].count("comprehensive") == 1


def test_every_route_reason_is_written_in_chinese_with_the_problem_by_its_name():
    """Issue 40.3: a case page read "major_incident 的抄送组"; an official reads 重大事件的抄送组."""
    import re

    from liaison_common.labels import PROBLEM_TYPE_LABELS

    assert set(PROBLEM_TYPES) <= set(PROBLEM_TYPE_LABELS)
    subject = Subject("chalco-qinghai", is_sme=True, work_group_ids=("wg-aluminium",))
    for problem_type in PROBLEM_TYPES:
        if problem_type not in DEFAULT_ROUTE_RULES:
            continue
        for route in resolve_routes(DEFAULT_ROUTE_RULES[problem_type], subject, incident_category="safety"):
            assert not re.search(r"[a-z_]{3,}", route.reason), (problem_type, route.reason)
    reasons = [r.reason for r in resolve_routes(DEFAULT_ROUTE_RULES["major_incident"], subject)]
    assert reasons[:2] == ["重大事件的牵头组", "重大事件的抄送组"]
