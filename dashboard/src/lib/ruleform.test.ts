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

  const BOOST = '604';
  const rich = {
    ...messageXp,
    conditions: [
      { type: 'not_bot' },
      { type: 'zone', regions: ['study'], exclude_channels: ['501'] },
      { type: 'roles', any_of: ['700'], none_of: ['701'] },
      { type: 'future_kind', x: 1 }
    ],
    effects: [
      { type: 'credit', currency: 'xp', amount: 10, multipliers: [
        { channel: '502', times: 2 }, { when: { field: 'length', op: '>=', value: 100 }, times: 1.5 },
        { role: BOOST, times: 1.25 }, { role: '702', times: 3 }, { tag: 'help', times: 2 }] },
      { type: 'check_milestones' }
    ]
  };

  it('reads no-XP channels and roles, channel/role multipliers and the booster bonus', () => {
    const f = readFields(rich, BOOST);
    expect(f.noXpChannels).toEqual(['501']);
    expect(f.noXpRoles).toEqual(['701']);
    expect(f.multipliers).toEqual([{ kind: 'channel', id: '502', times: 2 }, { kind: 'role', id: '702', times: 3 }]);
    expect(f.boosterBonus).toBe(1.25);
    const unknown = readFields(rich);   // no booster role known: it is an ordinary role multiplier
    expect(unknown.boosterBonus).toBeNull();
    expect(unknown.multipliers.map((m) => m.id)).toEqual(['502', BOOST, '702']);
  });

  it('round-trips the new fields, unknown conditions and other multipliers unchanged', () => {
    expect(applyFields(rich, readFields(rich, BOOST), BOOST)).toEqual(rich);
    expect(applyFields(rich, readFields(rich), null)).toEqual(rich);
  });

  it('removing a field removes only its part', () => {
    const f = readFields(rich, BOOST);
    f.noXpChannels = [];
    f.noXpRoles = [];
    f.multipliers = [f.multipliers[1]];
    f.boosterBonus = null;
    const out = applyFields(rich, f, BOOST) as any;
    expect(out.conditions).toEqual([
      { type: 'not_bot' }, { type: 'zone', regions: ['study'] }, { type: 'roles', any_of: ['700'] }, { type: 'future_kind', x: 1 }
    ]);
    expect(out.effects[0].multipliers).toEqual([
      { role: '702', times: 3 }, { when: { field: 'length', op: '>=', value: 100 }, times: 1.5 }, { tag: 'help', times: 2 }
    ]);
    expect(out.effects[1]).toEqual({ type: 'check_milestones' });
  });

  it('adding fields creates the conditions and multipliers they need', () => {
    const f = readFields(messageXp, BOOST);
    f.noXpChannels = ['501'];
    f.noXpRoles = ['701'];
    f.multipliers = [{ kind: 'channel', id: '502', times: 2 }, { kind: 'role', id: '', times: 2 }];
    f.boosterBonus = 1.5;
    const out = applyFields(messageXp, f, BOOST) as any;
    expect(out.conditions.slice(3)).toEqual([{ type: 'zone', exclude_channels: ['501'] }, { type: 'roles', none_of: ['701'] }]);
    expect(out.effects[0].multipliers).toEqual([{ channel: '502', times: 2 }, { role: BOOST, times: 1.5 }]);
    const cleared = applyFields(out, { ...readFields(out, BOOST), noXpChannels: [], noXpRoles: [], multipliers: [], boosterBonus: null }, BOOST);
    expect(cleared).toEqual(messageXp);
  });

  it('without a known booster role the bonus writes nothing', () => {
    const f = { ...readFields(messageXp), boosterBonus: 2 };
    expect(applyFields(messageXp, f, null)).toEqual(messageXp);
  });
});
