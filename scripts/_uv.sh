# Sourced: UV=(the uv command), installing uv with pip when it is missing.
# shellcheck shell=bash
if command -v uv >/dev/null 2>&1; then
  UV=(uv)
elif python3 -m uv --version >/dev/null 2>&1; then
  UV=(python3 -m uv)
else
  echo "uv not found: installing it with pip" >&2
  python3 -m pip install --quiet uv
  UV=(python3 -m uv)
fi
