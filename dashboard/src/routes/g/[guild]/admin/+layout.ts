import { error } from '@sveltejs/kit';
import { session } from '$lib/session.svelte';
import type { LayoutLoad } from './$types';

// Admin pages need a session that administers this guild; the API enforces it again on every call.
export const load: LayoutLoad = async ({ params, parent }) => {
  await parent();
  if (!session.loggedIn) error(401, { title: 'Admins only', message: 'Log in with Discord to manage this server.' });
  if (!session.isAdminOf(params.guild))
    error(403, { title: 'Admins only', message: 'You are logged in, but you do not administer this server.' });
  return {};
};
