"""The demo's MQTT broker: the system Mosquitto if there is one, else an embedded amqtt.

Mosquitto is preferred: the gateway's contract is QoS 1 on a persistent session with manual
acks, and amqtt 0.12 keeps the session but redelivers neither unacknowledged messages nor
those queued while the client was away (tests/showcase/test_broker.py shows both). Within
one uninterrupted connection, which is all the demo needs, amqtt delivers and takes the
gateway's acks correctly, so a machine with only Python still gets the whole story.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 10.0
EMBEDDED_NOTE = (
    "the embedded amqtt broker is fine for this demo but not for production: it does not"
    " redeliver unacknowledged messages after a reconnect (install Mosquitto)"
)


class BrokerError(RuntimeError):
    """The broker could not be started or reached."""


@dataclass(frozen=True, slots=True)
class RunningBroker:
    host: str
    port: int
    description: str  # e.g. "Mosquitto (/usr/sbin/mosquitto)"
    note: str | None  # a caveat worth printing
    stop: Callable[[], None]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def find_mosquitto() -> str | None:
    """`mosquitto` on PATH or in the sbin folders distributions install it to."""
    folders = [os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin"]
    return shutil.which("mosquitto", path=os.pathsep.join(folders))


def start_broker(choice: str, workdir: Path) -> RunningBroker:
    """`auto` (Mosquitto if installed, else embedded), `mosquitto`, `embedded`, or HOST:PORT."""
    if choice not in {"auto", "mosquitto", "embedded"}:
        return _external(choice)
    binary = find_mosquitto() if choice != "embedded" else None
    if binary is not None:
        return _mosquitto(binary, workdir)
    if choice == "mosquitto":
        msg = "--broker mosquitto: no `mosquitto` binary found (install it, or use --broker auto)"
        raise BrokerError(msg)
    return _embedded(
        note=f"no Mosquitto found: {EMBEDDED_NOTE}" if choice == "auto" else EMBEDDED_NOTE
    )


def _wait_listening(host: str, port: int, alive: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not port_open(host, port):
        if not alive() or time.monotonic() > deadline:
            msg = f"{what} is not listening on {host}:{port}"
            raise BrokerError(msg)
        time.sleep(0.02)


def _external(address: str) -> RunningBroker:
    host, _, port_text = address.rpartition(":")
    if not host or not port_text.isdigit():
        msg = f"--broker: expected auto, mosquitto, embedded or HOST:PORT, got {address!r}"
        raise BrokerError(msg)
    _wait_listening(host, int(port_text), lambda: True, f"the broker at {address}")
    return RunningBroker(host, int(port_text), f"the broker at {address}", None, lambda: None)


def _mosquitto(binary: str, workdir: Path) -> RunningBroker:
    port = free_port()
    config = workdir / "mosquitto.conf"
    config.write_text(  # no persistence file: a fresh broker for each demo
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\n",
        "utf-8",
    )
    with (workdir / "mosquitto.log").open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - a binary found on PATH, our own config
            [binary, "-c", str(config)],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal is for the demo, which stops it last
        )

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    try:
        _wait_listening("127.0.0.1", port, lambda: process.poll() is None, f"mosquitto ({binary})")
    except BrokerError:
        stop()
        raise
    return RunningBroker("127.0.0.1", port, f"Mosquitto ({binary})", None, stop)


def _embedded(note: str) -> RunningBroker:
    """amqtt in a thread of its own with its own event loop, so nothing else can stall it."""
    from amqtt.broker import Broker  # noqa: PLC0415 - only when used
    from amqtt.errors import BrokerError as AmqttError  # noqa: PLC0415

    for noisy in ("amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    port = free_port()
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    ready, failure = threading.Event(), list[BaseException]()
    holder: dict[str, object] = {}

    async def serve() -> None:
        stopping, loop = asyncio.Event(), asyncio.get_running_loop()
        holder["release"] = lambda: loop.call_soon_threadsafe(stopping.set)
        try:
            broker = Broker(config)
            await broker.start()
        except (AmqttError, OSError) as exc:
            failure.append(exc)
            ready.set()
            return
        ready.set()
        await stopping.wait()
        await broker.shutdown()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), name="amqtt", daemon=True)
    thread.start()
    ready.wait(START_TIMEOUT_S)
    if failure or not ready.is_set():
        msg = f"the embedded MQTT broker did not start: {failure[0] if failure else 'timeout'}"
        raise BrokerError(msg) from (failure[0] if failure else None)

    def stop() -> None:
        release = holder["release"]
        assert callable(release)
        release()
        thread.join(timeout=10)

    return RunningBroker("127.0.0.1", port, "embedded amqtt", note, stop)
