"""What the demo prints before the story (where to look) and after it (what happened)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine, func, select

from gateway.ledger.verify import verify_ledger
from gateway.showcase.seed import ALERT_LEVELS, CAST, CURRENCY, MODBUS_MODEL, TARIFF, TOP_UP
from gateway.storage.db import UnitOfWork
from gateway.storage.schema import alerts, ledger_entries, meter_commands

if TYPE_CHECKING:
    from gateway.runtime.config import GatewayConfig
    from gateway.showcase.broker import RunningBroker
    from gateway.showcase.run import Options
    from gateway.showcase.seed import Timing


def print_banner(
    console: Console, *, broker: RunningBroker, config: GatewayConfig, api_url: str, key: str,
    timing: Timing, options: Options,
) -> None:  # fmt: skip
    def row(name: str, value: str) -> None:
        console.print(f"  [bold]{name:<11}[/bold]{escape(value)}", highlight=False, soft_wrap=True)

    console.rule("[bold]prepaid-gateway demo[/bold]: a simulated day of prepaid metering, live")
    row("database", config.database.url)
    row("MQTT", f"{broker.description} on {broker.host}:{broker.port}")
    if broker.note:
        console.print(f"  [yellow]note[/yellow]       {escape(broker.note)}", highlight=False)
    link = config.modbus.links[0]
    meters = ", ".join(
        f"{m.meter_id} ({m.protocol}, {m.power_w} W, account {m.account_id},"
        f" {m.opening} {CURRENCY})"
        for m in CAST
    )
    row("Modbus TCP", f"{MODBUS_MODEL} simulator on {link.host}:{link.port}")
    row("meters", meters)
    price = f"{TARIFF['price_per_kwh']} {CURRENCY}/kWh"
    levels = " and ".join(f"{level} {CURRENCY}" for level, _ in ALERT_LEVELS)
    row("tariff", f"{TARIFF['tariff_id']}: flat {price}; low-balance alerts below {levels}")
    minutes = timing.mqtt_step.total_seconds() / 60
    row("time", f"an MQTT reading every {timing.reading_every_s:g} s = {minutes:g} min of"
        f" meter time (--speed {timing.speed}); Modbus polled every {timing.modbus_poll_s:g} s,"
        f" its register {timing.modbus_acceleration}x fast")  # fmt: skip
    console.print()
    row("dashboard", f"{api_url}/dashboard")
    row("API docs", f"{api_url}/docs")
    row("metrics", f"http://{config.http.host}:{config.http.port}/metrics")
    row("API key", f"{key}  (admin, for this demo's database only)")
    row("try", f"curl -H 'X-API-Key: {key}' {api_url}/v1/accounts/A-1002/balance")
    row("top up", f"curl -X POST -H 'X-API-Key: {key}' -H 'Idempotency-Key: my-pay-1'"
        f" -H 'Content-Type: application/json' -d '{{\"amount\": \"{TOP_UP}\"}}'"
        f" {api_url}/v1/accounts/A-1001/top-ups")  # fmt: skip
    stop = "Ctrl-C" if options.duration_s is None else f"after {options.duration_s:g} s, or Ctrl-C"
    row("stop", stop)
    console.rule()


def print_summary(console: Console, engine: Engine) -> None:
    """Counts from the database, and the ledger verified (balances, hash chain, every
    deduction recomputed)."""
    with UnitOfWork(engine, read_only=True) as uow:
        run = uow.connection.execute
        by_kind = select(ledger_entries.c.kind, func.count()).group_by(ledger_entries.c.kind)
        entries: dict[str, int] = dict(run(by_kind).tuples().all())
        raised = run(select(func.count()).select_from(alerts)).scalar_one()
        by_action = (
            select(meter_commands.c.action, func.count())
            .where(meter_commands.c.status == "confirmed")
            .group_by(meter_commands.c.action)
        )
        confirmed: dict[str, int] = dict(run(by_action).tuples().all())
        report = verify_ledger(uow)
    console.rule("[bold]what happened[/bold]")
    console.print(
        f"  {entries.get('deduction', 0)} deductions, {raised} alerts,"
        f" {confirmed.get('relay_open', 0)} disconnects, {entries.get('top_up', 0)} top-ups,"
        f" {confirmed.get('relay_close', 0)} reconnects",
        highlight=False,
    )
    verdict = "OK" if not report.violations else f"{len(report.violations)} VIOLATION(S)"
    console.print(
        f"  ledger verified: {report.accounts} accounts, {report.entries} entries,"
        f" {report.deductions_recomputed} deductions recomputed: {verdict}",
        highlight=False,
    )
    for violation in report.violations:
        console.print(f"  [red]{escape(str(violation))}[/red]")
