#!/usr/bin/env bash
# The main job, embedded (no servers): `rma demo` processes returns end to end in one process and prints a summary.
# Arguments are passed on, e.g. `bash scripts/run.sh --returns 1000 --json`.
set -euo pipefail
cd "$(dirname "$0")/.."
unset PYTHONDONTWRITEBYTECODE
bash scripts/setup.sh
exec uv run --locked rma demo "$@"
