"""Readings: batch ingestion (exactly once by meter and meter time), and a meter's history."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.auth import Principal, Role
from api.deps import NowDep, Reader, TariffsDep, UowDep, require
from api.policy import PolicyDep
from api.schemas import DecimalStr, Instant, Kwh, Limit, MeterId, Page, Strict, page, utc_cursor
from gateway.ledger.ingest import ReadingIn, record_readings
from gateway.queries import readings as queries

router = APIRouter(tags=["readings"])
Ingestor = Annotated[Principal, Depends(require(Role.BILLING, Role.OPERATOR))]
MAX_BATCH = 1000


class ReadingBody(Strict):
    meter_id: Annotated[str, Field(min_length=1, max_length=64)]
    ts: Annotated[Instant, Field(description="meter time of the register value")]
    energy_kwh: Annotated[Kwh, Field(description="the raw import register, before multiplier")]
    bands_kwh: dict[Annotated[str, Field(max_length=32)], Kwh] | None = Field(
        default=None, description="per-band registers (e.g. peak, valley) if the meter has them"
    )
    balance: DecimalStr | None = Field(default=None, description="meter-side balance, if any")
    relay: Literal["open", "closed"] | None = None
    source: Annotated[str, Field(min_length=1, max_length=120)] = "api"


class ReadingsIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"readings": [
        {"meter_id": "M-1001", "ts": "2024-06-01T00:15:00+00:00", "energy_kwh": "1520.75"},
        {"meter_id": "M-1001", "ts": "2024-06-01T00:30:00+00:00", "energy_kwh": "1521.30"},
    ]}]})  # fmt: skip
    readings: Annotated[list[ReadingBody], Field(min_length=1, max_length=MAX_BATCH)]


class ResultOut(BaseModel):
    meter_id: str
    ts: Instant
    outcome: str = Field(description="accepted | out_of_order | quarantined | rejected")
    duplicate: bool = Field(description="already recorded: this is the original result")
    reading_id: str | None
    entry_id: str | None = Field(description="the ledger entry that charged it, if any")
    charged: DecimalStr | None
    flags: list[str]
    reason: str


class ResultsOut(BaseModel):
    results: list[ResultOut] = Field(description="one per submitted reading, in order")


class ReadingOut(BaseModel):
    id: str
    meter_id: str
    ts: Instant
    received_at: Instant
    source: str
    energy_kwh: Kwh
    bands_kwh: dict[str, str] | None
    outcome: str
    flags: list[str]
    reason: str
    entry_id: str | None
    charged: DecimalStr | None


@router.post("/readings", response_model=ResultsOut)
def ingest(
    *, body: ReadingsIn, uow: UowDep, now: NowDep, tariffs: TariffsDep, policy: PolicyDep,
    principal: Ingestor,
) -> ResultsOut:  # fmt: skip
    """Validate, rate and post a batch in one transaction. Exactly once: a reading is keyed
    by (meter, ts); sending it again returns the original result with `duplicate: true` and
    writes nothing, so a batch can be retried safely after a timeout."""
    batch = [
        ReadingIn(r.meter_id, r.ts, r.energy_kwh, source=f"{r.source} (key {principal.key_id})",
                  bands_kwh=r.bands_kwh, balance=r.balance, relay=r.relay, received_at=now)
        for r in body.readings
    ]  # fmt: skip
    results = record_readings(uow, batch, now=now, tariffs=tariffs, policy=policy)
    uow.commit()
    return ResultsOut(results=[ResultOut.model_validate(r, from_attributes=True)
                               for r in results])  # fmt: skip


@router.get("/meters/{meter_id}/readings", response_model=Page[ReadingOut])
def list_readings(
    *, meter_id: MeterId, uow: UowDep, _: Reader,
    since: Annotated[AwareDatetime | None, Query(description="ts >= since")] = None,
    until: Annotated[AwareDatetime | None, Query(description="ts < until")] = None,
    after: Annotated[AwareDatetime | None, Query(description="previous `next_after`")] = None,
    limit: Limit = 100,
) -> Page[ReadingOut]:  # fmt: skip
    """A meter's stored readings in meter-time order, keyset-paginated by time."""
    found = queries.list_readings(uow, meter_id, since=since, until=until, after=after,
                                  limit=limit)  # fmt: skip
    items = [ReadingOut.model_validate(v, from_attributes=True) for v in found]
    return page(items, limit, lambda r: utc_cursor(r.ts))
