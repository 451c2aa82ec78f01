"""Generates mlflow_fixtures.json: what real MLflow (3.17.2) answers for a set of searches.

Run with the MLflow venv's python from this directory:

    ~/.cache/mlscope/venv-mlflow-3.17.2/bin/python gen_fixtures.py

It creates fixture experiments and runs in a temporary SQLite store (SqlAlchemyStore), then
records, for every filter / order_by / paging case:

* "sql":  what SqlAlchemyStore.search_runs / search_experiments returns (ids in order) or the
          error message;
* "file": what the FileStore algorithm (SearchUtils.filter/sort/paginate and
          SearchExperimentsUtils, applied to the same entities) returns or raises.

The Rust tests (src/search/tests.rs) rebuild the same runs and compare.
"""

import hashlib
import json
import math
import os
import sys
import tempfile
import uuid

_counter = [0]


def _fake_uuid4():
    _counter[0] += 1
    h = hashlib.md5(f"mlscope-{_counter[0]}".encode()).hexdigest()
    return uuid.UUID(hex=h)


uuid.uuid4 = _fake_uuid4

from mlflow.entities import (  # noqa: E402
    Dataset,
    DatasetInput,
    InputTag,
    Metric,
    Param,
    RunStatus,
    RunTag,
    ViewType,
)
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore  # noqa: E402
from mlflow.utils.search_utils import SearchExperimentsUtils, SearchUtils  # noqa: E402

NAN = float("nan")

RUNS = [
    dict(name="alpha", user="alice", start=1000, end=2000, status="FINISHED",
         metrics={"loss": 0.5, "acc": 0.9}, params={"lr": "0.01", "opt": "adam"},
         tags={"team": "ml-core", "note": "Hello"},
         datasets=[("train_ds", "d1", "training")]),
    dict(name="beta", user="bob", start=2000, end=None, status="RUNNING",
         metrics={"loss": NAN, "acc": 0.8}, params={"lr": "0.1"},
         tags={"team": "ml-infra"}, datasets=[("eval_ds", "d2", "eval")]),
    dict(name="Gamma", user="Alice", start=2000, end=2600, status="FAILED",
         metrics={"loss": 1.5}, params={"lr": "0.01", "opt": "sgd"},
         tags={"team": "ML-core"}, datasets=[]),
    dict(name="delta_1", user="bob", start=3000, end=3500, status="KILLED",
         metrics={}, params={"opt": "Adam"}, tags={"note": "it's"}, datasets=[]),
    dict(name="epsilon", user="carol", start=500, end=900, status="FINISHED",
         metrics={"loss": -1.0, "acc": 1.0, "f1 score": 0.7},
         params={"a.b": "x", "lr": ""}, tags={"team": "data"},
         datasets=[("train_ds", "d1", "training"), ("test_ds", "d3", "test")]),
    dict(name="zeta%_", user="dave", start=4000, end=None, status="SCHEDULED",
         metrics={"loss": 0.5, "acc": NAN, "big": 1e20}, params={"lr": "1e-3", "note": "100%"},
         tags={"team": "ml-core"}, datasets=[("eval_ds", "d2", None)]),
    dict(name="Ésprit", user="erin", start=1500, end=1700, status="FINISHED",
         metrics={"loss": 2.0, "acc": 0.5, "neg": -0.0}, params={"lr": "0.01"},
         tags={"team": "Ünïcode", "note": "line1\nline2"}, datasets=[]),
    dict(name="eta", user="alice", start=1500, end=1800, status="FINISHED",
         metrics={"loss": 0.25, "acc": 0.95, "x": 3.0}, params={"opt": "adam", "lr": "0.001"},
         tags={"team": "ml_core"}, datasets=[]),
]

