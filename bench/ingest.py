"""Readings validated, rated and committed per second by `record_readings` (not a test).

    .venv/bin/python -m bench.ingest [--readings 50000] [--single 2000] [--accounts 10000]
                                     [--backends sqlite,postgresql] [--batches 1,100,1000]

10,000 accounts on the flat tariff, one meter each, installed with a starting reading so every
reading is charged. Readings arrive in time order, each meter every 15 minutes, in batches of
1 / 100 / 1,000, one transaction (one UnitOfWork) per batch; batch latency is measured from
the start of `record_readings` to the return of `commit()`. Batches of 1 use `--single`
readings. As a ceiling, the same rows go with plain `sqlite3` executemany into a comparable
readings table, one transaction per batch. SQLite is a file in a temporary directory;
PostgreSQL a fresh schema in PREPAID_GATEWAY_TEST_POSTGRES's database, dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, func, select, text

from gateway.ledger import admin
from gateway.ledger.ingest import ReadingIn, record_readings
from gateway.ledger.tariffs import TariffCache
from gateway.storage.db import UnitOfWork, make_engine
from gateway.storage.migrate import upgrade
from gateway.storage.schema import ledger_entries

POSTGRES_URL = os.environ.get(
    "PREPAID_GATEWAY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)
T0 = datetime(2024, 6, 1, tzinfo=UTC)
STEP = timedelta(minutes=15)
NOW = datetime(2025, 1, 1, tzinfo=UTC)
TARIFF = {
    "tariff_id": "flat", "version": 1, "effective_from": "2024-01-01", "timezone": "UTC",
    "currency": "EUR", "price_per_kwh": "0.2734",
}  # fmt: skip
TARGETS = {"sqlite": 10_000, "postgresql": 5_000}  # readings/s with batches of 1,000


@dataclass(frozen=True, slots=True)
class Run:
    backend: str
    batch: int
    readings: int
    seconds: float
    latencies_s: list[float]

    @property
    def per_s(self) -> float:
        return self.readings / self.seconds

    def percentile_ms(self, q: int) -> float:
        if len(self.latencies_s) == 1:
            return self.latencies_s[0] * 1000
        return statistics.quantiles(self.latencies_s, n=100, method="inclusive")[q - 1] * 1000


class Feed:
    """The meters' readings in time order: meter 0..n-1 at step 1, then at step 2, ..."""

    def __init__(self, meters: int) -> None:
        self.meters = meters
        self.position = 0

    def take(self, count: int) -> list[ReadingIn]:
        out = []
        for position in range(self.position, self.position + count):
            step, meter = divmod(position, self.meters)
            kwh = Decimal(step + 1) * Decimal("0.5") + Decimal(meter % 7) / 1000 * (step + 1)
            out.append(ReadingIn(f"M{meter:05d}", T0 + STEP * (step + 1), kwh, source="bench"))
        self.position += count
        return out


