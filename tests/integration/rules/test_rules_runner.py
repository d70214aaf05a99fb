"""The processing service against the real database: the default pack credits, caps, once-only grants, replays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from synapse.admin.audit import SYSTEM
from synapse.db import lake_store, ledger_store, rules_store
from synapse.errors import ValidationFailed
from synapse.eventlake.events import Event
from synapse.rules.cache import RuleCache
from synapse.rules.simulate import message, reaction
from synapse.services.guild_init import init_guild
from synapse.services.rules_runner import process

T0 = datetime(2025, 1, 15, 12, tzinfo=UTC)
GUILD = 4242


@pytest.fixture
def guild(engine: sa.Engine) -> int:
    with engine.begin() as conn:
        init_guild(conn, GUILD, actor=SYSTEM)
    return GUILD


def _ingest(engine: sa.Engine, events: list[Event], cache: RuleCache[object]) -> tuple[list[Event], object]:
    with engine.begin() as conn:
        fresh = lake_store.append(conn, events)
        result = process(conn, fresh, rules=cache)
    return fresh, result


def _scalar(engine: sa.Engine, sql: str, **params: object) -> object:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), {"g": GUILD, **params}).scalar_one()


def test_guild_init_installs_the_default_pack_once(engine: sa.Engine, guild: int) -> None:
    """Running init again adds no rule and no milestone; every default rule is versioned."""
    with engine.begin() as conn:
        again = init_guild(conn, GUILD, actor=SYSTEM)
        assert again.installed.get("rules") == 0 and again.installed.get("milestones") == 0
    assert _scalar(engine, "SELECT count(*) FROM rules WHERE guild_id = :g") == 14
    assert _scalar(engine, "SELECT count(*) FROM rule_versions WHERE guild_id = :g") == 14
    assert _scalar(engine, "SELECT count(*) FROM milestones WHERE guild_id = :g") == 6


def test_message_xp_with_cooldown_first_message_milestone_and_replay(engine: sa.Engine, guild: int) -> None:
    """15–25 XP for a message, none inside the 60 s cooldown, a first-message milestone once, nothing on replay."""
    cache: RuleCache[object] = RuleCache()
    events = [message(GUILD, 7, 1, T0), message(GUILD, 7, 2, T0 + timedelta(seconds=30)),
              message(GUILD, 7, 3, T0 + timedelta(seconds=61))]
    fresh, result = _ingest(engine, events, cache)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("""
            SELECT t.amount, t.rule_id, t.rule_version, t.event_id, t.event_type, r.name FROM transactions t
              JOIN rules r USING (guild_id, rule_id) WHERE t.guild_id = :g AND t.currency_key = 'xp'
             ORDER BY t.id"""), {"g": GUILD}).all()
        assert [r.event_id for r in rows] == [fresh[0].id, fresh[2].id]
        assert all(15 <= r.amount <= 25 and r.name == "Message XP" and r.rule_version == 1
                   and r.event_type == "message_create" for r in rows)
        assert ledger_store.balances(conn, GUILD, 7)["xp"] == sum(r.amount for r in rows)
        assert rules_store.earned_milestones(conn, GUILD, 7)[0][0] == "first-message"
        assert ledger_store.verify(conn) == []
    outbox = _scalar(engine, "SELECT count(*) FROM outbox WHERE guild_id = :g AND kind = 'announce'")
    assert outbox == 1 and len(result.outbox_ids) == 1  # type: ignore[attr-defined]
    assert _scalar(engine, "SELECT count(*) FROM event_lake WHERE guild_id = :g AND event_type = "
                           "'milestone_earned'") == 1
    # The same message again: the lake returns nothing new, so nothing is credited.
    fresh2, result2 = _ingest(engine, events, cache)
    assert fresh2 == [] and result2.postings == 0  # type: ignore[attr-defined]
    # Processing the same lake events twice (a retry after a crash in between) credits nothing twice.
    with engine.begin() as conn:
        again = process(conn, fresh, rules=cache)
    assert again.postings == 0 and again.outbox_ids == []
    assert _scalar(engine, "SELECT count(*) FROM transactions WHERE guild_id = :g AND currency_key = 'xp'") == 2


def test_level_up_announces_in_channel_with_mee6_text(engine: sa.Engine, guild: int) -> None:
    """Crossing 100 XP emits a level_up event and a level-up embed in the message's channel."""
    cache: RuleCache[object] = RuleCache()
    events = [message(GUILD, 9, i, T0 + timedelta(minutes=2 * i), channel_id=555) for i in range(8)]
    _ingest(engine, events, cache)
    with engine.connect() as conn:
        payloads = [r.payload for r in conn.execute(sa.text(
            "SELECT payload FROM outbox WHERE guild_id = :g AND payload->>'reason' = 'level_up'"), {"g": GUILD})]
        xp = ledger_store.balances(conn, GUILD, 9)["xp"]
    assert 8 * 15 <= xp <= 8 * 25
    assert len(payloads) == 1
    assert payloads[0]["channel_id"] == "555"
    assert payloads[0]["embed"]["description"] == "GG <@9>, you just advanced to level 1!"


