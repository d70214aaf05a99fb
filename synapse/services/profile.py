"""Member read models: a profile, a leaderboard page, a member's milestones.

Framework-free (a SQLAlchemy ``Connection`` in, frozen dataclasses out): the one read model of
each member screen, shared by the slash commands (``/profile``, ``/leaderboard``) and the
dashboard API (``synapse.services.queries`` encodes these for ``/members/{id}`` and
``/leaderboard/{currency}``), so both always show the same rank. Every query is served by an
index on the hot path (``ix_wallets_leaderboard`` for ranks and pages,
``ix_transactions_member_currency_time`` for recent reasons): a profile costs a
handful of index scans whatever the guild's size.

Ranks are ordinal with a stable tie-break (higher balance first, then lower
user id), among the wallets with a non-zero balance (a member at 0 is not on the
board and has no rank), so the rank a profile shows is the row the leaderboard shows. Counting
the wallets above a member costs as many index entries as the rank itself, so a
rank is exact up to ``RankIndex.exact_limit`` (top 2,000 by default: a bounded
count); deeper ranks come from a per-process histogram of balances at most
``max_age`` seconds old and are flagged ``rank_exact=False`` (shown as "~#48,213").
The dashboard API passes ``EXACT_RANKS`` (its schema has no approximate rank).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, TextClause, text

from synapse.db.ledger_store import load_currencies
from synapse.errors import NotFound
from synapse.ledger.curves import LevelCurve
from synapse.ledger.model import Currency

PAGE_SIZE = 10
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Standing:
    """A member's balance in one currency, with level progress if it is levelled."""

    currency: str
    name: str
    symbol: str
    balance: int
    level: int | None = None
    into_level: int = 0
    for_next: int = 0
    rank: int | None = None
    rank_exact: bool = True


@dataclass(frozen=True)
class Reason:
    """One recent credit: how much, and which rule and event kind earned it."""

    transaction_id: int
    currency: str
    amount: int
    kind: str
    reason: str
    rule_id: int | None
    rule_name: str | None
    event_type: str | None
    occurred_at: datetime


@dataclass(frozen=True)
class EarnedMilestone:
    milestone_id: int
    key: str
    name: str
    emoji: str
    description: str
    earned_at: datetime | None = None
    source: str | None = None


@dataclass(frozen=True)
class Activity:
    """A member's messages and voice minutes since a day (from ``member_daily``)."""

    since: date
    messages: int
    voice_minutes: int


@dataclass(frozen=True)
class Profile:
    guild_id: int
    user_id: int
    display_name: str | None
    avatar: str | None
    standings: list[Standing]          # every visible currency, each with its rank
    primary: Standing | None
    recent_milestones: list[EarnedMilestone]
    recent_reasons: list[Reason]
    joined_at: datetime | None = None
    hidden: bool = False               # the member opted out of public boards
    activity: Activity | None = None   # when asked for (``activity_since``)


@dataclass(frozen=True)
class Entry:
    rank: int
    user_id: int
    display_name: str | None
    balance: int
    level: int | None
    rank_exact: bool = True
    hidden: bool = False   # the member opted out of public boards
    avatar: str | None = None


@dataclass(frozen=True)
class After:
    """Keyset position: the last entry of the previous page (what the dashboard's cursor carries)."""

    balance: int
    user_id: int
    rank: int


@dataclass(frozen=True)
class LeaderboardPage:
    currency: str
    currency_name: str
    symbol: str
    season_id: int | None
    season_name: str | None
    page: int
    page_size: int
    entries: list[Entry]
    has_next: bool
    viewer: Entry | None
    season_status: str | None = None   # "active" or "closed" when a season was asked for
    period: str = "all"                  # synapse.services.periods: all, week, month, season
    since: datetime | None = None        # start of the period's window (None: all time)
    until: datetime | None = None        # its end (exclusive; None: open)