@contextmanager
def database(backend: str, directory: Path) -> Iterator[Engine]:
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{directory / 'bench.db'}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin_engine = make_engine(POSTGRES_URL)
    with admin_engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    engine = make_engine(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin_engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin_engine.dispose()


def populate(engine: Engine, accounts: int) -> None:
    with UnitOfWork(engine) as uow:
        admin.register_tariff_version(uow, TARIFF, NOW)
        for number in range(accounts):
            admin.create_account(uow, f"A{number:05d}", currency="EUR", tariff_id="flat",
                                 now=NOW, opening_balance=Decimal(1000))  # fmt: skip
            admin.add_meter(uow, f"M{number:05d}", account_id=f"A{number:05d}",
                            serial=f"S{number:05d}", installed_at=T0,
                            install_reading_kwh=Decimal(0))  # fmt: skip
        uow.commit()


def ingest(engine: Engine, backend: str, batches: list[list[ReadingIn]], cache: TariffCache) -> Run:
    latencies = []
    began = time.perf_counter()
    for batch in batches:
        start = time.perf_counter()
        with UnitOfWork(engine) as uow:
            results = record_readings(uow, batch, now=NOW, tariffs=cache)
            uow.commit()
        latencies.append(time.perf_counter() - start)
        if any(r.entry_id is None for r in results):
            msg = f"not every reading was charged: {next(r for r in results if not r.entry_id)}"
            raise AssertionError(msg)
    seconds = time.perf_counter() - began
    return Run(backend, len(batches[0]), sum(map(len, batches)), seconds, latencies)


RAW_TABLE = """CREATE TABLE readings (
    id VARCHAR(32) PRIMARY KEY, meter_id VARCHAR(64) NOT NULL, ts DATETIME NOT NULL,
    received_at DATETIME NOT NULL, source VARCHAR(200) NOT NULL, raw_kwh VARCHAR(64) NOT NULL,
    bands_kwh JSON, balance VARCHAR(64), relay VARCHAR(8), continuous_kwh VARCHAR(64),
    outcome VARCHAR(16) NOT NULL, flags VARCHAR(120) NOT NULL, reason TEXT NOT NULL,
    entry_id VARCHAR(32), UNIQUE (meter_id, ts))"""


def raw_sqlite(directory: Path, batches: list[list[ReadingIn]]) -> Run:
    """The ceiling: the same reading rows, executemany, one transaction per batch."""
    connection = sqlite3.connect(directory / "raw.db", isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL"):
        connection.execute(f"PRAGMA {pragma}")
    connection.execute(RAW_TABLE)
    sql = "INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, NULL, ?, ?, '', '', ?)"
    latencies = []
    began = time.perf_counter()
    for batch in batches:
        start = time.perf_counter()
        rows = [
            (uuid.uuid4().hex, r.meter_id, r.ts.replace(tzinfo=None).isoformat(" "),
             NOW.replace(tzinfo=None).isoformat(" "), r.source, format(r.energy_kwh, "f"),
             format(r.energy_kwh, "f"), "accepted", uuid.uuid4().hex)
            for r in batch
        ]  # fmt: skip
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(sql, rows)
        connection.execute("COMMIT")
        latencies.append(time.perf_counter() - start)
    seconds = time.perf_counter() - began
    connection.close()
    return Run("raw sqlite3", len(batches[0]), sum(map(len, batches)), seconds, latencies)


def chunks(readings: list[ReadingIn], size: int) -> list[list[ReadingIn]]:
    return [readings[start : start + size] for start in range(0, len(readings), size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readings", type=int, default=50_000, help="per run, batches > 1")
    parser.add_argument("--single", type=int, default=2_000, help="per run, batches of 1")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--batches", default="1,100,1000")
    options = parser.parse_args()
    sizes = [int(size) for size in options.batches.split(",")]
    runs: list[Run] = []
    ceilings: dict[int, Run] = {}
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        for backend in options.backends.split(","):
            with database(backend, directory) as engine:
                began = time.perf_counter()
                populate(engine, options.accounts)
                print(f"{backend}: {options.accounts:,} accounts and meters set up in"
                      f" {time.perf_counter() - began:.1f} s")  # fmt: skip
                feed, cache = Feed(options.accounts), TariffCache()
                for size in sizes:
                    count = options.single if size == 1 else options.readings
                    batches = chunks(feed.take(count), size)
                    runs.append(ingest(engine, backend, batches, cache))
                    print(f"  batch {size:>5}: {runs[-1].per_s:,.0f} readings/s")
                    if size not in ceilings:
                        (directory / "raw.db").unlink(missing_ok=True)
                        ceilings[size] = raw_sqlite(directory, batches)
                with engine.connect() as connection:
                    entries = connection.execute(select(func.count()).select_from(ledger_entries))
                    charged = entries.scalar_one()
                expected = sum(run.readings for run in runs if run.backend == backend)
                if charged != expected:
                    msg = f"{backend}: {charged} ledger entries for {expected} readings"
                    raise AssertionError(msg)
    report(runs, ceilings)


def report(runs: list[Run], ceilings: dict[int, Run]) -> None:
    header = ("backend", "batch", "readings", "readings/s", "p50 ms", "p99 ms", "vs raw sqlite3",
              "target")  # fmt: skip
    rows = []
    for run in [*runs, *sorted(ceilings.values(), key=lambda r: r.batch)]:
        ceiling = ceilings.get(run.batch)
        ratio = "" if ceiling is None or run.backend == "raw sqlite3" else (
            f"{run.per_s / ceiling.per_s:.1%}")  # fmt: skip
        target = TARGETS.get(run.backend) if run.batch == 1000 else None
        rows.append((
            run.backend, f"{run.batch:,}", f"{run.readings:,}", f"{run.per_s:,.0f}",
            f"{run.percentile_ms(50):.2f}", f"{run.percentile_ms(99):.2f}", ratio,
            "" if target is None else f"≥ {target:,} {'met' if run.per_s >= target else 'MISSED'}",
        ))  # fmt: skip
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


if __name__ == "__main__":
    main()
