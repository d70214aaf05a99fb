import { api, need } from '$lib/api/client';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ params, parent }) => {
  await parent();
  const member = await need(api.GET('/api/guilds/{guild_id}/admin/members/{user_id}', {
    params: { path: { guild_id: params.guild, user_id: params.user } }
  }));
  return { member };
};
