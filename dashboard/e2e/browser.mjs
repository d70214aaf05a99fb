// Headless Chromium from Debian (never a downloaded browser build), driven by playwright-core.
import { chromium } from 'playwright-core';
import { existsSync } from 'node:fs';

export function chromiumPath() {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean);
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error('Chromium not found: apt-get install -y chromium (or set CHROMIUM_PATH)');
  return found;
}

/**
 * Chromium with a fresh profile; returns {browser, close}. playwright-core gives every launch
 * its own temporary --user-data-dir (it refuses one passed in args), removed on close.
 */
export async function launch() {
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'
    ]
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => {});
    }
  };
}
