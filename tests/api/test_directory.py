"""The guild directory through the API: channel and role names fetched from (fake) Discord, cached with a
TTL, deleted ones flagged; names joined into regions, settings, rules and the overview; rules naming a
role the bot cannot assign are refused with the JSON path; relay events change the cache in ingest."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from synapse.clock import FixedClock
from synapse.eventlake.envelope import decode_envelope
from synapse.services.ingest import handle
from tests.api.conftest import GUILD, NOW, Api
from tests.support.fake_discord import FakeDiscord, channel, role

GENERAL, HELP, AFK, GONE = "500000000000000001", "500000000000000002", "500000000000000003", "500000000000000004"
CATEGORY = "500000000000000010"
MEMBER, MODS, BOTROLE, BOOSTER, ADMINS = ("600000000000000001", "600000000000000002", "600000000000000003",
                                          "600000000000000004", "600000000000000005")
PATH = f"/api/guilds/{GUILD}/admin"


@pytest.fixture
def api_fake(make_api: Any, fake_discord: FakeDiscord) -> tuple[Api, FakeDiscord]:
    fake_discord.add_guild(
        GUILD, name="Test Guild", afk_channel_id=AFK,
        channels=[channel(CATEGORY, "Community", type=4, position=0),
                  channel(GENERAL, "general", position=1, parent_id=CATEGORY),
                  channel(HELP, "python-help", position=2, parent_id=CATEGORY),
                  channel(AFK, "AFK", type=2, position=3), channel(GONE, "old-memes", position=4)],
        roles=[role(MEMBER, "Member", position=1), role(BOOSTER, "Server Booster", position=2, premium_subscriber=True),
               role(BOTROLE, "Synapse", position=3, managed=True, bot_id=fake_discord.application_id),
               role(MODS, "Moderators", position=4), role(ADMINS, "Admins", position=5)],
        bot_roles=[BOTROLE])
    api = make_api(discord_api_base=fake_discord.base_url, discord_bot_token=fake_discord.bot_token,
                   discord_application_id=fake_discord.application_id)
    return api, fake_discord


def test_channels_come_from_discord_with_names_categories_and_the_afk_flag(api_fake: tuple[Api, FakeDiscord]) -> None:
    """GET …/admin/channels lists the fake's channels by position with type, category and the AFK channel."""
    api, _ = api_fake
    r = api.client.get(f"{PATH}/channels", headers=api.auth())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["refreshed"] is True and body["error"] is None
    items = {c["id"]: c for c in body["items"]}
    assert [c["name"] for c in body["items"]] == ["Community", "general", "python-help", "AFK", "old-memes"]
    assert items[HELP]["category"] == "Community" and items[HELP]["type"] == "text"
    assert items[AFK]["type"] == "voice" and items[AFK]["afk"] is True and not items[GENERAL]["afk"]
    found = api.client.get(f"{PATH}/channels", params={"q": "HELP"}, headers=api.auth()).json()["items"]
    assert [c["name"] for c in found] == ["python-help"]


def test_names_are_cached_for_the_ttl_and_refetched_after_it(api_fake: tuple[Api, FakeDiscord]) -> None:
    """Within the TTL a listing does not call Discord; after it (or on refresh) it does."""
    api, fake = api_fake
    api.client.get(f"{PATH}/channels", headers=api.auth())
    api.client.get(f"{PATH}/roles", headers=api.auth())
    assert len(fake.requests_to("GET /guilds/{guild_id}/channels")) == 1
    assert isinstance(api.clock, FixedClock)
    api.clock.advance(seconds=api.settings.directory_ttl_seconds + 1)
    assert api.client.get(f"{PATH}/roles", headers=api.auth()).json()["refreshed"] is True
    assert len(fake.requests_to("GET /guilds/{guild_id}/channels")) == 2
    r = api.client.post(f"{PATH}/directory/refresh", headers=api.auth())
    assert r.status_code == 200 and r.json()["refreshed"] is True
    assert len(fake.requests_to("GET /guilds/{guild_id}/channels")) == 3


def test_a_channel_deleted_in_discord_is_kept_and_flagged(api_fake: tuple[Api, FakeDiscord]) -> None:
    """After a refresh that no longer sees a channel, it is listed only with include_deleted, marked deleted,
    and regions naming it show its last name as deleted."""
    api, fake = api_fake
    api.client.get(f"{PATH}/channels", headers=api.auth())
    r = api.client.post(f"{PATH}/regions", headers=api.auth(),
                        json={"key": "memes", "name": "Memes", "channel_ids": [GONE, GENERAL, "999"]})
    assert r.status_code == 201, r.text
    fake.remove_channel(GUILD, GONE)
    api.client.post(f"{PATH}/directory/refresh", headers=api.auth())
    live = api.client.get(f"{PATH}/channels", headers=api.auth()).json()["items"]
    assert GONE not in {c["id"] for c in live}
    every = api.client.get(f"{PATH}/channels", params={"include_deleted": True}, headers=api.auth()).json()["items"]
    assert next(c for c in every if c["id"] == GONE)["deleted"] is True
    [region] = api.client.get(f"{PATH}/regions", headers=api.auth()).json()
    assert [c["id"] for c in region["channels"]] == region["channel_ids"]
    assert {c["id"]: c for c in region["channels"]} == {
        GONE: {"id": GONE, "name": "old-memes", "deleted": True, "type": "text"},
        GENERAL: {"id": GENERAL, "name": "general", "deleted": False, "type": "text"},
        "999": {"id": "999", "name": None, "deleted": False, "type": None}}


