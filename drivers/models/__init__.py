"""The built-in meter models (explicit registry) and the loader for user YAML models."""

from __future__ import annotations

from pathlib import Path

from drivers.errors import ModelDefinitionError
from drivers.models.abb import B2X
from drivers.models.chint import DDSU666, DTSU666, DTSU666_4000
from drivers.models.definition import load_model_file
from drivers.models.eastron import SDM120, SDM630
from drivers.registers import MeterModel

PREPAID_V1 = load_model_file(Path(__file__).with_name("prepaid_v1.yaml"))

MODELS: dict[str, MeterModel] = {
    model.name: model for model in (SDM120, SDM630, DDSU666, DTSU666, DTSU666_4000, B2X, PREPAID_V1)
}


def get_model(name: str) -> MeterModel:
    try:
        return MODELS[name]
    except KeyError as exc:
        known = ", ".join(sorted(MODELS))
        raise ModelDefinitionError("model", f"unknown model {name!r} (known: {known})") from exc


__all__ = ["MODELS", "PREPAID_V1", "get_model", "load_model_file"]
