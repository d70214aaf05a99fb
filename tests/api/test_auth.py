"""Login (Discord OAuth2 against the fake Discord) and authorisation of admin requests."""

from __future__ import annotations

import urllib.parse
from datetime import timedelta
from typing import Any

import jwt
import pytest

from synapse.api.deps import ALGORITHM, AUDIENCE, ISSUER
from tests.api.conftest import ADMIN, GUILD, NOW, OTHER, SECRET, Api
from tests.support.fake_discord import FakeDiscord

G = f"/api/guilds/{GUILD}"


def _login(api: Api, fake: FakeDiscord, code: str) -> Any:
    r = api.client.get("/api/auth/login", follow_redirects=False)
    assert r.status_code == 307
    target = urllib.parse.urlparse(r.headers["location"])
    assert target.netloc == "discord.com"
    q = urllib.parse.parse_qs(target.query)
    assert q["scope"] == ["identify guilds"] and q["response_type"] == ["code"]
    assert q["client_id"] == [api.settings.discord_client_id]
    redirect_uri = q["redirect_uri"][0]
    assert redirect_uri.endswith("/api/auth/callback")
    return api.client.get("/api/auth/callback", params={"code": code, "state": q["state"][0]},
                          follow_redirects=False)


@pytest.fixture
def oauth_api(make_api: Any, fake_discord: FakeDiscord) -> Api:
    return make_api(discord_api_base=fake_discord.base_url, discord_client_id=fake_discord.client_id,
                    discord_client_secret=fake_discord.client_secret)  # type: ignore[no-any-return]


def test_oauth_login_issues_token_with_administered_guilds(oauth_api: Api, fake_discord: FakeDiscord) -> None:
    """Owner / Administrator / Manage Guild count; plain members and unknown guilds do not."""
    api = oauth_api
    fake_discord.add_oauth_user("code-1", user={"id": "42", "username": "ada", "global_name": "Ada"}, guilds=[
        {"id": str(GUILD), "name": "T", "permissions": str(1 << 5)},     # Manage Guild
        {"id": str(OTHER), "name": "O", "permissions": "1024"},          # a plain member
        {"id": "555", "name": "Unknown to Synapse", "permissions": "8"},
    ])
    r = _login(api, fake_discord, "code-1")
    assert r.status_code == 307, r.text
    location = r.headers["location"]
    assert location.startswith("https://dash.example/auth/callback#")
    token = urllib.parse.parse_qs(urllib.parse.urlparse(location).fragment)["token"][0]
    claims = jwt.decode(token, SECRET, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                        options={"verify_exp": False})
    assert claims["sub"] == "42" and claims["guilds"] == [str(GUILD)]
    assert claims["exp"] - claims["iat"] == 3600
    me = api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["username"] == "Ada" and me["guilds"] == [{"guild_id": str(GUILD), "name": "Test Guild"}]


def test_oauth_admin_role_from_settings_counts(oauth_api: Api, fake_discord: FakeDiscord) -> None:
    """A member holding the guild's configured admin role administers it."""
    api = oauth_api
    api.sql("UPDATE settings SET value = '[\"777\"]' WHERE guild_id = :g AND key = 'admin_role_ids'", g=OTHER)
    api.member(42, "ada", guild=OTHER, roles=[777])
    fake_discord.add_oauth_user("code-2", user={"id": "42", "username": "ada"},
                                guilds=[{"id": str(OTHER), "name": "O", "permissions": "0"}])
    r = _login(api, fake_discord, "code-2")
    token = urllib.parse.parse_qs(urllib.parse.urlparse(r.headers["location"]).fragment)["token"][0]
    assert jwt.decode(token, options={"verify_signature": False})["guilds"] == [str(OTHER)]


