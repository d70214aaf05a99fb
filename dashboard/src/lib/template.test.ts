import { describe, expect, it } from 'vitest';
import { renderPreview } from './template';

const P = [
  { name: 'member', description: 'the member', sample: '@Ada' },
  { name: 'level', description: 'the level', sample: '5' }
];

describe('renderPreview', () => {
  it('replaces known placeholders with their samples and keeps literal braces', () => {
    expect(renderPreview('GG {member}, level {level:>3}! {{x}}', P)).toEqual({ text: 'GG @Ada, level 5! {x}', unknown: [], error: null });
  });
  it('lists unknown placeholders once', () => {
    expect(renderPreview('{member} {nope} {nope}', P).unknown).toEqual(['nope']);
  });
  it('reports unbalanced braces', () => {
    expect(renderPreview('GG {member', P).error).toMatch(/not closed/);
    expect(renderPreview('GG }', P).error).toMatch(/single/);
  });
});
