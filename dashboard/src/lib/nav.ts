/** Which pages a visitor sees: a disabled module hides its pages; private pages show to admins only. */

export interface GuildLike {
  modules: Record<string, boolean>;
  public_leaderboard: boolean;
  public_activity: boolean;
}

export interface NavItem {
  href: string;
  label: string;
}

export function visibleNav(guild: GuildLike, isAdmin: boolean): NavItem[] {
  const on = (m: string) => guild.modules[m] === true;
  const items: NavItem[] = [{ href: '', label: 'Overview' }];
  if (on('economy') && (guild.public_leaderboard || isAdmin)) items.push({ href: '/leaderboard', label: 'Leaderboard' });
  if (on('analytics') && (guild.public_activity || isAdmin)) items.push({ href: '/activity', label: 'Activity' });
  if (on('milestones')) items.push({ href: '/milestones', label: 'Milestones' });
  if (isAdmin) items.push({ href: '/admin', label: 'Admin' });
  return items;
}

export interface AdminSection {
  href: string;
  label: string;
  module?: string;
}

export const ADMIN_SECTIONS: AdminSection[] = [
  { href: '/admin/rules', label: 'Rules' },
  { href: '/admin/currencies', label: 'Currencies', module: 'economy' },
  { href: '/admin/modules', label: 'Modules' },
  { href: '/admin/regions', label: 'Regions & taxonomy' },
  { href: '/admin/milestones', label: 'Milestones', module: 'milestones' },
  { href: '/admin/level-roles', label: 'Level roles' },
  { href: '/admin/settings', label: 'Settings' },
  { href: '/admin/seasons', label: 'Seasons', module: 'seasons' },
  { href: '/admin/audit', label: 'Audit log' },
  { href: '/admin/import', label: 'Import', module: 'economy' },
  { href: '/admin/ledger', label: 'Member ledger', module: 'economy' },
  { href: '/admin/members', label: 'Member data' },
  { href: '/admin/integrations', label: 'Tokens & webhooks' }
];

export function visibleAdminSections(modules: Record<string, boolean>): AdminSection[] {
  return ADMIN_SECTIONS.filter((s) => !s.module || modules[s.module] === true);
}
