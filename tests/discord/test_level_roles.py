"""Level roles (issue 16) end to end: the table, saved through the service, turns level-ups (earned,
awarded, imported) and "sync now" into role changes the fake Discord records (PUT/DELETE …/roles/{r})."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from synapse.admin import settings
from synapse.admin.audit import SYSTEM, Actor
from synapse.clock import FixedClock
from synapse.db import lake_store
from synapse.db.directory_store import Entry
from synapse.errors import Conflict, ValidationFailed
from synapse.rules.cache import RuleCache
from synapse.rules.simulate import message
from synapse.services import directory, imports, level_roles
from synapse.services.announce import Announcer
from synapse.services.awards import award
from synapse.services.guild_init import init_guild
from synapse.services.rules_runner import process
from tests.support.fake_discord import FakeDiscord

pytestmark = pytest.mark.integration

T0 = datetime(2025, 1, 15, 12, tzinfo=UTC)
GUILD = 4646
ADMIN = Actor.user(77, request_id="test")
BRONZE, SILVER, GOLD, BOT_ROLE, ABOVE = 501, 502, 503, 900, 950
TABLE = [{"currency": "xp", "level": 1, "role_id": str(BRONZE)}, {"currency": "xp", "level": 2, "role_id": str(SILVER)},
         {"currency": "xp", "level": 5, "role_id": str(GOLD)}]


@pytest.fixture
def guild(engine: sa.Engine) -> int:
    with engine.begin() as conn:
        init_guild(conn, GUILD, actor=SYSTEM)
        # The directory as a refresh from Discord leaves it: three level roles below the bot's, one above.
        roles = [Entry("role", rid, name, position=pos) for rid, name, pos in (
            (BRONZE, "Bronze", 1), (SILVER, "Silver", 2), (GOLD, "Gold", 3), (504, "Legend", 4),
            (BOT_ROLE, "Synapse", 10), (ABOVE, "Mods", 20))]
        directory.store_snapshot(conn, GUILD, directory.Snapshot(roles, None, [BOT_ROLE]), at=T0)
    return GUILD


def _save(engine: sa.Engine, rows: list[dict[str, Any]], mode: str | None = None) -> level_roles.Table:
    with engine.begin() as conn:
        return level_roles.save(conn, GUILD, rows, mode=mode, actor=ADMIN)


def _send_all(engine: sa.Engine, fake: FakeDiscord) -> None:
    with engine.connect() as conn:
        ids = [int(r.id) for r in conn.execute(sa.text(
            "SELECT id FROM outbox WHERE guild_id = :g AND status = 'pending' AND kind LIKE 'role_%' ORDER BY id"),
            {"g": GUILD})]
    Announcer(engine, fake.client(), clock=FixedClock(T0)).send(ids)


def _calls(fake: FakeDiscord, user: int) -> list[tuple[str, str]]:
    return [(c["action"], c["role_id"]) for c in fake.role_changes if c["user_id"] == str(user)]


def _level_up_by_messages(engine: sa.Engine, user: int, count: int, cache: RuleCache[Any] | None = None) -> None:
    events = [message(GUILD, user, i, T0 + timedelta(minutes=2 * i)) for i in range(count)]
    with engine.begin() as conn:
        process(conn, lake_store.append(conn, events), rules=cache or RuleCache())


def _cache_member(engine: sa.Engine, user: int, roles: list[int]) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO member_cache (guild_id, user_id, roles) VALUES (:g, :u, :r) "
                             "ON CONFLICT (guild_id, user_id) DO UPDATE SET roles = EXCLUDED.roles"),
                     {"g": GUILD, "u": user, "r": roles})


def test_an_earned_level_up_adds_the_role_through_discord(engine: sa.Engine, guild: int,
                                                           fake_discord: FakeDiscord) -> None:
    """Eight messages reach level 1: PUT /guilds/{g}/members/{u}/roles/{bronze}, nothing else."""
    _save(engine, TABLE)
    _level_up_by_messages(engine, 9, 8)
    _send_all(engine, fake_discord)
    assert _calls(fake_discord, 9) == [("add", str(BRONZE))]
    assert fake_discord.member_roles[(str(GUILD), "9")] == {str(BRONZE)}


def test_a_table_change_reaches_a_warm_cache(engine: sa.Engine, guild: int, fake_discord: FakeDiscord) -> None:
    """A worker's cached rules pick up a saved table at once (the fingerprint covers it)."""
    cache: RuleCache[Any] = RuleCache()
    _level_up_by_messages(engine, 9, 8, cache)          # no table yet: no role
    _save(engine, TABLE)
    events = [message(GUILD, 10, 100 + i, T0 + timedelta(minutes=2 * i)) for i in range(8)]
    with engine.begin() as conn:
        process(conn, lake_store.append(conn, events), rules=cache)
    _send_all(engine, fake_discord)
    assert _calls(fake_discord, 9) == [] and _calls(fake_discord, 10) == [("add", str(BRONZE))]


