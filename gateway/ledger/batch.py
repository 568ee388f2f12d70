"""What enters ingest and what comes back: a reading as delivered, its result, its anomaly row.

Kept apart from `ingest` so that the rater, which builds results and anomaly rows for one
reading, needs no import back into the batch logic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from gateway.ledger.errors import InvalidRequestError


@dataclass(frozen=True, slots=True)
class ReadingIn:
    """A register reading as a driver or the API delivers it (raw register values)."""

    meter_id: str
    ts: datetime
    energy_kwh: Decimal
    source: str = "api"
    bands_kwh: Mapping[str, Decimal] | None = None
    balance: Decimal | None = None
    relay: str | None = None
    received_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.ts.utcoffset() is None:
            msg = f"reading time {self.ts.isoformat()} has no UTC offset"
            raise InvalidRequestError(msg)
        if not isinstance(self.energy_kwh, Decimal) or not self.energy_kwh.is_finite():
            msg = f"energy_kwh must be a finite Decimal, got {self.energy_kwh!r}"
            raise InvalidRequestError(msg)
        if self.energy_kwh < 0:
            msg = f"energy_kwh must not be negative, got {self.energy_kwh}"
            raise InvalidRequestError(msg)


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What became of one reading. `duplicate` means it was already recorded: this is the
    original result, and nothing was written."""

    meter_id: str
    ts: datetime
    outcome: str
    reading_id: str | None
    entry_id: str | None = None
    charged: Decimal | None = None
    flags: tuple[str, ...] = ()
    reason: str = ""
    duplicate: bool = False


REJECTED = "rejected"


def anomaly_row(
    meter_id: str,
    account_id: str | None,
    reading_id: str | None,
    reading: ReadingIn,
    *,
    kind: str,
    detail: str,
    now: datetime,
) -> dict[str, Any]:
    return {
        "meter_id": meter_id, "account_id": account_id, "reading_id": reading_id,
        "ts": reading.ts.astimezone(UTC), "kind": kind, "detail": detail,
        "raw_kwh": reading.energy_kwh, "created_at": now, "resolved": False,
    }  # fmt: skip
