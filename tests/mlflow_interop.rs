//! Round trips with REAL MLflow (Python venvs from scripts/mlflow-venv.sh).
//!
//! For each backend (file, sqlite) and MLflow version (3.17.2, 2.22.5), one scenario of
//! tracking calls ([`scenario`]) is applied twice: by mlscope (`TrackingStore`) and by MLflow's own
//! store classes (scripts/mlflow_apply_ops.py). Then:
//!   1. MLflow reads the store mlscope wrote exactly as mlscope reads it;
//!   2. that store and the one MLflow wrote read the same after normalisation (ids by name) —
//!      mlscope writes what MLflow writes;
//!   3. mlscope reads the store MLflow wrote exactly as MLflow reads it.
//!
//! Without the venvs these tests print a loud SKIPPED banner and pass, unless
//! `MLSCOPE_REQUIRE_MLFLOW=1` (CI), which makes them fail. Python is found through
//! `MLSCOPE_MLFLOW_PYTHON_317` / `MLSCOPE_MLFLOW_PYTHON_222`, else
//! `${MLSCOPE_CACHE:-~/.cache/mlscope}/venv-mlflow-<version>/bin/python`.
//!
//! To check a store written some other way, e.g. by an example:
//!
//! ```ignore
//! #[test]
//! fn example_quickstart_is_read_by_mlflow() {
//!     let store = TempStore::new(Backend::File);
//!     let status = std::process::Command::new(example_binary("quickstart"))
//!         .env("MLFLOW_TRACKING_URI", store.uri())
//!         .current_dir(store.dir.path())
//!         .status()
//!         .unwrap();
//!     assert!(status.success());
//!     let mut checks = Checks::default();
//!     check_store_against_mlflow(&store, &MlflowVersion::ALL, "example quickstart", &mut checks);
//!     checks.finish();
//! }
//! ```

// the scenario is one big json! literal
#![recursion_limit = "512"]

mod support;

use std::collections::HashMap;

use mlscope::{
    CreateRun, Dataset, DatasetInput, InputTag, Metric, Param, RunStatus, RunTag, TrackingStore,
};
use serde_json::{Value, json};
use support::*;

// ---------------------------------------------------------------------------------------------
// The scenario (ops format: see scripts/mlflow_apply_ops.py)
// ---------------------------------------------------------------------------------------------

const T0: i64 = 1_700_000_000_000;

fn base_tags(user: &str) -> Value {
    json!([
        ["mlflow.user", user],
        ["mlflow.source.name", "mlflow_interop.rs"],
        ["mlflow.source.type", "LOCAL"]
    ])
}

fn create_run(exp: &str, name: &str, start: i64, extra_tags: &[(&str, &str)]) -> Value {
    let mut tags = base_tags("alice");
    for (k, v) in extra_tags {
        tags.as_array_mut().unwrap().push(json!([k, v]));
    }
    json!({"op": "create_run", "experiment": exp, "name": name, "user_id": "alice",
           "start_time": start, "tags": tags})
}

fn finish(run: &str, status: &str, end: i64) -> Value {
    json!({"op": "update_run", "run": run, "status": status, "end_time": end})
}

