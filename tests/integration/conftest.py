"""Fixtures for the end-to-end tests: a real Mosquitto, a real ledger (SQLite and PostgreSQL).

The broker fixture is the MQTT tests' own (tests/mqtt/conftest.py), imported so this
directory gets its own Mosquitto on a free port.
"""

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.storage.db import make_engine
from gateway.storage.schema import readings
from tests.dbs import BACKENDS, fresh_database
from tests.ledger.world import FLAT, World
from tests.mqtt.conftest import broker  # the session's own Mosquitto

__all__ = ["broker"]

PRICE = Decimal(FLAT["price_per_kwh"])
OPENING = Decimal("100.00")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """A migrated, empty ledger with the flat tariff, on each backend."""
    with fresh_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        ledger = World(engine)
        ledger.tariff(FLAT)
        yield ledger
        engine.dispose()


def flat_charge(kwh: Decimal) -> Decimal:
    """The independent calculation: flat price x kWh, rounded once (per cycle), half up."""
    return (PRICE * kwh).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def cumulative_charges(kwh_steps: list[Decimal]) -> list[Decimal]:
    """Per-reading charges when only the cycle's running total is rounded."""
    charges, total, charged = [], Decimal(0), Decimal(0)
    for kwh in kwh_steps:
        total += kwh
        charges.append(flat_charge(total) - charged)
        charged = flat_charge(total)
    return charges


def reading_count(world: World) -> int:
    with world.engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(readings)).scalar_one()
    assert isinstance(count, int)
    return count


def stepping_clock(start: datetime, step: timedelta) -> Callable[[], datetime]:
    """Each call is one step later: a simulator's own meter clock."""
    state = {"now": start}

    def now() -> datetime:
        state["now"] += step
        return state["now"]

    return now
