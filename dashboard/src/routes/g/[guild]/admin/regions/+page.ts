import { api, need } from '$lib/api/client';
import { loadDirectory } from '$lib/directory';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ params, parent }) => {
  await parent();
  const path = { guild_id: params.guild };
  const [regions, taxonomy, directory] = await Promise.all([
    need(api.GET('/api/guilds/{guild_id}/admin/regions', { params: { path } })),
    need(api.GET('/api/guilds/{guild_id}/admin/taxonomy', { params: { path } })),
    loadDirectory(params.guild)
  ]);
  return { regions, taxonomy, directory };
};
