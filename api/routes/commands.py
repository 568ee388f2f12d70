"""Manual relay commands: queue one for the dispatcher, list a meter's commands."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import NowDep, Operator, Reader, UowDep
from api.schemas import After, Instant, Limit, MeterId, Page, Strict, page
from gateway.core.commands import CommandAction
from gateway.ledger import operations
from gateway.queries import meters as queries

router = APIRouter(tags=["commands"])


class CommandIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"action": "relay_open", "reason": "customer moving out, ticket 4411",
         "expires_in_s": 3600}
    ]})  # fmt: skip
    action: Literal["relay_open", "relay_close"]
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    expires_in_s: Annotated[
        int, Field(ge=60, le=7 * 86400, description="unconfirmed after this: expired")
    ] = 3600


class CommandOut(BaseModel):
    id: str
    meter_id: str
    action: str
    reason: str
    status: str = Field(description="pending | sent | confirmed | expired | failed")
    attempts: int
    manual: bool = Field(description="queued by a person through the API")
    requested_by: str | None
    created_at: Instant
    expires_at: Instant
    confirmed_at: Instant | None = Field(description="it counts only once confirmed")
    last_error: str | None


def _out(view: queries.CommandView) -> CommandOut:
    return CommandOut.model_validate(view, from_attributes=True)


@router.post("/meters/{meter_id}/commands", status_code=status.HTTP_201_CREATED,
             response_model=CommandOut)  # fmt: skip
def queue_command(
    meter_id: MeterId, body: CommandIn, uow: UowDep, now: NowDep, operator: Operator
) -> CommandOut:
    """Queue a relay command; the dispatcher sends it and it counts only when the meter
    confirms. 409 while another command for the meter awaits confirmation, or when opening
    the relay of a protected account."""
    command_id = operations.queue_relay_command(
        uow, meter_id, CommandAction(body.action), reason=body.reason,
        expires_in=timedelta(seconds=body.expires_in_s), requested_by=operator.name, now=now,
    )  # fmt: skip
    queued = queries.get_command(uow, command_id)
    uow.commit()
    return _out(queued)


@router.get("/meters/{meter_id}/commands", response_model=Page[CommandOut])
def list_commands(
    meter_id: MeterId, uow: UowDep, _: Reader, after: After = None, limit: Limit = 100
) -> Page[CommandOut]:
    """The meter's commands (automatic and manual), oldest first, keyset-paginated by id."""
    found = queries.list_commands(uow, meter_id, after=after, limit=limit)
    return page([_out(v) for v in found], limit, lambda c: c.id)
