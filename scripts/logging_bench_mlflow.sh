#!/usr/bin/env bash
# MLflow's side of benches/logging.rs, on this machine: single log_metric calls/s and a
# 10,000-metric log_batch, for the file and SQLite stores (real MLflow 3.17.2).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="$(scripts/mlflow-venv.sh 3.17.2)"
TOOL="$(pwd)/scripts/mlflow_perf_anchors.py"
for backend in file sqlite; do
    work="$(mktemp -d)"
    MLFLOW_ALLOW_FILE_STORE=true "$PY" "$TOOL" logging --backend "$backend" --workdir "$work" "$@"
    rm -rf "$work"
done
