import adapter from '@sveltejs/adapter-static';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  preprocess: vitePreprocess(),
  kit: {
    // SPA: every path falls back to index.html; the guild id lives in the URL.
    adapter: adapter({ fallback: 'index.html', strict: false }),
    paths: { relative: false }
  },
  compilerOptions: { runes: true }
};

export default config;
