"""Real MLflow on the stores of `cargo bench --bench scale`, for the ratio (issue 7).

    ~/.cache/mlscope/venv-mlflow-3.17.2/bin/python scripts/scale_bench_mlflow.py [results.json]

Reads `results.json` written by benches/scale.rs (default target/mlscope-scale/results.json, or
$MLSCOPE_SCALE_DIR/results.json) and, for every store in it, times in a fresh process each:

* list: `MlflowClient.search_runs` of experiment `scale`, active runs, pages of 1,000 (the
  default page size of the client and of `mlflow.search_runs`) followed to the end: first page
  and all pages (each includes creating the client, as mlscope's includes opening the store);
* filter: `metrics.m0 > 0.5 and params.p1 = 'x'` ordered by `metrics.m0 DESC`, all pages;
* history: `get_metric_history` of the 1,000,000-point metric `loss`.

Peak memory is the child's `ru_maxrss`. Prints one markdown table with mlscope's numbers beside
MLflow's and the ratio MLflow / mlscope. MLflow opens the stores in place (it creates nothing in
stores that already have `.trash` and the current schema). `MLFLOW_SCALE_SKIP` (comma-separated
`kind-backend-runs`, e.g. `list-file-10000`) leaves measurements out; `MLFLOW_SCALE_TIMEOUT`
(seconds, default 3600) bounds each.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from mlflow.tracking import MlflowClient
from mlflow.entities import ViewType
kind, backend, path, exp_name, flt, order, page = sys.argv[1:8]
page = int(page)
uri = ("sqlite:///" + path) if backend == "sqlite" else Path(path).as_uri()
start = time.perf_counter()
client = MlflowClient(tracking_uri=uri)
exp = client.get_experiment_by_name(exp_name)
out = {}
if kind in ("list", "filter"):
    kwargs = dict(experiment_ids=[exp.experiment_id], run_view_type=ViewType.ACTIVE_ONLY,
                  max_results=page)
    if kind == "filter":
        kwargs.update(filter_string=flt, order_by=[order])
    token, n, first = None, 0, None
    while True:
        res = client.search_runs(page_token=token, **kwargs)
        if first is None:
            first = time.perf_counter() - start
        n += len(res)
        token = res.token
        if not token:
            break
    out = {"first_page_s": first, "all_pages_s": time.perf_counter() - start, "runs": n}
else:
    run = client.search_runs([exp.experiment_id], max_results=1)[0]
    hist = client.get_metric_history(run.info.run_id, "loss")
    out = {"load_s": time.perf_counter() - start, "points": len(hist)}
out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print(json.dumps(out))
"""


def run_child(args, timeout):
    env = dict(os.environ, MLFLOW_ALLOW_FILE_STORE="true", MLFLOW_TRACKING_URI="")
    try:
        p = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True,
                           timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout} s"}
    if p.returncode != 0:
        return {"error": p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "failed"}
    return json.loads(p.stdout.strip().splitlines()[-1])


def fmt_s(v):
    if v is None:
        return "–"
    return f"{v:.1f} s" if v >= 10 else f"{v * 1000:.0f} ms"


def ratio(theirs, ours):
    if theirs is None or ours is None or ours <= 0:
        return "–"
    return f"{theirs / ours:.0f}x" if theirs / ours >= 10 else f"{theirs / ours:.1f}x"


def main():
    default = Path(os.environ.get("MLSCOPE_SCALE_DIR", "target/mlscope-scale")) / "results.json"
    res_path = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    res = json.loads(res_path.read_text())
    skip = set(filter(None, os.environ.get("MLFLOW_SCALE_SKIP", "").split(",")))
    timeout = int(os.environ.get("MLFLOW_SCALE_TIMEOUT", "3600"))
    import mlflow

    rows = []
    for store in res["stores"]:
        backend, runs, path = store["backend"], store["runs"], store["path"]
        for kind in ("list", "filter"):
            name = f"{kind}-{backend}-{runs}"
            ours = res["results"].get(name, {})
            if name in skip:
                continue
            print(f"MLflow {name} …", file=sys.stderr, flush=True)
            theirs = run_child([kind, backend, path, res["experiment"], res["filter"],
                                res["order_by"], str(res["page_size"])], timeout)
            print(f"  {theirs}", file=sys.stderr, flush=True)
            rows.append((backend, "list all runs" if kind == "list" else "filtered search", runs,
                         ours, theirs, "first_page_s", "all_pages_s"))
    for store in res.get("history_stores", []):
        backend, path = store["backend"], store["path"]
        name = f"history-{backend}"
        if name in skip:
            continue
        print(f"MLflow {name} …", file=sys.stderr, flush=True)
        theirs = run_child(["history", backend, path, res["history_experiment"], "", "", "1"],
                           timeout)
        print(f"  {theirs}", file=sys.stderr, flush=True)
        rows.append((backend, "1M-point history", 1, res["results"].get(name, {}), theirs,
                     None, "load_s"))

    print(f"\nmlscope (benches/scale.rs) vs MLflow {mlflow.__version__}, pages of "
          f"{res['page_size']}, each measurement in a fresh process\n")
    print("| backend | measurement | runs | mlscope first page | MLflow first page | ratio "
          "| mlscope all pages | MLflow all pages | ratio | mlscope peak | MLflow peak |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for backend, what, runs, ours, theirs, first, total in rows:
        if "error" in theirs:
            print(f"| {backend} | {what} | {runs} | – | {theirs['error']} | | | | | | |")
            continue
        f_ours = ours.get(first) if first else None
        f_theirs = theirs.get(first) if first else None
        t_ours, t_theirs = ours.get(total), theirs.get(total)
        peak_o = ours.get("peak_mib")
        peak_t = theirs.get("peak_mib")
        print(f"| {backend} | {what} | {runs} | {fmt_s(f_ours)} | {fmt_s(f_theirs)} | "
              f"{ratio(f_theirs, f_ours)} | {fmt_s(t_ours)} | {fmt_s(t_theirs)} | "
              f"{ratio(t_theirs, t_ours)} | "
              f"{'–' if peak_o is None else f'{peak_o:.0f} MiB'} | "
              f"{'–' if peak_t is None else f'{peak_t:.0f} MiB'} |")


if __name__ == "__main__":
    main()
