"""Logging for the running gateway: plain text, or one JSON object a line. Stdlib only.

Code logs with an event name and ids as `extra`, e.g.
`logger.info("batch committed", extra={"event": "ledger_commit", "readings": 42})`;
the JSON formatter writes them as fields: `{"ts": ..., "level": "INFO", "logger": ...,
"event": "ledger_commit", "message": "batch committed", "readings": 42}`.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

# attributes every LogRecord has; anything else on a record came from `extra`
_BLANK = logging.LogRecord("", 0, "", 0, "", (), None)
_STANDARD = frozenset(_BLANK.__dict__) | {"message", "asctime", "taskName", "color_message"}


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per record: ts (UTC, ISO 8601), level, logger, event, message, extras."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": getattr(record, "event", None) or "log",
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in document:
                document[key] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`time level logger: message [key=value ...]` with the extras appended."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if not extras:
            return line
        first, newline, rest = line.partition("\n")
        fields = " ".join(f"{key}={value}" for key, value in extras.items())
        return f"{first} [{fields}]{newline}{rest}"


def setup_logging(level: str, *, json_lines: bool, stream: TextIO | None = None) -> None:
    """Replace the root logger's handlers with one writing to `stream` (stderr by default)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLinesFormatter() if json_lines else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
