"""The credit-control policy the app was created with, as a dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.ledger.controls import ControlPolicy


def get_policy(request: Request) -> ControlPolicy | None:
    """None: the API posts entries without alerts, repayments or relay commands."""
    policy: ControlPolicy | None = getattr(request.app.state, "policy", None)
    return policy


PolicyDep = Annotated[ControlPolicy | None, Depends(get_policy)]
