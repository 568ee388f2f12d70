"""One reading through validation and rating, into a reading row and a ledger entry."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from gateway.core.deduction import MeterReading
from gateway.core.errors import BandRegisterMismatchError, RatingError
from gateway.core.rating import rate_interval
from gateway.core.tariff import Tariff
from gateway.core.validation import Flag, Outcome, Verdict, judge
from gateway.ledger.batch import IngestResult, ReadingIn, anomaly_row
from gateway.ledger.codec import deduction_details
from gateway.ledger.meter_state import MeterState
from gateway.ledger.posting import AccountState, new_id
from gateway.ledger.tariffs import TariffCache
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import account_tariffs


class Rater:
    """Judges and prices readings for the accounts and meters locked by one batch."""

    def __init__(
        self,
        uow: UnitOfWork,
        tariffs: TariffCache,
        account_states: dict[str, AccountState],
        meter_states: dict[str, MeterState],
    ) -> None:
        self.accounts = account_states
        self.meters = meter_states
        self.assignments: dict[str, list[tuple[datetime, str]]] = {}
        rows = uow.connection.execute(
            select(account_tariffs)
            .where(account_tariffs.c.account_id.in_(list(account_states)))
            .order_by(account_tariffs.c.effective_from)
        )
        for row in rows:
            self.assignments.setdefault(row.account_id, []).append(
                (row.effective_from, row.tariff_id)
            )
        needed = {tariff_id for history in self.assignments.values() for _, tariff_id in history}
        self.tariffs = tariffs.get_many(uow, needed)

    def tariff_for(self, account_id: str, at: datetime) -> Tariff:
        history = self.assignments.get(account_id, [])
        current = [tariff_id for start, tariff_id in history if start <= at]
        if not current:
            msg = f"account {account_id} has no tariff assigned at {at.isoformat()}"
            raise RatingError(msg)
        return self.tariffs[current[-1]]

    def judge_and_post(
        self, reading: ReadingIn, meter: MeterState, now: datetime
    ) -> tuple[IngestResult, dict[str, Any], dict[str, Any] | None]:
        ts = reading.ts.astimezone(UTC)
        reading_id = new_id()
        # Tamper needs the relay open over the whole interval: at the previous reading and now
        # (as the meter reported it, else as the gateway last confirmed it).
        was_open = meter.last_relay == "open" or (
            meter.last_relay is None and meter.relay == "open"
        )
        is_open = reading.relay == "open" or (reading.relay is None and meter.relay == "open")
        relay_open = was_open and is_open
        verdict = judge(
            ts, reading.energy_kwh, meter.last, meter.rules,
            exchanges=meter.exchanges, relay_open=relay_open,
        )  # fmt: skip
        flags = {flag.value for flag in verdict.flags}
        entry: dict[str, Any] | None = None
        anomaly: dict[str, Any] | None
        anomaly_kind, reason = verdict.anomaly, verdict.reason
        outcome = verdict.outcome
        if verdict.charged:
            try:
                entry = self._post(reading_id, ts, reading, meter, verdict=verdict, flags=flags,
                                   now=now)  # fmt: skip
            except RatingError as error:
                outcome = Outcome.QUARANTINED
                kind = "band_mismatch" if isinstance(error, BandRegisterMismatchError) else "rating"
                anomaly_kind, reason = None, f"refused by rating: {error.reason}"
                anomaly = anomaly_row(meter.id, meter.account_id, reading_id, reading,
                                      kind=kind, detail=reason, now=now)  # fmt: skip
                row = self._row(reading_id, ts, reading, None, outcome=outcome, flags=flags,
                                reason=reason, entry_id=None, now=now)  # fmt: skip
                return (
                    IngestResult(meter.id, ts, outcome.value, reading_id, reason=reason),
                    row,
                    anomaly,
                )
        if outcome is Outcome.ACCEPTED:
            meter.advance(reading_id, ts, reading.energy_kwh, verdict.offset_kwh,
                          bands=dict(reading.bands_kwh) if reading.bands_kwh else None,
                          relay=reading.relay)  # fmt: skip
        anomaly = None
        if anomaly_kind is not None:
            anomaly = anomaly_row(meter.id, meter.account_id, reading_id, reading,
                                  kind=anomaly_kind.value, detail=reason, now=now)  # fmt: skip
        entry_id = entry["id"] if entry else None
        charged = -entry["amount"] if entry else None
        row = self._row(reading_id, ts, reading, verdict.continuous_kwh, outcome=outcome,
                        flags=flags, reason=reason, entry_id=entry_id, now=now)  # fmt: skip
        result = IngestResult(meter.id, ts, outcome.value, reading_id, entry_id, charged,
                              tuple(sorted(flags)), reason)  # fmt: skip
        return result, row, anomaly

    def _post(
        self,
        reading_id: str,
        ts: datetime,
        reading: ReadingIn,
        meter: MeterState,
        *,
        verdict: Verdict,
        flags: set[str],
        now: datetime,
    ) -> dict[str, Any]:
        last = meter.last
        assert last is not None
        assert verdict.continuous_kwh is not None
        rules = meter.rules
        keep_bands = not verdict.flags & {Flag.ROLLOVER, Flag.EXCHANGE}
        previous = MeterReading(
            last.ts, last.continuous_kwh(rules),
            _scaled(meter.last_bands, rules.multiplier) if keep_bands else None,
        )  # fmt: skip
        current = MeterReading(
            ts, verdict.continuous_kwh,
            _scaled(reading.bands_kwh, rules.multiplier) if keep_bands else None,
        )  # fmt: skip
        account = self.accounts[meter.account_id]
        tariff = self.tariff_for(account.id, last.ts)
        cycle_before = account.cycle
        deduction = rate_interval(
            previous, current, tariff, cycle_before,
            extra_kwh_per_month=account.extra_kwh_per_month,
        )  # fmt: skip
        if deduction.estimated:
            flags.add(Flag.ESTIMATED.value)
        account.cycle = deduction.cycle
        return account.append(
            "deduction", -deduction.amount, ts, now,
            meter_id=meter.id, prev_reading_id=meter.last_reading_id, reading_id=reading_id,
            prev_ts=previous.ts, prev_kwh=previous.energy_kwh, curr_ts=ts,
            curr_kwh=current.energy_kwh, energy_kwh=deduction.energy_kwh,
            tariff_version=",".join(dict.fromkeys(ln.tariff_version for ln in deduction.lines))
            or tariff.versions[tariff.in_force(last.ts)].label,
            details=deduction_details(deduction, cycle_before, sorted(flags))
            | {"tariff_id": tariff.versions[0].tariff_id,
               "extra_kwh_per_month": format(account.extra_kwh_per_month, "f"),
               "prev_bands_kwh": _text(previous.bands_kwh),
               "curr_bands_kwh": _text(current.bands_kwh)},
        )  # fmt: skip

    @staticmethod
    def _row(
        reading_id: str, ts: datetime, reading: ReadingIn, continuous: Decimal | None, *,
        outcome: Outcome, flags: set[str], reason: str, entry_id: str | None, now: datetime,
    ) -> dict[str, Any]:  # fmt: skip
        return {
            "id": reading_id, "meter_id": reading.meter_id, "ts": ts,
            "received_at": reading.received_at or now, "source": reading.source,
            "raw_kwh": reading.energy_kwh, "bands_kwh": _text(reading.bands_kwh),
            "balance": reading.balance, "relay": reading.relay, "continuous_kwh": continuous,
            "outcome": outcome.value, "flags": ",".join(sorted(flags)), "reason": reason,
            "entry_id": entry_id,
        }  # fmt: skip


def _scaled(bands: Mapping[str, Decimal] | None, multiplier: Decimal) -> dict[str, Decimal] | None:
    if not bands:
        return None
    return {band: kwh * multiplier for band, kwh in bands.items()}


def _text(bands: Mapping[str, Decimal] | None) -> dict[str, str] | None:
    return None if not bands else {band: format(kwh, "f") for band, kwh in bands.items()}
