# Sourced by the scripts in this folder: find or install uv, then install the project with
# every extra (the TUI, the embedded server, Django, ...): the demo and the tests need them.
# shellcheck shell=bash
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/_uv.sh
# Bytecode compiled at install, as pip does: uv leaves it to the first import, and where
# PYTHONDONTWRITEBYTECODE is set (containers often set it) every process would compile its
# imports again (a worker's start took 0.8 s instead of 0.35 s here).
"${UV[@]}" sync --locked --all-extras --quiet --compile-bytecode
# The project's own modules as well (an editable install is not in site-packages).
"${UV[@]}" run --no-sync python -m compileall -q fairque fairque_tui >/dev/null
