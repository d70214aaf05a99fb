import { api, need } from '$lib/api/client';
import { loadDirectory } from '$lib/directory';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ params, parent }) => {
  await parent();
  const [settings, directory] = await Promise.all([
    need(api.GET('/api/guilds/{guild_id}/admin/settings', { params: { path: { guild_id: params.guild } } })),
    loadDirectory(params.guild)
  ]);
  return { settings, directory };
};
