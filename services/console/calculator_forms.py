"""The 金融办's incentive calculators as forms: their fields, the payload a form makes, and its
errors in Chinese (the calculations are in incentives.py)."""

from typing import Any

from pydantic import BaseModel, ValidationError

from services.console import incentive_calculators


def _fields(inputs: type[BaseModel]) -> list[dict[str, str]]:
    fields = []
    for name, info in inputs.model_fields.items():
        kind = "institutions" if name == "institutions" else "number"
        fields.append({"name": name, "label": info.description or name, "kind": kind})
    return fields


def calculator_forms() -> list[dict[str, Any]]:
    """What the calculators page shows: each calculator, its clause and its fields."""
    return [
        {
            "name": c.name,
            "title": c.title,
            "fields": _fields(c.inputs),
            "doc": (c.compute.__doc__ or "").strip(),
        }
        for c in incentive_calculators.CALCULATORS.values()
    ]


def calculator_catalogue() -> list[dict[str, Any]]:
    """GET /v1/incentives: each calculator with the JSON Schema of its inputs."""
    return [
        {"name": c.name, "title": c.title, "inputs": c.inputs.model_json_schema()}
        for c in incentive_calculators.CALCULATORS.values()
    ]


def calculator_payload(name: str, form: dict[str, str]) -> dict[str, Any]:
    """The JSON a calculator takes, from the page's form (fields named `calculator.field`).
    Institutions are one per line: 名称, 本期万元[, 去年同期万元]. ValueError names what is wrong."""
    calculator = incentive_calculators.CALCULATORS[name]
    payload: dict[str, Any] = {}
    for spec in _fields(calculator.inputs):
        raw = form.get(f"{name}.{spec['name']}", "").strip()
        if not raw:
            continue
        if spec["kind"] == "institutions":
            institutions = []
            for number, line in enumerate(raw.splitlines(), start=1):
                cells = [c.strip() for c in line.replace("，", ",").split(",")]
                if not any(cells):
                    continue
                if len(cells) not in (2, 3):
                    raise ValueError(f"第{number}行：应为“名称, 本期万元[, 去年同期万元]”")
                try:
                    amounts = [float(c) for c in cells[1:]]
                except ValueError:
                    raise ValueError(f"第{number}行：金额应为数字") from None
                item: dict[str, Any] = {"name": cells[0], "amount_wan": amounts[0]}
                if len(amounts) == 2:
                    item["last_year_wan"] = amounts[1]
                institutions.append(item)
            payload[spec["name"]] = institutions
        else:
            try:
                payload[spec["name"]] = float(raw)
            except ValueError:
                raise ValueError(f"{spec['label']}：应为数字") from None
    return payload


def calculator_error(problem: ValueError) -> str:
    """One line a person can act on: the field's label and what is wrong with it."""
    if isinstance(problem, ValidationError):
        lines = []
        for error in problem.errors(include_url=False):
            lines.append(f"{'.'.join(str(part) for part in error['loc'])}：{error['msg']}")
        return "；".join(lines)
    return str(problem)
