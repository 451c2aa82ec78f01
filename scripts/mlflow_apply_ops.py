#!/usr/bin/env python3
"""Apply a list of tracking-store operations to a NEW store with REAL MLflow's store classes.

Usage:
    python mlflow_apply_ops.py TRACKING_URI OPS.json

    TRACKING_URI  file:///abs/mlruns (must not exist yet) | sqlite:////abs/mlflow.db (must not exist yet)

The operations are the same calls mlscope's `TrackingStore` trait makes (store level, not the
fluent API or MlflowClient, so no context tags are added). tests/mlflow_interop.rs runs one list
through mlscope and through this script, then checks that MLflow reads both stores the same way
(after mlflow_read_check.py-style normalisation of ids).

OPS.json is a JSON list; every string may contain "${run:NAME}" or "${exp:NAME}", replaced by the
id of the run / experiment created under that name. Metric values are JSON numbers or the
strings "NaN", "Infinity", "-Infinity".

    {"op": "create_experiment", "name": N, "tags": [[k, v], ...]}
    {"op": "set_experiment_tag", "experiment": N, "key": k, "value": v}
    {"op": "rename_experiment", "experiment": N, "new_name": M}      (later ops use M)
    {"op": "delete_experiment", "experiment": N}
    {"op": "restore_experiment", "experiment": N}
    {"op": "create_run", "experiment": N, "name": R, "user_id": u, "start_time": ms|null, "tags": [[k, v], ...]}
    {"op": "log_batch", "run": R, "metrics": [[key, value, timestamp, step], ...], "params": [[k, v]], "tags": [[k, v]]}
    {"op": "update_run", "run": R, "status": "FINISHED"|null, "end_time": ms|null}
    {"op": "delete_run", "run": R}
    {"op": "restore_run", "run": R}
    {"op": "delete_tag", "run": R, "key": k}
    {"op": "log_inputs", "run": R, "datasets": [{"name", "digest", "source_type", "source",
                                                  "schema", "profile", "tags": [[k, v]]}, ...]}

Experiment "Default" (id 0) exists from the start. Prints a JSON map of the created ids
({"experiments": {name: id}, "runs": {name: id}}) on stdout.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")


def open_new_store(uri: str):
    if uri.startswith("file:"):
        from mlflow.store.tracking.file_store import FileStore

        root = Path(unquote(urlparse(uri).path))
        if root.exists():
            raise SystemExit(f"refusing to write into an existing store: {root}")
        return FileStore(root_directory=str(root))
    if uri.startswith("sqlite:///"):
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        db = Path(unquote(uri[len("sqlite:///") :]))
        if db.exists():
            raise SystemExit(f"refusing to write into an existing database: {db}")
        # The Python client's default artifact root for a sqlite: URI is ./mlruns (absolute).
        return SqlAlchemyStore(uri, str(db.parent / "mlruns"))
    raise SystemExit(f"unsupported tracking URI {uri}")


def metric_value(v):
    if isinstance(v, str):
        return float(v)  # "NaN", "Infinity", "-Infinity"
    return float(v)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    uri, ops_path = argv
    ops = json.loads(Path(ops_path).read_text(encoding="utf-8"))

    from mlflow.entities import (
        Dataset,
        DatasetInput,
        ExperimentTag,
        InputTag,
        Metric,
        Param,
        RunStatus,
        RunTag,
    )

    store = open_new_store(uri)
    exps = {"Default": "0"}
    runs: dict[str, str] = {}
    ref = re.compile(r"\$\{(run|exp):([^}]*)\}")

    def sub(s):
        if not isinstance(s, str):
            return s
        return ref.sub(lambda m: (runs if m.group(1) == "run" else exps)[m.group(2)], s)

    def pairs(xs):
        return [(sub(k), sub(v)) for k, v in (xs or [])]

    for op in ops:
        kind = op["op"]
        if kind == "create_experiment":
            tags = [ExperimentTag(k, v) for k, v in pairs(op.get("tags"))]
            exps[op["name"]] = store.create_experiment(sub(op["name"]), None, tags)
        elif kind == "set_experiment_tag":
            store.set_experiment_tag(exps[op["experiment"]], ExperimentTag(sub(op["key"]), sub(op["value"])))
        elif kind == "rename_experiment":
            eid = exps.pop(op["experiment"])
            store.rename_experiment(eid, sub(op["new_name"]))
            exps[op["new_name"]] = eid
        elif kind == "delete_experiment":
            store.delete_experiment(exps[op["experiment"]])
        elif kind == "restore_experiment":
            store.restore_experiment(exps[op["experiment"]])
        elif kind == "create_run":
            tags = [RunTag(k, v) for k, v in pairs(op.get("tags"))]
            run = store.create_run(
                exps[op["experiment"]], op.get("user_id") or "unknown", op.get("start_time"), tags, op["name"]
            )
            runs[op["name"]] = run.info.run_id
        elif kind == "log_batch":
            metrics = [Metric(sub(k), metric_value(v), int(ts), int(st)) for k, v, ts, st in op.get("metrics", [])]
            params = [Param(k, v) for k, v in pairs(op.get("params"))]
            tags = [RunTag(k, v) for k, v in pairs(op.get("tags"))]
            store.log_batch(runs[op["run"]], metrics=metrics, params=params, tags=tags)
        elif kind == "update_run":
            status = op.get("status")
            store.update_run_info(
                runs[op["run"]], RunStatus.from_string(status) if status else None, op.get("end_time"), None
            )
        elif kind == "delete_run":
            store.delete_run(runs[op["run"]])
        elif kind == "restore_run":
            store.restore_run(runs[op["run"]])
        elif kind == "delete_tag":
            store.delete_tag(runs[op["run"]], sub(op["key"]))
        elif kind == "log_inputs":
            datasets = []
            for d in op["datasets"]:
                ds = Dataset(
                    name=d["name"],
                    digest=d["digest"],
                    source_type=d["source_type"],
                    source=d["source"],
                    schema=d.get("schema"),
                    profile=d.get("profile"),
                )
                datasets.append(DatasetInput(ds, [InputTag(k, v) for k, v in pairs(d.get("tags"))]))
            store.log_inputs(runs[op["run"]], datasets=datasets)
        else:
            raise SystemExit(f"unknown op {kind!r}")
    engine = getattr(store, "engine", None)
    if engine is not None:
        engine.dispose()
    print(json.dumps({"experiments": exps, "runs": runs}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
