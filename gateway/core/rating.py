"""Rating: what an interval between two readings costs, and why, line by line.

A pure function of its arguments: no I/O, no clock, standard library only. The interval is
split wherever the price can change (tariff version, billing cycle, time-of-use band, tier)
and every piece is priced exactly; the deduction is rounded once on the cycle's running total.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from gateway.core.deduction import CycleState, Deduction, Line, LineKind, MeterReading, Method
from gateway.core.errors import (
    BandRegisterMismatchError,
    NegativeConsumptionError,
    RatingError,
    ReadingOrderError,
)
from gateway.core.localtime import local_midnight
from gateway.core.money import KWH_QUANTUM, TAX_QUANTUM, ZERO, RoundingStep, carry_round
from gateway.core.tariff import Tariff, TariffVersion

ONE_DAY = timedelta(days=1)
DEFAULT_BAND_RESOLUTION_KWH = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Slice:
    """A stretch of time with one tariff version, one billing cycle and one band."""

    start: datetime
    end: datetime
    version: TariffVersion
    cycle_start: datetime
    band: int


def rate_interval(
    previous: MeterReading,
    current: MeterReading,
    tariff: Tariff,
    cycle: CycleState | None = None,
    *,
    extra_kwh_per_month: Decimal = ZERO,
    band_resolution_kwh: Decimal = DEFAULT_BAND_RESOLUTION_KWH,
) -> Deduction:
    """Price the consumption between two readings of one meter.

    `cycle` is the account's billing cycle so far (None before the first deduction);
    `extra_kwh_per_month` raises every tier bound (a large-household allowance); per-band
    registers, when both readings have them and the tariff has bands, must add up to the
    total within `band_resolution_kwh` per band register, else the reading is refused.
    """
    if previous.ts.utcoffset() is None or current.ts.utcoffset() is None:
        msg = "reading times must be timezone-aware"
        raise RatingError(msg)
    # UTC inside: datetimes sharing a tzinfo compare and subtract by wall clock across DST.
    start, end = previous.ts.astimezone(UTC), current.ts.astimezone(UTC)
    if end <= start:
        msg = (
            f"current reading at {end.isoformat()} is not after the previous at {start.isoformat()}"
        )
        raise ReadingOrderError(msg)
    energy_kwh = current.energy_kwh - previous.energy_kwh
    if energy_kwh < 0:
        msg = (
            f"register went down from {previous.energy_kwh} to {current.energy_kwh} kWh;"
            " resolve rollover or meter exchange before rating"
        )
        raise NegativeConsumptionError(msg)
    slices = split(tariff, start, end)
    notes: list[str] = []
    if _has_bands(previous, current, slices):
        method = Method.BAND_REGISTERS
        shares = _by_band_registers(
            previous, current, energy_kwh, slices, resolution_kwh=band_resolution_kwh, notes=notes
        )
    elif len(slices) == 1:
        method = Method.SINGLE_SLICE
        shares = [(slices[0], slices[0].band, energy_kwh)]
    else:
        method = Method.APPORTIONED
        parts = apportion(energy_kwh, [_seconds(s) for s in slices])
        shares = [(s, s.band, kwh) for s, kwh in zip(slices, parts, strict=True)]
    lines = _price(shares, cycle, extra_kwh_per_month)
    last_cycle = slices[-1].cycle_start
    return _deduction(
        tariff, lines, cycle, start=start, end=end, energy_kwh=energy_kwh,
        last_cycle_start=last_cycle, method=method, notes=tuple(notes),
    )  # fmt: skip


def rate_standing_charge(tariff: Tariff, day: date, cycle: CycleState | None = None) -> Deduction:
    """The standing charge for one local day, rounded through the same cycle carry."""
    first = tariff.versions[0]
    start = local_midnight(day, first.tz)
    version = tariff.versions[tariff.in_force(start)]
    plan = version.plan(day)
    net_or_gross = version.standing_charge_per_day
    amount, tax = _with_tax(version, net_or_gross)
    line = Line(
        LineKind.STANDING_CHARGE, plan.start, plan.end, version.label, plan.cycle_start,
        None, None, ZERO, net_or_gross, amount, tax,
    )  # fmt: skip
    notes = (f"1 day x {net_or_gross} {version.currency}/day",)
    return _deduction(
        tariff, [line], cycle, start=plan.start, end=plan.end, energy_kwh=ZERO,
        last_cycle_start=plan.cycle_start, method=Method.STANDING_CHARGE, notes=notes,
    )  # fmt: skip


def split(tariff: Tariff, start: datetime, end: datetime) -> list[Slice]:
    """Cut [start, end) at tariff versions, local days (so cycles) and band boundaries."""
    slices = []
    for span_start, span_end, version in tariff.spans(start, end):
        day = version.local_day(span_start)
        while True:
            plan = version.plan(day)
            for piece in plan.slices:
                if piece.end <= span_start:
                    continue
                if piece.start >= span_end:
                    break
                slices.append(
                    Slice(
                        max(piece.start, span_start),
                        min(piece.end, span_end),
                        version,
                        plan.cycle_start,
                        piece.band,
                    )
                )
            if plan.end >= span_end:
                break
            day += ONE_DAY
    return _merge_adjacent(slices)


def _merge_adjacent(slices: list[Slice]) -> list[Slice]:
    """Join neighbours that price the same (midnight inside one band and one cycle)."""
    merged = slices[:1]
    for piece in slices[1:]:
        last = merged[-1]
        if (last.end, last.version, last.cycle_start, last.band) == (
            piece.start, piece.version, piece.cycle_start, piece.band,
        ):  # fmt: skip
            merged[-1] = Slice(last.start, piece.end, last.version, last.cycle_start, last.band)
        else:
            merged.append(piece)
    return merged


def apportion(total: Decimal, weights: Sequence[int]) -> list[Decimal]:
    """Split `total` by integer weights into parts of 0.000001 kWh that add up exactly.

    Largest remainder: every part is rounded down, the leftover quanta go to the parts that
    lost most, and any sub-quantum residue of `total` itself to the heaviest part.
    """
    weight_sum = sum(weights)
    if weight_sum <= 0:
        msg = "cannot apportion over zero elapsed time"
        raise RatingError(msg)
    units = int(total / KWH_QUANTUM)
    floors = [units * w // weight_sum for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(units * weights[i] % weight_sum), i))
    for index in order[: units - sum(floors)]:
        floors[index] += 1
    parts = [KWH_QUANTUM * units_i for units_i in floors]
    residue = total - KWH_QUANTUM * units
    if residue:
        heaviest = max(range(len(weights)), key=lambda i: (weights[i], -i))
        parts[heaviest] += residue
    return parts


def _seconds(piece: Slice) -> int:
    return int((piece.end - piece.start).total_seconds() * 1_000_000)


def _has_bands(previous: MeterReading, current: MeterReading, slices: list[Slice]) -> bool:
    if previous.bands_kwh is None or current.bands_kwh is None:
        return False
    return any(piece.version.is_time_of_use for piece in slices)


def _by_band_registers(
    previous: MeterReading,
    current: MeterReading,
    energy_kwh: Decimal,
    slices: list[Slice],
    *,
    resolution_kwh: Decimal,
    notes: list[str],
) -> list[tuple[Slice, int, Decimal]]:
    before, after = previous.bands_kwh or {}, current.bands_kwh or {}
    if set(before) != set(after):
        msg = f"band registers changed between readings: {sorted(before)} then {sorted(after)}"
        raise BandRegisterMismatchError(msg)
    deltas = {band: after[band] - before[band] for band in after}
    for band, delta in deltas.items():
        if delta < 0:
            msg = f"band register {band!r} went down by {-delta} kWh"
            raise BandRegisterMismatchError(msg)
        for piece in slices:
            if band not in piece.version.bands:
                msg = f"meter band {band!r} is not a band of tariff {piece.version.label}"
                raise BandRegisterMismatchError(msg)
    band_sum = sum(deltas.values(), ZERO)
    tolerance = resolution_kwh * len(deltas)
    residual = energy_kwh - band_sum
    if abs(residual) > tolerance:
        msg = (
            f"band registers advanced {band_sum} kWh but the total register {energy_kwh} kWh;"
            f" difference {residual} exceeds the tolerance {tolerance} kWh"
            f" ({resolution_kwh} kWh per band register)"
        )
        raise BandRegisterMismatchError(msg)
    if residual:
        largest = max(deltas, key=lambda band: (deltas[band], band))
        deltas[largest] += residual
        notes.append(
            f"band registers sum to {band_sum} kWh, total register {energy_kwh} kWh:"
            f" the {residual} kWh difference is added to {largest!r}, the largest band"
        )
    shares: list[tuple[Slice, int, Decimal]] = []
    for band, kwh in deltas.items():
        if not kwh:
            continue
        own = [p for p in slices if p.version.bands[p.band] == band] or slices
        parts = apportion(kwh, [_seconds(p) for p in own]) if len(own) > 1 else [kwh]
        shares += [
            (p, p.version.bands.index(band), part) for p, part in zip(own, parts, strict=True)
        ]
    shares.sort(key=lambda share: share[0].start)
    return shares


def _with_tax(version: TariffVersion, price_amount: Decimal) -> tuple[Decimal, Decimal]:
    """(amount with tax, tax) for an amount at the version's quoted prices."""
    rate = version.tax_rate
    if not rate:
        return price_amount, ZERO
    if version.prices_include_tax:
        return price_amount, (price_amount * rate / (1 + rate)).quantize(TAX_QUANTUM)
    tax = price_amount * rate
    return price_amount + tax, tax


