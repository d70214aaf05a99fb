"""The planner: which facts one message's events can ask about, as a typed query (pure; no SQL, no keys).

``facts_needed(ctx, events, members=...)`` reads the compiled rules and milestones once
(``needs_of``, cached per ``Context``) and the events' types and times, and returns a
``FactQuery``: the members whose wallets, milestones and rows to read, the lifetime counts and
sums milestones can still ask about, the history windows (cooldown fires, cap windows, windowed
counts and sums, streak days, repeated-message fingerprints), the once-keys that may already be
in the ledger and the clawbacks' original events. ``synapse.db.snapshot.load`` answers it in
one round trip; ``processing.snapshot.state_for`` seeds the state with the answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from synapse.eventlake.events import Event
from synapse.ledger import keys as ledger_keys
from synapse.milestones import model as mm
from synapse.milestones.criteria import CompiledMilestone, walk_criteria
from synapse.processing.actions import BY_HAND_KINDS
from synapse.processing.loop import Context
from synapse.rules import model as rm
from synapse.rules.compile import LEVEL_ROLES_RULE, RuleSet, clawback_original, walk_conditions, window_bounds
from synapse.rules.compile import _zone as zone


@dataclass(frozen=True, slots=True)
class Lifetime:
    """A lifetime count (``field`` None) or sum of an event type, for members who have not yet earned
    every milestone in ``milestone_ids`` (the others never ask)."""

    event_type: str
    field: str | None
    default: int                  # what an event without a number in ``field`` adds (a tick is one minute)
    milestone_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Recent:
    """The members' events of a type since ``since`` (their times, and ``field``'s values when summed)."""

    event_type: str
    field: str | None
    default: int
    since: datetime


@dataclass(frozen=True, slots=True)
class CapWindow:
    """Positive rule credits of ``currency`` per member in [start, end); ``start`` None: since the season."""

    currency: str
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True, slots=True)
class FactQuery:
    """What to read for one guild's events, after the members are locked."""

    guild_id: int
    members: tuple[int, ...]
    # The message's own events, already in the lake: the run observes them itself, so the windowed history
    # and the active days leave them out; lifetime totals include them (``state_for`` takes them off:
    # cheaper than in SQL).
    own_event_ids: tuple[int, ...] = ()
    lifetimes: tuple[Lifetime, ...] = ()
    recent: tuple[Recent, ...] = ()
    days_since: date | None = None              # active days from here (streaks)
    fingerprints: tuple[str, ...] = ()          # message fingerprints to count repeats of
    fingerprint_span: tuple[datetime, datetime] | None = None
    fire_rules: tuple[int, ...] = ()            # cooldown rules: their fires in ``fire_span``
    fire_span: tuple[datetime, datetime] | None = None
    cap_windows: tuple[CapWindow, ...] = ()
    keys: tuple[str, ...] = ()                  # idempotency keys that may be in the ledger already
    originals: tuple[tuple[str, str], ...] = ()  # (source, source id) whose rule credits a clawback takes back
    # A credit taken back already has a posting keyed ``taken_back_prefix + its key`` (``keys.Clawback``).
    taken_back_prefix: str = ledger_keys.Clawback.PREFIX
    # The members' role history from the roles in force at this time on (rules that read roles: each event
    # is given the roles of its time, a voice tick derived at the session's end those of its minute).
    roles_since: datetime | None = None
    milestone_events: bool = False              # the members' milestone_earned events already in the lake
    derived_keys: tuple[str, ...] = ()          # source ids of derived events to append: which the lake holds
    tx_ids: int = 0                             # transaction ids to reserve
    event_ids: int = 0                          # lake ids to reserve (derived events)
    # The "as of" form (``facts_as_of``, a backtest's start): every member of the guild instead of
    # ``members``, and, when ``as_of`` is set, the guild's history before it: balances summed from the
    # ledger, milestones earned before it, lifetime counts (and voice minutes) of every event type,
    # positive rule credits (caps, with their fires for cooldowns and their events for clawbacks) and
    # the keys of every posting since ``credits_since``, active days since ``active_since``, and, as
    # the rules ask, ``recent`` (guild-wide), fingerprints in ``fingerprint_span`` (guild-wide) and
    # ``cap_windows`` of seasons (credits from the season's start to ``credits_since``). The other
    # per-member parts above are not asked in this form.
    whole_guild: bool = False
    as_of: datetime | None = None
    # (the "as of" form) postings of these kinds, and milestones granted by hand, from ``as_of`` on (all without
    # it): the actions a backtest replays (``processing.actions``)
    by_hand_kinds: tuple[str, ...] = ()
    credits_since: datetime | None = None
    active_since: datetime | None = None


