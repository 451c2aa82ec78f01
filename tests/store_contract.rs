//! The store contract: one test body per behaviour, run against every backend
//! (like ripgrep's `rgtest!`: one body, several engines).
//!
//! The `rest` backend is a real `mlflow server` 3.17.2 (SQLite backend; started once per test
//! binary and shared, see `rest_backend`); without MLflow those tests skip LOUDLY (fail with
//! `MLSCOPE_REQUIRE_MLFLOW=1`).

mod support;
mod support_server;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock};

use mlscope::{
    DatasetInput, ErrorCode, ExperimentQuery, InputTag, LifecycleStage, Metric, Param, RunQuery,
    RunStatus, RunTag, TrackingStore, ViewType, model::Dataset, model::tags,
};

/// A store in a temporary directory that lives as long as the value.
struct Backend {
    _dir: tempfile::TempDir,
    store: Arc<dyn TrackingStore>,
}

fn file_backend() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("file://{}", dir.path().join("mlruns").display());
    let store = mlscope::open_store(&uri).unwrap();
    Backend { _dir: dir, store }
}

fn sqlite_backend() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("mlflow.db").display());
    let store = mlscope::open_store(&uri).unwrap();
    Backend { _dir: dir, store }
}

/// The one `mlflow server` of this test binary (`None` when MLflow is not installed). Its
/// guard process stops it when the binary exits (statics are never dropped).
fn shared_server() -> Option<&'static support_server::MlflowServer> {
    static SERVER: OnceLock<Option<support_server::MlflowServer>> = OnceLock::new();
    SERVER
        .get_or_init(|| support_server::MlflowServer::start("store_contract::rest"))
        .as_ref()
}

/// A [`mlscope::RestStore`] on the shared server, seen through [`Scoped`] so that concurrent
/// tests do not see each other's experiments. Experiment names are unique across the test
/// bodies, and runs in the shared experiment `0` are only ever looked up by id (or checked for
/// absence), so the bodies hold while other tests run on the same server.
fn rest_backend() -> Option<Backend> {
    let server = shared_server()?;
    let store = mlscope::open_store(&server.uri()).unwrap();
    Some(Backend {
        _dir: tempfile::tempdir().unwrap(),
        store: Arc::new(Scoped {
            inner: store,
            mine: Mutex::new(BTreeSet::new()),
        }),
    })
}

/// A store that passes every call through, except that `search_experiments` only returns the
/// experiments created through this value (and `0`): on a server shared by concurrent tests,
/// a test's experiment listing would otherwise include the others'. (Paging is not combined
/// with this filter by any test body.)
struct Scoped {
    inner: Arc<dyn TrackingStore>,
    mine: Mutex<BTreeSet<String>>,
}

