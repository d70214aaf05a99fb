/**
 * Cursor paging: the API returns `{items, next_cursor}`; the UI walks forward with the cursor and
 * back with a stack of the cursors it came from (cursors are opaque and forward-only).
 */

export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

export class CursorPager<T> {
  /** Cursors that produced each page seen so far; index 0 is the first page (no cursor). */
  private stack: (string | null)[] = [null];
  private nextCursor: string | null = null;
  items: T[] = [];

  constructor(private readonly fetchPage: (cursor: string | null) => Promise<Page<T>>) {}

  get pageIndex(): number {
    return this.stack.length - 1;
  }
  get hasNext(): boolean {
    return this.nextCursor !== null;
  }
  get hasPrev(): boolean {
    return this.stack.length > 1;
  }

  private async load(cursor: string | null): Promise<T[]> {
    const page = await this.fetchPage(cursor);
    this.items = page.items;
    this.nextCursor = page.next_cursor ?? null;
    return this.items;
  }

  /** Load the first page (resets the history, e.g. after a filter changes). */
  async first(): Promise<T[]> {
    this.stack = [null];
    return this.load(null);
  }

  async next(): Promise<T[]> {
    if (this.nextCursor === null) return this.items;
    const cursor = this.nextCursor;
    const items = await this.load(cursor);
    this.stack.push(cursor);
    return items;
  }

  async prev(): Promise<T[]> {
    if (this.stack.length <= 1) return this.items;
    this.stack.pop();
    return this.load(this.stack[this.stack.length - 1]);
  }
}

/** Follow cursors until `limit` items are gathered or the pages end. */
export async function collect<T>(
  fetchPage: (cursor: string | null) => Promise<Page<T>>,
  limit = Infinity,
  maxPages = 50
): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < maxPages && out.length < limit; i++) {
    const page: Page<T> = await fetchPage(cursor);
    out.push(...page.items);
    cursor = page.next_cursor ?? null;
    if (cursor === null) break;
  }
  return out.slice(0, limit);
}
