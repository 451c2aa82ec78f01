#!/usr/bin/env bash
# Create (or reuse) what the object-store tests (tests/object_stores.rs) need:
#   * ${MLSCOPE_CACHE:-$HOME/.cache/mlscope}/venv-emulators: moto in server mode (an S3-compatible
#     server started by the tests on 127.0.0.1);
#   * boto3 in the MLflow 3.17.2 venv (scripts/mlflow-venv.sh), which MLflow needs for s3:// URIs.
#
# Usage: scripts/emulators-venv.sh        Idempotent: a venv that already imports what it needs is
# reused untouched. Prints the moto_server executable (stdout); progress goes to stderr.
# Env: MLSCOPE_PYTHON (default python3) creates the venv; MLSCOPE_MLFLOW_PYTHON_317 overrides the
# MLflow venv's python.
set -euo pipefail

CACHE="${MLSCOPE_CACHE:-$HOME/.cache/mlscope}"
BASE_PY="${MLSCOPE_PYTHON:-python3}"
MOTO_VERSION="5.2.6"
BOTO3_SPEC="boto3>=1.34,<2"
venv="$CACHE/venv-emulators"
py="$venv/bin/python"
mkdir -p "$CACHE"

pip_install() {
    "$1" -m pip install --quiet --disable-pip-version-check "${@:2}" >&2
}

have_moto="$([ -x "$py" ] && "$py" -c 'import moto, moto.server, flask; print(moto.__version__)' 2>/dev/null || true)"
if [ "$have_moto" != "$MOTO_VERSION" ]; then
    echo "emulators-venv: installing moto[server]==$MOTO_VERSION into $venv (found: ${have_moto:-none})" >&2
    [ -x "$py" ] || "$BASE_PY" -m venv "$venv"
    pip_install "$py" --upgrade pip
    pip_install "$py" "moto[server]==$MOTO_VERSION"
    have_moto="$("$py" -c 'import moto, moto.server, flask; print(moto.__version__)')"
fi
[ -x "$venv/bin/moto_server" ] || { echo "emulators-venv: ERROR: $venv/bin/moto_server missing" >&2; exit 1; }
echo "emulators-venv: $venv ok (moto $have_moto)" >&2

mlflow_py="${MLSCOPE_MLFLOW_PYTHON_317:-$CACHE/venv-mlflow-3.17.2/bin/python}"
if [ ! -x "$mlflow_py" ]; then
    echo "emulators-venv: ERROR: $mlflow_py missing (run scripts/mlflow-venv.sh first)" >&2
    exit 1
fi
if ! "$mlflow_py" -c 'import boto3' 2>/dev/null; then
    echo "emulators-venv: installing $BOTO3_SPEC into the MLflow venv of $mlflow_py" >&2
    pip_install "$mlflow_py" "$BOTO3_SPEC"
fi
echo "emulators-venv: $mlflow_py imports boto3 $("$mlflow_py" -c 'import boto3; print(boto3.__version__)')" >&2
echo "$venv/bin/moto_server"
