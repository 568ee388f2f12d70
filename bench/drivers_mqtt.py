"""MQTT ingest throughput, end to end: concentrator -> Mosquitto -> gateway -> SQLite.

Not a test. Starts its own Mosquitto on a free port, publishes concentrator batches of 100
readings (QoS 1), and times until every reading is committed by a sink that inserts rows
with sqlite3 in one transaction per batch. That sink stands in for the ledger's ingest
service, which comes later; expect the ledger (PostgreSQL, VEE, rating) to be the limit.

    .venv/bin/python -m bench.drivers_mqtt [--messages 2000] [--readings-per-message 100]
"""

import argparse
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from drivers.mqtt import (
    BatchPolicy,
    BrokerAddress,
    GatewayConfig,
    MqttGateway,
    MqttReading,
    ReadingDecoder,
    ReadingLimits,
    Topics,
)
from simulators.mqtt_concentrator import MqttConcentrator, make_meters


def start_mosquitto(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A private Mosquitto on a free port; returns once it accepts connections."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    config = workdir / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\n"
        "max_queued_messages 1000000\nmax_inflight_messages 100\nuser root\nlog_dest none\n"
    )
    process = subprocess.Popen(
        ["/usr/sbin/mosquitto", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process, port
        time.sleep(0.02)
    process.kill()
    msg = "mosquitto did not start"
    raise RuntimeError(msg)


class SqliteSink:
    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE readings (meter_id TEXT, ts TEXT, energy_kwh TEXT, seq INTEGER,"
            " PRIMARY KEY (meter_id, ts))"
        )
        self.rows = 0
        self.batches = 0
        self.done = threading.Event()
        self.expected = 0

    def __call__(self, batch: Sequence[MqttReading]) -> None:
        rows = [(r.meter_id, r.ts.isoformat(), str(r.energy_kwh), r.seq) for r in batch]
        self._db.execute("BEGIN")
        self._db.executemany("INSERT OR IGNORE INTO readings VALUES (?, ?, ?, ?)", rows)
        self._db.execute("COMMIT")
        self.rows += len(rows)
        self.batches += 1
        if self.rows >= self.expected:
            self.done.set()


def stepping_clock(start: datetime, step: timedelta) -> Callable[[], datetime]:
    """Each call is one tick later, so every reading has its own (meter, ts)."""
    state = {"now": start}

    def now() -> datetime:
        state["now"] += step
        return state["now"]

    return now


def run(messages: int, per_message: int, max_batch: int, workdir: Path) -> dict[str, float]:
    broker_dir = workdir / f"broker-{max_batch}"
    broker_dir.mkdir()
    broker, port = start_mosquitto(broker_dir)
    sink = SqliteSink(workdir / f"bench-{max_batch}.sqlite")
    sink.expected = messages * per_message
    config = GatewayConfig(
        broker=BrokerAddress(port=port),
        client_id=f"bench-gw-{max_batch}",
        batch=BatchPolicy(max_messages=max_batch, max_wait_ms=20),
    )
    gateway = MqttGateway(config, sink)
    gateway.start()
    start = datetime(2024, 1, 1, tzinfo=UTC)
    dcu = MqttConcentrator(
        "BENCH",
        make_meters(per_message, started_at=start),
        broker=BrokerAddress(port=port),
        clock=stepping_clock(start, timedelta(minutes=1)),
        batch_size=per_message,
    )
    dcu.connect()
    try:
        began = time.perf_counter()
        for _ in range(messages):
            dcu.publish_tick(confirm=False)
        published = time.perf_counter() - began
        if not sink.done.wait(timeout=300):
            msg = f"only {sink.rows} of {sink.expected} readings committed"
            raise RuntimeError(msg)
        elapsed = time.perf_counter() - began
    finally:
        dcu.close()
        gateway.stop()
        broker.terminate()
        broker.wait()
    return {
        "readings": sink.rows,
        "seconds": elapsed,
        "readings_per_s": sink.rows / elapsed,
        "messages_per_s": messages / elapsed,
        "publish_s": published,
        "batches": sink.batches,
    }


def decode_only(messages: int, per_message: int) -> float:
    """Readings/s of validation alone (JSON -> pydantic -> MqttReading), no broker, no sink."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    dcu = MqttConcentrator(
        "BENCH",
        make_meters(per_message, started_at=start),
        broker=BrokerAddress(),
        clock=stepping_clock(start, timedelta(minutes=1)),
        batch_size=per_message,
    )
    payloads = [p for _ in range(messages) for p in dcu.payloads()]
    decoder = ReadingDecoder(topics=Topics(), limits=ReadingLimits(), tasmota_devices={})
    now = datetime.now(UTC)
    began = time.perf_counter()
    count = sum(len(decoder.decode("concentrators/B/readings", p, now).readings) for p in payloads)
    return count / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--readings-per-message", type=int, default=100)
    args = parser.parse_args()
    print(f"{args.messages} concentrator messages x {args.readings_per_message} readings, QoS 1")
    print("max msgs/sink call | readings | seconds | readings/s | messages/s | sink calls")
    with tempfile.TemporaryDirectory() as tmp:
        for max_batch in (1, 10, 50):
            r = run(args.messages, args.readings_per_message, max_batch, Path(tmp))
            print(
                f"{max_batch:>18} | {r['readings']:>8.0f} | {r['seconds']:>7.2f} |"
                f" {r['readings_per_s']:>10.0f} | {r['messages_per_s']:>10.1f} |"
                f" {r['batches']:>10.0f}"
            )
    rate = decode_only(args.messages // 4, args.readings_per_message)
    print(f"validation alone (no broker, no sink): {rate:.0f} readings/s")


if __name__ == "__main__":
    main()
