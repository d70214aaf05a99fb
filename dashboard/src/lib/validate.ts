/**
 * Live validation of rule JSON against the Rules engine's JSON Schema (served by the API).
 *
 * Why Ajv: the schema comes from pydantic (draft 2020-12, `$defs`/`$ref`, discriminated `oneOf`
 * unions); a hand-rolled validator would drift from it. Ajv is the reference implementation,
 * loaded only on the rule editor page (dynamic import), so public pages never ship it.
 * The server validates again on save; this is for instant feedback while typing.
 */
import type { ErrorObject } from 'ajv';

export interface SchemaError {
  path: string;
  message: string;
}

export type Validator = (value: unknown) => SchemaError[];

/** "/effects/0/amount" → "effects[0].amount" (the API's error paths read the same way). */
export function pointerToPath(pointer: string): string {
  if (!pointer) return '$';
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

/** Ajv errors → one readable error per path, dropping the noise of failed `oneOf` branches. */
export function summarize(errors: ErrorObject[] | null | undefined): SchemaError[] {
  if (!errors) return [];
  const out: SchemaError[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (e.keyword === 'oneOf' || e.keyword === 'anyOf' || e.keyword === 'if') continue;
    let path = pointerToPath(e.instancePath);
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'required') {
      const prop = (e.params as { missingProperty: string }).missingProperty;
      path = path === '$' ? prop : `${path}.${prop}`;
      message = 'is required';
    } else if (e.keyword === 'additionalProperties') {
      const prop = (e.params as { additionalProperty: string }).additionalProperty;
      path = path === '$' ? prop : `${path}.${prop}`;
      message = 'is not allowed here';
    } else if (e.keyword === 'enum') {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
      message = `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`;
    } else if (e.keyword === 'const') {
      message = `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`;
    } else if (e.keyword === 'discriminator') {
      const tag = (e.params as { tag?: string }).tag ?? 'type';
      path = path === '$' ? tag : `${path}.${tag}`;
      message = 'is not a known kind';
    }
    const key = `${path}\u0000${message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ path, message });
    }
  }
  return out;
}

/**
 * Rewrite pydantic's discriminated unions (`oneOf` + `discriminator.mapping`, which Ajv does not
 * support) into if/then branches keyed on the tag, so an error names the one branch that applies
 * instead of every branch that did not.
 */
export function expandDiscriminators(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(expandDiscriminators);
  if (typeof node !== 'object' || node === null) return node;
  const src = node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(src)) out[k] = expandDiscriminators(v);
  const disc = src.discriminator as { propertyName?: string; mapping?: Record<string, string> } | undefined;
  const union = (src.oneOf ?? src.anyOf) as unknown[] | undefined;
  if (disc?.propertyName && disc.mapping && union) {
    const tag = disc.propertyName;
    const kinds = Object.keys(disc.mapping);
    delete out.oneOf;
    delete out.anyOf;
    delete out.discriminator;
    out.type = 'object';
    out.required = [...new Set([...((out.required as string[]) ?? []), tag])];
    out.properties = { ...((out.properties as object) ?? {}), [tag]: { enum: kinds } };
    out.allOf = [
      ...((out.allOf as unknown[]) ?? []),
      ...kinds.map((kind) => ({
        if: { properties: { [tag]: { const: kind } }, required: [tag] },
        then: { $ref: disc.mapping![kind] }
      }))
    ];
  }
  return out;
}

/** Compile a JSON Schema into a validator returning every error with its path. */
export async function compileSchema(schema: object): Promise<Validator> {
  const [{ default: Ajv2020 }] = await Promise.all([import('ajv/dist/2020.js')]);
  const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: false });
  const validate = ajv.compile(expandDiscriminators(schema) as object);
  return (value: unknown) => (validate(value) ? [] : summarize(validate.errors));
}

/** Parse editor text; a syntax error becomes one SchemaError at `$`. */
export function parseJson(text: string): { value?: unknown; error?: SchemaError } {
  try {
    return { value: JSON.parse(text) };
  } catch (err) {
    return { error: { path: '$', message: `not valid JSON: ${(err as Error).message}` } };
  }
}
