"""JSON text in and out, exact: numbers become Decimal from their text, never via float.

`load_object` refuses what JSON libraries usually let through: NaN / Infinity, duplicate
keys, a top level that is not an object. `reason_of` turns a pydantic error into the
one-line reason a dead letter carries ("energy_kwh: must be >= 0").
"""

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from drivers.mqtt.errors import PayloadError

_MAX_REASONS = 3


def _non_finite(name: str) -> Decimal:
    # NaN / Infinity become non-finite Decimals, which every field type refuses by name.
    return Decimal(name)


def _refuse_duplicates(pairs: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise PayloadError(key, "duplicate key")
        obj[key] = value
    return obj


def load_object(payload: bytes) -> dict[str, Any]:
    """Decode a UTF-8 JSON object; floats become Decimal exactly as written."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError("$", "payload is not UTF-8 text") from exc
    try:
        value = json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_non_finite,
            object_pairs_hook=_refuse_duplicates,
        )
    except json.JSONDecodeError as exc:
        raise PayloadError("$", f"invalid JSON: {exc.msg} at line {exc.lineno}") from exc
    except RecursionError as exc:
        raise PayloadError("$", "JSON nested too deeply") from exc
    if not isinstance(value, dict):
        raise PayloadError("$", f"must be a JSON object, got {type(value).__name__}")
    return value


def _loc_text(loc: tuple[int | str, ...], prefix: str) -> str:
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "$"


def reason_of(exc: ValidationError, prefix: str = "") -> str:
    """One line naming each offending field: "tou_kwh.peak: must be >= 0; relay: ..."."""
    parts = []
    for error in exc.errors(include_url=False)[:_MAX_REASONS]:
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{_loc_text(tuple(error['loc']), prefix)}: {message}")
    more = exc.error_count() - _MAX_REASONS
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def _default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    msg = f"cannot encode {type(value).__name__} as JSON"
    raise TypeError(msg)


def dump_object(obj: dict[str, Any]) -> bytes:
    """Encode to compact UTF-8 JSON; Decimal as a decimal string, datetime as RFC 3339."""
    return json.dumps(obj, default=_default, separators=(",", ":"), ensure_ascii=False).encode()
