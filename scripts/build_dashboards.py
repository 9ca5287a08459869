"""Writes the ops dashboards from infra/dashboards/panels.yml, one list of queries for both:
Prometheus' console templates (infra/prometheus/consoles/liaison-<page>.html, served by the
Prometheus `make up` starts) and the Grafana dashboard infra/grafana/dashboards/liaison-ops.json.

    python scripts/build_dashboards.py          # write them
    python scripts/build_dashboards.py --check  # exit 1 when what is written differs (a test runs it)
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PANELS = ROOT / "infra" / "dashboards" / "panels.yml"
CONSOLES = ROOT / "infra" / "prometheus" / "consoles"
GRAFANA = ROOT / "infra" / "grafana" / "dashboards" / "liaison-ops.json"


def console_page(page: dict[str, Any]) -> str:
    parts = [f'{{{{ template "liaison.head" "{page["title"]}" }}}}']
    for panel in page["panels"]:
        if "`" in panel["expr"]:
            raise ValueError(f"a backquote in {panel['title']}: the template quotes queries with it")
        parts.append(
            f"<h2>{panel['title']}</h2>\n<table><tr><th>series</th><th>value</th></tr>\n"
            f"{{{{ range query `{panel['expr']}` }}}}"
            '<tr><td>{{ template "liaison.labels" .Labels }}</td>'
            '<td class="v">{{ .Value | humanize }}</td></tr>\n'
            '{{ else }}<tr><td colspan="2" class="none">no data</td></tr>{{ end }}\n</table>'
        )
    parts.append('{{ template "liaison.tail" }}')
    return "\n".join(parts) + "\n"


def grafana(pages: list[dict[str, Any]]) -> str:
    panels = []
    for number, (page, panel) in enumerate((p, q) for p in pages for q in p["panels"]):
        panels.append(
            {
                "id": number + 1,
                "type": "timeseries",
                "title": f"{page['id']}: {panel['title']}",
                "gridPos": {"h": 8, "w": 12, "x": 12 * (number % 2), "y": 8 * (number // 2)},
                "targets": [
                    {
                        "refId": "A",
                        "expr": panel["expr"],
                        "legendFormat": f"{{{{{panel['by']}}}}}" if panel.get("by") else "",
                    }
                ],
            }
        )
    dashboard = {
        "title": "Liaison — ops",
        "uid": "liaison-ops",
        "schemaVersion": 39,
        "tags": ["liaison"],
        "time": {"from": "now-6h", "to": "now"},
        "panels": panels,
    }
    return json.dumps(dashboard, ensure_ascii=False, indent=2) + "\n"


def outputs() -> dict[Path, str]:
    pages = yaml.safe_load(PANELS.read_text(encoding="utf-8"))["pages"]
    written = {CONSOLES / f"liaison-{page['id']}.html": console_page(page) for page in pages}
    written[GRAFANA] = grafana(pages)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when stale")
    args = parser.parse_args()
    stale = []
    for path, text in outputs().items():
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path.relative_to(ROOT)))
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print("stale (run python scripts/build_dashboards.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
