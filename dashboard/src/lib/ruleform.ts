/**
 * The rule editor's form covers the common cases (name, trigger, how much of which currency,
 * cooldown, minimum message length, daily cap, no-XP channels and roles, channel/role multipliers and
 * a server-booster bonus); the JSON editor covers everything else. These two pure functions map a
 * rule's JSON to the form's fields and back without losing the rest. The booster bonus is a role
 * multiplier on the booster role: pass its id (from the directory's `booster` flag) to both.
 */

type Obj = Record<string, unknown>;

export interface RuleFields {
  name: string;
  description: string;
  enabled: boolean;
  module: string;
  priority: number;
  event: string;
  /** The first credit effect, if any. */
  credit: null | {
    currency: string;
    mode: 'fixed' | 'random' | 'per_minute';
    min: number;
    max: number;
    perMinute: number;
  };
  cooldownSeconds: number | null;
  minLength: number | null;
  dailyCap: number | null;
  /** The first `zone` condition's `exclude_channels`. */
  noXpChannels: string[];
  /** The first `roles` condition's `none_of`. */
  noXpRoles: string[];
  /** The first credit effect's multipliers with just a channel or a role selector (not the booster role). */
  multipliers: FormMultiplier[];
  /** A role multiplier on the booster role (null: none, or no booster role known). */
  boosterBonus: number | null;
}

