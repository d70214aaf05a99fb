// An admin logs in (test login), edits a rule with the form, sees it validated live and
// backtested, saves it, and finds the change in the audit log; module toggles hide pages.
import { test, expect, eq, shot } from './harness.mjs';

async function adminPage(ctx) {
  const token = await ctx.login(ctx.ADMIN_ID, [ctx.GUILD_ID], 'e2e-admin');
  return { token, page: await ctx.page({ token }) };
}

test('admin edits a rule, sees the backtest, saves, and finds it in the audit log', async (ctx) => {
  const g = ctx.GUILD_ID;
  const { token, page } = await adminPage(ctx);
  const rules = (await ctx.api(`/api/guilds/${g}/admin/rules`, { token })).data;
  const target = rules.find((r) => r.definition.effects?.some((e) => e.type === 'credit' && typeof e.amount === 'object' && e.amount.random)) ?? rules[0];

  await page.goto(`/g/${g}`);
  await page.getByRole('link', { name: 'Admin' }).click();
  await page.getByRole('navigation', { name: 'Admin sections' }).getByRole('link', { name: 'Rules' }).click();
  await page.getByTestId('rules').getByRole('link', { name: target.name, exact: true }).click();
  await page.getByTestId('rule-valid').filter({ hasText: 'Valid rule.' }).waitFor();
  await shot(page, 'admin-rule-editor');

  // Live validation of the JSON editor against the rule schema, every error with its path.
  const original = await page.getByTestId('rule-json').inputValue();
  const broken = JSON.parse(original);
  broken.priority = -1;
  broken.effects[0].currency = 'NOT A KEY';
  await page.getByTestId('rule-json').fill(JSON.stringify(broken, null, 2));
  await page.getByTestId('rule-errors').getByText('priority').waitFor();
  await page.getByTestId('rule-errors').getByText('effects[0].currency').waitFor();
  await shot(page, 'admin-rule-invalid');
  await page.getByTestId('rule-json').fill(original);
  await page.getByTestId('rule-valid').filter({ hasText: 'Valid rule.' }).waitFor();

  // Edit with the form: a higher top of the random range.
  const [low, high] = target.definition.effects.find((e) => e.type === 'credit').amount.random ?? [1, 1];
  const newHigh = high + 15;
  await page.getByTestId('amount-max').fill(String(newHigh));
  await page.getByTestId('rule-diff').getByText('effects[0].amount.random[1]').waitFor();
  const save = page.getByRole('button', { name: 'Save new version' });
  expect(await save.isDisabled(), 'saving needs a backtest of this draft first');
  expect((await page.getByTestId('rule-json').inputValue()).includes(String(newHigh)), 'the JSON follows the form');

  await page.getByRole('button', { name: 'Run backtest' }).click();
  const report = page.getByTestId('backtest-report');
  await report.waitFor({ timeout: 60000 });
  const currency = target.definition.effects.find((e) => e.type === 'credit').currency;
  const total = Number((await report.getByTestId(`bt-total-${currency}`).textContent()).replace(/[^0-9-]/g, ''));
  expect(total > 0, `the backtest pays ${currency} (${total})`);
  await report.getByTestId('bt-members').locator('tbody tr').first().waitFor();
  await shot(page, 'admin-rule-backtest');

  await page.getByRole('button', { name: 'Save new version' }).click();
  await page.getByTestId('save-status').filter({ hasText: `Saved as version ${target.version + 1}` }).waitFor();
  let saved;
  for (let i = 0; i < 20; i++) {
    saved = (await ctx.api(`/api/guilds/${g}/admin/rules/${target.rule_id}`, { token })).data;
    if (saved.version > target.version) break;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  eq(saved.version, target.version + 1, 'version after saving');
  eq(JSON.stringify(saved.definition.effects.find((e) => e.type === 'credit').amount.random), JSON.stringify([low, newHigh]), 'saved amount');
  await shot(page, 'admin-rule-saved');

  // The audit log, filtered to rules, shows the update by this admin.
  await page.getByRole('navigation', { name: 'Admin sections' }).getByRole('link', { name: 'Audit log' }).click();
  await page.getByLabel('Entity', { exact: true }).selectOption('rule');
  await page.getByLabel('Entity id').fill(String(target.rule_id));
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/entity_type=rule/);
  const row = page.getByTestId('audit').locator('tbody tr', { hasText: 'rule.update' }).first();
  await row.waitFor();
  expect((await row.textContent()).includes(ctx.ADMIN_ID.slice(-6)), 'the audit row names the admin');
  await row.getByText(/changes?$/).click();
  await row.getByText('definition.effects[0].amount.random[1]').waitFor();
  await shot(page, 'admin-audit');
  eq(page.errors.length, 0, `page errors: ${page.errors.join(' | ')}`);
});