impl TrackingStore for Scoped {
    fn tracking_uri(&self) -> String {
        self.inner.tracking_uri()
    }
    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[(String, String)],
    ) -> mlscope::Result<String> {
        let id = self
            .inner
            .create_experiment(name, artifact_location, tags)?;
        self.mine.lock().unwrap().insert(id.clone());
        Ok(id)
    }
    fn get_experiment(&self, experiment_id: &str) -> mlscope::Result<mlscope::Experiment> {
        self.inner.get_experiment(experiment_id)
    }
    fn get_experiment_by_name(&self, name: &str) -> mlscope::Result<Option<mlscope::Experiment>> {
        self.inner.get_experiment_by_name(name)
    }
    fn search_experiments(
        &self,
        query: &ExperimentQuery,
    ) -> mlscope::Result<mlscope::Page<mlscope::Experiment>> {
        let mut page = self.inner.search_experiments(query)?;
        let mine = self.mine.lock().unwrap();
        page.items
            .retain(|e| e.experiment_id == "0" || mine.contains(&e.experiment_id));
        Ok(page)
    }
    fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> mlscope::Result<()> {
        self.inner.rename_experiment(experiment_id, new_name)
    }
    fn delete_experiment(&self, experiment_id: &str) -> mlscope::Result<()> {
        self.inner.delete_experiment(experiment_id)
    }
    fn restore_experiment(&self, experiment_id: &str) -> mlscope::Result<()> {
        self.inner.restore_experiment(experiment_id)
    }
    fn set_experiment_tag(
        &self,
        experiment_id: &str,
        key: &str,
        value: &str,
    ) -> mlscope::Result<()> {
        self.inner.set_experiment_tag(experiment_id, key, value)
    }
    fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> mlscope::Result<()> {
        self.inner.delete_experiment_tag(experiment_id, key)
    }
    fn create_run(&self, request: mlscope::CreateRun) -> mlscope::Result<mlscope::Run> {
        self.inner.create_run(request)
    }
    fn get_run(&self, run_id: &str) -> mlscope::Result<mlscope::Run> {
        self.inner.get_run(run_id)
    }
    fn update_run_info(
        &self,
        run_id: &str,
        status: Option<RunStatus>,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> mlscope::Result<mlscope::RunInfo> {
        self.inner
            .update_run_info(run_id, status, end_time, run_name)
    }
    fn delete_run(&self, run_id: &str) -> mlscope::Result<()> {
        self.inner.delete_run(run_id)
    }
    fn restore_run(&self, run_id: &str) -> mlscope::Result<()> {
        self.inner.restore_run(run_id)
    }
    fn search_runs(&self, query: &RunQuery) -> mlscope::Result<mlscope::Page<mlscope::Run>> {
        self.inner.search_runs(query)
    }
    fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[RunTag],
    ) -> mlscope::Result<()> {
        self.inner.log_batch(run_id, metrics, params, tags)
    }
    fn get_metric_history(&self, run_id: &str, key: &str) -> mlscope::Result<Vec<Metric>> {
        self.inner.get_metric_history(run_id, key)
    }
    fn delete_tag(&self, run_id: &str, key: &str) -> mlscope::Result<()> {
        self.inner.delete_tag(run_id, key)
    }
    fn log_inputs(&self, run_id: &str, datasets: &[DatasetInput]) -> mlscope::Result<()> {
        self.inner.log_inputs(run_id, datasets)
    }
    fn log_metric(&self, run_id: &str, metric: &Metric) -> mlscope::Result<()> {
        self.inner.log_metric(run_id, metric)
    }
    fn log_param(&self, run_id: &str, param: &Param) -> mlscope::Result<()> {
        self.inner.log_param(run_id, param)
    }
    fn set_tag(&self, run_id: &str, tag: &RunTag) -> mlscope::Result<()> {
        self.inner.set_tag(run_id, tag)
    }
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod file {
            $( #[test] fn $name() { super::$name(super::file_backend().store.as_ref()) } )*
        }
        mod sqlite {
            $( #[test] fn $name() { super::$name(super::sqlite_backend().store.as_ref()) } )*
        }
        mod rest {
            $(
                #[test]
                fn $name() {
                    let Some(backend) = super::rest_backend() else { return };
                    super::$name(backend.store.as_ref())
                }
            )*
        }
    };
}

contract!(
    default_experiment_exists,
    experiment_lifecycle,
    experiment_names_are_unique,
    experiment_tags,
    search_experiments_by_view,
    run_creation_and_system_fields,
    run_names_mirror_the_tag,
    metrics_latest_and_history,
    non_finite_metrics,
    params_are_immutable_and_truncated,
    tags_overwrite_and_delete,
    run_status_updates,
    run_delete_and_restore,
    deleted_runs_refuse_logging,
    batch_limits_and_atomic_validation,
    unknown_ids_are_not_found,
    search_runs_order_and_paging,
    dataset_inputs,
    concurrent_logging_loses_nothing,
    duplicate_params_are_refused,
    over_long_dataset_fields_are_refused,
    long_tag_values_are_truncated,
);

fn default_experiment_exists(store: &dyn TrackingStore) {
    let exp = store.get_experiment("0").unwrap();
    assert_eq!(exp.name, "Default");
    assert_eq!(exp.lifecycle_stage, LifecycleStage::Active);
    assert_eq!(
        store
            .get_experiment_by_name("Default")
            .unwrap()
            .unwrap()
            .experiment_id,
        "0"
    );
}