def test_oauth_callback_rejects_bad_state_cookie_and_code(oauth_api: Api, fake_discord: FakeDiscord) -> None:
    """Forged state, a state from another browser, an expired state and a bad code are all 401."""
    api = oauth_api
    r = api.client.get("/api/auth/callback", params={"code": "x", "state": "forged"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    login = api.client.get("/api/auth/login", follow_redirects=False)
    state = urllib.parse.parse_qs(urllib.parse.urlparse(login.headers["location"]).query)["state"][0]
    api.client.cookies.clear()
    assert api.client.get("/api/auth/callback", params={"code": "x", "state": state}).status_code == 401
    assert _login(api, fake_discord, "no-such-code").status_code == 401
    api.clock.advance(minutes=11)
    login = api.client.get("/api/auth/login", follow_redirects=False)
    api.clock.advance(minutes=11)
    state = urllib.parse.parse_qs(urllib.parse.urlparse(login.headers["location"]).query)["state"][0]
    assert api.client.get("/api/auth/callback", params={"code": "x", "state": state}).status_code == 401
    assert api.client.get("/api/auth/callback").status_code == 422


def _token(**overrides: Any) -> str:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": str(ADMIN), "name": "ada", "guilds": [str(GUILD)],
              "iat": int(NOW.timestamp()), "exp": int((NOW + timedelta(hours=1)).timestamp())}
    secret = overrides.pop("secret", SECRET)
    claims.update(overrides)
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


MUTATIONS = [
    ("patch", f"{G}/admin/settings", {"timezone": "Europe/Paris"}),
    ("put", f"{G}/admin/modules/seasons", {"enabled": True}),
    ("post", f"{G}/admin/currencies", {"key": "gems", "name": "Gems"}),
    ("post", f"{G}/admin/regions", {"key": "hall", "name": "Hall", "channel_ids": ["5"]}),
    ("post", f"{G}/admin/awards", {"user_id": "7", "currency": "xp", "amount": 10, "reason": "r"}),
    ("post", f"{G}/admin/api-tokens", {"name": "bot"}),
]


def _state(api: Api) -> list[Any]:
    return [api.sql("SELECT count(*) FROM admin_log")[0][0], api.sql("SELECT count(*) FROM transactions")[0][0],
            api.sql("SELECT count(*) FROM currencies")[0][0], api.sql("SELECT count(*) FROM regions")[0][0],
            api.sql("SELECT count(*) FROM api_tokens")[0][0],
            api.sql("SELECT value FROM settings WHERE key = 'timezone' ORDER BY guild_id"),
            api.sql("SELECT enabled FROM modules WHERE key = 'seasons' ORDER BY guild_id")]


CASES = {
    "none": ({}, 401),
    "expired": ({"Authorization": "Bearer " + _token(exp=int((NOW - timedelta(seconds=1)).timestamp()))}, 401),
    "tampered": ({"Authorization": "Bearer " + _token()[:-3] + "AAA"}, 401),
    "wrong-secret": ({"Authorization": "Bearer " + _token(secret="another-secret-" + "y" * 32)}, 401),
    "wrong-audience": ({"Authorization": "Bearer " + _token(aud="someone-else")}, 401),
    "wrong-issuer": ({"Authorization": "Bearer " + _token(iss="evil")}, 401),
    "garbage": ({"Authorization": "Bearer not.a.jwt"}, 401),
    "basic": ({"Authorization": "Basic YWRhOnB3"}, 401),
    "other-guild": ({"Authorization": "Bearer " + _token(guilds=[str(OTHER)])}, 403),
    "no-guilds": ({"Authorization": "Bearer " + _token(guilds=[])}, 403),
    "api-token": ({"Authorization": "Bearer syn_notarealtoken"}, 403),  # API tokens are read-only
}


def test_admin_mutations_refused_and_nothing_changes(api: Api) -> None:
    """No token, expired, tampered, wrong audience/issuer → 401; admin of another guild → 403; nothing changes."""
    before = _state(api)
    for case, (headers, status) in CASES.items():
        for method, path, body in MUTATIONS:
            r = getattr(api.client, method)(path, json=body, headers=headers)
            assert r.status_code == status, (case, method, path, r.text)
            assert r.json()["error"]["code"] == ("unauthorized" if status == 401 else "forbidden")
    assert _state(api) == before
    for method, path, body in MUTATIONS:  # the same requests with a good token do change things
        assert getattr(api.client, method)(path, json=body, headers=api.auth()).status_code in (200, 201)
    assert _state(api) != before


def test_token_expires_with_the_clock(api: Api) -> None:
    """A token good now is refused once the (injected) clock passes its expiry."""
    headers = api.auth()
    assert api.client.get(f"{G}/admin/settings", headers=headers).status_code == 200
    api.clock.advance(seconds=3601)
    r = api.client.get(f"{G}/admin/settings", headers=headers)
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]


