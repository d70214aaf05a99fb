"""A deterministic community simulator: realistic event streams for tests, backtests and benchmarks.

``simulate(guild_id, start=..., hours=24, members=30, seed=1)`` returns events sorted by
time: messages (bursty, a few too short), reactions (some self-reactions, some removed),
voice ticks (alone or in company, sometimes deafened), threads, deletions and joins.
Pure: the same arguments always give the same events.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from synapse.eventlake.events import DISCORD, Actor, Event, make_event

START = datetime(2025, 1, 15, tzinfo=UTC)


@dataclass(frozen=True)
class Community:
    guild_id: int
    members: tuple[int, ...]
    channels: tuple[int, ...]
    voice_channels: tuple[int, ...]


def community(guild_id: int, members: int = 30) -> Community:
    return Community(guild_id, tuple(10_000 + i for i in range(members)), (501, 502, 503, 504), (601, 602))


def message(guild_id: int, user_id: int, message_id: int, at: datetime, *, channel_id: int = 501,
            length: int = 40, fingerprint: str | None = None, event_id: int | None = None,
            roles: tuple[int, ...] = (), bot: bool = False) -> Event:
    return Event(DISCORD, f"message_create:{message_id}", "message_create", guild_id, user_id, channel_id, at,
                 {"length": length, "words": max(1, length // 6), "has_code_block": False, "links": 0,
                  "attachments": 0, "mentions": 0, "is_reply": False,
                  "fingerprint": fingerprint or f"fp{message_id}"},
                 Actor(name=f"m{user_id}", bot=bot, roles=roles), event_id)


def reaction(guild_id: int, user_id: int, message_id: int, author_id: int, at: datetime, *, emoji: str = "👍",
             removed: bool = False, channel_id: int = 501, event_id: int | None = None) -> Event:
    kind = "reaction_remove" if removed else "reaction_add"
    return Event(DISCORD, f"{kind}:{message_id}:{user_id}:{emoji}", kind, guild_id, user_id, channel_id, at,
                 {"message_id": str(message_id), "message_author_id": str(author_id), "emoji": emoji},
                 Actor(name=f"m{user_id}"), event_id)


def voice_tick(guild_id: int, user_id: int, at: datetime, *, channel_id: int = 601, members_in_channel: int = 2,
               self_deaf: bool = False, event_id: int | None = None) -> Event:
    minute = at.replace(second=0, microsecond=0).isoformat()
    return Event("synapse", f"voice_tick:{user_id}:{channel_id}:{minute}", "voice_tick", guild_id, user_id,
                 channel_id, at, {"minutes": 1, "members_in_channel": members_in_channel, "self_deaf": self_deaf,
                                  "self_mute": False}, Actor(name=f"m{user_id}"), event_id)


def simulate(guild_id: int, *, start: datetime = START, hours: float = 24, members: int = 30,
             seed: int = 1) -> list[Event]:
    rng = random.Random(seed)
    com = community(guild_id, members)
    span = hours * 3600
    events: list[Event] = []
    next_message = rng.randrange(10**6, 10**7) * 1000
    posted: list[tuple[int, int, datetime]] = []   # (message id, author, time)
    for uid in com.members:
        activity = rng.paretovariate(1.2)          # a few very active members, a long tail
        n_messages = min(int(activity * 25 * hours / 24), int(600 * hours / 24))
        t = rng.uniform(0, span / 4)
        for _ in range(n_messages):
            # bursts: mostly quick replies, sometimes a long pause
            t += rng.expovariate(1 / 25) if rng.random() < 0.7 else rng.expovariate(1 / 1800)
            if t >= span:
                break
            next_message += 1
            at = start + timedelta(seconds=t)
            length = rng.choice((2, 3, 12, 40, 80, 160, 300)) if rng.random() < 0.95 else 1
            events.append(message(guild_id, uid, next_message, at, channel_id=rng.choice(com.channels),
                                  length=length, fingerprint=f"fp{rng.randrange(40)}" if length < 5 else None))
            posted.append((next_message, uid, at))
    for mid, author, at in posted:
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2, 4))):
            reactor = rng.choice(com.members) if rng.random() < 0.93 else author
            when = at + timedelta(seconds=rng.uniform(1, 900))
            if when >= start + timedelta(seconds=span):
                continue
            emoji = rng.choice(("👍", "❤️", "😂"))
            events.append(reaction(guild_id, reactor, mid, author, when, emoji=emoji))
            if rng.random() < 0.05:
                events.append(reaction(guild_id, reactor, mid, author, when + timedelta(seconds=30), emoji=emoji,
                                       removed=True))
        if rng.random() < 0.02:
            gone = at + timedelta(seconds=rng.uniform(5, 1200))
            events.append(Event(DISCORD, f"message_delete:{mid}", "message_delete", guild_id, author, 501, gone,
                                {"message_id": str(mid)}, Actor(name=f"m{author}")))
    for uid in com.members:
        if rng.random() < 0.4:
            begin = rng.uniform(0, span * 0.8)
            minutes = int(rng.uniform(10, 180))
            company = rng.choice((1, 2, 3, 5))
            deaf = rng.random() < 0.1
            for k in range(minutes):
                at = start + timedelta(seconds=begin + 60 * k)
                if at >= start + timedelta(seconds=span):
                    break
                events.append(voice_tick(guild_id, uid, at, members_in_channel=company, self_deaf=deaf))
        if rng.random() < 0.2:
            tid = rng.randrange(10**8, 10**9)
            at = start + timedelta(seconds=rng.uniform(0, span))
            events.append(Event(DISCORD, f"thread_create:{tid}", "thread_create", guild_id, uid, 501, at,
                                {"thread_id": str(tid), "parent_id": "501"}, Actor(name=f"m{uid}")))
    for i in range(max(1, members // 10)):
        uid = 90_000 + i
        at = start + timedelta(seconds=rng.uniform(0, span))
        events.append(Event(DISCORD, f"member_join:{uid}:{at.isoformat()}", "member_join", guild_id, uid, None, at,
                            {"account_created_at": "2020-01-01T00:00:00Z", "is_bot": False}, Actor(name=f"n{uid}")))
    events.sort(key=lambda e: (e.occurred_at, e.source_event_id))
    return events


def to_wire(event: Event) -> dict[str, Any]:
    """A compact raw form (what a decoder reads) for throughput floors."""
    return {"s": event.source_system, "k": event.source_event_id, "t": event.event_type, "g": event.guild_id,
            "u": event.user_id, "c": event.channel_id, "at": event.occurred_at.timestamp(), "p": event.payload,
            "n": event.actor.name if event.actor else None, "id": event.id}


# Actors are immutable values: a decoder may share one per display name (bounded, for long runs).
_actors: dict[str | None, Actor] = {}


def from_wire(raw: dict[str, Any]) -> Event:
    name = raw["n"]
    actor = _actors.get(name)
    if actor is None:
        if len(_actors) >= 10_000:
            _actors.clear()
        actor = _actors[name] = Actor(name=name)
    return make_event(raw["s"], raw["k"], raw["t"], raw["g"], raw["u"], raw["c"],
                      datetime.fromtimestamp(raw["at"], UTC), raw["p"], actor, raw["id"])
