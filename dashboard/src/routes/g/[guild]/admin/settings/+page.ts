import { api, need } from '$lib/api/client';
import { loadDirectory } from '$lib/directory';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ params, parent }) => {
  await parent();
  const path = { guild_id: params.guild };
  const [settings, directory, placeholders] = await Promise.all([
    need(api.GET('/api/guilds/{guild_id}/admin/settings', { params: { path } })),
    loadDirectory(params.guild),
    need(api.GET('/api/guilds/{guild_id}/admin/settings/placeholders', { params: { path } }))
  ]);
  return { settings, directory, placeholders };
};
