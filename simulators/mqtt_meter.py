"""A simulated MQTT meter: publishes cumulative readings, answers relay and balance commands.

Energy integrates a constant power exactly (Decimal), on the meter's own clock, optionally
accelerated. `fault` makes it publish garbage. Self-contained on purpose; the richer
`VirtualMeter` (simulators/meter.py) can replace `MeterState` later.

Run: python -m simulators.mqtt_meter --port 1883 --meter-id M1 --power-w 1500 --interval-s 5
"""

import argparse
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from enum import Enum
from typing import Literal

from pydantic import ValidationError

from drivers.mqtt.contract import CommandPayload, amount_text
from drivers.mqtt.payloads import dump_object, load_object
from drivers.mqtt.topics import Topics
from drivers.mqtt.transport import BrokerAddress, Connection, Inbound, SessionOptions

logger = logging.getLogger(__name__)

_US_PER_HOUR = Decimal(3_600_000_000)
_REGISTER_STEP_KWH = Decimal("0.001")
TsFormat = Literal["rfc3339", "unix"]


def utc_now() -> datetime:
    return datetime.now(UTC)


class AcceleratedClock:
    """Simulated time: runs `acceleration` times faster than `base` from the first call."""

    def __init__(self, base: Callable[[], datetime] = utc_now, acceleration: int = 1) -> None:
        self._base = base
        self._acceleration = acceleration
        self._origin = base()

    def __call__(self) -> datetime:
        return self._origin + (self._base() - self._origin) * self._acceleration


class MeterFault(Enum):
    NONE = "none"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NEGATIVE_ENERGY = "negative_energy"
    NAIVE_TS = "naive_ts"


@dataclass
class MeterState:
    """The meter's registers; energy integrates `power_w` from `started_at`, in exact Decimal."""

    meter_id: str
    power_w: Decimal
    started_at: datetime
    start_kwh: Decimal = Decimal(0)
    balance: Decimal | None = None
    relay: Literal["closed", "open"] = "closed"
    seq: int = 0
    _processed: dict[str, dict[str, object]] = field(default_factory=dict)

    def energy_kwh_at(self, at: datetime) -> Decimal:
        elapsed_us = (at - self.started_at) // timedelta(microseconds=1)
        power_w = self.power_w if self.relay == "closed" else Decimal(0)
        kwh = self.start_kwh + power_w * Decimal(elapsed_us) / _US_PER_HOUR / 1000
        return kwh.quantize(_REGISTER_STEP_KWH, rounding=ROUND_FLOOR)

    def reading(self, at: datetime, ts_format: TsFormat = "rfc3339") -> dict[str, object]:
        """The next reading payload (seq increments). While the relay is open, no energy flows."""
        self.seq += 1
        ts: object = at.isoformat() if ts_format == "rfc3339" else int(at.timestamp())
        obj: dict[str, object] = {
            "ts": ts,
            "energy_kwh": format(self.energy_kwh_at(at), "f"),
            "relay": self.relay,
            "seq": self.seq,
        }
        if self.balance is not None:
            obj["balance"] = amount_text(self.balance)
        return obj

    def execute(self, payload: bytes, now: datetime) -> dict[str, object] | None:
        """Apply a command; returns the ack, the same one again for a repeated id."""
        try:
            command = CommandPayload.model_validate(load_object(payload))
        except (ValueError, ValidationError) as exc:
            logger.warning("meter %s: unreadable command: %s", self.meter_id, exc)
            return None
        if command.id in self._processed:
            return self._processed[command.id]
        ack: dict[str, object] = {"id": command.id, "ok": True}
        if command.expires_at < now:
            ack = {"id": command.id, "ok": False, "error": "expired"}
        elif command.action == "set_balance" and command.amount is not None:
            self.balance = command.amount
        elif command.action in {"relay_open", "relay_close"}:
            self._switch("open" if command.action == "relay_open" else "closed", now)
        if ack["ok"]:
            ack["relay"] = self.relay
            if self.balance is not None:
                ack["balance"] = amount_text(self.balance)
        self._processed[command.id] = ack
        return ack

    def _switch(self, relay: Literal["closed", "open"], now: datetime) -> None:
        if relay != self.relay:
            self.start_kwh = self.energy_kwh_at(now)
            self.started_at = now
            self.relay = relay


_FAULT_PAYLOADS = {
    MeterFault.NOT_UTF8: b"\xff\xfe\x00garbage",
    MeterFault.NOT_JSON: b"{energy: 12",
}


class MqttMeter:
    def __init__(
        self,
        state: MeterState,
        *,
        broker: BrokerAddress,
        topics: Topics | None = None,
        clock: Callable[[], datetime] = utc_now,
        command_clock: Callable[[], datetime] = utc_now,
        ts_format: TsFormat = "rfc3339",
    ) -> None:
        self.state = state
        self.fault = MeterFault.NONE
        self._topics = topics or Topics()
        self._clock = clock
        self._command_clock = command_clock  # expiry is judged on real (unaccelerated) time
        self._ts_format = ts_format
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection = Connection(
            broker=broker,
            session=SessionOptions(client_id=f"sim-meter-{state.meter_id}"),
            subscriptions=[(self._topics.command(state.meter_id), 1)],
            on_message=self._on_command,
        )

    def connect(self) -> None:
        self._connection.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._connection.stop()

    def payload(self) -> bytes:
        with self._lock:
            obj = self.state.reading(self._clock(), self._ts_format)
        match self.fault:
            case MeterFault.NONE:
                return dump_object(obj)
            case MeterFault.NEGATIVE_ENERGY:
                return dump_object({**obj, "energy_kwh": "-1"})
            case MeterFault.NAIVE_TS:
                return dump_object({**obj, "ts": self._clock().replace(tzinfo=None).isoformat()})
            case _:
                return _FAULT_PAYLOADS[self.fault]

    def publish_reading(self) -> bytes:
        """Publish one reading at QoS 1 and wait for the broker's PUBACK."""
        payload = self.payload()
        self._connection.publish(self._topics.meter_reading(self.state.meter_id), payload)
        return payload

    def run_every(self, interval_s: float) -> None:
        """Publish a reading every `interval_s` real seconds in a background thread."""
        self._thread = threading.Thread(target=self._loop, args=(interval_s,), daemon=True)
        self._thread.start()

    def _loop(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            self.publish_reading()

    def _on_command(self, message: Inbound) -> None:
        with self._lock:
            ack = self.state.execute(message.payload, self._command_clock())
        if ack is not None:
            topic = self._topics.command_ack(self.state.meter_id)
            self._connection.publish_nowait(topic, dump_object(ack))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--meter-id", default="M1")
    parser.add_argument("--power-w", type=Decimal, default=Decimal(1000))
    parser.add_argument("--interval-s", type=float, default=5.0)
    parser.add_argument("--acceleration", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    clock = AcceleratedClock(acceleration=args.acceleration)
    state = MeterState(meter_id=args.meter_id, power_w=args.power_w, started_at=clock())
    meter = MqttMeter(state, broker=BrokerAddress(args.host, args.port), clock=clock)
    meter.connect()
    meter.run_every(args.interval_s)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        meter.close()


if __name__ == "__main__":
    main()
