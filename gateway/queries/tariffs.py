"""Tariff versions as stored: the validated documents, newest version last."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from gateway.ledger.errors import NotFoundError
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import tariff_versions


@dataclass(frozen=True, slots=True)
class TariffVersionView:
    tariff_id: str
    version: int
    label: str
    effective_from: datetime
    created_at: datetime
    document: dict[str, Any]


def list_versions(uow: UnitOfWork, tariff_id: str) -> list[TariffVersionView]:
    """Every version of the tariff in version order, or NotFoundError."""
    rows = uow.connection.execute(
        select(tariff_versions)
        .where(tariff_versions.c.tariff_id == tariff_id)
        .order_by(tariff_versions.c.version)
    ).all()
    if not rows:
        msg = f"tariff {tariff_id!r} does not exist"
        raise NotFoundError(msg)
    return [
        TariffVersionView(
            row.tariff_id,
            row.version,
            f"{row.tariff_id}@v{row.version}",
            row.effective_from,
            row.created_at,
            dict(row.document),
        )
        for row in rows
    ]


def get_version(uow: UnitOfWork, tariff_id: str, version: int) -> TariffVersionView:
    for found in list_versions(uow, tariff_id):
        if found.version == version:
            return found
    msg = f"tariff {tariff_id!r} has no version {version}"
    raise NotFoundError(msg)


def get_by_label(uow: UnitOfWork, label: str) -> TariffVersionView:
    """A version by its label, `<tariff_id>@v<version>`."""
    tariff_id, _, version = label.rpartition("@v")
    return get_version(uow, tariff_id, int(version))
