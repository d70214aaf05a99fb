"""DiscordRest against the fake Discord server: rate limits, retries, errors, and every call's shape."""

from __future__ import annotations

import pytest

from synapse.discord.rest import DiscordRest
from synapse.errors import DiscordError, RateLimited
from tests.support.fake_discord import FakeDiscord
from tests.support.fake_time import FakeTime

MESSAGES = "POST /channels/{channel_id}/messages"
ROLES = "PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}"


@pytest.fixture
def fake(fake_time: FakeTime) -> FakeDiscord:
    with FakeDiscord(clock=fake_time.monotonic) as server:
        yield server


@pytest.fixture
def rest(fake: FakeDiscord, fake_time: FakeTime) -> DiscordRest:
    client = fake.client(sleep=fake_time.sleep, monotonic=fake_time.monotonic)
    yield client
    client.close()


def test_bucket_learned_from_headers_waits_for_reset_instead_of_hitting_429(
        fake: FakeDiscord, rest: DiscordRest, fake_time: FakeTime) -> None:
    """An exhausted bucket (Remaining 0) makes the client wait Reset-After; Discord never answers 429."""
    fake.set_limit(MESSAGES, limit=2, window=5.0)
    for i in range(3):
        rest.create_message("1", content=f"m{i}")
    assert fake_time.sleeps == [5.0]
    assert [r.status for r in fake.requests] == [200, 200, 200]
    assert len(fake.messages) == 3


def test_buckets_are_per_top_level_resource(fake: FakeDiscord, rest: DiscordRest, fake_time: FakeTime) -> None:
    """Exhausting channel 1's bucket does not delay channel 2 (channel_id is a top-level resource)."""
    fake.set_limit(MESSAGES, limit=1, window=5.0)
    rest.create_message("1", content="a")
    rest.create_message("2", content="b")
    assert fake_time.sleeps == []
    rest.create_message("1", content="c")
    assert fake_time.sleeps == [5.0]


def test_429_retry_after_is_honoured_then_request_succeeds(
        fake: FakeDiscord, rest: DiscordRest, fake_time: FakeTime) -> None:
    """A 429 with retry_after 1.5 makes the client wait exactly 1.5 s and resend once."""
    fake.fail_next(MESSAGES, 429, n=1, retry_after=1.5)
    message = rest.create_message("1", content="hello")
    assert message["content"] == "hello"
    assert fake_time.sleeps == [1.5]
    assert [r.status for r in fake.requests] == [429, 200]


def test_long_429_raises_rate_limited_and_blocks_the_bucket_locally(
        fake: FakeDiscord, rest: DiscordRest) -> None:
    """A wait longer than max_inline_wait raises RateLimited with the data; the next call on that
    bucket raises without sending anything until the wait has passed."""
    fake.fail_next(MESSAGES, 429, n=1, retry_after=30.0)
    with pytest.raises(RateLimited) as caught:
        rest.create_message("1", content="hello")
    assert caught.value.retry_after == 30.0
    assert caught.value.is_global is False
    assert caught.value.bucket
    sent = len(fake.requests)
    with pytest.raises(RateLimited):
        rest.create_message("1", content="again")
    assert len(fake.requests) == sent
    rest.create_message("2", content="other channel is fine")
    assert len(fake.messages) == 1


def test_global_429_blocks_every_bot_route(fake: FakeDiscord, rest: DiscordRest, fake_time: FakeTime) -> None:
    """A global 429 holds back all bot requests, not only the route that got it."""
    fake.fail_next("*", 429, n=1, retry_after=20.0, is_global=True)
    with pytest.raises(RateLimited) as caught:
        rest.create_message("1", content="x")
    assert caught.value.is_global is True
    sent = len(fake.requests)
    with pytest.raises(RateLimited) as again:
        rest.add_role("9", "8", "7")
    assert again.value.is_global is True
    assert len(fake.requests) == sent
    fake_time.advance(20.1)
    rest.add_role("9", "8", "7")
    assert fake.member_roles[("9", "8")] == {"7"}