fn experiment_lifecycle(store: &dyn TrackingStore) {
    let id = store
        .create_experiment("life", None, &[("k".into(), "v".into())])
        .unwrap();
    let exp = store.get_experiment(&id).unwrap();
    assert_eq!(exp.name, "life");
    assert_eq!(exp.tags["k"], "v");
    assert!(!exp.artifact_location.is_empty());
    assert!(exp.creation_time.is_some());

    store.rename_experiment(&id, "life-renamed").unwrap();
    assert_eq!(store.get_experiment(&id).unwrap().name, "life-renamed");
    assert!(store.get_experiment_by_name("life").unwrap().is_none());

    let run = store
        .create_run(mlscope::CreateRun {
            experiment_id: id.clone(),
            user_id: "u".into(),
            start_time: Some(1),
            tags: vec![],
            run_name: Some("r".into()),
        })
        .unwrap();
    store.delete_experiment(&id).unwrap();
    let deleted = store.get_experiment(&id).unwrap();
    assert_eq!(deleted.lifecycle_stage, LifecycleStage::Deleted);
    assert_eq!(
        store
            .get_run(&run.info.run_id)
            .unwrap()
            .info
            .lifecycle_stage,
        LifecycleStage::Deleted
    );
    // No new runs in a deleted experiment.
    let err = store
        .create_run(mlscope::CreateRun {
            experiment_id: id.clone(),
            ..Default::default()
        })
        .unwrap_err();
    // MLflow's file store says INVALID_STATE here, its SQL store INVALID_PARAMETER_VALUE.
    assert!(
        matches!(
            err.error_code(),
            ErrorCode::InvalidState | ErrorCode::InvalidParameterValue
        ),
        "{err}"
    );

    store.restore_experiment(&id).unwrap();
    assert_eq!(
        store.get_experiment(&id).unwrap().lifecycle_stage,
        LifecycleStage::Active
    );
    assert_eq!(
        store
            .get_run(&run.info.run_id)
            .unwrap()
            .info
            .lifecycle_stage,
        LifecycleStage::Active
    );

    // The default experiment cannot be deleted (MLflow's file store refuses it too).
    let err = store.delete_experiment("0").unwrap_err();
    assert!(err.to_string().contains('0'), "{err}");
}

fn experiment_names_are_unique(store: &dyn TrackingStore) {
    store.create_experiment("dup", None, &[]).unwrap();
    let err = store.create_experiment("dup", None, &[]).unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::ResourceAlreadyExists);
    let err = store.create_experiment("", None, &[]).unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
    let err = store
        .create_experiment(&"x".repeat(501), None, &[])
        .unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
}

fn experiment_tags(store: &dyn TrackingStore) {
    let id = store.create_experiment("tagged", None, &[]).unwrap();
    store.set_experiment_tag(&id, "a/b", "nested").unwrap();
    store.set_experiment_tag(&id, "plain", "1").unwrap();
    store.set_experiment_tag(&id, "plain", "2").unwrap();
    let exp = store.get_experiment(&id).unwrap();
    assert_eq!(exp.tags["a/b"], "nested");
    assert_eq!(exp.tags["plain"], "2");
    store.delete_experiment_tag(&id, "plain").unwrap();
    assert!(
        !store
            .get_experiment(&id)
            .unwrap()
            .tags
            .contains_key("plain")
    );
    let err = store.set_experiment_tag(&id, "bad//key", "v").unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
}

fn search_experiments_by_view(store: &dyn TrackingStore) {
    let a = store.create_experiment("view-a", None, &[]).unwrap();
    let b = store.create_experiment("view-b", None, &[]).unwrap();
    store.delete_experiment(&b).unwrap();
    let ids = |view| -> Vec<String> {
        let query = ExperimentQuery {
            view_type: view,
            ..ExperimentQuery::default()
        };
        let mut ids: Vec<String> = store
            .search_experiments(&query)
            .unwrap()
            .items
            .into_iter()
            .map(|e| e.experiment_id)
            .collect();
        ids.sort();
        ids
    };
    let active = ids(ViewType::ActiveOnly);
    assert!(active.contains(&a) && active.contains(&"0".to_string()) && !active.contains(&b));
    assert_eq!(ids(ViewType::DeletedOnly), vec![b.clone()]);
    assert_eq!(ids(ViewType::All).len(), 3);
}