def test_reaction_stars_guards_and_clawback(engine: sa.Engine, guild: int) -> None:
    """Stars go to the author: not for self-reactions, once per reactor per message, taken back on removal."""
    cache: RuleCache[object] = RuleCache()
    author = 20
    events = [reaction(GUILD, 21, 1, author, T0), reaction(GUILD, 21, 1, author, T0, emoji="🔥"),
              reaction(GUILD, author, 1, author, T0), reaction(GUILD, 22, 1, author, T0)]
    _ingest(engine, events, cache)
    with engine.connect() as conn:
        assert ledger_store.balances(conn, GUILD, author)["stars"] == 2
    _ingest(engine, [reaction(GUILD, 22, 1, author, T0 + timedelta(minutes=1), removed=True)], cache)
    with engine.connect() as conn:
        assert ledger_store.balances(conn, GUILD, author)["stars"] == 1
        kinds = [r.kind for r in conn.execute(sa.text(
            "SELECT kind FROM transactions WHERE guild_id = :g AND currency_key = 'stars' ORDER BY id"), {"g": GUILD})]
        assert kinds == ["rule", "rule", "clawback"]
        assert ledger_store.verify(conn) == []


def test_daily_star_cap_is_never_exceeded(engine: sa.Engine, guild: int) -> None:
    """30 reactors in a day: the author gets exactly the daily cap of 25 stars."""
    cache: RuleCache[object] = RuleCache()
    events = [reaction(GUILD, 100 + i, 1, 20, T0 + timedelta(seconds=i)) for i in range(30)]
    _ingest(engine, events, cache)
    with engine.connect() as conn:
        assert ledger_store.balances(conn, GUILD, 20)["stars"] == 25


def test_disabled_module_skips_its_rules_and_cache_refreshes(engine: sa.Engine, guild: int) -> None:
    """Economy off: no XP. A rule saved later (version bump) is picked up by the same cache."""
    cache: RuleCache[object] = RuleCache()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE modules SET enabled = false WHERE guild_id = :g AND key = 'economy'"),
                     {"g": GUILD})
    _ingest(engine, [message(GUILD, 7, 1, T0)], cache)
    assert _scalar(engine, "SELECT count(*) FROM transactions WHERE guild_id = :g") == 0
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE modules SET enabled = true WHERE guild_id = :g AND key = 'economy'"),
                     {"g": GUILD})
        rule = rules_store.save_rule(conn, GUILD, {
            "name": "Gold per message", "trigger": {"event": "message_create"},
            "effects": [{"type": "credit", "currency": "gold", "amount": 3}]})
    _ingest(engine, [message(GUILD, 7, 2, T0 + timedelta(minutes=5))], cache)
    with engine.connect() as conn:
        assert ledger_store.balances(conn, GUILD, 7)["gold"] == 3
        version = conn.execute(sa.text("SELECT rule_version FROM transactions WHERE guild_id = :g AND rule_id = :r"),
                               {"g": GUILD, "r": rule.rule_id}).scalar_one()
    assert version == 1
    assert cache.loads == 2