def test_short_global_429_is_waited_out(fake: FakeDiscord, rest: DiscordRest, fake_time: FakeTime) -> None:
    """A global 429 of 0.8 s is slept through; the request then goes out once."""
    fake.fail_next("*", 429, n=1, retry_after=0.8, is_global=True)
    rest.add_role("9", "8", "7", reason="level 5")
    assert fake_time.sleeps == [0.8]
    assert fake.role_changes == [{"action": "add", "guild_id": "9", "user_id": "8", "role_id": "7",
                                  "reason": "level 5"}]


def test_global_limit_of_50_per_second_is_respected_client_side(
        fake: FakeDiscord, rest: DiscordRest, fake_time: FakeTime) -> None:
    """The 51st bot request within one second waits for the window; the fake (enforcing 50/s) never 429s."""
    fake.set_global_limit(50)
    for i in range(51):
        rest.create_message(str(100 + i), content="x")  # 51 channels: no per-route bucket involved
    assert fake_time.sleeps == [1.0]
    assert all(r.status == 200 for r in fake.requests)


def test_interaction_webhooks_do_not_count_towards_the_global_limit(
        fake: FakeDiscord, rest: DiscordRest, fake_time: FakeTime) -> None:
    """Interaction follow-ups are not bound to the bot's global limit."""
    rest.global_per_second = 2
    for i in range(5):
        rest.create_followup(f"tok{i}", {"content": "hi"})
    assert fake_time.sleeps == []


def test_5xx_is_retried_with_exponential_backoff(fake: FakeDiscord, rest: DiscordRest, fake_time: FakeTime) -> None:
    """Two 500s, then success: waits 0.5 s then 1 s."""
    fake.fail_next(MESSAGES, 500, n=2)
    rest.create_message("1", content="x")
    assert fake_time.sleeps == [0.5, 1.0]
    assert [r.status for r in fake.requests] == [500, 500, 200]


def test_5xx_retries_are_bounded(fake: FakeDiscord, rest: DiscordRest, fake_time: FakeTime) -> None:
    """A Discord that keeps failing gives DiscordError(status=502) after max_retries, not a loop."""
    fake.fail_next(MESSAGES, 502, n=10)
    with pytest.raises(DiscordError) as caught:
        rest.create_message("1", content="x")
    assert caught.value.status == 502
    assert len(fake.requests) == 4
    assert fake_time.sleeps == [0.5, 1.0, 2.0]


@pytest.mark.parametrize(("status", "code"), [(403, 50013), (403, 50001), (404, 10003)])
def test_4xx_is_translated_and_never_retried(fake: FakeDiscord, rest: DiscordRest, status: int, code: int) -> None:
    """Missing Permissions / Missing Access / Unknown Channel: one request, DiscordError with the JSON code."""
    fake.channel_error("99", status, code)
    with pytest.raises(DiscordError) as caught:
        rest.create_message("99", content="x")
    assert (caught.value.status, caught.value.discord_code) == (status, code)
    assert len(fake.requests) == 1


def test_bad_token_is_401(fake: FakeDiscord, fake_time: FakeTime) -> None:
    """A wrong bot token is refused with 401 and not retried."""
    client = DiscordRest(base_url=fake.base_url, bot_token="wrong", sleep=fake_time.sleep,
                         monotonic=fake_time.monotonic)
    with pytest.raises(DiscordError) as caught:
        client.create_message("1", content="x")
    assert caught.value.status == 401
    assert len(fake.requests) == 1


def test_lost_response_is_retried_with_the_same_nonce_and_posts_once(fake: FakeDiscord, rest: DiscordRest) -> None:
    """The fake stores the message then answers 500; the retry carries the nonce and gets the same message."""
    fake.fail_next(MESSAGES, 500, n=1, after_commit=True)
    message = rest.create_message("1", content="level up", nonce="syn-1")
    assert len(fake.messages) == 1
    assert message["id"] == fake.messages[0]["id"]
    assert [r.json["nonce"] for r in fake.requests] == ["syn-1", "syn-1"]
    assert all(r.json["enforce_nonce"] is True for r in fake.requests)


