import { error } from '@sveltejs/kit';
import { api, need } from '$lib/api/client';
import { rangeStart, RANGES, type RangeKey } from '$lib/ranges';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ params, parent, url }) => {
  const { guild } = await parent();
  if (!guild.modules.analytics) error(404, { title: 'This page is turned off', message: 'The analytics module is off in this server.' });
  const range = (url.searchParams.get('range') ?? '30d') as RangeKey;
  const key: RangeKey = range in RANGES ? range : '30d';
  const bucket = RANGES[key].bucket;
  const end = new Date();
  const start = rangeStart(key, end);
  const path = { guild_id: params.guild };
  const [series, heatmap, retention] = await Promise.all([
    need(api.GET('/api/guilds/{guild_id}/activity', { params: { path, query: { bucket, start: start.toISOString(), end: end.toISOString() } } })),
    need(api.GET('/api/guilds/{guild_id}/heatmap', { params: { path } })),
    need(api.GET('/api/guilds/{guild_id}/retention', { params: { path, query: { weeks: 8 } } }))
  ]);
  return { range: key, series, heatmap, retention };
};
