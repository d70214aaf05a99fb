"""The rule JSON (DESIGN.md §4): pydantic models with discriminated unions on ``type``.

``validate_rule`` / ``validate_rules`` return a ``RuleSpec`` or raise ``ValidationFailed``
listing *every* problem with its JSON path (pydantic's and the semantic ones: unknown
event types, payload fields, currencies, regions, tags, placeholders). ``rules_schema``
is the JSON Schema the dashboard editor uses.
"""

from __future__ import annotations

import re
import string
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from synapse.errors import ErrorDetail, ValidationFailed, json_path
from synapse.eventlake.events import DISCORD, KNOWN_TYPES, SYNAPSE
from synapse.eventlake.payloads import payload_fields
from synapse.rules.operators import Op

Snowflake = Annotated[str, Field(pattern=r"^[0-9]{1,20}$")]
Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

PLACEHOLDERS = frozenset({"mention", "member", "user", "name", "user_id", "channel", "level", "old_level",
                          "currency", "balance", "milestone", "milestone_name", "emoji", "amount"})

# The guild settings an announce effect may take its text from (``template_setting``), with the
# placeholders each can use: {name: (what it stands for, a sample value for previews)}. One list for the
# save-time check (``template_errors``), the engine (``compile._placeholders``) and the dashboard preview
# (``GET …/admin/settings/placeholders``).
_WHO = {"member": ("the member, as a mention", "@Ada"), "mention": ("same as {member}", "@Ada"),
        "name": ("the member's display name (plain text)", "Ada"),
        "user": ("same as {name} (the mention when the name is unknown)", "Ada"),
        "user_id": ("the member's id", "123456789012345678"),
        "channel": ("the channel of the message that caused it, as a link", "#general")}
TEMPLATE_PLACEHOLDERS: dict[str, dict[str, tuple[str, str]]] = {
    "levelup_template": {**_WHO, "level": ("the new level", "5"), "old_level": ("the level before", "4"),
                         "currency": ("the levelled currency's key", "xp"),
                         "balance": ("the member's balance of it", "1,234")},
    "milestone_template": {**_WHO, "milestone": ("the milestone's key", "first-message"),
                           "milestone_name": ("the milestone's name", "First Steps"),
                           "emoji": ("the milestone's emoji", "🎉")},
}
TemplateSetting = Literal["levelup_template", "milestone_template"]


def template_errors(text: str, allowed: Collection[str] = PLACEHOLDERS) -> list[str]:
    """What is wrong with an announcement template (bad braces, unknown placeholders); empty when fine."""
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as exc:
        return [f"bad template: {exc}"]
    return [f"unknown placeholder {{{n}}}; known: {', '.join(sorted(allowed))}" for n in sorted(names - set(allowed))]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_tz(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


class FieldTest(_Model):
    """A comparison of one payload field with a value."""

    field: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,63}$")
    op: Op
    value: Any = None


class TimeWindow(_Model):
    tz: str = "UTC"
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS), min_length=1)
    start: str = Field("00:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    end: str = Field("24:00", pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")

    _tz = field_validator("tz")(classmethod(lambda cls, v: _check_tz(v)))


# ---------------------------------------------------------------- conditions

class ZoneCond(_Model):
    """Channel/region filter: included if in any listed region or channel (or none listed), minus excludes."""

    type: Literal["zone"]
    regions: list[Key] = Field(default_factory=list)
    channels: list[Snowflake] = Field(default_factory=list)
    exclude_regions: list[Key] = Field(default_factory=list)
    exclude_channels: list[Snowflake] = Field(default_factory=list)


class TagsCond(_Model):
    type: Literal["tags"]
    any_of: list[Key] = Field(default_factory=list)
    none_of: list[Key] = Field(default_factory=list)


class PayloadCond(FieldTest):
    type: Literal["payload"]


class CooldownCond(_Model):
    type: Literal["cooldown"]
    seconds: int = Field(ge=1, le=30 * 86400)


class CapCond(_Model):
    type: Literal["cap"]
    currency: Key
    amount: int = Field(ge=1, le=10**9)
    window: Literal["hour", "day", "week", "season"]
    tz: str = "UTC"

    _tz = field_validator("tz")(classmethod(lambda cls, v: _check_tz(v)))


class RolesCond(_Model):
    type: Literal["roles"]
    any_of: list[Snowflake] = Field(default_factory=list)
    none_of: list[Snowflake] = Field(default_factory=list)


class TimeWindowCond(TimeWindow):
    type: Literal["time_window"]


class AgeCond(_Model):
    """Minimum account age or membership age of the member who acted."""

    type: Literal["age"]
    of: Literal["account", "membership"]
    min_days: float = Field(ge=0, le=3650)


