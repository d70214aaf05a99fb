"""The dashboard API and the slash commands read one model per screen: they show the same numbers.

Both go through the real app (the public API and ``/api/interactions`` are one FastAPI app) on a
real PostgreSQL; the member profile and the leaderboard are compared field by field.
"""

from __future__ import annotations

import re
from typing import Any

from synapse.db.ledger_store import post
from synapse.ledger.model import Kind, Posting
from tests.interactions import payloads as p
from tests.interactions.conftest import GUILD, World

G = f"/api/guilds/{GUILD}"
A, B, C, D, E = (910000000000000000 + i for i in range(5))


def api_profile(world: World, user_id: int) -> dict[str, dict[str, Any]]:
    response = world.client.get(f"{G}/members/{user_id}")
    assert response.status_code == 200, response.text
    return {b["currency"]: b for b in response.json()["balances"]}


def slash_profile(world: World, user_id: int) -> dict[str, Any]:
    """Level, rank and balance per currency as /profile renders them."""
    target = p.user(user_id, f"m{user_id}")
    embed = world.ok(p.command("profile", p.member(target)))["data"]["embeds"][0]
    head = re.search(r"\*\*Level (\d+)\*\*", embed["description"])
    rank = re.search(r"rank \*\*#([\d,]+)\*\*", embed["description"])
    fields = {f["name"]: f["value"] for f in embed.get("fields", [])}
    return {"level": int(head.group(1)) if head else None,
            "rank": int(rank.group(1).replace(",", "")) if rank else None, "fields": fields}


def slash_board(world: World, currency: str) -> list[tuple[int, int, int]]:
    """(rank, member, balance) of each /leaderboard line."""
    embed = world.ok(p.command("leaderboard", p.member(p.user(A, "a")), [p.opt("currency", currency)]))
    lines = embed["data"]["embeds"][0]["description"].splitlines()
    out = []
    for line in lines:
        m = re.match(r"\*\*#(\d+)\*\* <@(\d+)> — (-?[\d,]+)", line)
        if m:
            out.append((int(m.group(1)), int(m.group(2)), int(m.group(3).replace(",", ""))))
    return out


def correct(world: World, user_id: int, currency: str, amount: int, key: str) -> None:
    """A by-hand award or correction (``admin_award``), which may go below zero where the currency allows."""
    with world.engine.begin() as conn:
        post(conn, [Posting(guild_id=GUILD, user_id=user_id, currency=currency, amount=amount,
                            kind=Kind.admin_award, idempotency_key=f"test:{key}", occurred_at=world.clock.now())])


def api_board(world: World, currency: str) -> list[tuple[int, int, int]]:
    body = world.client.get(f"{G}/leaderboard/{currency}").json()
    return [(e["rank"], int(e["user_id"]), e["balance"]) for e in body["items"]]


def test_profile_and_leaderboard_agree_between_api_and_slash_commands_with_ties(world: World) -> None:
    """API profile and /profile show the same rank, level and balances, ties broken by member id, and both
    leaderboards list the same ranks."""
    world.seed_member(A, "a", xp=600, stars=2)
    world.seed_member(B, "b", xp=600, stars=2)   # ties A: the lower id ranks first
    world.seed_member(C, "c", xp=900, stars=1)
    world.seed_member(D, "d", xp=100)
    for currency in ("xp", "stars"):
        assert api_board(world, currency) == slash_board(world, currency)
    assert [(r, u) for r, u, _ in api_board(world, "xp")] == [(1, C), (2, A), (3, B), (4, D)]
    assert [(r, u) for r, u, _ in api_board(world, "stars")] == [(1, A), (2, B), (3, C)]
    for member in (A, B, C, D):
        api = api_profile(world, member)
        slash = slash_profile(world, member)
        assert slash["level"] == api["xp"]["level"]
        assert slash["rank"] == api["xp"]["rank"]
        for balance in api.values():
            shown = slash["fields"][f"{balance['symbol']} {balance['name']}".strip()]
            assert shown.split(" · ")[0] == f"{balance['balance']:,}"
            if balance.get("level") is not None:
                assert shown.endswith(f"level {balance['level']}")
        board = {u: r for r, u, _ in api_board(world, "stars")}
        assert api["stars"]["rank"] == board.get(member)
    assert api_profile(world, B)["xp"]["rank"] == 3 and slash_profile(world, B)["rank"] == 3


def test_a_member_at_zero_is_on_neither_board_and_ranks_skip_zero_wallets(world: World) -> None:
    """A wallet back at 0 has no rank anywhere; a negative balance ranks after every positive one on
    both the API and /profile, not behind the members at 0."""
    world.sql("UPDATE currencies SET allow_negative = true WHERE guild_id = :g AND key = 'gold'", g=GUILD)
    for member, name in ((A, "a"), (B, "b"), (C, "c"), (D, "d")):
        world.seed_member(member, name, xp=10)
    correct(world, A, "gold", 5, "a")
    correct(world, B, "gold", 3, "b")
    correct(world, C, "gold", -4, "c")
    correct(world, D, "gold", 7, "d1")
    correct(world, D, "gold", -7, "d2")            # back to 0
    assert world.balance(D, "gold") == 0
    assert api_board(world, "gold") == slash_board(world, "gold") == [(1, A, 5), (2, B, 3), (3, C, -4)]
    assert api_profile(world, C)["gold"]["rank"] == 3
    assert api_profile(world, D)["gold"]["rank"] is None
    footer = world.ok(p.command("leaderboard", p.member(p.user(D, "d")), [p.opt("currency", "gold")]))
    assert "You are not ranked yet" in footer["data"]["embeds"][0]["footer"]["text"]
