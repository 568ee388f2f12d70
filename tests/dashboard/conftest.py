"""The seeded network (tests/dashboard/seed.py) behind the API, with one key per role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.auth import Role, create_key
from api.main import create_app
from gateway.storage.db import UnitOfWork
from tests.dashboard.seed import seed
from tests.dbs import BACKENDS, engine_for, fresh_database
from tests.ledger.world import Clock, World


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with fresh_database(request.param, tmp_path) as url:
        engine = engine_for(url)
        yield engine
        engine.dispose()


@pytest.fixture
def world(engine: Engine) -> World:
    world = World(engine, Clock())
    seed(world)
    return world


def make_keys(engine: Engine, world: World) -> dict[Role, str]:
    with UnitOfWork(engine) as uow:
        made = {role: create_key(uow, name=f"{role.value}-key", role=role, now=world.clock())
                for role in Role}  # fmt: skip
        uow.commit()
    return made


@pytest.fixture
def keys(engine: Engine, world: World) -> dict[Role, str]:
    return make_keys(engine, world)


@pytest.fixture
def client(engine: Engine, world: World) -> Iterator[TestClient]:
    with TestClient(create_app(engine, clock=world.clock)) as test_client:
        yield test_client
