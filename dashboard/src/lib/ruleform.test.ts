import { describe, expect, it } from 'vitest';
import { applyFields, blankRule, readFields } from './ruleform';

const messageXp = {
  name: 'Message XP', module: 'economy', enabled: true, priority: 100, stacking: 'multiply',
  trigger: { event: 'message_create' },
  conditions: [{ type: 'not_bot' }, { type: 'payload', field: 'length', op: '>=', value: 5 }, { type: 'cooldown', seconds: 60 }],
  effects: [{ type: 'credit', to: 'actor', currency: 'xp', amount: { random: [15, 25] }, reason: '', multipliers: [] }, { type: 'check_milestones' }],
  description: 'x'
};

describe('rule form', () => {
  it('reads the common fields out of a rule', () => {
    const f = readFields(messageXp);
    expect(f).toMatchObject({ name: 'Message XP', event: 'message_create', cooldownSeconds: 60, minLength: 5, dailyCap: null });
    expect(f.credit).toEqual({ currency: 'xp', mode: 'random', min: 15, max: 25, perMinute: 1 });
  });

  it('round-trips a rule unchanged when the fields are untouched', () => {
    expect(applyFields(messageXp, readFields(messageXp))).toEqual(messageXp);
  });

  it('writes changed fields back and keeps everything the form does not know', () => {
    const f = readFields(messageXp);
    f.credit = { ...f.credit!, mode: 'fixed', min: 30 };
    f.cooldownSeconds = null;
    f.dailyCap = 500;
    const out = applyFields(messageXp, f) as any;
    expect(out.effects[0]).toEqual({ type: 'credit', to: 'actor', currency: 'xp', amount: 30, reason: '', multipliers: [] });
    expect(out.effects[1]).toEqual({ type: 'check_milestones' });
    expect(out.conditions).toEqual([
      { type: 'not_bot' },
      { type: 'payload', field: 'length', op: '>=', value: 5 },
      { type: 'cap', currency: 'xp', amount: 500, window: 'day' }
    ]);
    expect(out.stacking).toBe('multiply');
  });

  it('handles per-minute amounts and rules without a credit', () => {
    const voice = { ...blankRule(), effects: [{ type: 'credit', currency: 'xp', amount: { per_minute: 2 } }] };
    expect(readFields(voice).credit?.mode).toBe('per_minute');
    const announce = { name: 'a', trigger: { event: 'level_up' }, conditions: [], effects: [{ type: 'announce' }] };
    const f = readFields(announce);
    expect(f.credit).toBeNull();
    expect(applyFields(announce, f)).toEqual({ ...announce, description: '', enabled: true, module: 'economy', priority: 100 });
  });
});
