"""Credit control: disconnect and reconnect, friendly hours, emergency credit, top-ups, commands."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core.commands import (
    Backoff,
    CommandAction,
    CommandStateError,
    CommandStatus,
    MeterCommand,
)
from gateway.core.credit import (
    Action,
    CreditConfigError,
    EmergencyCreditRefusedError,
    EmergencyCreditTerms,
    FriendlySchedule,
    RecoveryTerms,
    RelayState,
    RepaymentOrder,
    allocate_top_up,
    decide,
    grant_emergency_credit,
)
from gateway.core.money import ZERO

D = Decimal
LONDON = ZoneInfo("Europe/London")
EARLY_MAY = date(2025, 5, 5)  # a UK bank holiday, a Monday
NIGHTS = FriendlySchedule(
    "Europe/London", night_start=time(18), night_end=time(8), holidays=frozenset({EARLY_MAY})
)
WEEKDAY_NOON = datetime(2025, 6, 11, 12, tzinfo=LONDON)  # a Wednesday


def london(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def cut(
    balance: str,
    now: datetime,
    friendly: FriendlySchedule | None = None,
    reconnect_level: Decimal = ZERO,
) -> Action:
    return decide(
        balance=D(balance), relay=RelayState.CLOSED, now=now, friendly=friendly,
        reconnect_level=reconnect_level,
    ).action  # fmt: skip


class TestDisconnectAndReconnect:
    def test_the_relay_opens_at_zero_and_below(self) -> None:
        assert cut("0.00", WEEKDAY_NOON, friendly=NIGHTS) is Action.OPEN_RELAY
        assert cut("-0.01", WEEKDAY_NOON) is Action.OPEN_RELAY

    def test_nothing_happens_while_there_is_credit(self) -> None:
        assert cut("0.01", WEEKDAY_NOON) is Action.NONE

    def test_a_protected_account_is_never_disconnected(self) -> None:
        decision = decide(balance=D(-50), relay=RelayState.CLOSED, now=WEEKDAY_NOON, protected=True)
        assert (decision.action, decision.defer_until) == (Action.NONE, None)
        assert "protected" in decision.reason

    def test_a_protected_account_with_an_open_relay_is_reconnected(self) -> None:
        decision = decide(balance=D(-5), relay=RelayState.OPEN, now=WEEKDAY_NOON, protected=True)
        assert decision.action is Action.CLOSE_RELAY

    def test_reconnect_once_the_balance_is_above_the_reconnect_level(self) -> None:
        def reconnect(balance: str) -> Action:
            return decide(
                balance=D(balance), relay=RelayState.OPEN, now=WEEKDAY_NOON,
                reconnect_level=D("2.00"),
            ).action  # fmt: skip

        assert reconnect("2.00") is Action.NONE
        assert reconnect("2.01") is Action.CLOSE_RELAY

    def test_friendly_hours_do_not_reconnect_an_open_relay(self) -> None:
        night = london(2025, 6, 11, 23)
        assert decide(balance=D(0), relay=RelayState.OPEN, now=night, friendly=NIGHTS).action == (
            Action.NONE
        )

    def test_naive_instants_and_a_negative_reconnect_level_are_refused(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            cut("0", datetime(2025, 6, 11, 12))
        with pytest.raises(CreditConfigError, match="reconnect_level"):
            cut("0", WEEKDAY_NOON, reconnect_level=D(-1))


class TestFriendlyHours:
    def defer(self, now: datetime, schedule: FriendlySchedule = NIGHTS) -> datetime | None:
        decision = decide(balance=D(0), relay=RelayState.CLOSED, now=now, friendly=schedule)
        assert decision.action is Action.DEFER
        return decision.defer_until

    def test_a_weeknight_defers_to_eight_in_the_morning(self) -> None:
        assert self.defer(london(2025, 6, 11, 18)) == london(2025, 6, 12, 8)
        assert self.defer(london(2025, 6, 12, 7, 59)) == london(2025, 6, 12, 8)
        assert cut("0", london(2025, 6, 12, 8), friendly=NIGHTS) is Action.OPEN_RELAY

    def test_friday_night_weekend_and_sunday_night_are_one_period(self) -> None:
        assert self.defer(london(2025, 6, 13, 19)) == london(2025, 6, 16, 8)
        assert self.defer(london(2025, 6, 14, 12)) == london(2025, 6, 16, 8)

    def test_a_holiday_monday_extends_the_weekend_to_tuesday_morning(self) -> None:
        assert self.defer(london(2025, 5, 2, 18)) == london(2025, 5, 6, 8)
        assert self.defer(london(2025, 5, 5, 12)) == london(2025, 5, 6, 8)

    def test_dst_spring_forward_weekend_ends_at_eight_bst(self) -> None:
        # Clocks go forward on Sunday 30 March 2025; Monday 08:00 BST is 07:00 UTC.
        assert self.defer(london(2025, 3, 29, 23)) == datetime(2025, 3, 31, 7, tzinfo=UTC)

    def test_dst_fall_back_night_ends_at_eight_gmt(self) -> None:
        # Clocks go back on Sunday 26 October 2025; a 25-hour day, then Monday 08:00 GMT.
        assert self.defer(london(2025, 10, 26, 1, 30)) == datetime(2025, 10, 27, 8, tzinfo=UTC)

    def test_a_night_ending_in_the_missing_hour_ends_when_the_clocks_jump(self) -> None:
        schedule = FriendlySchedule(
            "Europe/London", night_start=time(22), night_end=time(1, 30), weekend_days=frozenset()
        )
        assert self.defer(london(2025, 3, 29, 23), schedule) == datetime(2025, 3, 30, 1, tzinfo=UTC)

    def test_a_daytime_window_that_does_not_cross_midnight(self) -> None:
        lunch = FriendlySchedule(
            "Asia/Shanghai", night_start=time(12), night_end=time(14), weekend_days=frozenset()
        )
        shanghai = ZoneInfo("Asia/Shanghai")
        assert lunch.friendly_until(datetime(2025, 6, 11, 13, tzinfo=shanghai)) == datetime(
            2025, 6, 11, 14, tzinfo=shanghai
        )
        assert not lunch.is_friendly(datetime(2025, 6, 11, 14, tzinfo=shanghai))

    def test_bad_schedules_are_refused_with_the_field_named(self) -> None:
        with pytest.raises(CreditConfigError, match="timezone"):
            FriendlySchedule("Europe/Nowhere")
        with pytest.raises(CreditConfigError, match="night_start"):
            FriendlySchedule("UTC", night_start=time(18))
        with pytest.raises(CreditConfigError, match="night_end"):
            FriendlySchedule("UTC", night_start=time(18), night_end=time(18))
        with pytest.raises(CreditConfigError, match="weekend_days"):
            FriendlySchedule("UTC", weekend_days=frozenset(range(7)))


# Friendly hours judged by the wall clock, independently of the schedule's own arithmetic.
# Boundaries avoid 01:00-02:00, the hour London skips in spring and repeats in autumn.
wall_times = st.builds(time, st.sampled_from([0, *range(2, 24)]), st.sampled_from([0, 30]))
schedules = st.builds(
    lambda night, weekend, holidays: FriendlySchedule(
        "Europe/London", night[0], night[1], weekend, holidays
    ),
    st.tuples(wall_times, wall_times).filter(lambda night: night[0] != night[1]),
    st.frozensets(st.integers(0, 6), max_size=3),
    st.frozensets(st.sampled_from([EARLY_MAY, date(2025, 3, 31), date(2025, 10, 27)])),
)
# 2025 in seconds, with the DST weekends drawn often.
instants = st.one_of(
    st.integers(0, 365 * 86400).map(
        lambda s: datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=s)
    ),
    st.integers(0, 4 * 86400).map(
        lambda s: datetime(2025, 3, 28, tzinfo=UTC) + timedelta(seconds=s)
    ),
    st.integers(0, 4 * 86400).map(
        lambda s: datetime(2025, 10, 24, tzinfo=UTC) + timedelta(seconds=s)
    ),
)


def friendly_by_wall_clock(schedule: FriendlySchedule, at: datetime) -> bool:
    local = at.astimezone(LONDON)
    day, now = local.date(), local.time()
    if day in schedule.holidays or day.weekday() in schedule.weekend_days:
        return True
    start, end = schedule.night_start, schedule.night_end
    assert start is not None
    assert end is not None
    return start <= now < end if start < end else now >= start or now < end


@given(schedules, instants, st.integers(-5000, 0))
@settings(max_examples=400, deadline=None)
def test_friendly_hours_never_disconnect_and_defer_to_their_first_unfriendly_instant(
    schedule: FriendlySchedule, now: datetime, balance_minor: int
) -> None:
    decision = decide(
        balance=D(balance_minor) / 100, relay=RelayState.CLOSED, now=now, friendly=schedule
    )
    if not friendly_by_wall_clock(schedule, now):
        assert decision.action is Action.OPEN_RELAY
        return
    assert decision.action is Action.DEFER
    until = decision.defer_until
    assert until is not None
    assert until > now
    assert not friendly_by_wall_clock(schedule, until)
    for fraction in (0.25, 0.5, 0.75, 0.999):
        assert friendly_by_wall_clock(schedule, now + (until - now) * fraction)
    assert friendly_by_wall_clock(schedule, until - timedelta(seconds=1))


@given(
    st.integers(-10**6, 10**6), st.sampled_from(list(RelayState)), schedules, instants,
    st.integers(0, 1000),
)  # fmt: skip
@settings(max_examples=200, deadline=None)
def test_protected_accounts_never_disconnect(
    balance_minor: int, relay: RelayState, schedule: FriendlySchedule, now: datetime, level: int
) -> None:
    decision = decide(
        balance=D(balance_minor) / 100, relay=relay, now=now, protected=True,
        friendly=schedule, reconnect_level=D(level) / 100,
    )  # fmt: skip
    assert decision.action in {Action.NONE, Action.CLOSE_RELAY}


class TestEmergencyCredit:
    terms = EmergencyCreditTerms(amount=D("5.00"), available_below=D("1.00"))

    def test_granted_when_the_balance_is_low_and_none_is_outstanding(self) -> None:
        assert grant_emergency_credit(self.terms, balance=D("0.99"), outstanding=D(0)) == D("5.00")

    def test_refused_while_an_earlier_loan_is_outstanding(self) -> None:
        with pytest.raises(EmergencyCreditRefusedError, match="not yet repaid"):
            grant_emergency_credit(self.terms, balance=D("-1"), outstanding=D("0.01"))

    def test_refused_while_the_balance_is_not_low(self) -> None:
        with pytest.raises(EmergencyCreditRefusedError, match=r"1\.00 is not below 1\.00"):
            grant_emergency_credit(self.terms, balance=D("1.00"), outstanding=D(0))


UK = RecoveryTerms(share=D("0.25"), cap_per_top_up=D("4.00"))


def split(top_up: str, loan: str, debt: str, terms: RecoveryTerms = UK) -> tuple[Decimal, ...]:
    a = allocate_top_up(D(top_up), emergency_outstanding=D(loan), debt=D(debt), terms=terms)
    return (a.emergency_repaid, a.debt_recovered, a.to_balance)


class TestTopUpAllocation:
    def test_the_worked_example_of_the_docs(self) -> None:
        assert split("20.00", "5.00", "12.00") == (D("5.00"), D("3.75"), D("11.25"))

    def test_emergency_credit_is_repaid_before_any_debt(self) -> None:
        assert split("3.00", "5.00", "12.00") == (D("3.00"), D("0.00"), D("0.00"))

    def test_debt_recovery_stops_at_the_cap(self) -> None:
        assert split("40.00", "0", "12.00") == (D("0.00"), D("4.00"), D("36.00"))

    def test_debt_recovery_stops_at_the_debt(self) -> None:
        assert split("40.00", "0", "1.50") == (D("0.00"), D("1.50"), D("38.50"))

    def test_the_share_is_rounded_down_in_the_customers_favour(self) -> None:
        assert split("0.03", "0", "12.00") == (D("0.00"), D("0.00"), D("0.03"))
        third = RecoveryTerms(share=D("0.3333"))
        assert split("10.01", "0", "100", third) == (D("0.00"), D("3.33"), D("6.68"))

    def test_debt_first_order_takes_the_share_of_the_whole_top_up(self) -> None:
        debt_first = RecoveryTerms(D("0.25"), D("4.00"), order=RepaymentOrder.DEBT_FIRST)
        assert split("20.00", "5.00", "12.00", debt_first) == (D("5.00"), D("4.00"), D("11.00"))

    def test_amounts_that_are_not_whole_minor_units_are_refused(self) -> None:
        with pytest.raises(ValueError, match="minor units"):
            split("10.005", "0", "0")
        with pytest.raises(CreditConfigError, match="debt"):
            split("10", "0", "-1")
        with pytest.raises(CreditConfigError, match="share"):
            RecoveryTerms(share=D("1.5"))


minor = st.integers(0, 10**7)


@given(
    minor, minor, minor, st.integers(0, 100).map(lambda p: D(p) / 100),
    st.one_of(st.none(), minor), st.sampled_from(list(RepaymentOrder)),
)  # fmt: skip
@settings(max_examples=500, deadline=None)
def test_allocation_parts_are_non_negative_exact_and_within_share_and_cap(
    top_up: int, loan: int, debt: int, share: Decimal, cap: int | None, order: RepaymentOrder
) -> None:
    cap_amount = None if cap is None else D(cap) / 100
    terms = RecoveryTerms(share, cap_amount, order=order)
    a = allocate_top_up(
        D(top_up) / 100, emergency_outstanding=D(loan) / 100, debt=D(debt) / 100, terms=terms
    )
    assert min(a.emergency_repaid, a.debt_recovered, a.to_balance) >= 0
    assert a.emergency_repaid + a.debt_recovered + a.to_balance == a.top_up
    assert a.emergency_repaid <= D(loan) / 100
    assert a.debt_recovered <= D(debt) / 100
    assert cap_amount is None or a.debt_recovered <= cap_amount
    first = a.emergency_repaid if order is RepaymentOrder.EMERGENCY_FIRST else D(0)
    assert a.debt_recovered <= (a.top_up - first) * share
    if order is RepaymentOrder.EMERGENCY_FIRST:
        assert a.emergency_repaid == min(a.top_up, D(loan) / 100)


T0 = datetime(2025, 6, 11, 12, tzinfo=UTC)
BACKOFF = Backoff(first=timedelta(seconds=10), factor=2, longest=timedelta(seconds=60),
                  max_attempts=4)  # fmt: skip


def command(ttl_s: int = 600) -> MeterCommand:
    return MeterCommand(
        "cmd-1", "meter-7", CommandAction.RELAY_OPEN, T0, T0 + timedelta(seconds=ttl_s)
    )


class TestMeterCommands:
    def test_a_new_command_is_sent_at_once_and_counts_only_when_confirmed(self) -> None:
        pending = command()
        assert pending.next_attempt(T0, BACKOFF) == T0
        sent = pending.sent(T0)
        assert (sent.status, sent.attempts, sent.last_sent_at) == (CommandStatus.SENT, 1, T0)
        assert sent.confirmed().status is CommandStatus.CONFIRMED
        assert sent.confirmed().next_attempt(T0, BACKOFF) is None

    def test_resends_back_off_exponentially_up_to_the_longest_wait(self) -> None:
        cmd, now, gaps = command(), T0, []
        while (due := cmd.next_attempt(now, BACKOFF)) is not None:
            gaps.append((due - now).total_seconds())
            now = due
            cmd = cmd.sent(now)
        assert gaps == [0, 10, 20, 40]
        assert BACKOFF.delay(5) == timedelta(seconds=60)

    def test_no_send_is_planned_past_the_expiry_and_expired_commands_stop(self) -> None:
        cmd = command(ttl_s=15).sent(T0)
        assert cmd.next_attempt(T0, BACKOFF) == T0 + timedelta(seconds=10)
        cmd = cmd.sent(T0 + timedelta(seconds=10))
        assert cmd.next_attempt(T0 + timedelta(seconds=10), BACKOFF) is None  # 30 s > 15 s
        later = T0 + timedelta(seconds=15)
        assert cmd.is_expired(later)
        assert cmd.expired(later).status is CommandStatus.EXPIRED
        with pytest.raises(CommandStateError):
            cmd.sent(later)

    def test_a_late_confirmation_of_a_sent_command_still_counts(self) -> None:
        assert command(ttl_s=15).sent(T0).confirmed().status is CommandStatus.CONFIRMED

    def test_illegal_transitions_are_refused(self) -> None:
        with pytest.raises(CommandStateError, match="confirmed while pending"):
            command().confirmed()
        with pytest.raises(CommandStateError, match="not expired"):
            command().expired(T0)
        failed = command().sent(T0).failed()
        assert failed.status is CommandStatus.FAILED
        with pytest.raises(CommandStateError):
            failed.sent(T0)
        assert not failed.is_expired(T0 + timedelta(days=1))


def test_a_schedule_with_no_friendly_times_ends_at_once() -> None:
    """No nights, no weekends, no holidays: nothing is friendly (this once looped forever)."""
    schedule = FriendlySchedule("UTC", weekend_days=frozenset())
    now = datetime(2025, 6, 7, 12, tzinfo=UTC)
    assert schedule.friendly_until(now) is None
    assert not schedule.is_friendly(now)
