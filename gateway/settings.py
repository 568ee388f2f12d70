"""One validated settings object; environment variables PREPAID_GATEWAY_* override."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.storage.db import DEFAULT_URL


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PREPAID_GATEWAY_", extra="forbid")

    database_url: str = DEFAULT_URL
