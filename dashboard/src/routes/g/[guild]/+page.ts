import { api, maybe } from '$lib/api/client';
import type { PageLoad } from './$types';

// Not awaiting the layout's guild info: all four requests start together (one round trip to
// first paint). An endpoint of a disabled module answers 404, which `maybe` turns into null.
export const load: PageLoad = async ({ params }) => {
  const path = { guild_id: params.guild };
  const [overview, series, ticker] = await Promise.all([
    maybe(api.GET('/api/guilds/{guild_id}/overview', { params: { path } })),
    maybe(api.GET('/api/guilds/{guild_id}/activity', { params: { path, query: { bucket: 'day' } } })),
    maybe(api.GET('/api/guilds/{guild_id}/announcements', { params: { path, query: { limit: 10 } } }))
  ]);
  return { overview, series, ticker };
};