@dataclass(frozen=True)
class Needs:
    """What a guild's compiled rules and milestones can ask about, computed once per ``Context``."""

    cooldown_rules: tuple[int, ...]
    longest_cooldown: timedelta
    caps: tuple[tuple[str, str, Any], ...]                 # (currency, window, tz)
    once: dict[str, tuple[tuple[int, int], ...]]            # trigger -> (rule id, number of effects)
    clawback_triggers: frozenset[str]
    repeat_window: timedelta | None                         # the longest repeat guard
    lifetimes: tuple[Lifetime, ...]
    recent: tuple[tuple[str, str | None, int, timedelta], ...]   # (type, field, default, span)
    longest_streak: int
    rewards: tuple[tuple[int, int], ...]                    # (milestone id, reward index) of currency rewards
    postings_by_trigger: dict[str, int]                     # credit/debit/clawback effects per trigger
    roles: bool = False                                     # some rule reads the member's roles


def _default(field: str | None) -> int:
    return 1 if field == "minutes" else 0


def needs_of(rules: RuleSet, milestones: Sequence[CompiledMilestone]) -> Needs:
    active = {c.rule_id for compiled in rules.by_event.values() for c in compiled}
    cooldowns: set[int] = set()
    longest = 0
    caps: set[tuple[str, str, str]] = set()
    once: dict[str, list[tuple[int, int]]] = {}
    clawbacks: set[str] = set()
    repeat = 0
    per_trigger: dict[str, int] = {}
    reads_roles = any(c.rule_id == LEVEL_ROLES_RULE for compiled in rules.by_event.values() for c in compiled)
    for record in rules.records:
        if record.rule_id not in active:
            continue
        spec = record.spec
        for c in walk_conditions(spec.conditions):
            if isinstance(c, rm.CooldownCond):
                cooldowns.add(record.rule_id)
                longest = max(longest, c.seconds)
            elif isinstance(c, rm.CapCond):
                caps.add((c.currency, c.window, c.tz))
            elif isinstance(c, rm.OncePerReactorCond):
                once.setdefault(spec.trigger.event, []).append((record.rule_id, len(spec.effects)))
            elif isinstance(c, rm.RepeatGuardCond):
                repeat = max(repeat, c.within_seconds)
            elif isinstance(c, rm.RolesCond):
                reads_roles = True
        reads_roles = reads_roles or any(mu.role is not None for e in spec.effects
                                         if isinstance(e, rm.CreditEffect) for mu in e.multipliers)
        if any(isinstance(e, rm.ClawbackEffect) for e in spec.effects):
            clawbacks.add(spec.trigger.event)
        per_trigger[spec.trigger.event] = per_trigger.get(spec.trigger.event, 0) + sum(
            1 for e in spec.effects if isinstance(e, rm.CreditEffect | rm.DebitEffect | rm.ClawbackEffect))
    counts: dict[tuple[str, str | None], set[int]] = {}
    recent: set[tuple[str, str | None, int, int]] = set()
    streak = 0
    rewards: list[tuple[int, int]] = []
    for ms in milestones:
        mid = ms.record.milestone_id
        for c in walk_criteria(ms.record.spec.criteria):
            if isinstance(c, mm.EventCountCrit | mm.EventSumCrit):
                name = c.field if isinstance(c, mm.EventSumCrit) else None
                if c.within_days is None:
                    counts.setdefault((c.event, name), set()).add(mid)
                else:
                    recent.add((c.event, name, _default(name), c.within_days))
            elif isinstance(c, mm.StreakCrit):
                streak = max(streak, c.days)
        rewards.extend((mid, i) for i, r in enumerate(ms.record.spec.rewards) if isinstance(r, mm.CurrencyReward))
    return Needs(
        cooldown_rules=tuple(sorted(cooldowns)), longest_cooldown=timedelta(seconds=longest),
        caps=tuple((cur, window, zone(tz)) for cur, window, tz in sorted(caps)),
        once={k: tuple(v) for k, v in once.items()}, clawback_triggers=frozenset(clawbacks),
        repeat_window=timedelta(seconds=repeat) if repeat else None,
        lifetimes=tuple(Lifetime(t, f, _default(f), tuple(sorted(ids)))
                        for (t, f), ids in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))),
        recent=tuple((t, f, d, timedelta(days=days)) for t, f, d, days in sorted(recent, key=str)),
        longest_streak=streak, rewards=tuple(rewards),
        postings_by_trigger=per_trigger, roles=reads_roles)


