import { error } from '@sveltejs/kit';
import { api, need } from '$lib/api/client';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ params, parent }) => {
  const { guild } = await parent();
  if (!guild.modules.milestones) error(404, { title: 'This page is turned off', message: 'The milestones module is off in this server.' });
  const milestones = await need(api.GET('/api/guilds/{guild_id}/milestones', { params: { path: { guild_id: params.guild } } }));
  return { milestones };
};
