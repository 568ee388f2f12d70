"""A minimal webhook receiver for docker-compose.yml: verifies the signature, logs the event.

It stands in for a billing system's endpoint so the compose stack delivers its alerts
somewhere: `POST /hooks/prepaid` answers 204 when `X-Gateway-Signature` matches one of the
secrets (401 otherwise), `GET /health` answers 200. Secrets: `PREPAID_GATEWAY_WEBHOOK_SECRET`
and, during a rotation, `WEBHOOK_PREVIOUS_SECRET` (either one is accepted).

    python deploy/webhook_receiver.py [--host 0.0.0.0] [--port 8080]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from gateway.runtime.webhooks import verify_signature

logger = logging.getLogger("webhook-receiver")
PATH = "/hooks/prepaid"


def secrets_from_env() -> tuple[str, ...]:
    names = ("PREPAID_GATEWAY_WEBHOOK_SECRET", "WEBHOOK_PREVIOUS_SECRET")
    return tuple(value for name in names if (value := os.environ.get(name)))


def make_server(host: str, port: int, secrets: Sequence[str]) -> ThreadingHTTPServer:
    if not secrets:
        msg = "no secret: set PREPAID_GATEWAY_WEBHOOK_SECRET"
        raise ValueError(msg)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer(200 if self.path == "/health" else 404)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self.path != PATH:
                self._answer(404)
                return
            header = self.headers.get("X-Gateway-Signature", "")
            now = datetime.now(UTC)
            if not any(verify_signature(s, header, body, now) for s in secrets):
                logger.warning("refused: bad or missing signature")
                self._answer(401)
                return
            event = self.headers.get("X-Gateway-Event", "?")
            delivery = self.headers.get("X-Gateway-Delivery", "?")
            logger.info("%s %s %s", event, delivery, json.dumps(json.loads(body or b"null")))
            self._answer(204)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            logger.debug(format, *args)

    return ThreadingHTTPServer((host, port), Handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a container's listener
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    server = make_server(args.host, args.port, secrets_from_env())
    logger.info("listening on %s:%d%s", args.host, server.server_port, PATH)
    server.serve_forever()


if __name__ == "__main__":
    main()