export interface FormMultiplier {
  kind: 'channel' | 'role';
  id: string;
  times: number;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const conditionsOf = (rule: Obj): Obj[] => (Array.isArray(rule.conditions) ? (rule.conditions as Obj[]).filter(isObj) : []);
const effectsOf = (rule: Obj): Obj[] => (Array.isArray(rule.effects) ? (rule.effects as Obj[]).filter(isObj) : []);

function creditCurrency(rule: Obj): string | null {
  const c = effectsOf(rule).find((e) => e.type === 'credit');
  return c && typeof c.currency === 'string' ? c.currency : null;
}

const zoneOf = (conds: Obj[]) => conds.find((c) => c.type === 'zone');
const rolesCondOf = (conds: Obj[]) => conds.find((c) => c.type === 'roles');
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

/** What the form owns in a multiplier: `{times, channel}` or `{times, role}`, nothing else. */
function ownedMultiplier(mu: unknown, booster: string | null): FormMultiplier | 'booster' | null {
  if (!isObj(mu) || typeof mu.times !== 'number') return null;
  const keys = Object.keys(mu).filter((k) => k !== 'times');
  if (keys.length !== 1) return null;
  const [kind] = keys;
  if ((kind !== 'channel' && kind !== 'role') || typeof mu[kind] !== 'string') return null;
  if (kind === 'role' && booster !== null && mu.role === booster) return 'booster';
  return { kind, id: mu[kind] as string, times: mu.times };
}

export function readFields(rule: Obj, booster: string | null = null): RuleFields {
  const conds = conditionsOf(rule);
  const credit = effectsOf(rule).find((e) => e.type === 'credit');
  let creditFields: RuleFields['credit'] = null;
  if (credit) {
    const a = credit.amount;
    if (typeof a === 'number') creditFields = { currency: String(credit.currency ?? ''), mode: 'fixed', min: a, max: a, perMinute: 1 };
    else if (isObj(a) && Array.isArray(a.random))
      creditFields = { currency: String(credit.currency ?? ''), mode: 'random', min: Number(a.random[0]), max: Number(a.random[1]), perMinute: 1 };
    else if (isObj(a) && typeof a.per_minute === 'number')
      creditFields = { currency: String(credit.currency ?? ''), mode: 'per_minute', min: 1, max: 1, perMinute: a.per_minute };
    else creditFields = { currency: String(credit.currency ?? ''), mode: 'fixed', min: 1, max: 1, perMinute: 1 };
  }
  const cooldown = conds.find((c) => c.type === 'cooldown');
  const minLen = conds.find((c) => c.type === 'payload' && c.field === 'length' && c.op === '>=');
  const currency = creditCurrency(rule);
  const cap = conds.find((c) => c.type === 'cap' && c.window === 'day' && (currency === null || c.currency === currency));
  const trigger = isObj(rule.trigger) ? rule.trigger : {};
  const multipliers: FormMultiplier[] = [];
  let boosterBonus: number | null = null;
  for (const mu of credit && Array.isArray(credit.multipliers) ? credit.multipliers : []) {
    const owned = ownedMultiplier(mu, booster);
    if (owned === 'booster') boosterBonus ??= (mu as Obj).times as number;
    else if (owned) multipliers.push(owned);
  }
  return {
    name: String(rule.name ?? ''),
    description: String(rule.description ?? ''),
    enabled: rule.enabled !== false,
    module: String(rule.module ?? 'economy'),
    priority: typeof rule.priority === 'number' ? rule.priority : 100,
    event: String(trigger.event ?? ''),
    credit: creditFields,
    cooldownSeconds: cooldown ? Number(cooldown.seconds) : null,
    minLength: minLen ? Number(minLen.value) : null,
    dailyCap: cap ? Number(cap.amount) : null,
    noXpChannels: strings(zoneOf(conds)?.exclude_channels),
    noXpRoles: strings(rolesCondOf(conds)?.none_of),
    multipliers,
    boosterBonus
  };
}

/** Replace (or insert, or drop when `next` is null) the first condition matching `match`. */
function upsert(conds: Obj[], match: (c: Obj) => boolean, next: Obj | null): Obj[] {
  const i = conds.findIndex(match);
  if (i === -1) return next ? [...conds, next] : conds;
  if (!next) return conds.filter((_, j) => j !== i);
  return conds.map((c, j) => (j === i ? { ...c, ...next } : c));
}

const positive = (n: number | null): n is number => n !== null && Number.isFinite(n) && n > 0;

/** Set (or remove, when empty) one list of a condition; a condition left with no non-empty list goes. */
function withList(conds: Obj[], type: string, key: string, values: string[]): Obj[] {
  const i = conds.findIndex((c) => c.type === type);
  if (i === -1) return values.length ? [...conds, { type, [key]: values }] : conds;
  const next: Obj = { ...conds[i] };
  if (values.length) next[key] = values;
  else delete next[key];
  const empty = Object.entries(next).every(([k, v]) => k === 'type' || (Array.isArray(v) && v.length === 0));
  if (empty && !values.length) return conds.filter((_, j) => j !== i);
  return conds.map((c, j) => (j === i ? next : c));
}

/** The form's multipliers in the slots of the ones it owned (in order), the rest untouched, new ones after. */
function mergeMultipliers(old: unknown[], f: RuleFields, booster: string | null): unknown[] {
  const wanted: Obj[] = (f.multipliers ?? []).filter((m) => m.id && positive(m.times))
    .map((m) => ({ [m.kind]: m.id, times: m.times }));
  const bonus = booster !== null && positive(f.boosterBonus) ? { role: booster, times: f.boosterBonus } : null;
  let boosterDone = false;
  const out: unknown[] = [];
  for (const mu of old) {
    const owned = ownedMultiplier(mu, booster);
    if (owned === 'booster') {
      if (bonus && !boosterDone) out.push({ ...(mu as Obj), times: bonus.times });
      boosterDone = true;
    } else if (owned) {
      const next = wanted.shift();
      if (next) out.push(next);
    } else out.push(mu);
  }
  out.push(...wanted);
  if (bonus && !boosterDone) out.push(bonus);
  return out;
}

export function applyFields(rule: Obj, f: RuleFields, booster: string | null = null): Obj {
  const out: Obj = { ...rule, name: f.name, description: f.description, enabled: f.enabled, module: f.module, priority: f.priority };
  out.trigger = { ...(isObj(rule.trigger) ? rule.trigger : {}), event: f.event };
  let effects = effectsOf(rule).map((e) => ({ ...e }));
  if (f.credit) {
    const amount =
      f.credit.mode === 'random' ? { random: [f.credit.min, f.credit.max] }
        : f.credit.mode === 'per_minute' ? { per_minute: f.credit.perMinute }
          : f.credit.min;
    const i = effects.findIndex((e) => e.type === 'credit');
    if (i === -1) effects = [{ type: 'credit', to: 'actor', currency: f.credit.currency, amount }, ...effects];
    else effects[i] = { ...effects[i], currency: f.credit.currency, amount };
  }
  const ci = effects.findIndex((e) => e.type === 'credit');
  if (ci !== -1) {
    const old = Array.isArray(effects[ci].multipliers) ? (effects[ci].multipliers as unknown[]) : [];
    const merged = mergeMultipliers(old, f, booster);
    if (merged.length || 'multipliers' in effects[ci]) effects[ci] = { ...effects[ci], multipliers: merged };
  }
  out.effects = effects;
  const currency = f.credit?.currency ?? creditCurrency(rule);
  let conds = conditionsOf(rule).map((c) => ({ ...c }));
  conds = upsert(conds, (c) => c.type === 'cooldown', positive(f.cooldownSeconds) ? { type: 'cooldown', seconds: f.cooldownSeconds } : null);
  conds = upsert(conds, (c) => c.type === 'payload' && c.field === 'length' && c.op === '>=',
    positive(f.minLength) ? { type: 'payload', field: 'length', op: '>=', value: f.minLength } : null);
  conds = upsert(conds, (c) => c.type === 'cap' && c.window === 'day' && (currency === null || c.currency === currency),
    positive(f.dailyCap) && currency ? { type: 'cap', currency, amount: f.dailyCap, window: 'day' } : null);
  conds = withList(conds, 'zone', 'exclude_channels', f.noXpChannels ?? []);
  conds = withList(conds, 'roles', 'none_of', f.noXpRoles ?? []);
  out.conditions = conds;
  return out;
}

/** A new rule's starting point. */
export function blankRule(currency = 'xp'): Obj {
  return {
    name: 'New rule', description: '', enabled: false, module: 'economy', priority: 100,
    trigger: { event: 'message_create' },
    conditions: [{ type: 'not_bot' }, { type: 'cooldown', seconds: 60 }],
    effects: [{ type: 'credit', to: 'actor', currency, amount: { random: [5, 10] } }]
  };
}

/** Events a rule can listen to (DESIGN.md §2), for the form's trigger menu. */
export const EVENTS = [
  'message_create', 'message_delete', 'reaction_add', 'reaction_remove', 'voice_join', 'voice_leave', 'voice_move',
  'voice_tick', 'voice_session_end', 'thread_create', 'member_join', 'member_leave', 'command_used', 'level_up',
  'milestone_earned'
] as const;
