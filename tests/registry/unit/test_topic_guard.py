"""The registry topic's guard judges any record without raising (a raise stopped it for good)."""

import json

from services.registry.guard import unusable


def test_deep_json_garbage_and_wrong_shapes_are_unusable_and_a_change_event_is_not():
    for value in (b"[" * 5000 + b"]" * 5000, b"\x00\xff", None, b"[]", b'{"entity_type": 3}', b"1e999"):
        assert unusable(value), value
    event = {
        "entity_type": "unit",
        "id": "x",
        "version": 1,
        "deleted": False,
        "data": {"id": "x", "name": "x"},
    }
    assert unusable(json.dumps(event).encode()) is None
