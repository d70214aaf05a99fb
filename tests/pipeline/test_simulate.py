"""The community simulator: deterministic, realistic, and within the relay's message limits."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from synapse.eventlake.envelope import MAX_EVENTS, MAX_MESSAGE_BYTES, decode_envelope
from synapse.simulate.community import SimulationConfig, envelopes, simulate

END = datetime(2026, 3, 1, tzinfo=UTC)


def test_same_seed_same_events_other_seed_other_events() -> None:
    """Deterministic for a seed (and end); another seed is another community."""
    config = SimulationConfig(seed=1, members=25, days=2, end=END)
    assert simulate(config) == simulate(config)
    assert simulate(SimulationConfig(seed=2, members=25, days=2, end=END)) != simulate(config)


def test_traffic_has_the_variety_rules_need() -> None:
    """Messages (code blocks, replies, threads), reactions, voice, joins/leaves and spam bursts all occur."""
    events = simulate(SimulationConfig(seed=42, members=40, days=3, end=END))
    kinds = Counter(e["event_type"] for e in events)
    for kind in ("message_create", "reaction_add", "reaction_remove", "voice_join", "voice_leave",
                 "thread_create", "member_join", "message_delete"):
        assert kinds[kind] > 0, kind
    messages = [e["payload"] for e in events if e["event_type"] == "message_create"]
    assert any(p["has_code_block"] for p in messages) and any(p["is_reply"] for p in messages)
    assert len({p["length"] for p in messages}) > 50
    repeats = Counter(p["fingerprint"] for p in messages).most_common(1)[0][1]
    assert repeats >= 5  # the spammer's repeated line
    per_member = Counter(e["user_id"] for e in events if e["event_type"] == "message_create")
    assert max(per_member.values()) > 10 * min(per_member.values())  # lurkers and regulars
    hours = Counter(int(e["occurred_at"][11:13]) for e in events)
    assert max(hours.values()) > 2 * min(hours.values())  # a daily rhythm
    assert [e["occurred_at"] for e in events] == sorted(e["occurred_at"] for e in events)


def test_envelopes_fit_a_queue_message_and_decode() -> None:
    """Cut by count and by base64 size like the relay; every envelope decodes to the same events."""
    events = simulate(SimulationConfig(seed=5, members=60, days=2, end=END))
    texts = list(envelopes(events, max_events=MAX_EVENTS))
    assert all(4 * ((len(t.encode()) + 2) // 3) <= MAX_MESSAGE_BYTES for t in texts)
    assert sum(len(decode_envelope(t)) for t in texts) == len(events)
