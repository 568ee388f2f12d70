"""Print a ledger so that every line can be checked with a calculator (Rich tables)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from gateway.core.deduction import Line, LineKind
from gateway.core.money import round_money
from gateway.core.tariff import Tariff
from gateway.demo import Entry

KWH = Decimal("0.001")


def describe_line(line: Line, currency: str) -> str:
    if line.kind is LineKind.STANDING_CHARGE:
        return f"standing charge 1 day x {line.unit_price} = {_plain(line.amount)}"
    label = " ".join(part for part in (_tier(line.tier), line.band) if part) or "energy"
    return f"{label}: {_plain(line.energy_kwh)} kWh x {line.unit_price} = {_plain(line.amount)}"


def _plain(value: Decimal) -> str:
    """A Decimal without trailing zeros or exponent: 0.2700000 -> 0.27."""
    return f"{value.normalize():f}"


def _tier(tier: int | None) -> str:
    return f"tier {tier}" if tier else ""


def interesting(entries: Sequence[Entry]) -> set[int]:
    """Entries worth showing by default: the start, splits, estimates, the end."""
    shown = {e.sequence for e in entries[:8]} | {e.sequence for e in entries[-4:]}
    for entry in entries:
        deduction = entry.deduction
        if len(deduction.lines) > 1 or deduction.estimated:
            shown |= {entry.sequence - 1, entry.sequence, entry.sequence + 1}
    return shown


def ledger_table(tariff: Tariff, entries: Sequence[Entry], *, show_all: bool) -> Table:
    version = tariff.versions[0]
    tz = ZoneInfo(version.timezone)
    table = Table(title=f"Ledger, {version.name} ({version.label}), {version.currency}")
    for name in ("#", "interval (local)", "readings kWh", "kWh", "priced lines", "exact",
                 "cycle exact after", "cycle rounded", "charged", "balance"):  # fmt: skip
        table.add_column(name, justify="left" if name in {"interval (local)", "priced lines"}
                         else "right")  # fmt: skip
    shown = interesting(entries) if not show_all else {e.sequence for e in entries}
    skipped = 0
    for entry in entries:
        if entry.sequence not in shown:
            skipped += 1
            continue
        if skipped:
            table.add_row("", f"... {skipped} entries of the same kind ...", *[""] * 8)
            skipped = 0
        table.add_row(*_row(entry, tz))
    if skipped:
        table.add_row("", f"... {skipped} entries of the same kind ...", *[""] * 8)
    return table


def _row(entry: Entry, tz: ZoneInfo) -> list[str]:
    deduction = entry.deduction
    start, end = deduction.start.astimezone(tz), deduction.end.astimezone(tz)
    if entry.current is None:
        interval = f"{start:%m-%d} (day)"
    else:
        interval = f"{start:%m-%d %H:%M} -> {end:%H:%M}"
    reading = ""
    if entry.previous and entry.current:
        reading = f"{entry.previous.energy_kwh} -> {entry.current.energy_kwh}"
    lines = [describe_line(line, deduction.currency) for line in deduction.lines] or ["0 kWh"]
    if deduction.estimated:
        lines.append("[yellow]estimated: apportioned by time[/]")
    lines += deduction.notes if entry.current is not None else []
    steps = deduction.rounding
    return [
        str(entry.sequence),
        interval,
        reading,
        _plain(deduction.energy_kwh),
        "\n".join(lines),
        _plain(deduction.exact_amount),
        "\n".join(_plain(s.exact_after) for s in steps) or "-",
        "\n".join(f"{s.rounded_before} -> {s.rounded_after}" for s in steps) or "-",
        f"{deduction.amount}",
        f"{entry.balance_after}",
    ]


def summary_table(tariff: Tariff, entries: Sequence[Entry]) -> Table:
    """Totals per tier and band, and the reconciliation a customer can redo."""
    version = tariff.versions[0]
    totals: dict[tuple[str, str], list[Decimal]] = {}
    for entry in entries:
        for line in entry.deduction.lines:
            label = _tier(line.tier) or "-"
            key = (label, line.band or ("standing charge" if line.energy_kwh == 0 else "-"))
            row = totals.setdefault(key, [Decimal(0), line.unit_price, Decimal(0)])
            row[0] += line.energy_kwh if line.kind is LineKind.ENERGY else 1
            row[2] += line.amount
    table = Table(title="Month summary: quantity x unit price = exact amount")
    for name in ("tier", "band", "quantity", "unit price", "exact amount"):
        table.add_column(name, justify="left" if name in {"tier", "band"} else "right")
    for (tier, band), (quantity, price, amount) in sorted(totals.items()):
        unit = "days" if band == "standing charge" else "kWh"
        table.add_row(tier, band, f"{_plain(quantity)} {unit}", f"{price}", _plain(amount))
    exact = sum((row[2] for row in totals.values()), Decimal(0))
    charged = sum((entry.deduction.amount for entry in entries), Decimal(0))
    table.add_section()
    table.add_row("total", "", "", "exact", _plain(exact))
    table.add_row("", "", "", "rounded once", f"{round_money(exact, version.quantum)}")
    table.add_row("", "", "", "sum of charges", f"{charged}")
    return table


def print_demo(
    tariff: Tariff, entries: Sequence[Entry], *, show_all: bool, console: Console
) -> None:
    console.print(ledger_table(tariff, entries, show_all=show_all))
    console.print(summary_table(tariff, entries))
    first, last = entries[0], entries[-1]
    charged = sum((entry.deduction.amount for entry in entries), Decimal(0))
    console.print(
        f"Opening balance {first.balance_before} - charges {charged} = closing balance"
        f" {last.balance_after}.\nCheck any row: each line is kWh x unit price; charged ="
        " cycle rounded after - before, so the charges add up to the month's exact total"
        " rounded once."
    )
