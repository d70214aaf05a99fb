import { api, need } from '$lib/api/client';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ params }) => {
  const profile = await need(api.GET('/api/guilds/{guild_id}/members/{user_id}', {
    params: { path: { guild_id: params.guild, user_id: params.user } }
  }));
  return { profile };
};