class NotSelfReactionCond(_Model):
    type: Literal["not_self_reaction"]


class OncePerReactorCond(_Model):
    """One credit per reactor per message, whatever the emoji (enforced by the idempotency key too)."""

    type: Literal["once_per_reactor"]


class RepeatGuardCond(_Model):
    """Refuse a message whose fingerprint the member already sent more than ``max_repeats`` times lately."""

    type: Literal["repeat_guard"]
    within_seconds: int = Field(600, ge=1, le=7 * 86400)
    max_repeats: int = Field(0, ge=0, le=1000)


class NotBotCond(_Model):
    type: Literal["not_bot"]


class AllCond(_Model):
    type: Literal["all"]
    conditions: list[Condition] = Field(min_length=1)


class AnyCond(_Model):
    type: Literal["any"]
    conditions: list[Condition] = Field(min_length=1)


class NotCond(_Model):
    type: Literal["not"]
    condition: Condition


Condition = Annotated[
    ZoneCond | TagsCond | PayloadCond | CooldownCond | CapCond | RolesCond | TimeWindowCond | AgeCond
    | NotSelfReactionCond | OncePerReactorCond | RepeatGuardCond | NotBotCond | AllCond | AnyCond | NotCond,
    Field(discriminator="type"),
]


# ---------------------------------------------------------------- amounts and multipliers

class RandomAmount(_Model):
    """A whole number drawn uniformly from [low, high], seeded from the event."""

    random: tuple[int, int]

    @field_validator("random")
    @classmethod
    def _ordered(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not 0 <= v[0] <= v[1] <= 10**9:
            raise ValueError("must be [low, high] with 0 <= low <= high")
        return v


class PerMinuteAmount(_Model):
    """``per_minute`` × the duration in a payload field (minutes or seconds, floored to whole minutes)."""

    per_minute: int = Field(ge=1, le=10**6)
    field: str = Field("minutes", pattern=r"^[a-z_][a-z0-9_]{0,63}$")
    unit: Literal["minutes", "seconds"] = "minutes"


Amount = Annotated[int, Field(ge=1, le=10**9)] | RandomAmount | PerMinuteAmount


class Multiplier(_Model):
    """Scale an amount by ``times`` when its selector holds (no selector: always).

    ``channel``: the event's own channel (a thread's message counts in the thread, not its parent, as in
    ``zone``).
    """

    times: float = Field(gt=0, le=100)
    when: FieldTest | None = None
    region: Key | None = None
    role: Snowflake | None = None
    channel: Snowflake | None = None
    tag: Key | None = None
    time_window: TimeWindow | None = None

    @model_validator(mode="after")
    def _one_selector(self) -> Multiplier:
        chosen = [n for n in ("when", "region", "role", "channel", "tag", "time_window")
                  if getattr(self, n) is not None]
        if len(chosen) > 1:
            raise ValueError(f"a multiplier takes at most one selector, got {', '.join(chosen)}")
        return self


Recipient = Literal["actor", "message_author", "reply_to"]


# ---------------------------------------------------------------- effects

class CreditEffect(_Model):
    type: Literal["credit"]
    currency: Key
    amount: Amount
    multipliers: list[Multiplier] = Field(default_factory=list)
    to: Recipient = "actor"
    reason: str = Field("", max_length=200)


class DebitEffect(_Model):
    type: Literal["debit"]
    currency: Key
    amount: Annotated[int, Field(ge=1, le=10**9)] | RandomAmount
    to: Recipient = "actor"
    partial: bool = Field(True, description="debit what is left when the balance is short (else skip)")
    reason: str = Field("", max_length=200)


class CheckMilestonesEffect(_Model):
    type: Literal["check_milestones"]
    to: Recipient = "actor"


class AnnounceEffect(_Model):
    type: Literal["announce"]
    # "levelup": wherever the guild's level-up setting says (levelup_mode: the event's channel, a fixed
    # channel, a DM, or nowhere), resolved by the processing service before an outbox row is written.
    target: Literal["channel", "announcements", "dm", "fixed", "levelup"] = "channel"
    channel_id: Snowflake | None = None
    title: str = Field("", max_length=256)
    template: str = Field(min_length=1, max_length=2000)
    # The guild setting whose text replaces ``template`` (which stays the fallback): the default pack's
    # level-up and milestone messages follow the Settings page this way.
    template_setting: TemplateSetting | None = None
    color: int = Field(0x5865F2, ge=0, le=0xFFFFFF)
    reason: Literal["level_up", "milestone", "custom"] = "custom"

    @model_validator(mode="after")
    def _fixed_needs_channel(self) -> AnnounceEffect:
        if (self.target == "fixed") != (self.channel_id is not None):
            raise ValueError("channel_id is required with target 'fixed' and only then")
        return self


class RoleEffect(_Model):
    type: Literal["role"]
    action: Literal["add", "remove"]
    role_id: Snowflake
    to: Recipient = "actor"


class LevelRolesEffect(_Model):
    """Level role rewards (trigger: level_up): ``stack`` keeps lower ones, ``replace`` removes them."""

    type: Literal["level_roles"]
    currency: Key = "xp"
    roles: dict[int, Snowflake] = Field(min_length=1)
    mode: Literal["stack", "replace"] = "stack"


class ClawbackEffect(_Model):
    """Take back what the original event earned (reaction removed, message deleted within N minutes)."""

    type: Literal["clawback"]
    within_minutes: int | None = Field(None, ge=1, le=7 * 1440)
    currencies: list[Key] = Field(default_factory=list, description="empty: every currency")


Effect = Annotated[
    CreditEffect | DebitEffect | CheckMilestonesEffect | AnnounceEffect | RoleEffect | LevelRolesEffect
    | ClawbackEffect,
    Field(discriminator="type"),
]


class Trigger(_Model):
    event: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    source: str | None = Field(None, pattern=r"^[a-z][a-z0-9_.-]{0,31}$")


class RuleSpec(_Model):
    """One rule as an operator writes it (the JSON stored in ``rules.definition``)."""

    id: int | None = Field(None, description="set when editing a stored rule (backtests of drafts)")
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=1000)
    enabled: bool = True
    module: Key = "economy"
    priority: int = Field(100, ge=0, le=10000)
    trigger: Trigger
    conditions: list[Condition] = Field(default_factory=list)
    effects: list[Effect] = Field(min_length=1, max_length=20)
    stacking: Literal["multiply", "add", "max"] = "multiply"