@pytest.mark.parametrize(("mode", "expected"), [
    ("stack", [("add", str(BRONZE)), ("add", str(SILVER)), ("add", str(GOLD))]),
    ("replace", [("add", str(GOLD)), ("remove", str(BRONZE)), ("remove", str(SILVER))]),
])
def test_an_award_crossing_levels_follows_the_mode(engine: sa.Engine, guild: int, fake_discord: FakeDiscord,
                                                   mode: str, expected: list[tuple[str, str]]) -> None:
    """An /award from level 0 to level 5+: stack gives all three roles; replace gives only the highest
    and removes the lower ones the member held (per member_cache)."""
    _save(engine, TABLE, mode)
    _cache_member(engine, 3, [BRONZE, SILVER] if mode == "replace" else [])
    fake_discord.member_roles[(str(GUILD), "3")] = {str(BRONZE), str(SILVER)} if mode == "replace" else set()
    with engine.begin() as conn:
        award(conn, GUILD, user_id=3, currency="xp", amount=2_000, reason="event", actor=ADMIN, request_id="a-1", at=T0)
    _send_all(engine, fake_discord)
    assert sorted(_calls(fake_discord, 3)) == sorted(expected)
    want = {str(BRONZE), str(SILVER), str(GOLD)} if mode == "stack" else {str(GOLD)}
    assert fake_discord.member_roles[(str(GUILD), "3")] == want


def test_replace_mode_removes_the_lower_role_on_the_next_level_up(engine: sa.Engine, guild: int,
                                                                   fake_discord: FakeDiscord) -> None:
    """Replace: a member at level 1 holding Bronze reaches level 2: PUT Silver, DELETE Bronze."""
    _save(engine, TABLE, "replace")
    _cache_member(engine, 4, [BRONZE])
    fake_discord.member_roles[(str(GUILD), "4")] = {str(BRONZE)}
    with engine.begin() as conn:   # 155 XP is level 2 on the MEE6 curve (level 1 from 100)
        award(conn, GUILD, user_id=4, currency="xp", amount=120, reason="a", actor=ADMIN, request_id="b-1", at=T0)
        award(conn, GUILD, user_id=4, currency="xp", amount=200, reason="b", actor=ADMIN, request_id="b-2", at=T0)
    _send_all(engine, fake_discord)
    assert ("add", str(SILVER)) in _calls(fake_discord, 4) and ("remove", str(BRONZE)) in _calls(fake_discord, 4)
    assert fake_discord.member_roles[(str(GUILD), "4")] == {str(SILVER)}


def test_an_import_applies_level_roles(engine: sa.Engine, guild: int, fake_discord: FakeDiscord) -> None:
    """Importing opening balances levels members up: their level roles follow."""
    _save(engine, TABLE)
    parsed = imports.parse("user_id,xp\n21,150\n22,50\n", "csv")
    with engine.begin() as conn:
        imports.apply(conn, GUILD, parsed, "xp", actor=ADMIN, at=T0, announce=False)
    _send_all(engine, fake_discord)
    assert _calls(fake_discord, 21) == [("add", str(BRONZE))] and _calls(fake_discord, 22) == []


def test_a_deleted_role_is_never_assigned(engine: sa.Engine, guild: int, fake_discord: FakeDiscord) -> None:
    """Bronze deleted in Discord after the table was saved: a level-up assigns nothing; sync reports it."""
    _save(engine, TABLE)
    with engine.begin() as conn:
        from synapse.db import directory_store
        directory_store.mark_deleted(conn, GUILD, "role", [BRONZE], at=T0 + timedelta(seconds=1))
    _level_up_by_messages(engine, 9, 8)
    _send_all(engine, fake_discord)
    assert _calls(fake_discord, 9) == []
    with engine.connect() as conn:
        assert level_roles.preview(conn, GUILD).deleted_roles == [BRONZE]


