"""The processing loop shared by live ingest, manual actions and backtests (pure over the ``Store`` port).

For each event: evaluate → record cooldown fires → post → level-ups → milestone checks
and grants (with rewards) → announcements and role changes → derived events
(``level_up``, ``milestone_earned``) that re-enter the loop up to ``max_depth``.
The only ``Store`` is ``synapse.processing.state.MemoryState``: live, it is seeded from the
``Snapshot`` the database loader read for one message and records a ``ChangeSet`` the writer
stores; a backtest seeds it from history. One loop and one state, so a backtest pays exactly
what live would. Manual actions (``apply_postings``, ``grant_by_hand``) enter the same loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from synapse.eventlake.events import SYNAPSE, Event, make_event
from synapse.ledger import keys
from synapse.ledger.curves import LevelCurve
from synapse.ledger.model import Currency, Kind, LevelUp, Posted, Posting, Season
from synapse.ledger.posting import level_up, season_resets
from synapse.milestones.criteria import CompiledMilestone, MilestoneRecord, unearned_of
from synapse.milestones.model import CurrencyReward
from synapse.rules.compile import RuleSet
from synapse.rules.decisions import LEVELUP_DEFAULT, LevelUpRoute, route
from synapse.rules.engine import decide
from synapse.rules.facts import Facts

if TYPE_CHECKING:
    from synapse.processing.plan import Needs


class Store(Facts, Protocol):
    """Facts plus the writes the loop needs. The one implementation: ``processing.state.MemoryState``."""

    def observe(self, event: Event) -> None:
        """Note an event the loop is about to evaluate (the lake already holds live ones)."""
        ...

    def post(self, postings: Sequence[Posting]) -> list[Posted]: ...

    def balances_of(self, currency: str) -> list[tuple[int, int]]:
        """Every member's balance of the currency, by member (what a season's close resets)."""
        ...

    def record_fires(self, fires: Sequence[tuple[int, int]], at: datetime, event_id: int | None) -> None: ...

    def grant(self, milestone: MilestoneRecord, user_id: int, at: datetime, event_id: int | None, *,
              source: str = "rule", granted_by: int | None = None) -> bool:
        """Record the milestone as earned; False if the member already had it."""
        ...

    def append_derived(self, events: Sequence[Event]) -> list[Event]:
        """Write derived events; return those newly written (with ids)."""
        ...

    def emit(self, kind: str, dedupe_key: str, payload: dict[str, Any]) -> None:
        """An outbox row (announce, role_add, role_remove); a repeated dedupe_key is a no-op."""
        ...


Unearned = dict[int, list[CompiledMilestone]]   # per member: the milestones not earned yet (``run``)


@dataclass
class Tally:
    """What a run did, in numbers (the backtest report and the service result are built from it)."""

    events: int = 0
    derived: int = 0
    postings: int = 0                      # postings the rules made (an admin's own, replayed, are not counted)
    milestones: list[tuple[int, str]] = field(default_factory=list)        # (member, milestone key)
    level_ups: list[LevelUp] = field(default_factory=list)
    role_changes: list[tuple[int, int, str]] = field(default_factory=list)  # (member, role, add|remove)
    announcements: int = 0
    deltas: dict[tuple[int, str], int] = field(default_factory=dict)        # (member, currency) -> net, the rules'
    earned: dict[tuple[int, str], int] = field(default_factory=dict)        # positive rule credits only


@dataclass(frozen=True)
class Context:
    rules: RuleSet
    currencies: Mapping[str, Currency]
    milestones: tuple[CompiledMilestone, ...] = ()
    milestones_enabled: bool = True
    levelup: LevelUpRoute = LEVELUP_DEFAULT   # where ``levelup`` announcements go (the guild's setting)

    @cached_property
    def needs(self) -> Needs:
        """What these rules and milestones can ask about (the planner's input, computed once)."""
        from synapse.processing.plan import needs_of

        return needs_of(self.rules, self.milestones if self.milestones_enabled else ())

    @cached_property
    def level_curves(self) -> dict[str, LevelCurve]:
        """The curves of the levelled currencies (the only postings that can level a member up)."""
        return {key: c.curve for key, c in self.currencies.items() if c.levelled}


def run(ctx: Context, store: Store, events: Iterable[Event], *, tally: Tally | None = None,
        unearned: Unearned | None = None) -> Tally:
    """Process events in order; return the tally.

    ``unearned``: the milestones each member has not earned yet, read from the store at the member's
    first check and kept as the loop grants (only this loop grants while it runs: live, it holds the
    members' locks), so later checks skip the earned ones without asking the store again. A caller
    that runs one history in several calls (a backtest, for its progress) passes the same dict to each.
    """
    t = tally if tally is not None else Tally()
    memo: Unearned = {} if unearned is None else unearned
    observe, triggers = store.observe, ctx.rules.triggers
    n = 0
    try:
        for event in events:
            observe(event)
            n += 1
            if event.event_type in triggers:
                _process(ctx, store, event, 0, t, memo)
    finally:
        t.events += n
    return t


def _process(ctx: Context, store: Store, event: Event, depth: int, t: Tally,
             unearned: Unearned) -> None:
    """Evaluate and perform the rules of an event whose type triggers some (``run`` counts it)."""
    ev = decide(ctx.rules, event, store, depth)
    if ev is None:
        return
    if ev.fires:
        store.record_fires(ev.fires, event.occurred_at, event.id)
    postings, checks, announcements, role_changes = ev.postings, ev.milestone_checks, ev.announcements, ev.role_changes
    if not (postings or checks or announcements or role_changes):
        return
    derived: list[Event] = []
    if postings:
        _post(ctx, store, postings, event, derived, t)
    if checks and ctx.milestones_enabled and ctx.milestones:
        _check(ctx, store, checks, event, derived, t, unearned)
    for announcement in announcements:
        a = route(announcement, ctx.levelup)   # a ``levelup`` target per the guild's setting
        if a is None:   # levelup_mode "off": no row at all
            continue
        store.emit("announce", a.dedupe_key, a.payload())
        t.announcements += 1
    for rc in role_changes:
        store.emit(rc.kind, rc.dedupe_key, rc.payload())
        t.role_changes.append((rc.user_id, rc.role_id, rc.action))
    if derived:
        _derive(ctx, store, derived, depth, t, unearned)


def _check(ctx: Context, store: Store, uids: Sequence[int], cause: Event, derived: list[Event], t: Tally,
           unearned: Unearned) -> None:
    """Grant the members the milestones they meet now (earned ones are never re-checked)."""
    at = cause.occurred_at
    for uid in uids:
        left = unearned.get(uid)
        if left is None:
            left = unearned[uid] = unearned_of(ctx.milestones, store, uid)
        if not left:
            continue
        met = [ms for ms in left if ms.check(store, uid, at)]   # = due(ctx.milestones, store, uid, at)
        if met:
            for ms in met:
                left.remove(ms)
            _grant(ctx, store, uid, [ms.record for ms in met], cause, derived, t)


def _derive(ctx: Context, store: Store, derived: list[Event], depth: int, t: Tally,
            unearned: Unearned) -> None:
    """Append derived events and run the rules they trigger (up to ``max_depth``)."""
    written = store.append_derived(derived)
    t.derived += len(written)
    if depth < ctx.rules.max_depth:
        t.events += len(written)
        triggers = ctx.rules.triggers
        for d in written:
            if d.event_type in triggers:
                _process(ctx, store, d, depth + 1, t, unearned)


def apply_postings(ctx: Context, store: Store, postings: Sequence[Posting], cause: Event, *,
                   check_milestones: Sequence[int] = (), tally: Tally | None = None) -> Tally:
    """Manual postings (an award, an import) through the loop, as earned credit goes.

    ``cause`` is the action as an event (not in the lake: ``id`` None; its ``source_event_id`` is
    the action's key). The postings level members up (``level_up`` events and the rules they
    trigger: level roles, announcements), and the members in ``check_milestones`` are checked for
    milestones as a ``check_milestones`` effect would.
    """
    t = tally if tally is not None else Tally()
    derived: list[Event] = []
    unearned: Unearned = {}
    if postings:
        _post(ctx, store, postings, cause, derived, t)
    if check_milestones and ctx.milestones_enabled and ctx.milestones:
        _check(ctx, store, check_milestones, cause, derived, t, unearned)
    if derived:
        _derive(ctx, store, derived, 0, t, unearned)
    return t


def close_season(ctx: Context, store: Store, season: Season) -> None:
    """A season's close as the roll made it (``services.seasons.roll``): each seasonal currency's wallets back
    to zero with ``season_reset`` postings at the close. Nothing follows a reset, live or here: no level-up, no
    event, no milestone check; and no rule made them (a tally does not count them)."""
    if season.ended_at is None:
        raise ValueError(f"season {season.season_id} has not closed")
    for key, currency in sorted(ctx.currencies.items()):
        if currency.seasonal:
            store.post(season_resets(currency.guild_id, season.season_id, season.name, season.ended_at, key,
                                     store.balances_of(key)))


def grant_by_hand(ctx: Context, store: Store, user_id: int, milestones: Sequence[MilestoneRecord], cause: Event, *,
                  source: str, granted_by: int | None = None, tally: Tally | None = None) -> Tally:
    """Grant milestones by hand (``/grant-milestone``, a retroactive grant) through the loop.

    Exactly what earning them does: rewards paid (and the level-ups they cause), role rewards, a
    ``milestone_earned`` event and the rules it triggers. A milestone the member already has is
    skipped (``tally.milestones`` lists the ones granted now).
    """
    t = tally if tally is not None else Tally()
    derived: list[Event] = []
    _grant(ctx, store, user_id, milestones, cause, derived, t, source=source, granted_by=granted_by)
    if derived:
        _derive(ctx, store, derived, 0, t, {})
    return t


# What the rules (and milestones) pay or take back: the tally's postings, deltas and earnings count only these, so
# a backtest reports what its rules paid, not the awards, corrections and season resets it replays.
_RULE_MADE = frozenset({Kind.rule, Kind.clawback})


def _post(ctx: Context, store: Store, postings: Sequence[Posting], cause: Event, derived: list[Event],
          t: Tally) -> None:
    posted = store.post(postings)
    deltas, earned, curves = t.deltas, t.earned, ctx.level_curves
    for p in posted:
        posting = p.posting
        amount = posting.amount
        if posting.kind in _RULE_MADE:
            t.postings += 1
            key = (posting.user_id, posting.currency)
            deltas[key] = deltas.get(key, 0) + amount
            if amount > 0:
                earned[key] = earned.get(key, 0) + amount
        curve = curves.get(posting.currency)
        # Most postings cross no level boundary: compare levels before building a LevelUp.
        if curve is None or not curve.crosses(p.balance_after - amount, p.balance_after):
            continue
        up = level_up(p, ctx.currencies[posting.currency])
        if up is not None:
            t.level_ups.append(up)
            derived.append(level_up_event(up, cause))


def level_up_event(up: LevelUp, cause: Event) -> Event:
    actor = cause.actor if cause.user_id == up.user_id else None
    return make_event(SYNAPSE, keys.LevelUpEvent(up.currency, up.user_id, up.new_level, up.transaction_id).render(),
                      "level_up", up.guild_id, up.user_id, cause.channel_id, up.occurred_at,
                      {"currency": up.currency, "old_level": up.old_level, "new_level": up.new_level,
                       "balance": up.balance, "cause": cause.source_event_id}, actor, None)


def _grant(ctx: Context, store: Store, uid: int, milestones: Sequence[MilestoneRecord], cause: Event,
           derived: list[Event], t: Tally, *, source: str = "rule", granted_by: int | None = None) -> None:
    """Grant the milestones the member has just met, with their rewards (those already granted are skipped)."""
    at = cause.occurred_at
    for record in milestones:
        if not store.grant(record, uid, at, cause.id, source=source, granted_by=granted_by):
            continue
        spec = record.spec
        t.milestones.append((uid, spec.key))
        rewards: list[Posting] = []
        for i, reward in enumerate(spec.rewards):
            if isinstance(reward, CurrencyReward):
                rewards.append(Posting(
                    guild_id=cause.guild_id, user_id=uid, currency=reward.currency, amount=reward.amount,
                    kind=Kind.rule, idempotency_key=keys.MilestoneReward(record.milestone_id, uid, i).render(),
                    occurred_at=at, reason=f"milestone {spec.name}", event_id=cause.id,
                    meta={"event_type": cause.event_type, "milestone": spec.key}))
            else:
                store.emit("role_add", keys.MilestoneRole(spec.key, uid, int(reward.role_id)).render(),
                           {"user_id": str(uid), "role_id": reward.role_id, "reason": f"milestone {spec.name}"})
                t.role_changes.append((uid, int(reward.role_id), "add"))
        if rewards:
            _post(ctx, store, rewards, cause, derived, t)
        actor = cause.actor if cause.user_id == uid else None
        derived.append(make_event(
            SYNAPSE, keys.MilestoneEarnedEvent(spec.key, uid).render(), "milestone_earned", cause.guild_id, uid,
            cause.channel_id, at,
            {"milestone": spec.key, "name": spec.name, "announce": spec.announce, "hidden": spec.hidden,
             "emoji": spec.emoji, "cause": cause.source_event_id}, actor, None))