@dataclass(slots=True)
class _Pending:
    """A line being accumulated: pieces of one (version, cycle, tier, band)."""

    start: datetime
    end: datetime
    version: TariffVersion
    cycle_start: datetime
    tier: int
    band: int
    energy_kwh: Decimal

    def line(self) -> Line:
        version = self.version
        unit_price = version.prices[self.tier][self.band]
        amount, tax = _with_tax(version, self.energy_kwh * unit_price)
        return Line(
            kind=LineKind.ENERGY,
            start=self.start,
            end=self.end,
            tariff_version=version.label,
            cycle_start=self.cycle_start,
            tier=self.tier + 1 if version.tier_bounds_kwh else None,
            band=version.bands[self.band] if version.is_time_of_use else None,
            energy_kwh=self.energy_kwh,
            unit_price=unit_price,
            amount=amount,
            tax=tax,
        )


def _price(
    shares: list[tuple[Slice, int, Decimal]], cycle: CycleState | None, extra_kwh: Decimal
) -> list[Line]:
    """Walk the shares in time order through the tiers; a line per version, cycle, tier, band."""
    pending: dict[tuple[str, datetime, int, int], _Pending] = {}
    cycle_start = cycle.start if cycle else None
    consumed = cycle.consumed_kwh if cycle else ZERO
    for piece, band, kwh in shares:
        if not kwh:
            continue
        version = piece.version
        if piece.cycle_start != cycle_start:
            if cycle_start is not None and piece.cycle_start < cycle_start:
                msg = f"cycle state starts {cycle_start.isoformat()}, after this interval's cycle"
                raise RatingError(msg)
            cycle_start, consumed = piece.cycle_start, ZERO
        bounds = version.tier_bounds(extra_kwh)
        remaining = kwh
        while remaining:
            tier = bisect_right(bounds, consumed)
            take = remaining if tier == len(bounds) else min(remaining, bounds[tier] - consumed)
            key = (version.label, piece.cycle_start, tier, band)
            entry = pending.get(key)
            if entry is None:
                pending[key] = _Pending(
                    piece.start, piece.end, version, piece.cycle_start, tier, band, take
                )
            else:
                entry.end = piece.end
                entry.energy_kwh += take
            consumed += take
            remaining -= take
    return [entry.line() for entry in pending.values()]


