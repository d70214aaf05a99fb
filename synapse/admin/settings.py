"""Per-guild settings: one typed model, stored as key → JSON rows, changed only with an audit row."""

from __future__ import annotations

from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from sqlalchemy import Connection, text

from synapse.admin.audit import Actor, record
from synapse.errors import ErrorDetail, ValidationFailed
from synapse.rules.defaults import LEVELUP_TEMPLATE, MILESTONE_TEMPLATE
from synapse.rules.model import TEMPLATE_PLACEHOLDERS, template_errors

# The settings the compiled rules read (``services.rules_runner.load_context`` puts them in the cache
# fingerprint, so a change reaches every worker at once).
RULE_SETTINGS = ("levelup_template", "milestone_template", "level_role_mode")

SnowflakeStr = str


class GuildSettings(BaseModel):
    """Everything an admin can set for a guild (the dashboard's Settings page)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    timezone: str = Field("UTC", description="IANA time zone for heatmaps, time windows and daily caps")
    announcements_channel_id: SnowflakeStr | None = Field(
        None, pattern=r"^[0-9]{1,20}$", description="Where milestone embeds are posted")
    levelup_mode: Literal["channel", "fixed", "dm", "off"] = Field(
        "channel", description="Level-up embed: in the channel of the message, a fixed channel, by DM, or not at all")
    levelup_channel_id: SnowflakeStr | None = Field(None, pattern=r"^[0-9]{1,20}$")
    levelup_template: str = Field(LEVELUP_TEMPLATE, min_length=1, max_length=500, description=(
        "The level-up message of the default rule; placeholders: GET …/admin/settings/placeholders"))
    milestone_template: str = Field(MILESTONE_TEMPLATE, min_length=1, max_length=500, description=(
        "The milestone message of the default rule; placeholders: GET …/admin/settings/placeholders"))
    admin_role_ids: list[SnowflakeStr] = Field(default_factory=list, max_length=25)
    public_leaderboard: bool = Field(True, description="Show the leaderboard and profiles to anyone")
    public_activity: bool = Field(True, description="Show activity analytics to anyone")
    level_role_mode: Literal["stack", "replace"] = Field(
        "stack", description="Level roles (the Level roles page): keep the lower ones (stack) or keep only the "
                             "highest reached (replace)")

    reset_on_leave: bool = Field(False, description="When a member leaves, reset their balances to 0 "
                                                    "(correction transactions, reason \"reset on leave\")")

    @field_validator("levelup_template", "milestone_template")
    @classmethod
    def _template(cls, value: str, info: ValidationInfo) -> str:
        problems = template_errors(value, TEMPLATE_PLACEHOLDERS[str(info.field_name)])
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Paris)") from None
        return value

    @field_validator("admin_role_ids")
    @classmethod
    def _snowflakes(cls, value: list[str]) -> list[str]:
        for item in value:
            if not item.isdigit() or len(item) > 20:
                raise ValueError(f"{item!r} is not a role id")
        return value


def load(conn: Connection, guild_id: int) -> GuildSettings:
    rows = conn.execute(text("SELECT key, value FROM settings WHERE guild_id = :g"), {"g": guild_id})
    stored = {r.key: r.value for r in rows if r.key in GuildSettings.model_fields}
    try:
        return GuildSettings.model_validate(stored)
    except ValidationError as exc:   # a value stored before today's checks (a template): its default instead
        bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
        return GuildSettings.model_validate({k: v for k, v in stored.items() if k not in bad})


def update(conn: Connection, guild_id: int, changes: dict[str, Any], *, actor: Actor) -> GuildSettings:
    """Validate and apply changes (audited); every bad field is reported with its name."""
    unknown = [k for k in changes if k not in GuildSettings.model_fields]
    if unknown:
        raise ValidationFailed("unknown settings", [ErrorDetail(k, "no such setting") for k in unknown])
    before = load(conn, guild_id)
    try:
        after = GuildSettings.model_validate({**before.model_dump(), **changes})
    except ValidationError as exc:
        raise ValidationFailed.from_pydantic("invalid settings", exc) from None
    changed = {k: getattr(after, k) for k in changes if getattr(after, k) != getattr(before, k)}
    _write(conn, guild_id, changed)
    if changed:
        record(conn, guild_id=guild_id, actor=actor, action="settings.update", entity_type="settings",
               entity_id=",".join(sorted(changed)),
               before={k: getattr(before, k) for k in changed}, after=changed)
    return after


def _write(conn: Connection, guild_id: int, values: dict[str, Any]) -> None:
    import json

    for key, value in values.items():
        conn.execute(text("""
            INSERT INTO settings (guild_id, key, value) VALUES (:g, :k, CAST(:v AS jsonb))
            ON CONFLICT (guild_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"""),
            {"g": guild_id, "k": key, "v": json.dumps(value)})


def install_defaults(conn: Connection, guild_id: int) -> int:
    import json

    added = 0
    for key, value in GuildSettings().model_dump().items():
        added += conn.execute(text("""
            INSERT INTO settings (guild_id, key, value) VALUES (:g, :k, CAST(:v AS jsonb))
            ON CONFLICT DO NOTHING"""), {"g": guild_id, "k": key, "v": json.dumps(value)}).rowcount
    return added
