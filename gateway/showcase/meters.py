"""The demo's simulated meters: MQTT meters publishing on accelerated clocks (a thread), and a
Modbus TCP meter served by the project's simulator in the demo's event loop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from drivers.models import MODELS
from drivers.mqtt.errors import BrokerUnavailableError, PublishNotConfirmedError
from drivers.mqtt.transport import BrokerAddress
from gateway.showcase.seed import CAST, MODBUS_MODEL, MODBUS_UNIT, Timing
from simulators.fleet import make_unit
from simulators.meter import AcceleratedClock
from simulators.modbus_server import MeterBusContext, RunningServer, serve_tcp
from simulators.mqtt_meter import MeterState, MqttMeter
from simulators.profiles import ConstantLoad

logger = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class MeterClock:
    """A simulated meter's clock: `tick()` moves it one step (a reading), never past the real
    now; `current()` reads it without moving it (commands are carried out at that time)."""

    def __init__(
        self, origin: datetime, timing: Timing, real: Callable[[], datetime] = utc_now
    ) -> None:
        self._now, self._step, self._real = origin, timing.mqtt_step, real

    def tick(self) -> datetime:
        self._now = min(self._now + self._step, self._real())
        return self._now

    def current(self) -> datetime:
        return self._now


class MqttFleet:
    """The MQTT meters of the cast: each publishes a reading every `reading_every_s` (QoS 1)
    and answers relay commands on its own topic."""

    def __init__(self, broker: tuple[str, int], origin: datetime, timing: Timing) -> None:
        self._every_s = timing.reading_every_s
        self.meters: list[MqttMeter] = []
        for cast in CAST:
            if cast.protocol != "mqtt":
                continue
            clock = MeterClock(origin, timing)
            state = MeterState(cast.meter_id, power_w=cast.power_w, started_at=origin)
            self.meters.append(
                MqttMeter(
                    state,
                    broker=BrokerAddress(*broker),
                    clock=clock.tick,
                    command_clock=clock.current,
                )
            )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-meters", daemon=True)

    def start(self) -> None:
        for meter in self.meters:
            meter.connect()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            for meter in self.meters:
                try:
                    meter.publish_reading()
                except (PublishNotConfirmedError, BrokerUnavailableError) as exc:
                    logger.warning("meter %s: reading not published: %s", meter.state.meter_id, exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        for meter in self.meters:
            meter.close()


async def serve_modbus_meters(timing: Timing) -> RunningServer:
    """The cast's Modbus meters on one TCP port (any free one), each at a constant load."""
    clock = AcceleratedClock(utc_now(), factor=timing.modbus_acceleration)
    units = {
        MODBUS_UNIT + index: make_unit(
            MODELS[MODBUS_MODEL],
            clock,
            profile=ConstantLoad(cast.power_w),
            serial_number=MODBUS_UNIT + index,
            balance=Decimal(0),
        )
        for index, cast in enumerate(m for m in CAST if m.protocol == "modbus")
    }
    return await serve_tcp(MeterBusContext(units), host="127.0.0.1", port=0)
