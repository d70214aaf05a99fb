import { describe, expect, it } from 'vitest';
import { bucketLabel, rangeStart } from './ranges';

describe('ranges', () => {
  it('starts a range its length before the end', () => {
    const end = new Date('2025-01-31T00:00:00Z');
    expect(rangeStart('30d', end).toISOString()).toBe('2025-01-01T00:00:00.000Z');
    expect(rangeStart('48h', end).toISOString()).toBe('2025-01-29T00:00:00.000Z');
  });

  it('labels day buckets by UTC date and hour buckets in the guild zone', () => {
    expect(bucketLabel('2025-01-15T00:00:00Z', 'day', 'America/New_York')).toBe('Jan 15');
    expect(bucketLabel('2025-01-15T14:00:00Z', 'hour', 'Europe/Paris')).toBe('Jan 15, 15:00');
  });
});
