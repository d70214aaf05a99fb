// Accessibility: axe-core (the engine behind most a11y linters) on every page, light and dark.
// Fails on serious or critical violations: contrast, missing labels, names, roles, landmarks.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { test, eq } from './harness.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export async function audit(page) {
  await page.addScriptTag({ content: AXE });
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
  });
}

test('pages pass axe-core without serious or critical violations, in light and dark', async (ctx) => {
  const g = ctx.GUILD_ID;
  const token = await ctx.login(ctx.ADMIN_ID, [g], 'e2e-admin');
  const problems = [];
  for (const colorScheme of ['light', 'dark']) {
    const page = await ctx.page({ token, colorScheme });
    const paths = ['/', `/g/${g}`, `/g/${g}/leaderboard`, `/g/${g}/activity`, `/g/${g}/milestones`, `/g/${g}/admin`,
      `/g/${g}/admin/rules/1`, `/g/${g}/admin/modules`, `/g/${g}/admin/settings`, `/g/${g}/admin/level-roles`, `/g/${g}/admin/audit`, `/g/${g}/admin/ledger`];
    for (const path of paths) {
      await page.goto(path);
      await page.waitForLoadState('networkidle');
      for (const v of await audit(page)) problems.push(`[${colorScheme}] ${path}: ${v}`);
    }
  }
  eq(problems.join('\n'), '', 'axe violations');
});
