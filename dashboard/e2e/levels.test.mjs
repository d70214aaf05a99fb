// Settings that take effect and level roles (issue 16): the level-up template's live preview, and the
// Level roles page: a row with a role picker, saved, then "sync now" previewed and applied.
import { test, expect, eq, shot } from './harness.mjs';

async function adminPage(ctx) {
  const token = await ctx.login(ctx.ADMIN_ID, [ctx.GUILD_ID], 'e2e-admin');
  return { token, page: await ctx.page({ token }) };
}

test('the level-up template previews live and flags an unknown placeholder', async (ctx) => {
  const g = ctx.GUILD_ID;
  const { page } = await adminPage(ctx);
  await page.goto(`/g/${g}/admin/settings`);
  const input = page.getByTestId('levelup_template');
  await input.fill('Bravo {member}, level {level} in {currency}!');
  const preview = page.getByTestId('levelup_template-preview');
  await preview.getByText('Bravo @Ada, level 5 in xp!').waitFor();
  await input.fill('Bravo {member} {nope}');
  await preview.getByText('Unknown placeholder: {nope}').waitFor();
  await shot(page, 'admin-settings-template-preview');
});

test('admin sets a level role with the picker, saves, previews a sync and applies it', async (ctx) => {
  const g = ctx.GUILD_ID;
  const { token, page } = await adminPage(ctx);
  await page.goto(`/g/${g}/admin`);
  await page.getByRole('navigation', { name: 'Admin sections' }).getByRole('link', { name: 'Level roles' }).click();
  await page.getByRole('heading', { name: 'Level roles', exact: true }).waitFor();
  await page.getByRole('button', { name: 'Add a level' }).click();
  await page.getByLabel('Level of row 1').fill('1');
  const picker = page.getByTestId('level-role-0');
  await picker.getByRole('combobox').fill('Regul');
  await picker.getByRole('combobox').press('Enter');
  await picker.getByTestId('chip').filter({ hasText: '@Regulars' }).waitFor();
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('status').filter({ hasText: 'Level roles saved' }).waitFor();
  const table = (await ctx.api(`/api/guilds/${g}/admin/level-roles`, { token })).data;
  eq(table.rows.map((r) => `${r.currency}:${r.level}:${r.role.name}`).join(','), 'xp:1:Regulars', 'the saved table');
  await page.getByRole('button', { name: 'Preview' }).click();
  await page.getByTestId('sync-summary').waitFor();
  const summary = await page.getByTestId('sync-summary').textContent();
  expect(/\d+ to add/.test(summary), `a sync summary: ${summary}`);
  await shot(page, 'admin-level-roles');
  const apply = page.getByRole('button', { name: /^Apply/ });
  if (await apply.count()) {
    await apply.click();
    await page.getByRole('status').filter({ hasText: /Queued \d+ role change/ }).waitFor();
  }
  eq(page.errors.length, 0, `page errors: ${page.errors.join(' | ')}`);
});
