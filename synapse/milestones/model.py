"""Milestone definitions as operators write them (``milestones.criteria`` / ``rewards`` JSON)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synapse.errors import ErrorDetail, ValidationFailed

Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BalanceCrit(_Model):
    type: Literal["balance"]
    currency: Key
    at_least: int = Field(ge=1)


class LevelCrit(_Model):
    type: Literal["level"]
    currency: Key = "xp"
    at_least: int = Field(ge=1, le=1000)


class EventCountCrit(_Model):
    type: Literal["event_count"]
    event: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    at_least: int = Field(ge=1)
    within_days: int | None = Field(None, ge=1, le=3650)


class EventSumCrit(_Model):
    """A payload field summed over events (``voice_tick`` ``minutes`` → time in voice)."""

    type: Literal["event_sum"]
    event: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    field: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,63}$")
    at_least: int = Field(ge=1)
    within_days: int | None = Field(None, ge=1, le=3650)


class StreakCrit(_Model):
    """Active on each of the last ``days`` UTC days, the event's day included."""

    type: Literal["streak"]
    days: int = Field(ge=1, le=366)


class AllCrit(_Model):
    type: Literal["all"]
    criteria: list[Criterion] = Field(min_length=1)


class AnyCrit(_Model):
    type: Literal["any"]
    criteria: list[Criterion] = Field(min_length=1)


Criterion = Annotated[
    BalanceCrit | LevelCrit | EventCountCrit | EventSumCrit | StreakCrit | AllCrit | AnyCrit,
    Field(discriminator="type"),
]


class CurrencyReward(_Model):
    type: Literal["currency"]
    currency: Key
    amount: int = Field(ge=1, le=10**9)


class RoleReward(_Model):
    type: Literal["role"]
    role_id: str = Field(pattern=r"^[0-9]{1,20}$")


Reward = Annotated[CurrencyReward | RoleReward, Field(discriminator="type")]


class MilestoneSpec(_Model):
    key: Key
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=500)
    emoji: str = Field("", max_length=64)
    criteria: Criterion
    rewards: list[Reward] = Field(default_factory=list)
    hidden: bool = False
    announce: bool = True
    enabled: bool = True


AllCrit.model_rebuild()
AnyCrit.model_rebuild()
MilestoneSpec.model_rebuild()


def validate_milestone(data: Any, *, currencies: frozenset[str] | None = None) -> MilestoneSpec:
    """Every error with its JSON path; with ``currencies`` (the guild's), each currency named in the
    criteria (nested ones too) or the rewards must be one of them."""
    try:
        spec = MilestoneSpec.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed.from_pydantic("invalid milestone", exc) from None
    if currencies is not None:
        named = [*_criteria_currencies(spec.criteria, "criteria"),
                 *((f"rewards.{i}.currency", r.currency) for i, r in enumerate(spec.rewards)
                   if isinstance(r, CurrencyReward))]
        unknown = [ErrorDetail(path, f"no currency {cur!r} in this server") for path, cur in named
                   if cur not in currencies]
        if unknown:
            raise ValidationFailed("invalid milestone", unknown)
    return spec


def _criteria_currencies(c: Any, path: str) -> list[tuple[str, str]]:
    if isinstance(c, AllCrit | AnyCrit):
        return [found for i, x in enumerate(c.criteria) for found in _criteria_currencies(x, f"{path}.criteria.{i}")]
    return [(f"{path}.currency", c.currency)] if isinstance(c, BalanceCrit | LevelCrit) else []
