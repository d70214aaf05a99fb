"""The Facts port: everything a rule may know beyond the event itself.

One ``Facts`` serves one guild. Its one implementation is ``synapse.processing.state.MemoryState``,
seeded live from the snapshot ``synapse.db.snapshot.load`` reads for one message, and from history
for backtests.
Only what is listed here can be asked (the whitelist of facts); time bounds are always
given by the caller (from the event), never read from a clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Member:
    roles: frozenset[int] = frozenset()
    joined_at: datetime | None = None
    account_created_at: datetime | None = None
    is_bot: bool = False


@dataclass(frozen=True, slots=True)
class Channel:
    regions: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()


NO_CHANNEL = Channel()


@dataclass(frozen=True, slots=True)
class PriorCredit:
    """A rule credit an earlier event caused (what a clawback takes back)."""

    user_id: int
    currency: str
    amount: int
    idempotency_key: str
    occurred_at: datetime


class Facts(Protocol):
    """Read-only questions the engine and milestone criteria may ask about one guild."""

    def fired_between(self, rule_id: int, user_id: int, start: datetime, end: datetime) -> bool:
        """Did the rule fire for the member at some time strictly between start and end?"""
        ...

    def cap_used(self, user_id: int, currency: str, start: datetime, end: datetime | None) -> int:
        """Sum of positive rule credits of the currency to the member in [start, end)."""
        ...

    def season_start(self, at: datetime) -> datetime | None:
        """The start of the season ``at`` falls in (None: no season then; the store may only know the active one)."""
        ...

    def member(self, user_id: int, at: datetime) -> Member | None:
        """The member as of ``at``: the roles in force then where the store knows their history."""
        ...

    def channel(self, channel_id: int) -> Channel: ...

    def event_count(self, user_id: int, event_type: str, since: datetime | None) -> int: ...

    def event_sum(self, user_id: int, event_type: str, field: str, since: datetime | None) -> int:
        """Sum of an integer payload field (missing counts as 1 for ``minutes``, else 0)."""
        ...

    def active_days(self, user_id: int, since: date, until: date) -> frozenset[date]:
        """UTC days in [since, until] on which the member did anything."""
        ...

    def any_posted(self, keys: Sequence[str]) -> bool:
        """Is any of these idempotency keys already in the ledger (one credit per reactor)?"""
        ...

    def fingerprint_repeats(self, user_id: int, fingerprint: str, start: datetime, end: datetime,
                            exclude: str) -> int:
        """Messages of the member with this fingerprint in [start, end], the one keyed ``exclude`` aside."""
        ...

    def balance(self, user_id: int, currency: str) -> int: ...

    def prior_credits(self, source_system: str, source_event_id: str) -> Sequence[PriorCredit]: ...

    def earned_milestones(self, user_id: int) -> AbstractSet[str]: ...
