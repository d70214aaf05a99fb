import { api, need } from '$lib/api/client';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ params, parent }) => {
  await parent();
  const path = { guild_id: params.guild };
  const [tokens, webhooks] = await Promise.all([
    need(api.GET('/api/guilds/{guild_id}/admin/api-tokens', { params: { path } })),
    need(api.GET('/api/guilds/{guild_id}/admin/webhooks', { params: { path } }))
  ]);
  return { tokens, webhooks };
};
