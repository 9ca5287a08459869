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
    """CONTRACT.md §7: wg-liaison follows the 14 key enterprises, not the work groups."""
    routes = roles(
        resolve_routes(DEFAULT_ROUTE_RULES["report_overdue"], Subject("wg-rail", kind="work_group"))
    )
    assert routes == [("comprehensive", "primary")]


def test_a_primary_group_is_never_also_a_cc():
    subject = Subject("x", work_group_ids=("comprehensive",))
    routes = resolve_routes(DEFAULT_ROUTE_RULES["major_incident"], subject)
    assert [r.group_id for r in routes].count("comprehensive") == 1
