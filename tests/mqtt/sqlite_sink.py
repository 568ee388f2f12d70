"""A file-backed sink for the driver's own kill test: one transaction per batch, dedup on
(meter, ts) like the ledger. The kill test through the real ledger is in tests/integration."""

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from drivers.mqtt import MqttReading

SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    meter_id TEXT NOT NULL,
    ts TEXT NOT NULL,
    energy_kwh TEXT NOT NULL,
    seq INTEGER,
    PRIMARY KEY (meter_id, ts)
)
"""


class SqliteSink:
    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)

    def __call__(self, batch: Sequence[MqttReading]) -> None:
        rows = [(r.meter_id, r.ts.isoformat(), str(r.energy_kwh), r.seq) for r in batch]
        with self._db:  # one transaction; rolled back if the insert fails
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR IGNORE INTO readings VALUES (?, ?, ?, ?)", rows)

    def close(self) -> None:
        self._db.close()


def seqs(path: Path) -> set[int]:
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT seq FROM readings")}