def test_roles_say_which_the_bot_can_assign(api_fake: tuple[Api, FakeDiscord]) -> None:
    """Roles come highest first; only unmanaged roles below the bot's highest role (not @everyone) are assignable."""
    api, _ = api_fake
    items = api.client.get(f"{PATH}/roles", headers=api.auth()).json()["items"]
    assert [r["name"] for r in items] == ["Admins", "Moderators", "Synapse", "Server Booster", "Member", "@everyone"]
    assignable = {r["name"]: r["assignable"] for r in items}
    assert assignable == {"Admins": False, "Moderators": False, "Synapse": False, "Server Booster": False,
                          "Member": True, "@everyone": False}


def test_the_server_booster_role_is_flagged(api_fake: tuple[Api, FakeDiscord]) -> None:
    """The role Discord tags premium_subscriber is listed with booster true; every other role false."""
    api, _ = api_fake
    items = api.client.get(f"{PATH}/roles", headers=api.auth()).json()["items"]
    assert {r["name"]: r["booster"] for r in items} == {
        "Admins": False, "Moderators": False, "Synapse": False, "Server Booster": True, "Member": False,
        "@everyone": False}


def _role_rule(role_id: str, **extra: Any) -> dict[str, Any]:
    return {"name": "Level role", "trigger": {"event": "level_up"},
            "effects": [{"type": "credit", "currency": "xp", "amount": 1},
                        {"type": "role", "action": "add", "role_id": role_id}], **extra}


def test_a_rule_giving_a_role_above_the_bot_is_refused_with_its_path(api_fake: tuple[Api, FakeDiscord]) -> None:
    """POST …/rules naming a role above the bot → 422 at effects[1].role_id saying why; nothing is saved."""
    api, _ = api_fake
    api.client.get(f"{PATH}/roles", headers=api.auth())
    before = api.sql("SELECT count(*) AS n FROM rules WHERE guild_id = :g", g=GUILD)[0].n
    r = api.client.post(f"{PATH}/rules", headers=api.auth(), json=_role_rule(MODS))
    assert r.status_code == 422, r.text
    [detail] = r.json()["error"]["details"]
    assert detail["path"] == "effects[1].role_id"
    assert "@Moderators" in detail["message"] and "bot's highest role" in detail["message"]
    assert api.sql("SELECT count(*) AS n FROM rules WHERE guild_id = :g", g=GUILD)[0].n == before
    managed = api.client.post(f"{PATH}/rules", headers=api.auth(), json=_role_rule(BOOSTER))
    assert managed.status_code == 422 and "managed" in managed.json()["error"]["details"][0]["message"]
    check = api.client.post(f"{PATH}/rules/validate", headers=api.auth(), json=_role_rule(MODS)).json()
    assert check["valid"] is False and check["errors"][0]["path"] == "effects[1].role_id"


def test_a_rule_with_an_assignable_role_and_a_deleted_channel_saves_with_names_and_a_warning(
        api_fake: tuple[Api, FakeDiscord]) -> None:
    """A role below the bot saves; a deleted channel in a zone filter is a warning in the rule's references."""
    api, fake = api_fake
    api.client.get(f"{PATH}/channels", headers=api.auth())
    fake.remove_channel(GUILD, GONE)
    api.client.post(f"{PATH}/directory/refresh", headers=api.auth())
    rule = _role_rule(MEMBER, conditions=[{"type": "zone", "exclude_channels": [GONE, GENERAL]}],
                      trigger={"event": "message_create"})
    r = api.client.post(f"{PATH}/rules", headers=api.auth(), json=rule)
    assert r.status_code == 201, r.text
    refs = r.json()["references"]
    assert refs["roles"][MEMBER] == {"id": MEMBER, "name": "Member", "deleted": False, "type": "role",
                                     "assignable": True}
    assert refs["channels"][GONE]["deleted"] is True and refs["channels"][GENERAL]["name"] == "general"
    assert refs["warnings"] == [{"path": "conditions[0].exclude_channels[0]",
                                 "message": "channel #old-memes was deleted: this part of the rule no longer "
                                            "matches anything"}]
    check = api.client.post(f"{PATH}/rules/validate", headers=api.auth(), json=rule).json()
    assert check["valid"] is True and check["warnings"][0]["path"] == "conditions[0].exclude_channels[0]"


def test_without_a_directory_rules_are_not_judged(api_fake: tuple[Api, FakeDiscord]) -> None:
    """Before names were ever fetched, a role rule saves (nothing is known to refuse it)."""
    api, _ = api_fake
    r = api.client.post(f"{PATH}/rules", headers=api.auth(), json=_role_rule(MODS))
    assert r.status_code == 201, r.text
    assert r.json()["references"]["roles"][MODS]["name"] is None


