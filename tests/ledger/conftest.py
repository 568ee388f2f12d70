from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.dbs import BACKENDS, engine_for, fresh_database
from tests.ledger.world import FLAT, TOU, World


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = engine_for(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def world(engine: Engine) -> World:
    """Tariffs FLAT and TOU; account A1 (flat) with meter M1 (20 kW max), account A2 (tou)."""
    world = World(engine)
    world.tariff(FLAT)
    world.tariff(TOU)
    world.account("A1")
    world.meter("M1", "A1", max_power_kw=Decimal(20))
    world.account("A2", tariff_id="tou")
    return world
