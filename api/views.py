"""Response and request models of the ledger, statement, dispute and report routes.

Money and kWh are decimal strings (`"12.34"`, never a JSON number), written with
`format(value, "f")`: exactly the stored value, no exponent.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from api.schemas import Money


def _text(value: Decimal) -> str:
    return format(value, "f")


Dec = Annotated[
    Decimal,
    PlainSerializer(_text, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "examples": ["12.34"]}),
]
Kind = Literal[
    "deduction", "standing_charge", "top_up", "adjustment", "reversal", "emergency_credit",
    "emergency_repayment", "debt_recovery",
]  # fmt: skip


class View(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ReadingPointOut(View):
    reading_id: str | None
    ts: datetime
    kwh: Dec


class LineOut(View):
    kind: str = Field(description="energy | standing_charge")
    start: datetime
    end: datetime
    tariff_version: str
    tier: int | None
    band: str | None
    energy_kwh: Dec = Field(description="kWh (one day for a standing charge line)")
    unit_price: Dec
    amount: Dec = Field(description="exact: energy_kwh x unit_price (tax included)")
    tax: Dec = Field(description="the part of amount that is tax")


class RoundingOut(View):
    cycle_start: str
    exact_before: Dec
    rounded_before: Dec
    exact_amount: Dec
    exact_after: Dec
    rounded_after: Dec
    charged: Dec = Field(description="rounded_after - rounded_before: what the entry charged")


ENTRY_EXAMPLE: dict[str, Any] = {
    "id": "6f1c0d5e9a2b4c3d8e7f6a5b4c3d2e1f", "account_id": "ACC-1001", "sequence": 7,
    "kind": "deduction", "amount": "-2.73", "balance_before": "97.27", "balance_after": "94.54",
    "currency": "EUR", "effective_at": "2024-06-01T01:00:00Z",
    "recorded_at": "2024-06-01T01:00:05Z", "meter_id": "M-1",
    "previous": {"reading_id": "a1", "ts": "2024-06-01T00:00:00Z", "kwh": "100"},
    "current": {"reading_id": "a2", "ts": "2024-06-01T01:00:00Z", "kwh": "110"},
    "energy_kwh": "10", "tariff_version": "flat v1", "method": "single_slice", "flags": [],
    "notes": [], "lines": [{
        "kind": "energy", "start": "2024-06-01T00:00:00Z", "end": "2024-06-01T01:00:00Z",
        "tariff_version": "flat v1", "tier": None, "band": None, "energy_kwh": "10",
        "unit_price": "0.2734", "amount": "2.734", "tax": "0"}],
    "exact_amount": "2.734", "tax": "0", "rounding": [], "reason": None, "external_ref": None,
    "reverses_entry_id": None, "related_entry_id": None,
}  # fmt: skip


class EntryOut(View):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [ENTRY_EXAMPLE]})
    id: str
    account_id: str
    sequence: int
    kind: str
    amount: Dec = Field(description="signed: credit +, debit -; rounded to the minor unit")
    balance_before: Dec
    balance_after: Dec
    currency: str
    effective_at: datetime = Field(description="reading time, charge day, or posting time")
    recorded_at: datetime
    meter_id: str | None
    previous: ReadingPointOut | None = Field(description="deductions: where the interval starts")
    current: ReadingPointOut | None
    energy_kwh: Dec | None
    tariff_version: str | None
    method: str | None = Field(description="single_slice | apportioned | band_registers | ...")
    flags: list[str]
    notes: list[str]
    lines: list[LineOut]
    exact_amount: Dec | None
    tax: Dec | None
    rounding: list[RoundingOut]
    reason: str | None
    external_ref: str | None = Field(description="top-ups: the payer's reference")
    reverses_entry_id: str | None
    related_entry_id: str | None


class AccountLedgerOut(View):
    account_id: str
    entries: list[EntryOut]
    next_after_sequence: int | None = Field(description="pass as after_sequence; null at end")
    next: str | None = Field(description="URL of the next page, filters kept; null at the end")


class MeterLedgerOut(View):
    meter_id: str
    entries: list[EntryOut]
    next_cursor: str | None = Field(description="opaque; pass as cursor; null at the end")
    next: str | None


class StatementOut(View):
    account_id: str
    currency: str
    month: str
    timezone: str
    period_start: datetime
    period_end: datetime
    opening_balance: Dec
    credits: Dec
    debits: Dec
    closing_balance: Dec
    energy_kwh: Dec
    top_ups: list[EntryOut]
    deductions: list[EntryOut]
    standing_charges: list[EntryOut]
    other: list[EntryOut] = Field(description="adjustments, reversals, emergency credit, ...")
    check: str = Field(examples=["100.00 + 20.00 - 5.47 = 114.53 (equals closing 114.53)"])
    reconciles: bool


class DisputeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "complaint": "Charged for 40 kWh while the house was empty", "owner": "alice",
        "due_at": "2024-06-15T17:00:00Z"}]})  # fmt: skip
    complaint: Annotated[str, Field(min_length=1, max_length=4000, pattern=r"\S")]
    owner: Annotated[str, Field(min_length=1, max_length=100, pattern=r"\S")]
    due_at: AwareDatetime


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "status": "resolved", "resolution": "Meter misread; refund 5 kWh",
        "adjustment": "1.37"}]})  # fmt: skip
    status: Literal["resolved", "rejected"]
    resolution: Annotated[str, Field(min_length=1, max_length=4000, pattern=r"\S")]
    adjustment: Money | None = Field(
        default=None, description="posted as an adjustment entry: + credit, - debit"
    )


class DisputeOut(View):
    id: str
    account_id: str
    entry_id: str
    owner: str
    due_at: datetime
    status: Literal["open", "resolved", "rejected"]
    overdue: bool
    complaint: str
    resolution: str | None
    adjustment_entry_id: str | None
    created_at: datetime
    resolved_at: datetime | None


class DisputeListOut(View):
    disputes: list[DisputeOut]


class RankedOut(View):
    account_id: str
    rank: int
    consumption_kwh: Dec
    abc_class: Literal["A", "B", "C"]


class AbcOut(View):
    start: datetime
    end: datetime
    a_percent: Dec
    b_percent: Dec
    rule: str
    counts: dict[str, int]
    consumption_kwh: dict[str, Dec]
    accounts: list[RankedOut]


class ArrearOut(View):
    account_id: str
    currency: str
    status: str
    balance: Dec
    in_arrears: bool
    spend_per_day: Dec | None
    days_of_credit_left: Dec | None


class ArrearsOut(View):
    below: Dec
    window_days: int
    accounts: list[ArrearOut]
