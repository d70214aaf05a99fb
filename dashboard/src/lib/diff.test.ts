import { describe, expect, it } from 'vitest';
import { jsonDiff, lineDiff, ruleDiff, stableStringify, type Json } from './diff';

describe('jsonDiff', () => {
  it('reports changed, added and removed leaves by path', () => {
    const before: Json = { name: 'Message XP', priority: 100, effects: [{ type: 'credit', amount: 15 }], old: true };
    const after: Json = { name: 'Message XP', priority: 50, effects: [{ type: 'credit', amount: 20 }, { type: 'announce' }] };
    expect(jsonDiff(before, after)).toEqual([
      { path: 'effects[0].amount', kind: 'changed', before: 15, after: 20 },
      { path: 'effects[1]', kind: 'added', after: { type: 'announce' } },
      { path: 'old', kind: 'removed', before: true },
      { path: 'priority', kind: 'changed', before: 100, after: 50 }
    ]);
  });

  it('finds nothing between equal values and quotes odd keys', () => {
    expect(jsonDiff({ a: [1, { b: null }] }, { a: [1, { b: null }] })).toEqual([]);
    expect(jsonDiff({ 'a-b': 1 }, { 'a-b': 2 })[0].path).toBe('["a-b"]');
    expect(jsonDiff(1, 'x')).toEqual([{ path: '$', kind: 'changed', before: 1, after: 'x' }]);
  });

  it('ignores server-managed fields in rule diffs', () => {
    expect(ruleDiff({ id: 1, version: 3, name: 'a' }, { id: 1, version: 4, name: 'a' })).toEqual([]);
    expect(ruleDiff(null, { name: 'a' })).toEqual([{ path: '$', kind: 'added', after: { name: 'a' } }]);
  });
});

describe('lineDiff', () => {
  it('keeps common lines and marks removals before additions', () => {
    const a = stableStringify({ b: 1, a: 1 });
    const b = stableStringify({ a: 1, b: 2 });
    expect(lineDiff(a, b)).toEqual([
      { op: ' ', text: '{' },
      { op: ' ', text: '  "a": 1,' },
      { op: '-', text: '  "b": 1' },
      { op: '+', text: '  "b": 2' },
      { op: ' ', text: '}' }
    ]);
  });

  it('handles empty sides', () => {
    expect(lineDiff('', 'x\ny')).toEqual([{ op: '+', text: 'x' }, { op: '+', text: 'y' }]);
    expect(lineDiff('x', '')).toEqual([{ op: '-', text: 'x' }]);
  });
});
