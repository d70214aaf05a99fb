/**
 * The guild directory on the dashboard: channel and role names for the pickers (GET …/admin/channels
 * and …/roles, deleted ones included so chosen ones still show their last name).
 */
import { api, unwrap, type Schemas } from '$lib/api/client';

export interface PickOption {
  id: string;
  name: string;
  /** Shown beside the name in the list (a channel's category or type). */
  hint?: string;
  deleted?: boolean;
  /** Why choosing it is a problem (shown in the list and on the chip), e.g. a role the bot cannot assign. */
  warn?: string;
}

export type DirectoryChannel = Schemas['DirectoryChannel'];
export type DirectoryRole = Schemas['DirectoryRole'];

export interface Directory {
  channels: DirectoryChannel[];
  roles: DirectoryRole[];
  /** Why names could not be fetched from Discord (cached ones are shown), if so. */
  error: string | null;
}

export async function loadDirectory(guildId: string): Promise<Directory> {
  const path = { guild_id: guildId };
  const query = { include_deleted: true };
  try {
    const [channels, roles] = await Promise.all([
      unwrap(api.GET('/api/guilds/{guild_id}/admin/channels', { params: { path, query } })),
      unwrap(api.GET('/api/guilds/{guild_id}/admin/roles', { params: { path, query } }))
    ]);
    return { channels: channels.items, roles: roles.items, error: channels.error ?? roles.error ?? null };
  } catch (e) {
    return { channels: [], roles: [], error: (e as Error).message };
  }
}

export function channelOptions(channels: DirectoryChannel[], { kinds }: { kinds?: string[] } = {}): PickOption[] {
  return channels
    .filter((c) => c.type !== 'category' && (!kinds || kinds.includes(c.type) || c.deleted))
    .map((c) => ({
      id: c.id, name: c.name, deleted: c.deleted,
      hint: [c.category, c.type !== 'text' ? c.type : '', c.afk ? 'AFK channel' : ''].filter(Boolean).join(' · ')
    }));
}

export const CANNOT_ASSIGN = "above the bot's highest role or managed: the bot cannot assign it";

/** Roles; with `assigning`, those the bot cannot give carry a warning. @everyone is left out. */
export function roleOptions(roles: DirectoryRole[], { assigning = false }: { assigning?: boolean } = {}): PickOption[] {
  return roles
    .filter((r) => !r.everyone)
    .map((r) => ({
      id: r.id, name: r.name, deleted: r.deleted,
      hint: r.managed ? 'managed' : '',
      warn: assigning && !r.assignable && !r.deleted ? CANNOT_ASSIGN : undefined
    }));
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);

/** The channel ids of a rule's first zone condition (`channels` or `exclude_channels`). */
export function zoneChannels(rule: Obj, key: 'channels' | 'exclude_channels'): string[] {
  const zone = list(rule.conditions).find((c) => c.type === 'zone');
  return zone && Array.isArray(zone[key]) ? (zone[key] as unknown[]).map(String) : [];
}

/** The rule with its first zone condition's `key` set to `ids` (a zone is added, or dropped when empty). */
export function withZoneChannels(rule: Obj, key: 'channels' | 'exclude_channels', ids: string[]): Obj {
  const conds = list(rule.conditions).map((c) => ({ ...c }));
  let i = conds.findIndex((c) => c.type === 'zone');
  if (i === -1) {
    if (!ids.length) return rule;
    conds.push({ type: 'zone' });
    i = conds.length - 1;
  }
  const zone: Obj = { ...conds[i], [key]: ids };
  if (!ids.length) delete zone[key];
  const empty = !['regions', 'channels', 'exclude_regions', 'exclude_channels'].some((k) => Array.isArray(zone[k]) && (zone[k] as unknown[]).length);
  const next = empty ? conds.filter((_, j) => j !== i) : conds.map((c, j) => (j === i ? zone : c));
  return { ...rule, conditions: next };
}

/** Index and role of each role effect (`{type: "role", role_id}`) of a rule. */
export function roleEffects(rule: Obj): { index: number; roleId: string; action: string }[] {
  return list(rule.effects).flatMap((e, index) =>
    e.type === 'role' ? [{ index, roleId: String(e.role_id ?? ''), action: String(e.action ?? 'add') }] : []);
}

export function withRoleEffect(rule: Obj, index: number, roleId: string): Obj {
  const effects = list(rule.effects).map((e, j) => (j === index ? { ...e, role_id: roleId } : e));
  return { ...rule, effects };
}
