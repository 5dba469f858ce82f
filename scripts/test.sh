#!/usr/bin/env bash
# The whole test command: install, check the services, lint, type-check, run every test with coverage.
set -euo pipefail
cd "$(dirname "$0")/.."
# Keep compiled bytecode: the CLI and worker tests start many Python processes.
unset PYTHONDONTWRITEBYTECODE
bash scripts/setup.sh

echo "== services"
uv run --locked python scripts/check_services.py
echo "== ruff"
uv run --locked ruff check src tests scripts workers
uv run --locked ruff format --check src tests scripts workers
echo "== mypy --strict"
uv run --locked mypy
echo "== pytest (the 15 slowest tests are listed at the end)"
uv run --locked coverage erase
uv run --locked pytest --cov=rma --cov-report= --durations=15 "$@"

# A coverage table cut short: its column headers, the KEEP least-covered modules (it is sorted by cover), then its
# total and notes. awk reads the whole table: a `head` would close the pipe early and make coverage fail.
least_covered() {
  awk -v keep="$1" '
    NR <= 2 { print; next }
    /^-+$/ && !total { if (rows > keep) printf "... %d more, better covered\n", rows - keep; total = 1 }
    total { print; next }
    ++rows <= keep { print }'
}
echo "== coverage (whole package: the 25 least-covered modules, then the domain core, which must stay >= 95%)"
uv run --locked coverage report --skip-covered --sort=cover | least_covered 25
uv run --locked coverage report --include='*/rma/domain/*' --skip-covered --sort=cover --fail-under=95 | least_covered 25
