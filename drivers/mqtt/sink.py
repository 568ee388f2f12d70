"""The port the ingest commits readings through, sync or async; it raises on failure."""

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from drivers.mqtt.readings import MqttReading

Sink: TypeAlias = Callable[[Sequence["MqttReading"]], Awaitable[None] | None]


async def _await(awaitable: Awaitable[None]) -> None:
    await awaitable


def commit(
    sink: Sink, readings: Sequence["MqttReading"], loop: asyncio.AbstractEventLoop | None
) -> None:
    """Call the sink and wait for it; an async sink runs on `loop` if given, else its own."""
    result = sink(readings)
    if result is None or not inspect.isawaitable(result):
        return
    if loop is None:
        asyncio.run(_await(result))
    else:
        asyncio.run_coroutine_threadsafe(_await(result), loop).result()
