"""Relay benchmark: cost per event and resident memory.

    .venv/bin/python bench/relay_bench.py [--events 100000] [--members 50000]

1. Cost per event of the relay's own work (normalise + contract check + batch +
   encode) on already-parsed discord.py objects, next to the floor: ``json.dumps``
   of the very same event dicts, measured in the same run. The full path (discord.py's
   parser and dispatch included) is printed for context.
2. Resident memory (RSS) after N events (messages, reactions, voice, joins) from
   a guild of M members, fed as raw gateway frames through discord.py's parsers,
   the cogs, the buffer and the batcher into a transport that discards; printed
   next to the RSS at 10 % of the run, to show that it stays flat (no member or
   message cache grows with the guild).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import discord

from relay.batcher import Batcher, encode_event
from relay.buffer import EventBuffer
from relay.client import RelayBot, add_cogs
from relay.context import RelayContext, contract_problems
from relay.normalise import message_created
from relay.telemetry import Stats
from tests.relay import payloads as p

KEY = b"bench-key"
WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dogs", "while", "members", "chat",
         "about", "code", "and", "games", "in", "the", "study", "halls"]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def text(rng: random.Random) -> str:
    body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 40)))
    if rng.random() < 0.1:
        body += " ```py\nprint('hi')\nreturn 1\n```"
    if rng.random() < 0.1:
        body += " https://example.com/page"
    return body


def frames(n: int, members: int, rng: random.Random) -> Any:
    """A realistic mix: 70 % messages, 20 % reactions, 7 % voice, 3 % joins, from `members` people."""
    base = 10**17
    for i in range(n):
        uid = str(base + rng.randrange(members))
        roll = rng.random()
        mid = str(base * 3 + i)
        if roll < 0.70:
            yield p.message_create(text(rng), mid=mid, author=p.user(uid, f"member{uid[-5:]}"),
                                   roles=[str(base + 7)])
        elif roll < 0.90:
            yield p.reaction_add(mid=str(base * 3 + rng.randrange(i + 1)), uid=uid)
        elif roll < 0.97:  # voice is a smaller crowd: the same few hundred join, move and leave
            voice_uid = str(base + rng.randrange(min(members, 500)))
            yield p.voice_update(voice_uid, rng.choice([p.VOICE, p.VOICE_2, None]))
        else:
            yield p.member_add(uid)


async def make_bot(sink: Any, stats: Stats | None = None) -> RelayBot:
    ctx = RelayContext(sink=sink, fingerprint_key=KEY, stats=stats or Stats())
    bot = RelayBot(ctx)
    await bot._async_setup_hook()
    await add_cogs(bot, ctx)
    state = bot._connection
    state.user = discord.ClientUser(state=state, data={"id": "1", "username": "bench", "discriminator": "0",
                                                       "avatar": None, "bot": True})
    return bot


async def cost(n: int, members: int) -> dict[str, float]:
    rng = random.Random(1)
    messages: list[discord.Message] = []
    bot = await make_bot(lambda e: None)
    state = bot._connection
    state.parsers["GUILD_CREATE"](p.guild_create()["d"])
    for _ in range(4):
        await asyncio.sleep(0)  # let the snapshot listener run before timing starts
    for i in range(n):
        frame = p.message_create(text(rng), mid=str(3 * 10**17 + i),
                                 author=p.user(str(10**17 + rng.randrange(members)), "m"), roles=["7"])
        channel, _ = state._get_guild_channel(frame["d"])
        messages.append(discord.Message(state=state, channel=channel, data=frame["d"]))  # type: ignore[arg-type]

    relay = floor = check = float("inf")
    for _ in range(3):  # best of three, for both, in the same run: the machine's noise hits both alike
        gc.collect()
        start = time.perf_counter()
        batcher = Batcher()
        events = []
        for message in messages:
            event = message_created(message, key=KEY)
            assert event is not None and not contract_problems(event)
            events.append(event)
            batcher.add(encode_event(event))
            if batcher.full():
                batcher.cut()
        batcher.drain()
        relay = min(relay, time.perf_counter() - start)

        start = time.perf_counter()
        for event in events:
            json.dumps(event)
        floor = min(floor, time.perf_counter() - start)

        start = time.perf_counter()
        for event in events:
            contract_problems(event)
        check = min(check, time.perf_counter() - start)

    # Full path: raw frame → discord.py parser + dispatch → cog → normalise → buffer (batch + encode).
    raw = [p.message_create(text(rng), mid=str(4 * 10**17 + i), author=p.user(str(10**17 + i % members), "m"))
           for i in range(n)]
    stats = Stats()

    async def deliver(batch: Any) -> None:
        stats.batches_out += 1

    buffer = EventBuffer(deliver, stats, linger=0.05)
    bot.ctx.sink = buffer.put
    runner = asyncio.create_task(buffer.run())
    parse = state.parsers["MESSAGE_CREATE"]
    start = time.perf_counter()
    for i, frame in enumerate(raw):
        parse(frame["d"])
        if i % 256 == 0:
            await asyncio.sleep(0)
    await buffer.flushed()
    full = time.perf_counter() - start
    buffer.close()
    await runner
    assert stats.events_in == n, stats
    return {"relay_us": relay / n * 1e6, "floor_us": floor / n * 1e6, "check_us": check / n * 1e6,
            "full_us": full / n * 1e6}


async def memory(n: int, members: int) -> dict[str, float]:
    rng = random.Random(2)
    stats = Stats()

    async def deliver(batch: Any) -> None:
        stats.batches_out += 1

    buffer = EventBuffer(deliver, stats, linger=0.05)
    bot = await make_bot(buffer.put, stats)
    state = bot._connection
    guild = p.guild_create()
    guild["d"]["member_count"] = members
    state.parsers["GUILD_CREATE"](guild["d"])
    runner = asyncio.create_task(buffer.run())
    gc.collect()
    before = rss_mb()
    marks: dict[int, float] = {}
    for i, frame in enumerate(frames(n, members, rng), start=1):
        state.parsers[frame["t"]](frame["d"])
        if i % 128 == 0:
            await asyncio.sleep(0)
        if i in (n // 10, n // 4, n // 2):
            await buffer.flushed()
            gc.collect()
            marks[i] = rss_mb()
    await buffer.flushed()
    buffer.close()
    await runner
    gc.collect()
    g = state._get_guild(int(p.GUILD))
    assert g is not None
    marks[n] = rss_mb()
    return {"rss_before_mb": before, "marks": marks,
            "events": stats.events_in, "skipped": stats.events_skipped, "batches": stats.batches_out,
            "cached_members": len(g._members), "cached_users": len(state._users),
            "voice_states": len(g._voice_states)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--cost-events", type=int, default=20_000)
    args = parser.parse_args()
    # Memory first, in a fresh process: the cost stage keeps 20,000 parsed messages alive.
    m = asyncio.run(memory(args.events, args.members))
    print(f"memory ({args.events:,} events from a guild of {args.members:,} members):")
    steps = ", ".join(f"{k:,}: {v:.1f}" for k, v in m["marks"].items())
    print(f"  RSS (MB) before {m['rss_before_mb']:.1f}; after events {steps}")
    print("  (the id-only author memory fills up to its 20,000-message cap in the first ~30,000 events)")
    print(f"  events relayed {m['events']:,} in {m['batches']:,} batches (+{m['skipped']:,} voice updates "
          f"that were no join/leave/move); cached members "
          f"{m['cached_members']}, users {m['cached_users']}, voice states {m['voice_states']}")

    c = asyncio.run(cost(args.cost_events, args.members))
    print(f"per event ({args.cost_events:,} message_create events, Python {sys.version.split()[0]}):")
    print(f"  relay normalise+check+batch+encode : {c['relay_us']:7.2f} µs")
    ratio = c["relay_us"] / c["floor_us"]
    print(f"  floor json.dumps of the same events : {c['floor_us']:7.2f} µs   (relay = {ratio:.1f}× floor)")
    print(f"    of which the per-event contract check (pydantic) : {c['check_us']:7.2f} µs")
    print(f"  full path incl. discord.py parse+dispatch : {c['full_us']:7.2f} µs")


if __name__ == "__main__":
    main()
