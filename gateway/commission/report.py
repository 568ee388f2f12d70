"""What the technician sees: live progress, the pass/fail table, and the JSON report."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.status import Status
from rich.table import Table
from rich.text import Text

from gateway.commission.checks import CheckResult
from gateway.commission.runner import Outcome

STYLES = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


class ConsoleProgress:
    """One line per finished check, a spinner naming the one in progress."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._status: Status | None = None

    def begin(self, name: str) -> None:
        if self._status is None:
            self._status = self.console.status(name)
            self._status.start()
        else:
            self._status.update(name)

    def done(self, result: CheckResult) -> None:
        line = Text("  ")
        line.append(f"{result.status.upper():4}", style=STYLES[result.status])
        line.append(f"  {result.name}")
        if result.value:
            line.append(f"  {result.value}", style="dim")
        self.console.print(line)

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def print_summary(outcome: Outcome, console: Console) -> None:
    """The pass/fail table, then each failure's and warning's advice, numbered, full width."""
    table = Table(title=f"Commissioning {outcome.target.where()} as {outcome.target.model.name}")
    table.add_column("check", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("value")
    table.add_column("see", no_wrap=True)
    advice: list[CheckResult] = []
    for result in outcome.results:
        note = ""
        if result.status in {"fail", "warn"} and result.explanation:
            advice.append(result)
            note = f"[{len(advice)}]"
        status = Text(result.status.upper(), style=STYLES[result.status])
        table.add_row(result.name, status, result.value or result.explanation, note)
    console.print(table)
    for number, result in enumerate(advice, 1):
        label = Text(f"[{number}] {result.name}: ", style=STYLES[result.status])
        console.print(label + Text(result.explanation))
    counts = Counter(result.status for result in outcome.results)
    tally = ", ".join(f"{counts[s]} {s}" for s in ("pass", "warn", "fail", "skip") if counts[s])
    if outcome.passed:
        console.print(
            f"[bold green]PASS[/]: the meter is wired, addressed and mapped right ({tally})"
        )
    else:
        console.print(f"[bold red]FAIL[/] ({tally}): start with [1] above")


def to_json(outcome: Outcome) -> dict[str, Any]:
    target = outcome.target
    counts = Counter(result.status for result in outcome.results)
    return {
        "verdict": "pass" if outcome.passed else "fail",
        "meter": {
            "model": target.model.name,
            "transport": target.transport,
            "unit_id": target.unit_id,
            "where": target.where(),
            **(
                {"device": target.device, "serial": target.framing}
                if target.transport == "rtu"
                else {"host": target.host, "port": target.port}
            ),
        },
        "options": {
            "relay_test": outcome.options.relay_test,
            "balance_test": (
                None if outcome.options.balance_test is None else str(outcome.options.balance_test)
            ),
            "settle_s": outcome.options.settle_s,
            "timeout_s": outcome.options.timeout_s,
            "nominal_voltage_v": str(outcome.options.nominal.voltage_v),
            "nominal_frequency_hz": str(outcome.options.nominal.frequency_hz),
        },
        "started_at": outcome.started_at.isoformat(),
        "finished_at": outcome.finished_at.isoformat() if outcome.finished_at else None,
        "summary": {status: counts[status] for status in ("pass", "warn", "fail", "skip")},
        "checks": [
            {
                "name": result.name,
                "status": result.status,
                "value": result.value,
                "explanation": result.explanation,
            }
            for result in outcome.results
        ],
    }


def write_json(outcome: Outcome, path: Path) -> None:
    path.write_text(json.dumps(to_json(outcome), indent=2, ensure_ascii=False) + "\n", "utf-8")
