"""An API on a fresh database (SQLite and PostgreSQL) with one key per role."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.auth import Role, create_key
from api.main import create_app
from gateway.storage.db import UnitOfWork
from tests.dbs import BACKENDS, engine_for, fresh_database
from tests.ledger.world import FLAT, TOU, Clock, World


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with fresh_database(request.param, tmp_path) as url:
        engine = engine_for(url)
        yield engine
        engine.dispose()


@pytest.fixture
def world(engine: Engine) -> World:
    world = World(engine, Clock())
    world.tariff(FLAT)
    world.tariff(TOU)
    return world


@pytest.fixture
def keys(engine: Engine) -> dict[Role, str]:
    with UnitOfWork(engine) as uow:
        made = {role: create_key(uow, name=role.value, role=role, now=datetime.now(UTC))
                for role in Role}  # fmt: skip
        uow.commit()
    return made


@pytest.fixture
def client(engine: Engine, world: World) -> Iterator[TestClient]:
    with TestClient(create_app(engine, clock=world.clock)) as test_client:
        yield test_client


def auth(key: str) -> dict[str, str]:
    return {"X-API-Key": key}
