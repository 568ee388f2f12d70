"""Render the JSON Schemas of the MQTT contract from the pydantic models.

Regenerate after changing drivers/mqtt/contract.py:
    .venv/bin/python -m drivers.mqtt.schemas docs/schemas
"""

import json
import sys
from pathlib import Path

from drivers.mqtt.contract import SCHEMAS

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def render() -> dict[str, str]:
    """File name -> file text, for every model in the contract's registry."""
    files = {}
    for name, model in SCHEMAS.items():
        schema = {"$schema": SCHEMA_DIALECT, **model.model_json_schema(mode="validation")}
        files[f"{name}.json"] = json.dumps(_sorted_enums(schema), indent=2, sort_keys=True) + "\n"
    return files


def _sorted_enums(node: object) -> object:
    """Enum values in a fixed order: `typing` caches Literal["open", "closed"] and
    Literal["closed", "open"] as one type, so their order depends on import order."""
    if isinstance(node, dict):
        return {
            key: sorted(value, key=str) if key == "enum" else _sorted_enums(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_sorted_enums(item) for item in node]
    return node


def main() -> None:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")
    target.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        (target / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
