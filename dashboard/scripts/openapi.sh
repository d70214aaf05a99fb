#!/bin/sh
# Regenerate the API types from the HTTP app's OpenAPI document, offline (no server needed).
# Run after an API change; commit both generated files. `npm run check`/`build` then fail
# wherever the dashboard no longer matches the API.
set -eu
cd "$(dirname "$0")/.."
PY="${SYNAPSE_PYTHON:-$(pwd)/../.venv/bin/python}"
(cd .. && env -u SYNAPSE_TEST_LOGIN "$PY" -c "import json; from synapse.api.app import create_app; print(json.dumps(create_app().openapi(), indent=1, sort_keys=True))") > src/lib/api/openapi.json
npx openapi-typescript src/lib/api/openapi.json -o src/lib/api/schema.d.ts
# The rule JSON Schema (the editor fetches it live; unit tests check the validator against it).
(cd .. && "$PY" -c "import json; from synapse.rules.model import rules_schema; print(json.dumps(rules_schema(), indent=1, sort_keys=True))") > src/lib/api/rule-schema.json
