#!/usr/bin/env bash
# Install the pinned toolchain (uv) and the project's locked dependencies into .venv. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION="0.13.9"
if ! command -v uv >/dev/null 2>&1 || [[ "$(uv --version | awk '{print $2}')" != "$UV_VERSION" ]]; then
    python3 -m pip install --quiet --disable-pip-version-check "uv==${UV_VERSION}"
fi
# --locked: fail if uv.lock does not match pyproject.toml, so CI installs exactly the versions we tested.
uv sync --locked --quiet --compile-bytecode
