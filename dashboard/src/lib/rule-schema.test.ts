import { describe, expect, it } from 'vitest';
import schema from './api/rule-schema.json';
import { compileSchema, expandDiscriminators } from './validate';

// The real rule schema (generated from the Rules engine by scripts/openapi.sh).
const messageXp = {
  name: 'Message XP', module: 'economy', enabled: true, priority: 100, stacking: 'multiply',
  trigger: { event: 'message_create' },
  conditions: [{ type: 'not_bot' }, { type: 'payload', field: 'length', op: '>=', value: 5 }, { type: 'cooldown', seconds: 60 }],
  effects: [{ type: 'credit', to: 'actor', currency: 'xp', amount: { random: [15, 25] }, reason: '', multipliers: [] }],
  description: ''
};

describe('the real rule schema', () => {
  it('accepts the default Message XP rule', async () => {
    const validate = await compileSchema(schema);
    expect(validate(messageXp)).toEqual([]);
  });

  it('points at the exact field of a bad condition and effect', async () => {
    const validate = await compileSchema(schema);
    const bad = structuredClone(messageXp) as Record<string, any>;
    bad.conditions[2].seconds = -5;
    bad.conditions.push({ type: 'no_such_condition' });
    delete bad.effects[0].currency;
    const paths = validate(bad).map((e) => e.path);
    expect(paths).toContain('conditions[2].seconds');
    expect(paths).toContain('conditions[3].type');
    expect(paths).toContain('effects[0].currency');
  });

  it('leaves no discriminator for Ajv to choke on', () => {
    expect(JSON.stringify(expandDiscriminators(schema))).not.toContain('"discriminator"');
  });
});
