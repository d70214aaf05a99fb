"""The queue message contract between the relay and the ingest function (DESIGN.md §2).

``decode_envelope`` turns the raw message body into events or raises
:class:`EnvelopeError` listing every problem with its JSON path
(``events[3].occurred_at: …``). ``encode_envelope`` is what the relay sends.
Both sides import only this module, so they cannot disagree.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import ErrorDetails

from synapse.errors import EnvelopeError, ErrorDetail, json_path
from synapse.eventlake.events import DISCORD, SYNAPSE, Actor, Event
from synapse.eventlake.payloads import CHECKS, SNOWFLAKE_MESSAGE, SNOWFLAKE_PATTERN, Snowflake

VERSION: Final = 1
MAX_EVENTS: Final = 500
MAX_MESSAGE_BYTES: Final = 64 * 1024  # Azure Storage Queue limit for one message (encoded)
MAX_PAYLOAD_BYTES: Final = 8 * 1024
_TYPED_SOURCES: Final = frozenset({DISCORD, SYNAPSE})

_snowflake = int


def _no_nul(value: object) -> None:
    """PostgreSQL text and jsonb cannot hold NUL characters: refuse them here, with a path, not at insert."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _no_nul(item)
    elif isinstance(value, list):
        for item in value:
            _no_nul(item)


class ActorModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str | None = Field(None, max_length=100)
    avatar: str | None = Field(None, max_length=200)
    bot: bool = False
    roles: list[Snowflake] = Field(default_factory=list, max_length=250)

    @field_validator("name", "avatar")
    @classmethod
    def _no_nul_text(cls, value: str | None) -> str | None:
        _no_nul(value)
        return value


class EventModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source_system: str = Field(pattern=r"^[a-z][a-z0-9_.-]{0,31}$")
    source_event_id: str = Field(min_length=1, max_length=200)
    event_type: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    guild_id: Snowflake
    user_id: Snowflake | None = None
    channel_id: Snowflake | None = None
    occurred_at: datetime
    payload: dict[str, Any] = Field(default_factory=dict)
    actor: ActorModel | None = None

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must carry a time zone (e.g. 2025-01-15T14:30:00Z)")
        return value.astimezone(UTC)

    @field_validator("source_event_id")
    @classmethod
    def _no_nul_id(cls, value: str) -> str:
        _no_nul(value)
        return value

    @field_validator("payload")
    @classmethod
    def _payload(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        dumped = json.dumps(value, separators=(",", ":"))  # ASCII: a NUL anywhere in it reads \u0000
        if "\\u0000" in dumped:
            _no_nul(value)  # the walk only when there may be one (the text \\u0000 also matches)
        if len(dumped) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"larger than {MAX_PAYLOAD_BYTES} bytes")
        if "content" in value or "text" in value:
            raise ValueError("must not carry message text (content/text)")
        # Our sources' payloads have their event type's payload type (``payloads.py``); other source
        # systems define their own. A ValidationError raised here keeps its location under the payload
        # (``events[3].payload.length``). The value is returned as given: extra keys are kept.
        if info.data.get("source_system") in _TYPED_SOURCES:
            check = CHECKS.get(info.data.get("event_type", ""))
            if check is not None:
                check(value, strict=True)
        return value

    def to_event(self) -> Event:
        actor = None
        if self.actor is not None:
            actor = Actor(
                name=self.actor.name,
                avatar=self.actor.avatar,
                bot=self.actor.bot,
                roles=tuple(int(r) for r in self.actor.roles),
            )
        return Event(
            source_system=self.source_system,
            source_event_id=self.source_event_id,
            event_type=self.event_type,
            guild_id=_snowflake(self.guild_id),
            user_id=_snowflake(self.user_id) if self.user_id is not None else None,
            channel_id=_snowflake(self.channel_id) if self.channel_id is not None else None,
            occurred_at=self.occurred_at,
            payload=self.payload,
            actor=actor,
        )


class EnvelopeModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: int
    events: list[EventModel] = Field(min_length=1, max_length=MAX_EVENTS)

    @field_validator("v")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != VERSION:
            raise ValueError(f"unsupported envelope version {value}; this worker reads v{VERSION}")
        return value


def _message(err: ErrorDetails) -> str:
    if err["type"] == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") == SNOWFLAKE_PATTERN:
        return SNOWFLAKE_MESSAGE  # not pydantic's "should match pattern" and the long expression
    return err["msg"]


def _text(body: bytes | str) -> str:
    raw = body.decode("utf-8") if isinstance(body, bytes | bytearray) else body
    stripped = raw.lstrip()
    if stripped.startswith("{"):
        return raw
    # Messages sent base64-encoded (the Functions default) arrive here still encoded
    # when read by a plain queue client; accept both.
    try:
        return base64.b64decode(stripped.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise EnvelopeError("message body is neither JSON nor base64-encoded JSON",
                            [ErrorDetail("$", str(exc))]) from None


def decode_envelope(body: bytes | str) -> list[Event]:
    """Validate a queue message body and return its events (in order)."""
    try:
        text = _text(body)
    except UnicodeDecodeError as exc:
        raise EnvelopeError("message body is not UTF-8", [ErrorDetail("$", str(exc))]) from None
    if len(text.encode("utf-8")) > MAX_MESSAGE_BYTES:
        raise EnvelopeError("message body too large", [ErrorDetail("$", f"over {MAX_MESSAGE_BYTES} bytes")])
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EnvelopeError("message body is not JSON",
                            [ErrorDetail("$", f"{exc.msg} at line {exc.lineno} column {exc.colno}")]) from None
    return validate_envelope(data)


def validate_envelope(data: Any) -> list[Event]:
    """Validate an already parsed envelope (what ``decode_envelope`` does after ``json.loads``)."""
    try:
        model = EnvelopeModel.model_validate(data)
    except ValidationError as exc:
        errors = [ErrorDetail(json_path(err["loc"]), _message(err)) for err in exc.errors(include_url=False)]
        raise EnvelopeError("invalid envelope", errors) from None
    return [event.to_event() for event in model.events]


def event_to_wire(event: Event | Mapping[str, Any]) -> dict[str, Any]:
    """An event as the envelope carries it (snowflakes as strings, ISO 8601 UTC times)."""
    if isinstance(event, Mapping):
        return dict(event)
    wire: dict[str, Any] = {
        "source_system": event.source_system,
        "source_event_id": event.source_event_id,
        "event_type": event.event_type,
        "guild_id": str(event.guild_id),
        "user_id": None if event.user_id is None else str(event.user_id),
        "channel_id": None if event.channel_id is None else str(event.channel_id),
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "payload": dict(event.payload),
    }
    if event.actor is not None:
        wire["actor"] = {
            "name": event.actor.name,
            "avatar": event.actor.avatar,
            "bot": event.actor.bot,
            "roles": [str(r) for r in event.actor.roles],
        }
    return wire


def encode_envelope(events: Iterable[Event | Mapping[str, Any]]) -> str:
    """The JSON text of one envelope (the queue client base64-encodes it on the wire)."""
    return json.dumps({"v": VERSION, "events": [event_to_wire(e) for e in events]},
                      separators=(",", ":"), ensure_ascii=False)