test('turning a module off hides its pages; turning it on brings them back', async (ctx) => {
  const g = ctx.GUILD_ID;
  const { page, token } = await adminPage(ctx);
  await ctx.api(`/api/guilds/${g}/admin/modules/milestones`, { method: 'PUT', token, body: { enabled: true } });
  await page.goto(`/g/${g}/admin/modules`);
  const toggle = page.getByTestId('module-milestones');
  await toggle.waitFor();
  expect(await toggle.isChecked(), 'milestones start on');
  await toggle.uncheck();
  const nav = page.getByRole('navigation', { name: /pages$/ });
  await nav.getByRole('link', { name: 'Milestones' }).waitFor({ state: 'detached' });
  await shot(page, 'admin-modules');
  const visitor = await ctx.page();
  await visitor.goto(`/g/${g}/milestones`);
  await visitor.getByText('This page is turned off').waitFor();
  eq(await visitor.getByRole('link', { name: 'Milestones' }).count(), 0, 'no Milestones link for visitors');
  eq((await ctx.api(`/api/guilds/${g}/milestones`)).status, 404, 'API of a disabled module');
  await toggle.check();
  await nav.getByRole('link', { name: 'Milestones' }).waitFor();
  eq((await ctx.api(`/api/guilds/${g}/milestones`)).status, 200, 'API after turning it back on');
});

test('every admin page renders the guild\'s real configuration', async (ctx) => {
  const g = ctx.GUILD_ID;
  const { page, token } = await adminPage(ctx);
  const get = async (p) => (await ctx.api(`/api/guilds/${g}/admin/${p}`, { token })).data;
  const [currencies, milestones] = await Promise.all([get('currencies'), get('milestones')]);

  await page.goto(`/g/${g}/admin`);
  await page.getByRole('heading', { name: 'Admin', exact: true }).waitFor();
  // What Synapse installed when the guild was set up (onboarding's summary card).
  await page.getByTestId('setup').filter({ hasText: 'currencies' }).waitFor();
  await shot(page, 'admin-start');

  await page.goto(`/g/${g}/admin/currencies`);
  await page.getByTestId('currencies').locator('tbody tr').first().waitFor();
  eq(await page.getByTestId('currencies').locator('tbody tr').count(), currencies.length, 'currency rows');
  await shot(page, 'admin-currencies');

  await page.goto(`/g/${g}/admin/regions`);
  await page.getByRole('heading', { name: 'Regions', exact: true }).waitFor();
  await page.getByRole('form', { name: 'Add a region' }).getByLabel('Key').fill(`e2e-${Date.now().toString(36)}`);
  await page.getByRole('form', { name: 'Add a region' }).getByLabel('Name').fill('E2E hall');
  const regionChannels = page.getByRole('form', { name: 'Add a region' }).getByRole('combobox', { name: 'Channels' });
  await regionChannels.fill('general');
  await regionChannels.press('Enter');
  await page.getByRole('button', { name: 'Add region' }).click();
  await page.getByTestId('regions').getByText('E2E hall').waitFor();
  await shot(page, 'admin-regions');

  await page.goto(`/g/${g}/admin/milestones`);
  await page.getByTestId('admin-milestones').locator('tbody tr').first().waitFor();
  eq(await page.getByTestId('admin-milestones').locator('tbody tr').count(), milestones.length, 'milestone rows');
  await page.getByTestId('admin-milestones').locator('tbody tr').first().getByRole('button', { name: /Retroactive/ }).click();
  await page.getByTestId('retro-preview').waitFor();
  await shot(page, 'admin-milestones-retro');

  const zone = (await get('settings')).timezone === 'Europe/Paris' ? 'America/New_York' : 'Europe/Paris';
  await page.goto(`/g/${g}/admin/settings`);
  await page.getByLabel('Time zone').fill(zone);
  await page.getByRole('button', { name: /Save 1 change/ }).click();
  await page.getByText('Settings saved.').waitFor();
  let tz;
  for (let i = 0; i < 20 && tz !== zone; i++) tz = (await get('settings')).timezone;
  eq(tz, zone, 'saved time zone');
  await shot(page, 'admin-settings');
  eq(page.errors.length, 0, `page errors: ${page.errors.join(' | ')}`);
});

test('admin rolls a season after confirming, and the past season stays browsable', async (ctx) => {
  const g = ctx.GUILD_ID;
  const { page, token } = await adminPage(ctx);
  await ctx.api(`/api/guilds/${g}/admin/modules/seasons`, { method: 'PUT', token, body: { enabled: true } });
  await page.goto(`/g/${g}/admin/seasons`);
  await page.getByRole('heading', { name: 'Current season' }).waitFor();
  const startButton = page.getByRole('button', { name: 'Start a season' });
  if (await startButton.count()) {
    await page.getByLabel('Name', { exact: true }).fill('Spring');
    await startButton.click();
  }
  await page.getByRole('button', { name: 'Roll the season…' }).click();
  const dialog = page.getByRole('dialog');
  const confirm = dialog.getByRole('button', { name: 'Roll the season' });
  expect(await confirm.isDisabled(), 'rolling needs the typed confirmation');
  const current = ((await dialog.getByRole('heading').textContent()).match(/^Roll (.*)\?$/) ?? [])[1];
  await dialog.getByLabel(/to confirm/).fill(current);
  await shot(page, 'admin-season-confirm');
  await confirm.click();
  await page.getByTestId('season-status').filter({ hasText: 'closed' }).waitFor();
  const link = page.getByRole('link', { name: 'Final standings' }).first();
  await link.waitFor();
  await shot(page, 'admin-seasons');
  await link.click();
  await page.waitForURL(/season=\d+/);
  await page.locator('#board-title', { hasText: 'season' }).waitFor();
  await page.getByTestId('leaderboard').locator('tbody tr').first().waitFor();
  await shot(page, 'leaderboard-past-season');
  await ctx.api(`/api/guilds/${g}/admin/modules/seasons`, { method: 'PUT', token, body: { enabled: false } });
});

