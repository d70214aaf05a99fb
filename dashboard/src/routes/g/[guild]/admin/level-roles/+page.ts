import { api, need } from '$lib/api/client';
import { loadDirectory } from '$lib/directory';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ params, parent }) => {
  await parent();
  const path = { guild_id: params.guild };
  const [table, directory] = await Promise.all([
    need(api.GET('/api/guilds/{guild_id}/admin/level-roles', { params: { path } })),
    loadDirectory(params.guild)
  ]);
  return { table, directory };
};
