"""The narrator: prints what the gateway does as it happens, and plays the paying customer.

Every `poll_s` it reads what is new in the ledger (`LedgerWatch`) and prints one line per
happening. When a meter's disconnect is confirmed, it waits `top_up_after_s` (the meter
shows it draws nothing), then pays `TOP_UP` through the billing API with the demo's key
and an Idempotency-Key, and sends the same request again to show it is credited once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from decimal import Decimal

from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine

from gateway.showcase.seed import CAST, TOP_UP
from gateway.showcase.watch import Happening, LedgerWatch

LABELS = {
    "deduction": ("deduction", "cyan"),
    "idle": ("deduction", "dim"),
    "top_up": ("TOP-UP", "bold green"),
    "entry": ("ENTRY", "green"),
    "alert": ("ALERT", "bold yellow"),
    "command": ("COMMAND", "magenta"),
    "disconnect": ("DISCONNECT", "bold red"),
    "reconnect": ("RECONNECT", "bold green"),
    "command_failed": ("COMMAND", "red"),
    "api": ("API", "blue"),
}
ACCOUNT_OF = {meter.meter_id: meter.account_id for meter in CAST}


@dataclass(frozen=True, slots=True)
class Api:
    url: str  # e.g. http://127.0.0.1:8000
    key: str


def post_top_up(api: Api, account_id: str, amount: Decimal, reference: str) -> tuple[int, str]:
    """POST a top-up; the HTTP status and a short account of the answer."""
    request = urllib.request.Request(  # noqa: S310 - our own API on 127.0.0.1 (http://)
        f"{api.url}/v1/accounts/{account_id}/top-ups",
        data=json.dumps({"amount": str(amount)}).encode(),
        headers={
            "X-API-Key": api.key,
            "Idempotency-Key": reference,
            "Content-Type": "application/json",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - as above
            body = json.loads(response.read())
            replayed = response.headers.get("Idempotent-Replayed") == "true"
            return response.status, (
                f"entry #{body['sequence']}, balance {body['balance_after']}"
                + (", Idempotent-Replayed: true (credited once)" if replayed else "")
            )
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", errors="replace")[:200]
    except urllib.error.URLError as exc:
        return 0, f"API unreachable: {exc.reason}"


class Narrator:
    def __init__(
        self, engine: Engine, console: Console, api: Api, *, top_up_after_s: float = 3.0,
        poll_s: float = 0.25,
    ) -> None:  # fmt: skip
        self._watch = LedgerWatch(engine)
        self._console, self._api = console, api
        self._top_up_after_s, self._poll_s = top_up_after_s, poll_s
        self._started = time.monotonic()
        self._due: dict[str, float] = {}  # account id -> when to pay (monotonic)
        self._payments: dict[str, int] = {}

    def say(self, kind: str, text: str) -> None:
        label, style = LABELS.get(kind, (kind.upper(), "white"))
        elapsed = time.monotonic() - self._started
        self._console.print(
            f"[dim]{elapsed:6.1f}s[/dim] [{style}]{label:<10}[/{style}] {escape(text)}",
            highlight=False,
            soft_wrap=True,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Narrate until `stop` is set; whatever is new at that moment is still printed."""
        while True:
            stopping = stop.is_set()
            for happening in await asyncio.to_thread(self._watch.poll):
                self._tell(happening)
            if stopping:
                return
            await self._pay_what_is_due()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._poll_s)

    def _tell(self, happening: Happening) -> None:
        self.say(happening.kind, happening.text)
        if happening.kind == "disconnect" and happening.meter_id in ACCOUNT_OF:
            account_id = ACCOUNT_OF[happening.meter_id]
            self._due[account_id] = time.monotonic() + self._top_up_after_s

    async def _pay_what_is_due(self) -> None:
        now = time.monotonic()
        for account_id in [a for a, at in self._due.items() if at <= now]:
            del self._due[account_id]
            number = self._payments[account_id] = self._payments.get(account_id, 0) + 1
            reference = f"demo-{account_id}-{number}"
            where = f"POST /v1/accounts/{account_id}/top-ups {{'amount': '{TOP_UP}'}}"
            self.say("api", f"the customer pays: {where}, Idempotency-Key: {reference}")
            for attempt in ("first", "retry"):
                status, said = await asyncio.to_thread(
                    post_top_up, self._api, account_id, TOP_UP, reference
                )
                self.say("api", f"{attempt}: HTTP {status}, {said}")