fn new_run(store: &dyn TrackingStore, experiment_id: &str, name: &str, start: i64) -> String {
    store
        .create_run(mlscope::CreateRun {
            experiment_id: experiment_id.into(),
            user_id: "alice".into(),
            start_time: Some(start),
            tags: vec![RunTag::new(tags::SOURCE_TYPE, "LOCAL")],
            run_name: Some(name.into()),
        })
        .unwrap()
        .info
        .run_id
}

fn run_creation_and_system_fields(store: &dyn TrackingStore) {
    let run = store
        .create_run(mlscope::CreateRun {
            experiment_id: "0".into(),
            user_id: String::new(),
            start_time: Some(1_700_000_000_000),
            tags: vec![RunTag::new("t", "v")],
            run_name: None,
        })
        .unwrap();
    let info = &run.info;
    assert_eq!(info.run_id.len(), 32);
    assert_eq!(info.status, RunStatus::Running);
    assert_eq!(info.user_id, "unknown");
    assert_eq!(info.start_time, Some(1_700_000_000_000));
    assert_eq!(info.end_time, None);
    assert!(
        info.artifact_uri
            .ends_with(&format!("{}/artifacts", info.run_id))
    );
    assert!(!info.run_name.is_empty(), "a random name is chosen");
    let stored = store.get_run(&info.run_id).unwrap();
    assert_eq!(stored.data.tags[tags::RUN_NAME], info.run_name);
    assert_eq!(stored.data.tags["t"], "v");
    assert_eq!(stored.info, run.info);
}

