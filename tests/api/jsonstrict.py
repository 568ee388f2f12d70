"""Response bodies parsed so that any JSON float fails the test: decimals travel as strings."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest


def _no_float(text: str) -> Any:
    pytest.fail(f"a JSON number with a fraction or exponent in a response: {text}")


def body(response: httpx.Response) -> Any:
    """The JSON body; fails on any float."""
    return json.loads(response.text, parse_float=_no_float)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem+json body of an error response with `status`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    found: dict[str, Any] = body(response)
    return found
