"""One process, one event loop: SQLite in a work folder, a broker, the simulated meters, the
gateway (`GatewayApp`), the billing API and the narrator; stopped in reverse order on Ctrl-C
(or after `duration_s`), so the gateway drains its last batch while the broker still runs."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from api.main import create_app
from gateway.runtime.app import GatewayApp
from gateway.runtime.http import HttpServer
from gateway.showcase.banner import print_banner, print_summary
from gateway.showcase.broker import free_port, start_broker
from gateway.showcase.meters import MqttFleet, serve_modbus_meters
from gateway.showcase.seed import Timing, gateway_config, origin_of, seed
from gateway.showcase.story import Api, Narrator
from gateway.storage.db import make_engine
from gateway.storage.migrate import upgrade

READY_TIMEOUT_S = 30.0
Runner = Callable[[asyncio.Event], Coroutine[object, object, None]]  # run(stop) until stop


class DemoError(RuntimeError):
    """The demo could not start (a port taken, a broker that does not answer, ...)."""


@dataclass(frozen=True, slots=True)
class Options:
    port: int = 8000  # the billing API (and dashboard); 0: any free port
    speed: int = 1800  # simulated seconds per real second
    duration_s: float | None = None  # None: until Ctrl-C
    broker: str = "auto"  # auto | mosquitto | embedded | HOST:PORT
    top_up_after_s: float = 3.0


async def run_showcase(options: Options, workdir: Path, console: Console) -> None:
    stop = _stop_on_signals()
    database_url = f"sqlite:///{workdir / 'demo.db'}"
    engine = make_engine(database_url)
    await asyncio.to_thread(upgrade, engine)
    now, timing = datetime.now(UTC), Timing(options.speed)
    origin = origin_of(now)
    key = seed(engine, origin=origin, now=now, timing=timing)
    async with AsyncExitStack() as stack:
        stack.callback(engine.dispose)
        broker = await asyncio.to_thread(start_broker, options.broker, workdir)
        stack.push_async_callback(asyncio.to_thread, broker.stop)
        modbus = await serve_modbus_meters(timing)
        stack.push_async_callback(modbus.stop)
        assert modbus.port is not None
        config = gateway_config(
            database_url=database_url, mqtt=(broker.host, broker.port), modbus_port=modbus.port,
            http_port=free_port(), timing=timing, client_id=f"demo-gateway-{os.getpid()}",
        )  # fmt: skip
        gateway = GatewayApp(config)
        try:
            api = HttpServer(create_app(engine, policy=gateway.policy), host="127.0.0.1",
                             port=options.port)  # fmt: skip
        except OSError as exc:
            msg = f"cannot listen on 127.0.0.1:{options.port} ({exc.strerror}): try --port 0"
            raise DemoError(msg) from exc
        gateway_task = await _start(stack, "gateway", gateway.run)
        await _start(stack, "api", api.serve)
        await _until_connected(gateway, gateway_task)
        fleet = MqttFleet((broker.host, broker.port), origin, timing)
        await asyncio.to_thread(fleet.start)
        stack.push_async_callback(asyncio.to_thread, fleet.stop)
        api_url = f"http://127.0.0.1:{api.port}"
        print_banner(console, broker=broker, config=config, api_url=api_url, key=key,
                     timing=timing, options=options)  # fmt: skip
        narrator = Narrator(engine, console, Api(api_url, key),
                            top_up_after_s=options.top_up_after_s)  # fmt: skip
        await _start(stack, "narrator", narrator.run)
        await _until_stopped(stop, options.duration_s, gateway_task)
        console.print("[bold]stopping[/bold]: meters, API, gateway (draining), broker ...")
    print_summary(console, engine)


async def _start(stack: AsyncExitStack, name: str, run: Runner) -> asyncio.Task[None]:
    """Run `run(stop)` as a task; on leaving the stack, set its stop and wait for it."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(stop), name=name)

    async def finish() -> None:
        stop.set()
        await task

    stack.push_async_callback(finish)
    return task


async def _until_connected(gateway: GatewayApp, task: asyncio.Task[None]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not gateway.mqtt_connected():
        if task.done():
            await task  # raises what stopped it
            msg = "the gateway stopped before it connected to the broker"
            raise DemoError(msg)
        if time.monotonic() > deadline:
            msg = f"the gateway did not connect to the broker within {READY_TIMEOUT_S} s"
            raise DemoError(msg)
        await asyncio.sleep(0.05)


async def _until_stopped(
    stop: asyncio.Event, duration_s: float | None, gateway: asyncio.Task[None]
) -> None:
    waiting = asyncio.create_task(stop.wait())
    await asyncio.wait({waiting, gateway}, timeout=duration_s, return_when="FIRST_COMPLETED")
    waiting.cancel()
    if gateway.done():
        await gateway  # a crash is reported by the caller
        msg = "the gateway stopped on its own"
        raise DemoError(msg)


def _stop_on_signals() -> asyncio.Event:
    """SIGINT (Ctrl-C) or SIGTERM: stop gracefully; a second one: exit at once."""
    stop, loop = asyncio.Event(), asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            os._exit(128 + signum)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    return stop
