import { describe, expect, it } from 'vitest';
import { channelOptions, roleEffects, roleOptions, withRoleEffect, withZoneChannels, zoneChannels } from './directory';

const channels = [
  { id: '1', name: 'Community', type: 'category', position: 0, parent_id: null, category: null, deleted: false, afk: false },
  { id: '2', name: 'general', type: 'text', position: 1, parent_id: '1', category: 'Community', deleted: false, afk: false },
  { id: '3', name: 'AFK', type: 'voice', position: 2, parent_id: null, category: null, deleted: false, afk: true },
  { id: '4', name: 'old', type: 'text', position: 3, parent_id: null, category: null, deleted: true, afk: false }
];
const roles = [
  { id: '10', name: 'Mods', position: 3, managed: false, color: 0, deleted: false, everyone: false, assignable: false, booster: false },
  { id: '11', name: 'Member', position: 1, managed: false, color: 0, deleted: false, everyone: false, assignable: true, booster: false },
  { id: '9', name: '@everyone', position: 0, managed: false, color: 0, deleted: false, everyone: true, assignable: false, booster: false }
];

describe('directory options', () => {
  it('leaves categories out, keeps deleted channels for chips, and hints category, type and AFK', () => {
    const opts = channelOptions(channels);
    expect(opts.map((o) => o.name)).toEqual(['general', 'AFK', 'old']);
    expect(opts[0].hint).toBe('Community');
    expect(opts[1].hint).toBe('voice · AFK channel');
    expect(opts[2].deleted).toBe(true);
    expect(channelOptions(channels, { kinds: ['text'] }).map((o) => o.id)).toEqual(['2', '4']);
  });
  it('warns on roles the bot cannot assign only when assigning, and never offers @everyone', () => {
    expect(roleOptions(roles).map((o) => [o.name, o.warn])).toEqual([['Mods', undefined], ['Member', undefined]]);
    const assigning = roleOptions(roles, { assigning: true });
    expect(assigning[0].warn).toMatch(/cannot assign/);
    expect(assigning[1].warn).toBeUndefined();
  });
});

describe('rule channels and roles', () => {
  const rule = { name: 'r', conditions: [{ type: 'not_bot' }], effects: [{ type: 'credit' }, { type: 'role', action: 'add', role_id: '11' }] };
  it('adds a zone condition for chosen channels and drops it when emptied, leaving the rest', () => {
    const zoned = withZoneChannels(rule, 'exclude_channels', ['2']);
    expect(zoned.conditions).toEqual([{ type: 'not_bot' }, { type: 'zone', exclude_channels: ['2'] }]);
    expect(zoneChannels(zoned, 'exclude_channels')).toEqual(['2']);
    const both = withZoneChannels(zoned, 'channels', ['3']);
    expect(zoneChannels(both, 'channels')).toEqual(['3']);
    const back = withZoneChannels(withZoneChannels(both, 'channels', []), 'exclude_channels', []);
    expect(back.conditions).toEqual([{ type: 'not_bot' }]);
  });
  it('finds role effects by index and replaces one role id', () => {
    expect(roleEffects(rule)).toEqual([{ index: 1, roleId: '11', action: 'add' }]);
    expect((withRoleEffect(rule, 1, '10').effects as { role_id?: string }[])[1].role_id).toBe('10');
  });
});
