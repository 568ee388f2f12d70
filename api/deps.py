"""Dependencies as Annotated aliases: the unit of work, the clock, the caller and its role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader

from api.auth import Principal, Role, authenticate
from gateway.ledger.tariffs import TariffCache
from gateway.storage.db import UnitOfWork

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="pgw_<id>.<secret>")


def get_uow(request: Request) -> Iterator[UnitOfWork]:
    """One transaction per request; routes that change state call `uow.commit()`. GET and
    HEAD requests read without taking SQLite's write lock."""
    read_only = request.method in {"GET", "HEAD"}
    with UnitOfWork(request.app.state.engine, read_only=read_only) as uow:
        yield uow


def get_now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def get_tariffs(request: Request) -> TariffCache:
    cache: TariffCache = request.app.state.tariffs
    return cache


UowDep = Annotated[UnitOfWork, Depends(get_uow)]
NowDep = Annotated[datetime, Depends(get_now)]
TariffsDep = Annotated[TariffCache, Depends(get_tariffs)]


def utc_now() -> datetime:
    return datetime.now(UTC)


def require(*roles: Role) -> Callable[..., Principal]:
    """A dependency admitting a valid key with one of `roles` (admin always): 401 without a
    valid key, 403 with a valid key of another role."""

    def check(uow: UowDep, key: Annotated[str | None, Depends(api_key_header)]) -> Principal:
        if not key:
            raise HTTPException(401, "an API key is required in X-API-Key",
                                headers={"WWW-Authenticate": "ApiKey"})  # fmt: skip
        principal = authenticate(uow, key)  # the request's own transaction: one per request
        if principal is None:
            raise HTTPException(401, "the API key is unknown, revoked or wrong",
                                headers={"WWW-Authenticate": "ApiKey"})  # fmt: skip
        if principal.role is not Role.ADMIN and principal.role not in roles:
            allowed = ", ".join(sorted({Role.ADMIN, *roles}))
            raise HTTPException(403, f"role {principal.role} may not do this (needs {allowed})")
        return principal

    return check


READ = (Role.BILLING, Role.OPERATOR, Role.FIELD_TECH, Role.READ_ONLY)
Reader = Annotated[Principal, Depends(require(*READ))]
Billing = Annotated[Principal, Depends(require(Role.BILLING))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
FieldTech = Annotated[Principal, Depends(require(Role.FIELD_TECH, Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require())]
