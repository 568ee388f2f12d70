"""Engines and the unit of work. SQLite runs in WAL mode with one writer at a time."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

DEFAULT_URL = "sqlite:///prepaid-gateway.db"
READ_ONLY = "prepaid_read_only"  # execution option: a transaction that only reads


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`: SQLite (embedded default) or PostgreSQL (psycopg 3)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": 60}, **kwargs)
        _sqlite_transactions(engine)
        return engine
    return create_engine(parsed, pool_pre_ping=True, **kwargs)


def _sqlite_transactions(engine: Engine) -> None:
    """WAL, foreign keys, and BEGIN IMMEDIATE so writers queue instead of deadlocking."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL",
                       "busy_timeout=60000"):  # fmt: skip
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class UnitOfWork:
    """One database transaction. Leaving without `commit()` rolls everything back.

    `read_only` transactions do not take SQLite's write lock up front, so readers (the API's
    GET requests) never queue behind the ingest writer.
    """

    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        self.engine = engine
        self.is_postgres = engine.dialect.name == "postgresql"
        self.read_only = read_only

    def __enter__(self) -> UnitOfWork:
        self.connection = self.engine.connect()
        if self.read_only:
            self.connection.execution_options(**{READ_ONLY: True})
        self.transaction = self.connection.begin()
        return self

    def commit(self) -> None:
        self.transaction.commit()

    def rollback(self) -> None:
        self.transaction.rollback()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.transaction.is_active:
            self.transaction.rollback()
        self.connection.close()
