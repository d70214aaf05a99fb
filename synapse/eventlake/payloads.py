"""The payload of each event type, typed once (DESIGN.md §2: "extend, never rename").

One ``TypedDict`` per event type, captured and derived alike. They are the single source of:

- the envelope's payload check (``envelope.EventModel`` validates each ``discord``/``synapse``
  event's payload against its type, errors at ``events[3].payload.length``);
- the relay's normaliser, which builds its payloads as these types (``relay/normalise.py``);
- the rules' whitelist of payload fields a condition may read (``payload_fields``).

Rules of the contract, deliberately:

- **Every key is optional**: an older producer (or a partial test event) may leave one out,
  and readers treat a missing key as missing. A key that is present has its declared type
  (checked strictly: no ``"3"`` for 3, no ``1`` for ``true``); ``| None`` marks keys a
  producer sends as ``null``.
- **Unknown keys are accepted and kept**, unchecked but for the envelope's generic rules
  (size, no NUL, no message text): a relay newer than the worker may send a key the worker
  does not know yet, and that must not poison the message. The lake keeps the key, so a
  worker that learns it later (and backtests) can read it; rules cannot name it until it is
  declared here.
- Keys are only ever added. A key a producer stopped sending stays declared (old events in
  the lake still carry it), e.g. ``voice_tick.minute``.

Snowflakes in payloads travel as strings, as everywhere on the wire.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Final

from pydantic import AfterValidator, Field, TypeAdapter
from typing_extensions import TypedDict  # pydantic validates typing.TypedDict only from Python 3.12

from synapse.eventlake.events import KNOWN_TYPES


def _below(limit: str) -> str:
    """A regular expression for the decimal numbers of ``len(limit)`` digits that are at most ``limit``."""
    alternatives = [limit]
    for i, digit in enumerate(limit):
        if digit != "0":
            rest = len(limit) - i - 1
            alternatives.append(limit[:i] + f"[0-{int(digit) - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    return "|".join(alternatives)


# A snowflake: 1 to 20 decimal digits whose value fits a signed 64-bit integer (BIGINT), checked by the
# pattern alone. A Python range check would cost more than the whole rest of an event's payload check.
_MAX = str(2**63 - 1)
SNOWFLAKE_PATTERN: Final = rf"^(?:[0-9]{{1,{len(_MAX) - 1}}}|0?(?:{_below(_MAX)}))$"  # 20 digits: a leading 0
SNOWFLAKE_MESSAGE: Final = "must be a snowflake: 1 to 20 digits, fitting in a signed 64-bit integer"


def _iso_time(value: str) -> str:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO 8601 time (e.g. 2025-01-15T14:30:00Z)") from None
    if parsed.tzinfo is None:
        raise ValueError("must carry a time zone (e.g. 2025-01-15T14:30:00Z)")
    return value


Snowflake = Annotated[str, Field(pattern=SNOWFLAKE_PATTERN)]
Count = Annotated[int, Field(ge=0)]
IsoTime = Annotated[str, AfterValidator(_iso_time)]  # ISO 8601 with a zone, as relay.clock.iso writes it


# ---------------------------------------------------------------- captured by the relay

class TextFeatures(TypedDict, total=False):
    """What ``relay.features.text_features`` makes of a message's text (the text itself is dropped)."""

    length: Count
    words: Count
    has_code_block: bool
    code_block_lines: Count
    links: Count
    fingerprint: str | None  # keyed HMAC of the normalised text; null for a message without text


class MessageCreatePayload(TextFeatures, total=False):
    attachments: Count
    mentions: Count
    is_reply: bool
    reply_to_user_id: Snowflake | None
    thread_id: Snowflake | None  # the thread the message was posted in, if any
    is_bot: bool
    is_webhook: bool


class MessageDeletePayload(TypedDict, total=False):
    message_id: Snowflake


class ReactionPayload(TypedDict, total=False):
    """``reaction_add`` and ``reaction_remove``."""

    message_id: Snowflake
    message_author_id: Snowflake | None  # null when the relay could not tell
    emoji: str  # a custom emoji's id, a standard emoji's name
    burst: bool  # a super reaction


class VoiceJoinPayload(TypedDict, total=False):
    channel_id: Snowflake
    self_mute: bool
    self_deaf: bool
    members_in_channel: Count


