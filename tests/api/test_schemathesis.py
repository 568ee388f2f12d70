"""The whole API against its own OpenAPI schema: no 5xx, no response outside the schema.

schemathesis generates requests for every operation (examples from the schema, then
fuzzing) and sends them to the ASGI app in process, authenticated as admin, on SQLite with
a little data. Examples per operation are capped to keep the run under a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import create_engine

from api.auth import Role, create_key
from api.main import create_app
from gateway.storage.db import UnitOfWork
from tests.dbs import engine_for, fresh_database
from tests.ledger.world import FLAT, TOU, Clock, World, reading

ADMIN: dict[str, str] = {}
# Failures found in routes owned elsewhere, reported to their owner: expected to fail (xfail,
# not strict) until fixed, so every other operation still has to pass.
# (Found and since fixed: POST /v1/accounts with an existing id gave 500, not 409.)
KNOWN_ISSUES: dict[str, str] = {}
# Serving the schema touches no database; the fixture below gives the app its seeded one.
APP = create_app(create_engine("sqlite://"))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with fresh_database("sqlite", Path(tmp_path_factory.mktemp("st"))) as url:
        engine = engine_for(url)
        world = World(engine, Clock(datetime(2024, 6, 2, tzinfo=UTC)))
        world.tariff(FLAT)
        world.tariff(TOU)
        world.account("ACC-1001")
        world.meter("M-1", "ACC-1001")
        world.ingest(reading("M-1", 0, "100"), reading("M-1", 60, "110"))
        world.top_up("ACC-1001", "20.00", "pay-1")
        with UnitOfWork(engine) as uow:
            ADMIN["X-API-Key"] = create_key(uow, name="st", role=Role.ADMIN,
                                            now=world.clock())  # fmt: skip
            uow.commit()
        world.clock.advance(timedelta(days=1))
        APP.state.engine, APP.state.clock = engine, world.clock
        yield
        engine.dispose()


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(
    case: Any, seeded: None, request: pytest.FixtureRequest
) -> None:
    issue = KNOWN_ISSUES.get(f"{case.method.upper()} {case.path}")
    if issue is not None:
        request.node.add_marker(pytest.mark.xfail(reason=issue, strict=False))
    case.call_and_validate(headers=ADMIN, checks=[not_a_server_error, response_schema_conformance])
