"""Typed idempotency and dedupe keys: one type per kind of key, ``render()`` to a string, ``parse()`` back.

Every key the engine writes (transactions' ``idempotency_key``, derived events' ``source_event_id``,
outbox rows' ``dedupe_key``) is built here and nowhere else, so no adapter slices strings to learn what
a key means. The strings are the ones already stored (they are part of the data: a key written last
year must still match). The hot path renders some keys from prefixes computed once at compile time
(``RuleCredit.prefix``, ``OncePerReactor.prefix``); the result is the same string ``render()`` gives.

Free-text parts (a Discord source event id may hold ``:``) sit between fixed parts, so ``parse`` splits
from both ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


class MalformedKey(ValueError):
    """A string that is not a key of the expected type."""


def _split(key: str, tag: str, head: int, tail: int) -> list[str]:
    """``tag:h1:…:hN:middle:t1:…:tM`` → [h1…hN, middle, t1…tM] (the middle may hold ``:``)."""
    if not key.startswith(tag + ":"):
        raise MalformedKey(f"{key!r} is not a {tag} key")
    rest = key[len(tag) + 1:]
    front = rest.split(":", head) if head else [rest]
    if len(front) != head + 1:
        raise MalformedKey(f"{key!r}: expected {head + tail + 1} parts after {tag!r}")
    back = front[-1].rsplit(":", tail) if tail else [front[-1]]
    if len(back) != tail + 1:
        raise MalformedKey(f"{key!r}: expected {head + tail + 1} parts after {tag!r}")
    return [*front[:-1], *back]


def _int(value: str, key: str) -> int:
    if not value.lstrip("-").isdigit():
        raise MalformedKey(f"{key!r}: {value!r} is not a number")
    return int(value)


# ------------------------------------------------------------------------------------ transactions


@dataclass(frozen=True, slots=True)
class RuleCredit:
    """A rule's credit or debit for a lake event: ``rule:{rule}:{event id}:{effect}``."""

    rule_id: int
    event_id: int
    index: int

    @staticmethod
    def prefix(rule_id: int) -> str:
        return f"rule:{rule_id}:"

    def render(self) -> str:
        return f"{self.prefix(self.rule_id)}{self.event_id}:{self.index}"

    @classmethod
    def parse(cls, key: str) -> RuleCredit:
        r, e, i = _split(key, "rule", 1, 1)
        return cls(_int(r, key), _int(e, key), _int(i, key))


@dataclass(frozen=True, slots=True)
class RuleCreditBySource:
    """A rule's posting for an event without a lake id: ``rule:{rule}:k:{source}:{source id}:{effect}``."""

    rule_id: int
    source_system: str
    source_event_id: str
    index: int

    def render(self) -> str:
        return f"rule:{self.rule_id}:k:{self.source_system}:{self.source_event_id}:{self.index}"

    @classmethod
    def parse(cls, key: str) -> RuleCreditBySource:
        r, k, s, se, i = _split(key, "rule", 3, 1)
        if k != "k":
            raise MalformedKey(f"{key!r} is not a source-keyed rule credit")
        return cls(_int(r, key), s, se, _int(i, key))


@dataclass(frozen=True, slots=True)
class OncePerReactor:
    """One credit per reactor and message: ``rule:{rule}:once:{message}:{reactor}:{effect}``."""

    rule_id: int
    message_id: str | None
    reactor: int | None
    index: int

    @staticmethod
    def prefix(rule_id: int) -> str:
        return f"rule:{rule_id}:once:"

    def render(self) -> str:
        return f"{self.prefix(self.rule_id)}{self.message_id}:{self.reactor}:{self.index}"

    @classmethod
    def parse(cls, key: str) -> OncePerReactor:
        r, once, m, u, i = _split(key, "rule", 2, 2)
        if once != "once":
            raise MalformedKey(f"{key!r} is not a once-per-reactor key")
        return cls(_int(r, key), None if m == "None" else m, None if u == "None" else _int(u, key), _int(i, key))


@dataclass(frozen=True, slots=True)
class MilestoneReward:
    """A milestone's currency reward, once per member: ``milestone:{milestone}:{member}:{reward}``."""

    milestone_id: int
    user_id: int
    index: int

    def render(self) -> str:
        return f"milestone:{self.milestone_id}:{self.user_id}:{self.index}"

    @classmethod
    def parse(cls, key: str) -> MilestoneReward:
        m, u, i = _split(key, "milestone", 2, 0)
        return cls(_int(m, key), _int(u, key), _int(i, key))


@dataclass(frozen=True, slots=True)
class Clawback:
    """Taking back one earlier credit: ``clawback:{the credit's key}``."""

    PREFIX: ClassVar[str] = "clawback:"

    original: str

    def render(self) -> str:
        return f"clawback:{self.original}"

    @classmethod
    def parse(cls, key: str) -> Clawback:
        return cls(_split(key, "clawback", 0, 0)[0])


