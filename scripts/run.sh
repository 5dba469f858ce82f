#!/usr/bin/env bash
# The main job, embedded (no servers): evaluate the shipped sample return request against the shipped policy.
# Extra arguments are passed on, e.g. `bash scripts/run.sh --today 2026-12-01`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec uv run --locked rma policy evaluate examples/return_request.json --today 2026-10-20 "$@"
