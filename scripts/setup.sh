#!/usr/bin/env bash
# Shared by scripts/dev and scripts/test: install everything Synapse needs from the registries.
# Idempotent and quiet when there is nothing to do.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

pick_python() {
  # Azure Functions runs Python 3.12: prefer it; fall back to the default python3 (3.11 works too).
  local candidates=()
  if command -v pyenv >/dev/null 2>&1; then
    candidates+=("$(pyenv root)"/versions/3.12*/bin/python3.12)
  fi
  candidates+=(python3.12 python3)
  for py in "${candidates[@]}"; do
    if [ -x "$py" ] || command -v "$py" >/dev/null 2>&1; then
      if "$py" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
        echo "$py"; return
      fi
    fi
  done
  echo "error: Python >= 3.11 not found; install it (e.g. pyenv install 3.12)" >&2
  exit 1
}

if ! command -v uv >/dev/null 2>&1; then
  say "installing uv (Python package manager) from PyPI"
  # Into python3's own environment; a distribution's Python refuses that (PEP 668): then per user.
  python3 -m pip install --quiet --disable-pip-version-check uv 2>/dev/null \
    || python3 -m pip install --quiet --disable-pip-version-check --user --break-system-packages uv
  # Where pip put it may not be on PATH yet (pyenv shims need a rehash; --user goes to ~/.local/bin).
  PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["scripts"])'):$HOME/.local/bin:$PATH"
  export PATH
  command -v uv >/dev/null 2>&1 || { echo "error: uv was installed but is not on PATH" >&2; exit 1; }
fi

PYTHON="$(pick_python)"
say "Python environment (.venv, $("$PYTHON" -V 2>&1)) from uv.lock"
uv sync --frozen --quiet --compile-bytecode --python "$PYTHON"

if [ ! -x node_modules/.bin/azurite-queue ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "Azurite (local Azure Storage) and the Discord API spec from npm"
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ -f dashboard/package.json ]; then
  if [ ! -d dashboard/node_modules ] || [ dashboard/package-lock.json -nt dashboard/node_modules/.package-lock.json ]; then
    say "dashboard packages from npm"
    npm ci --prefix dashboard --no-audit --no-fund --loglevel=error
  fi
fi
