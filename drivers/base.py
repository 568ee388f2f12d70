"""The one driver interface and the sample it produces for the ledger's ingest."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal, Protocol

RelayState = Literal["open", "closed"]


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One reading, read anew from the meter.

    ``read_at`` is the aware UTC moment the energy register's reply arrived. All numbers
    are ``Decimal`` built from the decoded register (see ``drivers.modbus.codec`` for how
    float registers become decimals); no float is ever passed on.
    """

    meter_id: str
    read_at: datetime
    energy_kwh: Decimal
    source: str
    bands_kwh: Mapping[str, Decimal] | None = None
    balance: Decimal | None = None
    relay: RelayState | None = None
    extras: Mapping[str, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.read_at.utcoffset() != timedelta(0):
            msg = f"read_at must be aware UTC, got {self.read_at!r}"
            raise ValueError(msg)
        for name, value in (("energy_kwh", self.energy_kwh), ("balance", self.balance)):
            if value is not None and not isinstance(value, Decimal):
                msg = f"{name} must be a Decimal, got {type(value).__name__}"
                raise TypeError(msg)


class MeterDriver(Protocol):
    """What the poller and the gateway need from any meter, whatever the protocol."""

    @property
    def meter_id(self) -> str: ...

    async def read(self) -> MeterSample:
        """Read the meter now; raise a ``DriverError`` (never return a stale value)."""
        ...

    async def set_relay(self, *, open: bool) -> None:
        """Open (trip) or close the relay; return only once a read-back confirms it."""
        ...

    async def write_balance(self, amount: Decimal) -> None:
        """Write the meter-side balance (local-mode meters); confirmed by read-back."""
        ...
