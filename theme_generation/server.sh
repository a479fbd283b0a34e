#!/usr/bin/env bash
# Start theme_generation under gunicorn, as in the operations guide:
#   cd theme_generation && pm2 start server.sh --name theme_generation_server
# Uses the active conda env's python when one is active, else the repository's .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CONDA_PREFIX:-}" ] && [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python; fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
exec "$PYTHON" -m theme_generation