class VoiceLeavePayload(VoiceJoinPayload, total=False):
    """``voice_leave`` and ``voice_move``: ``channel_id`` is the channel left or moved to."""

    from_channel_id: Snowflake


class VoiceMember(TypedDict, total=False):
    user_id: Snowflake
    channel_id: Snowflake | None
    self_mute: bool
    self_deaf: bool


class VoiceStateSnapshotPayload(TypedDict, total=False):
    members: list[VoiceMember]
    part: Annotated[int, Field(ge=1)]  # only when a guild's snapshot is split over several events
    parts: Annotated[int, Field(ge=1)]


class ThreadCreatePayload(TypedDict, total=False):
    thread_id: Snowflake
    parent_id: Snowflake | None


class MemberPayload(TypedDict, total=False):
    """``member_join`` and ``member_leave``."""

    account_created_at: IsoTime
    is_bot: bool


class CommandUsedPayload(TypedDict, total=False):
    command: str
    options: dict[str, Any]  # option name → value


class GuildJoinPayload(TypedDict, total=False):
    """The bot is in the guild (joined it, or found it at start-up): Synapse sets up a guild it never saw."""

    name: str
    member_count: Count


# ---------------------------------------------------------------- derived by the engine

class VoiceSessionEndPayload(TypedDict, total=False):
    duration_seconds: Count
    minutes: Count
    started_at: IsoTime
    channel_id: Snowflake
    end_reason: str
    self_mute: bool
    self_deaf: bool


class VoiceTickPayload(TypedDict, total=False):
    minutes: Count  # the minutes this tick pays (a block of up to 5)
    block: Annotated[int, Field(ge=1)]  # the block's number in its session
    minute: Count  # ticks written before blocks (one a minute) carry the minute instead
    members_in_channel: Count
    self_mute: bool
    self_deaf: bool


class LevelUpPayload(TypedDict, total=False):
    currency: str
    old_level: int
    new_level: int
    balance: int
    cause: str  # source_event_id of the event that paid for it


class MilestoneEarnedPayload(TypedDict, total=False):
    milestone: str  # the milestone's key
    name: str
    announce: bool
    hidden: bool
    emoji: str
    cause: str  # source_event_id of the event that met it


PAYLOAD_TYPES: Final[Mapping[str, type]] = {
    "message_create": MessageCreatePayload,
    "message_delete": MessageDeletePayload,
    "reaction_add": ReactionPayload,
    "reaction_remove": ReactionPayload,
    "voice_join": VoiceJoinPayload,
    "voice_leave": VoiceLeavePayload,
    "voice_move": VoiceLeavePayload,
    "voice_state_snapshot": VoiceStateSnapshotPayload,
    "thread_create": ThreadCreatePayload,
    "member_join": MemberPayload,
    "member_leave": MemberPayload,
    "command_used": CommandUsedPayload,
    "guild_join": GuildJoinPayload,
    "voice_session_end": VoiceSessionEndPayload,
    "voice_tick": VoiceTickPayload,
    "level_up": LevelUpPayload,
    "milestone_earned": MilestoneEarnedPayload,
}

if set(PAYLOAD_TYPES) != KNOWN_TYPES:  # pragma: no cover - caught at import
    raise RuntimeError("every known event type needs a payload type, and only those")

_FIELDS: Final = {event_type: frozenset(kind.__required_keys__ | kind.__optional_keys__)  # type: ignore[attr-defined]
                   for event_type, kind in PAYLOAD_TYPES.items()}
_ADAPTERS: Final = {kind: TypeAdapter[Any](kind) for kind in set(PAYLOAD_TYPES.values())}
# event type → the validator of its payload type (call with ``strict=True``); the envelope's hot path.
CHECKS: Final[Mapping[str, Callable[..., Any]]] = {
    event_type: _ADAPTERS[kind].validate_python for event_type, kind in PAYLOAD_TYPES.items()}


def payload_fields(event_type: str) -> frozenset[str] | None:
    """The keys an ``event_type`` payload declares (the facts a rule may read); None for a type not known here."""
    return _FIELDS.get(event_type)


def check_payload(event_type: str, payload: Mapping[str, Any]) -> None:
    """Raise pydantic's ``ValidationError`` (locations inside the payload) if a declared key of ``payload``
    has the wrong type; a payload of a type not known here passes. What the envelope checks per event."""
    check = CHECKS.get(event_type)
    if check is not None:
        check(payload, strict=True)
