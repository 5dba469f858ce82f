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
echo "== pytest"
uv run --locked coverage erase
uv run --locked pytest --cov=rma --cov-report= "$@"
echo "== coverage (whole package, then the domain core, which must stay >= 95%)"
uv run --locked coverage report --skip-covered --sort=cover | tail -n 25
uv run --locked coverage report --include='*/rma/domain/*' --fail-under=95 | tail -n 3
