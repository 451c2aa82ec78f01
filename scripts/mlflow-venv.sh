#!/usr/bin/env bash
# Create (or reuse) Python venvs holding real MLflow, the reference for every format question.
#
# Usage: scripts/mlflow-venv.sh [VERSION...]        (default: 3.17.2 2.22.5)
#
# Venvs live in ${MLSCOPE_CACHE:-$HOME/.cache/mlscope}/venv-mlflow-<VERSION>. Idempotent: a venv
# that imports MLflow <VERSION> and the modules below is reused untouched; otherwise the packages
# are (re)installed into it and checked again. Prints, one per line, the python executable of
# each venv (stdout); progress goes to stderr.
#   3.17.2  mlflow==3.17.2        + pillow matplotlib pandas
#   2.22.5  mlflow-skinny==2.22.5 + pillow pandas matplotlib, plus 'sqlalchemy>=1.4,<2.1' and
#           'alembic<2,!=1.10.0': mlflow-skinny lacks the SQL store's dependencies, and MLflow 2.22
#           does not import with SQLAlchemy 2.1 (FallbackAsyncAdaptedQueuePool was removed).
# Any other 2.x version is treated like 2.22.5, any other version like 3.17.2.
# Env: MLSCOPE_PYTHON (default python3) is the interpreter used to create the venvs.
set -euo pipefail

CACHE="${MLSCOPE_CACHE:-$HOME/.cache/mlscope}"
BASE_PY="${MLSCOPE_PYTHON:-python3}"
if [ "$#" -eq 0 ]; then
    set -- 3.17.2 2.22.5
fi
mkdir -p "$CACHE"

# Prints mlflow.__version__ if MLflow and every module the project's scripts use import.
check_venv() {
    [ -x "$1" ] || return 0
    "$1" -c 'import PIL, pandas, matplotlib, sqlalchemy, alembic
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
import mlflow
print(mlflow.__version__)' 2>/dev/null || true
}

for version in "$@"; do
    venv="$CACHE/venv-mlflow-$version"
    py="$venv/bin/python"
    case "$version" in
        2.*) pkgs=("mlflow-skinny==$version" pillow pandas matplotlib 'sqlalchemy>=1.4,<2.1' 'alembic<2,!=1.10.0') ;;
        *) pkgs=("mlflow==$version" pillow matplotlib pandas) ;;
    esac
    have="$(check_venv "$py")"
    if [ "$have" != "$version" ]; then
        echo "mlflow-venv: installing ${pkgs[*]} into $venv (found: ${have:-no working MLflow})" >&2
        if [ ! -x "$py" ]; then
            "$BASE_PY" -m venv "$venv"
        fi
        "$py" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
        "$py" -m pip install --quiet --disable-pip-version-check "${pkgs[@]}" >&2
        have="$(check_venv "$py")"
    fi
    if [ "$have" != "$version" ]; then
        echo "mlflow-venv: ERROR: $venv does not import MLflow $version with its SQL store (found: '${have}')" >&2
        exit 1
    fi
    echo "mlflow-venv: $venv ok (mlflow $have)" >&2
    echo "$py"
done
