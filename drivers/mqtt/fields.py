"""Wire field types of the MQTT contract: exact decimals, aware timestamps, identifiers.

Each type validates, converts and documents itself (JSON Schema) in one place.
"""

import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, WithJsonSchema

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
DECIMAL_PATTERN: Final = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$"
_DATE_TIME: Final = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}"
_OFFSET: Final = r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
RFC3339_PATTERN: Final = rf"^{_DATE_TIME}(\.[0-9]+)?{_OFFSET}$"
_DECIMAL_RE: Final = re.compile(DECIMAL_PATTERN)
_STAMP_RE: Final = re.compile(rf"^{_DATE_TIME}(?:\.([0-9]+))?{_OFFSET}?$")
_MICROS_PER_S: Final = 1_000_000
_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"


def to_decimal(value: object) -> Decimal:
    """A JSON number (already Decimal or int) or a decimal string; never bool, float or NaN."""
    if isinstance(value, bool):
        msg = "must be a number or a decimal string, not a boolean"
        raise ValueError(msg)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            msg = "must be a finite number"
            raise ValueError(msg)
        return value
    if isinstance(value, str):
        if not _DECIMAL_RE.match(value):
            msg = 'must be a decimal string like "123.456"'
            raise ValueError(msg)
        return Decimal(value)
    if isinstance(value, float):
        msg = "must not be a float; decode the JSON with parse_float=Decimal"
        raise ValueError(msg)
    msg = "must be a number or a decimal string"
    raise ValueError(msg)


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        msg = "must be >= 0"
        raise ValueError(msg)
    return value


def parse_stamp(value: str) -> tuple[datetime, bool]:
    """Parse RFC 3339 text (offset optional here); returns (datetime, has_offset)."""
    match = _STAMP_RE.match(value)
    if match is None:
        msg = "must be an RFC 3339 timestamp like 2024-05-01T12:00:00+08:00"
        raise ValueError(msg)
    fraction, offset = match.groups()
    text = value.upper()
    if fraction is not None and len(fraction) > 6:  # datetime keeps microseconds
        text = text.replace(f".{fraction}", f".{fraction[:6]}")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        msg = f"not a valid date or time ({exc})"
        raise ValueError(msg) from exc
    return parsed, offset is not None


def to_utc(value: object) -> datetime:
    """RFC 3339 with an offset, or unix seconds (int or decimal), to an aware UTC datetime."""
    if isinstance(value, bool):
        msg = "must be an RFC 3339 string or unix seconds, not a boolean"
        raise ValueError(msg)
    if isinstance(value, int | Decimal):
        seconds = Decimal(value)
        if not seconds.is_finite() or seconds < 0:
            msg = "unix seconds must be a finite number >= 0"
            raise ValueError(msg)
        micros = int((seconds * _MICROS_PER_S).to_integral_value(rounding=ROUND_FLOOR))
        try:
            return EPOCH + timedelta(microseconds=micros)
        except OverflowError as exc:
            msg = "unix seconds out of range"
            raise ValueError(msg) from exc
    if isinstance(value, str):
        parsed, has_offset = parse_stamp(value)
        if not has_offset:
            msg = "must carry a UTC offset (Z or +hh:mm); local time without offset is refused"
            raise ValueError(msg)
        return parsed.astimezone(UTC)
    msg = "must be an RFC 3339 string or unix seconds"
    raise ValueError(msg)


def _decimal_string(value: object) -> Decimal:
    if not isinstance(value, str):
        msg = 'must be a decimal string like "12.50"'
        raise ValueError(msg)
    return to_decimal(value)


def _rfc3339_string(value: object) -> datetime:
    if not isinstance(value, str):
        msg = "must be an RFC 3339 string with an offset"
        raise ValueError(msg)
    return to_utc(value)


_NUMBER_OR_STRING: Final = {"type": "string", "pattern": DECIMAL_PATTERN}

DecimalValue = Annotated[
    Decimal,
    BeforeValidator(to_decimal),
    WithJsonSchema({"anyOf": [{"type": "number"}, _NUMBER_OR_STRING]}),
]
EnergyKwh = Annotated[
    Decimal,
    BeforeValidator(to_decimal),
    AfterValidator(_non_negative),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": r"^(0|[1-9][0-9]*)(\.[0-9]+)?$"},
            ]
        }
    ),
]
DecimalString = Annotated[
    Decimal, BeforeValidator(_decimal_string), WithJsonSchema(_NUMBER_OR_STRING)
]
UtcTimestamp = Annotated[
    datetime,
    BeforeValidator(to_utc),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": RFC3339_PATTERN},
                {"type": "number", "minimum": 0},
            ]
        }
    ),
]
Rfc3339 = Annotated[
    datetime,
    BeforeValidator(_rfc3339_string),
    WithJsonSchema({"type": "string", "pattern": RFC3339_PATTERN}),
]
Identifier = Annotated[str, StringConstraints(pattern=_ID_PATTERN)]
BandName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Sequence = Annotated[int, Field(strict=True, ge=0)]
RelayState = Literal["closed", "open"]
