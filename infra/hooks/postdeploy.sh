#!/bin/sh
# azd postdeploy hook (after `azd deploy` and `azd up`): install the slash commands globally, so
# nobody runs a CLI step by hand. Idempotent: Discord's bulk overwrite replaces the set with the
# same set. azd passes its environment's values (DISCORD_APPLICATION_ID, DISCORD_BOT_TOKEN) as
# variables. Servers set themselves up when the bot is invited (docs/deploy.md §4).
set -eu
cd "$(dirname "$0")/../.."
[ -n "${DISCORD_APPLICATION_ID:-}" ] || { echo "postdeploy: DISCORD_APPLICATION_ID is not set: azd env set DISCORD_APPLICATION_ID <id>" >&2; exit 1; }
[ -n "${DISCORD_BOT_TOKEN:-}" ] || { echo "postdeploy: DISCORD_BOT_TOKEN is not set: azd env set DISCORD_BOT_TOKEN <token>" >&2; exit 1; }
exec uv run --frozen synapse register-commands
