import { api, need } from '$lib/api/client';
import type { LayoutLoad } from './$types';

export const load: LayoutLoad = async ({ params }) => {
  const guild = await need(api.GET('/api/guilds/{guild_id}', { params: { path: { guild_id: params.guild } } }));
  try { localStorage.setItem('synapse.guild', params.guild); } catch { /* ignore */ }
  return { guild };
};