fn run_names_mirror_the_tag(store: &dyn TrackingStore) {
    let id = new_run(store, "0", "first", 1);
    store
        .update_run_info(&id, None, None, Some("second"))
        .unwrap();
    let run = store.get_run(&id).unwrap();
    assert_eq!(run.info.run_name, "second");
    assert_eq!(run.data.tags[tags::RUN_NAME], "second");
    // A name given only as a tag becomes the run name.
    let from_tag = store
        .create_run(mlscope::CreateRun {
            experiment_id: "0".into(),
            tags: vec![RunTag::new(tags::RUN_NAME, "by-tag")],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(from_tag.info.run_name, "by-tag");
}

fn metrics_latest_and_history(store: &dyn TrackingStore) {
    let id = new_run(store, "0", "metrics", 1);
    let values = [
        Metric::new("loss", 0.9, 100, 0),
        Metric::new("loss", 0.5, 200, 1),
        Metric::new("loss", 0.7, 150, 1), // same step, older timestamp: not latest
        Metric::new("loss", 0.6, 300, 0), // newer timestamp, lower step: not latest
        Metric::new("nested/key", 1.5, 10, -5),
        Metric::new("big_step", 2.0, 10, 1 << 40),
    ];
    store.log_batch(&id, &values, &[], &[]).unwrap();
    store
        .log_metric(&id, &Metric::new("loss", 0.4, 200, 1))
        .unwrap(); // ties: greater value wins? no: 0.4 < 0.5
    let run = store.get_run(&id).unwrap();
    let loss = &run.data.metrics["loss"];
    assert_eq!((loss.value, loss.step, loss.timestamp), (0.5, 1, 200));
    assert_eq!(run.data.metrics["nested/key"].step, -5);
    assert_eq!(run.data.metrics["big_step"].step, 1 << 40);

    let mut history: Vec<(i64, i64, f64)> = store
        .get_metric_history(&id, "loss")
        .unwrap()
        .into_iter()
        .map(|m| (m.step, m.timestamp, m.value))
        .collect();
    history.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(
        history,
        vec![
            (0, 100, 0.9),
            (0, 300, 0.6),
            (1, 150, 0.7),
            (1, 200, 0.4),
            (1, 200, 0.5)
        ]
    );
    assert!(store.get_metric_history(&id, "absent").unwrap().is_empty());
}

fn non_finite_metrics(store: &dyn TrackingStore) {
    let id = new_run(store, "0", "nonfinite", 1);
    let values = [
        Metric::new("nan", f64::NAN, 1, 0),
        Metric::new("inf", f64::INFINITY, 1, 0),
        Metric::new("ninf", f64::NEG_INFINITY, 1, 0),
        Metric::new("tiny", 5e-324, 1, 0),
        Metric::new("negzero", -0.0, 1, 0),
    ];
    store.log_batch(&id, &values, &[], &[]).unwrap();
    let run = store.get_run(&id).unwrap();
    let m = &run.data.metrics;
    assert!(m["nan"].value.is_nan());
    // SQLite clamps infinities to ±f64::MAX, as MLflow does; files keep them.
    assert!(m["inf"].value == f64::INFINITY || m["inf"].value == f64::MAX);
    assert!(m["ninf"].value == f64::NEG_INFINITY || m["ninf"].value == f64::MIN);
    assert_eq!(m["tiny"].value, 5e-324);
    assert_eq!(m["negzero"].value, 0.0);
    let history = store.get_metric_history(&id, "nan").unwrap();
    assert!(history[0].value.is_nan());
}

fn params_are_immutable_and_truncated(store: &dyn TrackingStore) {
    let id = new_run(store, "0", "params", 1);
    store.log_param(&id, &Param::new("lr", "0.01")).unwrap();
    store.log_param(&id, &Param::new("lr", "0.01")).unwrap();
    let err = store.log_param(&id, &Param::new("lr", "0.1")).unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
    assert!(err.to_string().contains("lr"), "{err}");
    store
        .log_param(&id, &Param::new("long", "é".repeat(7000)))
        .unwrap();
    store
        .log_param(&id, &Param::new("multi", "line1\nline2"))
        .unwrap();
    store.log_param(&id, &Param::new("empty", "")).unwrap();
    let run = store.get_run(&id).unwrap();
    assert_eq!(run.data.params["lr"], "0.01");
    assert_eq!(run.data.params["long"].chars().count(), 6000);
    assert_eq!(run.data.params["multi"], "line1\nline2");
    assert_eq!(run.data.params["empty"], "");
    let err = store
        .log_param(&id, &Param::new("a/../b", "x"))
        .unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
}

fn tags_overwrite_and_delete(store: &dyn TrackingStore) {
    let id = new_run(store, "0", "tags", 1);
    store.set_tag(&id, &RunTag::new("a/b/c", "1")).unwrap();
    store.set_tag(&id, &RunTag::new("a/b/c", "2")).unwrap();
    store
        .set_tag(&id, &RunTag::new("long", "x".repeat(9000)))
        .unwrap();
    let run = store.get_run(&id).unwrap();
    assert_eq!(run.data.tags["a/b/c"], "2");
    assert!(run.data.tags["long"].len() <= 9000);
    store.delete_tag(&id, "a/b/c").unwrap();
    assert!(!store.get_run(&id).unwrap().data.tags.contains_key("a/b/c"));
    let err = store.delete_tag(&id, "a/b/c").unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::ResourceDoesNotExist);
}

fn run_status_updates(store: &dyn TrackingStore) {
    let id = new_run(store, "0", "status", 1);
    let info = store
        .update_run_info(&id, Some(RunStatus::Finished), Some(99), None)
        .unwrap();
    assert_eq!(info.status, RunStatus::Finished);
    assert_eq!(info.end_time, Some(99));
    let run = store.get_run(&id).unwrap();
    assert_eq!(run.info.status, RunStatus::Finished);
    assert_eq!(run.info.end_time, Some(99));
    for status in RunStatus::ALL {
        store
            .update_run_info(&id, Some(status), None, None)
            .unwrap();
        assert_eq!(store.get_run(&id).unwrap().info.status, status);
    }
}

fn run_delete_and_restore(store: &dyn TrackingStore) {
    let id = new_run(store, "0", "del", 1);
    store.delete_run(&id).unwrap();
    assert_eq!(
        store.get_run(&id).unwrap().info.lifecycle_stage,
        LifecycleStage::Deleted
    );
    let listed = store.search_runs(&RunQuery::new(["0"])).unwrap();
    assert!(listed.items.iter().all(|r| r.info.run_id != id));
    store.restore_run(&id).unwrap();
    assert_eq!(
        store.get_run(&id).unwrap().info.lifecycle_stage,
        LifecycleStage::Active
    );
}

fn deleted_runs_refuse_logging(store: &dyn TrackingStore) {
    let id = new_run(store, "0", "deleted-log", 1);
    store.delete_run(&id).unwrap();
    let err = store
        .log_metric(&id, &Metric::new("m", 1.0, 1, 0))
        .unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue, "{err}");
}

