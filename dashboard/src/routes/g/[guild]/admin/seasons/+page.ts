import { error } from '@sveltejs/kit';
import { api, need } from '$lib/api/client';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ params, parent }) => {
  const { guild } = await parent();
  if (!guild.modules.seasons) error(404, { title: 'Seasons are off', message: 'Turn the seasons module on under Modules first.' });
  return { seasons: await need(api.GET('/api/guilds/{guild_id}/seasons', { params: { path: { guild_id: params.guild } } })) };
};
