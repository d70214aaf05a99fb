import { invalidateAll } from '$app/navigation';

/**
 * Reload the page's data until `done()` holds (at most ~2 s). After a write, the API can answer
 * before its transaction is visible to the next read, so one reload may still see the old state.
 */
export async function invalidateUntil(done: () => boolean, tries = 10): Promise<void> {
  for (let i = 0; i < tries; i++) {
    await invalidateAll();
    if (done()) return;
    await new Promise((ok) => setTimeout(ok, 200));
  }
}