RUN_FILTERS = [
    "",
    "metrics.loss > 0.4",
    "metrics.loss >= 0.5",
    "metrics.loss < 1",
    "metrics.loss <= 0.5",
    "metrics.loss = 0.5",
    "metrics.loss != 0.5",
    "metrics.loss != 100",
    "metrics.loss = -1",
    "metrics.loss > -1.5",
    "metrics.loss < 1e1",
    "metrics.acc > .85",
    "metrics.acc != 0.9",
    "metric.acc = 1",
    "metrics.`f1 score` > 0.5",
    'metrics."f1 score" > 0.5',
    "metrics.'f1 score' > 0.5",
    "metrics.big > 1e19",
    "metrics.neg = 0",
    "metrics.neg < 0",
    "metrics.missing != 1",
    "metrics.loss > 0 and metrics.acc > 0.85",
    "metrics.loss > 0 AND metrics.acc > 0.85 AND",
    "and metrics.loss > 0",
    "metrics.loss > 0 metrics.acc > 0.85",
    "params.lr = '0.01'",
    'params.lr = "0.01"',
    "params.lr != '0.01'",
    "params.lr = ''",
    "params.lr LIKE '0.0%'",
    "params.lr like '%1'",
    "params.lr LIKE '0._1'",
    "params.opt LIKE 'adam'",
    "params.opt ILIKE 'ADAM'",
    "params.opt ilike 'a%'",
    "params.opt IS NULL",
    "params.opt IS NOT NULL",
    "params.opt is not null and params.lr is null",
    "params.`a.b` = 'x'",
    "params.a.b = 'x'",
    "params.note = '100%'",
    "params.note LIKE '100%'",
    "parameter.lr = '0.1'",
    "param.lr = '0.1'",
    "parameters.lr = '0.1'",
    "tags.team = 'ml-core'",
    "tags.team != 'ml-core'",
    "tags.team LIKE 'ml%'",
    "tags.team LIKE 'ml-%'",
    "tags.team ILIKE 'ml-%'",
    "tags.team LIKE 'ml_core'",
    "tags.team ILIKE 'ünïcode'",
    "tags.team ILIKE 'ÜNÏCODE'",
    "tags.note = 'it''s'",
    "tags.note = \"it's\"",
    "tags.note LIKE 'line1%'",
    "tags.note IS NULL",
    "tags.`mlflow.runName` = 'alpha'",
    "tags.mlflow.runName = 'beta'",
    "tag.team = 'data'",
    "run_id = '{R0}'",
    "run_id != '{R0}'",
    "run_id IN ('{R0}', '{R2}')",
    "run_id NOT IN ('{R0}', '{R2}')",
    "run_id in ('{R2}',)",
    "attributes.run_id LIKE '{R3P}%'",
    "run_name = 'alpha'",
    "run_name != 'alpha'",
    "run_name LIKE 'e%'",
    "run_name ILIKE 'g%'",
    "run_name LIKE 'zeta\\%'",
    "run_name LIKE 'delta_1'",
    "`run name` = 'beta'",
    "`Run Name` = 'beta'",
    '"Run name" = \'beta\'',
    "attribute.run_name = 'eta'",
    "status = 'FINISHED'",
    "status != 'FINISHED'",
    "status = 'finished'",
    "status ILIKE 'finished'",
    "status LIKE 'F%'",
    "attr.status = 'RUNNING'",
    "run.status = 'KILLED'",
    "user_id = 'alice'",
    "user_id ILIKE 'alice'",
    "user_id LIKE 'a%'",
    "artifact_uri LIKE '%artifacts'",
    "start_time > 1500",
    "start_time >= 1500",
    "start_time = 2000",
    "start_time != 2000",
    "start_time < 1500.5",
    "start_time > 1499.5",
    "start_time <= 1e3",
    "created > 1500",
    "Created < 1000",
    "end_time > 1000",
    "end_time != 2000",
    "end_time < 99999999999999999999999",
    "datasets.name = 'train_ds'",
    "dataset.name != 'train_ds'",
    "datasets.name IN ('eval_ds', 'test_ds')",
    "datasets.name NOT IN ('train_ds')",
    "datasets.digest = 'd2'",
    "datasets.digest LIKE 'd%'",
    "datasets.context = 'training'",
    "datasets.context != 'training'",
    "datasets.context IN ('eval', 'test')",
    "datasets.context ILIKE 'TRAIN%'",
    "datasets.name = 'train_ds' AND datasets.context = 'test'",
    "metrics.loss < 1 AND params.lr = '0.01' AND tags.team LIKE 'ml%'",
    "status = 'FINISHED' and metrics.acc > 0.5 and start_time > 600",
    # errors
    "metrics.loss >> 1",
    "metrics.loss > '1'",
    "metrics.loss = \"1\"",
    "metrics.loss IS NULL",
    "metrics.loss LIKE 1",
    "metrics.loss IN (1)",
    "metrics.loss <> 1",
    "metrics.loss == 1",
    "metrics.loss > 1e+3",
    "metrics.loss > 1x",
    "metrics.loss > - 1",
    "metrics.loss = NaN",
    "metrics.loss",
    "metrics.loss >",
    "params.lr = 0.01",
    "params.lr > '0.01'",
    "params.lr IN ('0.01')",
    "params.lr = `0.01`",
    "params.lr = lr",
    "params.lr NOT LIKE 'a'",
    "tags.team >= 'a'",
    "tags.team = 'a",
    "run_name IN ('alpha')",
    "status IN ('FINISHED')",
    "status NOT IN ('FINISHED')",
    "status = 1",
    "run_id IN ()",
    "run_id IN (1, 2)",
    "run_id IN 'a'",
    "start_time > '1'",
    "start_time IS NULL",
    "start_time LIKE 1",
    "end_time IN (1)",
    "dataset.name IS NULL",
    "dataset.foo = 'x'",
    "dataset.name = 1",
    "foo = 'a'",
    "experiment_id = '1'",
    "lifecycle_stage = 'active'",
    "metricz.loss > 1",
    "METRICS.loss > 1",
    "`metrics.loss` > 1",
    '"metrics".loss > 1',
    "metrics.loss > 1 OR metrics.acc > 1",
    "metrics.loss > 1 AND (metrics.acc > 1)",
    "NOT metrics.loss > 1",
    "metrics.loss > 1; metrics.acc > 1",
    "metrics.loss > 1 -- comment",
    "metrics.loss-x > 1",
]

