"""Settings from ``BIE_*`` environment variables or ``.env``."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PUBLIC_MASTODON_SERVERS = ("mastodon.social", "mastodon.online", "mas.to")


class Settings(BaseSettings):
    """Every knob of the service; see README "Configuration"."""

    model_config = SettingsConfigDict(env_prefix="BIE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./blogitearnit.db"
    secret_key: SecretStr = SecretStr("dev-insecure-change-me")
    environment: str = "development"  # "production" refuses the default secret key
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = "http://127.0.0.1:8000"
    log_json: bool = False
    log_level: str = "INFO"
    sqlite_busy_timeout_ms: int = 30_000
    worker_id: str | None = None
    lease_s: int = 300
    scheduler_tick_s: float = 5.0
    public_mastodon_servers: list[str] = Field(default_factory=lambda: list(DEFAULT_PUBLIC_MASTODON_SERVERS))
    bluesky_handle: str | None = None
    bluesky_app_password: SecretStr | None = None
    bluesky_pds_url: str = "https://bsky.social/xrpc"
    x_bearer_token: SecretStr | None = None
    session_cookie_secure: bool = False
    login_max_attempts: int = 5
    login_window_s: int = 300
    max_request_bytes: int = 1_000_000
    # Child processes that score a large full re-score (``bie score --full``), at most one per core;
    # 0 scores in the command's own process.
    scoring_processes: int = Field(default=2, ge=0, le=64)


@lru_cache
def get_settings() -> Settings:
    return Settings()
