import { error } from '@sveltejs/kit';
import { api, maybe } from '$lib/api/client';
import type { PageLoad } from './$types';

const PERIODS = ['all', 'week', 'month', 'season'] as const;
type Period = (typeof PERIODS)[number];

export const load: PageLoad = async ({ params, parent, url }) => {
  const { guild } = await parent();
  if (!guild.modules.economy) error(404, { title: 'This page is turned off', message: 'The economy module is off in this server.' });
  const currencies = guild.currencies;
  const currency = url.searchParams.get('currency') ?? currencies[0]?.key ?? 'xp';
  const seasonParam = url.searchParams.get('season');
  const seasons = guild.modules.seasons
    ? ((await maybe(api.GET('/api/guilds/{guild_id}/seasons', { params: { path: { guild_id: params.guild } } }))) ?? [])
    : [];
  const periodParam = url.searchParams.get('period');
  const period: Period = PERIODS.includes(periodParam as Period) ? (periodParam as Period) : 'all';
  const season = seasonParam && /^\d+$/.test(seasonParam) ? Number(seasonParam) : null;
  // A past season's board has no period (the API refuses both): the period wins, as the selector shows it.
  return { currency, season: period === 'all' ? season : null, period, seasons, q: url.searchParams.get('q') ?? '' };
};
