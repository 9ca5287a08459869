"""The registry as a consumer of liaison.registry.v1 sees it (pure state, no I/O).

Events may arrive more than once and, after a snapshot, out of order: the highest version
of each id wins, and a deletion is remembered so that an older copy cannot revive it.
"""

from typing import Any

ENTITY_TYPES = (
    "unit",
    "group",
    "work_group",
    "enterprise",
    "contact",
    "routing_rule",
    "subscription",
    "matchmaking_event",
)


def change_event_problem(event: Any) -> str | None:
    """Why a decoded message of liaison.registry.v1 is not a change event, or None if it is one."""
    if not isinstance(event, dict):
        return "not a JSON object"
    if event.get("entity_type") not in ENTITY_TYPES:
        return f"entity_type must be one of {', '.join(ENTITY_TYPES)}"
    if not isinstance(event.get("id"), str) or not event["id"]:
        return "id must be a non-empty string"
    version = event.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        return "version must be a whole number"
    if not isinstance(event.get("deleted", False), bool):
        return "deleted must be true or false"
    if not event.get("deleted") and not isinstance(event.get("data"), dict):
        return "data must be an object"
    return None


class RegistryView:
    def __init__(self) -> None:
        self._versions: dict[str, int] = {}
        self._by_type: dict[str, dict[str, dict[str, Any]]] = {}
        # Counts the changes taken: what is computed from the view may be kept until it moves.
        self.generation = 0

    def apply(self, event: dict[str, Any]) -> bool:
        """Take one change event; return whether it changed the view (ValueError if it is none)."""
        problem = change_event_problem(event)
        if problem is not None:
            raise ValueError(problem)
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
        self.generation += 1
        return True

    def get(self, entity_type: str, entity_id: str) -> dict[str, Any] | None:
        return self._by_type.get(entity_type, {}).get(entity_id)

    def has(self, entity_type: str, entity_id: str) -> bool:
        return entity_id in self._by_type.get(entity_type, {})

    def ids(self, entity_type: str) -> list[str]:
        return sorted(self._by_type.get(entity_type, {}))

    def count(self, entity_type: str) -> int:
        return len(self._by_type.get(entity_type, {}))