AllCond.model_rebuild()
AnyCond.model_rebuild()
NotCond.model_rebuild()
RuleSpec.model_rebuild()


@dataclass(frozen=True)
class ValidationContext:
    """What a guild has, for save-time checks. ``None`` fields are not checked."""

    currencies: frozenset[str] | None = None
    regions: frozenset[str] | None = None
    tags: frozenset[str] | None = None
    extra_event_types: frozenset[str] = field(default_factory=frozenset)


def _path(loc: Sequence[int | str]) -> str:
    return json_path(loc, skip=_UNION_TAGS)   # pydantic's discriminator tags in a location are not JSON keys


_UNION_TAGS = frozenset({
    "zone", "tags", "payload", "cooldown", "cap", "roles", "time_window", "age", "not_self_reaction",
    "once_per_reactor", "repeat_guard", "not_bot", "all", "any", "not", "credit", "debit",
    "check_milestones", "announce", "role", "level_roles", "clawback", "int", "RandomAmount",
    "PerMinuteAmount", "constrained-int", "FieldTest",
})


def _semantic(rule: RuleSpec, ctx: ValidationContext, base: str) -> list[ErrorDetail]:
    errors: list[ErrorDetail] = []
    event = rule.trigger.event
    ours = rule.trigger.source in (None, DISCORD, SYNAPSE)
    if ours and event not in KNOWN_TYPES and event not in ctx.extra_event_types:
        errors.append(ErrorDetail(f"{base}.trigger.event", f"unknown event type {event!r}"))
    fields = payload_fields(event) if ours else None  # the whitelist: the keys its payload type declares

    def check_field(name: str, path: str) -> None:
        if fields is not None and name not in fields:
            errors.append(ErrorDetail(path, f"unknown payload field {name!r} for {event}; "
                                            f"known: {', '.join(sorted(fields))}"))

    def check_key(kind: str, known: frozenset[str] | None, key: str, path: str) -> None:
        if known is not None and key not in known:
            errors.append(ErrorDetail(path, f"unknown {kind} {key!r}"))

    def walk(cond: Any, path: str) -> None:
        if isinstance(cond, PayloadCond):
            check_field(cond.field, f"{path}.field")
        elif isinstance(cond, ZoneCond):
            for i, r in enumerate(cond.regions):
                check_key("region", ctx.regions, r, f"{path}.regions[{i}]")
            for i, r in enumerate(cond.exclude_regions):
                check_key("region", ctx.regions, r, f"{path}.exclude_regions[{i}]")
        elif isinstance(cond, TagsCond):
            for name in ("any_of", "none_of"):
                for i, t in enumerate(getattr(cond, name)):
                    check_key("tag", ctx.tags, t, f"{path}.{name}[{i}]")
        elif isinstance(cond, CapCond):
            check_key("currency", ctx.currencies, cond.currency, f"{path}.currency")
        elif isinstance(cond, AllCond | AnyCond):
            for i, c in enumerate(cond.conditions):
                walk(c, f"{path}.conditions[{i}]")
        elif isinstance(cond, NotCond):
            walk(cond.condition, f"{path}.condition")
        elif isinstance(cond, NotSelfReactionCond | OncePerReactorCond) and event not in (
                "reaction_add", "reaction_remove"):
            errors.append(ErrorDetail(path, f"{cond.type} applies to reaction events, not {event}"))
        elif isinstance(cond, RepeatGuardCond) and event != "message_create":
            errors.append(ErrorDetail(path, f"repeat_guard applies to message_create, not {event}"))

    for i, cond in enumerate(rule.conditions):
        walk(cond, f"{base}.conditions[{i}]")
    for i, eff in enumerate(rule.effects):
        path = f"{base}.effects[{i}]"
        if isinstance(eff, CreditEffect | DebitEffect | LevelRolesEffect):
            check_key("currency", ctx.currencies, eff.currency, f"{path}.currency")
        if isinstance(eff, CreditEffect):
            if isinstance(eff.amount, PerMinuteAmount):
                check_field(eff.amount.field, f"{path}.amount.field")
            for j, m in enumerate(eff.multipliers):
                if m.when is not None:
                    check_field(m.when.field, f"{path}.multipliers[{j}].when.field")
                if m.region is not None:
                    check_key("region", ctx.regions, m.region, f"{path}.multipliers[{j}].region")
                if m.tag is not None:
                    check_key("tag", ctx.tags, m.tag, f"{path}.multipliers[{j}].tag")
        if isinstance(eff, CreditEffect | DebitEffect | RoleEffect | CheckMilestonesEffect) and \
                eff.to == "message_author" and event not in ("reaction_add", "reaction_remove"):
            errors.append(ErrorDetail(f"{path}.to", f"message_author is known only for reaction events, not {event}"))
        if isinstance(eff, LevelRolesEffect) and event != "level_up":
            errors.append(ErrorDetail(path, "level_roles needs the level_up trigger"))
        if isinstance(eff, ClawbackEffect) and event not in ("reaction_remove", "message_delete"):
            errors.append(ErrorDetail(path, f"clawback needs a reaction_remove or message_delete trigger, not {event}"))
        if isinstance(eff, AnnounceEffect):
            for text, name in ((eff.template, "template"), (eff.title, "title")):
                errors.extend(ErrorDetail(f"{path}.{name}", problem) for problem in template_errors(text))
    return errors


