"""The rules file (data/thresholds.json): every threshold with its source."""

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Threshold:
    value: Any
    source: str


class Thresholds:
    """Read access to the rules file: `t.get("stockpile", "sales_to_production_min").value`."""

    def __init__(self, data: dict[str, Any]):
        self._data = data
        self._found: dict[tuple[str, ...], Threshold] = {}  # the detectors ask ~20 times a report

    @classmethod
    def load(cls) -> "Thresholds":
        text = resources.files("services.rules").joinpath("data/thresholds.json").read_text(encoding="utf-8")
        return cls(json.loads(text))

    def get(self, *path: str) -> Threshold:
        found = self._found.get(path)
        if found is None:
            node: Any = self._data
            for key in path:
                node = node[key]
            found = self._found[path] = Threshold(node["value"], node["source"])
        return found

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(self._data))  # a deep copy: callers cannot change the rules

    def maybe(self, *path: str) -> Threshold | None:
        try:
            return self.get(*path)
        except KeyError:
            return None

    def sources(self) -> list[str]:
        """Every source text in the file (a test checks the quoted ones against the seed)."""
        found: list[str] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                if "source" in node:
                    found.append(node["source"])
                for value in node.values():
                    walk(value)

        walk(self._data)
        return found
