"""Issue 42.3: the rules' domain (services/rules/domain) is pure. It imports nothing that does I/O
and nothing of the runtime around it, so that each detector can be read and tested alone."""

import ast
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[3] / "services" / "rules" / "domain"
# Libraries and modules that reach a broker, a database, the network, the clock's loop or a file.
IO = ("faust", "aiokafka", "kafka", "mongoengine", "pymongo", "httpx", "requests", "asyncio", "socket",
      "prometheus_client", "subprocess", "urllib", "liaison_common.kafka_auth", "liaison_common.topics")  # fmt: skip


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_domain_imports_no_io_and_no_runtime():
    modules = sorted(DOMAIN.glob("*.py"))
    assert len(modules) > 10, modules  # the domain is where this test looks
    offending = {
        f"{path.name}: {name}"
        for path in modules
        for name in imports_of(path)
        if name.split(".")[0] in IO
        or name in IO
        or (name.startswith("services.") and not name.startswith("services.rules.domain"))
    }
    assert offending == set()
