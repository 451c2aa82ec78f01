#!/usr/bin/env python3
"""MLflow's side of benches/rest.rs: metric points logged through a tracking server with
MLflow's own Python client (mlflow 3.17.2), on the server the Rust benchmark uses.

Usage:
    python rest_bench_mlflow.py http://127.0.0.1:PORT [--points 100000] [--singles 2000]

Measures, each in a fresh run of a fresh experiment:
    sync_batch    MlflowClient.log_batch with 1,000 metrics per call until --points are logged
    async         mlflow.log_metric(..., synchronous=False) --points times (the loop), then
                  mlflow.flush_async_logging() (total)
    sync_single   mlflow.log_metric(...) --singles times (synchronous, one request each)
and checks that every point arrived (get_metric_history). Prints one JSON object on stdout:
    {"points": N, "sync_batch_s": …, "async_loop_s": …, "async_total_s": …,
     "singles": M, "sync_single_s": …, "mlflow": "3.17.2"}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid

os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
os.environ.pop("MLFLOW_ENABLE_ASYNC_LOGGING", None)

import mlflow  # noqa: E402
from mlflow.entities import Metric  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

BASE_TS = 1_700_000_000_000


def count(client: MlflowClient, run_id: str, key: str) -> int:
    return len(client.get_metric_history(run_id, key))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("uri")
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--singles", type=int, default=2_000)
    args = ap.parse_args()

    mlflow.set_tracking_uri(args.uri)
    client = MlflowClient(args.uri)
    exp = client.create_experiment(f"rest-bench-python-{uuid.uuid4().hex[:8]}")
    out = {"points": args.points, "singles": args.singles, "mlflow": mlflow.__version__}

    # 1. Synchronous log_batch, 1,000 metrics per request.
    run = client.create_run(exp, run_name="python-sync-batch")
    rid = run.info.run_id
    start = time.perf_counter()
    for lo in range(0, args.points, 1000):
        batch = [
            Metric("loss", i * 0.5, BASE_TS + i, i) for i in range(lo, min(lo + 1000, args.points))
        ]
        client.log_batch(rid, metrics=batch)
    out["sync_batch_s"] = time.perf_counter() - start
    client.set_terminated(rid)
    assert count(client, rid, "loss") == args.points, "sync batch lost points"

    # 2. Background logging (synchronous=False), then flush.
    with mlflow.start_run(experiment_id=exp, run_name="python-async") as run:
        rid = run.info.run_id
        start = time.perf_counter()
        for i in range(args.points):
            mlflow.log_metric("loss", i * 0.5, step=i, timestamp=BASE_TS + i, synchronous=False)
        out["async_loop_s"] = time.perf_counter() - start
        mlflow.flush_async_logging()
        out["async_total_s"] = time.perf_counter() - start
    assert count(client, rid, "loss") == args.points, "async logging lost points"

    # 3. Synchronous single calls (one request each).
    with mlflow.start_run(experiment_id=exp, run_name="python-sync-single") as run:
        rid = run.info.run_id
        start = time.perf_counter()
        for i in range(args.singles):
            mlflow.log_metric("loss", i * 0.5, step=i, timestamp=BASE_TS + i)
        out["sync_single_s"] = time.perf_counter() - start
    assert count(client, rid, "loss") == args.singles, "single calls lost points"

    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
