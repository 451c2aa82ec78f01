#!/usr/bin/env bash
# Create (or reuse) Python venvs holding real MLflow, the reference for every format question.
#
# Usage: scripts/mlflow-venv.sh [VERSION...]        (default: 3.17.2 2.22.5)
#
# Venvs live in ${MLSCOPE_CACHE:-$HOME/.cache/mlscope}/venv-mlflow-<VERSION>. Idempotent: an
# existing venv whose MLflow version matches is reused untouched. Prints, one per line, the
# python executable of each venv (stdout); progress goes to stderr.
#   3.17.2  mlflow==3.17.2        + pillow matplotlib pandas
#   2.22.5  mlflow-skinny==2.22.5 + pillow pandas matplotlib, plus 'sqlalchemy>=1.4,<2.1' and
#           'alembic<2,!=1.10.0': mlflow-skinny lacks the SQL store's dependencies, and MLflow 2.22
#           does not import with SQLAlchemy 2.1 (FallbackAsyncAdaptedQueuePool was removed).
# Any other 2.x version is treated like 2.22.5, any other version like 3.17.2.
# A venv is reused when MLflow has the requested version and every extra module imports.
# Env: MLSCOPE_PYTHON (default python3) is the interpreter used to create the venvs.
set -euo pipefail

CACHE="${MLSCOPE_CACHE:-$HOME/.cache/mlscope}"
BASE_PY="${MLSCOPE_PYTHON:-python3}"
if [ "$#" -eq 0 ]; then
    set -- 3.17.2 2.22.5
fi
mkdir -p "$CACHE"

installed_version() {
    "$1" -c 'import importlib.metadata as m
for d in ("mlflow", "mlflow-skinny"):
    try:
        print(m.version(d)); break
    except m.PackageNotFoundError:
        pass' 2>/dev/null || true
}

for version in "$@"; do
    venv="$CACHE/venv-mlflow-$version"
    py="$venv/bin/python"
    case "$version" in
        2.*)
            pkgs=("mlflow-skinny==$version" pillow pandas matplotlib 'sqlalchemy>=1.4,<2.1' 'alembic<2,!=1.10.0')
            mods="PIL, pandas, matplotlib, sqlalchemy, alembic"
            ;;
        *)
            pkgs=("mlflow==$version" pillow matplotlib pandas)
            mods="PIL, pandas, matplotlib, sqlalchemy, alembic"
            ;;
    esac
    have="$( [ -x "$py" ] && installed_version "$py" || true)"
    extras_ok=no
    if [ -x "$py" ] && "$py" -c "import $mods; from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore" >/dev/null 2>&1; then
        extras_ok=yes
    fi
    if [ "$have" != "$version" ] || [ "$extras_ok" != yes ]; then
        echo "mlflow-venv: installing ${pkgs[*]} into $venv (found: ${have:-nothing})" >&2
        if [ ! -x "$py" ]; then
            "$BASE_PY" -m venv "$venv"
        fi
        "$py" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
        "$py" -m pip install --quiet --disable-pip-version-check "${pkgs[@]}" >&2
        have="$(installed_version "$py")"
    fi
    # The import itself must work, not only the metadata.
    real="$("$py" -c 'import mlflow; print(mlflow.__version__)' 2>/dev/null || true)"
    if [ "$have" != "$version" ] || [ "$real" != "$version" ]; then
        echo "mlflow-venv: ERROR: $venv holds MLflow '${real:-<import failed>}' (metadata '${have}'), expected $version" >&2
        exit 1
    fi
    echo "mlflow-venv: $venv ok (mlflow $real)" >&2
    echo "$py"
done
