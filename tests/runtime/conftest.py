"""Fixtures for the runtime tests: databases on both backends, a real HTTP receiver, a fake
clock, row inserters (the ledger side is not used), and the session's real Mosquitto."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from gateway.storage.schema import accounts, meter_commands, meters, outbox
from tests.dbs import BACKENDS, engine_for, fresh_database
from tests.mqtt.conftest import broker, fake_sink, gateway_factory  # noqa: F401 - fixtures

_command_ids = itertools.count(1)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with fresh_database(request.param, tmp_path) as url:
        db = engine_for(url)
        yield db
        db.dispose()


class FakeClock:
    """Starts at the real time (MQTT meters judge expiry on their own real clock)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What the HTTP server got; it answers 500 to the first `fail_first` requests."""

    fail_first: int = 0
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def record(self, request: Received) -> int:
        with self.lock:
            self.requests.append(request)
            return 500 if len(self.requests) <= self.fail_first else 204

    def deliveries(self) -> list[str]:
        with self.lock:
            return [r.headers["X-Gateway-Delivery"] for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            status = state.record(Received(self.path, dict(self.headers.items()), body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def add_outbox(engine: Engine, now: datetime, *, channel: str, topic: str, payload: object) -> int:
    with engine.begin() as connection:
        result = connection.execute(
            insert(outbox).values(
                channel=channel,
                topic=topic,
                payload=payload,
                created_at=now,
                next_attempt_at=now,
                attempts=0,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def outbox_row(engine: Engine, row_id: int) -> Any:
    with engine.connect() as connection:
        return connection.execute(select(outbox).where(outbox.c.id == row_id)).one()


def add_meter(engine: Engine, meter_id: str, now: datetime) -> None:
    zero = Decimal(0)
    with engine.begin() as connection:
        connection.execute(
            insert(accounts).values(
                id=f"A-{meter_id}",
                currency="EUR",
                minor_unit=2,
                opening_balance=zero,
                balance=zero,
                extra_kwh_per_month=zero,
                last_hash="0" * 64,
                cycle_consumed_kwh=zero,
                cycle_exact_charge=zero,
                cycle_exact_tax=zero,
                created_at=now,
            )
        )
        connection.execute(
            insert(meters).values(
                id=meter_id,
                account_id=f"A-{meter_id}",
                serial=f"S-{meter_id}",
                multiplier=Decimal(1),
                max_power_kw=Decimal(20),
                expected_interval_s=900,
                last_offset_kwh=zero,
            )
        )


def add_command(
    engine: Engine,
    meter_id: str,
    action: str,
    created_at: datetime,
    *,
    ttl_s: float = 300,
    params: dict[str, str] | None = None,
) -> str:
    command_id = f"cmd-{next(_command_ids)}"
    with engine.begin() as connection:
        connection.execute(
            insert(meter_commands).values(
                id=command_id,
                meter_id=meter_id,
                action=action,
                params=params,
                reason="test",
                status="pending",
                attempts=0,
                created_at=created_at,
                expires_at=created_at + timedelta(seconds=ttl_s),
                next_attempt_at=created_at,
            )
        )
    return command_id


def command_row(engine: Engine, command_id: str) -> Any:
    with engine.connect() as connection:
        return connection.execute(
            select(meter_commands).where(meter_commands.c.id == command_id)
        ).one()


def meter_relay(engine: Engine, meter_id: str) -> str:
    with engine.connect() as connection:
        relay = connection.execute(select(meters.c.relay).where(meters.c.id == meter_id)).scalar()
        return str(relay)
