"""What an evaluation decides: plain values the service turns into ledger rows and outbox rows."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final

from synapse.ledger.model import Posting


@dataclass(frozen=True, slots=True)
class RuleResult:
    """One rule the event triggered: whether it matched, and if not, which condition failed and why."""

    rule_id: int
    name: str
    matched: bool
    failed: str | None = None  # "conditions[2]: cooldown" (JSON path: reason)


@dataclass(frozen=True, slots=True)
class Announcement:
    rule_id: int
    dedupe_key: str
    user_id: int
    target: str              # channel | announcements | dm | fixed (| levelup until routed)
    channel_id: int | None
    title: str
    text: str
    color: int
    reason: str

    def payload(self) -> dict[str, Any]:
        return {"target": self.target, "channel_id": None if self.channel_id is None else str(self.channel_id),
                "user_id": str(self.user_id), "content": "",
                "embed": {"title": self.title, "description": self.text, "color": self.color},
                "reason": self.reason}


@dataclass(frozen=True, slots=True)
class RoleChange:
    rule_id: int
    dedupe_key: str
    user_id: int
    role_id: int
    action: str              # add | remove
    reason: str = ""

    @property
    def kind(self) -> str:
        return f"role_{self.action}"

    def payload(self) -> dict[str, Any]:
        return {"user_id": str(self.user_id), "role_id": str(self.role_id), "reason": self.reason}


@dataclass(slots=True, init=False)
class Evaluation:
    """The decisions for one event. ``evaluate`` never performs any of them."""

    results: list[RuleResult]
    postings: list[Posting]
    milestone_checks: list[int]
    announcements: list[Announcement]
    role_changes: list[RoleChange]
    fires: list[tuple[int, int]]   # (rule_id, member) for cooldowns

    def __init__(self) -> None:
        # Built once per event in the hot loop: literal lists beat six default_factory calls.
        self.results = []
        self.postings = []
        self.milestone_checks = []
        self.announcements = []
        self.role_changes = []
        self.fires = []

    @property
    def matched(self) -> list[RuleResult]:
        return [r for r in self.results if r.matched]

    @property
    def unmatched(self) -> list[RuleResult]:
        return [r for r in self.results if not r.matched]


LEVELUP_MODES = frozenset({"channel", "fixed", "dm", "off"})


@dataclass(frozen=True, slots=True)
class LevelUpRoute:
    """The guild's level-up setting (``levelup_mode``, ``levelup_channel_id``) as the runner needs it."""

    mode: str = "channel"            # channel | fixed | dm | off
    channel_id: int | None = None    # the fixed channel

    @classmethod
    def of(cls, mode: Any, channel_id: Any) -> LevelUpRoute:
        """From stored setting values; anything unknown falls back to the default (the event's channel)."""
        fixed = int(channel_id) if isinstance(channel_id, str | int) and str(channel_id).isdigit() else None
        return cls(mode if mode in LEVELUP_MODES else "channel", fixed)


LEVELUP_DEFAULT: Final = LevelUpRoute()


def route(a: Announcement, levelup: LevelUpRoute) -> Announcement | None:
    """Resolve a ``levelup`` target to one the outbox contract knows (None: the guild wants none).

    channel → the channel of the event that caused the level-up (``channel`` without a channel id
    when it had none: the sender then falls back to the announcements channel); fixed →
    ``levelup_channel_id`` (the announcements channel if unset); dm → a DM; off → nothing.
    Other targets are returned unchanged.
    """
    if a.target != "levelup":
        return a
    mode = levelup.mode
    if mode == "off":
        return None
    if mode == "dm":
        return replace(a, target="dm", channel_id=None)
    if mode == "fixed":
        if levelup.channel_id is None:
            return replace(a, target="announcements", channel_id=None)
        return replace(a, target="fixed", channel_id=levelup.channel_id)
    return replace(a, target="channel")
