"""The MQTT wire contract as pydantic v2 models; docs/schemas/*.json are generated from these.

Readings from our own contract refuse unknown fields (a typo such as "energy_kWh" must not
pass silently); Tasmota payloads ignore the many fields we do not use.
"""

from datetime import datetime
from decimal import Decimal
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from drivers.mqtt.fields import (
    BandName,
    DecimalString,
    DecimalValue,
    EnergyKwh,
    Identifier,
    RelayState,
    Rfc3339,
    Sequence,
    UtcTimestamp,
)

CommandAction = Literal["relay_open", "relay_close", "set_balance"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MeterReadingPayload(_Strict):
    """A meter's reading on meters/{meter_id}/reading. Registers are cumulative, in kWh."""

    ts: UtcTimestamp
    energy_kwh: EnergyKwh
    tou_kwh: dict[BandName, EnergyKwh] | None = None
    balance: DecimalValue | None = None
    relay: RelayState | None = None
    seq: Sequence | None = None


class ConcentratorEntry(MeterReadingPayload):
    """One meter's reading inside a concentrator batch."""

    meter_id: Identifier


class ConcentratorPayload(_Strict):
    """A concentrator's batch on concentrators/{concentrator_id}/readings."""

    readings: list[ConcentratorEntry]


class ConcentratorEnvelope(_Strict):
    """The batch with its entries unparsed, so each entry is validated (and refused) alone."""

    readings: list[object]


class TasmotaEnergy(BaseModel):
    """The ENERGY object of a Tasmota SENSOR message; only Total (kWh) is used."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    total_kwh: EnergyKwh = Field(alias="Total")


class TasmotaSensorPayload(BaseModel):
    """A Tasmota tele/{device}/SENSOR message. Time is the device's local time, no offset."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    time: str = Field(alias="Time", max_length=40)
    energy: TasmotaEnergy = Field(alias="ENERGY")


class CommandPayload(_Strict):
    """A gateway command on meters/{meter_id}/command; the meter must refuse it after expires_at."""

    id: Identifier
    action: CommandAction
    amount: DecimalString | None = None
    expires_at: Rfc3339

    @model_validator(mode="after")
    def _amount_matches_action(self) -> Self:
        if self.action == "set_balance" and self.amount is None:
            msg = "amount: required for set_balance"
            raise ValueError(msg)
        if self.action != "set_balance" and self.amount is not None:
            msg = f"amount: not allowed for {self.action}"
            raise ValueError(msg)
        return self


class CommandAckPayload(_Strict):
    """A meter's answer on meters/{meter_id}/command/ack; a command counts only if ok is true."""

    id: Identifier
    ok: StrictBool
    relay: RelayState | None = None
    balance: DecimalValue | None = None
    error: str | None = Field(default=None, max_length=500)


class DeadLetterPayload(_Strict):
    """A refused message on gateway/deadletter: the original payload and why it was refused."""

    topic: str
    payload: str
    payload_encoding: Literal["utf-8", "base64"]
    reason: str
    index: int | None = None
    received_at: datetime


SCHEMAS: dict[str, type[BaseModel]] = {
    "meter-reading": MeterReadingPayload,
    "concentrator-readings": ConcentratorPayload,
    "tasmota-sensor": TasmotaSensorPayload,
    "command": CommandPayload,
    "command-ack": CommandAckPayload,
    "deadletter": DeadLetterPayload,
}
"""Explicit registry: schema file name (docs/schemas/{name}.json) -> model."""


def amount_text(amount: Decimal) -> str:
    """A decimal amount as the contract's decimal string (no exponent)."""
    return format(amount, "f")
