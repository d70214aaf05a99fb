// Every public page renders real data (compared with the API) and its charts.
import { test, expect, eq, shot } from './harness.mjs';

const num = (s) => Number(String(s).replace(/[^0-9.-]/g, ''));

test('overview shows headline numbers, sparklines, channels, currencies and the ticker', async (ctx) => {
  const g = ctx.GUILD_ID;
  const overview = (await ctx.api(`/api/guilds/${g}/overview`)).data;
  const page = await ctx.page();
  await page.goto(`/g/${g}`);
  await page.getByTestId('members-tracked').waitFor();
  eq(num(await page.getByTestId('members-tracked').textContent()), overview.members_tracked, 'members tracked');
  expect(overview.members_tracked > 0, 'the simulated community has members');
  const sparks = await page.locator('[data-sparkline] path').count();
  expect(sparks >= 4, `sparklines drawn (${sparks} paths)`);
  const currencies = await page.locator('#currencies ~ table tbody tr').count();
  eq(currencies, overview.currencies.length, 'currency rows');
  const ticker = (await ctx.api(`/api/guilds/${g}/announcements?limit=10`)).data;
  if (ticker.items.length) await page.getByTestId('ticker').getByText(ticker.items[0].text).first().waitFor();
  eq((await page.title()).includes('Overview'), true, 'page title');
  await shot(page, 'overview');
  // Dark theme via the toggle, kept across reloads.
  await page.getByRole('button', { name: /switch to dark theme/i }).click();
  eq(await page.evaluate(() => document.documentElement.dataset.theme), 'dark', 'theme after toggle');
  await page.reload();
  await page.getByTestId('members-tracked').waitFor();
  eq(await page.evaluate(() => document.documentElement.dataset.theme), 'dark', 'theme after reload');
  await shot(page, 'overview-dark');
  eq(page.errors.length, 0, `page errors: ${page.errors.join(' | ')}`);
});

