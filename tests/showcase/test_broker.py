"""The demo's broker choice: Mosquitto when installed, else the embedded amqtt, whose QoS 1
delivery with manual acks works within a connection but is not redelivered after one."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.mqtt.transport import BrokerAddress, Connection, Inbound, SessionOptions
from gateway.showcase import broker as broker_module
from gateway.showcase.broker import BrokerError, RunningBroker, start_broker


def wait_until(condition: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        time.sleep(0.02)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Inbound] = []
        self._lock = threading.Lock()

    def __call__(self, message: Inbound) -> None:
        with self._lock:
            self.messages.append(message)

    def payloads(self) -> list[bytes]:
        with self._lock:
            return [m.payload for m in self.messages]


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[RunningBroker]:
    monkeypatch.setattr(broker_module, "find_mosquitto", lambda: None)  # a machine without it
    running = start_broker("auto", tmp_path)
    yield running
    running.stop()


def subscriber(port: int, inbox: Inbox) -> Connection:
    session = SessionOptions(client_id="demo-test-sub", persistent=True, manual_ack=True)
    return Connection(broker=BrokerAddress(port=port), session=session,
                      subscriptions=[("meters/+/reading", 1)], on_message=inbox)  # fmt: skip


def test_without_mosquitto_auto_embeds_amqtt_and_says_why(embedded: RunningBroker) -> None:
    assert embedded.description == "embedded amqtt"
    assert embedded.note is not None
    assert "does not redeliver" in embedded.note


def test_mosquitto_is_refused_by_name_when_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(broker_module, "find_mosquitto", lambda: None)
    with pytest.raises(BrokerError, match="no `mosquitto` binary"):
        start_broker("mosquitto", tmp_path)
    with pytest.raises(BrokerError, match="HOST:PORT"):
        start_broker("localhost", tmp_path)


def test_embedded_delivers_qos1_with_manual_acks_within_a_connection(
    embedded: RunningBroker,
) -> None:
    inbox = Inbox()
    sub = subscriber(embedded.port, inbox)
    sub.start(wait_s=5)
    pub = Connection(broker=BrokerAddress(port=embedded.port),
                     session=SessionOptions(client_id="demo-test-pub"))  # fmt: skip
    pub.start(wait_s=5)
    try:
        for index in range(20):  # none acked yet: the broker must not hold the rest back
            pub.publish("meters/M1/reading", f"r{index}".encode())
        wait_until(lambda: len(inbox.payloads()) == 20, 5, "20 messages unacked in flight")
        assert inbox.payloads() == [f"r{index}".encode() for index in range(20)]
        assert all(sub.ack(message) for message in inbox.messages)
        pub.publish("meters/M1/reading", b"after-acks")
        wait_until(lambda: inbox.payloads()[-1:] == [b"after-acks"], 5, "delivery after acks")
    finally:
        sub.stop()
        pub.stop()


@pytest.mark.parametrize(
    ("choice", "redelivered"),
    [pytest.param("mosquitto", [b"unacked"], marks=pytest.mark.mqtt), ("embedded", [])],
)
def test_unacked_messages_after_a_reconnect(
    choice: str, redelivered: list[bytes], tmp_path: Path
) -> None:
    """Why Mosquitto is preferred: on a resumed persistent session it sends the unacknowledged
    message again before newer ones, as MQTT requires; amqtt 0.12 resumes the session (session
    present) but drops the message."""
    if choice == "mosquitto" and broker_module.find_mosquitto() is None:
        pytest.fail("Mosquitto binary not found (scripts/install-test-tools.sh installs it)")
    running = start_broker(choice, tmp_path)
    inbox = Inbox()
    sub = subscriber(running.port, inbox)
    sub.start(wait_s=5)
    pub = Connection(broker=BrokerAddress(port=running.port),
                     session=SessionOptions(client_id="demo-test-pub"))  # fmt: skip
    pub.start(wait_s=5)
    try:
        pub.publish("meters/M1/reading", b"unacked")
        wait_until(lambda: inbox.payloads() == [b"unacked"], 5, "the first delivery")
        sub.stop()  # never acked
        inbox.messages.clear()
        sub = subscriber(running.port, inbox)
        sub.start(wait_s=5)
        pub.publish("meters/M1/reading", b"marker")
        wait_until(lambda: b"marker" in inbox.payloads(), 5, "the marker")
        assert inbox.payloads() == [*redelivered, b"marker"]
    finally:
        sub.stop()
        pub.stop()
        running.stop()
