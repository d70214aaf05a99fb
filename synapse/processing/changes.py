"""What one run decided, as plain values: the ``ChangeSet`` the database writer stores (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from synapse.eventlake.events import Event
from synapse.ledger.model import Posted
from synapse.processing.voice import Changes as VoiceChanges


@dataclass
class OutboxItem:
    kind: str            # announce | role_add | role_remove
    dedupe_key: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class GrantRow:
    milestone_id: int
    user_id: int
    earned_at: datetime
    event_id: int | None
    source: str = "rule"           # rule | admin | retro
    granted_by: int | None = None


@dataclass
class ChangeSet:
    """Everything a run changed, in the order it happened.

    ``postings`` carry the transaction id and ``balance_after`` the state predicted (the database
    checks both); ``derived`` the lake id; ``fires`` the latest cooldown fire per (rule, member),
    with its event, as the ``rule_state`` upsert keeps it; ``voice`` the voice sessions the message
    opened, closed or ticked (``processing.voice.Changes``; each row names its own guild), written by
    the same writer in the same round trips.
    """

    guild_id: int
    postings: list[Posted] = field(default_factory=list)
    derived: list[Event] = field(default_factory=list)
    grants: list[GrantRow] = field(default_factory=list)
    fires: dict[tuple[int, int], tuple[datetime, int | None]] = field(default_factory=dict)
    outbox: list[OutboxItem] = field(default_factory=list)
    voice: VoiceChanges = field(default_factory=VoiceChanges)

    def __bool__(self) -> bool:
        return bool(self.postings or self.derived or self.grants or self.fires or self.outbox or self.voice)

    def without_announcements(self) -> ChangeSet:
        """The same changes with no ``announce`` outbox rows (an admin action that asked for silence)."""
        return ChangeSet(self.guild_id, self.postings, self.derived, self.grants, self.fires,
                         [o for o in self.outbox if o.kind != "announce"], self.voice)
