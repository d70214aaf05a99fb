#!/bin/sh
# azd preprovision hook: check the tools, record who deploys (the database's
# Entra administrator), generate the two Synapse keys once, and make sure the
# Discord values are set. azd passes its environment's values as variables.
set -eu

fail() { echo "preprovision: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || fail "'$1' is required: $2"; }

need az "the Azure CLI (postprovision gets a PostgreSQL token with it); then run 'az login'"
need uv "runs the database migrations (https://docs.astral.sh/uv/)"
need openssl "generates the JWT and fingerprint keys"

az account show >/dev/null 2>&1 || fail "the Azure CLI is not signed in: run 'az login' (same account as 'azd auth login')"

# Who becomes the PostgreSQL Entra administrator: the principal azd runs as.
type="${AZURE_PRINCIPAL_TYPE:-User}"
if [ -z "${AZURE_PRINCIPAL_NAME:-}" ]; then
  if [ "$type" = "User" ]; then
    name=$(az ad signed-in-user show --query userPrincipalName -o tsv)
    oid=$(az ad signed-in-user show --query id -o tsv)
    if [ -n "${AZURE_PRINCIPAL_ID:-}" ] && [ "$oid" != "$AZURE_PRINCIPAL_ID" ]; then
      fail "az is signed in as $name ($oid) but azd as $AZURE_PRINCIPAL_ID: sign both in as the same account"
    fi
  else
    name=$(az ad sp show --id "${AZURE_PRINCIPAL_ID:?}" --query displayName -o tsv) \
      || fail "set AZURE_PRINCIPAL_NAME to the service principal's display name (azd env set AZURE_PRINCIPAL_NAME ...)"
  fi
  azd env set AZURE_PRINCIPAL_NAME "$name"
  echo "preprovision: PostgreSQL Entra administrator will be $name"
fi

# Keys only Synapse uses: generated once, then kept in the azd environment
# (.azure/<env>/.env, git-ignored) and in Key Vault.
if [ -z "${SYNAPSE_JWT_SECRET:-}" ]; then
  azd env set SYNAPSE_JWT_SECRET "$(openssl rand -hex 32)"
  echo "preprovision: generated SYNAPSE_JWT_SECRET"
fi
if [ -z "${SYNAPSE_FINGERPRINT_KEY:-}" ]; then
  azd env set SYNAPSE_FINGERPRINT_KEY "$(openssl rand -hex 32)"
  echo "preprovision: generated SYNAPSE_FINGERPRINT_KEY"
fi

# Keep the relay's deployed image across provisions. azd records it after a
# deploy, but a fresh checkout (CI) does not have it; without it the template
# would put the placeholder image back until the next deploy.
if [ -z "${SERVICE_RELAY_IMAGE_NAME:-}" ] && [ -n "${SERVICE_RELAY_NAME:-}" ] && [ -n "${AZURE_RESOURCE_GROUP:-}" ]; then
  image=$(az containerapp show -g "$AZURE_RESOURCE_GROUP" -n "$SERVICE_RELAY_NAME" \
    --query 'properties.template.containers[0].image' -o tsv 2>/dev/null || true)
  case "$image" in
    ""|mcr.microsoft.com/azuredocs/*) ;;
    *) azd env set SERVICE_RELAY_IMAGE_NAME "$image"; echo "preprovision: keeping relay image $image" ;;
  esac
fi

# Values only the Discord developer portal can give (docs/deploy.md, step 2).
missing=""
for var in DISCORD_APPLICATION_ID DISCORD_PUBLIC_KEY DISCORD_BOT_TOKEN DISCORD_CLIENT_SECRET; do
  eval "value=\${$var:-}"
  [ -n "$value" ] || missing="$missing $var"
done
[ -z "$missing" ] || fail "set these first with 'azd env set NAME VALUE' (Discord developer portal):$missing"