fn batch_limits_and_atomic_validation(store: &dyn TrackingStore) {
    let id = new_run(store, "0", "batch", 1);
    let too_many: Vec<Metric> = (0..1001).map(|i| Metric::new("m", 1.0, i, i)).collect();
    let err = store.log_batch(&id, &too_many, &[], &[]).unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
    // One bad key rejects the whole batch: nothing is written.
    let err = store
        .log_batch(
            &id,
            &[
                Metric::new("good", 1.0, 1, 0),
                Metric::new("bad//", 1.0, 1, 0),
            ],
            &[Param::new("p", "v")],
            &[],
        )
        .unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
    let run = store.get_run(&id).unwrap();
    assert!(run.data.metrics.is_empty() && run.data.params.is_empty());
    let err = store
        .log_metric(&id, &Metric::new("neg_ts", 1.0, -1, 0))
        .unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
}

fn unknown_ids_are_not_found(store: &dyn TrackingStore) {
    let missing_run = "0123456789abcdef0123456789abcdef";
    for err in [
        store.get_run(missing_run).unwrap_err(),
        store
            .log_metric(missing_run, &Metric::new("m", 1.0, 1, 0))
            .unwrap_err(),
        store.delete_run(missing_run).unwrap_err(),
        store.get_experiment("987654321").unwrap_err(),
        store.delete_experiment("987654321").unwrap_err(),
        store
            .create_run(mlscope::CreateRun {
                experiment_id: "987654321".into(),
                ..Default::default()
            })
            .unwrap_err(),
    ] {
        assert_eq!(err.error_code(), ErrorCode::ResourceDoesNotExist, "{err}");
    }
}

fn search_runs_order_and_paging(store: &dyn TrackingStore) {
    let exp = store.create_experiment("paging", None, &[]).unwrap();
    let ids: Vec<String> = (0..5)
        .map(|i| new_run(store, &exp, &format!("r{i}"), 1000 + i))
        .collect();
    let mut query = RunQuery::new([exp.as_str()]);
    query.max_results = 2;
    let mut seen = Vec::new();
    loop {
        let page = store.search_runs(&query).unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|r| r.info.run_id));
        match page.next_page_token {
            Some(t) => query.page_token = Some(t),
            None => break,
        }
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);
    query.max_results = 0;
    assert!(store.search_runs(&query).is_err());
}

