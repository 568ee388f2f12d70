"""Every reading validation rule, with its visible outcome, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from gateway.ledger.ingest import ReadingIn
from tests.ledger.world import T0, World, reading

D = Decimal
PRICE = D("0.2734")


def test_readings_are_charged_and_the_entry_explains_itself(world: World) -> None:
    baseline, charged = world.ingest(reading("M1", 0, "1000.00"), reading("M1", 15, "1000.50"))
    assert baseline.outcome == "accepted"
    assert baseline.flags == ("baseline",)
    assert baseline.entry_id is None
    assert charged.outcome == "accepted"
    assert charged.charged == D("0.14")  # 0.5 x 0.2734 = 0.1367
    (entry,) = world.entries("A1")
    assert (entry.kind, entry.sequence, entry.amount) == ("deduction", 1, D("-0.14"))
    assert (entry.prev_kwh, entry.curr_kwh, entry.energy_kwh) == (
        D("1000.00"),
        D("1000.50"),
        D("0.50"),
    )
    assert (entry.prev_ts, entry.curr_ts) == (T0, T0 + timedelta(minutes=15))
    assert (entry.balance_before, entry.balance_after) == (D("100.00"), D("99.86"))
    assert entry.prev_reading_id == baseline.reading_id
    assert entry.reading_id == charged.reading_id
    assert entry.tariff_version == "flat@v1"
    (line,) = entry.details["lines"]
    assert (line["energy_kwh"], line["unit_price"], line["amount"]) == ("0.5", "0.2734", "0.1367")
    assert entry.details["rounding"][0]["charged"] == "0.14"
    assert world.balance("A1") == D("99.86")


def test_duplicate_is_a_no_op_returning_the_original_result(world: World) -> None:
    first = world.ingest(reading("M1", 0, "10"), reading("M1", 15, "11"))
    again = world.ingest(reading("M1", 15, "11"), reading("M1", 0, "10"))
    assert [r.duplicate for r in again] == [True, True]
    assert again[0].entry_id == first[1].entry_id
    assert again[0].charged == first[1].charged
    assert again[1].reading_id == first[0].reading_id
    assert len(world.entries("A1")) == 1
    assert len(world.readings("M1")) == 2
    # Inside one batch too.
    twice = world.ingest(reading("M1", 30, "12"), reading("M1", 30, "12"))
    assert [r.duplicate for r in twice] == [False, True]
    assert len(world.entries("A1")) == 2


def test_same_time_different_value_is_quarantined(world: World) -> None:
    world.ingest(reading("M1", 0, "10"), reading("M1", 15, "11"))
    (conflict,) = world.ingest(reading("M1", 15, "11.7"))
    assert conflict.outcome == "quarantined"
    assert "instead of 11 kWh" in conflict.reason
    assert [a.kind for a in world.anomalies("M1")] == ["conflict"]
    assert len(world.entries("A1")) == 1


def test_out_of_order_is_stored_never_charged(world: World) -> None:
    world.ingest(reading("M1", 0, "10"), reading("M1", 30, "12"))
    (late,) = world.ingest(reading("M1", 15, "11"))
    assert late.outcome == "out_of_order"
    assert late.entry_id is None
    stored = [r.outcome for r in world.readings("M1")]
    assert stored == ["accepted", "out_of_order", "accepted"]
    assert len(world.entries("A1")) == 1
    (next_one,) = world.ingest(reading("M1", 45, "13"))
    assert world.entries("A1")[-1].prev_kwh == D(12)
    assert next_one.charged == D("0.27")


def test_rollover_is_explained_by_the_register_maximum(world: World) -> None:
    world.meter("M2", "A1", register_modulus_kwh=D("100000"), max_power_kw=D(20))
    world.ingest(reading("M2", 0, "99999.0"))
    (wrapped,) = world.ingest(reading("M2", 15, "0.5"))
    assert wrapped.outcome == "accepted"
    assert "rollover" in wrapped.flags
    entry = world.entries("A1")[-1]
    assert entry.energy_kwh == D("1.5")
    assert (entry.prev_kwh, entry.curr_kwh) == (D("99999.0"), D("100000.5"))
    (after,) = world.ingest(reading("M2", 30, "1.5"))
    assert world.entries("A1")[-1].energy_kwh == 1
    assert after.flags == ()


def test_implausible_rollover_is_quarantined_with_an_anomaly(world: World) -> None:
    world.meter("M2", "A1", register_modulus_kwh=D("100000"), max_power_kw=D(20))
    world.ingest(reading("M2", 0, "50000"))
    (drop,) = world.ingest(reading("M2", 15, "100"))
    assert drop.outcome == "quarantined"
    assert "above 20 kW" in drop.reason
    assert [a.kind for a in world.anomalies("M2")] == ["decrease"]
    assert world.entries("A1") == []


def test_decrease_without_maximum_or_exchange_is_quarantined(world: World) -> None:
    world.ingest(reading("M1", 0, "500"))
    (reset,) = world.ingest(reading("M1", 15, "0.2"))
    assert reset.outcome == "quarantined"
    assert "no register maximum" in reset.reason
    assert world.readings("M1")[-1].outcome == "quarantined"


def test_declared_exchange_continues_from_the_new_meter(world: World) -> None:
    world.ingest(reading("M1", 0, "500.0"))
    world.exchange("M1", T0 + timedelta(minutes=20), removal="501.0", opening="3.0")
    (swapped,) = world.ingest(reading("M1", 30, "3.5"))
    assert swapped.outcome == "accepted"
    assert "exchange" in swapped.flags
    entry = world.entries("A1")[-1]
    assert entry.energy_kwh == D("1.5")  # 1.0 on the old register, 0.5 on the new
    world.ingest(reading("M1", 45, "4.5"))
    assert world.entries("A1")[-1].energy_kwh == 1


def test_spike_above_max_power_is_quarantined(world: World) -> None:
    world.ingest(reading("M1", 0, "10"))
    (spike,) = world.ingest(reading("M1", 15, "16"))  # 6 kWh in 15 min = 24 kW > 20 kW
    assert spike.outcome == "quarantined"
    assert "above the 20 kW maximum" in spike.reason
    assert [a.kind for a in world.anomalies("M1")] == ["spike"]
    (fine,) = world.ingest(reading("M1", 30, "14"))  # 4 kWh in 30 min from the last good one
    assert fine.outcome == "accepted"


def test_gap_is_charged_on_the_next_reading_apportioned_and_flagged(world: World) -> None:
    world.meter("M3", "A2", max_power_kw=D(20))
    world.ingest(reading("M3", 0, "0"))
    (after_gap,) = world.ingest(reading("M3", 24 * 60, "48"))
    assert after_gap.outcome == "accepted"
    assert "estimated" in after_gap.flags
    entry = world.entries("A2")[-1]
    bands = {line["band"]: line["energy_kwh"] for line in entry.details["lines"]}
    assert bands == {"peak": "32", "valley": "16"}  # 16 h peak, 8 h valley at 2 kW
    assert entry.details["method"] == "apportioned"


def test_consumption_while_relay_open_is_a_tamper_anomaly(world: World) -> None:
    world.ingest(reading("M1", 0, "10", relay="open"))
    (tamper,) = world.ingest(reading("M1", 15, "10.4", relay="open"))
    assert tamper.outcome == "accepted"
    assert "tamper" in tamper.flags
    assert [a.kind for a in world.anomalies("M1")] == ["tamper"]
    assert world.entries("A1")[-1].energy_kwh == D("0.4")


def test_unknown_meter_is_rejected_and_recorded(world: World) -> None:
    (result,) = world.ingest(reading("NOPE", 0, "1"))
    assert result.outcome == "rejected"
    assert [a.kind for a in world.anomalies("NOPE")] == ["unknown_meter"]


def test_installation_reading_is_where_charging_starts(world: World) -> None:
    world.meter("M4", "A1", installed_at=T0, install_reading_kwh=D("7.25"), max_power_kw=D(20))
    (first,) = world.ingest(reading("M4", 15, "8.25"))
    assert first.charged == D("0.27")
    assert world.entries("A1")[-1].prev_reading_id is None


def test_ct_multiplier_scales_the_register(world: World) -> None:
    world.meter("M5", "A1", multiplier=D(40), max_power_kw=D(200))
    world.ingest(reading("M5", 0, "100.00"), reading("M5", 15, "100.05"))
    entry = world.entries("A1")[-1]
    assert (entry.prev_kwh, entry.curr_kwh, entry.energy_kwh) == (D(4000), D(4002), D(2))


def test_band_registers_are_used_and_mismatches_quarantined(world: World) -> None:
    world.meter("M6", "A2", max_power_kw=D(20))
    world.ingest(reading("M6", 0, "10", bands_kwh={"peak": D(6), "valley": D(4)}))
    (ok,) = world.ingest(reading("M6", 60, "12", bands_kwh={"peak": D(6), "valley": D(6)}))
    assert ok.outcome == "accepted"
    entry = world.entries("A2")[-1]
    assert entry.details["method"] == "band_registers"
    assert [(ln["band"], ln["energy_kwh"]) for ln in entry.details["lines"]] == [("valley", "2")]
    (bad,) = world.ingest(reading("M6", 120, "14", bands_kwh={"peak": D(6), "valley": D(7)}))
    assert bad.outcome == "quarantined"
    assert "exceeds the tolerance" in bad.reason
    assert world.anomalies("M6")[-1].kind == "band_mismatch"


def test_one_batch_for_many_meters_is_one_transaction(world: World) -> None:
    world.meter("M7", "A1", max_power_kw=D(20))
    results = world.ingest(
        reading("M1", 0, "1"), reading("M7", 0, "5"), reading("M1", 15, "2"), reading("M7", 15, "7")
    )
    assert [r.outcome for r in results] == ["accepted"] * 4
    entries = world.entries("A1")
    assert [e.sequence for e in entries] == [1, 2]
    assert entries[-1].balance_after == D("100.00") - D("0.27") - D("0.55")
    assert world.verify().violations == ()


def test_one_register_step_in_a_very_short_interval_is_not_a_spike(world: World) -> None:
    # 0.01 kWh in 1 s would be 36 kW, above 20 kW; but a register ticks in 0.01 kWh steps,
    # so a single step may land between two fast polls.
    t = T0 + timedelta(seconds=1)
    world.ingest(reading("M1", 0, "10.00"))
    (step,) = world.ingest(ReadingIn("M1", t, D("10.01")))
    assert step.outcome == "accepted"
    (two,) = world.ingest(ReadingIn("M1", t + timedelta(seconds=1), D("10.03")))
    assert two.outcome == "quarantined"


def test_consumption_before_the_relay_opened_is_not_tamper(world: World) -> None:
    # The relay opened during this interval: the meter says closed before, open now.
    world.ingest(reading("M1", 0, "10", relay="closed"))
    (opened,) = world.ingest(reading("M1", 15, "10.4", relay="open"))
    assert "tamper" not in opened.flags
    (after,) = world.ingest(reading("M1", 30, "10.6", relay="open"))  # open throughout
    assert "tamper" in after.flags
    assert [a.kind for a in world.anomalies("M1")] == ["tamper"]