def test_dropped_connection_retries_idempotent_calls_only(fake: FakeDiscord, rest: DiscordRest) -> None:
    """A connection closed without an answer is retried for a role change (idempotent), but not for
    a follow-up, which has no nonce and might already exist."""
    fake.fail_next(ROLES, 0)
    rest.add_role("1", "2", "3")
    assert fake.member_roles[("1", "2")] == {"3"}
    fake.fail_next("POST /webhooks/{webhook_id}/{webhook_token}", 0)
    with pytest.raises(DiscordError) as caught:
        rest.create_followup("tok", {"content": "x"})
    assert caught.value.status == 0
    assert len(fake.requests_to("POST /webhooks/{webhook_id}/{webhook_token}")) == 1


def test_unreachable_discord_is_status_0(fake_time: FakeTime) -> None:
    """Nothing listening: DiscordError(status=0) after bounded retries."""
    from tests.support.services import free_port

    client = DiscordRest(base_url=f"http://127.0.0.1:{free_port()}/api/v10", bot_token="t",
                         sleep=fake_time.sleep, monotonic=fake_time.monotonic, max_retries=2)
    with pytest.raises(DiscordError) as caught:
        client.create_message("1", content="x")
    assert caught.value.status == 0
    assert fake_time.sleeps == [0.5, 1.0]


def test_create_message_shape(fake: FakeDiscord, rest: DiscordRest) -> None:
    """Embeds, content, nonce, enforce_nonce and allowed_mentions go out as Discord expects."""
    rest.create_message("5", embeds=[{"title": "Level 2", "color": 1}], content="<@42> @everyone",
                        nonce="n" * 25, allowed_mentions={"parse": [], "users": ["42"]})
    body = fake.requests[0].json
    assert body == {"embeds": [{"title": "Level 2", "color": 1}], "content": "<@42> @everyone",
                    "nonce": "n" * 25, "enforce_nonce": True, "allowed_mentions": {"parse": [], "users": ["42"]}}
    assert fake.messages[0]["mentions"] == [{"id": "42"}]
    assert fake.messages[0]["mention_everyone"] is False
    assert fake.requests[0].headers["authorization"] == f"Bot {fake.bot_token}"
    assert fake.requests[0].headers["user-agent"].startswith("DiscordBot (")
    with pytest.raises(ValueError, match="25"):
        rest.create_message("5", content="x", nonce="n" * 26)


def test_roles_dms_commands_and_interaction_webhooks(fake: FakeDiscord, rest: DiscordRest) -> None:
    """add/remove role, create DM, bulk overwrite (global and guild), @original edit and follow-up."""
    rest.add_role("1", "2", "3", reason="milestone: First Steps")
    rest.remove_role("1", "2", "3")
    assert fake.member_roles[("1", "2")] == set()
    assert fake.role_changes[0]["reason"] == "milestone: First Steps"
    dm = rest.create_dm(77)
    assert dm["type"] == 1 and rest.create_dm("77")["id"] == dm["id"]
    commands = rest.bulk_overwrite_commands([{"name": "rank", "description": "Your rank"}])
    assert commands[0]["name"] == "rank" and commands[0]["application_id"] == fake.application_id
    guild_commands = rest.bulk_overwrite_commands([{"name": "top", "description": "Leaderboard"}], guild_id="9")
    assert guild_commands[0]["guild_id"] == "9"
    assert fake.commands[None][0]["name"] == "rank" and fake.commands["9"][0]["name"] == "top"
    edited = rest.edit_original_interaction_response("tok-1", {"content": "done"})
    assert fake.interaction_responses["tok-1"]["content"] == "done" and edited["content"] == "done"
    followup = rest.create_followup("tok-1", {"content": "more", "flags": 64})
    assert followup["flags"] == 64 and fake.followups[0]["token"] == "tok-1"
    assert "authorization" not in fake.requests_to(
        "POST /webhooks/{webhook_id}/{webhook_token}")[0].headers


def test_expired_interaction_token_is_unknown_webhook(fake: FakeDiscord, rest: DiscordRest) -> None:
    """An interaction token past its 15 minutes is 404 10015, not retried."""
    fake.expired_tokens.add("old")
    with pytest.raises(DiscordError) as caught:
        rest.edit_original_interaction_response("old", {"content": "late"})
    assert (caught.value.status, caught.value.discord_code) == (404, 10015)


