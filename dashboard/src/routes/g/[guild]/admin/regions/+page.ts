import { api, need } from '$lib/api/client';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ params, parent }) => {
  await parent();
  const path = { guild_id: params.guild };
  const [regions, taxonomy] = await Promise.all([
    need(api.GET('/api/guilds/{guild_id}/admin/regions', { params: { path } })),
    need(api.GET('/api/guilds/{guild_id}/admin/taxonomy', { params: { path } }))
  ]);
  return { regions, taxonomy };
};
