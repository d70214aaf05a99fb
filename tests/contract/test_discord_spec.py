"""Every Discord REST call, command definition and fake response, checked against Discord's OpenAPI spec."""

from __future__ import annotations

import copy
import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synapse.discord.rest import DiscordRest, Route, Upload
from synapse.interactions import responses
from synapse.interactions.definitions import commands
from tests.contract import discord_spec as spec
from tests.support.fake_discord import FakeDiscord, _routes

SOURCES = sorted((spec.ROOT / "synapse").rglob("*.py"))
GUILD, USER, ROLE, CHANNEL = "290926798626357250", "53908232506183680", "41771983423143936", "41771983423143937"

# Shapes from Discord's docs (Guild Resource: Role, Channel, Guild Member objects).
ROLE_OBJECT = {"id": ROLE, "name": "Level 5", "color": 0, "colors": {"primary_color": 0, "secondary_color": None,
                                                                        "tertiary_color": None},
               "hoist": False, "icon": None, "unicode_emoji": None, "position": 1, "permissions": "0",
               "managed": False, "mentionable": False, "flags": 0}
CHANNEL_OBJECT = {"id": CHANNEL, "type": 0, "guild_id": GUILD, "name": "general", "position": 0,
                  "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None,
                  "last_message_id": None, "rate_limit_per_user": 0, "flags": 0}
MEMBER_OBJECT = {"user": {"id": USER, "username": "ada", "discriminator": "0", "global_name": "Ada",
                          "avatar": None, "public_flags": 0, "flags": 0, "primary_guild": None},
                 "nick": None, "avatar": None, "banner": None, "roles": [ROLE],
                 "joined_at": "2025-03-12T15:30:00+00:00", "premium_since": None, "deaf": False, "mute": False,
                 "pending": False, "flags": 0,
                 "communication_disabled_until": None}


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    instance = FakeDiscord()
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


def _recording(fake: FakeDiscord) -> tuple[DiscordRest, list[dict[str, Any]]]:
    """A client whose every request (route, body, query, the fake's answer) is kept."""
    rest = fake.client()
    calls: list[dict[str, Any]] = []
    real = rest.request

    def request(route: Route, **kwargs: Any) -> Any:
        result = real(route, **kwargs)
        calls.append({"route": route, "json": kwargs.get("json"), "data": kwargs.get("data"),
                      "query": sorted((kwargs.get("params") or {}).keys()), "result": result})
        return result

    rest.request = request  # type: ignore[method-assign]
    return rest, calls


def _exercise(fake: FakeDiscord) -> list[dict[str, Any]]:
    """Every REST call Synapse makes, through the real client, against the fake."""
    fake.guild_data[GUILD] = {"roles": [ROLE_OBJECT], "channels": [CHANNEL_OBJECT],
                              "members": {USER: MEMBER_OBJECT}}
    fake.add_oauth_user("code-1", user={"id": USER, "username": "ada"},
                        guilds=[{"id": GUILD, "name": "Guild", "permissions": "8"}],
                        redirect_uri="http://localhost/cb")
    rest, calls = _recording(fake)
    embed = {"title": "Level up", "description": "<@1> reached level 5", "color": 0x5865F2,
             "fields": [{"name": "XP", "value": "500", "inline": True}], "footer": {"text": "Synapse"}}
    rest.create_message(CHANNEL, content="Level 5!", embeds=[embed], nonce="lvl-5-1")
    rest.add_role(GUILD, USER, ROLE, reason="level 5")
    rest.remove_role(GUILD, USER, ROLE, reason="level 5 lost")
    rest.create_dm(USER)
    rest.get_guild_channels(GUILD)
    rest.get_guild_roles(GUILD)
    rest.get_guild_member(GUILD, USER)
    rest.get_bot_user()
    fake.add_guild(GUILD, name="Guild", channels=[CHANNEL_OBJECT], roles=[ROLE_OBJECT])
    rest.get_guild(GUILD)
    message = responses.message_data("Your export is ready", ephemeral=True)
    rest.edit_original_interaction_response("tok-1", message)
    rest.edit_original_interaction_response("tok-2", {"content": "Here it is"},
                                            files=[Upload("export.json", b"{}", "application/json")])
    rest.create_followup("tok-1", {"content": "Done", "allowed_mentions": {"parse": []}, "flags": 64})
    rest.bulk_overwrite_commands(commands())
    rest.bulk_overwrite_commands(commands(), guild_id=GUILD)
    rest.request(Route.of("GET", "/applications/{application_id}/commands", application_id=fake.application_id))
    rest.request(Route.of("GET", "/applications/{application_id}/guilds/{guild_id}/commands",
                          application_id=fake.application_id, guild_id=GUILD))
    token = rest.exchange_code("code-1", "http://localhost/cb")
    rest.get_current_user(token["access_token"])
    rest.get_current_user_guilds(token["access_token"])
    return calls


