import { api, need } from '$lib/api/client';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ params, parent }) => {
  await parent();
  return { currencies: await need(api.GET('/api/guilds/{guild_id}/admin/currencies', { params: { path: { guild_id: params.guild } } })) };
};