def test_saving_reports_every_bad_row_with_its_path(engine: sa.Engine, guild: int) -> None:
    """Unknown currency, an unlevelled one, a duplicate level, a role above the bot, a bad id: 422, all listed."""
    rows = [{"currency": "nope", "level": 1, "role_id": str(BRONZE)},
            {"currency": "gold", "level": 1, "role_id": str(SILVER)},
            {"currency": "xp", "level": 3, "role_id": str(ABOVE)},
            {"currency": "xp", "level": 3, "role_id": str(GOLD)},
            {"currency": "xp", "level": 0, "role_id": "x"},
            {"currency": "xp", "level": 9, "role_id": "31337"}]
    with pytest.raises(ValidationFailed) as info, engine.begin() as conn:
        level_roles.save(conn, GUILD, rows, actor=ADMIN)
    paths = {d["path"]: d["message"] for d in info.value.details()}
    assert set(paths) == {"rows[0].currency", "rows[1].currency", "rows[2].role_id", "rows[3].level",
                          "rows[4].level", "rows[4].role_id", "rows[5].role_id"}
    assert "cannot assign" in paths["rows[2].role_id"]
    with engine.connect() as conn:   # nothing half-written
        assert level_roles.get(conn, GUILD).rows == []


def test_sync_previews_then_applies_once(engine: sa.Engine, guild: int, fake_discord: FakeDiscord) -> None:
    """Existing members (levelled before the table existed) get their roles by "sync now": the preview
    lists them, apply writes them once (a second apply with the same token writes nothing), audited."""
    with engine.begin() as conn:   # 5 reaches level 2 (Bronze+Silver; holds Bronze); 6 stays at level 0
        award(conn, GUILD, user_id=5, currency="xp", amount=300, reason="a", actor=ADMIN, request_id="s-1", at=T0)
        award(conn, GUILD, user_id=6, currency="xp", amount=10, reason="a", actor=ADMIN, request_id="s-2", at=T0)
    _cache_member(engine, 5, [BRONZE])
    _save(engine, TABLE)
    with engine.connect() as conn:
        plan = level_roles.preview(conn, GUILD)
    assert [(c.user_id, c.role_id, c.action) for c in plan.changes] == [(5, SILVER, "add")]
    assert plan.members == 2
    with pytest.raises(Conflict), engine.begin() as conn:
        level_roles.apply(conn, GUILD, "stale", actor=ADMIN)
    with engine.begin() as conn:
        _, ids = level_roles.apply(conn, GUILD, plan.token, actor=ADMIN)
    with engine.begin() as conn:
        _, again = level_roles.apply(conn, GUILD, plan.token, actor=ADMIN)
    assert len(ids) == 1 and again == []
    _send_all(engine, fake_discord)
    assert _calls(fake_discord, 5) == [("add", str(SILVER))]
    with engine.connect() as conn:
        audits = conn.execute(sa.text("SELECT count(*) FROM admin_log WHERE guild_id = :g "
                                      "AND action = 'level_roles.sync'"), {"g": GUILD}).scalar_one()
    assert audits == 1


def test_sync_in_replace_mode_removes_lower_roles_and_reports_removed_rows(
        engine: sa.Engine, guild: int, fake_discord: FakeDiscord) -> None:
    """Replace: a level-5 member holding Bronze and Silver loses both and gets Gold; a role taken out of the
    table is reported with how many members still hold it."""
    with engine.begin() as conn:
        award(conn, GUILD, user_id=7, currency="xp", amount=2_000, reason="a", actor=ADMIN, request_id="r-1", at=T0)
    _save(engine, [*TABLE, {"currency": "xp", "level": 50, "role_id": "504"}])
    _save(engine, TABLE, "replace")                    # the level-50 row removed again
    _cache_member(engine, 7, [BRONZE, SILVER, 504])
    with engine.connect() as conn:
        plan = level_roles.preview(conn, GUILD)
    assert sorted((c.role_id, c.action) for c in plan.changes if c.user_id == 7) == [
        (BRONZE, "remove"), (SILVER, "remove"), (GOLD, "add")]
    assert plan.stale == {504: 1}
    with engine.begin() as conn:
        level_roles.apply(conn, GUILD, plan.token, actor=ADMIN)
    fake_discord.member_roles[(str(GUILD), "7")] = {str(BRONZE), str(SILVER)}
    _send_all(engine, fake_discord)
    assert fake_discord.member_roles[(str(GUILD), "7")] == {str(GOLD)}
    with engine.connect() as conn:
        assert settings.load(conn, GUILD).level_role_mode == "replace"
