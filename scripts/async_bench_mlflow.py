#!/usr/bin/env python3
"""MLflow's side of benches/async_logging.rs: mlflow.log_metric with synchronous=True and
synchronous=False (file store in a temp dir), calls per second while calling and values stored
per second including the final flush (mlflow.end_run waits for the async queue). One thread
uses the fluent call on the active run; four threads use MlflowClient.log_metric(run_id, ...),
as threads without an active run must.

Usage (the venv of scripts/mlflow-venv.sh):
    ~/.cache/mlscope/venv-mlflow-3.17.2/bin/python scripts/async_bench_mlflow.py \
        [--sync-calls 2000] [--async-calls 20000] [--reps 3]
"""

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ["MLFLOW_ENABLE_ASYNC_LOGGING"] = "false"

import mlflow  # noqa: E402


def measure(calls, threads, synchronous):
    run = mlflow.start_run()
    run_id = run.info.run_id
    per_thread = calls // threads
    client = mlflow.MlflowClient()

    def work(t):
        key = f"m{t}"
        if threads == 1:
            # The fluent call on the active run (passing run_id would re-read the run each call).
            for i in range(per_thread):
                mlflow.log_metric(key, float(i), step=i, synchronous=synchronous)
        else:
            # Other threads have no active run: MlflowClient with the run id.
            for i in range(per_thread):
                client.log_metric(run_id, key, float(i), step=i, synchronous=synchronous)

    start = time.perf_counter()
    if threads == 1:
        work(0)
    else:
        ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    calls_done = time.perf_counter() - start
    mlflow.end_run()  # waits for the async queue (set_terminated shuts it down)
    mlflow.flush_async_logging()
    stored = time.perf_counter() - start
    n = per_thread * threads
    got = sum(len(client.get_metric_history(run_id, f"m{t}")) for t in range(threads))
    if got != n:
        print(f"WARNING: {got} of {n} values stored", file=sys.stderr)
    return n / calls_done, n / stored


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sync-calls", type=int, default=2000)
    ap.add_argument("--async-calls", type=int, default=20000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlflow-bench-async-") as d:
        mlflow.set_tracking_uri("file://" + os.path.join(d, "mlruns"))
        print(f"mlflow {mlflow.__version__}, fluent log_metric, file store, median of {args.reps}")
        print("| implementation | mode | calls | calls/s | values stored/s (incl. flush) |")
        print("|---|---|---|---|---|")
        cases = [
            ("synchronous", args.sync_calls, 1, True),
            ("asynchronous", args.async_calls, 1, False),
            ("asynchronous, 4 threads", args.async_calls, 4, False),
        ]
        for mode, calls, threads, synchronous in cases:
            rates = [measure(calls, threads, synchronous) for _ in range(args.reps)]
            c = statistics.median(r[0] for r in rates)
            s = statistics.median(r[1] for r in rates)
            print(f"| MLflow {mlflow.__version__} | {mode} | {calls} | {c:.0f} | {s:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
