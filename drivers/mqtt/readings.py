"""From an MQTT message (topic, bytes) to validated readings: pure, no broker, no clock.

`ReadingDecoder.decode` never raises for bad input: every refusal becomes a `Rejection`
with a reason naming the field, which the pipeline dead-letters.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from drivers.mqtt.commands import CommandAck
from drivers.mqtt.contract import (
    CommandAckPayload,
    ConcentratorEntry,
    ConcentratorEnvelope,
    MeterReadingPayload,
    TasmotaSensorPayload,
)
from drivers.mqtt.errors import PayloadError
from drivers.mqtt.fields import RelayState, parse_stamp
from drivers.mqtt.payloads import load_object, reason_of
from drivers.mqtt.topics import Route, TopicKind, Topics


@dataclass(frozen=True, slots=True)
class MqttReading:
    """One validated meter reading as it came over MQTT. Registers are cumulative."""

    meter_id: str
    ts: datetime  # aware, UTC
    energy_kwh: Decimal
    bands_kwh: tuple[tuple[str, Decimal], ...]  # (band, kWh), sorted by band name
    balance: Decimal | None
    relay: RelayState | None
    seq: int | None
    source_topic: str
    received_at: datetime  # aware, UTC


@dataclass(frozen=True, slots=True)
class ReadingLimits:
    """What is absurd: above `max_energy_kwh`, or `ts` more than `max_future_skew_s` ahead."""

    max_energy_kwh: Decimal = Decimal("1e9")
    max_future_skew_s: int = 300


@dataclass(frozen=True, slots=True)
class TasmotaDevice:
    """A Tasmota device name mapped to the meter it measures and its local time zone."""

    meter_id: str
    timezone: ZoneInfo


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why (part of) a message was refused; `index` is the entry of a concentrator batch."""

    reason: str
    index: int | None = None


