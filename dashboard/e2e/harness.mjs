// A tiny sequential test runner for the browser tests: named tests, screenshots, a closing
// "N passed, N failed" line, exit code 1 on any failure. No test framework to download.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

const tests = [];
export function test(name, fn, { skipIf } = {}) {
  tests.push({ name, fn, skipIf });
}

export class Skip extends Error {}

export function expect(cond, message) {
  if (!cond) throw new Error(message);
}

export function eq(actual, expected, what) {
  if (actual !== expected) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

export const SCREENSHOTS = resolve(process.env.SCREENSHOTS_DIR ?? new URL('../../artifacts/screenshots', import.meta.url).pathname);

export async function shot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: true });
}

export async function run(ctx) {
  const only = process.env.E2E_ONLY ? new RegExp(process.env.E2E_ONLY) : null;
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const started = Date.now();
  for (const t of tests) {
    if (only && !only.test(t.name)) continue;
    const reason = t.skipIf ? await t.skipIf(ctx) : null;
    if (reason) {
      skipped++;
      console.log(`SKIP ${t.name} — ${reason}`);
      continue;
    }
    const t0 = Date.now();
    try {
      await t.fn(ctx);
      passed++;
      console.log(`PASS ${t.name} (${Date.now() - t0} ms)`);
    } catch (err) {
      if (err instanceof Skip) {
        skipped++;
        console.log(`SKIP ${t.name} — ${err.message}`);
        continue;
      }
      failed++;
      console.log(`FAIL ${t.name} (${Date.now() - t0} ms)\n  ${(err && err.stack) || err}`);
      if (ctx.lastPage) await shot(ctx.lastPage, `FAILED-${t.name.replace(/[^a-z0-9]+/gi, '-')}`).catch(() => {});
    }
  }
  console.log(`e2e finished in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${SCREENSHOTS}`);
  console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ''));
  return failed === 0;
}
