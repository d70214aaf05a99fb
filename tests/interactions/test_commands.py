"""Every command through the real app: signed requests in, Discord response shapes out, real PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from synapse.admin import currencies, modules
from synapse.admin import settings as guild_settings
from synapse.admin.audit import SYSTEM
from synapse.db.ledger_store import verify
from tests.interactions import payloads as p
from tests.interactions.conftest import GUILD, World

ADA = p.user(80351110224678912, "ada", global_name="Ada")
BOB = p.user(175928847299117063, "bob")
EVE = p.user(53908232506183680, "eve")
ADMIN = p.member(ADA, permissions="8")              # Administrator
MANAGER = p.member(ADA, permissions="32")           # Manage Guild
PLAIN = p.member(EVE)                               # neither
EPHEMERAL = 64


def award(invoker: dict[str, Any], target: dict[str, Any], currency: str, amount: int, reason: str = "event prize",
          *, interaction_id: str | None = None, members: bool = True) -> dict[str, Any]:
    return p.command("award", invoker, [p.user_opt("member", target["id"]), p.opt("currency", currency),
                                        p.opt("amount", amount, 4), p.opt("reason", reason)],
                     resolved_data=p.resolved(target, members=members), interaction_id=interaction_id)


def is_ephemeral(response: dict[str, Any]) -> bool:
    return response["type"] == 4 and response["data"].get("flags") == EPHEMERAL


def assert_no_pings(response: dict[str, Any]) -> None:
    assert response["data"]["allowed_mentions"] == {"parse": []}


# -- /profile ---------------------------------------------------------------------------------------

def test_profile_shows_levels_balances_rank_progress_milestones_and_reasons(world: World) -> None:
    """/profile: level and progress, every visible currency, rank, recent milestones and earning reasons."""
    world.seed_member(int(EVE["id"]), "eve", xp=250, stars=3)
    world.seed_member(int(BOB["id"]), "bob", xp=900)
    milestone = world.scalar("SELECT min(milestone_id) FROM milestones WHERE guild_id = :g", g=GUILD)
    world.sql("INSERT INTO user_milestones (guild_id, user_id, milestone_id, earned_at) VALUES (:g, :u, :m, now())",
              g=GUILD, u=int(EVE["id"]), m=milestone)
    response = world.ok(p.command("profile", PLAIN))
    assert response["type"] == 4 and "flags" not in response["data"]
    assert_no_pings(response)
    embed = response["data"]["embeds"][0]
    assert embed["title"] == "eve's profile"
    assert "**Level 1**" in embed["description"] and "rank **#2**" in embed["description"]
    assert "150/" in embed["description"]  # 250 XP = level 1 (100) + 150 of the 155 to level 2
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["✨ XP"] == "250 · level 1"
    assert fields["⭐ Stars"] == "3" and fields["🪙 Gold"] == "0"
    assert "Recent milestones" in fields
    rule_name = world.scalar("SELECT name FROM rules WHERE guild_id = :g ORDER BY rule_id LIMIT 1", g=GUILD)
    assert f"+250 xp · {rule_name} (message_create)" in fields["Recently earned"]


def test_profile_of_another_member_uses_resolved_user(world: World) -> None:
    """/profile member:@bob shows Bob, named as Discord resolved him."""
    world.seed_member(int(BOB["id"]), "bob-cached", xp=900)
    response = world.ok(p.command("profile", PLAIN, [p.user_opt("member", BOB["id"])],
                                  resolved_data=p.resolved(BOB)))
    embed = response["data"]["embeds"][0]
    assert embed["title"] == "bob's profile" and "rank **#1**" in embed["description"]
    assert embed["thumbnail"]["url"].startswith(f"https://cdn.discordapp.com/avatars/{BOB['id']}/")


def test_profile_unknown_member_is_ephemeral(world: World) -> None:
    """/profile for someone Synapse never saw says so, only to the caller."""
    response = world.ok(p.command("profile", PLAIN, [p.user_opt("member", BOB["id"])],
                                  resolved_data=p.resolved(BOB)))
    assert is_ephemeral(response)
    assert "no activity" in response["data"]["content"]


def test_module_off_replies_ephemerally(world: World) -> None:
    """A disabled module's commands say, ephemerally, that it is off."""
    with world.engine.begin() as conn:
        modules.set_module(conn, GUILD, "economy", False, actor=SYSTEM)
        modules.set_module(conn, GUILD, "milestones", False, actor=SYSTEM)
    for payload in (p.command("profile", PLAIN), p.command("leaderboard", PLAIN), p.command("milestones", PLAIN),
                    award(ADMIN, BOB, "xp", 5)):
        response = world.ok(payload)
        assert is_ephemeral(response), payload["data"]["name"]
        assert "module is off" in response["data"]["content"]
    assert world.scalar("SELECT count(*) FROM transactions") == 0


