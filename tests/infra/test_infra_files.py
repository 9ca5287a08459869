"""The infrastructure files are correct on paper: Prometheus config, Compose stack."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.compose.yml"])
def test_prometheus_configs_pass_promtool(config):
    promtool = shutil.which("promtool")
    assert promtool, "promtool comes with Debian's prometheus package (make install)"
    result = subprocess.run(
        [promtool, "check", "config", str(INFRA / "prometheus" / config)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_compose_service_starts_from_something_that_exists():
    compose = yaml.safe_load((INFRA / "compose.yaml").read_text())
    services = compose["services"]
    assert {"kafka", "mongo", "prometheus", "grafana", "registry"} <= set(services)
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        if "build" in service:
            assert (INFRA / service["build"]["context"] / service["build"]["dockerfile"]).exists(), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (INFRA / source).exists(), f"{name}: {source}"
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"


def test_compose_kafka_is_the_local_broker_with_sasl_and_acls():
    compose = yaml.safe_load((INFRA / "compose.yaml").read_text())
    kafka = compose["services"]["kafka"]
    # The same server.properties as `make up` (auto-creation off, rebalance delay 0, ACLs), run
    # by the entrypoint the container mounts.
    assert "/liaison/compose-entrypoint.sh" in kafka["entrypoint"]
    assert "./kafka:/liaison:ro" in kafka["volumes"]
    entrypoint = (INFRA / "kafka" / "compose-entrypoint.sh").read_text()
    assert "/liaison/server.properties" in entrypoint and "--add-scram" in entrypoint
    properties = (INFRA / "kafka" / "server.properties").read_text()
    for line in ("auto.create.topics.enable=false", "group.initial.rebalance.delay.ms=0",
                 "allow.everyone.if.no.acl.found=false", "sasl.enabled.mechanisms=SCRAM-SHA-256"):  # fmt: skip
        assert line in properties.splitlines(), line
    # Every service authenticates; the users and ACLs are made before the topics.
    env = compose["services"]["registry"]["environment"]
    assert env["KAFKA_USERNAME"] == "admin" and env["KAFKA_PASSWORD"]
    assert "kafka-access" in compose["services"]["topics"]["depends_on"]
    assert kafka["ports"] == ["127.0.0.1:9092:9092"]


def test_prometheus_rules_pass_promtool():
    promtool = shutil.which("promtool")
    assert promtool
    result = subprocess.run(
        [promtool, "check", "rules", str(INFRA / "prometheus" / "rules.yml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 14 rules found" in result.stdout


def test_every_alerting_rule_has_a_promtool_unit_test_and_they_pass():
    """Issue 40.2: each alert fires on the series that should make it (infra/prometheus/rules.test.yml)."""
    import yaml

    rules = yaml.safe_load((INFRA / "prometheus" / "rules.yml").read_text())
    alerts = {r["alert"] for group in rules["groups"] for r in group["rules"] if "alert" in r}
    cases = yaml.safe_load((INFRA / "prometheus" / "rules.test.yml").read_text())
    tested = {
        t["alertname"] for case in cases["tests"] for t in case.get("alert_rule_test", []) if t["exp_alerts"]
    }
    assert alerts - tested == set()
    promtool = shutil.which("promtool")
    assert promtool
    result = subprocess.run(
        [promtool, "test", "rules", str(INFRA / "prometheus" / "rules.test.yml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_docs_show_screenshots_of_the_console_and_the_ops_overview_small_enough_to_commit():
    """Issue 40.4: the inbox, a case page, the incentives page and the ops overview, as PNGs of at
    most 200 KB that docs/console.md and docs/operations.md show (scripts/docs_screenshots.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "docs_screenshots", REPO / "scripts" / "docs_screenshots.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert len(module.SHOWN_IN) == 4
    assert module.problems() == []
