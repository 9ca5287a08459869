"""The registry as a consumer of liaison.registry.v1 sees it (pure state, no I/O).

Events may arrive more than once and, after a snapshot, out of order: the highest version
of each id wins, and a deletion is remembered so that an older copy cannot revive it.
"""

from typing import Any


class RegistryView:
    def __init__(self) -> None:
        self._versions: dict[str, int] = {}
        self._by_type: dict[str, dict[str, dict[str, Any]]] = {}

    def apply(self, event: dict[str, Any]) -> bool:
        """Take one change event; return whether it changed the view."""
        entity_id = event["id"]
        version = int(event.get("version", 0))
        if version < self._versions.get(entity_id, -1):
            return False
        self._versions[entity_id] = version
        entities = self._by_type.setdefault(event["entity_type"], {})
        if event.get("deleted"):
            entities.pop(entity_id, None)
        else:
            entities[entity_id] = event.get("data") or {}
        return True

    def get(self, entity_type: str, entity_id: str) -> dict[str, Any] | None:
        return self._by_type.get(entity_type, {}).get(entity_id)

    def has(self, entity_type: str, entity_id: str) -> bool:
        return entity_id in self._by_type.get(entity_type, {})

    def ids(self, entity_type: str) -> list[str]:
        return sorted(self._by_type.get(entity_type, {}))

    def count(self, entity_type: str) -> int:
        return len(self._by_type.get(entity_type, {}))