/// Experiments, runs with params / metrics (NaN, ±inf, repeated and negative steps, 1000-point
/// batch), tags, nested runs (`mlflow.parentRunId`), every status, deleted / restored runs, a
/// deleted and a renamed experiment, a dataset input, a deleted tag.
pub fn scenario() -> Value {
    let main = "interop/main";
    let curve: Vec<Value> = (0..1000)
        .map(|i| {
            json!([
                "curve",
                1.0 / f64::from(i + 1),
                T0 + 10_000 + i64::from(i),
                i
            ])
        })
        .collect();
    json!([
        {"op": "create_experiment", "name": main,
         "tags": [["team", "core"], ["mlflow.note.content", "# Interop\n\nmarkdown ✓"], ["tag/with/slash", "ok"]]},
        {"op": "create_experiment", "name": "Unicode ✓ exp (spaces)", "tags": []},
        {"op": "create_experiment", "name": "doomed-exp", "tags": [["why", "deleted below"]]},
        {"op": "set_experiment_tag", "experiment": main, "key": "priority", "value": "high"},

        create_run(main, "parent", T0, &[("mlflow.note.content", "Parent run.")]),
        {"op": "log_batch", "run": "parent",
         "params": [["lr", "0.01"], ["layers", "[64, 32]"], ["empty", ""], ["multi", "line1\nline2"],
                    ["unicode_größe", "naïve ☃ 数据"], ["model/encoder/depth", "12"],
                    ["key with spaces", "v w"], ["dots.in.key", "1"], ["long", "x".repeat(6000)]],
         "metrics": [["loss", 1.5, T0 + 1, 0], ["loss", 1.0, T0 + 2, 1], ["loss", 0.5, T0 + 3, 2],
                     ["nan_metric", 1.0, T0 + 1, 0], ["nan_metric", "NaN", T0 + 2, 1],
                     ["inf_metric", "Infinity", T0 + 1, 0], ["ninf_metric", "-Infinity", T0 + 1, 0],
                     ["inf_then_finite", "Infinity", T0 + 1, 0], ["inf_then_finite", 3.0, T0 + 2, 1],
                     ["negative_step", 1.0, T0 + 4, -5],
                     ["dup_step", 0.3, T0 + 5, 5], ["dup_step", 0.1, T0 + 5, 5], ["dup_step", 0.2, T0 + 5, 5],
                     ["ts_zero", 7.0, 0, 0], ["big_step", 2.0, T0 + 6, 1_099_511_627_776_i64],
                     ["extreme", 1e-300, T0 + 7, 0], ["extreme", -1.797_693_134_862_315_7e308, T0 + 8, 1],
                     ["precision", 0.1 + 0.2, T0 + 9, 0], ["train/acc", 0.9, T0 + 10, 0],
                     ["eval score", 0.8, T0 + 10, 0], ["unicode_метрика", 0.7, T0 + 10, 0]],
         "tags": [["stage", "train"], ["tag/with/slash", "ok"], ["multiline_tag", "a\nb\n\tc"], ["empty_tag", ""]]},
        {"op": "log_inputs", "run": "parent", "datasets": [
            {"name": "train-data", "digest": "abc12345", "source_type": "local",
             "source": "{\"uri\": \"/data/train.csv\"}",
             "schema": "{\"mlflow_colspec\": [{\"type\": \"double\", \"name\": \"x\", \"required\": true}]}",
             "profile": "{\"num_rows\": 10}", "tags": [["mlflow.data.context", "training"]]},
            {"name": "eval-data", "digest": "def67890", "source_type": "http",
             "source": "{\"url\": \"https://example.com/eval.csv\"}", "schema": null, "profile": null,
             "tags": []}]},

        create_run(main, "child-1", T0 + 60_000, &[("mlflow.parentRunId", "${run:parent}")]),
        {"op": "log_batch", "run": "child-1", "params": [["lr", "0.001"]]},
        {"op": "log_batch", "run": "child-1", "metrics": curve}, // exactly MLflow's 1000-entry limit
        finish("child-1", "FINISHED", T0 + 90_000),
        create_run(main, "child-2", T0 + 120_000, &[("mlflow.parentRunId", "${run:parent}")]),
        {"op": "log_batch", "run": "child-2", "params": [["lr", "0.1"]],
         "metrics": [["loss", "NaN", T0 + 120_001, 0]], "tags": [["error", "diverged"]]},
        finish("child-2", "FAILED", T0 + 150_000),
        finish("parent", "FINISHED", T0 + 200_000),

        create_run(main, "killed", T0 + 300_000, &[]),
        finish("killed", "KILLED", T0 + 310_000),
        create_run(main, "scheduled", T0 + 320_000, &[]),
        {"op": "update_run", "run": "scheduled", "status": "SCHEDULED", "end_time": null},
        create_run(main, "still-running", T0 + 330_000, &[]),
        {"op": "log_batch", "run": "still-running", "metrics": [["progress", 0.42, T0 + 330_001, 1]]},
        create_run(main, "to-delete", T0 + 340_000, &[]),
        {"op": "log_batch", "run": "to-delete", "params": [["doomed", "true"]], "metrics": [["x", 1.0, T0 + 340_001, 0]]},
        finish("to-delete", "FINISHED", T0 + 350_000),
        {"op": "delete_run", "run": "to-delete"},
        create_run(main, "restored", T0 + 360_000, &[]),
        {"op": "delete_run", "run": "restored"},
        {"op": "restore_run", "run": "restored"},
        create_run(main, "tag-deleted", T0 + 370_000, &[("temporary", "yes"), ("kept", "yes")]),
        {"op": "delete_tag", "run": "tag-deleted", "key": "temporary"},
        finish("tag-deleted", "FINISHED", T0 + 380_000),
        create_run(main, "same-name", T0 + 390_000, &[]),
        create_run(main, "same-name", T0 + 400_000, &[]),

        create_run("Unicode ✓ exp (spaces)", "ü-run ✓", T0 + 500_000, &[]),
        {"op": "log_batch", "run": "ü-run ✓", "params": [["p", "1"]], "metrics": [["m", 2.5, T0 + 500_001, 3]]},
        finish("ü-run ✓", "FINISHED", T0 + 510_000),
        {"op": "rename_experiment", "experiment": "Unicode ✓ exp (spaces)", "new_name": "Unicode ✓ renamed"},

        create_run("Default", "default-run", T0 + 600_000, &[]),
        finish("default-run", "FINISHED", T0 + 610_000),

        create_run("doomed-exp", "doomed-run", T0 + 700_000, &[]),
        {"op": "log_batch", "run": "doomed-run", "metrics": [["m", 1.0, T0 + 700_001, 0]]},
        finish("doomed-run", "FINISHED", T0 + 710_000),
        {"op": "delete_experiment", "experiment": "doomed-exp"}
    ])
}

