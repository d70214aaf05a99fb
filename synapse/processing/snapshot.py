"""What the loader read for one ``FactQuery`` (plain values), and the state seeded from it (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from synapse.eventlake.events import Event
from synapse.ledger.model import Currency, Posting, Season
from synapse.processing.actions import Action, HandGrant, ledger_actions
from synapse.processing.loop import Context
from synapse.processing.state import MemoryState
from synapse.rules.compile import EPOCH
from synapse.rules.facts import Channel, Member, PriorCredit


@dataclass
class Snapshot:
    """The facts a ``FactQuery`` asked for, as they were after the members' locks were taken."""

    guild_id: int
    members: dict[int, Member | None] = field(default_factory=dict)
    # The members' roles from a time on (since None: from the beginning), in time order (``FactQuery.roles_since``)
    role_history: dict[int, list[tuple[datetime | None, frozenset[int]]]] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    season_start: datetime | None = None
    seasons: list[Season] = field(default_factory=list)   # the guild's seasons (the "as of" form: a backtest's)
    by_hand: list[Posting] = field(default_factory=list)   # ("as of") postings of ``by_hand_kinds``, in ledger order
    hand_grants: list[HandGrant] = field(default_factory=list)   # ("as of") milestones not earned by the rules
    balances: dict[tuple[int, str], int] = field(default_factory=dict)
    earned: dict[int, set[str]] = field(default_factory=dict)
    milestone_events: set[str] = field(default_factory=set)       # source ids of milestone_earned in the lake
    derived_keys: set[str] = field(default_factory=set)           # those of ``FactQuery.derived_keys`` in the lake
    counts: dict[tuple[int, str], int] = field(default_factory=dict)    # lifetime, the message's own included
    sums: dict[tuple[int, str, str], int] = field(default_factory=dict)
    # (member, event type, summed field or None, occurred_at, value)
    recent: list[tuple[int, str, str | None, datetime, int]] = field(default_factory=list)
    days: list[tuple[int, date]] = field(default_factory=list)
    fingerprints: list[tuple[int, str, datetime, str]] = field(default_factory=list)  # member, fp, at, source id
    fires: list[tuple[int, int, datetime]] = field(default_factory=list)              # rule, member, at
    cap_used: dict[tuple[int, str, datetime | None, datetime | None], int] = field(default_factory=dict)
    posted_keys: set[str] = field(default_factory=set)
    priors: dict[tuple[str, str], list[PriorCredit]] = field(default_factory=dict)
    # member, currency, at, amount: positive rule credits (caps) since ``FactQuery.credits_since`` ("as of" form)
    credits: list[tuple[int, str, datetime, int]] = field(default_factory=list)
    tx_ids: list[int] = field(default_factory=list)
    event_ids: list[int] = field(default_factory=list)


def state_for(ctx: Context, snapshot: Snapshot, *, observed: Sequence[Event] = (),
              currencies: Mapping[str, Currency] | None = None, record: bool = True) -> MemoryState:
    """The state a live run starts from: the snapshot's facts, the reserved ids, recording changes.

    ``observed``: the events the run will observe that are in the lake already (the message's own):
    the snapshot's lifetime counts and sums include them, so they are taken off here.
    """
    s = snapshot
    counts, sums = s.counts, s.sums
    fields_of: dict[str, set[str]] = {}
    for _, et, name in sums:
        fields_of.setdefault(et, set()).add(name)
    for e in observed:
        uid = e.user_id
        if e.id is None or uid is None:
            continue
        key = (uid, e.event_type)
        if key in counts:
            counts[key] -= 1
        for name in fields_of.get(e.event_type, ()):
            skey = (uid, e.event_type, name)
            if skey in sums:
                value = e.payload.get(name)
                number = value if isinstance(value, int | float) and not isinstance(value, bool) else (
                    1 if name == "minutes" else 0)
                sums[skey] -= int(number)
    state = MemoryState(s.guild_id, currencies=currencies if currencies is not None else ctx.currencies,
                        members={u: m for u, m in s.members.items() if m is not None}, channels=s.channels,
                        balances=s.balances, earned=s.earned, season_start=s.season_start, record=record,
                        tx_ids=s.tx_ids, event_ids=s.event_ids, role_history=s.role_history)
    state.tune((r.spec for r in ctx.rules.records), (m.record.spec for m in ctx.milestones))
    _seed_history(state, s)
    state.seed_lake_keys(s.milestone_events)
    return state


def _seed_history(state: MemoryState, s: Snapshot) -> None:
    """The snapshot's history into ``state``: what a live run and a backtest's start both continue from."""
    for (uid, et), n in s.counts.items():
        state.seed_count(uid, et, n)
    for (uid, et, name), n in s.sums.items():
        state.seed_sum(uid, et, name, n)
    for uid, et, summed, at, value in s.recent:
        if summed is None:
            state.seed_time(uid, et, at)
        else:
            state.seed_sum_item(uid, et, summed, at, value)
    for uid, day in s.days:
        state.seed_day(uid, day)
    for uid, fp, at, source_id in s.fingerprints:
        state.seed_fingerprint(uid, fp, at, source_id)
    for rule_id, uid, at in s.fires:
        state.seed_fire(rule_id, uid, at)
    season = s.season_start or EPOCH
    for (uid, currency, start, end), used in s.cap_used.items():
        state.seed_cap_used(uid, currency, season if start is None else start, end, used)
    for uid, currency, at, amount in s.credits:
        state.seed_credit(uid, currency, at, amount)
    state.seed_posted(s.posted_keys)
    for (ss, se), credits in s.priors.items():
        for credit in credits:
            state.seed_prior(ss, se, credit)


def actions_in(snapshot: Snapshot, start: datetime | None, end: datetime | None) -> list[Action]:
    """The actions a backtest of [start, end) replays, from the answer to ``plan.facts_as_of(…, start, …)``."""
    return ledger_actions(snapshot.seasons, snapshot.by_hand, snapshot.hand_grants, start, end)


# A backtest's derived events are numbered from here, so their ids never collide with the lake's.
BACKTEST_FIRST_EVENT_ID = -(10**15)


def state_at(snapshot: Snapshot, *, currencies: Mapping[str, Currency], record: bool = False) -> MemoryState:
    """A backtest's start state from the answer to ``plan.facts_as_of``: the guild as it was then.

    Ids are numbered in memory; nothing is recorded unless ``record`` (a ``ChangeSet`` of the run, as
    live would write it: for comparing a backtest with live). The snapshot is only read, so one answer
    seeds several runs (a draft and the live rules).
    """
    s = snapshot
    state = MemoryState(s.guild_id, currencies=currencies,
                        members={u: m for u, m in s.members.items() if m is not None}, channels=s.channels,
                        balances=s.balances, earned=s.earned, season_start=s.season_start,
                        first_event_id=BACKTEST_FIRST_EVENT_ID, record=record, role_history=s.role_history,
                        seasons=s.seasons)
    _seed_history(state, s)
    return state