RUN_ORDER_BYS = [
    [],
    ["metrics.loss"],
    ["metrics.loss ASC"],
    ["metrics.loss DESC"],
    ["metrics.acc desc"],
    ["metrics.missing"],
    ["metrics.`f1 score` DESC"],
    ["params.lr"],
    ["params.lr DESC"],
    ["params.opt ASC"],
    ["tags.team"],
    ["tags.team DESC"],
    ["tags.note DESC"],
    ["start_time"],
    ["start_time ASC"],
    ["start_time DESC"],
    ["created"],
    ["Created DESC"],
    ["end_time"],
    ["end_time DESC"],
    ["status"],
    ["status DESC"],
    ["run_name"],
    ["run_name DESC"],
    ["user_id", "metrics.acc DESC"],
    ["user_id DESC", "start_time ASC"],
    ["artifact_uri"],
    ["run_id DESC"],
    ["attribute.run_id"],
    ["metrics.loss ASC", "params.lr DESC"],
    ["params.opt", "metrics.loss DESC"],
    ["tags.`mlflow.runName` DESC"],
    # errors
    ["start_time", "created"],
    ["metrics.loss", "metrics.loss DESC"],
    ["dataset.name"],
    ["experiment_id"],
    ["run name"],
    ["`run name`"],
    ["metrics.loss DESCENDING"],
    ["metrics.loss DESC ASC"],
    ["metrics.loss, metrics.acc"],
    ["foo"],
    [""],
]

EXPERIMENTS = [
    # name, creation_time, last_update_time, tags
    ("exp-a", 3000, 3000, {"owner": "alice", "kind": "nlp"}),
    ("exp-b", 1000, 5000, {"owner": "bob"}),
    ("Exp-C", 2000, 2000, {"owner": "Alice", "kind": "cv"}),
    ("exp_d", 2000, 4000, {}),
    ("other", 5000, 6000, {"kind": "NLP"}),
]

EXPERIMENT_FILTERS = [
    "",
    "name = 'exp-a'",
    "name != 'exp-a'",
    "name LIKE 'exp%'",
    "name ILIKE 'exp%'",
    "name LIKE 'exp_d'",
    "name LIKE 'exp-_'",
    "attribute.name = 'other'",
    "`name` = 'other'",
    "creation_time > 1500",
    "creation_time = 2000",
    "creation_time != 2000",
    "last_update_time <= 4000",
    "creation_time >= 2000 AND last_update_time < 6000",
    "experiment_id = '{E0}'",
    "experiment_id != '{E0}'",
    "experiment_id IN ('{E0}', '{E2}')",
    "experiment_id NOT IN ('{E2}')",
    "tags.owner = 'alice'",
    "tags.owner ILIKE 'alice'",
    "tag.kind LIKE '%lp'",
    "tags.kind ILIKE '%lp'",
    "tags.kind IS NULL",
    "tags.kind IS NOT NULL",
    "tags.owner != 'bob'",
    "tags.`kind` = 'cv'",
    "name LIKE 'exp%' AND tags.kind IS NOT NULL",
    # errors
    "name IN ('exp-a')",
    "name IS NULL",
    "name = 1",
    "name > 'a'",
    "creation_time > '1'",
    "creation_time > 1.5",
    "creation_time LIKE 1",
    "experiment_id = 1",
    "experiment_id > '1'",
    "experiment_id LIKE '1%'",
    "experiment_id = 'abc'",
    "tags.kind IN ('cv')",
    "tags.kind > 'a'",
    "params.p = 'a'",
    "attributes.name = 'a'",
    "lifecycle_stage = 'active'",
    "artifact_location = 'x'",
    "name = 'a' OR name = 'b'",
    "name = 'exp-a' and",
]