test('overview fits a phone screen', async (ctx) => {
  const page = await ctx.page({ viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
  await page.goto(`/g/${ctx.GUILD_ID}`);
  await page.getByTestId('members-tracked').waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow <= 1, `no horizontal scrolling on a phone (overflow ${overflow}px)`);
  await shot(page, 'overview-phone-dark');
});

test('leaderboard pages, switches currency and searches', async (ctx) => {
  const g = ctx.GUILD_ID;
  const info = (await ctx.api(`/api/guilds/${g}`)).data;
  const [first, second] = info.currencies;
  const board = (await ctx.api(`/api/guilds/${g}/leaderboard/${first.key}?limit=25`)).data;
  expect(board.items.length > 0, 'the API has a leaderboard');
  const page = await ctx.page();
  await page.goto(`/g/${g}/leaderboard`);
  const rows = page.getByTestId('leaderboard').locator('tbody tr');
  await rows.first().waitFor();
  eq(await rows.count(), board.items.length, 'rows on the first page');
  const top = board.items.find((r) => r.display_name);
  await page.getByTestId('leaderboard').getByText(top.display_name, { exact: true }).first().waitFor();
  await shot(page, 'leaderboard');
  if (board.next_cursor) {
    const next = (await ctx.api(`/api/guilds/${g}/leaderboard/${first.key}?limit=25&cursor=${board.next_cursor}`)).data;
    await page.getByRole('button', { name: /next/i }).click();
    await page.getByTestId('leaderboard').locator('tbody tr td.rank', { hasText: String(next.items[0].rank) }).first().waitFor();
    await page.getByRole('button', { name: /previous/i }).click();
    await page.getByTestId('leaderboard').locator('tbody tr td.rank').first().filter({ hasText: /^1$/ }).waitFor();
  }
  if (second) {
    await page.getByRole('button', { name: second.name }).click();
    await page.waitForURL(new RegExp(`currency=${second.key}`));
    await page.locator('#board-title', { hasText: second.name }).waitFor();
    await page.getByTestId('leaderboard').locator('tbody tr').first().waitFor();
    await page.getByRole('button', { name: first.name }).click();
    await page.waitForURL(new RegExp(`currency=${first.key}`));
  }
  const target = board.items.filter((r) => r.display_name)[3] ?? top;
  await page.getByLabel('Search members').fill(target.display_name);
  await page.getByTestId('leaderboard').getByText(target.display_name, { exact: true }).first().waitFor();
  const shown = await page.getByTestId('leaderboard').locator('tbody tr').count();
  expect(shown >= 1 && shown < board.items.length, `search narrows the board (${shown} rows)`);
  await shot(page, 'leaderboard-search');
  eq(page.errors.length, 0, `page errors: ${page.errors.join(' | ')}`);
});

test('leaderboard period selector shows this week and this month as the API ranks them', async (ctx) => {
  const g = ctx.GUILD_ID;
  const info = (await ctx.api(`/api/guilds/${g}`)).data;
  const currency = info.currencies[0];
  const page = await ctx.page();
  await page.goto(`/g/${g}/leaderboard`);
  const period = page.getByTestId('period');
  await page.getByTestId('leaderboard').locator('tbody tr').first().waitFor();
  eq(await period.getByRole('button', { name: 'All time' }).getAttribute('aria-pressed'), 'true', 'all time by default');
  for (const [key, label] of [['week', 'This week'], ['month', 'This month']]) {
    const board = (await ctx.api(`/api/guilds/${g}/leaderboard/${currency.key}?limit=25&period=${key}`)).data;
    eq(board.period, key, `the API's ${key} board`);
    await period.getByRole('button', { name: label }).click();
    await page.waitForURL(new RegExp(`period=${key}`));
    eq(await period.getByRole('button', { name: label }).getAttribute('aria-pressed'), 'true', `${label} pressed`);
    await page.locator('#board-title', { hasText: label.toLowerCase() }).waitFor();
    if (board.items.length === 0) {
      await page.getByText('Nobody has earned any in this period yet.').waitFor();
      continue;
    }
    await page.getByTestId('period-since').waitFor();
    const rows = page.getByTestId('leaderboard').locator('tbody tr');
    // The previous board stays on screen until this one has loaded: wait for its top net.
    await page.waitForFunction((top) => {
      const cell = document.querySelector('[data-testid="leaderboard"] tbody tr td:last-child');
      return cell !== null && Number(cell.textContent.replace(/[^0-9.-]/g, '')) === top;
    }, board.items[0].balance);
    await page.locator('section[aria-busy="false"]').waitFor();
    eq(await rows.count(), board.items.length, `${key}: rows on the first page`);
    // Row by row: rank and the period's net, as the API computed them from the ledger.
    const shown = await rows.evaluateAll((trs) => trs.map((tr) => [
      tr.querySelector('td.rank')?.textContent?.trim(), tr.querySelector('td:last-child')?.textContent?.trim()]));
    eq(JSON.stringify(shown.map(([r, b]) => [Number(r), num(b)])),
      JSON.stringify(board.items.map((e) => [e.rank, e.balance])), `${key}: ranks and nets`);
    await shot(page, `leaderboard-${key}`);
  }
  await period.getByRole('button', { name: 'All time' }).click();
  await page.waitForURL((url) => !url.search.includes('period='));
  await page.locator('#board-title', { hasText: /^((?!this).)*$/i }).waitFor();
  eq(page.errors.length, 0, `page errors: ${page.errors.join(' | ')}`);
});

test('activity draws the time series, the weekday × hour heatmap and cohort retention', async (ctx) => {
  const g = ctx.GUILD_ID;
  const page = await ctx.page();
  await page.goto(`/g/${g}/activity`);
  await page.locator('figure.chart[data-ready="true"]').nth(3).waitFor();
  const charts = await page.locator('figure.chart[data-ready="true"]').count();
  eq(charts, 4, 'charts drawn on the 30-day view');
  // The canvas has pixels (Chart.js drew, not just an empty element).
  const painted = await page.locator('figure.chart canvas').first().evaluate((c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
    return false;
  });
  expect(painted, 'the first chart has drawn pixels');
  eq(await page.getByTestId('heatmap').locator('tbody td').count(), 168, 'heatmap cells');
  const heat = (await ctx.api(`/api/guilds/${g}/heatmap`)).data;
  const peak = Math.max(...heat.cells.map((c) => c.messages));
  await page.getByText(`more (peak ${peak})`).waitFor();
  const retention = (await ctx.api(`/api/guilds/${g}/retention?weeks=8`)).data;
  if (retention.cohorts.length) eq(await page.getByTestId('retention').locator('tbody tr').count(), retention.cohorts.length, 'cohort rows');
  await shot(page, 'activity');
  await page.getByRole('button', { name: '48 hours' }).click();
  await page.waitForURL(/range=48h/);
  await page.locator('figure.chart[data-ready="true"]').nth(2).waitFor();
  await shot(page, 'activity-48h');
  eq(page.errors.length, 0, `page errors: ${page.errors.join(' | ')}`);
});

test('milestones gallery lists every milestone with its earn count', async (ctx) => {
  const g = ctx.GUILD_ID;
  const list = (await ctx.api(`/api/guilds/${g}/milestones`)).data;
  const page = await ctx.page();
  await page.goto(`/g/${g}/milestones`);
  await page.getByTestId('milestones').locator('li').first().waitFor();
  eq(await page.getByTestId('milestones').locator('li').count(), list.length, 'milestone cards');
  const top = [...list].sort((a, b) => b.earned_count - a.earned_count)[0];
  const card = page.getByTestId('milestones').locator('li').first();
  await card.getByText(top.name).waitFor();
  eq(num(await card.locator('.count strong').textContent()), top.earned_count, 'earn count of the first card');
  await shot(page, 'milestones');
  eq(page.errors.length, 0, `page errors: ${page.errors.join(' | ')}`);
});

test('member profile opens from the leaderboard with balances and milestones', async (ctx) => {
  const g = ctx.GUILD_ID;
  const info = (await ctx.api(`/api/guilds/${g}`)).data;
  const board = (await ctx.api(`/api/guilds/${g}/leaderboard/${info.currencies[0].key}?limit=5`)).data;
  const who = board.items.find((r) => r.user_id);
  const profile = (await ctx.api(`/api/guilds/${g}/members/${who.user_id}`)).data;
  const page = await ctx.page();
  await page.goto(`/g/${g}/leaderboard`);
  await page.getByTestId('leaderboard').getByRole('link', { name: who.display_name, exact: true }).first().click();
  await page.waitForURL(new RegExp(`/members/${who.user_id}$`));
  eq((await page.getByTestId('member-name').textContent()).trim(), profile.display_name, 'member name');
  eq(await page.getByTestId('balances').locator('li').count(), profile.balances.length, 'balances');
  const levelled = profile.balances.find((b) => b.level !== null);
  if (levelled) await page.getByText(`Level ${levelled.level}`, { exact: true }).first().waitFor();
  await shot(page, 'member');
  eq(page.errors.length, 0, `page errors: ${page.errors.join(' | ')}`);
});

test('an unknown server shows a clear error, not a blank page', async (ctx) => {
  const page = await ctx.page();
  await page.goto('/g/4242424242');
  await page.getByTestId('error').waitFor();
  await shot(page, 'unknown-guild');
});

test('the start page offers the simulated community and opens it', async (ctx) => {
  const page = await ctx.page();
  await page.goto('/');
  const info = (await ctx.api(`/api/guilds/${ctx.GUILD_ID}`)).data;
  await page.getByTestId('known-guilds').getByRole('link', { name: new RegExp(info.name) }).click();
  await page.waitForURL(new RegExp(`/g/${ctx.GUILD_ID}$`));
  await page.getByTestId('members-tracked').waitFor();
  await shot(page, 'home-to-overview');
  // Keyboard: the skip link is the first stop and jumps to the content.
  await page.keyboard.press('Tab');
  eq(await page.evaluate(() => document.activeElement?.textContent?.trim()), 'Skip to content', 'first tab stop');
});
