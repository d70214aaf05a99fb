import { describe, expect, it } from 'vitest';
import { collect, CursorPager, type Page } from './paging';

/** A fake API over 0..n-1 with opaque cursors, `size` items per page. */
function fakeApi(n: number, size: number) {
  const calls: (string | null)[] = [];
  const fetchPage = async (cursor: string | null): Promise<Page<number>> => {
    calls.push(cursor);
    const start = cursor ? Number(atob(cursor)) : 0;
    const items = Array.from({ length: Math.max(0, Math.min(size, n - start)) }, (_, i) => start + i);
    const next = start + size < n ? btoa(String(start + size)) : null;
    return { items, next_cursor: next };
  };
  return { fetchPage, calls };
}

describe('CursorPager', () => {
  it('walks forward with the cursor and back with its stack', async () => {
    const api = fakeApi(7, 3);
    const pager = new CursorPager(api.fetchPage);
    expect(await pager.first()).toEqual([0, 1, 2]);
    expect(pager.hasPrev).toBe(false);
    expect(pager.hasNext).toBe(true);
    expect(await pager.next()).toEqual([3, 4, 5]);
    expect(await pager.next()).toEqual([6]);
    expect(pager.hasNext).toBe(false);
    expect(pager.pageIndex).toBe(2);
    expect(await pager.next()).toEqual([6]); // no-op at the end
    expect(await pager.prev()).toEqual([3, 4, 5]);
    expect(await pager.prev()).toEqual([0, 1, 2]);
    expect(await pager.prev()).toEqual([0, 1, 2]);
    expect(pager.pageIndex).toBe(0);
  });

  it('resets its history on first()', async () => {
    const pager = new CursorPager(fakeApi(10, 2).fetchPage);
    await pager.first();
    await pager.next();
    await pager.first();
    expect(pager.pageIndex).toBe(0);
    expect(pager.items).toEqual([0, 1]);
  });
});

describe('collect', () => {
  it('follows cursors up to a limit and stops at the last page', async () => {
    const api = fakeApi(10, 3);
    expect(await collect(api.fetchPage, 5)).toEqual([0, 1, 2, 3, 4]);
    expect(await collect(fakeApi(4, 3).fetchPage)).toEqual([0, 1, 2, 3]);
  });

  it('treats a missing next_cursor as the end', async () => {
    expect(await collect(async () => ({ items: [1] }))).toEqual([1]);
  });
});
