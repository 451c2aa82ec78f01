#!/usr/bin/env bash
# The ways in, checked end to end (called by .ci/run as the step "install"):
#   1. pip wheel: maturin (bin mode, pyproject.toml) builds the wheel, which is installed into a
#      fresh venv; the installed `mlscope --version`, `mlscope runs` and `mlscope plot` on a
#      fixture store work.
#   2. cargo install --path . into a temporary root; the same checks on the installed binary.
# Both build with the dev profile and the shared CARGO_TARGET_DIR, so a warm CI run only
# relinks the binary. maturin lives in ${MLSCOPE_CACHE:-$HOME/.cache/mlscope}/venv-maturin.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$(pwd)"
CACHE="${MLSCOPE_CACHE:-$HOME/.cache/mlscope}"
BASE_PY="${MLSCOPE_PYTHON:-python3}"
MATURIN_VERSION="1.16.0"
tools="$CACHE/venv-maturin"

if [ "$("$tools/bin/maturin" --version 2>/dev/null || true)" != "maturin $MATURIN_VERSION" ]; then
    echo "wheel: installing maturin $MATURIN_VERSION into $tools"
    [ -x "$tools/bin/python" ] || "$BASE_PY" -m venv "$tools"
    "$tools/bin/python" -m pip install --quiet --disable-pip-version-check "maturin==$MATURIN_VERSION"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# A copy of an MLflow-made store: reading must not touch the checkout.
cp -r "$REPO/tests/fixtures/mlflow-3.17.2-sqlite" "$work/store"
check_binary() {
    local bin="$1" version runs
    version="$("$bin" --version)"
    echo "$bin --version: $version"
    grep -q "MLflow 3.17.2" <<<"$version" || { echo "ERROR: --version lacks the MLflow versions" >&2; return 1; }
    runs="$("$bin" runs "sqlite:///$work/store/mlflow.db")"
    echo "$runs" | head -5
    [ "$(wc -l <<<"$runs")" -ge 2 ] || { echo "ERROR: '$bin runs' listed no runs" >&2; return 1; }
    # The installed binary draws charts on its own (fonts compiled in, no checkout needed).
    rm -f "$work/plot.png"
    "$bin" plot "sqlite:///$work/store/mlflow.db" --experiment fixtures/classification \
        --metric train/loss --out "$work/plot.png"
    [ -s "$work/plot.png" ] || { echo "ERROR: '$bin plot' wrote no picture" >&2; return 1; }
}

echo "== pip wheel (maturin $MATURIN_VERSION, dev profile)"
"$tools/bin/maturin" build --profile dev --compatibility linux --out "$work/dist" \
    --manifest-path "$REPO/Cargo.toml"
ls -l "$work/dist"
"$BASE_PY" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index "$work"/dist/mlscope-*.whl
check_binary "$work/venv/bin/mlscope"

echo "== cargo install --path . (--debug, shared target dir)"
cargo install --quiet --locked --debug --path "$REPO" --root "$work/cargo-root"
check_binary "$work/cargo-root/bin/mlscope"
echo "wheel and cargo install ok"
