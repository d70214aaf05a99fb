#!/bin/sh
# dashboard prepackage hook (runs in dashboard/): build the static site with the
# API's origin baked in. SERVICE_API_URI is an output of infra/main.bicep, so
# it is known from the first provision on; before that the build falls back to
# same-origin /api and a second `azd up` (or `azd deploy dashboard`) fixes it.
set -eu
if [ -n "${SERVICE_API_URI:-}" ]; then
  printf 'PUBLIC_SYNAPSE_API_BASE=%s\n' "$SERVICE_API_URI" > .env.production.local
  echo "build-dashboard: API at $SERVICE_API_URI"
else
  rm -f .env.production.local
  echo "build-dashboard: API not provisioned yet; run 'azd deploy dashboard' after provisioning" >&2
fi
npm ci
npm run build
test -f build/index.html || { echo "build-dashboard: build/index.html missing" >&2; exit 1; }
