"""Signed webhooks: the outbox's `webhook` channel, and `verify_signature` for receivers.

Each POST carries the canonical JSON payload and three headers:
`X-Gateway-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<unix>." + body)>`,
`X-Gateway-Event: <event>` and `X-Gateway-Delivery: <outbox id>` (the idempotency key:
the same row is always re-sent with the same id).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from gateway.runtime.outbox import DeliveryError, OutboxMessage, payload_bytes

SIGNATURE_HEADER = "X-Gateway-Signature"
EVENT_HEADER = "X-Gateway-Event"
DELIVERY_HEADER = "X-Gateway-Delivery"


@dataclass(frozen=True, slots=True)
class Webhook:
    """A receiver. `events`: the event names it wants; None: every event."""

    url: str
    secret: str = field(repr=False)
    events: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            msg = f"url: must be http:// or https://, got {self.url!r}"
            raise ValueError(msg)
        if not self.secret:
            msg = f"secret: required for {self.url}"
            raise ValueError(msg)

    def wants(self, event: str) -> bool:
        return self.events is None or event in self.events


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `<timestamp>.<body>`."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(_key(secret), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str | bytes, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def verify_signature(
    secret: str | bytes, header: str, body: bytes, now: datetime, tolerance_s: float = 300.0
) -> bool:
    """True if `header` signs `body` with `secret` and its timestamp is within `tolerance_s`
    of `now`. Several v1= values are allowed (secret rotation); any matching one passes."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs(now.timestamp() - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, c) for c in candidates)


class WebhookChannel:
    """POSTs an outbox row to every webhook that wants its event; delivered when all answer
    2xx. A webhook that answered 2xx gets the row again if another one fails (same id)."""

    def __init__(
        self,
        webhooks: Sequence[Webhook],
        *,
        timeout_s: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        self._webhooks = tuple(webhooks)
        self._client = client or httpx.Client(timeout=timeout_s, follow_redirects=False)
        self.unrouted = 0  # rows no webhook wanted (delivered to no one)

    def close(self) -> None:
        self._client.close()

    def deliver(self, message: OutboxMessage, now: datetime) -> None:
        body = payload_bytes(message.payload)
        timestamp = int(now.timestamp())
        targets = [w for w in self._webhooks if w.wants(message.topic)]
        if not targets:
            self.unrouted += 1
            return
        errors = [
            error
            for webhook in targets
            if (error := self._post(webhook, message, body, timestamp)) is not None
        ]
        if errors:
            raise DeliveryError("; ".join(errors))

    def _post(
        self, webhook: Webhook, message: OutboxMessage, body: bytes, timestamp: int
    ) -> str | None:
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(webhook.secret, timestamp, body),
            EVENT_HEADER: message.topic,
            DELIVERY_HEADER: str(message.id),
        }
        try:
            response = self._client.post(webhook.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{webhook.url}: {type(exc).__name__}: {exc}"
        if response.is_success:
            return None
        return f"{webhook.url}: HTTP {response.status_code} {response.text[:200]!r}"
