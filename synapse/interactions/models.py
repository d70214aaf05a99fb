"""Interaction payloads: the raw Discord JSON typed once (TypedDicts), then parsed into our values.

Shapes follow Discord's "Receiving and Responding" documentation: a guild
interaction carries ``member`` (with ``member.user`` and ``member.permissions``,
a string bitfield), a DM interaction carries ``user``; command options arrive in
``data.options`` (subcommands nest theirs), users and members named in options
in ``data.resolved``; a component interaction carries ``data.custom_id`` and the
``message`` it belongs to; an autocomplete interaction marks one option ``focused``.
Nothing past :func:`parse` touches the raw dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, NotRequired, TypedDict

from discord_interactions import InteractionResponseFlags
from discord_interactions import InteractionResponseType as _responses
from discord_interactions import InteractionType as _types

from synapse.errors import ErrorDetail, ValidationFailed


# Interaction and response types, and the ephemeral flag, are Discord's reference package's own
# constants (``discord_interactions``); option types and permission bits are not in it.
class InteractionType(IntEnum):
    PING = _types.PING
    APPLICATION_COMMAND = _types.APPLICATION_COMMAND
    MESSAGE_COMPONENT = _types.MESSAGE_COMPONENT
    APPLICATION_COMMAND_AUTOCOMPLETE = _types.APPLICATION_COMMAND_AUTOCOMPLETE
    MODAL_SUBMIT = _types.MODAL_SUBMIT


class ResponseType(IntEnum):
    PONG = _responses.PONG
    CHANNEL_MESSAGE_WITH_SOURCE = _responses.CHANNEL_MESSAGE_WITH_SOURCE
    DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = _responses.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
    DEFERRED_UPDATE_MESSAGE = _responses.DEFERRED_UPDATE_MESSAGE
    UPDATE_MESSAGE = _responses.UPDATE_MESSAGE
    APPLICATION_COMMAND_AUTOCOMPLETE_RESULT = _responses.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT


class OptionType(IntEnum):
    SUB_COMMAND = 1
    SUB_COMMAND_GROUP = 2
    STRING = 3
    INTEGER = 4
    BOOLEAN = 5
    USER = 6
    CHANNEL = 7
    ROLE = 8
    MENTIONABLE = 9
    NUMBER = 10
    ATTACHMENT = 11


EPHEMERAL: int = InteractionResponseFlags.EPHEMERAL   # message flag 64: only the invoker sees it
ADMINISTRATOR = 1 << 3      # permission bit 0x8
MANAGE_GUILD = 1 << 5       # permission bit 0x20


# --- raw payloads (Discord's JSON) -------------------------------------------------------------

class RawUser(TypedDict):
    id: str
    username: str
    discriminator: NotRequired[str]
    global_name: NotRequired[str | None]
    avatar: NotRequired[str | None]
    bot: NotRequired[bool]
    public_flags: NotRequired[int]


class RawMember(TypedDict):
    user: NotRequired[RawUser]       # absent inside data.resolved.members
    nick: NotRequired[str | None]
    roles: list[str]
    permissions: NotRequired[str]    # a string bitfield
    joined_at: NotRequired[str]


class RawOption(TypedDict):
    name: str
    type: int
    value: NotRequired[str | int | float | bool]
    options: NotRequired[list[RawOption]]
    focused: NotRequired[bool]


class RawResolved(TypedDict, total=False):
    users: dict[str, RawUser]
    members: dict[str, RawMember]


class RawData(TypedDict, total=False):
    id: str
    name: str
    type: int
    options: list[RawOption]
    resolved: RawResolved
    custom_id: str
    component_type: int


class RawInteraction(TypedDict):
    id: str
    application_id: str
    type: int
    token: str
    version: int
    data: NotRequired[RawData]
    guild_id: NotRequired[str]
    channel_id: NotRequired[str]
    member: NotRequired[RawMember]
    user: NotRequired[RawUser]
    message: NotRequired[dict[str, Any]]
    locale: NotRequired[str]


# --- parsed values ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Person:
    """A Discord user as an interaction shows them (the invoker, or a user named in an option)."""

    user_id: int
    name: str
    avatar: str | None = None
    is_bot: bool = False


@dataclass(frozen=True)
class Invoker:
    person: Person
    permissions: int = 0              # member.permissions in a guild; 0 in a DM
    roles: frozenset[int] = frozenset()

    @property
    def user_id(self) -> int:
        return self.person.user_id


OptionValue = str | int | float | bool


@dataclass(frozen=True)
class Interaction:
    id: int
    application_id: int
    type: InteractionType
    token: str
    invoker: Invoker
    guild_id: int | None = None
    channel_id: int | None = None
    command: str = ""                  # data.name for commands and autocomplete
    subcommand: str | None = None
    options: dict[str, OptionValue] = field(default_factory=dict)
    focused: str | None = None         # the option being typed (autocomplete)
    custom_id: str | None = None       # components
    message_id: int | None = None      # the message a component belongs to
    people: dict[int, Person] = field(default_factory=dict)   # data.resolved users
    member_ids: frozenset[int] = frozenset()                   # resolved users who are guild members

    def option_str(self, name: str) -> str | None:
        value = self.options.get(name)
        return None if value is None else str(value)

    def option_int(self, name: str) -> int | None:
        value = self.options.get(name)
        if value is None or isinstance(value, bool):
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            return None

    def option_user(self, name: str) -> Person | None:
        """A USER option: the resolved user if Discord sent it, else a bare id."""
        raw = self.options.get(name)
        if raw is None:
            return None
        try:
            user_id = int(raw)
        except (TypeError, ValueError):
            return None
        return self.people.get(user_id, Person(user_id, str(user_id)))


# --- parsing ------------------------------------------------------------------------------------

class _Problems:
    def __init__(self) -> None:
        self.items: list[ErrorDetail] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(ErrorDetail(path, message))


def _snowflake(value: object, path: str, problems: _Problems, *, required: bool = True) -> int | None:
    if value is None and not required:
        return None
    if isinstance(value, str) and value.isdigit() and len(value) <= 20 and int(value) < 2**63:
        return int(value)
    problems.add(path, "must be a snowflake (a string of digits)")
    return None


def _person(raw: object, path: str, problems: _Problems) -> Person | None:
    if not isinstance(raw, dict):
        problems.add(path, "must be a user object")
        return None
    user_id = _snowflake(raw.get("id"), f"{path}.id", problems)
    if user_id is None:
        return None
    name = raw.get("global_name") or raw.get("username") or str(user_id)
    avatar = raw.get("avatar")
    return Person(user_id, str(name), avatar if isinstance(avatar, str) else None, bool(raw.get("bot", False)))


def _invoker(raw: dict[str, Any], problems: _Problems) -> Invoker | None:
    member = raw.get("member")
    if member is not None:
        if not isinstance(member, dict):
            problems.add("member", "must be a guild member object")
            return None
        person = _person(member.get("user"), "member.user", problems)
        if person is None:
            return None
        if member.get("nick"):
            person = Person(person.user_id, str(member["nick"]), person.avatar, person.is_bot)
        permissions_raw = member.get("permissions", "0")
        permissions = 0
        if isinstance(permissions_raw, str) and permissions_raw.isdigit():
            permissions = int(permissions_raw)
        else:
            problems.add("member.permissions", "must be a string bitfield")
        roles_raw = member.get("roles", [])
        roles: set[int] = set()
        if isinstance(roles_raw, list):
            for i, role in enumerate(roles_raw):
                value = _snowflake(role, f"member.roles[{i}]", problems)
                if value is not None:
                    roles.add(value)
        else:
            problems.add("member.roles", "must be a list of role ids")
        return Invoker(person, permissions, frozenset(roles))
    person = _person(raw.get("user"), "user", problems)
    return None if person is None else Invoker(person)


def _flatten(raw_options: object, path: str, problems: _Problems,
             out: dict[str, OptionValue]) -> tuple[str | None, str | None]:
    """Options by name (subcommands flattened); return (subcommand, focused option)."""
    subcommand: str | None = None
    focused: str | None = None
    if raw_options is None:
        return None, None
    if not isinstance(raw_options, list):
        problems.add(path, "must be a list of options")
        return None, None
    for i, option in enumerate(raw_options):
        here = f"{path}[{i}]"
        if not isinstance(option, dict) or not isinstance(option.get("name"), str):
            problems.add(here, "must be an option object with a name")
            continue
        kind = option.get("type")
        if kind in (OptionType.SUB_COMMAND, OptionType.SUB_COMMAND_GROUP):
            subcommand = option["name"] if subcommand is None else f"{subcommand} {option['name']}"
            inner_sub, inner_focused = _flatten(option.get("options", []), f"{here}.options", problems, out)
            if inner_sub:
                subcommand = f"{subcommand} {inner_sub}"
            focused = focused or inner_focused
            continue
        value = option.get("value")
        if not isinstance(value, str | int | float | bool):
            problems.add(f"{here}.value", "missing or not a scalar")
            continue
        out[option["name"]] = value
        if option.get("focused"):
            focused = option["name"]
    return subcommand, focused


def parse(raw: object) -> Interaction:
    """Parse one interaction body; :class:`ValidationFailed` lists every problem with its path."""
    problems = _Problems()
    if not isinstance(raw, dict):
        raise ValidationFailed("an interaction must be a JSON object")
    kind_raw = raw.get("type")
    try:
        kind = InteractionType(kind_raw) if isinstance(kind_raw, int) and not isinstance(kind_raw, bool) \
            else None
    except ValueError:
        kind = None
    if kind is None:
        problems.add("type", "must be an interaction type (1..5)")
    interaction_id = _snowflake(raw.get("id"), "id", problems)
    application_id = _snowflake(raw.get("application_id"), "application_id", problems)
    token = raw.get("token")
    if not isinstance(token, str) or not token:
        problems.add("token", "must be a non-empty string")
    if kind is InteractionType.PING:
        if problems.items:
            raise ValidationFailed("invalid interaction", problems.items)
        return Interaction(interaction_id or 0, application_id or 0, kind, str(token),
                           Invoker(Person(0, "discord")))
    invoker = _invoker(raw, problems)
    if invoker is None and not problems.items:
        problems.add("member", "a guild interaction needs member, a DM interaction user")
    guild_id = _snowflake(raw.get("guild_id"), "guild_id", problems, required=False)
    channel_id = _snowflake(raw.get("channel_id"), "channel_id", problems, required=False)
    data = raw.get("data", {})
    if not isinstance(data, dict):
        problems.add("data", "must be an object")
        data = {}
    options: dict[str, OptionValue] = {}
    subcommand, focused = _flatten(data.get("options"), "data.options", problems, options)
    people: dict[int, Person] = {}
    member_ids: set[int] = set()
    resolved = data.get("resolved") or {}
    if isinstance(resolved, dict):
        users = resolved.get("users") or {}
        members = resolved.get("members") or {}
        if isinstance(users, dict):
            for key, user in users.items():
                person = _person(user, f"data.resolved.users.{key}", problems)
                if person is not None:
                    nick = members.get(key, {}).get("nick") if isinstance(members, dict) else None
                    if isinstance(nick, str) and nick:
                        person = Person(person.user_id, nick, person.avatar, person.is_bot)
                    people[person.user_id] = person
                    if isinstance(members, dict) and key in members:
                        member_ids.add(person.user_id)
    command = data.get("name", "")
    custom_id = data.get("custom_id")
    if kind in (InteractionType.APPLICATION_COMMAND, InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE) and (
            not isinstance(command, str) or not command):
        problems.add("data.name", "a command interaction needs the command name")
    if kind is InteractionType.MESSAGE_COMPONENT and (not isinstance(custom_id, str) or not custom_id):
        problems.add("data.custom_id", "a component interaction needs custom_id")
    message = raw.get("message")
    message_id = None
    if isinstance(message, dict):
        message_id = _snowflake(message.get("id"), "message.id", problems, required=False)
    if problems.items or kind is None or invoker is None:
        raise ValidationFailed("invalid interaction", problems.items)
    return Interaction(
        id=interaction_id or 0, application_id=application_id or 0, type=kind, token=str(token),
        invoker=invoker, guild_id=guild_id, channel_id=channel_id,
        command=command if isinstance(command, str) else "", subcommand=subcommand, options=options,
        focused=focused, custom_id=custom_id if isinstance(custom_id, str) else None,
        message_id=message_id, people=people, member_ids=frozenset(member_ids))