def test_save_rule_reports_every_error_and_bumps_versions(engine: sa.Engine, guild: int) -> None:
    """Unknown currency and payload field are both reported; an edit keeps the old version."""
    with engine.begin() as conn:
        with pytest.raises(ValidationFailed) as info:
            rules_store.save_rule(conn, GUILD, {
                "name": "Bad", "trigger": {"event": "message_create"},
                "conditions": [{"type": "payload", "field": "colour", "op": "==", "value": 1}],
                "effects": [{"type": "credit", "currency": "diamonds", "amount": 1}]})
        assert {e.path for e in info.value.errors} == {"conditions[0].field", "effects[0].currency"}
        before = rules_store.rules_version(conn, GUILD)
        rule = rules_store.save_rule(conn, GUILD, {"name": "Gold", "trigger": {"event": "message_create"},
                                                   "effects": [{"type": "credit", "currency": "gold", "amount": 1}]})
        edited = rules_store.save_rule(conn, GUILD, {"name": "Gold", "trigger": {"event": "message_create"},
                                                     "effects": [{"type": "credit", "currency": "gold", "amount": 2}]},
                                       rule_id=rule.rule_id)
        assert edited.version == 2
        assert rules_store.get_rule(conn, GUILD, rule.rule_id, version=1).spec.effects[0].amount == 1  # type: ignore[union-attr]
        assert rules_store.rules_version(conn, GUILD) == before + 2


def test_events_without_ids_are_refused(engine: sa.Engine, guild: int) -> None:
    """Only events the lake returned (with ids) may be processed."""
    with engine.begin() as conn, pytest.raises(ValidationFailed):
        process(conn, [message(GUILD, 7, 1, T0)], rules=RuleCache())


def test_db_facts_answer_like_memory(engine: sa.Engine, guild: int) -> None:
    """Counts, streak days, fingerprints and voice sums read from the lake (the loader, seeding the state)."""
    from synapse.db import snapshot as loader
    from synapse.processing.loop import Context
    from synapse.processing.plan import FactQuery, Lifetime, Recent
    from synapse.processing.snapshot import state_for
    from synapse.rules.compile import compile_rules
    from synapse.rules.simulate import voice_tick

    events = [message(GUILD, 7, i, T0 - timedelta(days=i), fingerprint="same") for i in range(3)]
    events += [voice_tick(GUILD, 7, T0 + timedelta(minutes=i)) for i in range(5)]
    nobody = (10**9,)   # a milestone id no member holds: the lifetime facts are read for everyone
    query = FactQuery(GUILD, (7,), lifetimes=(Lifetime("message_create", None, 0, nobody),
                                              Lifetime("voice_tick", "minutes", 1, nobody)),
                      recent=(Recent("message_create", None, 0, T0 - timedelta(days=5)),),
                      days_since=(T0 - timedelta(days=5)).date(), fingerprints=("same",),
                      fingerprint_span=(T0 - timedelta(days=5), T0))
    with engine.begin() as conn:
        lake_store.append(conn, events)
        facts = state_for(Context(compile_rules(()), {}), loader.load(conn, query), record=False)
        assert facts.event_count(7, "message_create", None) == 3
        assert facts.event_count(7, "message_create", T0 - timedelta(days=1)) == 2
        assert facts.event_sum(7, "voice_tick", "minutes", None) == 5
        assert len(facts.active_days(7, (T0 - timedelta(days=2)).date(), T0.date())) == 3
        assert facts.fingerprint_repeats(7, "same", T0 - timedelta(days=5), T0, "message_create:0") == 2
        assert facts.member(7, T0) is None and facts.channel(501).regions == frozenset()