def _items(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    items = []
    for n, call in enumerate(calls):
        route: Route = call["route"]
        if (route.method, route.template) in spec.OUTSIDE_SPEC:
            continue
        where = f"call {n} {route.key}"
        items.append({"kind": "request", "where": where, "method": route.method, "template": route.template,
                      "query": call["query"], "body": call["json"]})
        status = 204 if call["result"] is None else 200
        items.append({"kind": "response", "where": f"fake's answer to {where}", "method": route.method,
                      "template": route.template, "status": status, "body": call["result"]})
    return items


def test_every_route_in_the_code_is_in_the_spec() -> None:
    """Every Route.of(...) under synapse/ names a method and path Discord's OpenAPI spec has."""
    routes = spec.routes_in_source(SOURCES)
    assert len(routes) >= 15, routes
    assert spec.check(spec.route_items(routes)) == []
    assert {(r.method, r.template) for r in routes} & spec.OUTSIDE_SPEC == spec.OUTSIDE_SPEC


def test_a_wrong_path_in_a_copy_of_the_client_fails(tmp_path: Path) -> None:
    """A copy of rest.py with one path typo fails the same check, naming the path and the right one."""
    broken = tmp_path / "rest.py"
    source = (spec.ROOT / "synapse/discord/rest.py").read_text()
    assert '"/guilds/{guild_id}/members/{user_id}/roles/{role_id}"' in source
    broken.write_text(source.replace('"/guilds/{guild_id}/members/{user_id}/roles/{role_id}"',
                                     '"/guilds/{guild_id}/member/{user_id}/roles/{role_id}"', 1))
    errors = spec.check(spec.route_items(spec.routes_in_source([broken])))
    assert len(errors) == 1, errors
    assert "PUT /guilds/{guild_id}/member/{user_id}/roles/{role_id} is not in Discord's OpenAPI spec" in errors[0]
    assert "nearest PUT path: /guilds/{guild_id}/members/{user_id}/roles/{role_id}" in errors[0]
    assert errors[0].startswith("rest.py:")


def test_a_wrong_method_fails() -> None:
    """PATCH on a route Discord serves with PUT is refused, listing the methods the path has."""
    errors = spec.check([{"kind": "route", "method": "PATCH", "template": "/applications/{application_id}/commands"}])
    assert len(errors) == 1 and "the spec has GET, PUT, POST on this path" in errors[0], errors


def test_every_request_body_and_every_fake_answer_matches_the_spec(fake: FakeDiscord) -> None:
    """The real client's bodies and query parameters, and the fake's answers, validate against the spec."""
    calls = _exercise(fake)
    exercised = {(c["route"].method, c["route"].template) for c in calls}
    in_code = {(r.method, r.template) for r in spec.routes_in_source(SOURCES)}
    assert in_code <= exercised, f"not exercised here: {in_code - exercised}"
    assert spec.check(_items(calls)) == []


def test_the_oauth_token_exchange_sends_the_documented_form(fake: FakeDiscord) -> None:
    """POST /oauth2/token (outside the OpenAPI spec) sends exactly the code grant's form fields."""
    calls = _exercise(fake)
    exchange = [c for c in calls if c["route"].key == "POST /oauth2/token"]
    assert len(exchange) == 1
    assert set(exchange[0]["data"]) == spec.OAUTH_CODE_GRANT_FIELDS
    assert exchange[0]["data"]["grant_type"] == "authorization_code"
    assert exchange[0]["json"] is None


def test_a_misspelt_or_invalid_body_field_fails(fake: FakeDiscord) -> None:
    """A body field the schema lacks, or a value past its limits, is named with its JSON path."""
    calls = _exercise(fake)
    items = [i for i in _items(calls) if i["kind"] == "request" and i["method"] == "POST"
             and i["template"] == "/channels/{channel_id}/messages"]
    bad = copy.deepcopy(items[0])
    bad["body"]["embeds"][0]["colour"] = bad["body"]["embeds"][0].pop("color")
    bad["body"]["nonce"] = "x" * 26
    errors = spec.check([bad])
    assert any("$.embeds[0].colour: not a field of Discord's schema" in e for e in errors), errors
    assert any(".nonce" in e for e in errors), errors


def test_a_fake_answer_that_drifts_from_the_spec_fails() -> None:
    """A response missing a required field (a role without permissions) is caught."""
    role = {k: v for k, v in ROLE_OBJECT.items() if k != "permissions"}
    errors = spec.check([{"kind": "response", "method": "GET", "template": "/guilds/{guild_id}/roles",
                          "status": 200, "body": [role]}])
    assert errors == ["GET /guilds/{guild_id}/roles: $[0].permissions: Invalid input: expected string, received "
                      "undefined"]


# The fake also serves Discord's CDN (avatars for rank cards; DISCORD_CDN_BASE), which is not the REST API.
CDN_ROUTES = {("GET", "/avatars/{user_id}/{file}")}


def test_the_fakes_route_table_is_in_the_spec() -> None:
    """Every route the fake Discord server answers is a real one (OAuth2's token endpoint aside)."""
    table = [(m, t) for m, _, t, _ in _routes(FakeDiscord())]
    items = [{"kind": "route", "method": m, "template": t, "where": "fake route"} for m, t in table
             if (m, t) not in spec.OUTSIDE_SPEC and (m, t) not in CDN_ROUTES]
    assert spec.check(items) == []


def _command_items(defs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"kind": "value", "schema": schema, "value": command, "where": f"/{command['name']}"}
            for command in defs for schema in ("ApplicationCommandCreateRequest", "ApplicationCommandUpdateRequest")]


