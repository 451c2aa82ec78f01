#!/usr/bin/env bash
# Regenerate every committed MLflow fixture under tests/fixtures/ with REAL MLflow.
#
# Usage: scripts/gen-fixtures.sh [NAME...]
#   NAME: mlflow-3.17.2-file mlflow-3.17.2-sqlite mlflow-2.22.5-file mlflow-2.22.5-sqlite (default: all)
#
# Each fixture is generated at the FIXED path /tmp/mlscope-fixtures/<NAME> (MLflow writes absolute
# artifact paths into its stores; generating at a fixed path keeps them identical in the store and
# in expected.json, whatever the checkout location), read back with the same MLflow version by
# scripts/mlflow_read_check.py (-> expected.json), and copied to tests/fixtures/<NAME>/.
# Git does not keep empty directories, so their list goes to empty_dirs.txt; the test harness
# recreates them (tests/support/mod.rs). See tests/fixtures/README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GEN_ROOT=/tmp/mlscope-fixtures
DEST="$ROOT/tests/fixtures"
ALL=(mlflow-3.17.2-file mlflow-3.17.2-sqlite mlflow-2.22.5-file mlflow-2.22.5-sqlite)
if [ "$#" -eq 0 ]; then
    set -- "${ALL[@]}"
fi

mapfile -t PYS < <("$ROOT/scripts/mlflow-venv.sh" 3.17.2 2.22.5)
PY_317="${PYS[0]}"
PY_222="${PYS[1]}"

mkdir -p "$GEN_ROOT"
exec 9>"$GEN_ROOT/.lock"
flock -n 9 || { echo "gen-fixtures: another generation holds $GEN_ROOT/.lock" >&2; exit 1; }

# Determinism: run the tools from a copy outside any git checkout (else MLflow's context
# providers add mlflow.source.git.* tags naming the current branch/commit to the fluent run and
# the logged model), as a fixed user (mlflow.user of the logged model comes from getpass), and
# with no MLflow environment leaking in.
TOOLS="$GEN_ROOT/.tools"
rm -rf "$TOOLS"
mkdir -p "$TOOLS"
cp "$ROOT/scripts/gen_mlflow_fixtures.py" "$ROOT/scripts/mlflow_read_check.py" "$TOOLS/"
if git -C "$TOOLS" rev-parse --git-dir >/dev/null 2>&1; then
    echo "gen-fixtures: $TOOLS is inside a git checkout; MLflow would record git tags" >&2
    exit 1
fi
unset MLFLOW_TRACKING_URI MLFLOW_EXPERIMENT_ID MLFLOW_EXPERIMENT_NAME MLFLOW_RUN_ID MLFLOW_TRACKING_DIR \
    GIT_DIR GIT_WORK_TREE
export USER=fixture-user LOGNAME=fixture-user TZ=UTC PYTHONHASHSEED=0

for name in "$@"; do
    case "$name" in
        mlflow-3.17.2-file) py="$PY_317" backend=file ;;
        mlflow-3.17.2-sqlite) py="$PY_317" backend=sqlite ;;
        mlflow-2.22.5-file) py="$PY_222" backend=file ;;
        mlflow-2.22.5-sqlite) py="$PY_222" backend=sqlite ;;
        *) echo "gen-fixtures: unknown fixture '$name' (known: ${ALL[*]})" >&2; exit 1 ;;
    esac
    out="$GEN_ROOT/$name"
    echo "== $name: generating in $out" >&2
    rm -rf "$out"
    start=$SECONDS
    # Python warnings (dataset source probing, missing scipy in mlflow-skinny) go to the log only.
    if ! "$py" "$TOOLS/gen_mlflow_fixtures.py" --backend "$backend" --out "$out" --scale small \
        >"$GEN_ROOT/$name.gen.log" 2>&1; then
        cat "$GEN_ROOT/$name.gen.log" >&2
        echo "gen-fixtures: generation of $name failed" >&2
        exit 1
    fi
    uri="$(sed -n 's/^TRACKING_URI=//p' "$GEN_ROOT/$name.gen.log" | tail -n 1)"
    # Canonical JSON as MLflow itself reads the store; exit code 3 (warnings) is a failure too.
    # MLflow may create things while reading (e.g. .trash/), so list the empty dirs afterwards.
    if ! "$py" "$TOOLS/mlflow_read_check.py" "$uri" >"$out/expected.json" 2>"$GEN_ROOT/$name.read.log"; then
        cat "$GEN_ROOT/$name.read.log" >&2
        echo "gen-fixtures: mlflow_read_check.py failed on $uri" >&2
        exit 1
    fi
    (cd "$out" && find . -mindepth 1 -type d -empty -printf '%P\n' | LC_ALL=C sort >empty_dirs.txt)
    rm -rf "${DEST:?}/$name"
    mkdir -p "$DEST"
    cp -a "$out" "$DEST/$name"
    echo "   done in $((SECONDS - start))s: $(du -sh "$DEST/$name" | cut -f1), uri $uri" >&2
done
du -sh "$DEST" >&2
