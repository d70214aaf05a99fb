import { describe, expect, it } from 'vitest';
import { visibleAdminSections, visibleNav } from './nav';

const guild = { modules: { economy: true, analytics: true, milestones: true, seasons: false }, public_leaderboard: true, public_activity: true };

describe('navigation', () => {
  it('shows every public page of enabled modules, and Admin only to admins', () => {
    expect(visibleNav(guild, false).map((i) => i.label)).toEqual(['Overview', 'Leaderboard', 'Activity', 'Milestones']);
    expect(visibleNav(guild, true).map((i) => i.label)).toContain('Admin');
  });

  it('hides the pages of disabled modules', () => {
    const off = { ...guild, modules: { ...guild.modules, economy: false, milestones: false } };
    expect(visibleNav(off, false).map((i) => i.label)).toEqual(['Overview', 'Activity']);
  });

  it('hides private pages from visitors but not from admins', () => {
    const priv = { ...guild, public_activity: false };
    expect(visibleNav(priv, false).map((i) => i.label)).not.toContain('Activity');
    expect(visibleNav(priv, true).map((i) => i.label)).toContain('Activity');
  });

  it('hides admin sections of disabled modules', () => {
    expect(visibleAdminSections(guild.modules).map((s) => s.label)).not.toContain('Seasons');
  });
});
