"""Ledger entries as CSV (one row per priced line) and statements as printable HTML."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal
from functools import cache
from html import escape
from pathlib import Path
from string import Template

from gateway.queries.ledger import Entry, LineItem
from gateway.queries.statements import Statement

CSV_COLUMNS = (
    "entry_id", "sequence", "kind", "effective_at", "recorded_at", "meter_id", "amount",
    "balance_before", "balance_after", "currency", "prev_reading_id", "prev_ts", "prev_kwh",
    "curr_reading_id", "curr_ts", "curr_kwh", "energy_kwh", "tariff_version", "method",
    "flags", "notes", "reason", "external_ref", "line_no", "line_kind", "line_start",
    "line_end", "line_tariff_version", "line_tier", "line_band", "line_energy_kwh",
    "line_unit_price", "line_amount", "line_tax",
)  # fmt: skip


def _s(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _entry_cells(e: Entry) -> list[str]:
    prev, curr = e.previous, e.current
    return [_s(v) for v in (
        e.id, e.sequence, e.kind, e.effective_at, e.recorded_at, e.meter_id, e.amount,
        e.balance_before, e.balance_after, e.currency, prev and prev.reading_id,
        prev and prev.ts, prev and prev.kwh, curr and curr.reading_id, curr and curr.ts,
        curr and curr.kwh, e.energy_kwh, e.tariff_version, e.method, ";".join(e.flags),
        " | ".join(e.notes), e.reason, e.external_ref,
    )]  # fmt: skip


def _line_cells(number: int, line: LineItem) -> list[str]:
    return [_s(v) for v in (
        number, line.kind, line.start, line.end, line.tariff_version, line.tier, line.band,
        line.energy_kwh, line.unit_price, line.amount, line.tax,
    )]  # fmt: skip


def ledger_csv(entries: Iterable[Entry]) -> str:
    """One row per priced line, the entry's columns repeated on each; an entry without lines
    (a top-up, an adjustment) is one row with the line columns empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        cells = _entry_cells(entry)
        if not entry.lines:
            writer.writerow(cells + [""] * 11)
        for number, line in enumerate(entry.lines, start=1):
            writer.writerow(cells + _line_cells(number, line))
    return out.getvalue()


@cache
def _template() -> Template:
    return Template((Path(__file__).parent / "templates" / "statement.html").read_text())


def _cell(value: object, *, numeric: bool = False) -> str:
    return f"<td{' class=n' if numeric else ''}>{escape(_s(value))}</td>"


def _reading(entry: Entry) -> str:
    if entry.previous is None or entry.current is None:
        return ""
    return (f"{_s(entry.previous.kwh)} kWh at {_s(entry.previous.ts)} → "
            f"{_s(entry.current.kwh)} kWh at {_s(entry.current.ts)}")  # fmt: skip


def _section(title: str, entries: tuple[Entry, ...]) -> str:
    if not entries:
        return f"<h2>{escape(title)}</h2><p>None.</p>"
    head = ("<tr><th>#</th><th>effective</th><th>what</th><th>readings</th><th class=n>kWh</th>"
            "<th class=n>amount</th><th class=n>balance after</th></tr>")  # fmt: skip
    rows = []
    for e in entries:
        what = " ".join(filter(None, [e.kind, e.tariff_version, e.method, ",".join(e.flags),
                                      e.reason, e.external_ref]))  # fmt: skip
        rows.append("<tr>" + _cell(e.sequence) + _cell(e.effective_at) + _cell(what)
                    + _cell(_reading(e))
                    + _cell(e.energy_kwh, numeric=True) + _cell(e.amount, numeric=True)
                    + _cell(e.balance_after, numeric=True) + "</tr>")  # fmt: skip
        for line in e.lines:
            label = " ".join(filter(None, [line.band, f"tier {line.tier}" if line.tier else ""]))
            rows.append(
                "<tr class=lines><td></td>" + _cell(f"{_s(line.start)} – {_s(line.end)}")
                + _cell(f"{line.kind} {label} @ {_s(line.unit_price)}/kWh"
                        f" (tax {_s(line.tax)})") + "<td></td>"
                + _cell(line.energy_kwh, numeric=True) + _cell(line.amount, numeric=True)
                + "<td></td></tr>"
            )  # fmt: skip
    return f"<h2>{escape(title)}</h2><table>{head}{''.join(rows)}</table>"


def statement_html(statement: Statement) -> str:
    sections = "".join(_section(title, entries) for title, entries in (
        ("Top-ups", statement.top_ups), ("Deductions", statement.deductions),
        ("Standing charges", statement.standing_charges), ("Other entries", statement.other),
    ))  # fmt: skip
    values = {name: escape(_s(getattr(statement, name))) for name in (
        "account_id", "month", "timezone", "period_start", "period_end", "currency",
        "opening_balance", "credits", "debits", "closing_balance", "energy_kwh", "check",
    )}  # fmt: skip
    return _template().substitute(values, sections=sections)
