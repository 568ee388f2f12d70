"""Tariffs: publish a version (validated, immutable), list a tariff's versions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, status
from pydantic import BaseModel

from api.deps import Billing, NowDep, Reader, UowDep
from api.schemas import ID_PATTERN, Instant
from gateway.ledger import admin
from gateway.queries import tariffs as queries

router = APIRouter(tags=["tariffs"])
TariffId = Annotated[str, Path(pattern=ID_PATTERN, description="tariff id")]

FLAT_EXAMPLE = {
    "tariff_id": "flat", "version": 1, "effective_from": "2024-01-01", "timezone": "UTC",
    "currency": "EUR", "price_per_kwh": "0.2734",
}  # fmt: skip
TOU_EXAMPLE = {
    "tariff_id": "tou", "version": 1, "effective_from": "2024-01-01", "timezone": "Asia/Shanghai",
    "currency": "CNY", "cycle": {"period": "monthly"},
    "tiers": [{"up_to_kwh": "100", "prices": {"peak": "0.60", "valley": "0.30"}},
              {"prices": {"peak": "0.70", "valley": "0.35"}}],
    "time_of_use": [{"windows": [{"band": "valley", "start": "22:00", "end": "06:00"},
                                 {"band": "peak", "start": "06:00", "end": "22:00"}]}],
}  # fmt: skip
TariffDocument = Annotated[
    dict[str, Any],
    Body(
        description="A tariff version as in docs/tariffs.md; prices are decimal strings.",
        openapi_examples={
            "flat": {"summary": "one price per kWh", "value": FLAT_EXAMPLE},
            "tiered time of use": {"summary": "two tiers x peak/valley", "value": TOU_EXAMPLE},
        },
    ),
]


class TariffVersionOut(BaseModel):
    tariff_id: str
    version: int
    label: str
    effective_from: Instant
    created_at: Instant
    document: dict[str, Any]


@router.post("/tariffs", status_code=status.HTTP_201_CREATED, response_model=TariffVersionOut)
def publish_version(
    document: TariffDocument, uow: UowDep, now: NowDep, _: Billing
) -> TariffVersionOut:
    """Publish a tariff version. Errors name the field (`errors: [{field, reason}]`).
    Publishing the same version again with the same content is a no-op; with other content
    it is a conflict (versions are immutable: publish a new version number)."""
    label = admin.register_tariff_version(uow, document, now)
    version = queries.get_by_label(uow, label)
    uow.commit()
    return TariffVersionOut.model_validate(version, from_attributes=True)


@router.get("/tariffs/{tariff_id}/versions", response_model=list[TariffVersionOut])
def list_versions(tariff_id: TariffId, uow: UowDep, _: Reader) -> list[TariffVersionOut]:
    """Every version of a tariff, oldest first."""
    return [TariffVersionOut.model_validate(v, from_attributes=True)
            for v in queries.list_versions(uow, tariff_id)]  # fmt: skip
