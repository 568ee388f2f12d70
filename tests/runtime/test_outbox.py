"""The outbox dispatcher against a real HTTP receiver, a real Mosquitto, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, update

from drivers.mqtt import BrokerAddress, Connection, SessionOptions
from gateway.runtime.outbox import (
    Backoff,
    Channel,
    MqttChannel,
    OutboxDispatcher,
    OutboxMessage,
    open_publisher,
)
from gateway.runtime.webhooks import Webhook, WebhookChannel, signature_header, verify_signature
from gateway.storage.schema import outbox
from tests.mqtt.broker import Mosquitto, free_port
from tests.mqtt.fakes import Probe, wait_until
from tests.runtime.conftest import FakeClock, Receiver, add_outbox, outbox_row

SECRET = "whsec-test"
ALERT = {"event": "low_balance", "account_id": "A1", "balance": "4.20", "level": "5.00"}
_client_ids = itertools.count(1)


def webhook_dispatcher(
    engine: Engine, receiver: Receiver, clock: FakeClock, **options: object
) -> OutboxDispatcher:
    channel = WebhookChannel([Webhook(receiver.url, SECRET)], timeout_s=5)
    return OutboxDispatcher(
        engine,
        channels={"webhook": channel},
        clock=clock,
        rand=lambda: 0.0,  # no jitter: the schedule is exact
        **options,  # type: ignore[arg-type]
    )


def test_backoff_doubles_from_one_second_up_to_ten_minutes_with_jitter_below() -> None:
    backoff = Backoff()
    assert [backoff.delay_s(n, 0.0) for n in range(1, 13)] == [
        1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600
    ]  # fmt: skip
    assert 3.2 <= backoff.delay_s(3, 0.999) < 4
    assert backoff.delay_s(10_000, 0.5) == pytest.approx(540)


def test_verify_signature_accepts_only_the_signed_body_with_the_secret_in_time() -> None:
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    ts = int(now.timestamp())
    body = json.dumps(ALERT).encode()
    header = signature_header(SECRET, ts, body)
    assert verify_signature(SECRET, header, body, now, tolerance_s=300)
    assert verify_signature(SECRET.encode(), header, body, now + timedelta(seconds=299))
    assert not verify_signature("other-secret", header, body, now)
    assert not verify_signature(SECRET, header, body + b" ", now)
    assert not verify_signature(SECRET, header, body, now + timedelta(seconds=301))
    assert not verify_signature(SECRET, "v1=abc", body, now)
    assert not verify_signature(SECRET, "", body, now)
    rotated = f"{header},v1={'0' * 64}"
    assert verify_signature(SECRET, rotated, body, now)


def test_webhook_failures_back_off_then_deliver_signed_with_one_delivery_id(
    engine: Engine, receiver: Receiver, clock: FakeClock
) -> None:
    receiver.fail_first = 2
    t0 = clock.now
    row_id = add_outbox(engine, t0, channel="webhook", topic="low_balance", payload=ALERT)
    dispatcher = webhook_dispatcher(engine, receiver, clock)

    assert dispatcher.process_once(t0) == 1
    row = outbox_row(engine, row_id)
    assert (row.attempts, row.delivered_at) == (1, None)
    assert row.next_attempt_at == t0 + timedelta(seconds=1)
    assert "HTTP 500" in row.last_error

    assert dispatcher.process_once(t0 + timedelta(milliseconds=999)) == 0  # not due yet
    assert len(receiver.requests) == 1

    assert dispatcher.process_once(clock.advance(1)) == 1
    row = outbox_row(engine, row_id)
    assert row.attempts == 2
    assert row.next_attempt_at == clock.now + timedelta(seconds=2)

    assert dispatcher.process_once(clock.advance(2)) == 1
    row = outbox_row(engine, row_id)
    assert (row.attempts, row.delivered_at) == (3, clock.now)

    assert receiver.deliveries() == [str(row_id)] * 3
    for request in receiver.requests:
        assert request.headers["X-Gateway-Event"] == "low_balance"
        assert request.headers["Content-Type"] == "application/json"
        assert json.loads(request.body) == ALERT
        signature = request.headers["X-Gateway-Signature"]
        assert verify_signature(SECRET, signature, request.body, clock.now, tolerance_s=300)
        assert not verify_signature("wrong", signature, request.body, clock.now)
    assert dispatcher.process_once(clock.advance(3600)) == 0
    late = receiver.requests[-1]  # a replay an hour later is refused
    assert not verify_signature(SECRET, late.headers["X-Gateway-Signature"], late.body, clock.now)
    assert dispatcher.counters.delivered == 1
    assert dispatcher.counters.failed_attempts == 2
    assert dispatcher.pending_depth() == (0, 0)


def test_a_failing_row_is_never_dropped_but_retried_at_the_cap_and_counted(
    engine: Engine, clock: FakeClock
) -> None:
    row_id = add_outbox(engine, clock.now, channel="sms", topic="low_balance", payload=ALERT)
    dispatcher = OutboxDispatcher(
        engine,
        channels={},
        backoff=Backoff(first_s=1, cap_s=10),
        alarm_after_attempts=3,
        rand=lambda: 0.0,
    )
    for _ in range(6):
        due = outbox_row(engine, row_id).next_attempt_at
        assert dispatcher.process_once(due) == 1
    row = outbox_row(engine, row_id)
    assert row.attempts == 6
    assert row.delivered_at is None
    assert row.next_attempt_at - due == timedelta(seconds=10)
    assert row.last_error == "no channel 'sms' is configured"
    assert dispatcher.counters.failed_past_alarm == 4  # attempts 3, 4, 5 and 6
    assert dispatcher.pending_depth() == (1, 1)


class Crash(BaseException):
    """The process dies: nothing after this runs, nothing is recorded."""


class CrashAfterSending:
    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    def deliver(self, message: OutboxMessage, now: datetime) -> None:
        self._channel.deliver(message, now)
        raise Crash


def test_a_crash_after_sending_resends_after_the_lease_with_the_same_delivery_id(
    engine: Engine, receiver: Receiver, clock: FakeClock
) -> None:
    t0 = clock.now
    row_id = add_outbox(engine, t0, channel="webhook", topic="relay_opened", payload=ALERT)
    webhook = WebhookChannel([Webhook(receiver.url, SECRET)])
    crashing = OutboxDispatcher(
        engine, channels={"webhook": CrashAfterSending(webhook)}, lease_s=60
    )
    with pytest.raises(Crash):
        crashing.process_once(t0)
    row = outbox_row(engine, row_id)
    assert row.delivered_at is None
    assert row.next_attempt_at == t0 + timedelta(seconds=60)

    restarted = webhook_dispatcher(engine, receiver, clock)
    assert restarted.process_once(clock.advance(30)) == 0  # still leased
    assert restarted.process_once(clock.advance(30)) == 1
    assert outbox_row(engine, row_id).delivered_at == clock.now
    assert receiver.deliveries() == [str(row_id), str(row_id)]
    assert receiver.requests[0].body == receiver.requests[1].body


def test_two_dispatchers_never_deliver_the_same_row_twice(
    engine: Engine, receiver: Receiver, clock: FakeClock
) -> None:
    ids = [
        add_outbox(engine, clock.now, channel="webhook", topic="tick", payload={"n": n})
        for n in range(120)
    ]
    dispatchers = [
        webhook_dispatcher(engine, receiver, clock, batch_size=7, lease_s=60) for _ in range(2)
    ]
    start = threading.Barrier(len(dispatchers))

    def drain(dispatcher: OutboxDispatcher) -> None:
        start.wait()
        while dispatcher.process_once(clock.now) > 0:
            pass

    threads = [threading.Thread(target=drain, args=(d,)) for d in dispatchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    per_delivery = Counter(receiver.deliveries())
    assert sorted(per_delivery) == sorted(str(i) for i in ids)
    assert set(per_delivery.values()) == {1}, "a row was delivered twice"
    assert all(d.counters.delivered > 0 for d in dispatchers), "the work was not shared"
    assert dispatchers[0].pending_depth() == (0, 0)


@pytest.mark.mqtt
def test_mqtt_rows_are_published_at_qos1_and_marked_after_the_puback(
    engine: Engine, broker: Mosquitto, clock: FakeClock
) -> None:
    probe = Probe(broker.port, "gateway/alerts/#", f"probe-{next(_client_ids)}")
    probe.connection.start()
    publisher = open_publisher(
        BrokerAddress(port=broker.port), client_id=f"outbox-{next(_client_ids)}"
    )
    try:
        topic = "gateway/alerts/A1"
        row_id = add_outbox(engine, clock.now, channel="mqtt", topic=topic, payload=ALERT)
        dispatcher = OutboxDispatcher(engine, channels={"mqtt": MqttChannel(publisher)})
        assert dispatcher.process_once(clock.now) == 1
        assert outbox_row(engine, row_id).delivered_at == clock.now
        wait_until(lambda: len(probe.payloads()) == 1)
        assert json.loads(probe.payloads()[0]) == ALERT
        assert probe.messages[0].topic == topic
        assert probe.messages[0].qos == 1
    finally:
        publisher.stop()
        probe.connection.stop()


def test_mqtt_rows_wait_while_the_broker_is_unreachable(engine: Engine, clock: FakeClock) -> None:
    dead = Connection(
        broker=BrokerAddress(port=free_port()), session=SessionOptions(client_id="outbox-dead")
    )
    dead.start(wait_s=None)
    try:
        row_id = add_outbox(engine, clock.now, channel="mqtt", topic="gateway/a", payload=ALERT)
        channel = MqttChannel(dead, timeout_s=0.2)
        dispatcher = OutboxDispatcher(engine, channels={"mqtt": channel}, rand=lambda: 0.0)
        assert dispatcher.process_once(clock.now) == 1
        row = outbox_row(engine, row_id)
        assert (row.attempts, row.delivered_at) == (1, None)
        assert "gateway/a" in row.last_error
    finally:
        dead.stop()


@pytest.mark.anyio
async def test_run_delivers_new_rows_until_stopped(engine: Engine, receiver: Receiver) -> None:
    channel = WebhookChannel([Webhook(receiver.url, SECRET, events=frozenset({"wanted"}))])
    dispatcher = OutboxDispatcher(engine, channels={"webhook": channel}, poll_interval_s=0.02)
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    now = datetime.now(UTC)
    wanted = add_outbox(engine, now, channel="webhook", topic="wanted", payload=ALERT)
    other = add_outbox(engine, now, channel="webhook", topic="other", payload=ALERT)
    for _ in range(500):
        if dispatcher.counters.delivered == 2:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert outbox_row(engine, wanted).delivered_at is not None
    assert outbox_row(engine, other).delivered_at is not None  # no webhook wants it
    assert receiver.deliveries() == [str(wanted)]
    assert channel.unrouted == 1
    with engine.begin() as connection:  # an undelivered row again: the loop has stopped
        connection.execute(update(outbox).values(delivered_at=None))
    assert dispatcher.pending_depth() == (2, 0)