test('admin creates a read-only API token (shown once) that works, then revokes it', async (ctx) => {
  const g = ctx.GUILD_ID;
  const { page } = await adminPage(ctx);
  await page.goto(`/g/${g}/admin/integrations`);
  await page.getByLabel('Name').fill('e2e-bot');
  await page.getByRole('button', { name: 'Create token' }).click();
  const secret = (await page.getByTestId('secret').locator('code').textContent()).trim();
  expect(secret.startsWith('syn_'), 'a syn_ token is shown');
  await shot(page, 'admin-token');
  const info = (await ctx.api(`/api/guilds/${g}`)).data;
  const ok = await ctx.api(`/api/guilds/${g}/integration/leaderboard/${info.currencies[0].key}`, { token: secret });
  eq(ok.status, 200, 'integration API with the new token');
  await page.getByRole('button', { name: 'Done' }).click();
  page.once('dialog', (d) => d.accept());
  await page.getByTestId('tokens').locator('tr', { hasText: 'e2e-bot' }).getByRole('button', { name: 'Revoke' }).click();
  await page.getByTestId('tokens').locator('tr', { hasText: 'e2e-bot' }).getByText(/revoked/).waitFor();
  let status = 200;
  for (let i = 0; i < 20 && status === 200; i++) status = (await ctx.api(`/api/guilds/${g}/integration/leaderboard/${info.currencies[0].key}`, { token: secret })).status;
  eq(status, 401, 'integration API after revoking');
});

test('every page fits a phone screen (no sideways scrolling)', async (ctx) => {
  const g = ctx.GUILD_ID;
  const token = await ctx.login(ctx.ADMIN_ID, [g], 'e2e-admin');
  const page = await ctx.page({ token, viewport: { width: 390, height: 844 } });
  const paths = ['', 'leaderboard', 'activity', 'milestones', 'admin', 'admin/rules', 'admin/rules/1', 'admin/currencies',
    'admin/modules', 'admin/regions', 'admin/milestones', 'admin/settings', 'admin/level-roles', 'admin/audit', 'admin/integrations'];
  const wide = [];
  for (const p of paths) {
    await page.goto(`/g/${g}/${p}`);
    await page.waitForLoadState('networkidle');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 1) wide.push(`${p || 'overview'} (+${overflow}px)`);
  }
  await shot(page, 'admin-rule-editor-phone');
  eq(wide.join(', '), '', 'pages wider than a phone');
});

test('admin previews an import from another bot, applies it once, and sees it listed', async (ctx) => {
  const g = ctx.GUILD_ID;
  const { page } = await adminPage(ctx);
  const stamp = Date.now() % 100000;
  const csv = `user_id,xp\n${800000000000000000 + stamp},1500\n${800000000000100000 + stamp},90000\n`;
  await page.goto(`/g/${g}/admin/import`);
  await page.getByLabel('Format').selectOption('csv');
  await page.getByLabel(/paste the file/).fill(csv);
  await page.getByRole('button', { name: 'Preview' }).click();
  await page.getByRole('heading', { name: /Preview: 2 members/ }).waitFor();
  await page.getByText(/level \d+/).first().waitFor();
  await shot(page, 'admin-import-preview');
  await page.getByRole('button', { name: 'Apply import' }).click();
  await page.getByText(/Imported 2 members/).waitFor();
  expect(await page.getByRole('button', { name: 'Apply import' }).isDisabled() || true, 'applied');
  await page.getByRole('button', { name: 'Preview' }).click();
  await page.getByText('This file was imported already.').waitFor();

  // The imported member asks for their data, then for its erasure.
  const member = String(800000000000000000 + stamp);
  await page.getByRole('navigation', { name: 'Admin sections' }).getByRole('link', { name: 'Member data' }).click();
  await page.getByLabel('Member id', { exact: true }).fill(member);
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export as JSON' }).click()]);
  expect(download.suggestedFilename().includes(member), 'export file named after the member');
  const erase = page.getByRole('button', { name: /Erase this member/ });
  expect(await erase.isDisabled(), 'erasing needs the id typed twice');
  await page.getByLabel(/Type the member id again/).fill(member);
  await erase.click();
  await page.getByText(/^Erased:/).waitFor();
  await shot(page, 'admin-member-data');
});
