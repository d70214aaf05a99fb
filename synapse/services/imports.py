"""Import opening balances from another bot's leaderboard (MEE6 JSON, or a CSV of member id and XP).

Two steps, the same parsing for both:

- ``preview``: parse, and show who lands on which level (with the currency's curve),
  the totals, problems found, and whether this very file was imported already;
- ``apply``: one ``import`` transaction per member (key ``import:{sha256}:{currency}:{user}``,
  reason and ``meta.source`` naming the source), one ``import_batches`` row and one audit row,
  in one database transaction. The batch row is unique per (guild, file hash, currency), so
  applying the same file again is a no-op that says so.

Formats:

- ``mee6``: what ``GET https://mee6.xyz/api/plugins/levels/leaderboard/{guild}?page=N`` returns,
  ``{"players": [{"id", "username", "xp", "level", "message_count", "detailed_xp", …}], …}``;
  also a list of such pages, or a bare list of players (as export scripts write them).
- ``csv``: ``user_id,xp`` rows, with or without a header (``id``/``user_id``/``member_id`` and
  ``xp``/``amount``/``balance``/``points``; an optional ``username``/``name`` column).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, text

from synapse.admin.audit import Actor, record
from synapse.db import ledger_store
from synapse.errors import ErrorDetail, ValidationFailed
from synapse.ledger import keys
from synapse.ledger.model import Kind, Posting
from synapse.ledger.posting import MAX_AMOUNT
from synapse.services.rules_runner import post_by_hand

Format = Literal["mee6", "csv"]
MAX_ROWS = 1_000_000
MAX_PROBLEMS = 50
POSTING_BATCH = 5000
ID_COLUMNS = ("user_id", "id", "member_id", "userid", "discord_id")
AMOUNT_COLUMNS = ("xp", "amount", "balance", "points", "exp")
NAME_COLUMNS = ("username", "name", "display_name", "user")


@dataclass(frozen=True)
class Row:
    user_id: int
    amount: int
    username: str | None = None


@dataclass
class Parsed:
    source: Format
    sha256: str
    rows: list[Row]
    problems: list[ErrorDetail] = field(default_factory=list)


def _snowflake(value: Any) -> int | None:
    s = str(value).strip()
    if not s.isdigit() or len(s) > 19 or int(s) == 0 or int(s) >= 2**63:
        return None
    return int(s)


def _amount(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        n = value
    else:
        s = str(value).strip().replace("_", "")
        if not s.lstrip("-").isdigit():
            return None
        n = int(s)
    return n if 0 <= n <= MAX_AMOUNT else None


def parse(content: str | bytes, fmt: Format) -> Parsed:
    raw = content.encode() if isinstance(content, str) else content
    sha = hashlib.sha256(raw).hexdigest()
    try:
        body = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("the file is not UTF-8 text", [ErrorDetail("content", "not UTF-8")]) from None
    parsed = Parsed(fmt, sha, [])
    if fmt == "mee6":
        _parse_mee6(body, parsed)
    else:
        _parse_csv(body, parsed)
    seen: set[int] = set()
    unique: list[Row] = []
    for row in parsed.rows:  # a member listed twice (overlapping pages): keep the first, say so
        if row.user_id in seen:
            _problem(parsed, f"row {len(unique) + 1}", f"member {row.user_id} listed again; kept the first")
            continue
        seen.add(row.user_id)
        unique.append(row)
    parsed.rows = unique
    if not parsed.rows:
        raise ValidationFailed("no members found in the file", parsed.problems or [
            ErrorDetail("content", "expected MEE6 leaderboard JSON or user_id,xp CSV rows")])
    return parsed


def _problem(parsed: Parsed, path: str, message: str) -> None:
    if len(parsed.problems) < MAX_PROBLEMS:
        parsed.problems.append(ErrorDetail(path, message))


def _parse_mee6(body: str, parsed: Parsed) -> None:
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ValidationFailed("not JSON", [ErrorDetail("content", f"line {exc.lineno}: {exc.msg}")]) from None
    players: list[tuple[str, Any]] = []
    pages = data if isinstance(data, list) else [data]
    for i, page in enumerate(pages):
        if isinstance(page, dict) and isinstance(page.get("players"), list):
            players.extend((f"[{i}].players[{j}]", p) for j, p in enumerate(page["players"]))
        elif isinstance(page, dict) and "id" in page:
            players.append((f"[{i}]", page))
        else:
            _problem(parsed, f"[{i}]", "neither a leaderboard page ({players: [...]}) nor a player")
    if len(players) > MAX_ROWS:
        raise ValidationFailed("file too large", [ErrorDetail("content", f"at most {MAX_ROWS} members")])
    for path, p in players:
        if not isinstance(p, dict):
            _problem(parsed, path, "not an object")
            continue
        uid, amount = _snowflake(p.get("id")), _amount(p.get("xp"))
        if uid is None:
            _problem(parsed, f"{path}.id", "not a Discord user id")
        elif amount is None:
            _problem(parsed, f"{path}.xp", f"not a whole number within 0..{MAX_AMOUNT}")
        else:
            name = p.get("username")
            parsed.rows.append(Row(uid, amount, str(name)[:100] if name else None))


def _parse_csv(body: str, parsed: Parsed) -> None:
    reader = csv.reader(io.StringIO(body))
    rows = [r for r in reader if r and any(c.strip() for c in r)]
    if not rows:
        return
    header = [c.strip().lower() for c in rows[0]]
    id_col, amount_col, name_col = 0, 1, None
    start = 0
    if not (header and header[0].isdigit()):
        id_col = next((header.index(c) for c in ID_COLUMNS if c in header), -1)
        amount_col = next((header.index(c) for c in AMOUNT_COLUMNS if c in header), -1)
        name_col = next((header.index(c) for c in NAME_COLUMNS if c in header), None)
        if id_col < 0 or amount_col < 0:
            raise ValidationFailed("CSV header not understood", [ErrorDetail(
                "content", f"need a member id column ({'/'.join(ID_COLUMNS)}) and an amount column "
                           f"({'/'.join(AMOUNT_COLUMNS)}), or no header and user_id,xp rows")])
        start = 1
    if len(rows) - start > MAX_ROWS:
        raise ValidationFailed("file too large", [ErrorDetail("content", f"at most {MAX_ROWS} members")])
    for n, r in enumerate(rows[start:], start=start + 1):
        if len(r) <= max(id_col, amount_col):
            _problem(parsed, f"line {n}", "too few columns")
            continue
        uid, amount = _snowflake(r[id_col]), _amount(r[amount_col])
        if uid is None:
            _problem(parsed, f"line {n}", f"{r[id_col]!r} is not a Discord user id")
        elif amount is None:
            _problem(parsed, f"line {n}", f"{r[amount_col]!r} is not a whole number within 0..{MAX_AMOUNT}")
        else:
            name = r[name_col].strip()[:100] if name_col is not None and len(r) > name_col else None
            parsed.rows.append(Row(uid, amount, name or None))


def _batch(conn: Connection, guild_id: int, sha: str, currency: str) -> Any:
    return conn.execute(text("""SELECT * FROM import_batches WHERE guild_id = :g AND file_sha256 = :h
                                   AND currency_key = :c"""), {"g": guild_id, "h": sha, "c": currency}).first()


def preview(conn: Connection, guild_id: int, parsed: Parsed, currency: str, *, sample: int = 100) -> dict[str, Any]:
    cur = ledger_store.get_currency(conn, guild_id, currency)
    ids = [r.user_id for r in parsed.rows]
    current = {r.user_id: int(r.balance) for r in conn.execute(text("""
        SELECT user_id, balance FROM wallets WHERE guild_id = :g AND currency_key = :c AND user_id = ANY(:ids)"""),
        {"g": guild_id, "c": currency, "ids": ids})}
    rows = sorted(parsed.rows, key=lambda r: (-r.amount, r.user_id))
    levels: dict[int, int] = {}
    out_rows: list[dict[str, Any]] = []
    for r in rows:
        before = current.get(r.user_id, 0)
        after = before + r.amount
        level_after = cur.curve.level_for(after) if cur.levelled else None
        if level_after is not None:
            levels[level_after] = levels.get(level_after, 0) + 1
        if len(out_rows) < sample:
            out_rows.append({"user_id": str(r.user_id), "username": r.username, "amount": r.amount,
                             "balance_before": before, "balance_after": after,
                             "level_before": cur.curve.level_for(before) if cur.levelled else None,
                             "level_after": level_after})
    done = _batch(conn, guild_id, parsed.sha256, currency)
    return {"source": parsed.source, "file_sha256": parsed.sha256, "currency": currency,
            "members": len(rows), "total": sum(r.amount for r in rows),
            "members_with_balance": len(current), "levels": [{"level": k, "members": v}
                                                             for k, v in sorted(levels.items())],
            "rows": out_rows, "problems": [p.as_dict() for p in parsed.problems],
            "already_imported": done is not None,
            "import_id": int(done.import_id) if done is not None else None}


def apply(conn: Connection, guild_id: int, parsed: Parsed, currency: str, *, actor: Actor, at: datetime,
          filename: str = "", progress: Callable[[int], None] | None = None, announce: bool = True) -> dict[str, Any]:
    """Post the opening balances (idempotent per file and currency); returns the batch summary.

    Through the engine, as earned credit: members who land on a level get their ``level_up`` events
    (level roles, announcements unless ``announce=False``) and the milestones they now meet.
    """
    ledger_store.get_currency(conn, guild_id, currency)
    conn.execute(text("SELECT 1 FROM guilds WHERE guild_id = :g FOR UPDATE"), {"g": guild_id})
    done = _batch(conn, guild_id, parsed.sha256, currency)
    if done is not None:
        return {"import_id": int(done.import_id), "already_imported": True, "members": int(done.members),
                "total": int(done.total), "posted": 0}
    rows = [r for r in parsed.rows if r.amount > 0]
    label = f"import from {parsed.source}" + (f" ({filename[:80]})" if filename else "")
    posted = 0
    for i in range(0, len(rows), POSTING_BATCH):
        chunk = rows[i:i + POSTING_BATCH]
        postings = [Posting(guild_id=guild_id, user_id=r.user_id, currency=currency, amount=r.amount,
                            kind=Kind.import_, idempotency_key=keys.Import(parsed.sha256, currency, r.user_id).render(),
                            occurred_at=at, reason=label, actor_id=actor.id,
                            meta={"source": parsed.source, "file_sha256": parsed.sha256}) for r in chunk]
        done = post_by_hand(conn, guild_id, postings, kind="import", key=f"import:{parsed.sha256}:{currency}",
                            at=at, announce=announce, actor_id=actor.id)
        posted += sum(1 for p in done.changes.postings if p.posting.kind is Kind.import_)
        named = [r for r in chunk if r.username]
        if named:  # display names for the leaderboard, never overwriting what Discord told us
            conn.execute(text("""
                INSERT INTO member_cache (guild_id, user_id, display_name)
                SELECT :g, u, n FROM unnest(CAST(:ids AS bigint[]), CAST(:names AS text[])) AS t(u, n)
                ON CONFLICT (guild_id, user_id) DO NOTHING"""),
                {"g": guild_id, "ids": [r.user_id for r in named], "names": [r.username for r in named]})
        if progress is not None:
            progress(min(i + POSTING_BATCH, len(rows)))
    total = sum(r.amount for r in rows)
    import_id = int(conn.execute(text("""
        INSERT INTO import_batches (guild_id, source, file_sha256, currency_key, members, total, created_by)
        VALUES (:g, :s, :h, :c, :m, :t, :by) RETURNING import_id"""),
        {"g": guild_id, "s": parsed.source, "h": parsed.sha256, "c": currency, "m": len(rows), "t": total,
         "by": actor.id}).scalar_one())
    record(conn, guild_id=guild_id, actor=actor, action="import.apply", entity_type="import", entity_id=import_id,
           after={"source": parsed.source, "file_sha256": parsed.sha256, "filename": filename, "currency": currency,
                  "members": len(rows), "total": total, "posted": posted})
    return {"import_id": import_id, "already_imported": False, "members": len(rows), "total": total,
            "posted": posted}


def list_batches(conn: Connection, guild_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(text("SELECT * FROM import_batches WHERE guild_id = :g ORDER BY import_id DESC"),
                        {"g": guild_id})
    return [{"import_id": int(r.import_id), "source": r.source, "file_sha256": r.file_sha256,
             "currency": r.currency_key, "members": int(r.members), "total": int(r.total),
             "created_by": None if r.created_by is None else str(r.created_by), "created_at": r.created_at}
            for r in rows]
