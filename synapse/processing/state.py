"""The one ``Store``: the facts and writes of one guild in memory (live ingest, manual actions, backtests).

It has the database's semantics (duplicate idempotency keys skipped, no-negative wallets refuse
to go below zero, milestones earned once, derived events and outbox rows deduplicated). Live, it
is seeded from the ``Snapshot`` the loader read for one message (``processing.snapshot.state_for``),
takes transaction and lake ids from the blocks the loader reserved, and records what changed as
a ``ChangeSet`` (``record=True``) that the writer stores; a backtest seeds it from history and
records nothing but its tally.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from synapse.errors import InsufficientBalance
from synapse.eventlake.events import Event, with_id
from synapse.ledger.model import Currency, Kind, Posted, Posting, Season
from synapse.milestones import model as mm
from synapse.milestones.criteria import MilestoneRecord, walk_criteria
from synapse.processing.changes import ChangeSet, GrantRow, OutboxItem
from synapse.rules import model as rm
from synapse.rules.compile import CLAWBACK_ORIGINALS, walk_conditions
from synapse.rules.facts import NO_CHANNEL, Channel, Member, PriorCredit

_NONE: frozenset[str] = frozenset()
_BEGINNING = datetime.min.replace(tzinfo=UTC)
_ABSENT = object()
_CLAWBACK_SOURCES = frozenset(CLAWBACK_ORIGINALS.values())
_Prior = tuple[int, str, int, str, datetime]   # PriorCredit's fields: member, currency, amount, key, time

__all__ = ["ChangeSet", "IdsExhausted", "MemoryState", "OutboxItem"]


class IdsExhausted(Exception):
    """The run needs more transaction or lake ids than the loader reserved (the caller reserves more)."""


class MemoryState:
    """Facts + Store over dictionaries. Seed it with members, channels, balances, earned milestones."""

    def __init__(self, guild_id: int, *, currencies: Mapping[str, Currency] | None = None,
                 members: Mapping[int, Member] | None = None, channels: Mapping[int, Channel] | None = None,
                 balances: Mapping[tuple[int, str], int] | None = None,
                 earned: Mapping[int, Iterable[str]] | None = None, season_start: datetime | None = None,
                 first_event_id: int = 1, keep_outbox: bool = True, record: bool = False,
                 tx_ids: Sequence[int] | None = None, event_ids: Sequence[int] | None = None,
                 role_history: Mapping[int, Sequence[tuple[datetime | None, frozenset[int]]]] | None = None,
                 seasons: Sequence[Season] = ()) -> None:
        self.guild_id = guild_id
        self.currencies = dict(currencies or {})
        self.members = dict(members or {})
        # Per member with a role history (``since`` None: from the beginning; in time order): the times, and
        # the member as of each (index 0: before the first, no roles). Without one, ``members`` answers.
        self._as_of: dict[int, tuple[list[datetime], list[Member]]] = {}
        for uid, history in (role_history or {}).items():
            base = self.members.get(uid) or Member()
            times = [_BEGINNING if since is None else since for since, _ in history]
            self._as_of[uid] = (times, [replace(base, roles=frozenset()),
                                        *(replace(base, roles=roles) for _, roles in history)])
        self.channels = dict(channels or {})
        self.balances: dict[tuple[int, str], int] = dict(balances or {})
        self.earned: dict[int, set[str]] = {u: set(ks) for u, ks in (earned or {}).items()}
        self._season = season_start
        # The guild's seasons, in order (a backtest's): each event's season by its time; without them, the
        # active season's start (``season_start``) answers for every event (live: events arrive in it).
        self.seasons = tuple(sorted(seasons, key=lambda s: s.started_at))
        self._season_starts = [s.started_at for s in self.seasons]
        self._times: dict[tuple[int, str], list[datetime]] = {}
        self._sums: dict[tuple[int, str, str], list[tuple[datetime, int]]] = {}
        self._base_counts: dict[tuple[int, str], int] = {}
        self._counts: dict[tuple[int, str], int] = {}
        self._counted: frozenset[str] | None = None    # None: count events of every type
        self._kept: frozenset[str] | None = None       # types with per-member history to keep (None: all)
        self._capped: frozenset[str] | None = None     # None: keep credits of every currency
        self._keep_fingerprints = self._track_prior = self._keep_days = self._keep_times = True
        self._summed: dict[str, tuple[str, ...]] | None = None       # fields summed by event type (None: all)
        self._keep_sum_items = True                                  # per-event items, for windowed sums
        self._totals: dict[tuple[int, str, str], int] = {}
        self._current: Event | None = None   # the event just observed, if a clawback source
        self._days: dict[int, set[date]] = {}
        self._fires: dict[tuple[int, int], list[datetime]] = {}
        # Rule credits by (member, currency), for caps: their times (sorted) and running sums.
        self._credit_times: dict[tuple[int, str], list[datetime]] = {}
        self._cumulative: dict[tuple[int, str], list[int]] = {}
        # Per (member, currency): the last cap window's start and the index of its first credit (later
        # credits are appended, checked in ``cap_used``; an out-of-order insert drops the entry).
        self._window_lo: dict[tuple[int, str], tuple[datetime, int]] = {}
        self._fingerprints: dict[tuple[int, str], list[tuple[datetime, str]]] = {}
        self._keys: set[str] = set()
        # Credits a clawback may take back, by source system and source event id, as PriorCredit fields
        # (built when asked: clawbacks are rare; one entry per credited message or reaction, so kept small).
        self._prior: dict[str, dict[str, tuple[_Prior, ...]]] = {}
        self._next_tx = 1
        self._next_event = first_event_id
        # Ids reserved by the loader (live), used in order; None: numbered from 1 / ``first_event_id``.
        self._tx_pool = None if tx_ids is None else list(reversed(tx_ids))
        self._event_pool = None if event_ids is None else list(reversed(event_ids))
        # Cap usage before this run per (member, currency, window start, window end) (live: from the snapshot).
        self._cap_base: dict[tuple[int, str, datetime, datetime | None], int] = {}
        self._lake_keys: set[str] = set()      # derived events' source ids already in the lake (or derived now)
        self.changes = ChangeSet(guild_id)
        self.recording = record
        self.outbox: list[OutboxItem] = self.changes.outbox
        self._outbox_keys: set[str] = set()
        self.keep_outbox = keep_outbox or record
        self.derived: list[Event] = self.changes.derived
        self.transactions: list[Posted] = self.changes.postings
        self.keep_transactions = record

    def tune(self, rules: Iterable[rm.RuleSpec], milestones: Iterable[mm.MilestoneSpec]) -> None:
        """Keep only the history these rules and milestones can ask about (faster, smaller backtests)."""
        conds: list[Any] = []
        effects: list[Any] = []
        for r in rules:
            conds.extend(walk_conditions(r.conditions))
            effects.extend(r.effects)
        crits: list[Any] = []
        for ms in milestones:
            crits.extend(walk_criteria(ms.criteria))
        self._capped = frozenset(c.currency for c in conds if isinstance(c, rm.CapCond))
        self._counted = frozenset(c.event for c in crits if isinstance(c, mm.EventCountCrit))
        self._keep_fingerprints = any(isinstance(c, rm.RepeatGuardCond) for c in conds)
        self._track_prior = any(isinstance(e, rm.ClawbackEffect) for e in effects)
        self._keep_days = any(isinstance(c, mm.StreakCrit) for c in crits)
        self._keep_times = any(isinstance(c, mm.EventCountCrit | mm.EventSumCrit) and c.within_days for c in crits)
        sums = [c for c in crits if isinstance(c, mm.EventSumCrit)]
        summed: dict[str, tuple[str, ...]] = {}
        for et, name in sorted({(c.event, c.field) for c in sums}):
            summed[et] = (*summed.get(et, ()), name)
        self._summed = summed
        if self._keep_times or self._keep_days:
            self._kept = None
        else:
            self._kept = frozenset(self._counted | summed.keys() | (
                {"message_create"} if self._keep_fingerprints else set()))
        self._keep_sum_items = any(c.within_days for c in sums)

    # ------------------------------------------------------------ Store writes

    def observe(self, event: Event) -> None:
        uid = event.user_id
        et = event.event_type
        self._current = event if self._track_prior and et in _CLAWBACK_SOURCES else None
        if uid is None or (self._kept is not None and et not in self._kept):
            return
        at = event.occurred_at
        key = (uid, et)
        counted = self._counted
        if counted is None or et in counted:
            counts = self._counts
            counts[key] = counts.get(key, 0) + 1
        if self._keep_times:
            times = self._times.get(key)
            if times is None:
                self._times[key] = [at]
            elif times[-1] <= at:
                times.append(at)
            else:
                bisect.insort(times, at)
        if et == "voice_tick" or et == "voice_session_end":
            self._observe_sums(uid, et, at, event.payload)
        if self._keep_days:
            days = self._days.get(uid)
            if days is None:
                self._days[uid] = {at.date()}
            else:
                days.add(at.date())
        if self._keep_fingerprints and et == "message_create":
            fp = event.payload.get("fingerprint")
            if fp:
                bisect.insort(self._fingerprints.setdefault((uid, str(fp)), []), (at, event.source_event_id))

    def _observe_sums(self, uid: int, et: str, at: datetime, payload: Mapping[str, Any]) -> None:
        """Integer payload fields of voice events (a ``voice_tick`` without ``minutes`` is one minute)."""
        summed = self._summed
        if summed is None:
            for name, value in payload.items():
                if isinstance(value, int) and not isinstance(value, bool):
                    self._add_sum((uid, et, name), at, value)
            if et == "voice_tick" and "minutes" not in payload:
                self._add_sum((uid, et, "minutes"), at, 1)
            return
        for name in summed.get(et, ()):   # tuned: only the fields milestones sum
            value = payload.get(name, _ABSENT)
            if value is _ABSENT:
                if et == "voice_tick" and name == "minutes":
                    self._add_sum((uid, et, name), at, 1)
            elif isinstance(value, int) and not isinstance(value, bool):
                self._add_sum((uid, et, name), at, value)

    # ------------------------------------------------------------ seeding (history before a backtest range)

    def seed_count(self, user_id: int, event_type: str, count: int) -> None:
        self._base_counts[(user_id, event_type)] = count

    def seed_sum(self, user_id: int, event_type: str, field: str, total: int) -> None:
        self._totals[(user_id, event_type, field)] = self._totals.get((user_id, event_type, field), 0) + total

    def seed_day(self, user_id: int, day: date) -> None:
        self._days.setdefault(user_id, set()).add(day)

    def seed_credit(self, user_id: int, currency: str, at: datetime, amount: int) -> None:
        key = (user_id, currency)
        times = self._credit_times.get(key)
        if times is None:
            self._credit_times[key] = [at]
            self._cumulative[key] = [0, amount]
            return
        cum = self._cumulative[key]
        if times[-1] <= at:
            times.append(at)
            cum.append(cum[-1] + amount)
            return
        # Out of order (rare): insert after the credits at the same time and shift the later running sums.
        self._window_lo.pop(key, None)
        i = bisect.bisect_right(times, at)
        times.insert(i, at)
        cum.insert(i + 1, cum[i] + amount)
        for j in range(i + 2, len(cum)):
            cum[j] += amount

    def seed_fire(self, rule_id: int, user_id: int, at: datetime) -> None:
        bisect.insort(self._fires.setdefault((rule_id, user_id), []), at)

    def seed_cap_used(self, user_id: int, currency: str, start: datetime, end: datetime | None, used: int) -> None:
        """Rule credits of the currency to the member in [start, end) before this run (a cap window)."""
        self._cap_base[(user_id, currency, start, end)] = used

    def seed_time(self, user_id: int, event_type: str, at: datetime) -> None:
        """An earlier event of the member (windowed counts)."""
        bisect.insort(self._times.setdefault((user_id, event_type), []), at)

    def seed_sum_item(self, user_id: int, event_type: str, field: str, at: datetime, value: int) -> None:
        """An earlier event's summed field (windowed sums; the lifetime total is ``seed_sum``)."""
        self._sums.setdefault((user_id, event_type, field), []).append((at, value))

    def seed_fingerprint(self, user_id: int, fingerprint: str, at: datetime, source_event_id: str) -> None:
        bisect.insort(self._fingerprints.setdefault((user_id, fingerprint), []), (at, source_event_id))

    def seed_posted(self, keys: Iterable[str]) -> None:
        """Idempotency keys already in the ledger (postings with them are skipped, as the database would)."""
        self._keys.update(keys)

    def seed_lake_keys(self, source_event_ids: Iterable[str]) -> None:
        """Derived events already in the lake (appending them again writes nothing and triggers nothing)."""
        self._lake_keys.update(source_event_ids)

    def seed_prior(self, source_system: str, source_event_id: str, credit: PriorCredit) -> None:
        """A rule credit an earlier event caused (what a clawback of that event takes back)."""
        self._remember(source_system, source_event_id,
                       (credit.user_id, credit.currency, credit.amount, credit.idempotency_key, credit.occurred_at))

    def _add_sum(self, key: tuple[int, str, str], at: datetime, value: int) -> None:
        if self._keep_sum_items:
            self._sums.setdefault(key, []).append((at, value))
        self._totals[key] = self._totals.get(key, 0) + value

    def post(self, postings: Sequence[Posting]) -> list[Posted]:
        out: list[Posted] = []
        balances, keys, capped, track_prior = self.balances, self._keys, self._capped, self._track_prior
        for p in postings:
            key = p.idempotency_key
            if key in keys:
                continue
            amount, currency, uid = p.amount, p.currency, p.user_id
            bkey = (uid, currency)
            before = balances.get(bkey, 0)
            after = before + amount
            if after < 0:
                cur = self.currencies.get(currency)
                if cur is None or not cur.allow_negative:
                    raise InsufficientBalance(user_id=uid, currency=currency, balance=before, amount=amount)
            keys.add(key)
            balances[bkey] = after
            posted = object.__new__(Posted)  # frozen dataclass: skip the per-field setattr of __init__
            pool = self._tx_pool
            if pool is None:
                tx = self._next_tx
                self._next_tx += 1
            elif pool:
                tx = pool.pop()
            else:
                raise IdsExhausted("transaction ids")
            posted.__dict__.update(posting=p, transaction_id=tx, balance_after=after)
            if amount > 0 and p.kind is Kind.rule:
                if capped is None or currency in capped:
                    self.seed_credit(uid, currency, p.occurred_at, amount)
                if track_prior and p.rule_id is not None:
                    self._note_prior(p, amount)
            if self.keep_transactions:
                self.transactions.append(posted)
            out.append(posted)
        return out

    def _note_prior(self, p: Posting, amount: int) -> None:
        """Remember a rule credit of a clawback source event (what a later clawback takes back).

        The loop posts an event's credits right after observing it (derived events come after), so a
        credit of a source event is a credit of the event just observed.
        """
        source = self._current
        if source is None or (p.event_id is not None and p.event_id != source.id):
            return
        self._remember(source.source_system, source.source_event_id,
                       (p.user_id, p.currency, amount, p.idempotency_key, p.occurred_at))

    def _remember(self, source_system: str, source_event_id: str, credit: _Prior) -> None:
        by_id = self._prior.get(source_system)
        if by_id is None:
            by_id = self._prior[source_system] = {}
        had = by_id.get(source_event_id)
        by_id[source_event_id] = (credit,) if had is None else (*had, credit)

    def record_fires(self, fires: Sequence[tuple[int, int]], at: datetime, event_id: int | None) -> None:
        if self.recording:
            rows = self.changes.fires
            for key in fires:
                had = rows.get(key)
                if had is None or at >= had[0]:   # as the upsert: the latest fire wins, the later one on a tie
                    rows[key] = (at, event_id)
        for rule_id, uid in fires:
            times = self._fires.get((rule_id, uid))
            if times is None:
                self._fires[(rule_id, uid)] = [at]
            elif times[-1] <= at:
                times.append(at)
            else:
                bisect.insort(times, at)

    def grant(self, milestone: MilestoneRecord, user_id: int, at: datetime, event_id: int | None, *,
              source: str = "rule", granted_by: int | None = None) -> bool:
        have = self.earned.setdefault(user_id, set())
        if milestone.spec.key in have:
            return False
        have.add(milestone.spec.key)
        if self.recording:
            self.changes.grants.append(GrantRow(milestone.milestone_id, user_id, at, event_id, source, granted_by))
        return True

    def append_derived(self, events: Sequence[Event]) -> list[Event]:
        out = []
        seen = self._lake_keys
        for e in events:
            key = e.source_event_id
            if key in seen:
                continue   # the lake keeps the first one
            seen.add(key)
            pool = self._event_pool
            if pool is None:
                event_id = self._next_event
                self._next_event += 1
            elif pool:
                event_id = pool.pop()
            else:
                raise IdsExhausted("lake ids")
            e = with_id(e, event_id)
            self.derived.append(e)
            self.observe(e)
            out.append(e)
        return out

    def emit(self, kind: str, dedupe_key: str, payload: dict[str, Any]) -> None:
        if dedupe_key in self._outbox_keys:
            return
        self._outbox_keys.add(dedupe_key)
        if self.keep_outbox:
            self.outbox.append(OutboxItem(kind, dedupe_key, payload))

    # ------------------------------------------------------------ Facts

    def fired_between(self, rule_id: int, user_id: int, start: datetime, end: datetime) -> bool:
        times = self._fires.get((rule_id, user_id))
        if not times:
            return False
        # Events come in time order, so the latest fire usually answers (no search).
        last = times[-1]
        if last <= start:
            return False
        if last < end:
            return True
        i = bisect.bisect_right(times, start)
        return i < len(times) and times[i] < end

    def cap_used(self, user_id: int, currency: str, start: datetime, end: datetime | None) -> int:
        key = (user_id, currency)
        times = self._credit_times.get(key)
        if not times:
            return self._cap_base.get((user_id, currency, start, end), 0) if self._cap_base else 0
        # Events come in time order, so the window usually holds the latest credits: no search for its end.
        hi = len(times) if end is None or times[-1] < end else bisect.bisect_left(times, end)
        known = self._window_lo.get(key)
        if known is not None and known[0] == start and (known[1] == len(times) or times[known[1]] >= start):
            lo = known[1]   # the same window as last time, and nothing appended since falls before it
        else:
            lo = 0 if times[0] >= start else bisect.bisect_left(times, start, 0, hi)
            self._window_lo[key] = (start, lo)
        cum = self._cumulative[key]
        return cum[hi] - cum[lo] + (self._cap_base.get((user_id, currency, start, end), 0) if self._cap_base else 0)

    def season_start(self, at: datetime) -> datetime | None:
        if not self.seasons:
            return self._season
        i = bisect.bisect_right(self._season_starts, at) - 1
        if i < 0:
            return None
        season = self.seasons[i]
        return season.started_at if season.ended_at is None or at < season.ended_at else None

    def balances_of(self, currency: str) -> list[tuple[int, int]]:
        return sorted((uid, balance) for (uid, cur), balance in self.balances.items() if cur == currency)

    def member(self, user_id: int, at: datetime) -> Member | None:
        history = self._as_of.get(user_id) if self._as_of else None
        if history is None:
            return self.members.get(user_id)
        times, members = history
        return members[bisect.bisect_right(times, at)]

    def channel(self, channel_id: int) -> Channel:
        return self.channels.get(channel_id, NO_CHANNEL)

    def event_count(self, user_id: int, event_type: str, since: datetime | None) -> int:
        if since is None:
            base = self._base_counts.get((user_id, event_type), 0) if self._base_counts else 0
            return base + self._counts.get((user_id, event_type), 0)
        times = self._times.get((user_id, event_type))
        if not times:
            return 0
        return len(times) - bisect.bisect_left(times, since)

    def event_sum(self, user_id: int, event_type: str, field: str, since: datetime | None) -> int:
        if since is None:
            return self._totals.get((user_id, event_type, field), 0)
        items = self._sums.get((user_id, event_type, field))
        if not items:
            return 0
        return sum(v for at, v in items if since is None or at >= since)

    def active_days(self, user_id: int, since: date, until: date) -> frozenset[date]:
        return frozenset(d for d in self._days.get(user_id, ()) if since <= d <= until)

    def any_posted(self, keys: Sequence[str]) -> bool:
        posted = self._keys
        for k in keys:  # noqa: SIM110 - hot path: a plain loop beats any() over a generator
            if k in posted:
                return True
        return False

    def fingerprint_repeats(self, user_id: int, fingerprint: str, start: datetime, end: datetime,
                            exclude: str) -> int:
        items = self._fingerprints.get((user_id, fingerprint), [])
        return sum(1 for at, key in items if start <= at <= end and key != exclude)

    def balance(self, user_id: int, currency: str) -> int:
        return self.balances.get((user_id, currency), 0)

    def prior_credits(self, source_system: str, source_event_id: str) -> Sequence[PriorCredit]:
        by_id = self._prior.get(source_system)
        return [] if by_id is None else [PriorCredit(*fields) for fields in by_id.get(source_event_id, ())]

    def earned_milestones(self, user_id: int) -> AbstractSet[str]:
        return self.earned.get(user_id, _NONE)
