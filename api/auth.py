"""API keys: `pgw_<id>.<secret>`, stored as the SHA-256 of the secret, with one role each."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import insert, select

from gateway.storage.db import UnitOfWork
from gateway.storage.schema import api_keys

PREFIX = "pgw_"


class Role(StrEnum):
    ADMIN = "admin"
    BILLING = "billing"
    OPERATOR = "operator"
    FIELD_TECH = "field-tech"
    READ_ONLY = "read-only"


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    name: str
    role: Role


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(uow: UnitOfWork, *, name: str, role: Role, now: datetime) -> str:
    """A new key; the full key is returned once and never stored."""
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    uow.connection.execute(
        insert(api_keys).values(
            id=key_id, name=name, role=role.value, secret_hash=_hash(secret), created_at=now
        )
    )
    return f"{PREFIX}{key_id}.{secret}"


def authenticate(uow: UnitOfWork, presented: str) -> Principal | None:
    """The key's principal, or None if it is malformed, unknown, revoked or wrong."""
    if not presented.startswith(PREFIX) or "." not in presented:
        return None
    key_id, secret = presented[len(PREFIX) :].split(".", 1)
    row = uow.connection.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.secret_hash, _hash(secret)):
        return None
    return Principal(row.id, row.name, Role(row.role))
