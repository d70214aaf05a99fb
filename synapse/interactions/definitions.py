"""The slash command definitions Synapse registers (``synapse register-commands``).

Shapes follow Discord's "Application Commands" docs: ``type`` 1 (CHAT_INPUT);
option types 1 SUB_COMMAND, 3 STRING, 4 INTEGER, 5 BOOLEAN, 6 USER;
``default_member_permissions`` is a *string* bitfield (admin commands: Manage
Server, 0x20 — server owners can widen it to an admin role under Integrations);
``contexts`` ``[0]`` (guilds only) and ``integration_types`` ``[0]`` (guild install).
"""

from __future__ import annotations

from typing import Any

from synapse.interactions.models import MANAGE_GUILD, OptionType

Json = dict[str, Any]

GUILD_ONLY = {"contexts": [0], "integration_types": [0]}
ADMIN_PERMISSIONS = str(MANAGE_GUILD)

CRITERIA = [("Level in a currency", "level"), ("Balance in a currency", "balance"),
            ("Number of events", "event_count")]
PERIODS = [("All time", "all"), ("This week", "week"), ("This month", "month"), ("This season", "season")]
EVENTS = ["message_create", "reaction_add", "voice_session_end", "thread_create", "member_join", "level_up"]


def _opt(kind: OptionType, name: str, description: str, *, required: bool = False, **extra: Any) -> Json:
    option: Json = {"type": kind.value, "name": name, "description": description, **extra}
    if kind not in (OptionType.SUB_COMMAND, OptionType.SUB_COMMAND_GROUP):
        option["required"] = required   # subcommands take no "required"
    return option


def _command(name: str, description: str, options: list[Json] | None = None, *, admin: bool = False) -> Json:
    command: Json = {"name": name, "type": 1, "description": description, "options": options or [],
                     **GUILD_ONLY}
    if admin:
        command["default_member_permissions"] = ADMIN_PERMISSIONS
    return command


def commands() -> list[Json]:
    member = _opt(OptionType.USER, "member", "Whose (default: you)")
    currency = _opt(OptionType.STRING, "currency", "Currency", autocomplete=True)
    return [
        _command("profile", "Your level, balances, rank and recent achievements", [member]),
        # /rank is /profile under the name members know from other levelling bots (same handler and options).
        _command("rank", "Your rank card: level, progress and rank (same as /profile)", [member]),
        _command("leaderboard", "Top members of this server", [
            currency, _opt(OptionType.INTEGER, "season", "A past or current season number", min_value=1),
            _opt(OptionType.STRING, "period", "All time (default), this week, this month or this season",
                 choices=[{"name": n, "value": v} for n, v in PERIODS])]),
        _command("milestones", "Milestones earned and still available", [member]),
        _command("award", "Give (or take) currency to a member", [
            _opt(OptionType.USER, "member", "Who", required=True),
            {**currency, "required": True},
            _opt(OptionType.INTEGER, "amount", "How much (negative takes away)", required=True,
                 min_value=-1_000_000_000, max_value=1_000_000_000),
            _opt(OptionType.STRING, "reason", "Why (kept in the audit log)", required=True, max_length=200),
        ], admin=True),
        _command("create-milestone", "Define a new milestone", [
            _opt(OptionType.STRING, "key", "Stable id, e.g. first-steps", required=True, max_length=64),
            _opt(OptionType.STRING, "name", "Display name", required=True, max_length=100),
            _opt(OptionType.STRING, "criterion", "What earns it", required=True,
                 choices=[{"name": n, "value": v} for n, v in CRITERIA]),
            _opt(OptionType.INTEGER, "at_least", "Threshold", required=True, min_value=1),
            {**currency, "description": "Currency (level/balance criteria)"},
            _opt(OptionType.STRING, "event", "Event type (event count criterion)",
                 choices=[{"name": e, "value": e} for e in EVENTS]),
            _opt(OptionType.STRING, "description", "Shown to members", max_length=500),
            _opt(OptionType.STRING, "emoji", "Emoji", max_length=64),
            _opt(OptionType.BOOLEAN, "hidden", "Hide until earned"),
        ], admin=True),
        _command("grant-milestone", "Grant a milestone to a member", [
            _opt(OptionType.USER, "member", "Who", required=True),
            _opt(OptionType.STRING, "milestone", "Milestone", required=True, autocomplete=True),
        ], admin=True),
        _command("privacy", "Your data in this server", [
            _opt(OptionType.SUB_COMMAND, "export", "Get everything Synapse stores about you, as a JSON file"),
            _opt(OptionType.SUB_COMMAND, "erase", "Erase your data in this server (asks to confirm)"),
            _opt(OptionType.SUB_COMMAND, "hide", "Keep your name off this server's public boards"),
            _opt(OptionType.SUB_COMMAND, "show", "Appear by name on this server's public boards again"),
        ]),
    ]
