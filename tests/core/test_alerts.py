"""Low-balance alerts: one per downward crossing, re-armed only by a top-up past the margin."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core.alerts import (
    Alert,
    AlertConfigError,
    AlertKind,
    AlertLevel,
    AlertState,
    LevelKind,
    evaluate,
)

D = Decimal
MONEY_20 = AlertLevel(LevelKind.MONEY, D("20.00"), margin=D("2.00"))
MONEY_5 = AlertLevel(LevelKind.MONEY, D("5.00"), margin=D("1.00"))
DAYS_3 = AlertLevel(LevelKind.DAYS, D(3), margin=D(1))
LEVELS = (MONEY_20, MONEY_5, DAYS_3)


def step(
    state: AlertState,
    before: str,
    after: str,
    *,
    credit: bool = False,
    forecast: str | None = None,
    levels: tuple[AlertLevel, ...] = LEVELS,
) -> tuple[AlertState, list[Alert]]:
    return evaluate(
        levels,
        state,
        D(before),
        D(after),
        is_credit=credit,
        daily_charge_forecast=None if forecast is None else D(forecast),
        currency="EUR",
    )


def test_crossing_a_money_level_raises_one_alert_with_a_message_a_person_can_read() -> None:
    state, alerts = step(AlertState(), "5.30", "4.80", forecast="2.25", levels=(MONEY_5,))
    assert [a.message for a in alerts] == [
        "balance 4.80 EUR is below 5.00 EUR: about 2.1 days of credit left"
    ]
    alert = alerts[0]
    assert (alert.kind, alert.level, alert.balance, alert.balance_before, alert.days_left) == (
        AlertKind.LOW_BALANCE, MONEY_5, D("4.80"), D("5.30"), D("2.1"),
    )  # fmt: skip
    assert not state.is_armed(MONEY_5)


def test_no_alert_while_above_the_level_or_exactly_at_it() -> None:
    state, alerts = step(AlertState(), "30.00", "20.01")
    assert (alerts, state) == ([], AlertState())
    _, alerts = step(state, "20.01", "20.00", levels=(MONEY_20,))
    assert alerts == []


def test_further_deductions_below_a_fired_level_raise_nothing() -> None:
    state, first = step(AlertState(), "5.10", "4.90", levels=(MONEY_5,))
    state, second = step(state, "4.90", "3.00", levels=(MONEY_5,))
    assert (len(first), second) == (1, [])


def test_one_deduction_crossing_several_levels_raises_one_alert_for_each() -> None:
    _, alerts = step(AlertState(), "25.00", "4.00", forecast="2.00")
    assert [a.level for a in alerts] == [MONEY_20, MONEY_5, DAYS_3]
    assert alerts[2].message == "balance 4.00 EUR: about 2.0 days of credit left, below 3 days"


def test_a_top_up_above_level_plus_margin_re_arms_the_level() -> None:
    state, _ = step(AlertState(), "5.10", "4.90", levels=(MONEY_5,))
    state, alerts = step(state, "4.90", "6.01", credit=True, levels=(MONEY_5,))
    assert alerts == []
    assert state.is_armed(MONEY_5)
    _, alerts = step(state, "6.01", "4.99", levels=(MONEY_5,))
    assert len(alerts) == 1


def test_a_top_up_within_the_margin_does_not_re_arm() -> None:
    state, _ = step(AlertState(), "5.10", "4.90", levels=(MONEY_5,))
    state, _ = step(state, "4.90", "6.00", credit=True, levels=(MONEY_5,))  # 6.00 is not above
    assert not state.is_armed(MONEY_5)
    _, alerts = step(state, "6.00", "4.00", levels=(MONEY_5,))
    assert alerts == []


def test_a_deduction_that_leaves_days_left_above_level_plus_margin_does_not_re_arm() -> None:
    # Consumption fell, so 10.00 EUR now lasts 5 days: above 3 + 1, but no top-up happened.
    state, _ = step(AlertState(), "6.50", "5.00", forecast="2.00", levels=(DAYS_3,))
    assert not state.is_armed(DAYS_3)
    state, _ = step(state, "10.10", "10.00", forecast="2.00", levels=(DAYS_3,))
    assert not state.is_armed(DAYS_3)
    state, _ = step(state, "10.00", "10.50", credit=True, forecast="2.00", levels=(DAYS_3,))
    assert state.is_armed(DAYS_3)


def test_days_levels_wait_without_a_forecast_and_money_levels_still_fire() -> None:
    state, alerts = step(AlertState(), "5.10", "0.50", forecast=None)
    assert [a.level for a in alerts] == [MONEY_20, MONEY_5]
    assert alerts[1].message == "balance 0.50 EUR is below 5.00 EUR"
    assert alerts[1].days_left is None
    assert state.is_armed(DAYS_3)
    _, alerts = step(state, "0.50", "0.40", forecast="0")  # no consumption: no forecast either
    assert alerts == []


def test_days_left_is_zero_when_the_balance_is_negative() -> None:
    _, alerts = step(AlertState(), "0.10", "-1.00", forecast="1.00", levels=(DAYS_3,))
    assert alerts[0].days_left == D("0.0")


def test_state_round_trips_through_json_and_new_levels_start_armed() -> None:
    state, _ = step(AlertState(), "25.00", "4.00", forecast="2.00")
    stored = json.dumps(state.to_json())
    assert stored == '["days:3", "money:20", "money:5"]'
    restored = AlertState.from_json(json.loads(stored))
    assert restored == state
    assert restored.is_armed(AlertLevel(LevelKind.MONEY, D("10.00")))


def test_a_level_keeps_its_state_when_written_with_other_decimal_places() -> None:
    state, _ = step(AlertState(), "5.10", "4.90", levels=(MONEY_5,))
    assert not state.is_armed(AlertLevel(LevelKind.MONEY, D(5), margin=D("0.50")))


def test_bad_levels_are_refused_with_the_field_named() -> None:
    with pytest.raises(AlertConfigError, match="threshold"):
        AlertLevel(LevelKind.MONEY, D(-1))
    with pytest.raises(AlertConfigError, match="margin"):
        AlertLevel(LevelKind.DAYS, D(3), margin=D(-1))
    with pytest.raises(AlertConfigError, match="duplicate levels money:5"):
        step(AlertState(), "1", "0", levels=(MONEY_5, AlertLevel(LevelKind.MONEY, D(5))))


# Model-based check: the alerts a sequence of entries raises, compared with the rule stated over
# the history rather than over a state: a level alerts at entry i when the balance after i is
# below it, and either it never alerted before or, since its last alert, a credit lifted the
# value above level + margin.

# (balance change in cents, daily charge forecast in cents, a rise that is a loan, not a credit)
entries = st.lists(
    st.tuples(st.integers(-3000, 3000), st.sampled_from([None, 50, 150, 400]), st.booleans()),
    max_size=40,
)
levels_strategy = st.lists(
    st.builds(
        AlertLevel,
        st.sampled_from(list(LevelKind)),
        st.integers(0, 3000).map(lambda m: D(m) / 100),
        st.integers(0, 500).map(lambda m: D(m) / 100),
    ),
    max_size=4,
    unique_by=lambda level: level.key,
)


def value_of(level: AlertLevel, balance: Decimal, forecast: Decimal | None) -> Decimal | None:
    if level.kind is LevelKind.MONEY:
        return balance
    return None if forecast is None else max(balance, D(0)) / forecast


@given(st.integers(-1000, 4000), entries, levels_strategy)
@settings(max_examples=300, deadline=None)
def test_exactly_one_alert_per_downward_crossing_over_any_entries(
    start_minor: int, moves: list[tuple[int, int | None, bool]], levels: list[AlertLevel]
) -> None:
    state = AlertState()
    balance = D(start_minor) / 100
    history: list[tuple[Decimal, bool, Decimal | None]] = []  # (after, credit, forecast)
    alerted: dict[str, list[int]] = {level.key: [] for level in levels}
    for index, (move_minor, forecast_minor, loan) in enumerate(moves):
        after = balance + D(move_minor) / 100
        forecast = None if forecast_minor is None else D(forecast_minor) / 100
        credit = move_minor > 0 and not loan
        state, alerts = evaluate(
            levels, state, balance, after, is_credit=credit, daily_charge_forecast=forecast
        )
        history.append((after, credit, forecast))
        for alert in alerts:
            assert alert.level is not None
            alerted[alert.level.key].append(index)
        balance = after
    for level in levels:
        expected, last = [], None
        for index, (after, _credit, forecast) in enumerate(history):
            value = value_of(level, after, forecast)
            if value is None or value >= level.threshold:
                continue  # never an alert while at or above the level
            since = history[(last + 1 if last is not None else 0) : index]
            rearmed = any(
                c
                and (v := value_of(level, a, f)) is not None
                and v > level.threshold + level.margin
                for a, c, f in since
            )
            if last is None or rearmed:
                expected.append(index)
                last = index
        assert alerted[level.key] == expected, level