def test_dm_interaction_is_refused_politely(world: World) -> None:
    """A DM payload (``user``, no ``member``) gets an ephemeral "use it in a server"."""
    response = world.ok(p.command("profile", EVE, dm=True))
    assert is_ephemeral(response) and "server" in response["data"]["content"]


def test_unknown_command_is_ephemeral(world: World) -> None:
    response = world.ok(p.command("no-such-command", PLAIN))
    assert is_ephemeral(response)


def test_handler_crash_is_an_ephemeral_apology_not_a_500(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected exception in a handler is logged and answered, never a 500."""
    import dataclasses

    from synapse.interactions import commands
    from synapse.interactions.commands import profile

    def boom(*args: Any) -> Any:
        raise RuntimeError("bug")

    broken = dataclasses.replace(profile.COMMAND, run=boom)
    monkeypatch.setitem(commands.registry(), "profile", broken)
    response = world.send(p.command("profile", PLAIN))
    assert response.status_code == 200
    assert is_ephemeral(response.json()) and "went wrong" in response.json()["data"]["content"]


# -- /leaderboard -----------------------------------------------------------------------------------

def _seed_board(world: World, n: int = 12) -> list[int]:
    ids = [900000000000000000 + i for i in range(n)]
    for i, uid in enumerate(ids):
        world.seed_member(uid, f"member{i}", xp=1000 - i * 10, stars=i + 1)
    return ids


def test_leaderboard_pages_with_buttons_and_shows_the_callers_position(world: World) -> None:
    """/leaderboard: top 10, caller's position, Previous disabled on page 1, Next enabled."""
    ids = _seed_board(world)
    world.seed_member(int(EVE["id"]), "eve", xp=5)
    response = world.ok(p.command("leaderboard", PLAIN))
    assert response["type"] == 4 and "flags" not in response["data"]
    assert_no_pings(response)
    embed = response["data"]["embeds"][0]
    lines = embed["description"].splitlines()
    assert len(lines) == 10 and lines[0].startswith(f"**#1** <@{ids[0]}> — 1,000")
    assert "Your position: #13 (5)" in embed["footer"]["text"]
    row = response["data"]["components"][0]
    assert row["type"] == 1
    previous, following = row["components"]
    assert previous["type"] == 2 and previous["disabled"] is True
    assert following["disabled"] is False and following["custom_id"] == f"lb:{EVE['id']}:xp::1"


def test_leaderboard_next_button_updates_the_message_for_its_owner(world: World) -> None:
    """The asker's Next click edits the message in place (UPDATE_MESSAGE) to page 2."""
    ids = _seed_board(world)
    response = world.ok(p.component(f"lb:{EVE['id']}:xp::1", PLAIN))
    assert response["type"] == 7
    lines = response["data"]["embeds"][0]["description"].splitlines()
    assert [line.split()[0] for line in lines] == ["**#11**", "**#12**"]
    assert f"<@{ids[11]}>" in lines[1]
    previous, following = response["data"]["components"][0]["components"]
    assert previous["disabled"] is False and following["disabled"] is True


def test_leaderboard_button_of_someone_else_answers_privately(world: World) -> None:
    """Another member's click gets the page as a new ephemeral message; the shared board stays."""
    _seed_board(world)
    response = world.ok(p.component(f"lb:{ADA['id']}:xp::1", PLAIN))
    assert is_ephemeral(response)
    assert response["data"]["components"][0]["components"][1]["custom_id"].startswith(f"lb:{EVE['id']}:")


def test_leaderboard_in_another_currency_and_unknown_currency(world: World) -> None:
    """currency:stars ranks by stars; an unknown currency is an ephemeral error."""
    ids = _seed_board(world, 3)
    response = world.ok(p.command("leaderboard", PLAIN, [p.opt("currency", "stars")]))
    assert response["data"]["embeds"][0]["description"].splitlines()[0].startswith(f"**#1** <@{ids[2]}> — 3")
    response = world.ok(p.command("leaderboard", PLAIN, [p.opt("currency", "rubies")]))
    assert is_ephemeral(response) and "rubies" in response["data"]["content"]


def test_leaderboard_of_a_closed_season_uses_its_snapshot(world: World) -> None:
    """season:N of a closed season shows its final standings; an unknown season is an error."""
    world.sql("""INSERT INTO seasons (guild_id, season_id, name, started_at, ended_at, status)
                 VALUES (:g, 1, 'Spring', now() - interval '90 days', now(), 'closed')""", g=GUILD)
    world.sql("""INSERT INTO season_snapshots (guild_id, season_id, currency_key, user_id, balance, rank)
                 VALUES (:g, 1, 'xp', :a, 500, 1), (:g, 1, 'xp', :e, 200, 2)""",
              g=GUILD, a=int(ADA["id"]), e=int(EVE["id"]))
    response = world.ok(p.command("leaderboard", PLAIN, [p.opt("season", 1, 4)]))
    embed = response["data"]["embeds"][0]
    assert "Spring" in embed["title"]
    assert embed["description"].splitlines()[1].startswith(f"**#2** <@{EVE['id']}> — 200")
    assert "Your position: #2" in embed["footer"]["text"]
    assert is_ephemeral(world.ok(p.command("leaderboard", PLAIN, [p.opt("season", 7, 4)])))


# -- /milestones ------------------------------------------------------------------------------------

def test_milestones_lists_earned_and_available(world: World) -> None:
    """/milestones: earned ones with when, and the rest still available."""
    total = world.scalar("SELECT count(*) FROM milestones WHERE guild_id = :g AND NOT hidden AND enabled", g=GUILD)
    world.seed_member(int(EVE["id"]), "eve", xp=1)
    response = world.ok(p.command("create-milestone", ADMIN, [
        p.opt("key", "helper"), p.opt("name", "Helper"), p.opt("criterion", "event_count"),
        p.opt("at_least", 10, 4), p.opt("event", "message_create"), p.opt("emoji", "🤝")]))
    assert response["type"] == 4
    world.ok(p.command("grant-milestone", ADMIN, [p.user_opt("member", EVE["id"]), p.opt("milestone", "helper")],
                       resolved_data=p.resolved(EVE)))
    response = world.ok(p.command("milestones", PLAIN))
    fields = {f["name"]: f["value"] for f in response["data"]["embeds"][0]["fields"]}
    assert fields["Earned (1)"].startswith("🤝 **Helper** <t:")
    assert f"Available ({total})" in fields


# -- /award -----------------------------------------------------------------------------------------

def test_award_credits_once_per_interaction_and_is_audited(world: World) -> None:
    """/award by an Administrator credits, writes admin_log; the same interaction id again credits nothing."""
    payload = award(ADMIN, BOB, "xp", 50, interaction_id="1200000000000000001")
    first = world.ok(payload)
    assert first["type"] == 4 and "flags" not in first["data"]
    assert_no_pings(first)
    assert first["data"]["content"].startswith(f"+50 xp for <@{BOB['id']}>")
    second = world.ok(payload)
    assert "already applied" in second["data"]["content"]
    assert world.balance(int(BOB["id"]), "xp") == 50
    rows = world.sql("SELECT actor_id, action, entity_id, request_id FROM admin_log WHERE action = 'ledger.award'")
    assert [(r.actor_id, r.entity_id, r.request_id) for r in rows] == [
        (int(ADA["id"]), BOB["id"], "1200000000000000001")]
    key = world.scalar("SELECT idempotency_key FROM transactions WHERE kind = 'admin_award'")
    assert key == "award:1200000000000000001"
    assert world.ok(award(ADMIN, BOB, "xp", 50))["data"]["content"].endswith("balance 100")


def test_award_with_manage_guild_or_an_admin_role(world: World) -> None:
    """Manage Guild (0x20) is enough; so is a role listed in the guild's admin_role_ids."""
    assert "+5 xp" in world.ok(award(MANAGER, BOB, "xp", 5))["data"]["content"]
    with world.engine.begin() as conn:
        guild_settings.update(conn, GUILD, {"admin_role_ids": ["539082325061836999"]}, actor=SYSTEM)
    moderator = p.member(EVE, roles=["539082325061836999"])
    assert "+7 xp" in world.ok(award(moderator, BOB, "xp", 7))["data"]["content"]
    assert world.balance(int(BOB["id"]), "xp") == 12


def test_award_by_a_non_admin_is_refused(world: World) -> None:
    response = world.ok(award(PLAIN, BOB, "xp", 50))
    assert is_ephemeral(response) and "admins" in response["data"]["content"]
    assert world.scalar("SELECT count(*) FROM transactions") == 0


def test_award_in_an_unknown_currency_is_refused(world: World) -> None:
    response = world.ok(award(ADMIN, BOB, "rubies", 50))
    assert is_ephemeral(response) and "rubies" in response["data"]["content"]
    assert world.scalar("SELECT count(*) FROM admin_log WHERE action = 'ledger.award'") == 0


def test_award_to_someone_not_in_the_server_is_refused(world: World) -> None:
    """A user resolved without a member entry is not in the guild: nothing is credited."""
    response = world.ok(award(ADMIN, BOB, "xp", 50, members=False))
    assert is_ephemeral(response) and "not a member" in response["data"]["content"]
    assert world.scalar("SELECT count(*) FROM transactions") == 0


def test_negative_award_below_zero_is_refused_unless_the_currency_allows_it(world: World) -> None:
    """Taking more Stars than Bob has is refused; a currency with allow_negative goes below zero."""
    world.seed_member(int(BOB["id"]), "bob", stars=3)
    response = world.ok(award(ADMIN, BOB, "stars", -5))
    assert is_ephemeral(response) and "below zero" in response["data"]["content"]
    assert world.balance(int(BOB["id"]), "stars") == 3
    with world.engine.begin() as conn:
        currencies.create(conn, GUILD, {"key": "karma", "name": "Karma", "allow_negative": True}, actor=SYSTEM)
    response = world.ok(award(ADMIN, BOB, "karma", -5))
    assert response["data"]["content"].startswith("-5 karma")
    assert world.balance(int(BOB["id"]), "karma") == -5
    with world.engine.begin() as conn:
        assert verify(conn, GUILD) == []


def test_award_zero_is_invalid(world: World) -> None:
    assert is_ephemeral(world.ok(award(ADMIN, BOB, "xp", 0)))


# -- /create-milestone and /grant-milestone ---------------------------------------------------------

def _create(world: World, invoker: dict[str, Any], key: str = "veteran", at_least: int = 5) -> dict[str, Any]:
    return world.ok(p.command("create-milestone", invoker, [
        p.opt("key", key), p.opt("name", "Veteran"), p.opt("criterion", "level"), p.opt("at_least", at_least, 4),
        p.opt("currency", "xp"), p.opt("description", "Reach level 5"), p.opt("emoji", "🎖️")]))


def test_create_milestone_is_audited_and_keys_are_unique(world: World) -> None:
    response = _create(world, ADMIN)
    assert is_ephemeral(response) and "Veteran" in response["data"]["content"]
    row = world.sql("SELECT criteria FROM milestones WHERE guild_id = :g AND key = 'veteran'", g=GUILD)[0]
    assert row.criteria == {"type": "level", "currency": "xp", "at_least": 5}
    assert world.scalar("SELECT count(*) FROM admin_log WHERE action = 'milestone.create'") == 1
    again = _create(world, ADMIN)
    assert is_ephemeral(again) and "already exists" in again["data"]["content"]


def test_create_milestone_refuses_invalid_input_and_non_admins(world: World) -> None:
    assert "Invalid input" in _create(world, ADMIN, key="Bad Key")["data"]["content"]
    assert "admins" in _create(world, PLAIN, key="ok")["data"]["content"]
    assert world.scalar("SELECT count(*) FROM milestones WHERE key IN ('ok', 'Bad Key')") == 0


def test_grant_milestone_twice_says_already_earned(world: World) -> None:
    """/grant-milestone: granted once (audited); the second time it says it was already earned."""
    _create(world, ADMIN)
    grant = p.command("grant-milestone", ADMIN, [p.user_opt("member", BOB["id"]), p.opt("milestone", "veteran")],
                      resolved_data=p.resolved(BOB))
    first = world.ok(grant)
    assert first["type"] == 4 and "was granted" in first["data"]["content"]
    assert_no_pings(first)
    second = world.ok(grant)
    assert is_ephemeral(second) and "already earned" in second["data"]["content"]
    assert world.scalar("SELECT count(*) FROM user_milestones WHERE user_id = :u", u=int(BOB["id"])) == 1
    assert world.scalar("SELECT count(*) FROM admin_log WHERE action = 'milestone.grant'") == 1


def test_grant_unknown_milestone_and_non_admin(world: World) -> None:
    grant = p.command("grant-milestone", ADMIN, [p.user_opt("member", BOB["id"]), p.opt("milestone", "nope")],
                      resolved_data=p.resolved(BOB))
    assert "No milestone 'nope'" in world.ok(grant)["data"]["content"]
    grant["member"] = PLAIN
    assert "admins" in world.ok(grant)["data"]["content"]


# -- autocomplete -----------------------------------------------------------------------------------

def test_currency_autocomplete_filters_by_what_is_typed(world: World) -> None:
    """type 4 with a focused currency option → type 8 choices."""
    response = world.ok(p.autocomplete("award", ADMIN, [p.user_opt("member", BOB["id"]),
                                                         p.opt("currency", "st", focused=True)]))
    assert response == {"type": 8, "data": {"choices": [{"name": "⭐ Stars (stars)", "value": "stars"}]}}
    everything = world.ok(p.autocomplete("leaderboard", PLAIN, [p.opt("currency", "", focused=True)]))
    assert [c["value"] for c in everything["data"]["choices"]] == ["xp", "stars", "gold"]


def test_milestone_autocomplete(world: World) -> None:
    _create(world, ADMIN)
    response = world.ok(p.autocomplete("grant-milestone", ADMIN, [p.opt("milestone", "vet", focused=True)]))
    assert response["type"] == 8
    assert {"name": "🎖️ Veteran (veteran)", "value": "veteran"} in response["data"]["choices"]


def test_autocomplete_with_module_off_offers_nothing(world: World) -> None:
    with world.engine.begin() as conn:
        modules.set_module(conn, GUILD, "economy", False, actor=SYSTEM)
    response = world.ok(p.autocomplete("award", ADMIN, [p.opt("currency", "", focused=True)]))
    assert response == {"type": 8, "data": {"choices": []}}


def test_unconfigured_public_key_refuses_everything(db_url: str) -> None:
    """Without DISCORD_PUBLIC_KEY nothing is accepted (401), rather than everything."""
    from tests.interactions.conftest import _world

    for w in _world(db_url, discord_public_key=""):
        assert w.send(p.ping()).status_code == 401


def test_deep_ranks_come_from_a_histogram_and_are_marked_approximate(world: World,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the exact limit a rank is read from a balance histogram and shown as "~#N"."""
    from synapse.services import profile as service

    monkeypatch.setattr(service, "RANKS", service.RankIndex(exact_limit=3, max_age=60))
    ids = _seed_board(world, 6)                      # xp 1000, 990, …, 950
    world.seed_member(int(EVE["id"]), "eve", xp=955)  # between the 5th and 6th
    embed = world.ok(p.command("profile", PLAIN))["data"]["embeds"][0]
    assert "rank **~#6**" in embed["description"]
    top = world.ok(p.command("profile", PLAIN, [p.user_opt("member", str(ids[1]))],
                             resolved_data=p.resolved(p.user(ids[1], "member1"))))
    assert "rank **#2**" in top["data"]["embeds"][0]["description"]
    board = world.ok(p.command("leaderboard", PLAIN))["data"]["embeds"][0]
    assert "Your position: ~#6 (955)" in board["footer"]["text"]


def test_create_milestone_refreshes_rule_caches_and_checks_the_currency(world: World) -> None:
    """Creating a milestone bumps guilds.rules_version; a criterion on an unknown currency is refused."""
    before = world.scalar("SELECT rules_version FROM guilds WHERE guild_id = :g", g=GUILD)
    _create(world, ADMIN)
    assert world.scalar("SELECT rules_version FROM guilds WHERE guild_id = :g", g=GUILD) == before + 1
    response = world.ok(p.command("create-milestone", ADMIN, [
        p.opt("key", "rich"), p.opt("name", "Rich"), p.opt("criterion", "balance"), p.opt("at_least", 9, 4),
        p.opt("currency", "rubies")]))
    assert is_ephemeral(response) and "rubies" in response["data"]["content"]


# -- /privacy hide | show ----------------------------------------------------------------------------

def test_privacy_hide_keeps_the_name_off_the_leaderboard_until_show(world: World) -> None:
    """/privacy hide: /leaderboard shows the rank and balance without the member; /privacy show undoes it."""
    ids = _seed_board(world, n=3)
    world.seed_member(int(EVE["id"]), "eve", xp=2000)
    hidden = world.ok(p.command("privacy", PLAIN, [p.sub("hide")]))
    assert is_ephemeral(hidden) and "no longer appears" in hidden["data"]["content"]
    assert world.scalar("SELECT public_opt_out FROM member_cache WHERE guild_id = :g AND user_id = :u",
                        g=GUILD, u=int(EVE["id"])) is True
    board = world.ok(p.command("leaderboard", p.member(BOB)))["data"]["embeds"][0]["description"].splitlines()
    assert board[0] == "**#1** *a member who keeps their name private* — 2,000 · lvl 6"
    assert board[1].startswith(f"**#2** <@{ids[0]}>")
    assert EVE["id"] not in "\n".join(board)
    world.ok(p.command("privacy", PLAIN, [p.sub("show")]))
    board = world.ok(p.command("leaderboard", p.member(BOB)))["data"]["embeds"][0]["description"]
    assert board.splitlines()[0].startswith(f"**#1** <@{EVE['id']}>")


# -- onboarding -------------------------------------------------------------------------------------

def _in_guild(payload: dict[str, Any], guild_id: str) -> dict[str, Any]:
    """The same interaction, sent from another server."""
    out: dict[str, Any] = json.loads(json.dumps(payload).replace(p.GUILD, guild_id))
    return out


def test_first_command_in_a_guild_synapse_never_saw_sets_it_up(world: World) -> None:
    """A slash command from a server that was never initialised installs the default pack, then answers."""
    other = "1300000000000000077"
    assert world.scalar("SELECT count(*) FROM guilds WHERE guild_id = :g", g=int(other)) == 0
    response = world.ok(_in_guild(p.command("profile", PLAIN), other))
    assert response["type"] == 4 and response["data"]["content"] == "You have no activity in this server yet."
    assert world.scalar("SELECT count(*) FROM currencies WHERE guild_id = :g", g=int(other)) >= 3
    assert world.scalar("SELECT count(*) FROM rules WHERE guild_id = :g", g=int(other)) > 0
    assert world.scalar("SELECT request_id FROM admin_log WHERE guild_id = :g AND action = 'guild.init'",
                        g=int(other)) == "onboarding:interaction"
    world.ok(_in_guild(p.command("profile", PLAIN), other))   # a second command installs nothing more
    assert world.scalar("SELECT count(*) FROM admin_log WHERE guild_id = :g", g=int(other)) == 1
