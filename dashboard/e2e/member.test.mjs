// An admin finds a member, reads their ledger with each line's provenance, sets a balance through
// the page (with a reason and a confirmation), and sees the correction line with its admin and reason.
import { test, expect, eq, shot } from './harness.mjs';
import { audit } from './a11y.test.mjs';

const num = (s) => Number(String(s).replace(/[^0-9-]/g, ''));

test('admin sets a member\'s balance on the Member ledger page and sees the correction with its provenance', async (ctx) => {
  const g = ctx.GUILD_ID;
  const token = await ctx.login(ctx.ADMIN_ID, [g], 'e2e-admin');
  const page = await ctx.page({ token });
  const info = (await ctx.api(`/api/guilds/${g}`)).data;
  const xp = info.currencies.find((c) => c.key === 'xp') ?? info.currencies[0];
  const board = (await ctx.api(`/api/guilds/${g}/leaderboard/${xp.key}?limit=5`)).data;
  const target = board.items.find((r) => r.user_id && r.display_name);
  expect(target, 'the simulated community has a named member on the board');

  // From the admin nav, search by a piece of the name.
  await page.goto(`/g/${g}/admin`);
  await page.getByRole('navigation', { name: 'Admin sections' }).getByRole('link', { name: 'Member ledger' }).click();
  await page.getByLabel('Name or member id').fill(target.display_name.slice(0, 4));
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL(/\?q=/);
  await page.getByTestId('member-hits').getByRole('link', { name: target.display_name, exact: true }).click();
  await page.getByRole('heading', { name: target.display_name, exact: true }).waitFor();
  await shot(page, 'admin-member');

  // The ledger shows where rule credits came from: the rule at its version and the event.
  const ledger = page.getByTestId('ledger');
  await ledger.locator('tbody tr').first().waitFor();
  await ledger.locator('tbody tr[data-kind="rule"] td.prov', { hasText: /^rule '.+' @ v\d+ · event \w+ #\d+$/ }).first().waitFor();

  // Set the balance: a reason is required, and a dialog confirms the change before anything is posted.
  const before = num(await page.getByTestId(`balance-${xp.key}`).textContent());
  eq(before, target.balance, 'the page shows the leaderboard balance');
  const wanted = before + 1234;
  await page.getByRole('button', { name: `Set balance of ${xp.name}` }).click();
  await page.getByLabel('New balance').fill(String(wanted));
  const review = page.getByRole('button', { name: 'Review…' });
  expect(await review.isDisabled(), 'a change needs a reason');
  await page.getByLabel(/^Reason/).fill('e2e: compensation for a lost week');
  await review.click();
  const dialog = page.getByRole('dialog');
  await dialog.getByTestId('confirm-summary').filter({ hasText: '+1,234' }).waitFor();
  await shot(page, 'admin-member-confirm');
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('status').filter({ hasText: /^Saved:/ }).waitFor();
  await page.getByTestId(`balance-${xp.key}`).filter({ hasText: wanted.toLocaleString('en-US') }).waitFor();

  // The newest correction line is the admin's, with the reason. (A balance set by hand goes through the
  // engine like earned credit: a milestone it reaches pays its reward in a line of its own after it.)
  const top = ledger.locator('tbody tr[data-kind="correction"]').first();
  await top.waitFor();
  const text = await top.textContent();
  expect(text.includes('+1,234') && text.includes(wanted.toLocaleString('en-US')), `amount and balance after in "${text}"`);
  expect(/admin @\S+: e2e: compensation for a lost week/.test(text), `the admin and the reason in "${text}"`);
  await shot(page, 'admin-member-corrected');

  // The API agrees: one correction by this admin, audited, and the wallet holds the sum.
  const lines = (await ctx.api(`/api/guilds/${g}/admin/transactions?user_id=${target.user_id}&kind=correction&limit=1`, { token })).data.items;
  eq(lines[0].kind, 'correction', 'newest correction');
  eq(lines[0].amount, 1234, 'correction amount');
  eq(lines[0].actor_id, ctx.ADMIN_ID, 'correction actor');
  const log = (await ctx.api(`/api/guilds/${g}/admin/audit?entity_type=member&entity_id=${target.user_id}&action=member.set_balance`, { token })).data.items;
  eq(log[0]?.after?.balances?.[xp.key], wanted, 'audit row after');

  // The page is accessible and fits a phone.
  const problems = await audit(page);
  eq(problems.join('\n'), '', 'axe violations on the member page');
  const phone = await ctx.page({ token, viewport: { width: 390, height: 844 } });
  for (const path of [`/g/${g}/admin/ledger`, `/g/${g}/admin/ledger/${target.user_id}`]) {
    await phone.goto(path);
    await phone.waitForLoadState('networkidle');
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow <= 1, `${path} fits a phone (overflow ${overflow}px)`);
  }
  eq(page.errors.length, 0, `page errors: ${page.errors.join(' | ')}`);
});

test('an admin opens a member\'s ledger from the leaderboard; visitors see no such link', async (ctx) => {
  const g = ctx.GUILD_ID;
  const token = await ctx.login(ctx.ADMIN_ID, [g], 'e2e-admin');
  const page = await ctx.page({ token });
  await page.goto(`/g/${g}/leaderboard`);
  const link = page.getByTestId('leaderboard').getByRole('link', { name: /^Ledger of / }).first();
  await link.click();
  await page.waitForURL(/\/admin\/ledger\/\d+$/);
  await page.getByTestId('wallets').locator('tbody tr').first().waitFor();
  const visitor = await ctx.page();
  await visitor.goto(`/g/${g}/leaderboard`);
  await visitor.getByTestId('leaderboard').locator('tbody tr').first().waitFor();
  eq(await visitor.getByRole('link', { name: /^Ledger of / }).count(), 0, 'ledger links for a visitor');
});