@dataclass(frozen=True, slots=True)
class Decoded:
    readings: tuple[MqttReading, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    command_acks: tuple[CommandAck, ...] = field(default=())


class ReadingDecoder:
    """Turns contract messages into `MqttReading`s, refusing malformed or absurd input."""

    def __init__(
        self,
        *,
        topics: Topics,
        limits: ReadingLimits,
        tasmota_devices: Mapping[str, TasmotaDevice],
        meter_known: Callable[[str], bool] | None = None,
    ) -> None:
        self._topics = topics
        self._limits = limits
        self._tasmota = dict(tasmota_devices)
        self._meter_known = meter_known

    def decode(self, topic: str, payload: bytes, received_at: datetime) -> Decoded:
        route = self._topics.route(topic)
        if route is None:
            return Decoded(rejections=(Rejection(f"topic: not part of the contract: {topic}"),))
        try:
            obj = load_object(payload)
            return self._decode_object(route, topic, obj, received_at)
        except PayloadError as exc:
            return Decoded(rejections=(Rejection(str(exc)),))
        except ValidationError as exc:
            return Decoded(rejections=(Rejection(reason_of(exc)),))

    def _decode_object(
        self, route: Route, topic: str, obj: dict[str, Any], received_at: datetime
    ) -> Decoded:
        match route.kind:
            case TopicKind.METER_READING:
                self._check_meter(route.key, "topic")
                model = MeterReadingPayload.model_validate(obj)
                return Decoded(readings=(self._reading(route.key, model, topic, received_at),))
            case TopicKind.CONCENTRATOR_READINGS:
                return self._concentrator(obj, topic, received_at)
            case TopicKind.TASMOTA_SENSOR:
                return Decoded(
                    readings=(self._tasmota_reading(route.key, obj, topic, received_at),)
                )
            case TopicKind.COMMAND_ACK:
                ack = CommandAckPayload.model_validate(obj)
                return Decoded(command_acks=(CommandAck.from_payload(route.key, ack),))

    def _concentrator(self, obj: dict[str, Any], topic: str, received_at: datetime) -> Decoded:
        envelope = ConcentratorEnvelope.model_validate(obj)
        readings: list[MqttReading] = []
        rejections: list[Rejection] = []
        for index, entry in enumerate(envelope.readings):
            prefix = f"readings[{index}]"
            try:
                model = ConcentratorEntry.model_validate(entry)
                readings.append(self._reading(model.meter_id, model, topic, received_at, prefix))
            except ValidationError as exc:
                rejections.append(Rejection(reason_of(exc, prefix), index))
            except PayloadError as exc:
                rejections.append(Rejection(str(exc), index))
        return Decoded(readings=tuple(readings), rejections=tuple(rejections))

    def _tasmota_reading(
        self, device: str, obj: dict[str, Any], topic: str, received_at: datetime
    ) -> MqttReading:
        known = self._tasmota.get(device)
        if known is None:
            raise PayloadError("topic", f"unknown Tasmota device {device!r}")
        model = TasmotaSensorPayload.model_validate(obj)
        ts = _local_to_utc(model.time, known.timezone)
        self._check_meter(known.meter_id, "topic")
        self._check_limits(
            ts=ts,
            energy_kwh=model.energy.total_kwh,
            received_at=received_at,
            prefix="",
            ts_field="Time",
            energy_field="ENERGY.Total",
        )
        return MqttReading(
            meter_id=known.meter_id,
            ts=ts,
            energy_kwh=model.energy.total_kwh,
            bands_kwh=(),
            balance=None,
            relay=None,
            seq=None,
            source_topic=topic,
            received_at=received_at,
        )

    def _reading(
        self,
        meter_id: str,
        model: MeterReadingPayload,
        topic: str,
        received_at: datetime,
        prefix: str = "",
    ) -> MqttReading:
        self._check_meter(meter_id, f"{prefix}.meter_id" if prefix else "topic")
        self._check_limits(
            ts=model.ts,
            energy_kwh=model.energy_kwh,
            received_at=received_at,
            prefix=prefix,
            ts_field="ts",
            energy_field="energy_kwh",
        )
        bands = tuple(sorted((model.tou_kwh or {}).items()))
        for band, band_kwh in bands:
            self._check_energy(band_kwh, _dotted(prefix, f"tou_kwh.{band}"))
        return MqttReading(
            meter_id=meter_id,
            ts=model.ts,
            energy_kwh=model.energy_kwh,
            bands_kwh=bands,
            balance=model.balance,
            relay=model.relay,
            seq=model.seq,
            source_topic=topic,
            received_at=received_at,
        )

    def _check_meter(self, meter_id: str, field_name: str) -> None:
        if self._meter_known is not None and not self._meter_known(meter_id):
            raise PayloadError(field_name, f"unknown meter {meter_id!r}")

    def _check_limits(
        self,
        *,
        ts: datetime,
        energy_kwh: Decimal,
        received_at: datetime,
        prefix: str,
        ts_field: str,
        energy_field: str,
    ) -> None:
        skew = ts - received_at
        if skew > timedelta(seconds=self._limits.max_future_skew_s):
            raise PayloadError(
                _dotted(prefix, ts_field),
                f"{int(skew.total_seconds())} s in the future "
                f"(more than {self._limits.max_future_skew_s} s)",
            )
        self._check_energy(energy_kwh, _dotted(prefix, energy_field))

    def _check_energy(self, energy_kwh: Decimal, field_name: str) -> None:
        if energy_kwh > self._limits.max_energy_kwh:
            raise PayloadError(field_name, f"must be <= {self._limits.max_energy_kwh:f}")


def _dotted(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _local_to_utc(text: str, zone: ZoneInfo) -> datetime:
    """Tasmota's local time to UTC; refuse a wall time that DST makes ambiguous or skips."""
    try:
        parsed, has_offset = parse_stamp(text)
    except ValueError as exc:
        raise PayloadError("Time", str(exc)) from exc
    if has_offset:
        return parsed.astimezone(UTC)
    early = parsed.replace(tzinfo=zone, fold=0)
    late = parsed.replace(tzinfo=zone, fold=1)
    if early.utcoffset() != late.utcoffset():
        raise PayloadError("Time", f"{text} is ambiguous or skipped in {zone.key} (DST change)")
    return early.astimezone(UTC)
