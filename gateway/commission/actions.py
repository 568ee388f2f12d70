"""The optional active tests: relay open / close round trip, balance write and read-back.

Both leave the meter as they found it: the relay back in its first state, the balance
back at the value read before the test. Both go through the driver, whose ``set_relay``
and ``write_balance`` confirm by reading back.
"""

from __future__ import annotations

from decimal import Decimal

from drivers.errors import DriverError
from drivers.modbus.driver import ModbusMeterDriver
from gateway.commission import explain as ex
from gateway.commission.checks import CheckResult
from gateway.commission.explain import Target


async def relay_round_trip(driver: ModbusMeterDriver, target: Target) -> list[CheckResult]:
    if driver.model.relay is None:
        why = f"model {driver.model.name} has no relay register: drop --relay-test or check --model"
        return [CheckResult("relay", "fail", "no relay in the map", why)]
    try:
        before = (await driver.read()).relay
    except DriverError as error:
        return [CheckResult("relay", "fail", "cannot read the relay", ex.explain(error, target))]
    results = []
    order = (True, False) if before != "open" else (False, True)  # end where it started
    for open_it in order:
        name = "relay opens" if open_it else "relay closes"
        try:
            await driver.set_relay(open=open_it)
        except DriverError as error:
            results.append(CheckResult(name, "fail", str(error)[:80], ex.explain(error, target)))
            break
        results.append(CheckResult(name, "pass", f"read back {'open' if open_it else 'closed'}"))
    return results


async def balance_round_trip(
    driver: ModbusMeterDriver, target: Target, amount: Decimal
) -> CheckResult:
    name = "balance write"
    spec = driver.model.balance
    if spec is None or not spec.writable:
        why = (
            f"model {driver.model.name} has no writable balance register (remote cost control"
            " keeps the balance in the gateway): drop --balance-test or check --model"
        )
        return CheckResult(name, "fail", "no writable balance", why)
    try:
        before = (await driver.read()).balance
        await driver.write_balance(amount)
        if before is not None:
            await driver.write_balance(before)
    except DriverError as error:
        return CheckResult(name, "fail", str(error)[:80], ex.explain(error, target))
    restored = f"; restored {before}" if before is not None else ""
    return CheckResult(name, "pass", f"wrote {amount}, read back {amount}{restored}")
