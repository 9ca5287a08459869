"""schemas/ is what enterprise systems read: it must be what the code validates."""

import json
from pathlib import Path

import jsonschema
import pytest

from liaison_common.schema_files import SCHEMA_FILES, render_schema, schema_model

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


@pytest.mark.parametrize("kind", sorted(SCHEMA_FILES))
def test_schema_files_match_the_code(kind):
    on_disk = (SCHEMAS / SCHEMA_FILES[kind]).read_text(encoding="utf-8")
    assert on_disk == render_schema(kind), f"schemas/{SCHEMA_FILES[kind]} is stale: run `make schemas`"


@pytest.mark.parametrize("kind", sorted(SCHEMA_FILES))
def test_each_schema_is_valid_and_its_example_validates_both_ways(kind):
    schema = json.loads((SCHEMAS / SCHEMA_FILES[kind]).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["examples"], "every schema carries a worked example"
    for example in schema["examples"]:
        jsonschema.Draft202012Validator(schema).validate(example)
        schema_model(kind).model_validate(example)


def test_the_schema_rejects_what_the_code_rejects():
    schema = json.loads((SCHEMAS / SCHEMA_FILES["enterprise_report"]).read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    example = schema["examples"][0]
    assert not validator.is_valid({**example, "colour": "red"})
    assert not validator.is_valid({**example, "indicators": {"inventory_t": -1}})
    assert not validator.is_valid({**example, "indicators": {"happiness": 1}})
