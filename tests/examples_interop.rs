//! The two examples (ports of MLflow's tracking examples) log into a store of each backend; real
//! MLflow reads the result exactly as mlscope does, with the expected names, params, metrics,
//! nesting and statuses.

mod support;

use mlscope::{RunStatus, TrackingClient, model::tags};
use support::*;

fn check_basic_tracking(backend: Backend) {
    let store = TempStore::new(backend);
    run_example("basic_tracking", &store.uri(), store.dir.path());
    let client = TrackingClient::new(&store.uri()).unwrap();
    let runs = runs_by_name(&client, "housing-price-prediction");
    let run = &runs["random-forest-experiment"];
    assert_eq!(runs.len(), 1);
    assert_eq!(run.info.status, RunStatus::Finished);
    assert_eq!(run.data.params["n_estimators"], "100");
    assert_eq!(run.data.params["max_depth"], "10");
    let mse = run.data.metrics["mse"].value;
    let rmse = run.data.metrics["rmse"].value;
    assert!(mse > 0.0 && mse < 1.0, "mse {mse}");
    assert!((rmse - mse.sqrt()).abs() < 1e-12);
    assert_eq!(run.data.tags[tags::SOURCE_TYPE], "LOCAL");

    let mut checks = Checks::default();
    check_store_against_mlflow(
        &store,
        &MlflowVersion::ALL,
        "example basic_tracking",
        &mut checks,
    );
    checks.finish();
}

fn check_nested_runs(backend: Backend) {
    let store = TempStore::new(backend);
    run_example("nested_runs", &store.uri(), store.dir.path());
    let client = TrackingClient::new(&store.uri()).unwrap();
    let runs = runs_by_name(&client, "hyperparameter-tuning");
    assert_eq!(runs.len(), 10, "{:?}", runs.keys().collect::<Vec<_>>());
    let parent = &runs["hyperparameter-tuning-parent"];
    assert_eq!(parent.info.status, RunStatus::Finished);
    assert!(!parent.data.tags.contains_key(tags::PARENT_RUN_ID));
    let mut best = f64::INFINITY;
    for n in [50, 100, 200] {
        for d in [5, 10, 15] {
            let child = &runs[&format!("rf_n{n}_d{d}")];
            assert_eq!(child.info.status, RunStatus::Finished);
            assert_eq!(child.data.tags[tags::PARENT_RUN_ID], parent.info.run_id);
            assert_eq!(child.data.params["n_estimators"], n.to_string());
            assert_eq!(child.data.params["max_depth"], d.to_string());
            best = best.min(child.data.metrics["mse"].value);
        }
    }
    assert_eq!(parent.data.metrics["best_mse"].value, best);
    assert!(parent.data.params.contains_key("best_n_estimators"));
    assert!(parent.data.params.contains_key("best_max_depth"));

    let mut checks = Checks::default();
    check_store_against_mlflow(
        &store,
        &MlflowVersion::ALL,
        "example nested_runs",
        &mut checks,
    );
    checks.finish();
}

#[test]
fn basic_tracking_file_store() {
    check_basic_tracking(Backend::File);
}

#[test]
fn basic_tracking_sqlite() {
    check_basic_tracking(Backend::Sqlite);
}

#[test]
fn nested_runs_file_store() {
    check_nested_runs(Backend::File);
}

#[test]
fn nested_runs_sqlite() {
    check_nested_runs(Backend::Sqlite);
}
