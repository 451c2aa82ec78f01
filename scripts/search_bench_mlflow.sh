#!/usr/bin/env bash
# Filtered + ordered search_runs over a 5,000-run store: mlscope (benches/search.rs, release
# build) beside real MLflow on the SAME stores, with the ratio.
#
#   scripts/search_bench_mlflow.sh
#
# Environment:
#   MLFLOW_PYTHON      python of an MLflow 3.17.2 venv (default ~/.cache/mlscope/venv-mlflow-3.17.2/bin/python,
#                      made by scripts/mlflow-venv.sh)
#   MLFLOW_REPS        repetitions of each MLflow timing (default 1: MLflow's file store takes
#                      tens of seconds per page)
#   MLSCOPE_BENCH_*    passed to the Rust benchmark (RUNS, STEPS, REPS, DIR; see benches/search.rs)
#
# 1. `cargo bench --bench search` writes (once, cached) the store with mlscope's writer on both
#    backends and times mlscope: first page of 100 and all pages, filter
#    "metrics.m0 > 0.5 and params.p1 = 'x'", order by "metrics.m0 DESC".
# 2. The stores are copied to a temp dir (MLflow writes to stores it opens: .trash/, migrations)
#    and MLflow's client runs the same query on the copies; the results are checked to be the
#    same runs as mlscope's (count, first run of the first page, last run of the last page).
# 3. A table with both timings and the ratio MLflow / mlscope is printed.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${MLFLOW_PYTHON:-$HOME/.cache/mlscope/venv-mlflow-3.17.2/bin/python}
REPS=${MLFLOW_REPS:-1}
[ -x "$PY" ] || { echo "no MLflow python at $PY (set MLFLOW_PYTHON or run scripts/mlflow-venv.sh)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mlscope-search-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

cargo bench --bench search | tee "$tmp/ours.txt"
results=$(sed -n 's/^results: //p' "$tmp/ours.txt" | tail -n 1)
[ -f "$results" ] || { echo "benchmark wrote no results.json" >&2; exit 1; }

echo "copying the stores for MLflow …" >&2
"$PY" - "$results" "$tmp" <<'PY'
import json, shutil, sys
from pathlib import Path
res = json.load(open(sys.argv[1]))
tmp = Path(sys.argv[2])
shutil.copytree(res["file_store"], tmp / "file" / "mlruns", symlinks=True)
(tmp / "sqlite").mkdir()
shutil.copy2(res["sqlite_db"], tmp / "sqlite" / "mlflow.db")
PY

cd "$tmp"
MLFLOW_ALLOW_FILE_STORE=true "$PY" - "$results" "$tmp" "$REPS" <<'PY'
import json, statistics, sys, time
from pathlib import Path

import mlflow
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

res = json.load(open(sys.argv[1]))
tmp = Path(sys.argv[2])
reps = int(sys.argv[3])
flt, order, page = res["filter"], [res["order_by"]], res["page_size"]
uris = {
    "file": (tmp / "file" / "mlruns").as_uri(),
    "sqlite": "sqlite:///" + str(tmp / "sqlite" / "mlflow.db"),
}
ours = {(r["backend"], r["case"]): r for r in res["results"]}


def first_page(client, exp):
    p = client.search_runs([exp], flt, ViewType.ACTIVE_ONLY, page, order)
    return len(p), (p[0].info.run_name if len(p) else "")


def all_pages(client, exp):
    rows, last, token = 0, "", None
    while True:
        p = client.search_runs([exp], flt, ViewType.ACTIVE_ONLY, page, order, token)
        rows += len(p)
        if len(p):
            last = p[-1].info.run_name
        token = p.token
        if not token:
            return rows, last


print(f"\nMLflow {mlflow.__version__} on copies of the same stores ({res['runs']} runs), "
      f"median of {reps} after one untimed warm-up; mlscope: median of its repetitions (store opened each time)\n")
print(f"| backend | query | mlscope | MLflow | MLflow / mlscope | rows |")
print(f"|---|---|---:|---:|---:|---:|")
ok = True
for backend, uri in uris.items():
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("perf-large").experiment_id  # store set up, untimed
    first_page(client, exp)  # untimed warm-up (imports, engine, caches), as mlscope's repetitions are warm
    for name, f in (("first_page", first_page), ("all_pages", all_pages)):
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            rows, edge = f(client, exp)
            times.append(time.perf_counter() - t)
        m = statistics.median(times)
        o = ours[(backend, name)]
        same = rows == o["rows"] and edge == o["edge_run"]
        ok &= same
        print(f"| {backend} | {name} | {o['median_s'] * 1e3:.1f} ms | {m * 1e3:.1f} ms | "
              f"{m / o['median_s']:.0f}x | {rows}{'' if same else ' (DIFFERENT from mlscope: ' + str((o['rows'], o['edge_run'], edge)) + ')'} |")
        sys.stdout.flush()
if not ok:
    sys.exit("MLflow and mlscope returned different runs")
PY
