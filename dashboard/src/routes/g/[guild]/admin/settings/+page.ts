import { api, need } from '$lib/api/client';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ params, parent }) => {
  await parent();
  return { settings: await need(api.GET('/api/guilds/{guild_id}/admin/settings', { params: { path: { guild_id: params.guild } } })) };
};
