#!/usr/bin/env bash
# Regenerate requirements.txt (what the Azure Functions deployment installs) from uv.lock.
# A test fails when the committed file drifts from the lock: run this after `uv add`/`uv lock`.
set -euo pipefail
cd "$(dirname "$0")/.."
uv export --frozen --no-dev --no-group local --no-group worker --no-emit-project --no-hashes --no-header \
  --format requirements-txt -o requirements.txt >/dev/null
echo "requirements.txt regenerated from uv.lock"
