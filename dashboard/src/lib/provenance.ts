/** Where a ledger line came from, in words: the rule at its version and the event, the admin and
 * their reason, the import, the season roll, or the credit a clawback took back. Pure, for tests. */

export interface LineLike {
  kind: string;
  reason: string;
  rule_id?: number | null;
  rule_version?: number | null;
  rule_name?: string | null;
  event_id?: number | null;
  event_type?: string | null;
  actor_id?: string | null;
  actor_name?: string | null;
  season_id?: number | null;
  import_source?: string | null;
  clawback_of?: number | null;
}

function rule(l: LineLike): string | null {
  if (l.rule_id == null) return null;
  const name = l.rule_name ? `'${l.rule_name}'` : `#${l.rule_id}`;
  return `rule ${name}${l.rule_version != null ? ` @ v${l.rule_version}` : ''}`;
}

function event(l: LineLike): string | null {
  if (l.event_id == null && !l.event_type) return null;
  return `event ${l.event_type ?? 'unknown'}${l.event_id != null ? ` #${l.event_id}` : ''}`;
}

function admin(l: LineLike): string | null {
  if (!l.actor_id) return null;
  return `admin @${l.actor_name?.trim() || `…${l.actor_id.slice(-6)}`}`;
}

/** One line of text, e.g. "rule 'Message XP' @ v3 · event message_create #123" or "admin @ada: typo". */
export function describeLine(l: LineLike): string {
  const parts: string[] = [];
  if (l.kind === 'clawback') parts.push(l.clawback_of != null ? `clawback of #${l.clawback_of}` : 'clawback');
  if (l.kind === 'import') parts.push(l.import_source ? `import (${l.import_source})` : 'import');
  if (l.kind === 'season_reset') parts.push(l.season_id != null ? `season ${l.season_id} reset` : 'season reset');
  for (const p of [rule(l), event(l)]) if (p) parts.push(p);
  const who = admin(l);
  if (who) parts.push(l.reason ? `${who}: ${l.reason}` : who);
  else if (l.reason && l.kind !== 'rule' && l.kind !== 'clawback' && l.kind !== 'season_reset') parts.push(l.reason);
  if (parts.length === 0) parts.push(l.kind);
  return parts.join(' · ');
}
