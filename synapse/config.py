"""One validated settings object, read from the environment.

Every variable is listed, with a comment, in ``local.settings.sample.json``
(a test keeps the two in step). Outside development, placeholder or missing
secrets are refused at start-up with a message that says which variable to set.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from synapse.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Values that mean "nobody set this": refused outside development.
PLACEHOLDERS = frozenset({"", "changeme", "change-me", "dev-secret", "placeholder", "xxx", "todo"})

DEV_JWT_SECRET = "dev-secret"


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class Settings(BaseSettings):
    """Synapse configuration. Field aliases are the environment variable names."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    environment: Environment = Field(Environment.development, alias="SYNAPSE_ENV")
    database_url: str = Field("", alias="SYNAPSE_DATABASE_URL")
    data_dir: Path = Field(PROJECT_ROOT / ".synapse", alias="SYNAPSE_DATA_DIR")
    db_entra_auth: bool = Field(False, alias="SYNAPSE_DB_ENTRA_AUTH")
    managed_identity_client_id: str = Field("", alias="AZURE_CLIENT_ID")
    db_pool_size: int = Field(5, alias="SYNAPSE_DB_POOL_SIZE", ge=1, le=100)

    storage_connection: str = Field(
        "UseDevelopmentStorage=true",
        validation_alias=AliasChoices("AzureWebJobsStorage", "AZUREWEBJOBSSTORAGE"),
    )
    storage_queue_service_uri: str = Field(
        "", validation_alias=AliasChoices("AzureWebJobsStorage__queueServiceUri")
    )
    events_queue: str = Field("synapse-events", alias="SYNAPSE_EVENTS_QUEUE")
    announce_queue: str = Field("synapse-announce", alias="SYNAPSE_ANNOUNCE_QUEUE")
    followup_queue: str = Field("synapse-followups", alias="SYNAPSE_FOLLOWUP_QUEUE")
    max_dequeue_count: int = Field(5, alias="SYNAPSE_MAX_DEQUEUE_COUNT", ge=1, le=100)

    discord_application_id: str = Field("", alias="DISCORD_APPLICATION_ID")
    discord_public_key: str = Field("", alias="DISCORD_PUBLIC_KEY")
    discord_bot_token: str = Field("", alias="DISCORD_BOT_TOKEN")
    discord_client_id: str = Field("", alias="DISCORD_CLIENT_ID")
    discord_client_secret: str = Field("", alias="DISCORD_CLIENT_SECRET")
    discord_api_base: str = Field("https://discord.com/api/v10", alias="DISCORD_API_BASE")
    discord_cdn_base: str = Field("https://cdn.discordapp.com", alias="DISCORD_CDN_BASE")   # avatars for rank cards

    jwt_secret: str = Field(DEV_JWT_SECRET, alias="SYNAPSE_JWT_SECRET")
    jwt_ttl_seconds: int = Field(3600, alias="SYNAPSE_JWT_TTL_SECONDS", ge=60, le=86400)
    dashboard_origin: str = Field("http://localhost:7071", alias="SYNAPSE_DASHBOARD_ORIGIN")
    fingerprint_key: str = Field("dev-fingerprint-key", alias="SYNAPSE_FINGERPRINT_KEY")
    test_login: bool = Field(False, alias="SYNAPSE_TEST_LOGIN")
    directory_ttl_seconds: int = Field(600, alias="SYNAPSE_DIRECTORY_TTL_SECONDS", ge=0, le=86400)

    log_level: str = Field("INFO", alias="SYNAPSE_LOG_LEVEL")
    http_port: int = Field(7071, alias="SYNAPSE_HTTP_PORT", ge=1, le=65535)

    @field_validator("data_dir", mode="before")
    @classmethod
    def _default_data_dir(cls, value: object) -> object:
        return PROJECT_ROOT / ".synapse" if value in (None, "") else value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return upper

    @field_validator("database_url")
    @classmethod
    def _libpq_url(cls, value: str) -> str:
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a libpq URL starting with postgresql:// (or empty for embedded)")
        return value

    @model_validator(mode="after")
    def _no_placeholders_outside_development(self) -> Settings:
        if self.environment is Environment.development or self.environment is Environment.test:
            if self.test_login and self.environment is not Environment.test:
                raise ValueError("SYNAPSE_TEST_LOGIN is allowed only with SYNAPSE_ENV=test")
            return self
        required = {
            "SYNAPSE_DATABASE_URL": self.database_url,
            "SYNAPSE_JWT_SECRET": self.jwt_secret,
            "SYNAPSE_FINGERPRINT_KEY": self.fingerprint_key,
            "DISCORD_APPLICATION_ID": self.discord_application_id,
            "DISCORD_PUBLIC_KEY": self.discord_public_key,
            "DISCORD_BOT_TOKEN": self.discord_bot_token,
        }
        bad = [name for name, value in required.items() if value.strip().lower() in PLACEHOLDERS
               or value.startswith("dev-")]
        if bad:
            raise ValueError(
                f"placeholder or missing secrets in production: {', '.join(bad)}; "
                "set them (in Azure they come from Key Vault references)"
            )
        if len(self.jwt_secret) < 32:
            raise ValueError("SYNAPSE_JWT_SECRET must be at least 32 characters in production")
        if self.test_login:
            raise ValueError("SYNAPSE_TEST_LOGIN must never be set in production")
        return self

    @property
    def is_development(self) -> bool:
        return self.environment is not Environment.production

    @property
    def has_discord_credentials(self) -> bool:
        return bool(self.discord_bot_token and self.discord_application_id)


def load_settings(**overrides: object) -> Settings:
    """Read and validate settings; raise :class:`ConfigError` naming the bad variables."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(
            f"invalid configuration: {problems}",
            hint="fix the environment variables (see local.settings.sample.json)",
        ) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