@dataclass(frozen=True)
class MilestoneBoard:
    earned: list[EarnedMilestone]
    available: list[EarnedMilestone]


@lru_cache(maxsize=64)
def _curve(spec: Any) -> LevelCurve:
    """One ``LevelCurve`` per distinct curve: its 1,000 cumulative thresholds are computed once
    per process, not on every request (``load_currencies`` builds fresh curves each time)."""
    return LevelCurve(spec)


def _shared(curve: LevelCurve) -> LevelCurve:
    try:
        return _curve(curve.spec)
    except TypeError:  # an unhashable spec (a table curve holds a list): use it as it is
        return curve


def visible_currencies(conn: Connection, guild_id: int) -> list[Currency]:
    return [replace(c, curve=_shared(c.curve)) for c in load_currencies(conn, guild_id).values() if c.visible]


def primary_currency(currencies: list[Currency]) -> Currency | None:
    """The currency ranks are shown in: the first levelled visible one, else the first visible one."""
    for c in currencies:
        if c.levelled:
            return c
    return currencies[0] if currencies else None


@dataclass(frozen=True)
class Rank:
    position: int
    exact: bool


@dataclass
class _Histogram:
    loaded_at: float
    negated: list[int] = field(default_factory=list)   # -balance, ascending (balances descending)
    above: list[int] = field(default_factory=list)     # wallets with a higher balance than negated[i]'s
    total: int = 0


