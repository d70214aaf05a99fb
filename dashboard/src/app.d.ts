// See https://svelte.dev/docs/kit/types#app.d.ts
declare global {
  namespace App {
    interface Error {
      message: string;
      title?: string;
    }
  }
  /** The API's origin ('' = same origin), from PUBLIC_SYNAPSE_API_BASE at build time (vite.config.ts). */
  const __API_BASE__: string;
}
export {};
