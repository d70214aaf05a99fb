"""Models of the guild directory in the API: channel and role names for ids (``synapse.services.directory``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Snowflake = str


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChannelRef(_Model):
    """A channel id with its name (null: the directory has never seen it) and whether it was deleted."""

    id: Snowflake
    name: str | None
    deleted: bool = False
    type: str | None = Field(None, description="text, voice, category, announcement, stage, forum, media")


class RoleRef(_Model):
    id: Snowflake
    name: str | None
    deleted: bool = False
    type: str | None = None
    assignable: bool | None = Field(None, description="The bot can give this role (below its highest role, "
                                                      "not managed); null when unknown")


class References(_Model):
    """Every channel and role an object names, resolved (keys are the ids)."""

    channels: dict[Snowflake, ChannelRef] = Field(default_factory=dict)
    roles: dict[Snowflake, RoleRef] = Field(default_factory=dict)


class RuleReferences(References):
    warnings: list[dict[str, Any]] = Field(
        default_factory=list, description="[{path, message}]: deleted or unknown channels and roles the rule "
                                          "names where that does not make it invalid")


class DirectoryChannel(_Model):
    id: Snowflake
    name: str
    type: str
    position: int
    parent_id: Snowflake | None
    category: str | None = Field(description="Name of the parent category")
    deleted: bool
    afk: bool = Field(description="The server's AFK channel (voice XP excludes it by default)")


class DirectoryRole(_Model):
    id: Snowflake
    name: str
    position: int
    managed: bool = Field(description="Managed by an integration or a bot: nobody can assign it")
    color: int
    deleted: bool
    everyone: bool = Field(description="The @everyone role")
    booster: bool = Field(False, description="The server-booster role (Discord's tags.premium_subscriber)")
    assignable: bool = Field(description="Below the bot's highest role and not managed: the bot can give it")


class DirectoryStatus(_Model):
    refreshed_at: datetime | None = Field(description="When the names were last fetched from Discord")
    refreshed: bool = Field(False, description="This request fetched them")
    error: str | None = Field(None, description="Why they could not be fetched (the cached names are served)")


class ChannelList(DirectoryStatus):
    items: list[DirectoryChannel]


class RoleList(DirectoryStatus):
    items: list[DirectoryRole]
