"""A simulated data concentrator: N meters, their readings batched into one message each tick.

Run: python -m simulators.mqtt_concentrator --port 1883 --meters 100 --interval-s 5
"""

import argparse
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

from drivers.mqtt.payloads import dump_object
from drivers.mqtt.topics import Topics
from drivers.mqtt.transport import BrokerAddress, Connection, SessionOptions
from simulators.mqtt_meter import AcceleratedClock, MeterState, utc_now


def make_meters(
    count: int, *, started_at: datetime, prefix: str = "M", power_w: Decimal = Decimal(1000)
) -> list[MeterState]:
    """`count` meters M0001..., each with a slightly different constant power."""
    return [
        MeterState(meter_id=f"{prefix}{i:04d}", power_w=power_w + i, started_at=started_at)
        for i in range(1, count + 1)
    ]


class MqttConcentrator:
    def __init__(
        self,
        concentrator_id: str,
        meters: Sequence[MeterState],
        *,
        broker: BrokerAddress,
        topics: Topics | None = None,
        clock: Callable[[], datetime] = utc_now,
        batch_size: int = 100,
    ) -> None:
        self.concentrator_id = concentrator_id
        self.meters = list(meters)
        self._topics = topics or Topics()
        self._clock = clock
        self._batch_size = batch_size
        self._connection = Connection(
            broker=broker, session=SessionOptions(client_id=f"sim-dcu-{concentrator_id}")
        )

    def connect(self) -> None:
        self._connection.start()

    def close(self) -> None:
        self._connection.stop()

    def payloads(self) -> list[bytes]:
        """One tick: every meter's reading, `batch_size` readings per message."""
        now = self._clock()
        entries = [{"meter_id": m.meter_id, **m.reading(now)} for m in self.meters]
        return [
            dump_object({"readings": entries[i : i + self._batch_size]})
            for i in range(0, len(entries), self._batch_size)
        ]

    def publish_tick(self, *, confirm: bool = True) -> int:
        """Publish one tick at QoS 1; returns the number of readings sent."""
        topic = self._topics.concentrator_readings(self.concentrator_id)
        for payload in self.payloads():
            if confirm:
                self._connection.publish(topic, payload)
            else:
                self._connection.publish_nowait(topic, payload)
        return len(self.meters)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--concentrator-id", default="C1")
    parser.add_argument("--meters", type=int, default=100)
    parser.add_argument("--interval-s", type=float, default=5.0)
    parser.add_argument("--acceleration", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    clock = AcceleratedClock(acceleration=args.acceleration)
    dcu = MqttConcentrator(
        args.concentrator_id,
        make_meters(args.meters, started_at=clock()),
        broker=BrokerAddress(args.host, args.port),
        clock=clock,
    )
    dcu.connect()
    stop = threading.Event()
    try:
        while not stop.wait(args.interval_s):
            dcu.publish_tick()
    except KeyboardInterrupt:
        dcu.close()


if __name__ == "__main__":
    main()
