"""Pydantic validation errors as the key path and reason a person can act on.

Shared by every YAML file the project reads (meter models, simulator scenarios, the gateway
configuration), so each names the bad key the same way: `registers[3].type`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def key_path(
    loc: tuple[int | str, ...],
    *,
    root: str = "<root>",
    skip: Callable[[int | str], bool] = lambda _: False,
) -> str:
    """('registers', 3, 'type') -> 'registers[3].type'; `skip` drops pydantic's own labels."""
    path = ""
    for part in loc:
        if skip(part):
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or root


def reason(error: Any) -> str:
    """The error's message, with enum choices spelled out and pydantic's prefix removed."""
    expected = (error.get("ctx") or {}).get("expected")
    if error["type"] in {"enum", "literal_error"} and expected:
        return f"must be one of {expected}"
    if error["type"] == "extra_forbidden":
        return "unknown key"
    return str(error["msg"]).removeprefix("Value error, ")
