"""Dead letters: a refused message, kept verbatim with the reason, for a person to act on."""

import base64
from dataclasses import dataclass
from datetime import datetime

from drivers.mqtt.payloads import dump_object


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    payload: bytes
    reason: str
    received_at: datetime
    index: int | None = None  # entry of a concentrator batch

    def to_bytes(self) -> bytes:
        """JSON per docs/schemas/deadletter.json; payload as text, or base64 if not UTF-8."""
        try:
            text, encoding = self.payload.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(self.payload).decode("ascii"), "base64"
        obj: dict[str, object] = {
            "topic": self.topic,
            "payload": text,
            "payload_encoding": encoding,
            "reason": self.reason,
            "received_at": self.received_at.isoformat(),
        }
        if self.index is not None:
            obj["index"] = self.index
        return dump_object(obj)
