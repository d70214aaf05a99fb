"""Read model: members ranked by the net of their transactions in a time window (period leaderboards).

What counts is defined in ``synapse.services.periods``: ``SUM(amount)`` over ``transactions`` of one
currency with ``occurred_at`` in ``[start, end)``, every kind but ``season_reset`` and ``import``;
members whose net is 0 are left out. Ranks are ordinal like the all-time board's (higher net first,
then lower user id) and exact: the statement ranks every member of the window, then returns one
page (by keyset, or by offset) and the viewer's own row.

Served by the partial index ``ix_transactions_period`` (migration 0012: guild, currency,
occurred_at, INCLUDE user_id and amount, WHERE kind NOT IN the two excluded kinds), an index-only
range scan of the window: the cost grows with the window's transactions, not the table's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

EXCLUDED_KINDS = ("season_reset", "import")


@dataclass(frozen=True)
class PeriodRow:
    rank: int
    user_id: int
    net: int                 # the period's net
    balance: int | None      # the member's current wallet balance (for the level), None without a wallet
    display_name: str | None
    avatar: str | None
    hidden: bool


@dataclass(frozen=True)
class PeriodPage:
    rows: list[PeriodRow]    # up to limit + 1 rows: one more than asked tells there is a next page
    viewer: PeriodRow | None


# The WHERE clause must repeat the partial index's predicate word for word for the planner to use it.
_PAGE = text("""
WITH totals AS (
    SELECT user_id, SUM(amount)::bigint AS net FROM transactions
     WHERE guild_id = :g AND currency_key = :c AND occurred_at >= :start
       AND (CAST(:end AS timestamptz) IS NULL OR occurred_at < CAST(:end AS timestamptz))
       AND kind NOT IN ('season_reset', 'import')
     GROUP BY user_id HAVING SUM(amount) <> 0
), ranked AS (
    SELECT user_id, net, row_number() OVER (ORDER BY net DESC, user_id) AS rank FROM totals
), page AS (
    SELECT rank, user_id, net FROM ranked
     WHERE rank > :offset
       AND (CAST(:after_net AS bigint) IS NULL OR net < CAST(:after_net AS bigint)
            OR (net = CAST(:after_net AS bigint) AND user_id > :after_user))
     ORDER BY rank LIMIT :n
)
SELECT p.rank, p.user_id, p.net, w.balance, mc.display_name, mc.avatar,
       COALESCE(mc.public_opt_out, false) AS hidden, false AS is_viewer
  FROM page p
  LEFT JOIN wallets w ON w.guild_id = :g AND w.user_id = p.user_id AND w.currency_key = :c
  LEFT JOIN member_cache mc ON mc.guild_id = :g AND mc.user_id = p.user_id
UNION ALL
SELECT r.rank, r.user_id, r.net, w.balance, NULL, NULL, false, true
  FROM ranked r
  LEFT JOIN wallets w ON w.guild_id = :g AND w.user_id = r.user_id AND w.currency_key = :c
 WHERE r.user_id = :viewer
ORDER BY is_viewer, rank
""")


def period_page(conn: Connection, guild_id: int, currency: str, *, start: datetime, end: datetime | None,
                limit: int, offset: int = 0, after: tuple[int, int] | None = None,
                viewer_id: int | None = None) -> PeriodPage:
    """One page of the window's ranking (``offset`` ranks skipped, or after the ``(net, user_id)`` keyset)."""
    rows = conn.execute(_PAGE, {
        "g": guild_id, "c": currency, "start": start, "end": end, "offset": max(0, offset),
        "after_net": after[0] if after else None, "after_user": after[1] if after else 0,
        "n": limit + 1, "viewer": viewer_id if viewer_id is not None else -1}).all()
    page: list[PeriodRow] = []
    viewer: PeriodRow | None = None
    for r in rows:
        row = PeriodRow(int(r.rank), int(r.user_id), int(r.net), None if r.balance is None else int(r.balance),
                        r.display_name, r.avatar, bool(r.hidden))
        if r.is_viewer:
            viewer = row
        else:
            page.append(row)
    return PeriodPage(page, viewer)
