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