EXPERIMENT_ORDER_BYS = [
    [],
    ["name"],
    ["name DESC"],
    ["creation_time"],
    ["creation_time DESC"],
    ["last_update_time DESC"],
    ["experiment_id"],
    ["experiment_id DESC"],
    ["creation_time ASC", "name DESC"],
    ["attribute.name"],
    # errors
    ["tags.owner"],
    ["lifecycle_stage"],
    ["foo"],
    ["name DESCENDING"],
]


def _tok(t):
    return t.decode() if isinstance(t, bytes) else t


def err(e):
    return {"error": str(e)}


def metric_json(v):
    if isinstance(v, float) and math.isnan(v):
        return "NaN"
    return v


def main():
    out_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mlflow_fixtures.json")
    tmp = tempfile.mkdtemp()
    store = SqlAlchemyStore(f"sqlite:///{tmp}/mlflow.db", f"{tmp}/artifacts")
    exp_id = store.create_experiment("runs-exp")

    run_ids = []
    for i, spec in enumerate(RUNS):
        run = store.create_run(exp_id, spec["user"], spec["start"], [], spec["name"])
        rid = run.info.run_id
        run_ids.append(rid)
        ts = 10_000 + i
        store.log_batch(
            rid,
            metrics=[Metric(k, v, ts, 0) for k, v in spec["metrics"].items()],
            params=[Param(k, v) for k, v in spec["params"].items()],
            tags=[RunTag(k, v) for k, v in spec["tags"].items()],
        )
        if spec["datasets"]:
            store.log_inputs(
                rid,
                datasets=[
                    DatasetInput(
                        Dataset(name=n, digest=d, source_type="local", source="{}"),
                        [InputTag("mlflow.data.context", c)] if c is not None else [],
                    )
                    for n, d, c in spec["datasets"]
                ],
            )
        if spec["status"] != "RUNNING" or spec["end"] is not None:
            store.update_run_info(rid, RunStatus.from_string(spec["status"]), spec["end"], None)

    all_runs = store.search_runs([exp_id], "", ViewType.ALL, max_results=1000)
    by_id = {r.info.run_id: r for r in all_runs}
    runs = [by_id[rid] for rid in run_ids]

    runs_json = []
    for r in runs:
        runs_json.append(
            dict(
                run_id=r.info.run_id,
                run_name=r.info.run_name,
                experiment_id=r.info.experiment_id,
                user_id=r.info.user_id,
                status=r.info.status,
                start_time=r.info.start_time,
                end_time=r.info.end_time,
                artifact_uri=r.info.artifact_uri,
                lifecycle_stage=r.info.lifecycle_stage,
                metrics={k: metric_json(v) for k, v in r.data.metrics.items()},
                params=r.data.params,
                tags=r.data.tags,
                datasets=[
                    dict(
                        name=di.dataset.name,
                        digest=di.dataset.digest,
                        source_type=di.dataset.source_type,
                        source=di.dataset.source,
                        tags={t.key: t.value for t in di.tags},
                    )
                    for di in r.inputs.dataset_inputs
                ],
            )
        )

    def run_case(filter_string, order_by, max_results=1000, page_token=None):
        case = {"filter": filter_string, "order_by": order_by, "max_results": max_results,
                "page_token": page_token}
        try:
            res = store.search_runs([exp_id], filter_string, ViewType.ALL, max_results,
                                    order_by, page_token)
            case["sql"] = {"ids": [r.info.run_id for r in res], "token": _tok(res.token)}
        except Exception as e:
            case["sql"] = err(e)
        try:
            filtered = SearchUtils.filter(runs, filter_string)
            ordered = SearchUtils.sort(filtered, order_by)
            page, token = SearchUtils.paginate(ordered, page_token, max_results)
            case["file"] = {"ids": [r.info.run_id for r in page],
                            "token": token.decode() if token else None}
        except Exception as e:
            case["file"] = err(e)
        return case

    def fill(f, subs):
        for k, v in subs.items():
            f = f.replace("{" + k + "}", v)
        return f

    run_cases = []
    for f in RUN_FILTERS:
        subs = {"R0": run_ids[0], "R2": run_ids[2], "R3P": run_ids[3][:5]}
        run_cases.append(run_case(fill(f, subs), []))
    for ob in RUN_ORDER_BYS:
        run_cases.append(run_case("", ob))
    # paging
    token = None
    while True:
        c = run_case("", ["metrics.loss DESC"], 3, token)
        run_cases.append(c)
        token = c["sql"].get("token")
        if not token:
            break
    run_cases.append(run_case("", [], 0))
    run_cases.append(run_case("", [], 50001))
    run_cases.append(run_case("", [], 2, "eyJvZmZzZXQiOiAwfQ=="))
    run_cases.append(run_case("", [], 2, "garbage"))

    # experiments
    exp_ids = []
    for name, ct, lut, tags in EXPERIMENTS:
        eid = store.create_experiment(name)
        for k, v in tags.items():
            store.set_experiment_tag(eid, _exp_tag(k, v))
        exp_ids.append(eid)
    import sqlalchemy

    with store.ManagedSessionMaker(read_only=False) as session:
        for eid, (_, ct, lut, _) in zip(exp_ids, EXPERIMENTS):
            session.execute(
                sqlalchemy.text(
                    "UPDATE experiments SET creation_time = :c, last_update_time = :l "
                    "WHERE experiment_id = :e"
                ),
                {"c": ct, "l": lut, "e": int(eid)},
            )
        # the runs experiment and Default get fixed times too
        session.execute(sqlalchemy.text(
            "UPDATE experiments SET creation_time = 100, last_update_time = 100 "
            "WHERE experiment_id IN (0, :e)"), {"e": int(exp_id)})

    all_exps = store.search_experiments(ViewType.ALL, 1000)
    exps_json = [
        dict(experiment_id=e.experiment_id, name=e.name, artifact_location=e.artifact_location,
             lifecycle_stage=e.lifecycle_stage, creation_time=e.creation_time,
             last_update_time=e.last_update_time, tags=e.tags)
        for e in all_exps
    ]

    def exp_case(filter_string, order_by, max_results=1000, page_token=None):
        case = {"filter": filter_string, "order_by": order_by, "max_results": max_results,
                "page_token": page_token}
        try:
            res = store.search_experiments(ViewType.ALL, max_results, filter_string, order_by,
                                           page_token)
            case["sql"] = {"ids": [e.experiment_id for e in res], "token": _tok(res.token)}
        except Exception as e:
            case["sql"] = err(e)
        try:
            filtered = SearchExperimentsUtils.filter(all_exps, filter_string)
            ordered = SearchExperimentsUtils.sort(
                filtered, order_by or ["creation_time DESC", "experiment_id ASC"])
            page, token = SearchUtils.paginate(ordered, page_token, max_results)
            case["file"] = {"ids": [e.experiment_id for e in page],
                            "token": token.decode() if token else None}
        except Exception as e:
            case["file"] = err(e)
        return case

    exp_cases = []
    for f in EXPERIMENT_FILTERS:
        exp_cases.append(exp_case(fill(f, {"E0": exp_ids[0], "E2": exp_ids[2]}), []))
    for ob in EXPERIMENT_ORDER_BYS:
        exp_cases.append(exp_case("", ob))
    token = None
    while True:
        c = exp_case("", ["name"], 2, token)
        exp_cases.append(c)
        token = c["sql"].get("token")
        if not token:
            break

    with open(out_path, "w") as fh:
        json.dump(
            {
                "generator": "gen_fixtures.py with mlflow " + __import__("mlflow").__version__,
                "runs": runs_json,
                "run_cases": run_cases,
                "experiments": exps_json,
                "experiment_cases": exp_cases,
            },
            fh,
            indent=1,
            ensure_ascii=False,
        )
        fh.write("\n")
    print(f"wrote {out_path}: {len(run_cases)} run cases, {len(exp_cases)} experiment cases",
          file=sys.stderr)


def _exp_tag(k, v):
    from mlflow.entities import ExperimentTag

    return ExperimentTag(k, v)


if __name__ == "__main__":
    main()
