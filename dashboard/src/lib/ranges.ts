/** Time ranges offered on the activity page, and how to label their buckets. */

export const RANGES = {
  '48h': { label: '48 hours', hours: 48, bucket: 'hour' },
  '7d': { label: '7 days', hours: 24 * 7, bucket: 'hour' },
  '30d': { label: '30 days', hours: 24 * 30, bucket: 'day' },
  '90d': { label: '90 days', hours: 24 * 90, bucket: 'day' }
} as const;

export type RangeKey = keyof typeof RANGES;

export function rangeStart(key: RangeKey, end: Date): Date {
  return new Date(end.getTime() - RANGES[key].hours * 3600_000);
}

/** A bucket's start (UTC ISO) → an axis label in the guild's zone: "Jan 15" for days, "Jan 15 14:00" for hours. */
export function bucketLabel(iso: string, bucket: 'hour' | 'day', timeZone = 'UTC', locale = 'en-US'): string {
  const d = new Date(iso);
  if (bucket === 'day') return new Intl.DateTimeFormat(locale, { timeZone: 'UTC', month: 'short', day: 'numeric' }).format(d);
  return new Intl.DateTimeFormat(locale, { timeZone, month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(d);
}