def test_every_command_definition_matches_the_application_command_schema() -> None:
    """Each definition validates as a create and a bulk-update request and keeps Discord's naming rules."""
    defs = commands()
    assert defs
    assert spec.check(_command_items(defs)) == []
    assert [e for c in defs for e in spec.command_rules(c, f"/{c['name']}")] == []


def _load_copy(tmp_path: Path, replace: tuple[str, str]) -> list[dict[str, Any]]:
    source = (spec.ROOT / "synapse/interactions/definitions.py").read_text()
    assert replace[0] in source, replace[0]
    target = tmp_path / "definitions_copy.py"
    target.write_text(source.replace(replace[0], replace[1], 1))
    loader = importlib.util.spec_from_file_location("definitions_copy", target)
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    defs: list[dict[str, Any]] = module.commands()
    return defs


def test_a_capitalised_option_name_in_a_copy_of_the_definitions_fails(tmp_path: Path) -> None:
    """definitions.py copied with one option named "Reason" fails, naming the command and option."""
    defs = _load_copy(tmp_path, ('"reason", "Why', '"Reason", "Why'))
    errors = [e for c in defs for e in spec.command_rules(c, f"/{c['name']}")]
    assert len(errors) == 1, errors
    assert errors[0].startswith("/award.options[3].name: name 'Reason' must be lower case")


def test_a_required_option_after_an_optional_one_fails() -> None:
    """Discord refuses a required option listed after an optional one; so does the check."""
    award = copy.deepcopy(next(c for c in commands() if c["name"] == "award"))
    award["options"][0]["required"] = False
    errors = spec.command_rules(award, "/award")
    assert errors and "required option 'currency' is listed after optional option 'member'" in errors[0]


@pytest.mark.parametrize(("change", "expected"), [
    (lambda c: c.update(name="x" * 33), "/profile: $.name: Too big: expected string to have <=32 characters"),
    (lambda c: c.update(options=[dict(c["options"][0], name=f"m{i}") for i in range(26)]),
     "/profile: $.options: Too big: expected array to have <=25 items"),
    (lambda c: c.update(descripton=c.pop("description")), "/profile: $.descripton: not a field of Discord's schema"),
])
def test_a_definition_the_schema_refuses_fails(change: Any, expected: str) -> None:
    """Over-long names, too many options and misspelt keys are caught by the spec's schema itself."""
    profile = copy.deepcopy(next(c for c in commands() if c["name"] == "profile"))
    change(profile)
    errors = spec.check([{"kind": "value", "schema": "ApplicationCommandCreateRequest", "value": profile,
                          "where": "/profile"}])
    assert any(e.startswith(expected) for e in errors), errors


def test_the_spec_package_is_pinned() -> None:
    """The checks run against the exact spec version package-lock.json pins, with its licence present."""
    version = spec.spec_version()
    assert version.startswith("10.")
    package = spec.ROOT / "node_modules/discord-api-spec"
    assert "MIT" in (package / "LICENSE").read_text()
    assert shutil.which("node")


def test_every_kind_of_interaction_response_matches_the_callback_schema() -> None:
    """What the endpoint answers (PONG, messages, updates, deferrals, choices, errors) is a valid callback."""
    board = responses.embed("Leaderboard", description="**#1** <@1> — 5",
                            fields=[{"name": "Season", "value": "3", "inline": True}])
    buttons = responses.row(responses.button("Next", "lb:2:xp::0"), responses.button("Back", "lb:0:xp::0",
                                                                                        disabled=True))
    answers = {
        "pong": responses.pong(),
        "message": responses.message("hi", embeds=[board], components=[buttons], ephemeral=True),
        "update": responses.update("page 2", embeds=[board], components=[buttons]),
        "deferred": responses.deferred(ephemeral=True),
        "deferred update": responses.deferred_update(),
        "choices": responses.choices([("XP", "xp"), ("Gold", "gold")]),
        "error": responses.error("That currency does not exist."),
    }
    items = [{"kind": "request", "where": name, "method": "POST",
              "template": "/interactions/{interaction_id}/{interaction_token}/callback", "body": body}
             for name, body in answers.items()]
    assert spec.check(items) == []
    broken = {**answers["message"], "data": {**answers["message"]["data"], "flags": "64", "embed": []}}
    errors = spec.check([{**items[1], "body": broken}])
    assert any("$.data.embed: not a field" in e for e in errors) and any("$.data.flags" in e for e in errors), errors
