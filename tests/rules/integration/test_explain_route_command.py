import pytest

from services.rules.explain_route import main

pytestmark = pytest.mark.integration


def test_the_route_test_command_names_each_group_and_why(
    kafka_bootstrap, seeded_registry_topic, monkeypatch, capsys
):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("RULES_REGISTRY_TOPIC", seeded_registry_topic)
    assert main(["qinghai-tailin-garment", "funding_gap"]) == 0
    lines = [line.split(None, 2) for line in capsys.readouterr().out.splitlines()]
    assert [(role, group) for role, group, _ in lines] == [
        ("primary", "finance"), ("cc", "wg-credit"), ("cc", "sme"), ("cc", "wg-light-textile"),
    ]  # fmt: skip
    assert "中小企业" in lines[2][2]
    assert main(["wg-rail", "report_overdue"]) == 0
    # docs/contract.md §7: a work group's overdue report goes to the comprehensive group alone.
    assert [line.split()[:2] for line in capsys.readouterr().out.splitlines()] == [
        ["primary", "comprehensive"]
    ]


def test_an_unknown_subject_is_a_clear_error(kafka_bootstrap, seeded_registry_topic, monkeypatch, capsys):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("RULES_REGISTRY_TOPIC", seeded_registry_topic)
    with pytest.raises(SystemExit):
        main(["no-such-co", "stockpile"])
    assert "no enterprise or work group 'no-such-co'" in capsys.readouterr().err
