"""The files of schemas/, generated from the event models (`make schemas`): a test fails when
the code and the files drift."""

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
)

from liaison_common.alert_contract import AlertEvent, ProblemEvent
from liaison_common.events import SUBMISSION_KINDS

SCHEMA_FILES = {
    "enterprise_report": "enterprise_report.schema.json",
    "incident": "incident.schema.json",
    "workgroup_report": "workgroup_report.schema.json",
    "alert": "alert.schema.json",
    "problem": "problem.schema.json",
}


def schema_model(kind: str) -> type[BaseModel]:
    """The model behind each file of schemas/."""
    if kind == "alert":
        return AlertEvent
    if kind == "problem":
        return ProblemEvent
    return SUBMISSION_KINDS[kind].model


def json_schema(kind: str) -> dict[str, Any]:
    schema = schema_model(kind).model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:liaison:schemas:v1:{kind}",
        **schema,
    }


def render_schema(kind: str) -> str:
    return json.dumps(json_schema(kind), ensure_ascii=False, indent=2) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    written = []
    for kind, filename in SCHEMA_FILES.items():
        path = directory / filename
        path.write_text(render_schema(kind), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "schemas")
    for path in write_schemas(target):
        print(f"wrote {path}")
