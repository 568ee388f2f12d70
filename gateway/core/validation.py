"""Reading validation (VEE): what a new register reading means for the ledger. Pure.

Given the meter's last accepted reading, decide: charge it, store it without charging, or
quarantine it with an anomaly. Rollover and declared meter exchanges are resolved here into
one continuous register (`continuous_kwh`), which is what rating sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from gateway.core.money import ZERO

SECONDS_PER_HOUR = Decimal(3600)


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # charged (or the baseline a meter's charging starts from)
    OUT_OF_ORDER = "out_of_order"  # older than the newest reading: stored, never charged
    QUARANTINED = "quarantined"  # not charged, an anomaly is raised for a person to look at


class Flag(StrEnum):
    BASELINE = "baseline"  # first reading of a meter without an installation reading
    ROLLOVER = "rollover"  # the register wrapped past its maximum
    EXCHANGE = "exchange"  # a declared meter exchange lies inside the interval
    ESTIMATED = "estimated"  # after a gap: charged on this reading, apportioned by time
    TAMPER = "tamper"  # consumption while the relay was open


class AnomalyKind(StrEnum):
    CONFLICT = "conflict"  # same meter and time as a stored reading, different value
    DECREASE = "decrease"  # register went down and neither rollover nor exchange explains it
    SPIKE = "spike"  # more energy than the meter's maximum power allows in the time
    TAMPER = "tamper"
    BAND_MISMATCH = "band_mismatch"  # per-band registers disagree with the total


@dataclass(frozen=True, slots=True)
class MeterRules:
    """Per-meter facts validation needs. `register_modulus_kwh` is where the register wraps
    to zero (99999.99 kWh register: 100000); `expected_interval` sets the gap threshold;
    `resolution_kwh` is the register's step, allowed on top of max power x time."""

    multiplier: Decimal = Decimal(1)
    register_modulus_kwh: Decimal | None = None
    max_power_kw: Decimal = Decimal(100)
    expected_interval: timedelta = timedelta(minutes=15)
    gap_factor: int = 3
    resolution_kwh: Decimal = Decimal("0.01")  # the register's smallest step


@dataclass(frozen=True, slots=True)
class LastReading:
    """The meter's newest accepted reading, and the offset that makes its register continuous."""

    ts: datetime
    raw_kwh: Decimal
    offset_kwh: Decimal = ZERO

    def continuous_kwh(self, rules: MeterRules) -> Decimal:
        return self.raw_kwh * rules.multiplier + self.offset_kwh


@dataclass(frozen=True, slots=True)
class Exchange:
    """A declared meter exchange: the old register's removal reading, the new one's opening."""

    at: datetime
    removal_raw_kwh: Decimal
    opening_raw_kwh: Decimal


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    flags: frozenset[Flag] = frozenset()
    offset_kwh: Decimal = ZERO
    continuous_kwh: Decimal | None = None
    energy_kwh: Decimal = ZERO
    anomaly: AnomalyKind | None = None
    reason: str = ""

    @property
    def charged(self) -> bool:
        return self.outcome is Outcome.ACCEPTED and Flag.BASELINE not in self.flags


def judge(
    ts: datetime,
    raw_kwh: Decimal,
    last: LastReading | None,
    rules: MeterRules,
    *,
    exchanges: Sequence[Exchange] = (),
    relay_open: bool = False,
) -> Verdict:
    """Classify a reading that is not a duplicate of a stored one (the caller checks that)."""
    if last is None:
        return Verdict(
            Outcome.ACCEPTED, frozenset({Flag.BASELINE}), ZERO, raw_kwh * rules.multiplier,
            reason="first reading of this meter: the baseline charging starts from",
        )  # fmt: skip
    if ts <= last.ts:
        return Verdict(
            Outcome.OUT_OF_ORDER,
            reason=f"older than the newest reading at {last.ts.isoformat()}: stored, not charged",
        )
    flags: set[Flag] = set()
    offset = last.offset_kwh
    exchange = next((e for e in exchanges if last.ts < e.at <= ts), None)
    if exchange is not None:
        delta_raw = (exchange.removal_raw_kwh - last.raw_kwh) + (raw_kwh - exchange.opening_raw_kwh)
        if exchange.removal_raw_kwh < last.raw_kwh or raw_kwh < exchange.opening_raw_kwh:
            return _quarantine(
                AnomalyKind.DECREASE,
                f"meter exchange at {exchange.at.isoformat()} does not explain {last.raw_kwh}"
                f" -> {raw_kwh} kWh (removal {exchange.removal_raw_kwh},"
                f" opening {exchange.opening_raw_kwh})",
            )
        offset += (exchange.removal_raw_kwh - exchange.opening_raw_kwh) * rules.multiplier
        flags.add(Flag.EXCHANGE)
    elif raw_kwh >= last.raw_kwh:
        delta_raw = raw_kwh - last.raw_kwh
    else:
        modulus = rules.register_modulus_kwh
        hours = Decimal((ts - last.ts).total_seconds()) / SECONDS_PER_HOUR
        wrapped = raw_kwh + modulus - last.raw_kwh if modulus else None
        if wrapped is None or wrapped * rules.multiplier > rules.max_power_kw * hours:
            return _quarantine(
                AnomalyKind.DECREASE,
                f"register went down {last.raw_kwh} -> {raw_kwh} kWh; no declared exchange,"
                + (
                    f" and a rollover at {modulus} kWh would mean {wrapped} kWh in"
                    f" {hours:.4f} h, above {rules.max_power_kw} kW"
                    if wrapped is not None
                    else " and no register maximum is set for a rollover"
                ),
            )
        delta_raw = wrapped
        offset += modulus * rules.multiplier  # type: ignore[operator]
        flags.add(Flag.ROLLOVER)
    energy = delta_raw * rules.multiplier
    elapsed = ts - last.ts
    # A register ticks in whole steps: one step may land at any moment, however short the gap.
    limit = (
        rules.max_power_kw * Decimal(elapsed.total_seconds()) / SECONDS_PER_HOUR
        + rules.resolution_kwh * rules.multiplier
    )
    if energy > limit:
        return _quarantine(
            AnomalyKind.SPIKE,
            f"{energy} kWh in {elapsed} is above the {rules.max_power_kw} kW maximum"
            f" ({limit.quantize(Decimal('0.001'))} kWh)",
        )
    if elapsed > rules.expected_interval * rules.gap_factor:
        flags.add(Flag.ESTIMATED)
    anomaly = None
    reason = ""
    if relay_open and energy > 0:
        flags.add(Flag.TAMPER)
        anomaly = AnomalyKind.TAMPER
        reason = f"{energy} kWh consumed while the relay was open"
    return Verdict(
        Outcome.ACCEPTED, frozenset(flags), offset, raw_kwh * rules.multiplier + offset,
        energy, anomaly, reason,
    )  # fmt: skip


def _quarantine(kind: AnomalyKind, reason: str) -> Verdict:
    return Verdict(Outcome.QUARANTINED, anomaly=kind, reason=reason)