def facts_needed(ctx: Context, events: Sequence[Event], *, members: Iterable[int],
                 extra_postings: int = 0, extra_events: int = 0, unstored: Sequence[Event] = ()) -> FactQuery:
    """The facts ``events`` (one guild's, new to the lake unless ``id`` is None) can ask about ``members``.

    ``extra_postings``/``extra_events`` reserve ids for what a manual action brings in; ``unstored``:
    derived events to run after ``events`` and append (voice's): planned for like them, with a lake id
    reserved for each and the question which of their keys the lake holds already (``derived_keys``).
    """
    if unstored:
        events = [*events, *unstored]
        extra_events += len(unstored)
    needs = ctx.needs
    uids = tuple(sorted(set(members)))
    guild_id = events[0].guild_id if events else 0
    milestones = ctx.milestones if ctx.milestones_enabled else ()
    own = tuple(e.id for e in events if e.id is not None)
    # Ids: what the events' own effects may post, with room for derived events and milestone rewards; should
    # a busy message need more, the run stops before writing anything and is run again with more.
    n = len(events)
    by_trigger = needs.postings_by_trigger
    tx = 32 + extra_postings + sum(by_trigger.get(e.event_type, 0) for e in events)
    query: dict[str, Any] = {
        "guild_id": guild_id, "members": uids, "own_event_ids": own, "tx_ids": tx,
        "event_ids": 16 + n // 4 + extra_events,
        "milestone_events": bool(milestones),
        "derived_keys": tuple(sorted({e.source_event_id for e in unstored}))}
    if milestones:
        query["lifetimes"] = needs.lifetimes
    if not events:
        return FactQuery(**query)
    first = min(e.occurred_at for e in events)
    last = max(e.occurred_at for e in events)
    if needs.roles:
        query["roles_since"] = first
    if milestones and needs.recent:
        query["recent"] = tuple(Recent(t, f, d, first - span) for t, f, d, span in needs.recent)
    if milestones and needs.longest_streak:
        query["days_since"] = first.astimezone(UTC).date() - timedelta(days=needs.longest_streak - 1)
    if needs.repeat_window is not None:
        fps = sorted({str(fp) for e in events if e.event_type == "message_create"
                      if (fp := e.payload.get("fingerprint"))})
        if fps:
            query["fingerprints"] = tuple(fps)
            query["fingerprint_span"] = (first - needs.repeat_window, last)
    if needs.cooldown_rules:
        span = needs.longest_cooldown
        query["fire_rules"] = needs.cooldown_rules
        query["fire_span"] = (first - span, last + span)
    if needs.caps:
        windows: set[CapWindow] = set()
        times = {e.occurred_at for e in events}
        for currency, window, tz in needs.caps:
            if window == "season":
                windows.add(CapWindow(currency, None, None))
                continue
            for at in times:
                start, end = window_bounds(at, window, tz, None)
                windows.add(CapWindow(currency, start, end))
        query["cap_windows"] = tuple(sorted(windows, key=str))
    wanted: set[str] = set()
    for e in events:
        for rid, count in needs.once.get(e.event_type, ()):
            message = e.payload.get("message_id")
            msg = None if message is None else str(message)
            wanted.update(ledger_keys.OncePerReactor(rid, msg, e.user_id, i).render() for i in range(count))
    # A milestone reward is keyed per member: granted, revoked and earned again, it is not paid twice.
    wanted.update(ledger_keys.MilestoneReward(mid, u, i).render() for mid, i in needs.rewards for u in uids)
    query["keys"] = tuple(sorted(wanted))
    if needs.clawback_triggers:
        query["originals"] = tuple(sorted({(e.source_system, original) for e in events
                                           if e.event_type in needs.clawback_triggers
                                           if (original := clawback_original(e.source_event_id)) is not None}))
    return FactQuery(**query)


# How far back a backtest's start state looks: caps (≤ a week), once-per-reactor keys and clawbacks by
# the credits and postings of the last 8 days (or of the longest cooldown, if longer), streaks by the
# active days of the last year.
BACKTEST_CREDITS = timedelta(days=8)
BACKTEST_DAYS = timedelta(days=366)


def facts_as_of(guild_id: int, start: datetime | None, needs: Iterable[Needs] = ()) -> FactQuery:
    """The facts a backtest starting at ``start`` continues from (the "as of" form of ``FactQuery``):
    the guild's members, channels and season, and its history before ``start`` (none when None: the
    range starts at the beginning). ``needs``: those of every rule set the backtest runs (``needs_of``),
    for the history only some rules ask about: windowed milestone counts and sums, repeat guards'
    fingerprints, cooldowns longer than the credit window, season caps. ``db.snapshot.load`` answers
    it in one round trip."""
    if start is None:
        return FactQuery(guild_id, (), whole_guild=True, by_hand_kinds=BY_HAND_KINDS)
    asked = tuple(needs)
    credits = max([BACKTEST_CREDITS, *(n.longest_cooldown for n in asked)])
    recent = sorted({r for n in asked for r in n.recent}, key=str)
    repeat = max((n.repeat_window for n in asked if n.repeat_window is not None), default=None)
    seasons = sorted({currency for n in asked for currency, window, _ in n.caps if window == "season"})
    return FactQuery(guild_id, (), whole_guild=True, as_of=start, credits_since=start - credits,
                     by_hand_kinds=BY_HAND_KINDS,
                     active_since=start - BACKTEST_DAYS,
                     recent=tuple(Recent(t, f, d, start - span) for t, f, d, span in recent),
                     fingerprint_span=None if repeat is None else (start - repeat, start),
                     cap_windows=tuple(CapWindow(currency, None, None) for currency in seasons))
