import { describe, expect, it } from 'vitest';
import {
  formatCompact, formatDate, formatDateTime, formatDelta, formatMinutes, formatNumber, formatPercent,
  formatRelative, intensity, memberLabel
} from './format';

describe('format', () => {
  it('formats plain and compact numbers, with a dash for missing values', () => {
    expect(formatNumber(1234)).toBe('1,234');
    expect(formatNumber(null)).toBe('–');
    expect(formatCompact(999)).toBe('999');
    expect(formatCompact(12_345)).toBe('12.3K');
    expect(formatCompact(4_200_000)).toBe('4.2M');
    expect(formatCompact(undefined)).toBe('–');
  });

  it('formats ratios as percentages, one decimal only when small', () => {
    expect(formatPercent(0.42)).toBe('42%');
    expect(formatPercent(0.054)).toBe('5.4%');
    expect(formatPercent(0)).toBe('0%');
    expect(formatPercent(1)).toBe('100%');
  });

  it('signs deltas with a true minus', () => {
    expect(formatDelta(12)).toBe('+12');
    expect(formatDelta(-3)).toBe('\u22123');
    expect(formatDelta(0)).toBe('0');
  });

  it('formats voice minutes as minutes, hours and days', () => {
    expect(formatMinutes(45)).toBe('45 min');
    expect(formatMinutes(125)).toBe('2 h 5 min');
    expect(formatMinutes(120)).toBe('2 h');
    expect(formatMinutes(60 * 24 * 3 + 240)).toBe('3 d 4 h');
  });

  it('formats relative times against an injected now', () => {
    const now = new Date('2025-01-15T12:00:00Z');
    expect(formatRelative('2025-01-15T11:55:00Z', now)).toBe('5 minutes ago');
    expect(formatRelative('2025-01-17T12:00:00Z', now)).toBe('in 2 days');
    expect(formatRelative('2025-01-15T12:00:10Z', now)).toBe('now');
  });

  it('formats dates in the guild time zone', () => {
    expect(formatDateTime('2025-01-15T23:30:00Z', 'Europe/Paris')).toBe('Jan 16, 2025, 00:30');
    expect(formatDate('2025-01-15')).toBe('Jan 15, 2025');
    expect(formatDate(null)).toBe('–');
  });

  it('labels nameless members by the end of their id and scales intensities', () => {
    expect(memberLabel(null, '123456789')).toBe('member …6789');
    expect(memberLabel('ada', '1')).toBe('ada');
    expect(intensity(5, 10)).toBe(0.5);
    expect(intensity(5, 0)).toBe(0);
    expect(intensity(20, 10)).toBe(1);
  });
});

import { describeCriteria, describeRewards } from './format';

describe('milestone wording', () => {
  it('describes criteria and rewards in words, JSON for unknown kinds', () => {
    expect(describeCriteria({ type: 'event_count', event: 'message_create', at_least: 100, within_days: null })).toBe('100 × message_create');
    expect(describeCriteria({ type: 'event_count', event: 'thread_create', at_least: 5, within_days: 7 })).toBe('5 × thread_create within 7 days');
    expect(describeCriteria({ type: 'level', at_least: 5, currency: 'xp' })).toBe('level 5 in xp');
    expect(describeCriteria({ type: 'event_sum', event: 'voice_tick', field: 'minutes', at_least: 600 })).toBe('600 minutes of voice_tick');
    expect(describeCriteria({ type: 'odd' })).toBe('{"type":"odd"}');
    expect(describeRewards([{ type: 'currency', amount: 50, currency: 'gold' }])).toBe('+50 gold');
    expect(describeRewards([])).toBe('—');
  });
});
