"""The README stays a newcomer's first page: short, its links alive, its layout naming every
module of every service (issue 42.7)."""

import importlib.util
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_the_readme_is_short_enough_to_read_first():
    assert len(README.encode("utf-8")) <= 15_000, "move detail into docs/ and link it"


def test_every_link_of_the_readme_and_the_docs_leads_somewhere():
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    missing = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)", page.read_text(encoding="utf-8")):
            if "://" not in target and not (page.parent / target).exists():
                missing.append(f"{page.relative_to(REPO)} -> {target}")
    assert missing == []


def test_the_layout_names_every_module_of_every_service():
    layout = README[README.index("## Layout") :]
    unnamed = [
        str(path.relative_to(REPO / "services"))
        for path in sorted((REPO / "services").glob("*/*.py")) + sorted((REPO / "services").glob("*/*/*.py"))
        if path.name != "__init__.py" and path.name not in layout
    ]
    assert unnamed == []


def test_the_contract_page_is_what_the_code_says():
    """docs/contract.md is generated from the code that keeps each promise (events, topics,
    routes, thresholds, OpenAPI, settings): a change there without the page fails here."""
    spec = importlib.util.spec_from_file_location("build_contract", REPO / "scripts" / "build_contract.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    written = (REPO / "docs" / "contract.md").read_text(encoding="utf-8")
    assert written == build.render(), "docs/contract.md is not current: run python scripts/build_contract.py"
