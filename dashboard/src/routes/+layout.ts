// A single-page app: the static build serves index.html for every path; data comes from /api.
export const ssr = false;
export const prerender = false;
export const trailingSlash = 'ignore';
