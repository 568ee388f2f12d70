"""The rating demo reconciles, and the CLI validates tariff files naming the field."""

from __future__ import annotations

import itertools
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from gateway.cli import app
from gateway.core.money import round_money
from gateway.demo import run_demo

runner = CliRunner()


def test_demo_month_reconciles_to_the_cent() -> None:
    _, entries = run_demo(Decimal("300.00"))
    charged = sum((e.deduction.amount for e in entries), Decimal(0))
    exact = sum((e.deduction.exact_amount for e in entries), Decimal(0))
    assert charged == round_money(exact, Decimal("0.01"))
    assert entries[-1].balance_after == Decimal("300.00") - charged
    for before, after in itertools.pairwise(entries):
        assert after.balance_before == before.balance_after
    assert any(e.deduction.estimated for e in entries), "the demo's gap is apportioned"
    assert {line.tier for e in entries for line in e.deduction.lines} == {None, 1, 2, 3}


def test_demo_command_prints_the_ledger_and_the_check() -> None:
    result = runner.invoke(app, ["demo", "--rating"])
    assert result.exit_code == 0, result.output
    assert "tier 2 peak" in result.output
    assert "estimated: apportioned by time" in result.output
    assert "sum of charges" in result.output


def test_tariff_check_names_the_field(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        "tariff_id: t\nversion: 1\neffective_from: '2024-01-01'\ntimezone: Europe/Berlin\n"
        "currency: EUR\nprice_per_kwh: '0.31'\n"
    )
    result = runner.invoke(app, ["tariff", "check", str(good)])
    assert result.exit_code == 0, result.output
    assert "t@v1 valid" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("Europe/Berlin", "Europe/Atlantis"))
    result = runner.invoke(app, ["tariff", "check", str(bad)])
    assert result.exit_code == 1
    assert "timezone: unknown timezone 'Europe/Atlantis'" in result.output


def test_python_dash_m_gateway_is_the_same_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "--help"], capture_output=True, text=True, check=True
    )
    assert "demo" in done.stdout