def _deduction(
    tariff: Tariff,
    lines: list[Line],
    cycle: CycleState | None,
    *,
    start: datetime,
    end: datetime,
    energy_kwh: Decimal,
    last_cycle_start: datetime,
    method: Method,
    notes: tuple[str, ...],
) -> Deduction:
    """Round each cycle's part once on the running total and carry the cycle forward."""
    state = cycle
    steps: list[RoundingStep] = []
    charged = tax_charged = ZERO
    quantum = tariff.versions[0].quantum
    for cycle_start in dict.fromkeys(line.cycle_start for line in lines):
        in_cycle = [line for line in lines if line.cycle_start == cycle_start]
        if state is None or state.start != cycle_start:
            state = CycleState(cycle_start)
        exact = sum((line.amount for line in in_cycle), ZERO)
        tax = sum((line.tax for line in in_cycle), ZERO)
        step = RoundingStep.carry(cycle_start.isoformat(), state.exact_charge, exact, quantum)
        steps.append(step)
        charged += step.charged
        tax_charged += carry_round(state.exact_tax, tax, quantum)
        kwh = sum((line.energy_kwh for line in in_cycle), ZERO)
        state = CycleState(
            cycle_start, state.consumed_kwh + kwh, step.exact_after, state.exact_tax + tax
        )
    if state is None or state.start != last_cycle_start:
        state = CycleState(last_cycle_start)
    return Deduction(
        start, end, tariff.versions[0].currency, energy_kwh, tuple(lines),
        sum((line.amount for line in lines), ZERO), charged, tax_charged,
        tuple(steps), method, notes, state,
    )  # fmt: skip
