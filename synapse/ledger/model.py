"""Ledger values: currencies, postings to write, and what was posted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from synapse.ledger.curves import DEFAULT_CURVE, LevelCurve


class Kind(StrEnum):
    rule = "rule"
    admin_award = "admin_award"
    season_reset = "season_reset"
    clawback = "clawback"
    correction = "correction"
    transfer = "transfer"
    import_ = "import"


@dataclass(frozen=True)
class Currency:
    guild_id: int
    key: str
    name: str
    symbol: str = ""
    levelled: bool = False
    curve: LevelCurve = DEFAULT_CURVE
    seasonal: bool = False
    allow_negative: bool = False
    visible: bool = True


@dataclass(frozen=True)
class Posting:
    """A transaction to write. ``idempotency_key`` makes writing it twice a no-op."""

    guild_id: int
    user_id: int
    currency: str
    amount: int
    kind: Kind
    idempotency_key: str
    occurred_at: datetime
    reason: str = ""
    rule_id: int | None = None
    rule_version: int | None = None
    event_id: int | None = None
    actor_id: int | None = None
    season_id: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def make_posting(guild_id: int, user_id: int, currency: str, amount: int, kind: Kind, key: str, at: datetime,
                 reason: str, rule_id: int | None, version: int | None, event_id: int | None,
                 meta: dict[str, Any]) -> Posting:
    """A ``Posting`` built without the frozen dataclass ``__init__``, for hot loops (one setattr per
    field costs more than the rest of a credit); every field is set, so it equals one built the usual way."""
    p = object.__new__(Posting)
    p.__dict__.update(guild_id=guild_id, user_id=user_id, currency=currency, amount=amount, kind=kind,
                      idempotency_key=key, occurred_at=at, reason=reason, rule_id=rule_id, rule_version=version,
                      event_id=event_id, actor_id=None, season_id=None, meta=meta)
    return p


@dataclass(frozen=True, slots=True)
class Season:
    """A season of a guild: from ``started_at`` until ``ended_at`` (None: the active one)."""

    season_id: int
    name: str
    started_at: datetime
    ended_at: datetime | None = None


@dataclass(frozen=True)
class Posted:
    """A posting the database accepted, with the wallet balance right after it."""

    posting: Posting
    transaction_id: int
    balance_after: int

    @property
    def balance_before(self) -> int:
        return self.balance_after - self.posting.amount


@dataclass(frozen=True)
class LevelUp:
    guild_id: int
    user_id: int
    currency: str
    old_level: int
    new_level: int
    balance: int
    occurred_at: datetime
    transaction_id: int