def test_cap_windows_read_the_member_index_not_the_guild_window(engine: sa.Engine, guild: int) -> None:
    """A member's cap usage is a probe of that member's rows: with the guild's whole day of credits in
    ``ix_transactions_period`` (guild, currency, time), reading the day for each member in a message cost
    a scan of every member's credits each (44 ms a message at 10,000 events). The loader's plan must not
    use that index, whatever the statistics say; and it still sums only the member's own credits."""
    from synapse.db import snapshot as loader
    from synapse.ledger.model import Kind, Posting
    from synapse.processing.plan import CapWindow, FactQuery

    day = T0.replace(hour=0)
    postings = [Posting(GUILD, 100 + i % 50, "stars", 1, Kind.rule, f"cap-plan:{i}", T0 + timedelta(seconds=i),
                        rule_id=None) for i in range(400)]
    with engine.begin() as conn:
        ledger_store.post(conn, postings)
    query = FactQuery(GUILD, (100, 101), cap_windows=(CapWindow("stars", day, day + timedelta(days=1)),))
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")   # a small table: ask what the plan can use
        plan = "\n".join(r[0] for r in conn.execute(sa.text("EXPLAIN " + str(loader._LOAD)),
                                                    loader._params(query)))
        used = loader.load(conn, query).cap_used
    assert "ix_transactions_period" not in plan and "ix_transactions_member_currency_time" in plan
    assert used == {(100, "stars", day, day + timedelta(days=1)): 8, (101, "stars", day, day + timedelta(days=1)): 8}


def test_lifetime_counts_and_voice_sums_come_from_the_member_totals(engine: sa.Engine, guild: int) -> None:
    """A lifetime count and a voice sum are read from ``member_event_totals`` (a key probe, whatever the
    member's history), with a tick's default of one minute; a sum over a type the totals do not sum reads
    the member's lake rows. Shown by changing the totals behind the lake's back: the first two follow them."""
    from synapse.db import snapshot as loader
    from synapse.processing.plan import FactQuery, Lifetime

    ticks = [Event("synapse", f"voice_tick:{i}", "voice_tick", GUILD, 7, 9, T0 + timedelta(minutes=i),
                   {"minutes": 5} if i == 0 else {}) for i in range(2)]
    events = [message(GUILD, 7, i, T0 + timedelta(seconds=i)) for i in range(3)] + ticks
    with engine.begin() as conn:
        lake_store.append(conn, events)
    nobody = (10**9,)   # a milestone nobody holds: every member is asked about
    query = FactQuery(GUILD, (7, 8), lifetimes=(
        Lifetime("message_create", None, 0, nobody), Lifetime("voice_tick", "minutes", 1, nobody),
        Lifetime("message_create", "length", 0, nobody)))
    lengths = sum(int(e.payload["length"]) for e in events if e.event_type == "message_create")
    with engine.begin() as conn:
        first = loader.load(conn, query)
        conn.execute(sa.text("UPDATE member_event_totals SET events = events + 1000 "
                             "WHERE guild_id = :g AND user_id = 7 AND event_type = 'message_create'"), {"g": GUILD})
        conn.execute(sa.text("UPDATE member_event_totals SET total = total + 100 "
                             "WHERE guild_id = :g AND user_id = 7 AND field = 'minutes'"), {"g": GUILD})
        second = loader.load(conn, query)
    assert first.counts == {(7, "message_create"): 3, (8, "message_create"): 0}
    assert first.sums == {(7, "voice_tick", "minutes"): 6, (8, "voice_tick", "minutes"): 0,
                          (7, "message_create", "length"): lengths, (8, "message_create", "length"): 0}
    assert second.counts[(7, "message_create")] == 1003
    assert second.sums[(7, "voice_tick", "minutes")] == 106
    assert second.sums[(7, "message_create", "length")] == lengths   # read from the lake's rows


