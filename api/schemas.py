"""Shared API types: money and kWh as decimal strings, aware instants, ids, pages.

Decimals travel as JSON strings both ways ("12.50", never 12.5). Input decimals must be
strings: a JSON number is refused with a message naming the field, because a float such as
0.1 has already lost its exact value by the time the server reads it. Instants are ISO 8601
with a UTC offset; a naive time is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Path, Query
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
UNSIGNED_PATTERN = r"^[0-9]+(\.[0-9]+)?$"
ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
_DECIMAL = re.compile(DECIMAL_PATTERN)


def _parse_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if not isinstance(value, str):
        msg = f'send decimals as JSON strings, e.g. "12.50" (got {type(value).__name__})'
        raise ValueError(msg)
    if len(value) > 40 or not _DECIMAL.fullmatch(value):
        msg = f'expected a decimal string such as "12.50", got {value[:40]!r}'
        raise ValueError(msg)
    return Decimal(value)


def _plain(value: Decimal) -> str:
    """'12.50', never '1.25E+1': fixed-point, trailing zeros kept."""
    return format(value, "f")


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        msg = f"must not be negative, got {value}"
        raise ValueError(msg)
    return value


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        msg = f"must be positive, got {value}"
        raise ValueError(msg)
    return value


def _decimal_schema(
    description: str, example: str, pattern: str = DECIMAL_PATTERN
) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": pattern,
                           "description": description, "examples": [example]})  # fmt: skip


DecimalStr = Annotated[
    Decimal,
    BeforeValidator(_parse_decimal),
    PlainSerializer(_plain, return_type=str, when_used="always"),
    _decimal_schema("a decimal number as a string", "12.50"),
]
Money = Annotated[DecimalStr, _decimal_schema("money in the account currency", "12.50")]
PositiveMoney = Annotated[
    Money,
    AfterValidator(_positive),
    _decimal_schema("a positive amount of money", "20.00", UNSIGNED_PATTERN),
]
Kwh = Annotated[
    DecimalStr,
    AfterValidator(_non_negative),
    _decimal_schema("energy in kWh", "1234.567", UNSIGNED_PATTERN),
]
PositiveDecimal = Annotated[
    DecimalStr,
    AfterValidator(_positive),
    _decimal_schema("a positive decimal", "1", UNSIGNED_PATTERN),
]
Instant = Annotated[AwareDatetime, Field(description="ISO 8601 with a UTC offset")]
Identifier = Annotated[str, Field(pattern=ID_PATTERN, examples=["ACC-1001"])]

AccountId = Annotated[str, Path(pattern=ID_PATTERN, description="account id")]
MeterId = Annotated[str, Path(pattern=ID_PATTERN, description="meter id")]
Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
After = Annotated[str | None, Query(max_length=64, description="`next_after` of the previous page")]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a keyset-paginated list: pass `next_after` as `after` for the next page."""

    items: list[T]
    next_after: str | None = Field(
        description="cursor for the next page; null on the last page", default=None
    )


class Strict(BaseModel):
    """Request bodies: unknown fields are refused, so a typo is an error, not a default."""

    model_config = ConfigDict(extra="forbid")


def page(items: Sequence[T], limit: int, cursor: Callable[[T], str]) -> Page[T]:
    """A page of `items`, fetched with `limit`: a full page may have a successor."""
    next_after = cursor(items[-1]) if items and len(items) == limit else None
    return Page[T](items=list(items), next_after=next_after)


def utc_cursor(ts: datetime) -> str:
    """An instant as a cursor that survives a URL unescaped: `2024-06-01T00:15:00Z`."""
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")