class RankIndex:
    """Ranks without counting 100k index entries per request: exact near the top, a recent histogram below."""

    def __init__(self, *, exact_limit: int = 2000, max_age: float = 60.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.exact_limit = exact_limit
        self.max_age = max_age
        self._now = monotonic
        self._lock = threading.Lock()
        self._histograms: dict[tuple[int, str], _Histogram] = {}

    def from_count(self, conn: Connection, guild_id: int, currency: str, balance: int, ahead: int) -> Rank:
        """The rank, given a count of wallets ahead bounded by ``exact_limit`` (``_AHEAD``)."""
        if ahead < self.exact_limit:
            return Rank(ahead + 1, True)
        histogram = self._histogram(conn, guild_id, currency)
        # Wallets with a higher balance = the counts of every histogram bucket before ours.
        i = bisect.bisect_left(histogram.negated, -balance)
        above = histogram.above[i] if i < len(histogram.above) else histogram.total
        return Rank(max(above, self.exact_limit) + 1, False)

    def _histogram(self, conn: Connection, guild_id: int, currency: str) -> _Histogram:
        key = (guild_id, currency)
        now = self._now()
        with self._lock:
            cached = self._histograms.get(key)
            if cached is not None and now - cached.loaded_at < self.max_age:
                return cached
        rows = conn.execute(text("""
            SELECT balance, count(*) AS n FROM wallets WHERE guild_id = :g AND currency_key = :c AND balance <> 0
             GROUP BY balance ORDER BY balance DESC"""), {"g": guild_id, "c": currency}).all()
        histogram = _Histogram(now)
        running = 0
        for row in rows:
            histogram.negated.append(-int(row.balance))
            histogram.above.append(running)
            running += int(row.n)
        histogram.total = running
        with self._lock:
            self._histograms[key] = histogram
        return histogram


RANKS = RankIndex()
# Exact at any depth (a count as long as the rank): for callers that cannot show "~#N".
EXACT_RANKS = RankIndex(exact_limit=2**62)


def _ranks(ranks: RankIndex | None) -> RankIndex:
    return RANKS if ranks is None else ranks  # read at call time: tests swap RANKS


# How many non-zero wallets sort before wallet ``me`` (higher balance, or equal and lower user id),
# counted up to :lim (``RankIndex.exact_limit``): what ``RankIndex.from_count`` turns into a rank.
_AHEAD_OF_ME = """(SELECT count(*) FROM (
            SELECT 1 FROM wallets w
             WHERE w.guild_id = :g AND w.currency_key = me.currency_key AND w.balance <> 0
               AND w.balance >= me.balance AND (w.balance > me.balance OR w.user_id < me.user_id)
             LIMIT :lim) s)"""

# The same for member :u in currency :c (NULL when :u has no wallet in :c).
_AHEAD = """(SELECT """ + _AHEAD_OF_ME + """ FROM wallets me
              WHERE me.guild_id = :g AND me.user_id = :u AND me.currency_key = :c) AS ahead"""

_PROFILE = text("""
SELECT (SELECT json_build_object('name', display_name, 'avatar', avatar, 'joined_at', joined_at,
                                 'hidden', public_opt_out) FROM member_cache
         WHERE guild_id = :g AND user_id = :u) AS cache,
       (SELECT json_object_agg(currency_key, balance) FROM wallets
         WHERE guild_id = :g AND user_id = :u) AS balances,
       (SELECT json_object_agg(me.currency_key, """ + _AHEAD_OF_ME + """) FROM wallets me
         WHERE me.guild_id = :g AND me.user_id = :u AND me.balance <> 0
           AND me.currency_key = ANY(CAST(:keys AS text[]))) AS ahead,
       (SELECT json_agg(r) FROM (
            SELECT t.id, t.currency_key, t.amount, t.kind, t.reason, t.rule_id, ru.name AS rule_name,
                   t.event_type, t.occurred_at
              FROM transactions t
              LEFT JOIN rules ru ON ru.guild_id = t.guild_id AND ru.rule_id = t.rule_id
             WHERE t.guild_id = :g AND t.user_id = :u AND t.amount > 0
               AND t.currency_key = ANY(CAST(:keys AS text[]))
             ORDER BY t.occurred_at DESC, t.id DESC
             LIMIT :n) r) AS reasons,
       (SELECT json_agg(m) FROM (
            SELECT m.milestone_id, m.key, m.name, m.emoji, m.description, um.earned_at, um.source
              FROM user_milestones um
              JOIN milestones m ON m.guild_id = um.guild_id AND m.milestone_id = um.milestone_id
             WHERE um.guild_id = :g AND um.user_id = :u
             ORDER BY um.earned_at DESC, m.milestone_id DESC
             LIMIT :m) m) AS milestones,
       (SELECT json_build_object('messages', COALESCE(SUM(messages), 0), 'voice', COALESCE(SUM(voice_seconds), 0))
          FROM member_daily WHERE guild_id = :g AND user_id = :u AND day >= CAST(:since AS date)
        HAVING CAST(:since AS date) IS NOT NULL) AS activity
""")


def member_profile(conn: Connection, guild_id: int, user_id: int, *, recent: int = 5,
                   milestones: int | None = 5, activity_since: date | None = None,
                   ranks: RankIndex | None = None) -> Profile:
    """Levels, balances of every visible currency with its rank, progress, recent milestones and reasons.

    ``recent`` bounds the reasons, ``milestones`` the milestones (newest first; ``None``: all of them);
    ``activity_since`` adds messages and voice minutes since that day. Two round trips
    (currencies, then everything about the member in one statement: this answers a slash command inside
    Discord's 3 s, often on a busy database). Raises :class:`NotFound` for a member Synapse has never seen
    (opted-out members are returned, flagged ``hidden``: the caller decides who may see them).
    """
    index = _ranks(ranks)
    currencies = visible_currencies(conn, guild_id)
    primary = primary_currency(currencies)
    row = conn.execute(_PROFILE, {"g": guild_id, "u": user_id, "lim": index.exact_limit,
                                  "keys": [c.key for c in currencies], "n": recent,
                                  "m": milestones,
                                  "since": activity_since}).one()
    balances: dict[str, int] = {k: int(v) for k, v in (row.balances or {}).items()}
    if row.cache is None and not balances:
        raise NotFound(f"member {user_id} has no activity in this server yet")
    ahead: dict[str, int] = {k: int(v) for k, v in (row.ahead or {}).items()}
    standings: list[Standing] = []
    primary_standing: Standing | None = None
    for c in currencies:
        balance = balances.get(c.key, 0)
        level = into = size = 0
        if c.levelled:
            progress = c.curve.progress(balance)
            level, into, size = progress.level, progress.into_level, progress.for_next
        rank = None
        if c.key in ahead:  # a non-zero wallet: on the board
            rank = index.from_count(conn, guild_id, c.key, balance, ahead[c.key])
        standing = Standing(c.key, c.name, c.symbol, balance, level if c.levelled else None, into, size,
                            rank.position if rank else None, rank.exact if rank else True)
        standings.append(standing)
        if primary is not None and c.key == primary.key:
            primary_standing = standing
    cache = row.cache or {}
    reasons = [Reason(r["id"], r["currency_key"], int(r["amount"]), r["kind"], r["reason"], r["rule_id"],
                      r["rule_name"], r["event_type"], datetime.fromisoformat(r["occurred_at"]))
               for r in row.reasons or []]
    earned = [EarnedMilestone(m["milestone_id"], m["key"], m["name"], m["emoji"], m["description"],
                              datetime.fromisoformat(m["earned_at"]), m["source"])
              for m in row.milestones or []]
    activity = None
    if activity_since is not None and row.activity is not None:
        activity = Activity(activity_since, int(row.activity["messages"]), int(row.activity["voice"]) // 60)
    joined = cache.get("joined_at")
    return Profile(guild_id, user_id, cache.get("name"), cache.get("avatar"), standings, primary_standing,
                   earned, reasons, joined_at=None if joined is None else datetime.fromisoformat(joined),
                   hidden=bool(cache.get("hidden")), activity=activity)


def earned_milestones(conn: Connection, guild_id: int, user_id: int, *, limit: int | None = None
                      ) -> list[EarnedMilestone]:
    rows = conn.execute(text("""
        SELECT m.milestone_id, m.key, m.name, m.emoji, m.description, um.earned_at, um.source
          FROM user_milestones um
          JOIN milestones m ON m.guild_id = um.guild_id AND m.milestone_id = um.milestone_id
         WHERE um.guild_id = :g AND um.user_id = :u
         ORDER BY um.earned_at DESC, m.milestone_id DESC
         LIMIT :n"""), {"g": guild_id, "u": user_id, "n": limit})
    return [EarnedMilestone(r.milestone_id, r.key, r.name, r.emoji, r.description, r.earned_at, r.source)
            for r in rows]


def member_milestones(conn: Connection, guild_id: int, user_id: int) -> MilestoneBoard:
    """Earned milestones (newest first) and those still available (enabled, not hidden)."""
    earned = earned_milestones(conn, guild_id, user_id)
    got = {m.milestone_id for m in earned}
    rows = conn.execute(text("""
        SELECT milestone_id, key, name, emoji, description FROM milestones
         WHERE guild_id = :g AND enabled AND NOT hidden ORDER BY milestone_id"""), {"g": guild_id})
    available = [EarnedMilestone(r.milestone_id, r.key, r.name, r.emoji, r.description)
                 for r in rows if r.milestone_id not in got]
    return MilestoneBoard(earned, available)


def _season(conn: Connection, guild_id: int, season_id: int | None) -> tuple[int | None, str | None, str | None]:
    """(season id, name, status) for the asked season; (None, None, None) for live balances."""
    if season_id is None:
        return None, None, None
    row = conn.execute(text("SELECT season_id, name, status FROM seasons WHERE guild_id = :g AND season_id = :s"),
                       {"g": guild_id, "s": season_id}).first()
    if row is None:
        raise NotFound(f"no season {season_id} in this server")
    return int(row.season_id), str(row.name), str(row.status)


def leaderboard(conn: Connection, guild_id: int, currency: str | None = None, *, season_id: int | None = None,
                page: int = 0, page_size: int = PAGE_SIZE, viewer_id: int | None = None,
                after: After | None = None, ranks: RankIndex | None = None,
                period: str = "all", now: datetime | None = None) -> LeaderboardPage:
    """One page of the ranking in a currency (live, or a closed season's final standings).

    Pages are numbered (``page``, the slash command's buttons) or follow a keyset position
    (``after``, the dashboard's cursor; then ``page`` counts on from there). Members at 0 are not ranked.
    ``period`` other than ``all`` (``week``, ``month``, ``season``: ``synapse.services.periods``) ranks
    the net earned in that window as of ``now`` instead; it cannot be combined with ``season_id``.
    """
    index = _ranks(ranks)
    currencies = visible_currencies(conn, guild_id)
    if currency is None:
        chosen = primary_currency(currencies)
        if chosen is None:
            raise NotFound("this server has no visible currency yet")
    else:
        found = [c for c in currencies if c.key == currency]
        if not found:
            raise NotFound(f"no currency {currency!r} in this server")
        chosen = found[0]
    page = max(0, page)
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    if period != "all":
        return _period_board(conn, guild_id, chosen, period, season_id=season_id, page=page, page_size=page_size,
                             after=after, viewer_id=viewer_id, now=now)
    sid, season_name, status = _season(conn, guild_id, season_id)
    closed = status == "closed"
    offset = page * page_size
    start = after.rank if after else 0
    params = {"g": guild_id, "c": chosen.key, "s": sid, "n": page_size + 1, "o": offset, "r": start}
    if closed:
        rows = conn.execute(text("""
            SELECT s.rank, s.user_id, s.balance, mc.display_name, mc.avatar,
                   COALESCE(mc.public_opt_out, false) AS hidden FROM season_snapshots s
              LEFT JOIN member_cache mc ON mc.guild_id = s.guild_id AND mc.user_id = s.user_id
             WHERE s.guild_id = :g AND s.season_id = :s AND s.currency_key = :c AND s.rank > :r
             ORDER BY s.rank, s.user_id LIMIT :n OFFSET :o"""), params).all()
        entries = [Entry(int(r.rank), r.user_id, r.display_name, int(r.balance), _level(chosen, r.balance),
                         hidden=r.hidden, avatar=r.avatar) for r in rows]
    else:
        # Page and the viewer's standing in one round trip.
        keyset = {"b": after.balance, "ku": after.user_id} if after else {}
        row = conn.execute(_LIVE_PAGE_AFTER if after else _LIVE_PAGE,
                           {**params, **keyset, "u": viewer_id or 0, "lim": index.exact_limit}).one()
        entries = [Entry(start + offset + i + 1, int(r["user_id"]), r["display_name"], int(r["balance"]),
                         _level(chosen, r["balance"]), hidden=bool(r["hidden"]), avatar=r["avatar"])
                   for i, r in enumerate(row.entries or [])]
    has_next = len(entries) > page_size
    entries = entries[:page_size]
    viewer = None
    if viewer_id is not None:
        if closed:
            viewer = _snapshot_entry(conn, guild_id, chosen, viewer_id, sid or 0)
        elif row.viewer_balance is not None and int(row.viewer_balance) != 0:
            rank = index.from_count(conn, guild_id, chosen.key, int(row.viewer_balance), int(row.ahead))
            viewer = Entry(rank.position, viewer_id, None, int(row.viewer_balance),
                           _level(chosen, row.viewer_balance), rank.exact)
    return LeaderboardPage(chosen.key, chosen.name, chosen.symbol, sid, season_name, page, page_size, entries,
                           has_next, viewer, status)


def _live_page(keyset: str) -> TextClause:
    return text("""
SELECT (SELECT json_agg(p) FROM (
            SELECT w.user_id, w.balance, mc.display_name, mc.avatar,
                   COALESCE(mc.public_opt_out, false) AS hidden FROM (
                SELECT user_id, balance FROM wallets WHERE guild_id = :g AND currency_key = :c AND balance <> 0
                """ + keyset + """
                 ORDER BY balance DESC, user_id LIMIT :n OFFSET :o) w
              LEFT JOIN member_cache mc ON mc.guild_id = :g AND mc.user_id = w.user_id
             ORDER BY w.balance DESC, w.user_id) p) AS entries,
       (SELECT balance FROM wallets WHERE guild_id = :g AND user_id = :u AND currency_key = :c) AS viewer_balance,
       """ + _AHEAD + """
""")


_LIVE_PAGE = _live_page("")
_LIVE_PAGE_AFTER = _live_page("AND (balance < :b OR (balance = :b AND user_id > :ku))")


def _period_board(conn: Connection, guild_id: int, currency: Currency, period: str, *, season_id: int | None,
                  page: int, page_size: int, after: After | None, viewer_id: int | None,
                  now: datetime | None) -> LeaderboardPage:
    """A page of the net earned in a period's window; levels are the members' current ones."""
    from synapse.db.period_totals import period_page
    from synapse.errors import ErrorDetail, ValidationFailed
    from synapse.services.periods import parse_period, window

    chosen_period = parse_period(period)
    if season_id is not None:
        raise ValidationFailed("choose a season or a period, not both",
                               [ErrorDetail("period", "a past season's board has no period")])
    if now is None:
        raise ValueError("a period board needs now")
    w = window(conn, guild_id, chosen_period, now=now)
    if w.start is None:  # only "all" has no start, and it never comes here
        raise ValueError(f"period {chosen_period} has no window")
    result = period_page(conn, guild_id, currency.key, start=w.start, end=w.end, limit=page_size,
                         offset=page * page_size, after=(after.balance, after.user_id) if after else None,
                         viewer_id=viewer_id)
    entries = [Entry(r.rank, r.user_id, r.display_name, r.net, _level(currency, r.balance or 0), hidden=r.hidden,
                     avatar=r.avatar) for r in result.rows]
    v = result.viewer
    viewer = None if v is None else Entry(v.rank, v.user_id, None, v.net, _level(currency, v.balance or 0))
    return LeaderboardPage(currency.key, currency.name, currency.symbol, w.season_id, w.season_name, page, page_size,
                           entries[:page_size], len(entries) > page_size, viewer,
                           season_status="active" if w.season_id else None, period=chosen_period, since=w.start,
                           until=w.end)


def _level(currency: Currency, balance: int) -> int | None:
    return currency.curve.level_for(int(balance)) if currency.levelled else None


def _snapshot_entry(conn: Connection, guild_id: int, currency: Currency, user_id: int, season_id: int) -> Entry | None:
    row = conn.execute(text("""
        SELECT rank, balance FROM season_snapshots
         WHERE guild_id = :g AND season_id = :s AND currency_key = :c AND user_id = :u"""),
        {"g": guild_id, "s": season_id, "c": currency.key, "u": user_id}).first()
    return None if row is None else Entry(int(row.rank), user_id, None, int(row.balance),
                                          _level(currency, row.balance))


def set_public(conn: Connection, guild_id: int, user_id: int, *, public: bool) -> bool:
    """A member shows or hides themself on public boards; return the previous choice (True = public)."""
    previous = conn.execute(text("""
        SELECT NOT public_opt_out FROM member_cache WHERE guild_id = :g AND user_id = :u"""),
        {"g": guild_id, "u": user_id}).scalar()
    conn.execute(text("""
        INSERT INTO member_cache (guild_id, user_id, public_opt_out) VALUES (:g, :u, :hidden)
        ON CONFLICT (guild_id, user_id) DO UPDATE SET public_opt_out = EXCLUDED.public_opt_out"""),
        {"g": guild_id, "u": user_id, "hidden": not public})
    return True if previous is None else bool(previous)