@dataclass(frozen=True, slots=True)
class Award:
    """A manual award, once per request (interaction or HTTP request id): ``award:{request}``."""

    request_id: str

    def render(self) -> str:
        return f"award:{self.request_id}"

    @classmethod
    def parse(cls, key: str) -> Award:
        return cls(_split(key, "award", 0, 0)[0])


@dataclass(frozen=True, slots=True)
class Import:
    """An imported opening balance: ``import:{file sha256}:{currency}:{member}``."""

    sha256: str
    currency: str
    user_id: int

    def render(self) -> str:
        return f"import:{self.sha256}:{self.currency}:{self.user_id}"

    @classmethod
    def parse(cls, key: str) -> Import:
        s, c, u = _split(key, "import", 1, 1)
        return cls(s, c, _int(u, key))


@dataclass(frozen=True, slots=True)
class SeasonReset:
    """A seasonal currency's wallet reset when its season closed: ``season_reset:{season}:{currency}:{member}``."""

    season_id: int
    currency: str
    user_id: int

    def render(self) -> str:
        return f"season_reset:{self.season_id}:{self.currency}:{self.user_id}"

    @classmethod
    def parse(cls, key: str) -> SeasonReset:
        s, c, u = _split(key, "season_reset", 1, 1)
        return cls(_int(s, key), c, _int(u, key))


# ------------------------------------------------------------------------------------ derived events


@dataclass(frozen=True, slots=True)
class LevelUpEvent:
    """A ``level_up`` event's source id: ``level_up:{currency}:{member}:{new level}:{transaction}``."""

    currency: str
    user_id: int
    new_level: int
    transaction_id: int

    def render(self) -> str:
        return f"level_up:{self.currency}:{self.user_id}:{self.new_level}:{self.transaction_id}"

    @classmethod
    def parse(cls, key: str) -> LevelUpEvent:
        c, u, lvl, tx = _split(key, "level_up", 0, 3)
        return cls(c, _int(u, key), _int(lvl, key), _int(tx, key))


@dataclass(frozen=True, slots=True)
class MilestoneEarnedEvent:
    """A ``milestone_earned`` event's source id, once per member: ``milestone_earned:{key}:{member}``."""

    milestone_key: str
    user_id: int

    def render(self) -> str:
        return f"milestone_earned:{self.milestone_key}:{self.user_id}"

    @classmethod
    def parse(cls, key: str) -> MilestoneEarnedEvent:
        k, u = _split(key, "milestone_earned", 0, 1)
        return cls(k, _int(u, key))


# ------------------------------------------------------------------------------------ outbox rows


@dataclass(frozen=True, slots=True)
class Announcement:
    """A rule's announcement for an event: ``announce:{rule}:{source}:{source id}:{effect}``."""

    rule_id: int
    source_system: str
    source_event_id: str
    index: int

    def render(self) -> str:
        return f"announce:{self.rule_id}:{self.source_system}:{self.source_event_id}:{self.index}"

    @classmethod
    def parse(cls, key: str) -> Announcement:
        r, s, se, i = _split(key, "announce", 2, 1)
        return cls(_int(r, key), s, se, _int(i, key))


@dataclass(frozen=True, slots=True)
class RoleChange:
    """A rule's role change: ``role_{add|remove}:{rule}:{source}:{source id}:{effect or role}``.

    ``slot`` is the effect's index for a role effect, the role id for a level-roles effect.
    """

    ACTIONS: ClassVar[frozenset[str]] = frozenset({"add", "remove"})

    action: str
    rule_id: int
    source_system: str
    source_event_id: str
    slot: int

    def render(self) -> str:
        return f"role_{self.action}:{self.rule_id}:{self.source_system}:{self.source_event_id}:{self.slot}"

    @classmethod
    def parse(cls, key: str) -> RoleChange:
        tag = key.split(":", 1)[0]
        action = tag.removeprefix("role_")
        if action not in cls.ACTIONS:
            raise MalformedKey(f"{key!r} is not a role change key")
        r, s, se, slot = _split(key, tag, 2, 1)
        return cls(action, _int(r, key), s, se, _int(slot, key))


@dataclass(frozen=True, slots=True)
class MilestoneRole:
    """A milestone's role reward: ``milestone_role:{milestone key}:{member}:{role}``."""

    milestone_key: str
    user_id: int
    role_id: int

    def render(self) -> str:
        return f"milestone_role:{self.milestone_key}:{self.user_id}:{self.role_id}"

    @classmethod
    def parse(cls, key: str) -> MilestoneRole:
        k, u, r = _split(key, "milestone_role", 0, 2)
        return cls(k, _int(u, key), _int(r, key))
