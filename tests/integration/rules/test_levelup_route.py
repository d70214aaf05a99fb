"""Level-up embeds go where the guild's ``levelup_mode`` says, on the real database (outbox rows as sent)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from synapse.admin import settings
from synapse.admin.audit import SYSTEM
from synapse.db import lake_store, rules_store
from synapse.rules.cache import RuleCache
from synapse.rules.decisions import LevelUpRoute
from synapse.rules.simulate import message
from synapse.services.backtest import run_backtest_readonly
from synapse.services.guild_init import init_guild
from synapse.services.rules_runner import process

T0 = datetime(2025, 1, 15, 12, tzinfo=UTC)
GUILD = 4343
SENDER_TARGETS = {"channel", "announcements", "dm", "fixed"}


@pytest.fixture
def guild(engine: sa.Engine) -> int:
    with engine.begin() as conn:
        init_guild(conn, GUILD, actor=SYSTEM)
    return GUILD


def _set(engine: sa.Engine, **changes: Any) -> None:
    with engine.begin() as conn:
        settings.update(conn, GUILD, changes, actor=SYSTEM)


def _messages(user: int, first: int, count: int, *, channel: int = 555) -> list[Any]:
    return [message(GUILD, user, first + i, T0 + timedelta(minutes=2 * (first + i)), channel_id=channel)
            for i in range(count)]


def _ingest(engine: sa.Engine, events: list[Any], cache: RuleCache[Any]) -> list[int]:
    with engine.begin() as conn:
        return process(conn, lake_store.append(conn, events), rules=cache).outbox_ids


def _level_up_rows(engine: sa.Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [r.payload for r in conn.execute(sa.text(
            "SELECT payload FROM outbox WHERE guild_id = :g AND kind = 'announce' "
            "AND payload->>'reason' = 'level_up' ORDER BY id"), {"g": GUILD})]


@pytest.mark.parametrize(("changes", "expected"), [
    ({}, [("channel", "555")]),                                                      # the default: channel
    ({"levelup_mode": "fixed", "levelup_channel_id": "777"}, [("fixed", "777")]),
    ({"levelup_mode": "dm"}, [("dm", None)]),
    ({"levelup_mode": "off"}, []),
])
def test_level_up_row_follows_levelup_mode(engine: sa.Engine, guild: int, changes: dict[str, Any],
                                           expected: list[tuple[str, str | None]]) -> None:
    """Eight messages in channel 555 cross level 1; the row's target is resolved from the setting (none when off)."""
    if changes:
        _set(engine, **changes)
    _ingest(engine, _messages(9, 0, 8), RuleCache())
    rows = _level_up_rows(engine)
    assert [(p["target"], p["channel_id"]) for p in rows] == expected
    assert all(p["target"] in SENDER_TARGETS and p["user_id"] == "9" for p in rows)
    with engine.connect() as conn:  # the level-up itself happened whatever the setting
        assert conn.execute(sa.text("SELECT count(*) FROM event_lake WHERE guild_id = :g "
                                    "AND event_type = 'level_up'"), {"g": GUILD}).scalar_one() == 1


def test_changing_the_setting_refreshes_a_warm_cache(engine: sa.Engine, guild: int) -> None:
    """A worker's cached rules pick up a new levelup_mode at once (no rules version bump needed)."""
    cache: RuleCache[Any] = RuleCache()
    _ingest(engine, _messages(9, 0, 8), cache)                      # level 1, default mode
    _set(engine, levelup_mode="fixed", levelup_channel_id="777")
    _ingest(engine, _messages(10, 100, 8), cache)                    # another member, level 1
    _set(engine, levelup_mode="off")
    _ingest(engine, _messages(11, 200, 8), cache)                    # a third: no row
    rows = _level_up_rows(engine)
    assert [(p["user_id"], p["target"], p["channel_id"]) for p in rows] == [("9", "channel", "555"),
                                                                            ("10", "fixed", "777")]


def test_settings_are_read_as_stored(engine: sa.Engine, guild: int) -> None:
    """``rules_store.levelup_route`` reads what ``synapse.admin.settings`` wrote."""
    with engine.connect() as conn:
        assert rules_store.levelup_route(conn, GUILD) == LevelUpRoute("channel", None)
    _set(engine, levelup_mode="fixed", levelup_channel_id="777")
    with engine.connect() as conn:
        assert rules_store.levelup_route(conn, GUILD) == LevelUpRoute("fixed", 777)


def test_backtest_counts_no_level_up_announcements_when_off(engine: sa.Engine, guild: int) -> None:
    """A backtest reports the announcements live processing would post under the guild's setting."""
    _ingest(engine, _messages(9, 0, 8), RuleCache())
    on = run_backtest_readonly(engine, GUILD, None).draft
    _set(engine, levelup_mode="off")
    off = run_backtest_readonly(engine, GUILD, None).draft
    assert len(on.level_ups) == len(off.level_ups) == 1
    assert on.announcements - off.announcements == 1


def _level_up_rule(engine: sa.Engine) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT rule_id, version, definition FROM rules WHERE guild_id = :g "
                                    "AND name = 'Level-up message'"), {"g": GUILD}).one()


def test_guild_init_upgrades_an_unedited_old_level_up_rule_only(engine: sa.Engine, guild: int) -> None:
    """A guild installed with the old channel-target rule gets the setting-following one on the next init;
    an operator's edited rule is left alone."""
    from synapse.rules.defaults import SUPERSEDED_RULES

    old = SUPERSEDED_RULES["Level-up message"][0]   # the first release's
    rule_id = _level_up_rule(engine).rule_id
    with engine.begin() as conn:   # as an earlier release installed it
        rules_store.save_rule(conn, GUILD, old, rule_id=rule_id)
    assert _level_up_rule(engine).definition["effects"][0]["target"] == "channel"
    with engine.begin() as conn:
        report = init_guild(conn, GUILD, actor=SYSTEM)
    assert report.installed.get("upgraded_rules") == 1
    row = _level_up_rule(engine)
    assert row.definition["effects"][0]["target"] == "levelup" and row.version == 3
    # Edited by the operator (another title): never touched again.
    edited = {**old, "effects": [{**old["effects"][0], "title": "Bravo!"}]}
    with engine.begin() as conn:
        rules_store.save_rule(conn, GUILD, edited, rule_id=rule_id)
        assert init_guild(conn, GUILD, actor=SYSTEM).installed.get("upgraded_rules") is None
    assert _level_up_rule(engine).definition["effects"][0]["title"] == "Bravo!"
