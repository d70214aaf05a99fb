// Who may see what: admin pages need an admin session of that very guild.
import { test, expect, eq, shot } from './harness.mjs';

test('a visitor who is not logged in cannot reach admin pages', async (ctx) => {
  const page = await ctx.page();
  await page.goto(`/g/${ctx.GUILD_ID}/admin/rules`);
  await page.getByTestId('admin-denied').waitFor();
  eq(await page.getByRole('link', { name: 'Admin' }).count(), 0, 'no Admin link in the nav');
  eq(await page.getByTestId('rules').count(), 0, 'no rules list');
  await shot(page, 'admin-anonymous');
});

test('a logged-in member who does not administer the guild cannot reach admin pages', async (ctx) => {
  const token = await ctx.login('900000000000000777', [], 'e2e-member');
  const page = await ctx.page({ token });
  await page.goto(`/g/${ctx.GUILD_ID}/admin`);
  await page.getByTestId('admin-denied').waitFor();
  eq(await page.getByRole('link', { name: 'Admin' }).count(), 0, 'no Admin link in the nav');
  // And the API agrees: the same session gets 403 from an admin endpoint.
  if (ctx.hasPath('/api/guilds/{guild_id}/admin/rules')) {
    const r = await ctx.api(`/api/guilds/${ctx.GUILD_ID}/admin/rules`, { token });
    eq(r.status, 403, 'admin API status for a non-admin');
  }
  await shot(page, 'admin-non-admin');
  expect(page.errors.length === 0, `page errors: ${page.errors.join(' | ')}`);
});
