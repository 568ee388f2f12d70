"""Tariff versions from the database, parsed once and cached until a new version appears."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from gateway.core.tariff import Tariff
from gateway.core.tariff_parse import parse_tariff_version
from gateway.ledger.errors import NotFoundError
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import tariff_versions


class TariffCache:
    """Parsed tariffs by id. Versions are immutable, so a tariff is re-read only when its
    newest version number changes (one small query per batch)."""

    def __init__(self) -> None:
        self._tariffs: dict[str, tuple[int, Tariff]] = {}

    def get_many(self, uow: UnitOfWork, tariff_ids: set[str]) -> dict[str, Tariff]:
        if not tariff_ids:
            return {}
        newest = dict(
            uow.connection.execute(
                select(tariff_versions.c.tariff_id, func.max(tariff_versions.c.version))
                .where(tariff_versions.c.tariff_id.in_(sorted(tariff_ids)))
                .group_by(tariff_versions.c.tariff_id)
            ).all()
        )
        result = {}
        for tariff_id in tariff_ids:
            if tariff_id not in newest:
                msg = f"tariff {tariff_id!r} does not exist"
                raise NotFoundError(msg)
            cached = self._tariffs.get(tariff_id)
            if cached is None or cached[0] != newest[tariff_id]:
                cached = (newest[tariff_id], load_tariff(uow, tariff_id))
                self._tariffs[tariff_id] = cached
            result[tariff_id] = cached[1]
        return result

    def get(self, uow: UnitOfWork, tariff_id: str) -> Tariff:
        return self.get_many(uow, {tariff_id})[tariff_id]


def load_tariff(uow: UnitOfWork, tariff_id: str) -> Tariff:
    rows = uow.connection.execute(
        select(tariff_versions.c.document)
        .where(tariff_versions.c.tariff_id == tariff_id)
        .order_by(tariff_versions.c.version)
    ).all()
    if not rows:
        msg = f"tariff {tariff_id!r} does not exist"
        raise NotFoundError(msg)
    documents: list[dict[str, Any]] = [row.document for row in rows]
    return Tariff(tuple(parse_tariff_version(document) for document in documents))