// ---------------------------------------------------------------------------------------------
// The same ops through mlscope
// ---------------------------------------------------------------------------------------------

/// Applies `ops` (the format of scripts/mlflow_apply_ops.py) through mlscope's `TrackingStore`.
/// Returns experiment and run ids by name.
pub fn apply_ops_with_mlscope(
    store: &dyn TrackingStore,
    ops: &Value,
) -> (HashMap<String, String>, HashMap<String, String>) {
    let mut exps: HashMap<String, String> = HashMap::from([("Default".into(), "0".into())]);
    let mut runs: HashMap<String, String> = HashMap::new();
    let sub = |s: &str, exps: &HashMap<String, String>, runs: &HashMap<String, String>| {
        let mut out = s.to_string();
        while let Some(start) = out.find("${") {
            let end = start + out[start..].find('}').expect("unterminated ${");
            let inner = &out[start + 2..end];
            let (kind, name) = inner.split_once(':').expect("${kind:name}");
            let id = match kind {
                "run" => runs[name].clone(),
                "exp" => exps[name].clone(),
                other => panic!("unknown reference kind {other}"),
            };
            out.replace_range(start..=end, &id);
        }
        out
    };
    let pairs = |v: &Value, exps: &HashMap<String, String>, runs: &HashMap<String, String>| {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|p| {
                        (
                            sub(p[0].as_str().unwrap(), exps, runs),
                            sub(p[1].as_str().unwrap(), exps, runs),
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let str_of = |v: &Value| v.as_str().unwrap().to_string();
    for op in ops.as_array().expect("ops list") {
        let kind = op["op"].as_str().unwrap();
        let ctx = || format!("op {op}");
        match kind {
            "create_experiment" => {
                let name = str_of(&op["name"]);
                let tags = pairs(&op["tags"], &exps, &runs);
                let id = store
                    .create_experiment(&name, None, &tags)
                    .unwrap_or_else(|e| panic!("{}: {e}", ctx()));
                exps.insert(name, id);
            }
            "set_experiment_tag" => store
                .set_experiment_tag(
                    &exps[op["experiment"].as_str().unwrap()],
                    &str_of(&op["key"]),
                    &str_of(&op["value"]),
                )
                .unwrap_or_else(|e| panic!("{}: {e}", ctx())),
            "rename_experiment" => {
                let id = exps.remove(op["experiment"].as_str().unwrap()).unwrap();
                let new = str_of(&op["new_name"]);
                store
                    .rename_experiment(&id, &new)
                    .unwrap_or_else(|e| panic!("{}: {e}", ctx()));
                exps.insert(new, id);
            }
            "delete_experiment" => store
                .delete_experiment(&exps[op["experiment"].as_str().unwrap()])
                .unwrap_or_else(|e| panic!("{}: {e}", ctx())),
            "restore_experiment" => store
                .restore_experiment(&exps[op["experiment"].as_str().unwrap()])
                .unwrap_or_else(|e| panic!("{}: {e}", ctx())),
            "create_run" => {
                let name = str_of(&op["name"]);
                let tags = pairs(&op["tags"], &exps, &runs)
                    .into_iter()
                    .map(|(k, v)| RunTag::new(k, v))
                    .collect();
                let run = store
                    .create_run(CreateRun {
                        experiment_id: exps[op["experiment"].as_str().unwrap()].clone(),
                        user_id: op["user_id"].as_str().unwrap_or("").to_string(),
                        start_time: op["start_time"].as_i64(),
                        tags,
                        run_name: Some(name.clone()),
                    })
                    .unwrap_or_else(|e| panic!("{}: {e}", ctx()));
                runs.insert(name, run.info.run_id);
            }
            "log_batch" => {
                let metrics: Vec<Metric> = op["metrics"]
                    .as_array()
                    .map(|ms| {
                        ms.iter()
                            .map(|m| {
                                let value = match &m[1] {
                                    Value::String(s) => {
                                        s.parse::<f64>().unwrap_or_else(|_| match s.as_str() {
                                            "NaN" => f64::NAN,
                                            "Infinity" => f64::INFINITY,
                                            "-Infinity" => f64::NEG_INFINITY,
                                            other => panic!("bad metric value {other}"),
                                        })
                                    }
                                    v => v.as_f64().unwrap(),
                                };
                                Metric::new(
                                    sub(m[0].as_str().unwrap(), &exps, &runs),
                                    value,
                                    m[2].as_i64().unwrap(),
                                    m[3].as_i64().unwrap(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let params: Vec<Param> = pairs(&op["params"], &exps, &runs)
                    .into_iter()
                    .map(|(k, v)| Param::new(k, v))
                    .collect();
                let tags: Vec<RunTag> = pairs(&op["tags"], &exps, &runs)
                    .into_iter()
                    .map(|(k, v)| RunTag::new(k, v))
                    .collect();
                store
                    .log_batch(&runs[op["run"].as_str().unwrap()], &metrics, &params, &tags)
                    .unwrap_or_else(|e| panic!("{}: {e}", ctx()));
            }
            "update_run" => {
                let status = op["status"]
                    .as_str()
                    .map(|s| s.parse::<RunStatus>().unwrap());
                store
                    .update_run_info(
                        &runs[op["run"].as_str().unwrap()],
                        status,
                        op["end_time"].as_i64(),
                        None,
                    )
                    .unwrap_or_else(|e| panic!("{}: {e}", ctx()));
            }
            "delete_run" => store
                .delete_run(&runs[op["run"].as_str().unwrap()])
                .unwrap_or_else(|e| panic!("{}: {e}", ctx())),
            "restore_run" => store
                .restore_run(&runs[op["run"].as_str().unwrap()])
                .unwrap_or_else(|e| panic!("{}: {e}", ctx())),
            "delete_tag" => store
                .delete_tag(&runs[op["run"].as_str().unwrap()], &str_of(&op["key"]))
                .unwrap_or_else(|e| panic!("{}: {e}", ctx())),
            "log_inputs" => {
                let datasets: Vec<DatasetInput> = op["datasets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| DatasetInput {
                        dataset: Dataset {
                            name: str_of(&d["name"]),
                            digest: str_of(&d["digest"]),
                            source_type: str_of(&d["source_type"]),
                            source: str_of(&d["source"]),
                            schema: d["schema"].as_str().map(str::to_string),
                            profile: d["profile"].as_str().map(str::to_string),
                        },
                        tags: pairs(&d["tags"], &exps, &runs)
                            .into_iter()
                            .map(|(key, value)| InputTag { key, value })
                            .collect(),
                    })
                    .collect();
                store
                    .log_inputs(&runs[op["run"].as_str().unwrap()], &datasets)
                    .unwrap_or_else(|e| panic!("{}: {e}", ctx()));
            }
            other => panic!("unknown op {other}"),
        }
    }
    (exps, runs)
}

// ---------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------

fn round_trip(backend: Backend, version: MlflowVersion) {
    let what = format!("{} store, MLflow {}", backend.as_str(), version.as_str());
    let Some(_) = require_mlflow(version, &what) else {
        return;
    };
    let mut checks = Checks::default();
    let ops = scenario();

    // mlscope writes, mlscope reads
    let ours_store = TempStore::new(backend);
    {
        let store = mlscope::open_store(&ours_store.uri())
            .unwrap_or_else(|e| panic!("open_store({}): {e}", ours_store.uri()));
        apply_ops_with_mlscope(store.as_ref(), &ops);
    }
    let ours = read_canonical_uri(&ours_store.uri(), CanonOptions::default());
    checks.check(
        ours.warnings.is_empty(),
        format!("{what}: warnings on our own store: {:?}", ours.warnings),
    );

    // 1. MLflow reads our store like we do
    let ours_as_mlflow_reads_it =
        check_mlflow_reads_like_us(&ours_store, &ours.doc, version, &what, &mut checks);

    // MLflow writes the same calls into its own store, MLflow reads it
    let their_store = TempStore::new(backend);
    apply_ops_with_mlflow(&their_store.uri(), &ops, version);
    let theirs = read_with_mlflow(&their_store.copy().uri(), version);

    // 2. same content, ids masked (MLflow's reading of our store when it could read it)
    let ours_for_parity = ours_as_mlflow_reads_it.as_ref().unwrap_or(&ours.doc);
    checks.json(
        &normalize_doc(ours_for_parity),
        &normalize_doc(&theirs),
        &format!("{what}: same calls, store written by mlscope vs by MLflow (normalized)"),
    );

    // 3. we read MLflow's store like MLflow does
    let ours_on_theirs = read_canonical_uri(&their_store.uri(), CanonOptions::default());
    checks.check(
        ours_on_theirs.warnings.is_empty(),
        format!(
            "{what}: warnings on MLflow's store: {:?}",
            ours_on_theirs.warnings
        ),
    );
    checks.json(
        &ours_on_theirs.doc,
        &theirs,
        &format!("{what}: store written by MLflow, mlscope reading vs MLflow reading"),
    );
    checks.finish();
}

#[test]
fn file_store_round_trip_mlflow_3_17_2() {
    round_trip(Backend::File, MlflowVersion::V3_17_2);
}

#[test]
fn file_store_round_trip_mlflow_2_22_5() {
    round_trip(Backend::File, MlflowVersion::V2_22_5);
}

#[test]
fn sqlite_round_trip_mlflow_3_17_2() {
    round_trip(Backend::Sqlite, MlflowVersion::V3_17_2);
}

#[test]
fn sqlite_round_trip_mlflow_2_22_5() {
    round_trip(Backend::Sqlite, MlflowVersion::V2_22_5);
}

// ---------------------------------------------------------------------------------------------
// The fixtures and the harness, checked against MLflow
// ---------------------------------------------------------------------------------------------

/// The committed fixtures, copied out of git (empty dirs restored), still read by MLflow exactly
/// as when they were generated (`expected.json`, minus artifacts: their absolute location
/// `/tmp/mlscope-fixtures/...` may not exist here).
#[test]
fn committed_fixtures_still_read_the_same_by_mlflow() {
    let mut checks = Checks::default();
    for fx in FIXTURES {
        let Some(_) = require_mlflow(fx.version, fx.name) else {
            continue;
        };
        let copy = fx.copy();
        let mut expected = fx.expected();
        strip_artifacts(&mut expected);
        match try_read_with_mlflow(&copy.uri(), fx.version, &[]) {
            Ok(now) => checks.json(
                &now,
                &expected,
                &format!(
                    "{}: MLflow reading the committed copy vs expected.json",
                    fx.name
                ),
            ),
            Err(e) => checks.fail(format!("{}: {e}", fx.name)),
        }
    }
    checks.finish();
}

/// `support::normalize_doc` (Rust port) == `mlflow_read_check.py --normalize` (Python).
#[test]
fn normalize_port_matches_python() {
    let mut checks = Checks::default();
    for name in ["mlflow-3.17.2-file", "mlflow-3.17.2-sqlite"] {
        let fx = Fixture::named(name);
        let Some(_) = require_mlflow(fx.version, name) else {
            return;
        };
        let copy = fx.copy();
        let mut expected = fx.expected();
        strip_artifacts(&mut expected);
        match try_read_with_mlflow(&copy.uri(), fx.version, &["--normalize"]) {
            Ok(python) => checks.json(
                &normalize_doc(&expected),
                &python,
                &format!("{name}: Rust normalize_doc vs Python --normalize"),
            ),
            Err(e) => checks.fail(format!("{name}: {e}")),
        }
    }
    checks.finish();
}
