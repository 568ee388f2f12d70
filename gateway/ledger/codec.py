"""Deductions to and from JSON-safe details, and the canonical form the hash chain covers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from gateway.core.deduction import CycleState, Deduction, Line
from gateway.core.money import RoundingStep

GENESIS_HASH = "0" * 64


def dec(value: Decimal) -> str:
    """Canonical text of a Decimal: no exponent, no trailing zeros (12.340 -> 12.34)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def line_to_json(line: Line) -> dict[str, Any]:
    return {
        "kind": line.kind.value,
        "start": line.start.isoformat(),
        "end": line.end.isoformat(),
        "tariff_version": line.tariff_version,
        "cycle_start": line.cycle_start.isoformat(),
        "tier": line.tier,
        "band": line.band,
        "energy_kwh": dec(line.energy_kwh),
        "unit_price": dec(line.unit_price),
        "amount": dec(line.amount),
        "tax": dec(line.tax),
    }


def step_to_json(step: RoundingStep) -> dict[str, Any]:
    return {
        "cycle_start": step.cycle_start,
        "exact_before": dec(step.exact_before),
        "rounded_before": format(step.rounded_before, "f"),  # in minor units: 0.20, not 0.2
        "exact_amount": dec(step.exact_amount),
        "exact_after": dec(step.exact_after),
        "rounded_after": format(step.rounded_after, "f"),
        "charged": format(step.charged, "f"),
    }


def cycle_to_json(cycle: CycleState | None) -> dict[str, Any] | None:
    if cycle is None:
        return None
    return {
        "start": cycle.start.isoformat(),
        "consumed_kwh": dec(cycle.consumed_kwh),
        "exact_charge": dec(cycle.exact_charge),
        "exact_tax": dec(cycle.exact_tax),
    }


def cycle_from_json(data: Mapping[str, Any] | None) -> CycleState | None:
    if data is None:
        return None
    return CycleState(
        datetime.fromisoformat(data["start"]),
        Decimal(data["consumed_kwh"]),
        Decimal(data["exact_charge"]),
        Decimal(data["exact_tax"]),
    )


def deduction_details(
    deduction: Deduction, cycle_before: CycleState | None, flags: list[str]
) -> dict[str, Any]:
    """Everything needed to explain and to recompute a deduction."""
    return {
        "method": deduction.method.name.lower(),  # its explanation: Method[name.upper()]
        "lines": [line_to_json(line) for line in deduction.lines],
        "exact_amount": dec(deduction.exact_amount),
        "tax": dec(deduction.tax),
        "rounding": [step_to_json(step) for step in deduction.rounding],
        "notes": list(deduction.notes),
        "flags": sorted(flags),
        "cycle_before": cycle_to_json(cycle_before),
        "cycle_after": cycle_to_json(deduction.cycle),
    }


HASHED_FIELDS = (
    "id", "account_id", "sequence", "kind", "amount", "balance_before", "balance_after",
    "currency", "effective_at", "meter_id", "prev_reading_id", "reading_id", "prev_ts",
    "prev_kwh", "curr_ts", "curr_kwh", "energy_kwh", "tariff_version", "details",
    "external_ref", "reverses_entry_id",
)  # fmt: skip


def _canonical(value: Any) -> Any:
    """JSON's fallback for what it cannot encode itself; dicts, lists, tuples, str, int, bool
    and None it encodes natively (in C), the same way they were encoded before."""
    if isinstance(value, Decimal):
        return dec(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    msg = f"{type(value).__name__} {value!r} has no canonical JSON form"
    raise TypeError(msg)


def canonical_json(value: Any) -> str:
    """The one JSON text of a value: sorted keys, no spaces, Decimals and times as text."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_canonical
    )


def entry_hash(entry: Mapping[str, Any], prev_hash: str) -> str:
    """SHA-256 over the previous hash and the entry's content in canonical JSON.

    `details` is hashed as its canonical JSON text, whether given as that text (when the
    entry is written) or as the parsed object (when it is read back to be verified).
    """
    content = {name: entry.get(name) for name in HASHED_FIELDS}
    details = content["details"]
    if not isinstance(details, str):
        content["details"] = canonical_json(details)
    return hashlib.sha256(f"{prev_hash}\n{canonical_json(content)}".encode()).hexdigest()
