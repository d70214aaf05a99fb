import { api, maybe } from '$lib/api/client';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ params, parent }) => {
  const { guild } = await parent();
  const path = { guild_id: params.guild };
  const analytics = guild.modules.analytics === true;
  const [overview, series, ticker] = await Promise.all([
    analytics ? maybe(api.GET('/api/guilds/{guild_id}/overview', { params: { path } })) : null,
    analytics ? maybe(api.GET('/api/guilds/{guild_id}/activity', { params: { path, query: { bucket: 'day' } } })) : null,
    guild.modules.announcements ? maybe(api.GET('/api/guilds/{guild_id}/announcements', { params: { path, query: { limit: 10 } } })) : null
  ]);
  return { overview, series, ticker };
};