def test_reads_of_another_guild_are_forbidden(api: Api) -> None:
    """An admin of one guild cannot read another's admin pages either."""
    headers = api.auth(guilds=(GUILD,))
    for path in ["admin/settings", "admin/audit", "admin/rules", "admin/currencies", "admin/api-tokens"]:
        assert api.client.get(f"/api/guilds/{OTHER}/{path}", headers=headers).status_code == 403, path


def test_test_login_exists_only_in_test_mode(make_api: Any) -> None:
    """Without SYNAPSE_TEST_LOGIN the route is absent from the app and the OpenAPI document."""
    api = make_api(test_login=False)
    assert api.client.post("/api/auth/test-login", json={"user_id": "1"}).status_code in (404, 405)
    assert "/api/auth/test-login" not in api.client.get("/api/openapi.json").json()["paths"]


def test_cors_allows_only_the_dashboard_origin(api: Api) -> None:
    """Preflight from the dashboard origin is allowed; from elsewhere it is not."""
    ok = api.client.options(f"{G}/admin/settings", headers={
        "Origin": "https://dash.example", "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "authorization,content-type"})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://dash.example"
    bad = api.client.options(f"{G}/admin/settings", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "PATCH"})
    assert "access-control-allow-origin" not in bad.headers


def test_first_admin_login_sets_up_a_guild_the_bot_is_in(make_api: Any, fake_discord: FakeDiscord) -> None:
    """A guild the bot is in but Synapse never saw: its admin's login installs the default pack and admits them."""
    api = make_api(discord_api_base=fake_discord.base_url, discord_client_id=fake_discord.client_id,
                   discord_client_secret=fake_discord.client_secret, discord_bot_token=fake_discord.bot_token)
    fake_discord.add_guild(777000000000000001, name="Newcomers")   # the bot is a member there
    fake_discord.add_oauth_user("code-new", user={"id": "42", "username": "ada"}, guilds=[
        {"id": "777000000000000001", "name": "Newcomers", "permissions": "8"},
        {"id": "777000000000000002", "name": "Bot not here", "permissions": "8"},
        {"id": "777000000000000003", "name": "Not an admin", "permissions": "1024"},
    ])
    r = _login(api, fake_discord, "code-new")
    assert r.status_code == 307, r.text
    token = urllib.parse.parse_qs(urllib.parse.urlparse(r.headers["location"]).fragment)["token"][0]
    assert jwt.decode(token, options={"verify_signature": False})["guilds"] == ["777000000000000001"]
    rows = api.sql("SELECT guild_id, name FROM guilds WHERE guild_id BETWEEN 777000000000000000 AND 777999999999999999")
    assert [(r.guild_id, r.name) for r in rows] == [(777000000000000001, "Newcomers")]
    [init] = api.sql("SELECT request_id FROM admin_log WHERE guild_id = 777000000000000001 AND action = 'guild.init'")
    assert init.request_id == "onboarding:login"
    setup = api.client.get("/api/guilds/777000000000000001/admin/setup",
                           headers={"Authorization": f"Bearer {token}"}).json()
    assert setup["door"] == "login" and setup["rules"]
    # Discord was asked about the two unseen guilds the user administers, not about the third.
    asked = {rec.params["guild_id"] for rec in fake_discord.requests_to("GET /guilds/{guild_id}")}
    assert asked == {"777000000000000001", "777000000000000002"}
