"""Rules compiled once into closures, indexed by trigger event type.

Validation (pydantic) happens when a rule is saved or loaded; the hot loop only calls
these closures. A condition returns ``None`` when it holds, else a short reason.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from typing import Any, Final
from zoneinfo import ZoneInfo

from synapse.eventlake.events import Event
from synapse.ledger import keys
from synapse.ledger.model import Kind, Posting, make_posting
from synapse.rules import model as m
from synapse.rules.decisions import Announcement, Evaluation, RoleChange
from synapse.rules.facts import NO_CHANNEL, Channel, Facts, Member
from synapse.rules.operators import OPERATORS, missing
from synapse.rules.text import escape, escape_values

MISSING = missing()
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WEEKDAY = {d: i for i, d in enumerate(m.WEEKDAYS)}
_NUMERIC: dict[str, Callable[[Any, Any], bool]] = {"<": operator.lt, "<=": operator.le, ">": operator.gt,
                                                   ">=": operator.ge}


@dataclass(frozen=True)
class RuleRecord:
    """A stored rule: its id, the version in force, and its validated definition."""

    rule_id: int
    version: int
    spec: m.RuleSpec


class Scope:
    """Per-event scratch: lazily fetched member/channel facts and what earlier rules already decided."""

    __slots__ = ("_channel", "_member", "author", "caps", "event", "facts", "once_keys", "payload", "pending_balance",
                 "pending_credit")

    def __init__(self, event: Event, facts: Facts) -> None:
        self.event = event
        self.facts = facts
        self.payload = event.payload
        self._member: Member | bool | None = False
        self._channel: Channel | None = None
        self.caps: dict[tuple[int, str], int] = {}
        self.pending_credit: dict[tuple[int, str], int] = {}
        self.pending_balance: dict[tuple[int, str], int] = {}
        self.author: int | bool | None = False       # the message author of a reaction, once parsed
        self.once_keys: tuple[int, list[str]] | None = None  # (rule, its effects' once-per-reactor keys)

    def member(self) -> Member | None:
        if self._member is False:
            uid = self.event.user_id
            self._member = None if uid is None else self.facts.member(uid, self.event.occurred_at)
        return self._member  # type: ignore[return-value]

    def channel(self) -> Channel:
        if self._channel is None:
            ch = self.event.channel_id
            self._channel = NO_CHANNEL if ch is None else self.facts.channel(ch)
        return self._channel

    def roles(self) -> frozenset[int]:
        actor = self.event.actor
        if actor is not None and actor.roles:
            return frozenset(actor.roles)
        mem = self.member()
        return mem.roles if mem is not None else frozenset()


Cond = Callable[[Scope], str | None]
Eff = Callable[[Scope, Evaluation], None]


@dataclass(slots=True)
class CompiledRule:
    rule_id: int
    version: int
    name: str
    module: str
    priority: int
    event: str
    source: str | None
    conds: list[tuple[str, Cond]]
    effects: list[Eff]
    has_cooldown: bool
    checks: tuple[Cond, ...] = field(init=False)   # the closures of ``conds`` without their paths (the hot loop)

    def __post_init__(self) -> None:
        self.checks = tuple(cond for _, cond in self.conds)


@dataclass(frozen=True)
class RuleSet:
    """Compiled rules of one guild, indexed by trigger event type (highest priority first)."""

    by_event: dict[str, tuple[CompiledRule, ...]]
    records: tuple[RuleRecord, ...] = ()
    disabled_modules: frozenset[str] = frozenset()
    max_depth: int = 3
    triggers: frozenset[str] = field(default_factory=frozenset)


def compile_rules(records: Iterable[RuleRecord], *, disabled_modules: Iterable[str] = (),
                  max_depth: int = 3, texts: Mapping[str, str] | None = None,
                  level_roles: LevelRoleTable | None = None) -> RuleSet:
    """Compile enabled rules of enabled modules.

    ``texts``: the guild's template settings (``levelup_template``, ``milestone_template``) for announce
    effects that name one; ``level_roles``: the guild's level role table, compiled as one more
    ``level_up`` rule (id 0, ``LEVEL_ROLES_RULE``).
    """
    off = frozenset(disabled_modules)
    recs = tuple(records)
    compiled = [compile_rule(r, texts) for r in recs if r.spec.enabled and r.spec.module not in off]
    if level_roles is not None and level_roles.ladders:
        compiled.append(level_role_rule(level_roles))
    compiled.sort(key=lambda c: (-c.priority, c.rule_id))
    by_event: dict[str, list[CompiledRule]] = {}
    for c in compiled:
        by_event.setdefault(c.event, []).append(c)
    return RuleSet({k: tuple(v) for k, v in by_event.items()}, recs, off, max_depth, frozenset(by_event))


# ---------------------------------------------------------------- helpers

def _int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _recipient(to: str) -> Callable[[Scope], int | None]:
    if to == "actor":
        return lambda s: s.event.user_id
    if to == "message_author":
        def author(s: Scope) -> int | None:
            # A reaction asks for its message's author up to three times (self-reaction, cap, credit): parsed once.
            a = s.author
            if a is False:
                a = s.author = _int(s.payload.get("message_author_id"))
            return a  # type: ignore[return-value]
        return author

    def from_payload(s: Scope) -> int | None:
        return _int(s.payload.get("reply_to_user_id"))
    return from_payload


def draw(event: Event, rule_id: int, index: int, low: int, high: int) -> int:
    """A uniform whole number in [low, high], a pure function of the event key, rule and effect."""
    seed = f"{event.source_system}:{event.source_event_id}:{rule_id}:{index}".encode()
    return low + int.from_bytes(blake2b(seed, digest_size=8).digest()) % (high - low + 1)


# What a clawback's event stands for: ``reaction_remove:{rest}`` takes back ``reaction_add:{rest}``.
CLAWBACK_ORIGINALS: Final = {"reaction_remove": "reaction_add", "message_delete": "message_create"}


def clawback_original(source_event_id: str) -> str | None:
    """The source event id whose credits a clawback event takes back (``None``: not a clawback event)."""
    kind, _, rest = source_event_id.partition(":")
    original = CLAWBACK_ORIGINALS.get(kind)
    return None if original is None else f"{original}:{rest}"


def _zone(tz: str) -> Any:
    return UTC if tz == "UTC" else ZoneInfo(tz)


_UTC_SPANS = {"hour": 3600, "day": 86400, "week": 7 * 86400}
_MONDAY = -3 * 86400   # 1969-12-29, the Monday before the epoch: UTC weeks are counted from it


def window_bounds(at: datetime, window: str, tz: Any,
                  season_start: datetime | None) -> tuple[datetime, datetime | None]:
    """The calendar window (hour, day, week from Monday, season) holding ``at``, as UTC bounds."""
    if window == "season":
        return (season_start or EPOCH), None
    if tz is UTC:
        # UTC windows tile time from the epoch (weeks from a Monday): arithmetic, no calendar.
        span = _UTC_SPANS[window]
        offset = _MONDAY if window == "week" else 0
        start = (at.timestamp() - offset) // span * span + offset
        return datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(start + span, UTC)
    return _local_bounds(at, window, tz)


def _utc_window(window: str) -> Callable[[datetime], tuple[datetime, datetime | None]]:
    """``window_bounds`` of one UTC calendar window (hour, day, week), remembering the last one: events
    come in time order, so most fall in the window of the one before. (UTC windows tile time exactly;
    local ones may not around a DST change, so they are always computed.)"""
    last: tuple[datetime, datetime | None] = (EPOCH, EPOCH)

    def bounds(at: datetime) -> tuple[datetime, datetime | None]:
        nonlocal last
        start, end = cached = last   # one read: another thread may replace it (with a valid window)
        if end is not None and start <= at < end:
            return cached
        last = window_bounds(at, window, UTC, None)
        return last
    return bounds


def _local_bounds(at: datetime, window: str, tz: Any) -> tuple[datetime, datetime | None]:
    local = at.astimezone(tz)
    if window == "hour":
        start = local.replace(minute=0, second=0, microsecond=0)
        return start.astimezone(UTC), (start + timedelta(hours=1)).astimezone(UTC)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if window == "week":
        start -= timedelta(days=start.weekday())
        return start.astimezone(UTC), (start + timedelta(days=7)).astimezone(UTC)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def _time_window(w: m.TimeWindow) -> Callable[[datetime], bool]:
    tz = _zone(w.tz)
    days = frozenset(_WEEKDAY[d] for d in w.days)
    sh, sm = map(int, w.start.split(":"))
    eh, em = map(int, w.end.split(":"))
    lo, hi = sh * 60 + sm, eh * 60 + em

    def inside(at: datetime) -> bool:
        local = at.astimezone(tz)
        minute = local.hour * 60 + local.minute
        if lo <= hi:
            return local.weekday() in days and lo <= minute < hi
        return local.weekday() in days and (minute >= lo or minute < hi)  # crosses midnight

    return inside


def _field_test(t: m.FieldTest) -> Callable[[Scope], bool]:
    op, name, value = OPERATORS[t.op], t.field, t.value
    return lambda s: op(s.payload.get(name, MISSING), value)


# ---------------------------------------------------------------- conditions

def _condition(c: Any, rule: RuleRecord, effect_recipients: dict[str, Callable[[Scope], int | None]]) -> Cond:
    rid = rule.rule_id
    if isinstance(c, m.ZoneCond):
        inc_r, inc_c = frozenset(c.regions), frozenset(int(x) for x in c.channels)
        ex_r, ex_c = frozenset(c.exclude_regions), frozenset(int(x) for x in c.exclude_channels)

        def zone(s: Scope) -> str | None:
            ch = s.event.channel_id
            if ch is None:
                return "no channel"
            if ch in ex_c:
                return "channel excluded"
            regions = s.channel().regions if (inc_r or ex_r) else frozenset()
            if regions & ex_r:
                return "region excluded"
            if (inc_r or inc_c) and ch not in inc_c and not regions & inc_r:
                return "outside the zone"
            return None
        return zone
    if isinstance(c, m.TagsCond):
        any_t, none_t = frozenset(c.any_of), frozenset(c.none_of)

        def tags(s: Scope) -> str | None:
            have = s.channel().tags
            if any_t and not have & any_t:
                return "channel lacks the tags"
            if have & none_t:
                return "channel has an excluded tag"
            return None
        return tags
    if isinstance(c, m.PayloadCond):
        op, name, value = OPERATORS[c.op], c.field, c.value
        why = f"payload {name} {c.op} {value!r} is false"
        fast = _NUMERIC.get(c.op)
        if fast is not None and value.__class__ in (int, float):
            # Plain int/float on both sides (the usual case): compare directly; anything else
            # (bools, strings, missing, number subclasses) goes through the registry as before.
            def numeric(s: Scope) -> str | None:
                a = s.payload.get(name, MISSING)
                if a.__class__ is int or a.__class__ is float:
                    return None if fast(a, value) else why
                return None if op(a, value) else why
            return numeric
        # The registry's equality operators, inlined (flags such as ``self_deaf`` and ``is_bot``).
        if c.op == "==":
            def equals(s: Scope) -> str | None:
                a = s.payload.get(name, MISSING)
                return None if a is not MISSING and a == value else why
            return equals
        if c.op == "!=":
            def differs(s: Scope) -> str | None:
                a = s.payload.get(name, MISSING)
                return None if a is MISSING or a != value else why
            return differs
        return lambda s: None if op(s.payload.get(name, MISSING), value) else why
    if isinstance(c, m.CooldownCond):
        span = timedelta(seconds=c.seconds)

        def cooldown(s: Scope) -> str | None:
            uid, at = s.event.user_id, s.event.occurred_at
            if uid is None:
                return "no member"
            return "cooldown" if s.facts.fired_between(rid, uid, at - span, at + span) else None
        return cooldown
    if isinstance(c, m.CapCond):
        cur, amount, window, tz = c.currency, c.amount, c.window, _zone(c.tz)
        who = effect_recipients.get(cur, _recipient("actor"))
        utc_bounds = _utc_window(window) if tz is UTC and window != "season" else None
        reached = f"{window} cap of {amount} {cur} reached"

        def cap(s: Scope) -> str | None:
            uid = who(s)
            if uid is None:
                return "no member"
            at = s.event.occurred_at
            if utc_bounds is not None:
                start, end = utc_bounds(at)
            else:
                season = s.facts.season_start(at) if window == "season" else None
                start, end = window_bounds(at, window, tz, season)
            used = s.facts.cap_used(uid, cur, start, end) + s.pending_credit.get((uid, cur), 0)
            left = amount - used
            if left <= 0:
                return reached
            key = (uid, cur)
            earlier = s.caps.get(key)
            s.caps[key] = left if earlier is None or left < earlier else earlier
            return None
        return cap
    if isinstance(c, m.RolesCond):
        any_r = frozenset(int(x) for x in c.any_of)
        none_r = frozenset(int(x) for x in c.none_of)

        def roles(s: Scope) -> str | None:
            have = s.roles()
            if any_r and not have & any_r:
                return "member lacks the roles"
            if have & none_r:
                return "member has an excluded role"
            return None
        return roles
    if isinstance(c, m.TimeWindowCond):
        inside = _time_window(c)
        return lambda s: None if inside(s.event.occurred_at) else "outside the time window"
    if isinstance(c, m.AgeCond):
        need = timedelta(days=c.min_days)
        account = c.of == "account"

        def age(s: Scope) -> str | None:
            mem = s.member()
            since = None if mem is None else (mem.account_created_at if account else mem.joined_at)
            if since is None and account:
                raw = s.payload.get("account_created_at")
                if isinstance(raw, str):
                    try:
                        since = datetime.fromisoformat(raw.replace("Z", "+00:00"))
                    except ValueError:
                        since = None
            if since is None:
                return f"{c.of} age unknown"
            return None if s.event.occurred_at - since >= need else f"{c.of} younger than {c.min_days} days"
        return age
    if isinstance(c, m.NotSelfReactionCond):
        author = _recipient("message_author")
        return lambda s: "self-reaction" if author(s) == s.event.user_id else None
    if isinstance(c, m.OncePerReactorCond):
        head = keys.OncePerReactor.prefix(rid)
        tails = [f":{i}" for i in range(len(rule.spec.effects))]

        def once(s: Scope) -> str | None:
            stem = _once_stem(head, s.event)
            once_keys = [stem + tail for tail in tails]
            if s.facts.any_posted(once_keys):
                return "reactor already credited for this message"
            s.once_keys = (rid, once_keys)   # the rule's postings reuse them
            return None
        return once
    if isinstance(c, m.RepeatGuardCond):
        within, most = timedelta(seconds=c.within_seconds), c.max_repeats

        def repeat(s: Scope) -> str | None:
            fp, uid = s.payload.get("fingerprint"), s.event.user_id
            if not fp or uid is None:
                return None
            at = s.event.occurred_at
            n = s.facts.fingerprint_repeats(uid, str(fp), at - within, at, s.event.source_event_id)
            return "repeated message" if n > most else None
        return repeat
    if isinstance(c, m.NotBotCond):
        def not_bot(s: Scope) -> str | None:
            actor = s.event.actor
            if actor is not None:
                return "bot" if actor.bot else None
            mem = s.member()
            return "bot" if mem is not None and mem.is_bot else None
        return not_bot
    if isinstance(c, m.AllCond):
        parts = [_condition(x, rule, effect_recipients) for x in c.conditions]

        def all_(s: Scope) -> str | None:
            for i, p in enumerate(parts):
                why = p(s)
                if why is not None:
                    return f"conditions[{i}]: {why}"
            return None
        return all_
    if isinstance(c, m.AnyCond):
        parts = [_condition(x, rule, effect_recipients) for x in c.conditions]

        def any_(s: Scope) -> str | None:
            reasons = []
            for p in parts:
                why = p(s)
                if why is None:
                    return None
                reasons.append(why)
            return "none held (" + "; ".join(reasons) + ")"
        return any_
    if isinstance(c, m.NotCond):
        inner = _condition(c.condition, rule, effect_recipients)
        return lambda s: "negated condition held" if inner(s) is None else None
    raise TypeError(f"unknown condition {type(c).__name__}")  # pragma: no cover - the model forbids it


def _once_stem(head: str, event: Event) -> str:
    """``keys.OncePerReactor(rule, message, reactor, i).render()`` up to ``:{i}``, from the rule's
    ``OncePerReactor.prefix`` (an f-string prints the payload's message id as ``str()`` does)."""
    return f"{head}{event.payload.get('message_id')}:{event.user_id}"


def _once_key(rule_id: int, event: Event, index: int) -> str:
    return f"{_once_stem(keys.OncePerReactor.prefix(rule_id), event)}:{index}"


def _posting_key(rule_id: int, head: str, tail: str, event: Event, index: int, once: bool,
                 known: tuple[int, list[str]] | None) -> str:
    """The posting's key; ``head``/``tail`` are ``keys.RuleCredit``'s, computed once per effect (hot path:
    the same string as ``keys.RuleCredit(rule_id, event.id, index).render()``)."""
    if once:
        return known[1][index] if known is not None and known[0] == rule_id else _once_key(rule_id, event, index)
    if event.id is not None:
        return f"{head}{event.id}{tail}"
    return keys.RuleCreditBySource(rule_id, event.source_system, event.source_event_id, index).render()


# ---------------------------------------------------------------- effects

def _amount(a: Any, rid: int, index: int) -> Callable[[Scope], int]:
    if isinstance(a, int):
        return lambda s: a
    if isinstance(a, m.RandomAmount):
        lo, hi = a.random
        return lambda s: draw(s.event, rid, index, lo, hi)
    per: int = a.per_minute
    name: str = a.field
    seconds = a.unit == "seconds"

    def per_minute(s: Scope) -> int:
        raw = _int(s.payload.get(name, 1 if name == "minutes" else 0)) or 0
        return per * (raw // 60 if seconds else raw)
    return per_minute


def _multiplier(mu: m.Multiplier) -> Callable[[Scope], bool]:
    if mu.when is not None:
        return _field_test(mu.when)
    if mu.region is not None:
        region = mu.region
        return lambda s: region in s.channel().regions
    if mu.tag is not None:
        tag = mu.tag
        return lambda s: tag in s.channel().tags
    if mu.role is not None:
        role = int(mu.role)
        return lambda s: role in s.roles()
    if mu.channel is not None:
        channel = int(mu.channel)
        return lambda s: s.event.channel_id == channel
    if mu.time_window is not None:
        inside = _time_window(mu.time_window)
        return lambda s: inside(s.event.occurred_at)
    return lambda s: True


def _stack(mode: str, factors: list[float]) -> float:
    if not factors:
        return 1.0
    if mode == "add":
        return 1.0 + sum(f - 1.0 for f in factors)
    if mode == "max":
        return max(factors)
    out = 1.0
    for f in factors:
        out *= f
    return out


_OURS = frozenset({"mention", "channel"})   # built here from ids: the only values not escaped


def _placeholders(s: Scope, uid: int) -> dict[str, Any]:
    """Template values. Everything a member or an admin typed (display name, milestone name,
    currency, any payload text) is escaped (``synapse.rules.text``); the template itself is not."""
    p, actor = s.payload, s.event.actor
    values = escape_values({
        "mention": f"<@{uid}>", "user_id": uid,
        "channel": f"<#{s.event.channel_id}>" if s.event.channel_id else "",
        "level": p.get("new_level", ""), "old_level": p.get("old_level", ""),
        "currency": p.get("currency", ""), "balance": p.get("balance", ""),
        "milestone": p.get("milestone", ""), "milestone_name": p.get("name", ""),
        "amount": p.get("amount", ""), "emoji": p.get("emoji") or ""}, raw=_OURS)
    values["member"] = values["mention"]
    values["user"] = escape(actor.name) if actor is not None and actor.name else values["mention"]
    values["name"] = values["user"]
    return values


def _effect(e: Any, index: int, rule: RuleRecord, once: bool, mode: str, texts: Mapping[str, str]) -> Eff:
    rid, version, name = rule.rule_id, rule.version, rule.spec.name
    if isinstance(e, m.CreditEffect | m.DebitEffect):
        who, cur = _recipient(e.to), e.currency
        amount = _amount(e.amount, rid, index)
        mults = [(_multiplier(mu), mu.times) for mu in e.multipliers] if isinstance(e, m.CreditEffect) else []
        partial = e.partial if isinstance(e, m.DebitEffect) else True
        reason = e.reason or name
        head, tail = keys.RuleCredit.prefix(rid), f":{index}"

        def post(s: Scope, ev: Evaluation, uid: int, key: tuple[int, str], amt: int) -> None:
            pending = s.pending_balance
            pending[key] = pending.get(key, 0) + amt
            event = s.event
            idem = _posting_key(rid, head, tail, event, index, once, s.once_keys)
            ev.postings.append(make_posting(
                event.guild_id, uid, cur, amt, Kind.rule, idem, event.occurred_at, reason, rid, version, event.id,
                {"event_type": event.event_type}))

        def credit(s: Scope, ev: Evaluation) -> None:
            uid = who(s)
            if uid is None:
                return
            amt = amount(s)
            if mults:
                amt = int(amt * _stack(mode, [t for when, t in mults if when(s)]))
            key = (uid, cur)
            left = s.caps.get(key)
            if left is not None:
                if amt > left:
                    amt = left
                s.caps[key] = left - amt
            if amt > 0:
                pending = s.pending_credit
                pending[key] = pending.get(key, 0) + amt
            elif amt == 0:
                return
            post(s, ev, uid, key, amt)

        def debit(s: Scope, ev: Evaluation) -> None:
            uid = who(s)
            if uid is None:
                return
            amt = amount(s)
            key = (uid, cur)
            have = s.facts.balance(uid, cur) + s.pending_balance.get(key, 0)
            if amt > have:
                if not partial:
                    return
                amt = have
            if amt != 0:
                post(s, ev, uid, key, -amt)
        return debit if isinstance(e, m.DebitEffect) else credit
    if isinstance(e, m.CheckMilestonesEffect):
        who = _recipient(e.to)

        def check(s: Scope, ev: Evaluation) -> None:
            uid = who(s)
            if uid is not None and uid not in ev.milestone_checks:
                ev.milestone_checks.append(uid)
        return check
    if isinstance(e, m.AnnounceEffect):
        fixed = None if e.channel_id is None else int(e.channel_id)
        target, title, template, color, why = e.target, e.title, e.template, e.color, e.reason
        if e.template_setting is not None and texts.get(e.template_setting):
            template = texts[e.template_setting]   # the guild's setting (validated when saved)

        def announce(s: Scope, ev: Evaluation) -> None:
            uid = s.event.user_id
            if uid is None:
                return
            values = _placeholders(s, uid)
            # "levelup" keeps the event's channel too: the guild's level-up setting may choose it.
            channel = s.event.channel_id if target == "channel" or target == "levelup" else fixed
            ev.announcements.append(Announcement(
                rid, keys.Announcement(rid, s.event.source_system, s.event.source_event_id, index).render(), uid,
                target, channel, title.format_map(values), template.format_map(values), color, why))
        return announce
    if isinstance(e, m.RoleEffect):
        who, role, action = _recipient(e.to), int(e.role_id), e.action

        def role_change(s: Scope, ev: Evaluation) -> None:
            uid = who(s)
            if uid is not None:
                ev.role_changes.append(RoleChange(
                    rid, keys.RoleChange(action, rid, s.event.source_system, s.event.source_event_id, index).render(),
                    uid, role, action, name))
        return role_change
    if isinstance(e, m.LevelRolesEffect):
        cur, mode_ = e.currency, e.mode
        ladder = sorted((lvl, int(r)) for lvl, r in e.roles.items())

        def level_roles(s: Scope, ev: Evaluation) -> None:
            uid, p = s.event.user_id, s.payload
            old, new = _int(p.get("old_level")), _int(p.get("new_level"))
            if uid is None or old is None or new is None or p.get("currency") != cur:
                return
            ss, se = s.event.source_system, s.event.source_event_id
            reached = [(lvl, r) for lvl, r in ladder if old < lvl <= new]
            if not reached:
                return
            if mode_ == "stack":
                for _lvl, r in reached:
                    ev.role_changes.append(RoleChange(rid, keys.RoleChange("add", rid, ss, se, r).render(), uid, r,
                                                      "add", name))
                return
            top = reached[-1][1]
            ev.role_changes.append(RoleChange(rid, keys.RoleChange("add", rid, ss, se, top).render(), uid, top, "add",
                                              name))
            for lvl, r in ladder:
                if lvl <= new and r != top:
                    ev.role_changes.append(RoleChange(rid, keys.RoleChange("remove", rid, ss, se, r).render(), uid, r,
                                                      "remove", name))
        return level_roles
    if isinstance(e, m.ClawbackEffect):
        within = None if e.within_minutes is None else timedelta(minutes=e.within_minutes)
        only = frozenset(e.currencies)

        def clawback(s: Scope, ev: Evaluation) -> None:
            event = s.event
            original = clawback_original(event.source_event_id)
            if original is None:
                return
            for prior in s.facts.prior_credits(event.source_system, original):
                if only and prior.currency not in only:
                    continue
                if within is not None and event.occurred_at - prior.occurred_at > within:
                    continue
                key = (prior.user_id, prior.currency)
                have = s.facts.balance(prior.user_id, prior.currency) + s.pending_balance.get(key, 0)
                amt = min(prior.amount, have)
                if amt <= 0:
                    continue
                s.pending_balance[key] = s.pending_balance.get(key, 0) - amt
                ev.postings.append(Posting(
                    guild_id=event.guild_id, user_id=prior.user_id, currency=prior.currency, amount=-amt,
                    kind=Kind.clawback, idempotency_key=keys.Clawback(prior.idempotency_key).render(),
                    occurred_at=event.occurred_at, reason=f"{name}: {event.event_type}", rule_id=rid,
                    rule_version=version, event_id=event.id, meta={"event_type": event.event_type}))
        return clawback
    raise TypeError(f"unknown effect {type(e).__name__}")  # pragma: no cover


def compile_rule(rule: RuleRecord, texts: Mapping[str, str] | None = None) -> CompiledRule:
    spec = rule.spec
    recipients: dict[str, Callable[[Scope], int | None]] = {}
    for e in spec.effects:
        if isinstance(e, m.CreditEffect) and e.currency not in recipients:
            recipients[e.currency] = _recipient(e.to)
    once = any(isinstance(c, m.OncePerReactorCond) for c in spec.conditions)
    conds = [(f"conditions[{i}]", _condition(c, rule, recipients)) for i, c in enumerate(spec.conditions)]
    effects = [_effect(e, i, rule, once, spec.stacking, texts or {}) for i, e in enumerate(spec.effects)]
    return CompiledRule(rule.rule_id, rule.version, spec.name, spec.module, spec.priority, spec.trigger.event,
                        spec.trigger.source, conds, effects,
                        any(isinstance(c, m.CooldownCond) for c in walk_conditions(spec.conditions)))


def walk_conditions(conds: Sequence[Any]) -> Iterable[Any]:
    for c in conds:
        yield c
        if isinstance(c, m.AllCond | m.AnyCond):
            yield from walk_conditions(c.conditions)
        elif isinstance(c, m.NotCond):
            yield from walk_conditions([c.condition])


# ---------------------------------------------------------------- the guild's level role table

LEVEL_ROLES_RULE: Final = 0   # the rule id of the compiled level role table (no stored rule has id 0)


@dataclass(frozen=True)
class LevelRoleTable:
    """The guild's "level N → role" table per levelled currency, and ``level_role_mode`` (stack | replace).

    ``ladders`` maps a currency to its (level, role id) rows sorted by level; roles the directory says
    were deleted are left out by the loader, so they are never assigned.
    """

    ladders: Mapping[str, tuple[tuple[int, int], ...]]
    mode: str = "stack"


def wanted_roles(ladder: Sequence[tuple[int, int]], level: int, mode: str) -> tuple[frozenset[int], frozenset[int]]:
    """(roles a member at ``level`` should have, roles of the ladder they should not) under ``mode``.

    stack: every role at or below the level; replace: only the highest of them, the lower ones removed.
    Roles above the level are neither given nor taken (an admin may hand one out early).
    """
    reached = [r for lvl, r in ladder if lvl <= level]
    if not reached:
        return frozenset(), frozenset()
    if mode == "replace":
        top = reached[-1]
        return frozenset({top}), frozenset(reached) - {top}
    return frozenset(reached), frozenset()


def level_role_rule(table: LevelRoleTable) -> CompiledRule:
    """The table as a ``level_up`` rule: role_add for the roles the new level earns that the member lacks,
    role_remove (replace mode) for the lower ones they hold. A member the cache does not know is treated
    as holding none of them (adds are idempotent in Discord; removes of lower ones are sent anyway)."""
    ladders, mode, rid, name = dict(table.ladders), table.mode, LEVEL_ROLES_RULE, "level roles"

    def apply(s: Scope, ev: Evaluation) -> None:
        uid, p = s.event.user_id, s.payload
        ladder = ladders.get(str(p.get("currency")))
        new = _int(p.get("new_level"))
        if uid is None or ladder is None or new is None:
            return
        add, remove = wanted_roles(ladder, new, mode)
        mem = s.member()
        have = mem.roles if mem is not None else None
        ss, se = s.event.source_system, s.event.source_event_id
        reason = f"{name}: level {new} in {p.get('currency')}"
        for r in sorted(add if have is None else add - have):
            ev.role_changes.append(RoleChange(rid, keys.RoleChange("add", rid, ss, se, r).render(), uid, r, "add",
                                              reason))
        for r in sorted(remove if have is None else remove & have):
            ev.role_changes.append(RoleChange(rid, keys.RoleChange("remove", rid, ss, se, r).render(), uid, r,
                                              "remove", reason))

    return CompiledRule(rid, 1, "Level roles", "leveling", -1, "level_up", None, [], [apply], False)
