/**
 * The dashboard session: a short-lived JWT from /api/auth/callback (or test-login), kept in
 * localStorage. Its claims are decoded only to show who is logged in and which guilds they
 * administer; the API checks the token on every admin request.
 */

const KEY = 'synapse.session';

export interface Claims {
  sub: string;
  name?: string;
  avatar?: string | null;
  guilds?: string[];
  exp?: number;
}

/** Decode a JWT payload (no verification: display only). Null when it is not a JWT. */
export function decodeClaims(token: string): Claims | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (part.length % 4)) % 4);
    const json = decodeURIComponent(
      Array.from(atob(b64), (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join('')
    );
    return JSON.parse(json) as Claims;
  } catch {
    return null;
  }
}

/** Whether claims are still valid at `nowSeconds` (a minute of slack for clock skew). */
export function isLive(claims: Claims | null, nowSeconds: number): boolean {
  return !!claims && (claims.exp === undefined || claims.exp > nowSeconds + 60);
}

class Session {
  token = $state<string | null>(null);
  claims = $derived(this.token ? decodeClaims(this.token) : null);

  constructor() {
    if (typeof localStorage !== 'undefined') {
      const saved = localStorage.getItem(KEY);
      if (saved && isLive(decodeClaims(saved), Date.now() / 1000)) this.token = saved;
      else if (saved) localStorage.removeItem(KEY);
    }
  }

  set(token: string) {
    this.token = token;
    try { localStorage.setItem(KEY, token); } catch { /* private mode: session lasts the tab */ }
  }

  clear() {
    this.token = null;
    try { localStorage.removeItem(KEY); } catch { /* ignore */ }
  }

  get loggedIn(): boolean {
    return isLive(this.claims, Date.now() / 1000);
  }

  isAdminOf(guildId: string): boolean {
    return this.loggedIn && (this.claims?.guilds ?? []).includes(guildId);
  }
}

export const session = new Session();
