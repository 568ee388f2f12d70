"""The gateway's own small HTTP server: `/metrics` (Prometheus), `/health`, `/ready`.

A Starlette app served by uvicorn inside the gateway's event loop. `/health` is liveness
(the process answers); `/ready` is 200 only when the database answers and, if MQTT is
enabled, the client is connected and subscribed; otherwise 503 with the failing check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Iterator

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.runtime.metrics import GatewayMetrics

logger = logging.getLogger(__name__)
DB_CHECK_TIMEOUT_S = 2.0


def _database_ok(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        logger.warning("readiness: database check failed: %s", exc)
        return False
    return True


def make_http_app(
    metrics: GatewayMetrics, engine: Engine, mqtt_connected: Callable[[], bool] | None
) -> Starlette:
    async def metrics_route(_request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def health_route(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready_route(_request: Request) -> Response:
        checks: dict[str, bool] = {}
        try:
            checks["database"] = await asyncio.wait_for(
                asyncio.to_thread(_database_ok, engine), DB_CHECK_TIMEOUT_S
            )
        except TimeoutError:
            checks["database"] = False
        if mqtt_connected is not None:
            checks["mqtt"] = mqtt_connected()
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    return Starlette(
        routes=[
            Route("/metrics", metrics_route),
            Route("/health", health_route),
            Route("/ready", ready_route),
        ]
    )


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the gateway owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    """Binds at construction (so a taken port fails at start, naming it); `serve` until `stop`."""

    def __init__(self, app: Starlette, *, host: str, port: int) -> None:
        self._socket = socket.create_server((host, port), reuse_port=False)
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_config=None, lifespan="off", access_log=False)
        self._server = _Server(config)

    async def serve(self, stop: asyncio.Event) -> None:
        serving = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        self._server.should_exit = True
        try:
            await serving
        except SystemExit as exc:  # uvicorn exits the process on a startup failure
            msg = "the HTTP server failed to start"
            raise RuntimeError(msg) from exc
        finally:
            self._socket.close()