fn dataset_inputs(store: &dyn TrackingStore) {
    let id = new_run(store, "0", "datasets", 1);
    let input = DatasetInput {
        dataset: Dataset {
            name: "train-data".into(),
            digest: "abc123".into(),
            source_type: "local".into(),
            source: r#"{"uri": "/data/train.csv"}"#.into(),
            schema: Some(r#"{"mlflow_colspec": []}"#.into()),
            profile: None,
        },
        tags: vec![InputTag {
            key: "mlflow.data.context".into(),
            value: "training".into(),
        }],
    };
    store.log_inputs(&id, std::slice::from_ref(&input)).unwrap();
    // Logging the same input again does not duplicate it.
    store.log_inputs(&id, std::slice::from_ref(&input)).unwrap();
    let run = store.get_run(&id).unwrap();
    assert_eq!(run.inputs.dataset_inputs.len(), 1);
    let got = &run.inputs.dataset_inputs[0];
    assert_eq!(got.dataset, input.dataset);
    assert_eq!(got.context(), Some("training"));
}

fn concurrent_logging_loses_nothing(store: &dyn TrackingStore) {
    let id = new_run(store, "0", "concurrent", 1);
    std::thread::scope(|s| {
        for t in 0..4 {
            let id = &id;
            s.spawn(move || {
                for i in 0..100 {
                    store
                        .log_metric(id, &Metric::new("shared", (t * 1000 + i) as f64, i, i))
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(store.get_metric_history(&id, "shared").unwrap().len(), 400);
}

/// MLflow's `_validate_param_keys_unique`: a batch naming a param twice is refused whole, with
/// the same value or not.
fn duplicate_params_are_refused(store: &dyn TrackingStore) {
    let id = new_run(store, "0", "duplicate-params", 1);
    for params in [
        vec![Param::new("p", "1"), Param::new("p", "2")],
        vec![Param::new("q", "1"), Param::new("q", "1")],
    ] {
        let err = store
            .log_batch(&id, &[Metric::new("m", 1.0, 1, 0)], &params, &[])
            .unwrap_err();
        assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
        assert!(
            err.to_string().contains("Duplicate parameter keys"),
            "{err}"
        );
    }
    let run = store.get_run(&id).unwrap();
    assert!(run.data.params.is_empty() && run.data.metrics.is_empty());
}

/// MLflow's `_validate_dataset_inputs`: each over-long dataset field or input tag is refused,
/// naming the field and its limit; fields at their limit are accepted.
fn over_long_dataset_fields_are_refused(store: &dyn TrackingStore) {
    let id = new_run(store, "0", "long-datasets", 1);
    let input =
        |name: String, digest: String, source: String, key: String, value: String| DatasetInput {
            dataset: Dataset {
                name,
                digest,
                source_type: "local".into(),
                source,
                schema: None,
                profile: None,
            },
            tags: vec![InputTag { key, value }],
        };
    let ok = || {
        (
            "d".to_string(),
            "abc".to_string(),
            "{}".to_string(),
            "k".to_string(),
            "v".to_string(),
        )
    };
    let cases = [
        ("'name' exceeds the maximum length of 500", {
            let mut c = ok();
            c.0 = "n".repeat(501);
            c
        }),
        ("'digest' exceeds the maximum length of 36", {
            let mut c = ok();
            c.1 = "d".repeat(37);
            c
        }),
        ("'source' exceeds the maximum length of 65535", {
            let mut c = ok();
            c.2 = "s".repeat(65_536);
            c
        }),
        ("'key' exceeds the maximum length of 255", {
            let mut c = ok();
            c.3 = "k".repeat(256);
            c
        }),
        ("'value' exceeds the maximum length of 500", {
            let mut c = ok();
            c.4 = "v".repeat(501);
            c
        }),
    ];
    for (message, (name, digest, source, key, value)) in cases {
        let err = store
            .log_inputs(&id, &[input(name, digest, source, key, value)])
            .unwrap_err();
        assert_eq!(
            err.error_code(),
            ErrorCode::InvalidParameterValue,
            "{message}"
        );
        assert!(err.to_string().contains(message), "{message}: {err}");
    }
    assert!(store.get_run(&id).unwrap().inputs.dataset_inputs.is_empty());
    let at_limits = input(
        "é".repeat(500),
        "d".repeat(36),
        "s".repeat(65_535),
        "k".repeat(255),
        "v".repeat(500),
    );
    store
        .log_inputs(&id, std::slice::from_ref(&at_limits))
        .unwrap();
    let run = store.get_run(&id).unwrap();
    assert_eq!(run.inputs.dataset_inputs.len(), 1);
    assert_eq!(run.inputs.dataset_inputs[0].dataset, at_limits.dataset);
}

/// MLflow's `_validate_tag`: a run tag value longer than 8000 characters is truncated to its
/// first 8000 (code points), through `set_tag` and `log_batch` alike.
fn long_tag_values_are_truncated(store: &dyn TrackingStore) {
    let id = new_run(store, "0", "long-tags", 1);
    let long = "é".repeat(9000);
    store.set_tag(&id, &RunTag::new("single", &long)).unwrap();
    store
        .log_batch(&id, &[], &[], &[RunTag::new("batch", &long)])
        .unwrap();
    let run = store.get_run(&id).unwrap();
    for key in ["single", "batch"] {
        let value = &run.data.tags[key];
        assert_eq!(value.chars().count(), 8000, "{key}");
        assert!(long.starts_with(value.as_str()), "{key}");
    }
}
