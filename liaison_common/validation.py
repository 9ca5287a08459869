"""pydantic's validation errors in the one shape every Liaison answer and dead letter uses."""

from typing import Any

from pydantic import ValidationError


def field_errors(error: ValidationError) -> list[dict[str, Any]]:
    """pydantic's errors, as FastAPI shows them: loc from the body, msg, type."""
    return [
        {"loc": ["body", *item["loc"]], "msg": item["msg"], "type": item["type"]}
        for item in error.errors(include_url=False, include_input=False, include_context=False)
    ]


def field_error(loc: list[str | int], msg: str, error_type: str = "value_error") -> dict[str, Any]:
    """One error in FastAPI's own shape, so clients parse every 422 the same way."""
    return {"loc": loc, "msg": msg, "type": error_type}