def test_oauth2_code_exchange_and_user_endpoints(fake: FakeDiscord, rest: DiscordRest) -> None:
    """exchange_code → access token → /users/@me and /users/@me/guilds; codes are single use."""
    fake.add_oauth_user("code-1", user={"id": "42", "username": "ada"},
                        guilds=[{"id": "789", "name": "Study Hall", "permissions": "8", "owner": True}],
                        redirect_uri="http://localhost/cb")
    tokens = rest.exchange_code("code-1", "http://localhost/cb")
    assert tokens["token_type"] == "Bearer" and tokens["scope"] == "identify guilds"
    assert rest.get_current_user(tokens["access_token"])["username"] == "ada"
    guilds = rest.get_current_user_guilds(tokens["access_token"])
    assert guilds[0]["id"] == "789" and guilds[0]["permissions"] == "8"
    with pytest.raises(DiscordError) as caught:
        rest.exchange_code("code-1", "http://localhost/cb")
    assert caught.value.status == 400 and "code" in caught.value.message
    with pytest.raises(DiscordError) as bad_bearer:
        rest.get_current_user("nope")
    assert bad_bearer.value.status == 401


def test_from_settings_points_at_the_configured_base(fake: FakeDiscord) -> None:
    """DISCORD_API_BASE, DISCORD_BOT_TOKEN and DISCORD_APPLICATION_ID come from Settings."""
    with DiscordRest.from_settings(fake.settings()) as client:
        client.create_message("3", content="from settings")
    assert fake.messages[0]["content"] == "from settings"


def test_file_upload_on_interaction_edit(fake: FakeDiscord, rest: DiscordRest) -> None:
    """files go as multipart: payload_json plus files[0]; attachments are filled in."""
    from synapse.discord.rest import Upload

    message = rest.edit_original_interaction_response(
        "tok", {"content": "your export"}, files=[Upload("export.json", b'{"a": 1}', "application/json")])
    assert fake.uploads[0]["filename"] == "export.json" and fake.uploads[0]["content"] == b'{"a": 1}'
    assert fake.requests[0].json["attachments"] == [{"id": "0", "filename": "export.json"}]
    assert message["content"] == "your export" and message["attachments"][0]["filename"] == "export.json"


def test_static_guild_data(fake: FakeDiscord, rest: DiscordRest) -> None:
    """Channels, roles and members come from the fake's guild_data; a missing member is 404 10007."""
    fake.guild_data["9"] = {"channels": [{"id": "1", "name": "general", "type": 0}],
                            "roles": [{"id": "9", "name": "@everyone"}],
                            "members": {"42": {"user": {"id": "42"}, "roles": []}}}
    assert rest.get_guild_channels("9")[0]["name"] == "general"
    assert rest.get_guild_roles(9)[0]["id"] == "9"
    assert rest.get_guild_member("9", "42")["user"]["id"] == "42"
    with pytest.raises(DiscordError) as caught:
        rest.get_guild_member("9", "43")
    assert caught.value.discord_code == 10007


def test_guild_object_and_the_bot_user(fake: FakeDiscord, rest: DiscordRest) -> None:
    """GET /guilds/{id} carries afk_channel_id and the roles; GET /users/@me with the bot token is the bot,
    whose member in the guild lists its roles; an unknown guild is 404 10004."""
    from tests.support.fake_discord import channel, role

    fake.add_guild("9", name="G", afk_channel_id="3", channels=[channel("3", "AFK", type=2)],
                   roles=[role("21", "Synapse", position=2, managed=True, bot_id=fake.application_id)],
                   bot_roles=["21"])
    guild = rest.get_guild("9")
    assert guild["afk_channel_id"] == "3" and [r["name"] for r in guild["roles"]] == ["@everyone", "Synapse"]
    bot = rest.get_bot_user()
    assert bot["id"] == fake.application_id and bot["bot"] is True
    assert rest.get_guild_member("9", bot["id"])["roles"] == ["21"]
    assert rest.get_guild_channels("9")[0]["bitrate"] == 64000
    with pytest.raises(DiscordError) as caught:
        rest.get_guild("10")
    assert caught.value.discord_code == 10004
