// Performance budget: gzipped JavaScript each page loads, and the overview's time to first
// meaningful paint (its headline numbers on screen), in headless Chromium on the local stack.
//
//   BASE_URL=http://127.0.0.1:7071 GUILD_ID=1100000000000000001 node scripts/budget.mjs
//
// Aims (issue 8): under 150 KB of gzipped JS per page, under 1 s to first meaningful paint.
// Also run at the end of e2e/run.mjs; writes artifacts/budget.json.
import { gzipSync } from 'node:zlib';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const JS_BUDGET_KB = 150;
const PAINT_BUDGET_MS = 1000;

/** Pages and the element that says "the data is on screen". */
export function pages(guildId) {
  const g = `/g/${guildId}`;
  return [
    { name: 'overview', path: g, ready: '[data-testid="members-tracked"]' },
    { name: 'leaderboard', path: `${g}/leaderboard`, ready: '[data-testid="leaderboard"] tbody tr' },
    { name: 'activity', path: `${g}/activity`, ready: 'figure.chart[data-ready="true"]' },
    { name: 'milestones', path: `${g}/milestones`, ready: '[data-testid="milestones"] li' },
    { name: 'home', path: '/', ready: 'form' },
    { name: 'rule editor', path: `${g}/admin/rules/1`, ready: '[data-testid="rule-valid"]', admin: true }
  ];
}

/** Load `path` in a fresh context; sum the gzipped size of every script it fetched. */
async function jsOf(browser, baseUrl, page, token) {
  const context = await browser.newContext({ baseURL: baseUrl });
  if (page.admin) await context.addInitScript((t) => localStorage.setItem('synapse.session', t), token);
  const tab = await context.newPage();
  const scripts = new Map();
  tab.on('response', async (res) => {
    const type = res.request().resourceType();
    if (type === 'script' || /\.m?js(\?|$)/.test(res.url())) {
      try { scripts.set(res.url(), gzipSync(await res.body(), { level: 9 }).length); } catch { /* aborted */ }
    }
  });
  await tab.goto(page.path);
  await tab.locator(page.ready).first().waitFor({ timeout: 15000 });
  await tab.waitForLoadState('networkidle');
  await context.close();
  const bytes = [...scripts.values()].reduce((a, b) => a + b, 0);
  return { bytes, files: scripts.size };
}

/** Cold load of the overview: navigation start → headline numbers painted. Median of `runs`. */
async function paintOf(browser, baseUrl, page, runs = 5) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext({ baseURL: baseUrl });
    const tab = await context.newPage();
    await tab.addInitScript((selector) => {
      // Resolved on the first animation frame after the selector exists: it is painted by then.
      window.__fmp = new Promise((resolve) => {
        const check = () => {
          if (document.querySelector(selector)) requestAnimationFrame(() => resolve(performance.now()));
          else requestAnimationFrame(check);
        };
        check();
      });
    }, page.ready);
    await tab.goto(page.path);
    const fmp = await tab.evaluate(() => window.__fmp);
    const fcp = await tab.evaluate(() => new Promise((resolve) => {
      const seen = performance.getEntriesByName('first-contentful-paint')[0];
      if (seen) return resolve(seen.startTime);
      new PerformanceObserver((list) => {
        const e = list.getEntriesByName('first-contentful-paint')[0];
        if (e) resolve(e.startTime);
      }).observe({ type: 'paint', buffered: true });
      setTimeout(() => resolve(null), 1000);
    }));
    samples.push({ fmp, fcp });
    await context.close();
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const fcps = samples.map((s) => s.fcp).filter((v) => typeof v === 'number');
  return { fmp: median(samples.map((s) => s.fmp)), fcp: fcps.length ? median(fcps) : null, runs };
}

/** A test-login session for the admin page (null when the stack has no test login). */
async function adminToken(baseUrl, guildId) {
  try {
    const res = await fetch(`${baseUrl}/api/auth/test-login`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: '900000000000000002', username: 'budget', guilds: [guildId] })
    });
    return res.ok ? (await res.json()).access_token : null;
  } catch {
    return null;
  }
}

export async function measure({ browser, baseUrl, guildId }) {
  const rows = [];
  const token = await adminToken(baseUrl, guildId);
  for (const p of pages(guildId)) {
    if (p.admin && !token) continue;
    rows.push({ page: p.name, ...(await jsOf(browser, baseUrl, p, token)) });
  }
  const paint = await paintOf(browser, baseUrl, pages(guildId)[0]);
  const kb = (b) => (b / 1024).toFixed(1);
  const lines = ['Budget (gzipped JS per page; aim < 150 KB):'];
  for (const r of rows) lines.push(`  ${r.page.padEnd(12)} ${kb(r.bytes).padStart(7)} KB in ${r.files} files${r.bytes / 1024 > JS_BUDGET_KB ? '  OVER BUDGET' : ''}`);
  lines.push(`Overview first meaningful paint (median of ${paint.runs} cold loads; aim < 1000 ms): ${paint.fmp.toFixed(0)} ms` +
    (paint.fcp === null ? '' : ` (first contentful paint ${paint.fcp.toFixed(0)} ms)`) + `${paint.fmp > PAINT_BUDGET_MS ? '  OVER BUDGET' : ''}`);
  const report = { pages: rows.map((r) => ({ ...r, kb: Number(kb(r.bytes)) })), overview_paint_ms: Math.round(paint.fmp), overview_fcp_ms: paint.fcp === null ? null : Math.round(paint.fcp), aims: { js_kb: JS_BUDGET_KB, paint_ms: PAINT_BUDGET_MS } };
  const dir = resolve(fileURLToPath(new URL('../../artifacts', import.meta.url)));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/budget.json`, JSON.stringify(report, null, 2) + '\n');
  return { ...report, text: lines.join('\n') };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { launch } = await import('../e2e/browser.mjs');
  const { browser, close } = await launch();
  try {
    const report = await measure({
      browser,
      baseUrl: (process.env.BASE_URL ?? 'http://127.0.0.1:7071').replace(/\/$/, ''),
      guildId: process.env.GUILD_ID ?? '1100000000000000001'
    });
    console.log(report.text);
  } finally {
    await close();
  }
}
