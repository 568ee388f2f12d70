"""The FastAPI application: routers included in one place."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy import Engine

from api import dashboard, problems
from api.deps import utc_now
from api.routes import (
    accounts,
    alerts,
    commands,
    disputes,
    ledger,
    meters,
    readings,
    reports,
    statements,
    tariffs,
    topups,
)
from gateway.ledger.controls import ControlPolicy
from gateway.ledger.tariffs import TariffCache

ROUTERS = (
    accounts.router, meters.router, tariffs.router, topups.router, readings.router,
    alerts.router, commands.router, ledger.router, statements.router, disputes.router,
    reports.router,
)  # fmt: skip


def create_app(
    engine: Engine,
    *,
    clock: Callable[[], datetime] = utc_now,
    policy: ControlPolicy | None = None,
) -> FastAPI:
    """The API on `engine`. With a credit-control `policy`, top-ups repay emergency credit and
    debt and queue reconnection, and readings raise alerts and relay commands."""
    app = FastAPI(
        title="Prepaid gateway billing API",
        version="1",
        description="Accounts, tariffs, top-ups and transparent per-reading ledgers. Money and "
        "kWh are decimal strings. Errors are RFC 9457 problem+json. Authenticate with "
        "`X-API-Key` (create keys with `prepaid-gateway keys create`).",
    )
    app.state.engine, app.state.clock, app.state.tariffs = engine, clock, TariffCache()
    app.state.policy = policy
    problems.install(app)
    for router in ROUTERS:
        app.include_router(router, prefix="/v1")
    dashboard.mount(app)  # the operator pages at /dashboard and GET /v1/dashboard/summary
    return app
