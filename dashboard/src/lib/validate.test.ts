import { describe, expect, it } from 'vitest';
import { compileSchema, parseJson, pointerToPath } from './validate';

// A cut-down rule schema in the shape pydantic emits: $defs, $ref, discriminated oneOf.
const schema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'trigger', 'effects'],
  properties: {
    name: { type: 'string', minLength: 1 },
    priority: { type: 'integer' },
    trigger: { type: 'object', properties: { event: { enum: ['message_create', 'reaction_add'] } }, required: ['event'] },
    effects: {
      type: 'array',
      items: {
        oneOf: [{ $ref: '#/$defs/Credit' }, { $ref: '#/$defs/Announce' }],
        discriminator: { propertyName: 'type', mapping: { credit: '#/$defs/Credit', announce: '#/$defs/Announce' } }
      }
    }
  },
  $defs: {
    Credit: {
      type: 'object',
      required: ['type', 'currency', 'amount'],
      properties: { type: { const: 'credit' }, currency: { type: 'string' }, amount: { type: 'integer', minimum: 1 } }
    },
    Announce: { type: 'object', required: ['type'], properties: { type: { const: 'announce' } } }
  }
};

describe('rule schema validation', () => {
  it('accepts a valid rule', async () => {
    const validate = await compileSchema(schema);
    expect(validate({ name: 'XP', trigger: { event: 'message_create' }, effects: [{ type: 'credit', currency: 'xp', amount: 5 }] })).toEqual([]);
  });

  it('returns every error with its path, not just the first', async () => {
    const validate = await compileSchema(schema);
    const errors = validate({ name: '', trigger: { event: 'nope' }, effects: [{ type: 'credit', currency: 'xp', amount: 0 }], extra: 1 });
    const paths = errors.map((e) => e.path).sort();
    expect(paths).toEqual(['effects[0].amount', 'extra', 'name', 'trigger.event']);
    expect(errors.find((e) => e.path === 'trigger.event')?.message).toBe('must be one of "message_create", "reaction_add"');
  });

  it('names missing properties and unknown discriminators', async () => {
    const validate = await compileSchema(schema);
    expect(validate({ name: 'x', trigger: { event: 'message_create' } })).toEqual([{ path: 'effects', message: 'is required' }]);
    const errors = validate({ name: 'x', trigger: { event: 'message_create' }, effects: [{ type: 'teleport' }] });
    expect(errors.map((e) => e.path)).toContain('effects[0].type');
  });

  it('turns JSON syntax errors into one error at $ and pointers into paths', () => {
    expect(parseJson('{"a":').error?.path).toBe('$');
    expect(parseJson('{"a":1}').value).toEqual({ a: 1 });
    expect(pointerToPath('/effects/0/amount')).toBe('effects[0].amount');
    expect(pointerToPath('')).toBe('$');
  });
});
