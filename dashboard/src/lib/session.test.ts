import { describe, expect, it } from 'vitest';
import { decodeClaims, isLive } from './session.svelte';

function jwt(claims: object): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}.signature`;
}

describe('session claims', () => {
  it('decodes a JWT payload, names included (UTF-8, base64url)', () => {
    const c = decodeClaims(jwt({ sub: '1', name: 'Zoë ✨', guilds: ['42'], exp: 2_000_000_000 }));
    expect(c).toEqual({ sub: '1', name: 'Zoë ✨', guilds: ['42'], exp: 2_000_000_000 });
  });

  it('rejects what is not a JWT', () => {
    expect(decodeClaims('nope')).toBeNull();
    expect(decodeClaims('a.%%%.c')).toBeNull();
  });

  it('treats a token as expired a minute early', () => {
    expect(isLive({ sub: '1', exp: 1000 }, 900)).toBe(true);
    expect(isLive({ sub: '1', exp: 1000 }, 950)).toBe(false);
    expect(isLive(null, 0)).toBe(false);
  });
});
