#!/bin/sh
# azd postprovision hook: the api identity's database role + migrations
# (infra/hooks/db_setup.py). Idempotent; runs after every provision.
set -eu
cd "$(dirname "$0")/../.."
exec uv run --frozen python infra/hooks/db_setup.py
