import { error } from '@sveltejs/kit';
import { api, need } from '$lib/api/client';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ params, parent }) => {
  const { guild } = await parent();
  if (!guild.modules.economy) error(404, { title: 'This page is turned off', message: 'The economy module is off in this server.' });
  return { batches: await need(api.GET('/api/guilds/{guild_id}/admin/imports', { params: { path: { guild_id: params.guild } } })) };
};