def test_a_streak_is_not_met_by_a_later_event_of_the_same_message(engine: sa.Engine, guild: int) -> None:
    """A streak checked early in a message counts the days of the events before it, not of a later
    event of that message (already in the lake when the facts are read): granted at the later event."""
    with engine.begin() as conn:
        rules_store.save_milestone(conn, GUILD, {"key": "two-days", "name": "Two days",
                                                 "criteria": {"type": "streak", "days": 2}})
        rules_store.save_rule(conn, GUILD, {"name": "Check authors", "module": "milestones",
                                            "trigger": {"event": "reaction_add"},
                                            "effects": [{"type": "check_milestones", "to": "message_author"}]})
    cache: RuleCache[object] = RuleCache()
    day2 = T0 + timedelta(days=1)
    _ingest(engine, [message(GUILD, 7, 1, T0)], cache)
    # One message: first a reaction to 7's message of yesterday (a check of 7), then 7's first event today.
    _ingest(engine, [reaction(GUILD, 8, 1, 7, day2), message(GUILD, 7, 2, day2 + timedelta(minutes=9))], cache)
    earned = _scalar(engine, """
        SELECT um.earned_at FROM user_milestones um JOIN milestones m USING (guild_id, milestone_id)
         WHERE um.guild_id = :g AND um.user_id = 7 AND m.key = 'two-days'""")
    assert earned == day2 + timedelta(minutes=9)


def test_the_milestone_event_probe_cannot_take_the_natural_key(engine: sa.Engine, guild: int) -> None:
    """A member's ``milestone_earned`` probe: in a bench guild with a long history of Discord events
    (analysed while it held no Synapse events) the planner sent it through the natural key's
    (guild, source_system) prefix, reading every Synapse event of the guild per member (64 ms for one
    message, against 1 ms). The probe's condition does not match that prefix: even without the member's
    index to prefer, the natural key serves key lookups only."""
    from synapse.db import snapshot as loader
    from synapse.processing.plan import FactQuery

    query = FactQuery(GUILD, tuple(range(60)), milestone_events=True)
    with engine.connect() as conn:   # never committed: the index comes back when the transaction rolls back
        conn.exec_driver_sql("DROP INDEX ix_event_lake_member_type_time")
        lines = [r[0] for r in conn.execute(sa.text("EXPLAIN " + str(loader._LOAD)), loader._params(query))]
    probes = [lines[i + 1] for i, line in enumerate(lines) if "uq_event_lake_natural_key" in line]
    assert probes and all("source_event_id" in cond for cond in probes), probes


def test_a_guild_the_statistics_do_not_know_still_reads_member_by_member(engine: sa.Engine, guild: int) -> None:
    """A new guild in a database whose statistics list only the other guilds: with its own id the
    planner took it for empty and read each member's facts through guild-wide indexes (every lake
    row or ledger row of the guild, per member: 1.3 s for one message in a bench run, against 5 ms).
    The loader plans for an average guild instead; the member indexes serve every probe."""
    from synapse.db import snapshot as loader
    from synapse.processing.plan import CapWindow, FactQuery, Lifetime

    other = GUILD + 1
    with engine.begin() as conn:
        init_guild(conn, other, actor=SYSTEM)
        conn.execute(sa.text("""
            INSERT INTO event_lake (guild_id, source_system, source_event_id, event_type, user_id, occurred_at, payload)
            SELECT :o, 'discord', 'bulk:' || i, CASE WHEN i % 2 = 0 THEN 'message_create' ELSE 'reaction_add' END,
                   i % 2500, now() - i * interval '1 minute', '{}'   -- (5,000 member totals too)
              FROM generate_series(1, 5000) AS i"""), {"o": other})
        conn.execute(sa.text("""
            INSERT INTO transactions (guild_id, user_id, currency_key, amount, kind, idempotency_key, occurred_at)
            SELECT :o, i % 50, 'xp', 1, 'rule', 'bulk:' || i, now() - i * interval '1 minute'
              FROM generate_series(1, 3000) AS i"""), {"o": other})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    nobody = (10**9,)
    query = FactQuery(GUILD, (7, 8), lifetimes=(Lifetime("message_create", None, 0, nobody),),
                      cap_windows=(CapWindow("xp", T0, T0 + timedelta(days=1)),), keys=("k:1",),
                      fire_rules=(1,), fire_span=(T0 - timedelta(days=1), T0))
    with engine.begin() as conn:
        plan = "\n".join(r[0] for r in conn.execute(sa.text("EXPLAIN " + str(loader._LOAD)),
                                                    loader._params(query)))
    for guild_wide in ("ix_event_lake_guild_time", "pk_transactions", "ix_wallets_leaderboard",
                       "Seq Scan on member_event_totals"):
        assert guild_wide not in plan, guild_wide
    for member in ("ix_event_lake_member_type_time", "ix_transactions_member_currency_time", "pk_wallets",
                   "uq_transactions_idempotency_key", "pk_member_event_totals"):
        assert member in plan, member


