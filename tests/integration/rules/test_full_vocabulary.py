"""Live ingest equals a backtest for every condition, effect and milestone criterion the rule JSON has, not
only the default pack's: the planner asks for every fact the rules can read (regions, tags, roles, ages,
fingerprints, week and season caps, windowed counts and sums, streaks), or the two runs part."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from synapse.admin import channel_groups
from synapse.admin.audit import SYSTEM
from synapse.clock import FixedClock
from synapse.db import rules_store
from synapse.eventlake.events import Event
from synapse.rules.simulate import START, simulate
from synapse.services import ingest
from synapse.services.backtest import run_backtest_readonly
from synapse.services.guild_init import init_guild
from synapse.simulate import community
from tests.support.live import assert_backtest_matches, run_live, written

GUILD = 5252
SIMULATED = ("501", "502", "503", "504")   # rules.simulate's text channels
HELPER, VETERAN = 881, 882   # roles some members hold (in the member cache, as the gateway reported them)


def rules(channels: Sequence[str], helper: int, veteran: int) -> list[dict[str, Any]]:
    """The pack, for a guild whose first two text channels are the region "core" and the third is tagged
    "help" (the fourth is excluded from "core" by id, the second pays more), and two roles members hold."""
    return [
        {"name": "Core gold", "trigger": {"event": "message_create"}, "stacking": "add",
         "conditions": [{"type": "zone", "regions": ["core"], "exclude_channels": [channels[3]]},
                        {"type": "roles", "none_of": ["999"]},
                        {"type": "time_window", "start": "06:00", "end": "23:00"},
                        {"type": "repeat_guard", "within_seconds": 600, "max_repeats": 0},
                        {"type": "cap", "currency": "gold", "amount": 60, "window": "week"}],
         "effects": [{"type": "credit", "currency": "gold", "amount": 2,
                      "multipliers": [{"times": 2, "role": str(helper)}, {"times": 1.5, "channel": channels[1]},
                                      {"times": 3, "when": {"field": "length", "op": ">=", "value": 120}},
                                      {"times": 2, "region": "core"}]}]},
        {"name": "Help desk", "trigger": {"event": "message_create"},
         "conditions": [{"type": "tags", "any_of": ["help"]},
                        {"type": "any", "conditions": [{"type": "roles", "any_of": [str(veteran)]},
                                                       {"type": "age", "of": "membership", "min_days": 30}]},
                        {"type": "not", "condition": {"type": "all", "conditions": [
                            {"type": "payload", "field": "length", "op": "<", "value": 10},
                            {"type": "cooldown", "seconds": 900}]}},
                        {"type": "cap", "currency": "stars", "amount": 30, "window": "season"}],
         "effects": [{"type": "credit", "currency": "stars", "amount": {"random": [1, 3]},
                      "multipliers": [{"times": 2, "tag": "help"}]}]},
        {"name": "Voice gold", "trigger": {"event": "voice_tick"},
         "conditions": [{"type": "cap", "currency": "gold", "amount": 20, "window": "hour"}],
         "effects": [{"type": "credit", "currency": "gold", "amount": {"per_minute": 1}}]},
        {"name": "Unreact fine", "trigger": {"event": "reaction_remove"},
         "effects": [{"type": "debit", "currency": "gold", "amount": 1}]},
        {"name": "Thread role", "trigger": {"event": "thread_create"},
         "effects": [{"type": "role", "action": "add", "role_id": "777"},
                     {"type": "check_milestones"}]},
        {"name": "Level ladder", "trigger": {"event": "level_up"},
         "conditions": [{"type": "payload", "field": "currency", "op": "==", "value": "xp"}],
         "effects": [{"type": "level_roles", "currency": "xp", "roles": {"2": "891", "4": "892"}, "mode": "replace"}]},
        {"name": "Milestones on reactions", "module": "milestones", "trigger": {"event": "reaction_add"},
         "effects": [{"type": "check_milestones", "to": "message_author"}]},
    ]


MILESTONES: list[dict[str, Any]] = [
    {"key": "gold-30", "name": "Goldsmith", "criteria": {"type": "balance", "currency": "gold", "at_least": 30},
     "rewards": [{"type": "role", "role_id": "991"}]},
    {"key": "busy-day", "name": "Busy day",
     "criteria": {"type": "event_count", "event": "message_create", "at_least": 15, "within_days": 1},
     "rewards": [{"type": "currency", "currency": "stars", "amount": 5}]},
    {"key": "voice-hour", "name": "Voice hour", "announce": False,
     "criteria": {"type": "event_sum", "event": "voice_tick", "field": "minutes", "at_least": 30, "within_days": 1},
     "rewards": [{"type": "currency", "currency": "xp", "amount": 200}]},
    {"key": "streak-2", "name": "Two days running", "hidden": True, "criteria": {"type": "streak", "days": 2}},
    {"key": "all-rounder", "name": "All-rounder",
     "criteria": {"type": "all", "criteria": [
         {"type": "level", "at_least": 2},
         {"type": "any", "criteria": [{"type": "event_count", "event": "reaction_add", "at_least": 5},
                                      {"type": "event_count", "event": "thread_create", "at_least": 1}]}]},
     "rewards": [{"type": "currency", "currency": "gold", "amount": 10}]},
]


@pytest.fixture(scope="module")
def days() -> list[Event]:
    return simulate(GUILD, members=10, hours=54, seed=11)


def _setup(engine: sa.Engine, guild: int, members: list[int], channels: Sequence[str] = SIMULATED,
           roles: tuple[int, int] = (HELPER, VETERAN)) -> None:
    """The guild, its regions, tags, rules and milestones; ``members`` in the member cache with roles
    and membership ages of their own (the rule engine's simulator gives its actors no roles)."""
    with engine.begin() as conn:
        init_guild(conn, guild, actor=SYSTEM)
        core = {"key": "core", "name": "Core", "channel_ids": list(channels[:2])}
        channel_groups.create(conn, "regions", guild, core, actor=SYSTEM)
        help_desk = {"key": "help", "name": "Help", "channel_ids": [channels[2]]}
        channel_groups.create(conn, "taxonomy", guild, help_desk, actor=SYSTEM)
        helper, veteran = roles
        for spec in rules(channels, helper, veteran):
            rules_store.save_rule(conn, guild, spec)
        for spec in MILESTONES:
            rules_store.save_milestone(conn, guild, spec)
        for i, uid in enumerate(members):
            # The display name the simulator's actors carry; roles and membership ages differ by member.
            held = [helper] * (i % 3 == 0) + [veteran] * (i % 4 == 1)
            conn.execute(sa.text("""
                INSERT INTO member_cache (guild_id, user_id, display_name, roles, joined_at)
                VALUES (:g, :u, :n, :r, :j)"""),
                {"g": guild, "u": uid, "n": f"m{uid}", "r": held, "j": START - timedelta(days=10 * i)})


def test_every_condition_effect_and_criterion_runs_live_as_a_backtest_computes(engine: sa.Engine,
                                                                               days: list[Event]) -> None:
    """Live vs backtest with the whole vocabulary: identical wallets, postings, derived events and outbox rows."""
    members = sorted({e.user_id for e in days if e.user_id is not None})
    _setup(engine, GUILD, members)
    run_live(engine, days)
    live = written(engine, GUILD)
    names = {t[4] for t in live["transactions"]}
    assert {"Core gold", "Help desk", "Voice gold", "Unreact fine", "milestone Busy day"} <= names, names
    assert {"gold-30", "busy-day", "voice-hour", "streak-2", "all-rounder"} <= {m[1] for m in live["milestones"]}
    reasons = {o[2] for o in live["outbox"]}
    assert {"Thread role", "milestone Goldsmith"} <= reasons, reasons
    assert any(r and r.startswith("Level ladder") for r in reasons), reasons
    assert_backtest_matches(engine, GUILD, live)


def test_the_ingest_pipeline_with_voice_sessions_writes_what_a_backtest_computes(engine: sa.Engine) -> None:
    """Envelopes through ``ingest.handle`` (member cache, voice sessions and their ticks): as a backtest computes."""
    guild, end = 1_100_000_000_000_000_001, datetime(2026, 3, 9, tzinfo=UTC)
    events = community.simulate(community.SimulationConfig(seed=2, guild_id=guild, members=25, days=2.0, end=end))
    by_traffic = Counter(e["channel_id"] for e in events if e["event_type"] == "message_create")
    # The community's actors carry their roles (as the gateway sends them): the member cache follows them.
    role = Counter(r for e in events for r in (e.get("actor") or {}).get("roles", ())).most_common(1)[0][0]
    _setup(engine, guild, [], [c for c, _ in by_traffic.most_common(4)], (int(role), int(role)))
    clock = FixedClock(end + timedelta(hours=1))
    for text in community.envelopes(events, max_events=50):
        ingest.handle(text, engine, clock=clock)
    live = written(engine, guild)
    assert {"Voice gold", "Core gold", "Help desk"} <= {t[4] for t in live["transactions"]}
    assert {"voice_tick", "voice_session_end"} <= {d[0] for d in live["derived"]}
    assert_backtest_matches(engine, guild, live)


@pytest.mark.parametrize("hours", [13, 30, 49])
def test_a_backtest_from_inside_the_history_continues_as_live_did(engine: sa.Engine, hours: int) -> None:
    """A backtest starting mid-history (windowed counts and sums, fingerprints, once keys, clawbacks, caps and
    cooldowns carried over): exactly the postings, wallets and derived events live wrote from there on."""
    events = simulate(GUILD, members=10, hours=72, seed=11)
    _setup(engine, GUILD, sorted({e.user_id for e in events if e.user_id is not None}))
    run_live(engine, events)
    live = written(engine, GUILD)
    start = START + timedelta(hours=hours)
    assert any(d[0] == "milestone_earned" and d[2] >= start for d in live["derived"]), "milestones after the start"
    assert_backtest_matches(engine, GUILD, live, start=start)
    # The dashboard's backtest (the service, its start state read for the rule sets it runs) reports the same.
    report = run_backtest_readonly(engine, GUILD, None, start=start).draft
    deltas: Counter[tuple[int, str]] = Counter()
    for user_id, currency, amount, *_ in (t for t in live["transactions"] if t[5] >= start):
        deltas[(user_id, currency)] += amount
    assert {k: v for k, v in report.deltas.items() if v} == {k: v for k, v in deltas.items() if v}
    assert sorted(report.milestones) == sorted((u, k) for u, k, at in live["milestones"] if at >= start)


def test_a_backtest_gives_each_event_the_roles_its_member_held_then(engine: sa.Engine) -> None:
    """Members get a role mid-history: live and a backtest both give each event the roles of its time."""
    guild, end = 1_100_000_000_000_000_007, datetime(2026, 3, 9, tzinfo=UTC)
    events = community.simulate(community.SimulationConfig(seed=4, guild_id=guild, members=25, days=2.0, end=end))
    middle = end - timedelta(days=1)
    talkers = Counter(e["user_id"] for e in events if e["event_type"] in ("message_create", "voice_join"))
    promoted = {uid for uid, _ in talkers.most_common(8)}
    for e in events:   # from the middle on, the promoted members' events report the veteran role
        actor = e.get("actor")
        if actor is not None and e["user_id"] in promoted and datetime.fromisoformat(e["occurred_at"]) >= middle:
            e["actor"] = {**actor, "roles": [*actor["roles"], str(VETERAN)]}
    with engine.begin() as conn:
        init_guild(conn, guild, actor=SYSTEM)
        for spec in (
            {"name": "Veteran xp", "trigger": {"event": "message_create"},
             "effects": [{"type": "credit", "currency": "xp", "amount": 10,
                          "multipliers": [{"times": 3, "role": str(VETERAN)}]}]},
            {"name": "Veteran voice", "trigger": {"event": "voice_tick"},
             "conditions": [{"type": "roles", "any_of": [str(VETERAN)]}],
             "effects": [{"type": "credit", "currency": "gold", "amount": {"per_minute": 1}}]},
            {"name": "Newcomer stars", "trigger": {"event": "reaction_add"},
             "conditions": [{"type": "roles", "none_of": [str(VETERAN)]}],
             "effects": [{"type": "credit", "currency": "stars", "amount": 1}]}):
            rules_store.save_rule(conn, guild, spec)
    clock = FixedClock(end + timedelta(hours=1))
    for text in community.envelopes(events, max_events=50):
        ingest.handle(text, engine, clock=clock)
    live = written(engine, guild)
    with engine.connect() as conn:
        history = conn.execute(sa.text("""
            SELECT user_id, since, roles FROM member_role_history WHERE guild_id = :g AND :v = ANY(roles)
             ORDER BY user_id, since"""), {"g": guild, "v": VETERAN}).all()
    assert {int(h.user_id) for h in history} == {int(u) for u in promoted}
    assert all(h.since >= middle for h in history), "the veteran role counts from the event that reported it"
    promoted_ids = {int(u) for u in promoted}
    xp = {(t[0], t[2]) for t in live["transactions"] if t[4] == "Veteran xp" and t[0] in promoted_ids}
    assert {a for _, a in xp} == {10, 30}, "promoted members earned plain xp before the middle, tripled after"
    voice = [t for t in live["transactions"] if t[4] == "Veteran voice"]
    assert voice and all(t[0] in promoted_ids and t[5] >= middle for t in voice)
    assert_backtest_matches(engine, guild, live)
    with pytest.raises(AssertionError):   # the roles members hold now, for every event: what backtests did before
        assert_backtest_matches(engine, guild, live, role_history=False)
