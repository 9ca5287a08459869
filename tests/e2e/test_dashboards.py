"""Every metric a Grafana panel or a Prometheus rule names is one a running service exports."""

import json
import re
from pathlib import Path

import httpx
import pytest
import yaml

pytestmark = pytest.mark.integration
INFRA = Path(__file__).resolve().parents[2] / "infra"
SERVICES = {"ingest": 8001, "registry": 8002, "notify": 8003, "rules": 8004, "console": 8005}
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def base_name(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def exported() -> set[str]:
    names: set[str] = set()
    for service, port in SERVICES.items():
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        except httpx.TransportError:
            pytest.fail(f"{service} is not answering on {port}; run `make up` first")
        names |= {base_name(line.split()[2]) for line in text.splitlines() if line.startswith("# TYPE ")}
    return names


def expressions() -> list[tuple[str, str]]:
    found = []
    for dashboard in sorted((INFRA / "grafana" / "dashboards").glob("*.json")):
        for panel in json.loads(dashboard.read_text(encoding="utf-8"))["panels"]:
            found += [(f"{dashboard.name}: {panel['title']}", target["expr"]) for target in panel["targets"]]
    for group in yaml.safe_load((INFRA / "prometheus" / "rules.yml").read_text())["groups"]:
        found += [
            (f"rules.yml: {rule.get('record') or rule.get('alert')}", rule["expr"]) for rule in group["rules"]
        ]
    return found


def test_every_panel_and_rule_names_only_exported_metrics():
    known = exported()
    missing = []
    for where, expr in expressions():
        for name in re.findall(r"\bliaison_[a-z0-9_]+", expr):
            if base_name(name) not in known:
                missing.append(f"{where}: {name}")
    assert missing == []
    assert len(expressions()) >= 20


def test_the_dashboards_are_grafana_json_with_a_platform_and_a_domain_view():
    titles = {
        json.loads(p.read_text(encoding="utf-8"))["title"]
        for p in (INFRA / "grafana" / "dashboards").glob("*.json")
    }
    assert titles == {"Liaison — platform", "Liaison — the economy", "Liaison — ops"}


def test_the_ops_console_pages_open_from_the_running_prometheus_with_every_service_on_them():
    """Issue 40.1: Prometheus' console templates, served by the Prometheus `make up` starts."""
    pages = ["overview", "registry", "ingest", "rules", "notify", "console"]
    for page in pages:
        answer = httpx.get(f"http://127.0.0.1:9090/consoles/liaison-{page}.html", timeout=10)
        assert answer.status_code == 200, (page, answer.text[:300])
        assert "error executing template" not in answer.text and "Liaison · " in answer.text
        assert all(f"liaison-{other}.html" in answer.text for other in pages)  # linked to each other
    overview = httpx.get("http://127.0.0.1:9090/consoles/liaison-overview.html", timeout=10).text
    assert all(f"job=liaison-{service}" in overview for service in SERVICES)


def test_the_console_pages_and_grafana_come_from_one_list_of_queries():
    import subprocess
    import sys

    built = subprocess.run(
        [sys.executable, str(INFRA.parent / "scripts" / "build_dashboards.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    panels = yaml.safe_load((INFRA / "dashboards" / "panels.yml").read_text(encoding="utf-8"))["pages"]
    listed = {panel["expr"] for page in panels for panel in page["panels"]}
    grafana = json.loads((INFRA / "grafana" / "dashboards" / "liaison-ops.json").read_text(encoding="utf-8"))
    assert {t["expr"] for p in grafana["panels"] for t in p["targets"]} == listed
