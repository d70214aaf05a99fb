// End-to-end tests of the dashboard in headless Chromium against a running local stack.
//
//   BASE_URL=http://127.0.0.1:7071 GUILD_ID=1100000000000000001 node e2e/run.mjs
//
// The stack serves the API under /api and the built dashboard at / (synapse dev, or the pytest
// module tests/browser/test_dashboard.py, which seeds a database with the simulator and runs this).
// POST /api/auth/test-login must exist (SYNAPSE_ENV=test, SYNAPSE_TEST_LOGIN=true) for admin tests.
import { launch } from './browser.mjs';
import { run } from './harness.mjs';
import './public.test.mjs';
import './access.test.mjs';
import './admin.test.mjs';
import './directory.test.mjs';
import './levels.test.mjs';
import './a11y.test.mjs';
import './member.test.mjs';
import { measure } from '../scripts/budget.mjs';

const BASE_URL = (process.env.BASE_URL ?? 'http://127.0.0.1:7071').replace(/\/$/, '');
const GUILD_ID = process.env.GUILD_ID ?? '1100000000000000001';
const ADMIN_ID = process.env.ADMIN_USER_ID ?? '900000000000000001';

async function api(path, { method = 'GET', token, body } = {}) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(BASE_URL + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data;
  try { data = text ? JSON.parse(text) : undefined; } catch { data = text; }
  return { status: res.status, data };
}

async function login(userId, guilds, username = 'e2e-admin') {
  const r = await api('/api/auth/test-login', { method: 'POST', body: { user_id: userId, username, guilds } });
  if (r.status !== 200) throw new Error(`test-login failed (${r.status}): ${JSON.stringify(r.data)} — is SYNAPSE_TEST_LOGIN=true?`);
  return r.data.access_token;
}

const openapi = (await api('/api/openapi.json')).data;
if (!openapi || !openapi.paths) {
  console.error(`no OpenAPI document at ${BASE_URL}/api/openapi.json — is the stack running?`);
  process.exit(2);
}

const { browser, close } = await launch();
const ctx = {
  BASE_URL, GUILD_ID, ADMIN_ID, api, login, openapi, browser, lastPage: null,
  hasPath: (p) => Object.prototype.hasOwnProperty.call(openapi.paths, p),
  /** A fresh browser context (own storage) and page; uncaught page errors fail the test. */
  async page({ token = null, colorScheme = 'light', viewport = { width: 1280, height: 900 } } = {}) {
    const context = await browser.newContext({ viewport, colorScheme, baseURL: BASE_URL });
    if (token) await context.addInitScript((t) => localStorage.setItem('synapse.session', t), token);
    context.setDefaultTimeout(Number(process.env.E2E_TIMEOUT_MS ?? 10000));
    const page = await context.newPage();
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error' && !/status of 40[134]|ERR_NAME_NOT_RESOLVED|ERR_INTERNET_DISCONNECTED/.test(m.text())) page.errors.push(m.text()); });
    ctx.lastPage = page;
    return page;
  }
};

let ok = false;
try {
  ok = await run(ctx);
  if (process.env.E2E_BUDGET !== '0' && !process.env.E2E_ONLY) {
    const report = await measure({ browser, baseUrl: BASE_URL, guildId: GUILD_ID });
    console.log(report.text);
  }
} finally {
  await close();
}
process.exit(ok ? 0 : 1);
