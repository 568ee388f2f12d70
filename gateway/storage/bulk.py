"""Many rows in one executemany, converted once per value for the dialect.

SQLAlchemy's per-value type processing costs more than the database on the ingest hot path;
these helpers produce exactly what the column types in `gateway.storage.types` would store.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Connection, Table
from sqlalchemy.types import TypeEngine

from gateway.storage.types import ExactDecimal, UTCDateTime

Converter = Callable[[Any], Any]


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _sqlite_time(value: datetime | None) -> str | None:
    """Naive UTC text as SQLAlchemy stores it: 2024-06-01 00:15:00.000000."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]


def _json(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _converter(column_type: TypeEngine[Any], dialect: str) -> Converter | None:
    if isinstance(column_type, JSON):
        return _json
    if dialect == "postgresql":
        return None  # psycopg adapts Decimal and aware datetimes natively
    if isinstance(column_type, ExactDecimal):
        return _decimal_text
    if isinstance(column_type, UTCDateTime):
        return _sqlite_time
    return None


def _params(
    connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[dict[str, Any]]
) -> list[tuple[Any, ...]]:
    dialect = connection.dialect.name
    converters = [(name, _converter(table.c[name].type, dialect)) for name in columns]
    return [
        tuple(row[name] if convert is None else convert(row[name]) for name, convert in converters)
        for row in rows
    ]


def _marker(connection: Connection) -> str:
    return "?" if connection.dialect.name == "sqlite" else "%s"


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT `rows` (dicts with the same keys) into `table` with one executemany."""
    if not rows:
        return
    columns = list(rows[0])
    if connection.dialect.name == "postgresql":
        _copy(connection, table, columns, rows)
        return
    marker = _marker(connection)
    # Table and column names come from our own schema, never from input: no injection.
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)})"  # noqa: S608
        f" VALUES ({', '.join([marker] * len(columns))})"
    )
    connection.exec_driver_sql(sql, _params(connection, table, columns, rows))


def update_rows(
    connection: Connection, table: Table, key: str, rows: Sequence[dict[str, Any]]
) -> None:
    """UPDATE `table` SET the other keys WHERE `key` matches, one executemany for all rows."""
    if not rows:
        return
    columns = [name for name in rows[0] if name != key]
    marker = _marker(connection)
    sql = (
        f"UPDATE {table.name} SET {', '.join(f'{name} = {marker}' for name in columns)}"  # noqa: S608
        f" WHERE {key} = {marker}"
    )
    connection.exec_driver_sql(sql, _params(connection, table, [*columns, key], rows))


def _copy(
    connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[dict[str, Any]]
) -> None:
    """PostgreSQL COPY ... FROM STDIN inside the current transaction: one round trip."""
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in _params(connection, table, columns, rows):
            copy.write_row(row)
