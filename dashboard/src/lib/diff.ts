/** Diffing rule versions: a structural JSON diff (what changed, by path) and a line diff for display. */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Change {
  path: string;
  kind: 'added' | 'removed' | 'changed';
  before?: Json;
  after?: Json;
}

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${JSON.stringify(key)}]`;
}

/** Every leaf-level difference between two JSON values, keys sorted, paths like `effects[0].amount`. */
export function jsonDiff(before: Json | undefined, after: Json | undefined, path = ''): Change[] {
  if (before === undefined && after === undefined) return [];
  if (before === undefined) return [{ path: path || '$', kind: 'added', after }];
  if (after === undefined) return [{ path: path || '$', kind: 'removed', before }];
  if (Array.isArray(before) && Array.isArray(after)) {
    const out: Change[] = [];
    const n = Math.max(before.length, after.length);
    for (let i = 0; i < n; i++) out.push(...jsonDiff(before[i], after[i], join(path, i)));
    return out;
  }
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    const out: Change[] = [];
    for (const k of keys) out.push(...jsonDiff(before[k], after[k], join(path, k)));
    return out;
  }
  if (before === after) return [];
  return [{ path: path || '$', kind: 'changed', before, after }];
}

/** JSON with object keys sorted, so two versions line up for a line diff. */
export function stableStringify(value: Json | undefined, indent = 2): string {
  const sort = (v: Json): Json => {
    if (Array.isArray(v)) return v.map(sort);
    if (isObject(v)) {
      const o: Record<string, Json> = {};
      for (const k of Object.keys(v).sort()) o[k] = sort(v[k]);
      return o;
    }
    return v;
  };
  return value === undefined ? '' : JSON.stringify(sort(value), null, indent);
}

export interface DiffLine {
  op: ' ' | '+' | '-';
  text: string;
}

/** A line diff (longest common subsequence): unchanged lines ' ', removed '-', added '+'. */
export function lineDiff(a: string, b: string): DiffLine[] {
  const x = a === '' ? [] : a.split('\n');
  const y = b === '' ? [] : b.split('\n');
  const n = x.length;
  const m = y.length;
  // lcs[i][j] = LCS length of x[i..] and y[j..]
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) {
      out.push({ op: ' ', text: x[i] });
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) {
      out.push({ op: '-', text: x[i++] });
    } else {
      out.push({ op: '+', text: y[j++] });
    }
  }
  while (i < n) out.push({ op: '-', text: x[i++] });
  while (j < m) out.push({ op: '+', text: y[j++] });
  return out;
}

/** Rule JSON diff ignoring server-managed fields (ids, versions, timestamps). */
export function ruleDiff(live: Record<string, Json> | null, draft: Record<string, Json>): Change[] {
  const strip = (r: Record<string, Json> | null): Json | undefined => {
    if (!r) return undefined;
    const { id: _id, version: _v, created_at: _c, updated_at: _u, ...rest } = r;
    return rest;
  };
  return jsonDiff(strip(live), strip(draft));
}
