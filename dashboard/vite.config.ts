import { sveltekit } from '@sveltejs/kit/vite';
import { loadEnv } from 'vite';
import { defineConfig } from 'vitest/config';

export default defineConfig(({ mode }) => {
  const env = { ...loadEnv(mode, process.cwd(), ''), ...process.env };
  // `npm run dev` proxies /api to the local runner (synapse dev, port 7071 by default).
  const api = env.SYNAPSE_API ?? `http://127.0.0.1:${env.SYNAPSE_HTTP_PORT ?? 7071}`;
  return {
    plugins: [sveltekit()],
    // Where the API lives, baked in at build time: empty = same origin (the local runner, or a
    // Static Web Apps linked backend); in Azure the Function App's URL (infra/hooks/build-dashboard.sh
    // writes PUBLIC_SYNAPSE_API_BASE to .env.production.local).
    define: { __API_BASE__: JSON.stringify((env.PUBLIC_SYNAPSE_API_BASE ?? '').replace(/\/$/, '')) },
    server: { proxy: { '/api': api } },
    test: { include: ['src/**/*.test.ts'], environment: 'node' }
  };
});
