#!/bin/sh
# dashboard prepackage hook (runs in dashboard/): build the static site for
# Static Web Apps.
#
# The API lives on the Function App's own host name, so its origin is baked in
# at build time as PUBLIC_SYNAPSE_API_BASE (empty: same origin, as with the local
# runner). SERVICE_API_URI is an output of infra/main.bicep: known from the first
# provision on. `azd up` packages before it provisions, so on the very first run
# it is empty and the second `azd up` (docs/deploy.md) fixes it.
set -eu
printf 'PUBLIC_SYNAPSE_API_BASE=%s\n' "${SERVICE_API_URI:-}" > .env.production.local
if [ -n "${SERVICE_API_URI:-}" ]; then
  echo "build-dashboard: API at $SERVICE_API_URI"
else
  echo "build-dashboard: API not provisioned yet; run 'azd up' again after this one" >&2
fi
npm ci
npm run build
test -f build/index.html || { echo "build-dashboard: build/index.html missing" >&2; exit 1; }

# The dashboard is a single-page app: deep links (/guild/123/rules) must serve
# index.html. Static Web Apps needs this file for it, unless the app ships its own.
if [ ! -f build/staticwebapp.config.json ]; then
  cat > build/staticwebapp.config.json <<'JSON'
{
  "navigationFallback": {
    "rewrite": "/index.html",
    "exclude": ["/_app/*", "/favicon.*", "/*.{png,svg,ico,txt,webmanifest}"]
  },
  "globalHeaders": {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer"
  }
}
JSON
fi
