/**
 * The one way the dashboard talks to Synapse: a typed client over the generated OpenAPI paths
 * (src/lib/api/schema.d.ts), so an API change breaks `npm run check`, not a page at run time.
 */
import { error } from '@sveltejs/kit';
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema';
import { session } from '$lib/session.svelte';

export type Schemas = components['schemas'];

/** The API's error envelope, raised for every non-2xx answer. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: { path?: string; message?: string }[] = []
  ) {
    super(message);
  }
}

const auth: Middleware = {
  async onRequest({ request }) {
    const token = session.token;
    if (token && !request.headers.has('authorization')) request.headers.set('authorization', `Bearer ${token}`);
    return request;
  },
  async onResponse({ response }) {
    // An expired or revoked session: forget it, so the UI shows "log in" instead of failing forever.
    if (response.status === 401 && session.token) session.clear();
    return response;
  }
};

/** The API's origin: '' (same origin) unless the build set PUBLIC_SYNAPSE_API_BASE. */
export const API_BASE: string = typeof __API_BASE__ === 'string' ? __API_BASE__ : '';

/** Where "Log in with Discord" goes. */
export function loginUrl(): string {
  return `${API_BASE}/api/auth/login`;
}

export const api = createClient<paths>({ baseUrl: API_BASE });
api.use(auth);

function toError(status: number, body: unknown): ApiError {
  const err = (body as { error?: { code?: string; message?: string; details?: [] } } | undefined)?.error;
  return new ApiError(status, err?.code ?? 'http_error', err?.message ?? `request failed (${status})`, err?.details ?? []);
}

/** Await an openapi-fetch call and return its data, or throw an ApiError from the envelope. */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result;
  try {
    result = await call;
  } catch (e) {
    throw new ApiError(0, 'network', `cannot reach the Synapse API (${(e as Error).message})`);
  }
  if (!result.response.ok || result.data === undefined) {
    if (result.response.status === 204) return undefined as T;
    throw toError(result.response.status, result.error);
  }
  return result.data;
}

/** For endpoints not (yet) in the typed document: same envelope, same auth. */
export async function raw<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (session.token) headers.authorization = `Bearer ${session.token}`;
  let res: Response;
  try {
    res = await fetch(API_BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, 'network', `cannot reach the Synapse API (${(e as Error).message})`);
  }
  const text = await res.text();
  const data = text ? JSON.parse(text) : undefined;
  if (!res.ok) {
    if (res.status === 401 && session.token) session.clear();
    throw toError(res.status, data);
  }
  return data as T;
}

/** Human text for an error shown on a page. */
export function describe(err: unknown): { title: string; message: string; status: number } {
  if (err instanceof ApiError) {
    if (err.status === 404 && /module is off/.test(err.message))
      return { title: 'This page is turned off', message: err.message, status: 404 };
    if (err.status === 403) return { title: 'This page is private', message: err.message, status: 403 };
    if (err.status === 401) return { title: 'Please log in', message: err.message, status: 401 };
    if (err.status === 404) return { title: 'Not found', message: err.message, status: 404 };
    return { title: 'Something went wrong', message: err.message, status: err.status };
  }
  return { title: 'Something went wrong', message: String((err as Error)?.message ?? err), status: 500 };
}

/** In a load function: the data, or SvelteKit's error page with the API's message. */
export async function need<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  try {
    return await unwrap(call);
  } catch (e) {
    const d = describe(e);
    error(d.status >= 400 && d.status < 600 ? d.status : 503, { message: d.message, title: d.title });
  }
}

/** Optional data: null when the endpoint fails (e.g. its module is off). */
export async function maybe<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T | null> {
  try {
    return await unwrap(call);
  } catch {
    return null;
  }
}
