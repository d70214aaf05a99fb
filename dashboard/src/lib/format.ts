/** Display formatting: numbers, durations, dates. Pure functions, locale passed in for tests. */

const compactCache = new Map<string, Intl.NumberFormat>();

function compactFormatter(locale: string): Intl.NumberFormat {
  let f = compactCache.get(locale);
  if (!f) {
    f = new Intl.NumberFormat(locale, { notation: 'compact', maximumFractionDigits: 1 });
    compactCache.set(locale, f);
  }
  return f;
}

/** 1234 → "1,234"; null/undefined → "–". */
export function formatNumber(value: number | null | undefined, locale = 'en-US'): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  return new Intl.NumberFormat(locale, { maximumFractionDigits: 2 }).format(value);
}

/** Headline numbers: 999 → "999", 12_345 → "12.3K", 4_200_000 → "4.2M". */
export function formatCompact(value: number | null | undefined, locale = 'en-US'): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (Math.abs(value) < 1000) return formatNumber(value, locale);
  return compactFormatter(locale).format(value);
}

/** A ratio in [0, 1] → "42%" (one decimal below 10%). */
export function formatPercent(ratio: number | null | undefined, locale = 'en-US'): string {
  if (ratio === null || ratio === undefined || Number.isNaN(ratio)) return '–';
  const pct = ratio * 100;
  const digits = pct !== 0 && Math.abs(pct) < 10 ? 1 : 0;
  return new Intl.NumberFormat(locale, { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(pct) + '%';
}

/** A signed change: +12 / −3 / 0 (true minus sign for screen readers and typography). */
export function formatDelta(value: number, locale = 'en-US'): string {
  if (value > 0) return '+' + formatCompact(value, locale);
  if (value < 0) return '\u2212' + formatCompact(-value, locale);
  return '0';
}

/** Minutes → "45 min", "2 h 5 min", "3 d 4 h". */
export function formatMinutes(minutes: number | null | undefined): string {
  if (minutes === null || minutes === undefined || Number.isNaN(minutes)) return '–';
  const m = Math.round(minutes);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  const rest = m % 60;
  if (h < 24) return rest ? `${h} h ${rest} min` : `${h} h`;
  const d = Math.floor(h / 24);
  const rh = h % 24;
  return rh ? `${d} d ${rh} h` : `${d} d`;
}

/** "5 minutes ago", "in 2 days", relative to `now`. */
export function formatRelative(iso: string | Date, now: Date = new Date(), locale = 'en-US'): string {
  const then = typeof iso === 'string' ? new Date(iso) : iso;
  const seconds = Math.round((then.getTime() - now.getTime()) / 1000);
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  const abs = Math.abs(seconds);
  if (abs < 45) return rtf.format(0, 'second');
  if (abs < 45 * 60) return rtf.format(Math.round(seconds / 60), 'minute');
  if (abs < 22 * 3600) return rtf.format(Math.round(seconds / 3600), 'hour');
  if (abs < 26 * 86400) return rtf.format(Math.round(seconds / 86400), 'day');
  if (abs < 320 * 86400) return rtf.format(Math.round(seconds / (30 * 86400)), 'month');
  return rtf.format(Math.round(seconds / (365 * 86400)), 'year');
}

/** An ISO instant as a short date-time in a given IANA zone. */
export function formatDateTime(iso: string | null | undefined, timeZone = 'UTC', locale = 'en-US'): string {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '–';
  return new Intl.DateTimeFormat(locale, {
    timeZone, year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23'
  }).format(d);
}

/** An ISO instant or date as a short date ("Jan 15, 2025"). */
export function formatDate(iso: string | null | undefined, timeZone = 'UTC', locale = 'en-US'): string {
  if (!iso) return '–';
  const d = new Date(iso.length === 10 ? iso + 'T00:00:00Z' : iso);
  if (Number.isNaN(d.getTime())) return '–';
  return new Intl.DateTimeFormat(locale, { timeZone, year: 'numeric', month: 'short', day: 'numeric' }).format(d);
}

/** Weekday labels Monday-first, as the heatmap API orders them (ISO weekday 1..7 → 0..6). */
export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;

/** Snowflakes travel as strings; show a short, stable fallback name when a member has none. */
export function memberLabel(name: string | null | undefined, userId: string): string {
  if (name && name.trim()) return name;
  return `member …${userId.slice(-4)}`;
}

/** A 0..1 intensity for a heatmap/cohort cell (0 when max is 0). */
export function intensity(value: number, max: number): number {
  if (!max || max <= 0 || !value || value <= 0) return 0;
  return Math.min(1, value / max);
}

/** A milestone's criteria in words ("100 × message_create", "level 5 in xp"); JSON for unknown kinds. */
export function describeCriteria(c: Record<string, unknown>): string {
  const within = typeof c.within_days === 'number' ? ` within ${c.within_days} days` : '';
  switch (c.type) {
    case 'event_count':
      return `${formatNumber(Number(c.at_least))} × ${String(c.event)}${within}`;
    case 'level':
      return `level ${String(c.at_least)} in ${String(c.currency)}`;
    case 'balance':
      return `${formatNumber(Number(c.at_least))} ${String(c.currency)}`;
    case 'event_sum':
      return `${formatNumber(Number(c.at_least))} ${String(c.field)} of ${String(c.event)}${within}`;
    default:
      return JSON.stringify(c);
  }
}

/** Milestone rewards in words ("+50 gold"). */
export function describeRewards(rewards: Record<string, unknown>[]): string {
  if (!rewards.length) return '—';
  return rewards
    .map((r) => (r.type === 'currency' ? `+${formatNumber(Number(r.amount))} ${String(r.currency)}` : r.type === 'role' ? `role …${String(r.role_id ?? '').slice(-6)}` : JSON.stringify(r)))
    .join(', ');
}
