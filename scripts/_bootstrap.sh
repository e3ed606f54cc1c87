# Sourced by the scripts in this folder: find or install uv, then install the project.
# shellcheck shell=bash
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if command -v uv >/dev/null 2>&1; then
  UV=(uv)
elif python3 -m uv --version >/dev/null 2>&1; then
  UV=(python3 -m uv)
else
  echo "uv not found: installing it with pip" >&2
  python3 -m pip install --quiet uv
  UV=(python3 -m uv)
fi
"${UV[@]}" sync --locked --quiet