def validate_rules(data: Any, *, context: ValidationContext | None = None) -> list[RuleSpec]:
    """A list of rules (the file format of ``synapse rules validate``), all errors reported at once."""
    ctx = context or ValidationContext()
    if isinstance(data, Mapping) and "rules" in data:
        data = data["rules"]
    if isinstance(data, Mapping):
        data = [data]
    errors: list[ErrorDetail] = []
    rules: list[RuleSpec] = []
    if not isinstance(data, list):
        raise ValidationFailed("invalid rules", [
            ErrorDetail("$", 'expected a rule, a list of rules or {"rules": [...]}')])
    for i, item in enumerate(data):
        try:
            rule = RuleSpec.model_validate(item)
        except ValidationError as exc:
            errors.extend(ErrorDetail(_path([i, *err["loc"]]), err["msg"]) for err in exc.errors(include_url=False))
            continue
        errors.extend(_semantic(rule, ctx, f"[{i}]"))
        rules.append(rule)
    if errors:
        raise ValidationFailed("invalid rules", errors)
    return rules


def validate_rule(data: Any, *, context: ValidationContext | None = None) -> RuleSpec:
    """One rule; every error is reported with its JSON path (``conditions[1].op``)."""
    try:
        return validate_rules([data], context=context)[0]
    except ValidationFailed as exc:
        errors = [ErrorDetail(re.sub(r"^\[0\]\.?", "", e.path) or "$", e.message) for e in exc.errors]
        raise ValidationFailed("invalid rule", errors) from None


def rules_schema() -> dict[str, Any]:
    """The JSON Schema of one rule (the dashboard editor's contract)."""
    schema = RuleSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Synapse rule"
    return schema


def dump_rule(rule: RuleSpec) -> dict[str, Any]:
    """The JSON stored in ``rules.definition`` (without the id, which is a column)."""
    return rule.model_dump(mode="json", exclude={"id"}, exclude_none=True)


__all__ = ["TEMPLATE_PLACEHOLDERS", "Condition", "Effect", "RuleSpec", "ValidationContext",
           "dump_rule", "rules_schema", "template_errors", "validate_rule", "validate_rules"]
