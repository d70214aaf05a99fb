import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vitest/config';

// `npm run dev` proxies /api to the local runner (synapse dev, port 7071 by default).
const api = process.env.SYNAPSE_API ?? `http://127.0.0.1:${process.env.SYNAPSE_HTTP_PORT ?? 7071}`;

export default defineConfig({
  plugins: [sveltekit()],
  server: { proxy: { '/api': api } },
  test: { include: ['src/**/*.test.ts'], environment: 'node' }
});