def test_reserved_ids_come_from_the_identity_sequences(engine: sa.Engine, guild: int) -> None:
    """The loader reserves ids from the sequences the lake's and the ledger's inserts draw from: ids
    reserved are never handed out again, and the next row inserted gets a later one."""
    from synapse.db import snapshot as loader
    from synapse.ledger.model import Kind, Posting
    from synapse.processing.plan import FactQuery

    with engine.begin() as conn:
        snap = loader.load(conn, FactQuery(GUILD, (7,), tx_ids=3, event_ids=2))
        stored = lake_store.append(conn, [message(GUILD, 7, 1, T0)])
        posted = ledger_store.post(conn, [Posting(GUILD, 7, "xp", 5, Kind.rule, "reserved-ids:1", T0)])
    assert len(set(snap.tx_ids)) == 3 and len(set(snap.event_ids)) == 2
    assert stored[0].id > max(snap.event_ids) and posted[0].transaction_id > max(snap.tx_ids)


def test_derived_events_not_yet_stored_are_credited_once_and_written_by_the_change_set(
        engine: sa.Engine, guild: int) -> None:
    """Voice's derived events reach the rules unstored: each takes a reserved lake id and the one writer
    appends it. A repeat within the batch, or one the lake holds already, is neither credited nor
    written again (as the lake's natural key would keep it)."""
    from synapse.db.changeset import write
    from synapse.rules.simulate import voice_tick
    from synapse.services.rules_runner import evaluate

    cache: RuleCache[object] = RuleCache()
    first, second = voice_tick(GUILD, 7, T0), voice_tick(GUILD, 7, T0 + timedelta(minutes=1))
    with engine.begin() as conn:
        lake_store.append(conn, [first])   # already stored, by an earlier message
        done = evaluate(conn, [], rules=cache, unstored=[first, second, second])
        [changes] = done.changes
        assert [e.source_event_id for e in changes.derived if e.event_type == "voice_tick"] == [second.source_event_id]
        assert all(e.id is not None for e in changes.derived)
        assert [(e.source_event_id, e.id) for e in done.stored] == [
            (e.source_event_id, e.id) for e in changes.derived if e.event_type == "voice_tick"]
        write(conn, changes)
    assert _scalar(engine, "SELECT count(*) FROM event_lake WHERE guild_id = :g AND event_type = 'voice_tick'") == 2
    assert _scalar(engine, "SELECT count(*) FROM transactions WHERE guild_id = :g AND event_type = 'voice_tick'") == 1


def test_derived_events_from_another_source_are_refused(engine: sa.Engine, guild: int) -> None:
    """Only Synapse's own derived events can ride in the ChangeSet: anything else names its index."""
    from dataclasses import replace as with_

    from synapse.rules.simulate import voice_tick
    from synapse.services.rules_runner import evaluate

    tick = voice_tick(GUILD, 7, T0)
    with engine.begin() as conn, pytest.raises(ValidationFailed) as caught:
        evaluate(conn, [], rules=RuleCache(), unstored=[tick, with_(tick, source_system="discord")])
    assert [e["path"] for e in caught.value.details()] == ["unstored[1].source_system"]
    assert "'discord'" in str(caught.value)
