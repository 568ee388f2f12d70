"""API benchmark: ledger page latency on a large ledger, and top-ups per second.

    python -m bench.api [--postgres URL] [--total 1000000] [--big 100000]

Data is bulk-inserted (`gateway.storage.bulk.insert_rows`): realistic deduction rows with
one priced line each, but a dummy hash chain and no readings behind them, so these entries
are not re-rateable and `ledger verify` would reject them; this bench only reads them.
Requests go through the real ASGI app with FastAPI's TestClient (in process, no sockets).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text, update

from api.auth import Role, create_key
from api.main import create_app
from gateway.ledger import admin
from gateway.storage.bulk import insert_rows
from gateway.storage.db import UnitOfWork, make_engine
from gateway.storage.migrate import upgrade
from gateway.storage.schema import accounts, ledger_entries

T0 = datetime(2024, 1, 1, tzinfo=UTC)
FLAT = {"tariff_id": "flat", "version": 1, "effective_from": "2024-01-01", "timezone": "UTC",
        "currency": "EUR", "price_per_kwh": "0.2734"}  # fmt: skip
CHUNK = 50_000


def _row(account_id: str, meter_id: str, sequence: int) -> dict[str, Any]:
    at = T0 + timedelta(minutes=15 * sequence)
    prev_kwh, kwh = Decimal(sequence - 1), Decimal(sequence)
    line = {"kind": "energy", "start": (at - timedelta(minutes=15)).isoformat(),
            "end": at.isoformat(), "tariff_version": "flat v1", "cycle_start": T0.isoformat(),
            "tier": None, "band": None, "energy_kwh": "1", "unit_price": "0.2734",
            "amount": "0.2734", "tax": "0"}  # fmt: skip
    details = {"method": "single_slice", "lines": [line], "exact_amount": "0.2734", "tax": "0",
               "rounding": [], "notes": [], "flags": [], "cycle_before": None,
               "cycle_after": None}  # fmt: skip
    return {
        "id": f"{account_id}-{sequence}", "account_id": account_id, "sequence": sequence,
        "kind": "deduction", "amount": Decimal("-0.27"),
        "balance_before": Decimal(1_000_000) - Decimal("0.27") * (sequence - 1),
        "balance_after": Decimal(1_000_000) - Decimal("0.27") * sequence, "currency": "EUR",
        "effective_at": at, "recorded_at": at, "meter_id": meter_id,
        "prev_reading_id": None, "reading_id": None, "prev_ts": at - timedelta(minutes=15),
        "prev_kwh": prev_kwh, "curr_ts": at, "curr_kwh": kwh, "energy_kwh": Decimal(1),
        "tariff_version": "flat v1", "details": json.dumps(details), "external_ref": None,
        "reverses_entry_id": None, "prev_hash": "0" * 64, "hash": "0" * 64,
    }  # fmt: skip


def populate(engine: Engine, total: int, big: int) -> None:
    """One account with `big` entries; the rest spread over accounts of 1,000 entries."""
    plan = [("BIG", big)] + [(f"A{i:05}", 1000) for i in range((total - big) // 1000)]
    with UnitOfWork(engine) as uow:
        admin.register_tariff_version(uow, FLAT, T0)
        for account_id, _ in plan:
            admin.create_account(uow, account_id, currency="EUR", tariff_id="flat", now=T0,
                                 opening_balance=Decimal(1_000_000))  # fmt: skip
            admin.add_meter(uow, f"M-{account_id}", account_id=account_id, serial=account_id)
        uow.commit()
    rows: list[dict[str, Any]] = []
    for account_id, count in plan:
        for sequence in range(1, count + 1):
            rows.append(_row(account_id, f"M-{account_id}", sequence))
            if len(rows) == CHUNK:
                _flush(engine, rows)
        with engine.begin() as connection:
            connection.execute(update(accounts).where(accounts.c.id == account_id)
                               .values(last_sequence=count))  # fmt: skip
    _flush(engine, rows)


def _flush(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as connection:
        insert_rows(connection, ledger_entries, rows)
    rows.clear()


def _at(sequence: int) -> str:
    return (T0 + timedelta(minutes=15 * sequence)).isoformat().replace("+00:00", "Z")


def _p(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100)[int(q) - 1] * 1000


def ledger_latency(client: TestClient, headers: dict[str, str], big: int, n: int = 300) -> str:
    rng = random.Random(1)
    results = []
    cases: tuple[tuple[str, Callable[[], str]], ...] = (
        ("account page (after_sequence)",
         lambda: f"/v1/accounts/BIG/ledger?after_sequence={rng.randrange(big - 50)}&limit=50"),
        ("account page, kind + time filter",
         lambda: f"/v1/accounts/BIG/ledger?after_sequence={rng.randrange(big - 50)}&limit=50"
                 "&kind=deduction&from=2024-01-01T00:00:00Z"),
        ("meter page (time + id keyset)",
         lambda: f"/v1/meters/M-BIG/ledger?limit=50&from={_at(rng.randrange(big - 50))}"),
        ("account CSV page", lambda: f"/v1/accounts/BIG/ledger.csv?limit=50"
                                     f"&after_sequence={rng.randrange(big - 50)}"),
    )  # fmt: skip
    for name, make in cases:
        samples = []
        for _ in range(n):
            url = make()
            started = time.perf_counter()
            response = client.get(url, headers=headers)
            samples.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
        results.append(f"| {name} | {_p(samples, 50):.1f} | {_p(samples, 95):.1f} |")
    return "\n".join(results)


def top_ups_per_second(client: TestClient, headers: dict[str, str], n: int = 2000) -> float:
    started = time.perf_counter()
    for index in range(n):
        response = client.post(
            f"/v1/accounts/A{index % 10:05}/top-ups", json={"amount": "1.00"},
            headers={**headers, "Idempotency-Key": f"bench-{index}"},
        )  # fmt: skip
        assert response.status_code == 201, response.text
    return n / (time.perf_counter() - started)


def run(url: str, total: int, big: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    populate(engine, total, big)
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM ledger_entries")).scalar()
    print(
        f"{engine.dialect.name}: {count} entries inserted in {time.perf_counter() - started:.0f} s"
    )
    with UnitOfWork(engine) as uow:
        key = create_key(uow, name="bench", role=Role.ADMIN, now=datetime.now(UTC))
        uow.commit()
    headers = {"X-API-Key": key}
    with TestClient(create_app(engine)) as client:
        print("| ledger request (50 entries) | p50 ms | p95 ms |\n|---|---|---|")
        print(ledger_latency(client, headers, big))
        print(f"top-ups through the API: {top_ups_per_second(client, headers):.0f} per second")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="a PostgreSQL URL (an empty database) instead")
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=100_000)
    args = parser.parse_args()
    if args.postgres:
        run(args.postgres, args.total, args.big)
        return
    with tempfile.TemporaryDirectory() as directory:
        run(f"sqlite:///{Path(directory) / 'bench.db'}", args.total, args.big)


if __name__ == "__main__":
    main()
