"""What an evaluation decides: plain values the service turns into ledger rows and outbox rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    target: str              # channel | announcements | dm | fixed
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


@dataclass(slots=True)
class Evaluation:
    """The decisions for one event. ``evaluate`` never performs any of them."""

    results: list[RuleResult] = field(default_factory=list)
    postings: list[Posting] = field(default_factory=list)
    milestone_checks: list[int] = field(default_factory=list)
    announcements: list[Announcement] = field(default_factory=list)
    role_changes: list[RoleChange] = field(default_factory=list)
    fires: list[tuple[int, int]] = field(default_factory=list)   # (rule_id, member) for cooldowns

    @property
    def matched(self) -> list[RuleResult]:
        return [r for r in self.results if r.matched]

    @property
    def unmatched(self) -> list[RuleResult]:
        return [r for r in self.results if not r.matched]

    @property
    def empty(self) -> bool:
        return not (self.postings or self.milestone_checks or self.announcements or self.role_changes)
