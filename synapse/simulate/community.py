"""A simulated Discord community: members, channels and what they do, deterministic for a seed.

Members differ in how active they are (lurkers to power users, a long tail), when
(a daily rhythm peaking in the evening, busier weekends, each member's own time
zone), and how (message lengths, code blocks in the help channels, replies,
links, threads, reactions, voice). A few misbehave the way anti-gaming rules
must catch: a spammer repeating one line, a reaction ring starring each other's
messages, a self-reactor, a voice farmer idling alone and deafened, a
post-and-delete farmer. Members join and leave along the way.

Events are produced in the relay's wire shape (DESIGN.md §2), snowflakes made
from their timestamps like Discord's, so the pipeline cannot tell them from the
real thing. Same seed, same ``end``, same arguments → the very same events.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

DISCORD_EPOCH_MS: Final = 1_420_070_400_000
COMMUNITY_EPOCH: Final = datetime(2024, 1, 1, tzinfo=UTC)  # channels and accounts predate any simulated period
# Activity share by hour of the member's local day: quiet nights, lunch bump, evening peak.
HOURLY: Final = (0.3, 0.2, 0.1, 0.05, 0.05, 0.1, 0.3, 0.6, 0.8, 0.9, 1.0, 1.1,
                 1.3, 1.2, 1.1, 1.1, 1.2, 1.4, 1.7, 2.0, 2.2, 2.0, 1.4, 0.7)
WEEKDAY: Final = (0.9, 0.9, 1.0, 1.0, 1.1, 1.4, 1.3)  # Monday … Sunday
EMOJI: Final = ("👍", "❤️", "😂", "🎉", "🔥", "👀", "✅", "🙏", "💯", "1187654321098765432")
NAMES: Final = ("ada", "linus", "grace", "guido", "ken", "barbara", "alan", "margaret", "dennis", "frances",
                "edsger", "radia", "donald", "sophie", "tim", "hedy", "john", "katherine", "bjarne", "anita",
                "yukihiro", "rasmus", "brendan", "james", "larry", "joan", "niklaus", "jean", "leslie", "mary")


def snowflake(at: datetime, sequence: int) -> int:
    ms = int(at.timestamp() * 1000)
    return ((ms - DISCORD_EPOCH_MS) << 22) | (sequence & 0x3FFFFF)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Member:
    user_id: int
    name: str
    avatar: str
    messages_per_day: float
    tz_offset: int
    code_affinity: float
    voice_per_day: float
    roles: list[int]
    kind: str = "regular"  # regular | spammer | ring | self_reactor | voice_farmer | deleter | bot
    joined_at: datetime | None = None
    left_at: datetime | None = None
    account_created_at: datetime | None = None

    def present(self, at: datetime) -> bool:
        return (self.joined_at is None or self.joined_at <= at) and (self.left_at is None or at < self.left_at)

    def actor(self) -> dict[str, Any]:
        return {"name": self.name, "avatar": self.avatar, "bot": self.kind == "bot",
                "roles": [str(r) for r in self.roles]}


@dataclass
class Community:
    guild_id: int
    text_channels: dict[str, int]
    voice_channels: dict[str, int]
    member_role: int
    members: list[Member] = field(default_factory=list)


@dataclass(frozen=True)
class SimulationConfig:
    seed: int = 42
    guild_id: int = 1_100_000_000_000_000_001
    members: int = 40
    days: float = 3.0
    end: datetime | None = None  # default: the current hour
    intensity: float = 1.0  # multiplies every rate
    misbehaviour: bool = True
    churn: bool = True  # members joining and leaving during the period


class Simulator:
    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        end = config.end or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        self.end = end.astimezone(UTC)
        self.start = self.end - timedelta(days=config.days)
        self._seq = 0
        self._voice_busy: dict[int, datetime] = {}
        self.community = self._community()
        # The cast depends on the seed only; what they do depends on the period too, so a live
        # continuation of the same community does not replay the history's exact moves.
        self.rng = random.Random(f"{config.seed}:{self.start.isoformat()}")

    # -- the cast --------------------------------------------------------------------------------

    def _id(self, at: datetime) -> int:
        self._seq += 1
        return snowflake(at, self._seq)

    def _community(self) -> Community:
        base = COMMUNITY_EPOCH
        g = self.config.guild_id
        text = {name: snowflake(base + timedelta(minutes=i), g % 4096 + i) for i, name in enumerate(
            ("general", "help", "python-help", "showcase", "off-topic", "study-hall", "announcements"))}
        voice = {name: snowflake(base + timedelta(minutes=20 + i), g % 4096 + 20 + i)
                 for i, name in enumerate(("lounge", "study-room", "gaming"))}
        community = Community(g, text, voice, member_role=snowflake(base, g % 4096 + 99))
        rng = self.rng
        for i in range(self.config.members):
            # A long tail: most members are quiet, a few carry the conversation.
            activity = min(150.0, rng.paretovariate(1.2) * 4.0) if rng.random() > 0.25 else rng.random() * 0.5
            created = base - timedelta(days=rng.randint(10, 3000))
            member = Member(
                user_id=snowflake(created, i), name=f"{NAMES[i % len(NAMES)]}{'' if i < len(NAMES) else i}",
                avatar=hashlib.md5(f"{self.config.seed}:{i}".encode()).hexdigest(),
                messages_per_day=activity, tz_offset=rng.choice((-8, -5, -5, 0, 0, 1, 1, 2, 3, 5, 8, 9)),
                code_affinity=rng.random() ** 2, voice_per_day=rng.random() * 2.5 if rng.random() < 0.45 else 0.0,
                roles=[community.member_role], account_created_at=created)
            community.members.append(member)
        if self.config.misbehaviour and len(community.members) >= 8:
            kinds = ["spammer", "ring", "ring", "self_reactor", "voice_farmer", "deleter"]
            for member, kind in zip(community.members[-len(kinds):], kinds, strict=True):
                member.kind = kind
                member.messages_per_day = max(member.messages_per_day, 8.0)
        # Newcomers join during the period, a few members leave.
        span = (self.end - self.start).total_seconds()
        for member in community.members if self.config.churn else []:
            if rng.random() < 0.15:
                member.joined_at = self.start + timedelta(seconds=rng.random() * span * 0.8)
                if rng.random() < 0.3:  # a fresh account, the typical spam-bot profile
                    member.account_created_at = member.joined_at - timedelta(hours=rng.randint(1, 48))
            elif rng.random() < 0.05:
                member.left_at = self.start + timedelta(seconds=rng.random() * span)
        return community

    # -- activity --------------------------------------------------------------------------------

    def _rate(self, member: Member, at: datetime, per_day: float) -> float:
        local = at + timedelta(hours=member.tz_offset)
        return per_day / 24.0 * HOURLY[local.hour] * WEEKDAY[local.weekday()] * self.config.intensity

    def _poisson(self, mean: float) -> int:
        if mean <= 0:
            return 0
        # Knuth's method; means here stay small (events per member-hour).
        limit, k, p = math.exp(-mean), 0, 1.0
        while True:
            p *= self.rng.random()
            if p <= limit:
                return k
            k += 1

    def events(self) -> list[dict[str, Any]]:
        """Every event of the simulated period, in time order."""
        out: list[dict[str, Any]] = []
        recent: list[tuple[int, int, int, datetime]] = []  # (message_id, author, channel, at)
        out.append(self._event("voice_state_snapshot", f"voice_state_snapshot:{self.config.guild_id}:"
                               f"{iso(self.start)}", None, None, self.start, {"members": []}, None))
        for member in self.community.members:
            if member.joined_at is not None:
                out.append(self._join(member))
            if member.left_at is not None:
                out.append(self._event("member_leave", f"member_leave:{member.user_id}:{iso(member.left_at)}",
                                       member, None, member.left_at,
                                       {"account_created_at": iso(member.account_created_at or self.start),
                                        "is_bot": False}))
        hour = self.start
        while hour < self.end:
            batch: list[dict[str, Any]] = []
            for member in self.community.members:
                if not member.present(hour):
                    continue
                for _ in range(self._poisson(self._rate(member, hour, member.messages_per_day))):
                    at = hour + timedelta(seconds=self.rng.random() * 3600)
                    batch.extend(self._messages(member, at, recent))
                if member.kind == "voice_farmer" and hour.hour % 8 == 0:
                    batch.extend(self._voice(member, hour, farm=True))
            batch.extend(self._hangouts(hour))
            batch.extend(self._reactions(hour, recent))
            batch.sort(key=lambda e: e["occurred_at"])
            out.extend(e for e in batch if e["occurred_at"] < iso(self.end))
            recent[:] = [r for r in recent if r[3] > hour - timedelta(hours=6)][-400:]
            hour += timedelta(hours=1)
        out.sort(key=lambda e: e["occurred_at"])
        return out

    def _event(self, kind: str, key: str, member: Member | None, channel: int | None, at: datetime,
               payload: dict[str, Any], actor: dict[str, Any] | None = None, *, user_id: int | None = None
               ) -> dict[str, Any]:
        actor_id = user_id if user_id is not None else (member.user_id if member is not None else None)
        event: dict[str, Any] = {
            "source_system": "discord", "source_event_id": key, "event_type": kind,
            "guild_id": str(self.config.guild_id),
            "user_id": None if actor_id is None else str(actor_id),
            "channel_id": None if channel is None else str(channel), "occurred_at": iso(at), "payload": payload}
        if member is not None:
            event["actor"] = actor or member.actor()
        return event

    def _join(self, member: Member) -> dict[str, Any]:
        at = member.joined_at or self.start
        return self._event("member_join", f"member_join:{member.user_id}:{iso(at)}", member, None, at,
                           {"account_created_at": iso(member.account_created_at or at), "is_bot": False})

    def _channel_for(self, member: Member, code: bool) -> tuple[str, int]:
        names = list(self.community.text_channels)
        if code:
            name = self.rng.choice(("help", "python-help", "showcase"))
        else:
            name = self.rng.choices(names[:-1], weights=(5, 2, 2, 1, 3, 2))[0]
        return name, self.community.text_channels[name]

    def _fingerprint(self, *parts: object) -> str:
        return hashlib.blake2b(":".join(str(p) for p in parts).encode(), digest_size=16).hexdigest()

    def _messages(self, member: Member, at: datetime, recent: list[tuple[int, int, int, datetime]]
                  ) -> list[dict[str, Any]]:
        rng = self.rng
        if member.kind == "spammer" and rng.random() < 0.5:
            # A burst of the same short line, seconds apart: cooldowns and repeat guards must hold.
            out = []
            for i in range(rng.randint(5, 12)):
                t = at + timedelta(seconds=2 * i)
                mid = self._id(t)
                out.append(self._message(member, mid, self.community.text_channels["general"], t,
                                         length=rng.randint(8, 20), code=False, links=1,
                                         fingerprint=self._fingerprint("spam", member.user_id)))
            return out
        code = rng.random() < member.code_affinity * 0.35
        name, channel = self._channel_for(member, code)
        mid = self._id(at)
        length = int(min(1900, max(1, rng.lognormvariate(3.6, 1.0)))) + (rng.randint(80, 600) if code else 0)
        reply_to = None
        if recent and rng.random() < 0.3:
            reply_to = rng.choice(recent)
            channel = reply_to[2]
        out = [self._message(member, mid, channel, at, length=length, code=code,
                             links=1 if rng.random() < 0.08 else 0, reply_to=reply_to)]
        recent.append((mid, member.user_id, channel, at))
        if member.kind == "deleter" and rng.random() < 0.6:
            t = at + timedelta(seconds=rng.randint(20, 240))
            out.append(self._event("message_delete", f"message_delete:{mid}", member, channel, t,
                                   {"message_id": str(mid)}))
        if name in ("help", "python-help", "showcase") and rng.random() < 0.08:
            t = at + timedelta(seconds=rng.randint(5, 60))
            thread = self._id(t)
            out.append(self._event("thread_create", f"thread_create:{thread}", member, channel, t,
                                   {"thread_id": str(thread), "parent_id": str(channel)}))
            for _ in range(rng.randint(1, 6)):
                t = t + timedelta(seconds=rng.randint(30, 900))
                author = rng.choice([m for m in self.community.members if m.present(t)] or [member])
                tid = self._id(t)
                out.append(self._message(author, tid, thread, t, length=int(rng.lognormvariate(3.8, 0.8)),
                                         code=rng.random() < author.code_affinity * 0.5, links=0,
                                         thread_id=thread))
        return out

    def _message(self, member: Member, mid: int, channel: int, at: datetime, *, length: int, code: bool,
                 links: int, reply_to: tuple[int, int, int, datetime] | None = None, thread_id: int | None = None,
                 fingerprint: str | None = None) -> dict[str, Any]:
        length = max(1, length)
        return self._event("message_create", f"message_create:{mid}", member, channel, at, {
            "length": length, "words": max(1, int(length / self.rng.uniform(4.5, 6.5))),
            "has_code_block": code, "code_block_lines": self.rng.randint(3, 40) if code else 0,
            "links": links, "attachments": 1 if self.rng.random() < 0.05 else 0,
            "mentions": 1 if reply_to or self.rng.random() < 0.1 else 0, "is_reply": reply_to is not None,
            "reply_to_user_id": str(reply_to[1]) if reply_to else None,
            "thread_id": str(thread_id) if thread_id else None,
            "fingerprint": fingerprint or self._fingerprint(self.config.seed, mid),
            "is_bot": member.kind == "bot", "is_webhook": False})

    def _reactions(self, hour: datetime, recent: list[tuple[int, int, int, datetime]]) -> list[dict[str, Any]]:
        rng = self.rng
        out: list[dict[str, Any]] = []
        fresh = [r for r in recent if hour - timedelta(hours=2) <= r[3] < hour + timedelta(hours=1)]
        if not fresh:
            return out
        people = [m for m in self.community.members if m.present(hour)]
        ring = [m for m in people if m.kind == "ring"]
        for member in people:
            mean = self._rate(member, hour, member.messages_per_day * 0.6)
            for _ in range(self._poisson(mean)):
                mid, author, channel, posted = rng.choice(fresh)
                if member.kind == "ring" and ring:
                    partner_posts = [r for r in fresh if r[1] in {m.user_id for m in ring} - {member.user_id}]
                    if partner_posts:
                        mid, author, channel, posted = rng.choice(partner_posts)
                elif member.kind == "self_reactor":
                    own = [r for r in fresh if r[1] == member.user_id]
                    if own:
                        mid, author, channel, posted = rng.choice(own)
                elif author == member.user_id:
                    continue
                at = max(posted, hour) + timedelta(seconds=rng.randint(5, 1800))
                emoji = rng.choice(EMOJI)
                key = f"{mid}:{member.user_id}:{emoji}"
                payload = {"message_id": str(mid), "message_author_id": str(author), "emoji": emoji, "burst": False}
                out.append(self._event("reaction_add", f"reaction_add:{key}", member, channel, at, payload))
                if rng.random() < 0.07:  # changed their mind (or a toggle-farmer)
                    out.append(self._event("reaction_remove", f"reaction_remove:{key}", member, channel,
                                           at + timedelta(seconds=rng.randint(2, 300)), dict(payload)))
        return out

    def _hangouts(self, hour: datetime) -> list[dict[str, Any]]:
        """Members meeting in voice: a few join the same channel within minutes of each other."""
        rng = self.rng
        talkers = [m for m in self.community.members
                   if m.voice_per_day > 0 and m.kind != "voice_farmer" and m.present(hour)
                   and self._voice_busy.get(m.user_id, hour) <= hour]
        if len(talkers) < 2:
            return []
        out: list[dict[str, Any]] = []
        mean = sum(self._rate(m, hour, m.voice_per_day) for m in talkers) / 2.5
        for _ in range(self._poisson(mean)):
            free = [m for m in talkers if self._voice_busy.get(m.user_id, hour) <= hour]
            if len(free) < 2:
                break
            group = rng.sample(free, min(len(free), rng.randint(2, 5)))
            channel = rng.choice(list(self.community.voice_channels.values())[:2])
            start = hour + timedelta(seconds=rng.random() * 3000)
            for member in group:
                at = start + timedelta(seconds=rng.randint(0, 600))
                out.extend(self._voice(member, at, channel=channel))
        return out

    def _voice(self, member: Member, at: datetime, *, farm: bool = False, channel: int | None = None
               ) -> list[dict[str, Any]]:
        rng = self.rng
        if farm:
            channel = self.community.voice_channels["gaming"]
            minutes, deaf = rng.randint(120, 300), True
        else:
            channel = channel or self.community.voice_channels["lounge"]
            minutes, deaf = int(rng.lognormvariate(3.4, 0.7)) + 1, rng.random() < 0.05
        self._voice_busy[member.user_id] = at + timedelta(minutes=minutes + 1)
        events = []
        payload = {"channel_id": str(channel), "self_mute": rng.random() < 0.3, "self_deaf": deaf,
                   "members_in_channel": 1}
        events.append(self._event("voice_join", f"voice_join:{member.user_id}:{channel}:{iso(at)}", member,
                                  channel, at, payload))
        end = at + timedelta(minutes=minutes, seconds=rng.randint(0, 59))
        if not farm and rng.random() < 0.15:
            mid = at + (end - at) / 2
            other = self.community.voice_channels["gaming"]
            events.append(self._event("voice_move", f"voice_move:{member.user_id}:{other}:{iso(mid)}", member,
                                      other, mid, {**payload, "channel_id": str(other),
                                                   "from_channel_id": str(channel)}))
            channel = other
        if end < self.end:
            events.append(self._event("voice_leave", f"voice_leave:{member.user_id}:{channel}:{iso(end)}", member,
                                      channel, end, {**payload, "channel_id": str(channel),
                                                     "from_channel_id": str(channel)}))
        return events


def simulate(config: SimulationConfig) -> list[dict[str, Any]]:
    return Simulator(config).events()


def envelopes(events: list[dict[str, Any]], *, max_events: int = 200) -> Iterator[str]:
    """Cut events into envelope texts the way the relay does: by count and by encoded size."""
    from synapse.eventlake.envelope import MAX_MESSAGE_BYTES, encode_envelope

    budget = (MAX_MESSAGE_BYTES // 4) * 3 - 1024  # base64 makes 4 bytes of 3; keep 1 KiB spare
    batch: list[dict[str, Any]] = []
    size = 20
    for event in events:
        piece = len(encode_envelope([event]).encode("utf-8")) - 20
        if batch and (len(batch) >= max_events or size + piece + 1 > budget):
            yield encode_envelope(batch)
            batch, size = [], 20
        batch.append(event)
        size += piece + 1
    if batch:
        yield encode_envelope(batch)