def test_settings_name_their_channels_and_roles(api_fake: tuple[Api, FakeDiscord]) -> None:
    """GET and PATCH …/settings carry the names of the announcement channel and admin roles."""
    api, _ = api_fake
    api.client.get(f"{PATH}/channels", headers=api.auth())
    r = api.client.patch(f"{PATH}/settings", headers=api.auth(),
                         json={"announcements_channel_id": GENERAL, "admin_role_ids": [MODS]})
    assert r.status_code == 200, r.text
    assert r.json()["references"]["channels"][GENERAL]["name"] == "general"
    assert r.json()["references"]["roles"][MODS]["name"] == "Moderators"
    assert api.client.get(f"{PATH}/settings", headers=api.auth()).json() == r.json()


def test_discord_down_serves_the_cached_names_and_says_why(api_fake: tuple[Api, FakeDiscord]) -> None:
    """A failed refresh keeps the last names and reports the failure instead of an error page."""
    api, fake = api_fake
    api.client.get(f"{PATH}/channels", headers=api.auth())
    fake.fail_next("GET /guilds/{guild_id}", 503, n=5)
    r = api.client.post(f"{PATH}/directory/refresh", headers=api.auth())
    assert r.status_code == 200 and r.json()["refreshed"] is False and "503" in r.json()["error"]
    names = [c["name"] for c in api.client.get(f"{PATH}/channels", headers=api.auth()).json()["items"]]
    assert "general" in names


def test_directory_endpoints_are_admin_only(api_fake: tuple[Api, FakeDiscord]) -> None:
    """Without a session 401; an admin of another guild 403."""
    api, _ = api_fake
    assert api.client.get(f"{PATH}/channels").status_code == 401
    assert api.client.get(f"{PATH}/roles", headers=api.auth(guilds=(1,))).status_code == 403


def _envelope(*events: dict[str, Any]) -> str:
    import json

    return json.dumps({"v": 1, "events": list(events)})


def _dir_event(event_type: str, key: str, at: str, payload: dict[str, Any], channel_id: str | None = None
               ) -> dict[str, Any]:
    return {"source_system": "discord", "source_event_id": f"{event_type}:{key}:{at}", "event_type": event_type,
            "guild_id": str(GUILD), "user_id": None, "channel_id": channel_id, "occurred_at": at, "payload": payload}


def test_relay_events_update_the_cache_in_ingest_and_never_reach_the_lake(api_fake: tuple[Api, FakeDiscord]) -> None:
    """channel_update/role_update/guild_update change names, deletions and the AFK channel; a late, older
    event changes nothing; none is stored in the Event Lake."""
    api, _ = api_fake
    api.client.get(f"{PATH}/channels", headers=api.auth())
    later = (NOW + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    older = (NOW - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    events = decode_envelope(_envelope(
        _dir_event("channel_update", GENERAL, later, {"action": "update", "name": "lobby", "type": 0,
                                                      "position": 1, "parent_id": None}, GENERAL),
        _dir_event("channel_update", HELP, older, {"action": "update", "name": "stale-name", "type": 0,
                                                   "position": 2, "parent_id": None}, HELP),
        _dir_event("channel_update", AFK, later, {"action": "delete", "name": "AFK", "type": 2, "position": 3,
                                                  "parent_id": None}, AFK),
        _dir_event("role_update", "700000000000000001", later, {"action": "create",
                                                                "role_id": "700000000000000001",
                                                                "name": "Newcomer", "position": 1,
                                                                "managed": False, "color": 0}),
        _dir_event("guild_update", str(GUILD), later, {"afk_channel_id": HELP})))
    result = handle(events, api.engine, clock=api.clock)
    assert result.new == 0
    assert api.sql("SELECT count(*) AS n FROM event_lake WHERE guild_id = :g", g=GUILD)[0].n == 0
    items = {c["id"]: c for c in api.client.get(f"{PATH}/channels", params={"include_deleted": True},
                                                headers=api.auth()).json()["items"]}
    assert items[GENERAL]["name"] == "lobby" and items[HELP]["name"] == "python-help"
    assert items[AFK]["deleted"] is True and items[HELP]["afk"] is True
    roles = [r["name"] for r in api.client.get(f"{PATH}/roles", headers=api.auth()).json()["items"]]
    assert "Newcomer" in roles


def test_relay_events_alone_do_not_judge_rules(api_fake: tuple[Api, FakeDiscord]) -> None:
    """A role event from the relay before any fetch from Discord is cached, but rules are not judged on
    that partial directory: a role it does not list is not called unknown."""
    api, _ = api_fake
    at = NOW.isoformat().replace("+00:00", "Z")
    handle(decode_envelope(_envelope(
        _dir_event("role_update", "700000000000000002", at, {"action": "create", "role_id": "700000000000000002",
                                                             "name": "Early", "position": 1, "managed": False,
                                                             "color": 0}))), api.engine, clock=api.clock)
    r = api.client.post(f"{PATH}/rules", headers=api.auth(), json=_role_rule(MEMBER))
    assert r.status_code == 201, r.text
