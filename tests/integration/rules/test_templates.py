"""The settings ``levelup_template`` and ``milestone_template`` are what the default rules post (issue 16),
checked on the outbox rows the engine writes; a bad template is refused with its field's path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from synapse.admin import settings
from synapse.admin.audit import SYSTEM
from synapse.db import lake_store
from synapse.errors import ValidationFailed
from synapse.rules.cache import RuleCache
from synapse.rules.simulate import message
from synapse.services.guild_init import init_guild
from synapse.services.rules_runner import process

T0 = datetime(2025, 1, 15, 12, tzinfo=UTC)
GUILD = 4747


@pytest.fixture
def guild(engine: sa.Engine) -> int:
    with engine.begin() as conn:
        init_guild(conn, GUILD, actor=SYSTEM)
    return GUILD


def _set(engine: sa.Engine, **changes: Any) -> None:
    with engine.begin() as conn:
        settings.update(conn, GUILD, changes, actor=SYSTEM)


def _ingest(engine: sa.Engine, user: int, first: int, cache: RuleCache[Any]) -> None:
    events = [message(GUILD, user, first + i, T0 + timedelta(minutes=2 * (first + i))) for i in range(8)]
    with engine.begin() as conn:
        process(conn, lake_store.append(conn, events), rules=cache)


def _texts(engine: sa.Engine, reason: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(r.payload["user_id"], r.payload["embed"]["description"]) for r in conn.execute(sa.text(
            "SELECT payload FROM outbox WHERE guild_id = :g AND kind = 'announce' AND payload->>'reason' = :r "
            "ORDER BY id"), {"g": GUILD, "r": reason})]


def test_the_default_text_is_unchanged(engine: sa.Engine, guild: int) -> None:
    """A new guild posts what it always did: "GG @member, you just advanced to level 1!"."""
    _ingest(engine, 9, 0, RuleCache())
    assert _texts(engine, "level_up") == [("9", "GG <@9>, you just advanced to level 1!")]


def test_a_custom_level_up_template_is_posted_and_reaches_a_warm_cache(engine: sa.Engine, guild: int) -> None:
    """The level-up row's text follows the setting, at once for a worker with cached rules."""
    cache: RuleCache[Any] = RuleCache()
    _ingest(engine, 9, 0, cache)
    _set(engine, levelup_template="Bravo {member} ({name}): level {level} in {currency} (was {old_level})")
    _ingest(engine, 10, 100, cache)
    assert _texts(engine, "level_up") == [("9", "GG <@9>, you just advanced to level 1!"),
                                          ("10", "Bravo <@10> (m10): level 1 in xp (was 0)")]


def test_a_custom_milestone_template_is_posted(engine: sa.Engine, guild: int) -> None:
    """The default milestone rule posts the milestone_template with the milestone's name and emoji."""
    _set(engine, milestone_template="{member} unlocked {milestone_name} [{milestone}] {emoji}",
         announcements_channel_id="600")
    _ingest(engine, 11, 0, RuleCache())
    assert ("11", "<@11> unlocked First Words [first-message] 💬") in _texts(engine, "milestone")


@pytest.mark.parametrize(("field", "template", "why"), [
    ("levelup_template", "GG {member}, {milestone_name}!", "unknown placeholder {milestone_name}"),
    ("milestone_template", "{member} reached {level}", "unknown placeholder {level}"),
    ("levelup_template", "GG {member", "bad template"),
    ("levelup_template", "", "at least 1 character"),
])
def test_a_bad_template_is_refused_with_its_path(engine: sa.Engine, guild: int, field: str, template: str,
                                                 why: str) -> None:
    """An unknown placeholder or unbalanced brace is a 422 naming the setting; nothing is stored."""
    with pytest.raises(ValidationFailed) as info, engine.begin() as conn:
        settings.update(conn, GUILD, {field: template}, actor=SYSTEM)
    [detail] = info.value.details()
    assert detail["path"] == field and why in detail["message"]
    with engine.connect() as conn:
        assert getattr(settings.load(conn, GUILD), field) != template


def test_a_bad_template_stored_before_the_check_falls_back(engine: sa.Engine, guild: int) -> None:
    """A template stored unchecked by an earlier release ({nope}) neither breaks the settings page nor the
    level-up: the default text is used."""
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE settings SET value = to_jsonb('GG {nope}'::text) WHERE guild_id = :g "
                             "AND key = 'levelup_template'"), {"g": GUILD})
        assert settings.load(conn, GUILD).levelup_template == settings.GuildSettings().levelup_template
    _ingest(engine, 9, 0, RuleCache())
    assert _texts(engine, "level_up") == [("9", "GG <@9>, you just advanced to level 1!")]
