import { error } from '@sveltejs/kit';
import { api, need } from '$lib/api/client';
import { loadDirectory } from '$lib/directory';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ params, parent }) => {
  await parent();
  const guild_id = params.guild;
  const isNew = params.rule === 'new';
  if (!isNew && !/^\d+$/.test(params.rule)) error(404, { message: 'No such rule.' });
  const [schema, rule, currencies, directory] = await Promise.all([
    need(api.GET('/api/guilds/{guild_id}/admin/rules/schema', { params: { path: { guild_id } } })),
    isNew ? null : need(api.GET('/api/guilds/{guild_id}/admin/rules/{rule_id}', { params: { path: { guild_id, rule_id: Number(params.rule) } } })),
    need(api.GET('/api/guilds/{guild_id}/admin/currencies', { params: { path: { guild_id } } })),
    loadDirectory(guild_id)
  ]);
  return { schema, rule, currencies, directory };
};
