"""Fakes (not mocks) for the MQTT tests: an in-memory sink and a topic probe."""

import threading
import time
from collections.abc import Callable, Sequence

from drivers.mqtt import BrokerAddress, Connection, Inbound, MqttReading, SessionOptions


class SinkDownError(Exception):
    """The fake ledger refuses to commit."""


def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Poll `condition` until true; fail the test with AssertionError at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            msg = f"condition not met within {timeout_s} s"
            raise AssertionError(msg)
        time.sleep(0.01)


class FakeSink:
    """Records committed batches; can be told to fail the next N calls or to block."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.batches: list[list[MqttReading]] = []
        self.calls = 0
        self._failures_left = 0
        self._open = threading.Event()
        self._open.set()

    def fail_next(self, calls: int) -> None:
        with self._lock:
            self._failures_left = calls

    def block(self) -> None:
        self._open.clear()

    def unblock(self) -> None:
        self._open.set()

    def __call__(self, batch: Sequence[MqttReading]) -> None:
        self._open.wait(timeout=30)
        with self._lock:
            self.calls += 1
            if self._failures_left > 0:
                self._failures_left -= 1
                msg = "ledger unavailable"
                raise SinkDownError(msg)
            self.batches.append(list(batch))

    @property
    def readings(self) -> list[MqttReading]:
        with self._lock:
            return [r for b in self.batches for r in b]


class Probe:
    """Subscribes to a topic filter and records every message (QoS 1)."""

    def __init__(self, port: int, topic_filter: str, client_id: str) -> None:
        self._lock = threading.Lock()
        self.messages: list[Inbound] = []
        self.connection = Connection(
            broker=BrokerAddress(port=port),
            session=SessionOptions(client_id=client_id),
            subscriptions=[(topic_filter, 1)],
            on_message=self._record,
        )

    def _record(self, message: Inbound) -> None:
        with self._lock:
            self.messages.append(message)

    def payloads(self) -> list[bytes]:
        with self._lock:
            return [m.payload for m in self.messages]


class Publisher:
    """A plain QoS 1 publisher (clean session) for raw test payloads."""

    def __init__(self, port: int, client_id: str) -> None:
        self.connection = Connection(
            broker=BrokerAddress(port=port), session=SessionOptions(client_id=client_id)
        )

    def publish(self, topic: str, payload: bytes) -> None:
        self.connection.publish(topic, payload)
