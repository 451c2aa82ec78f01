//! Tests of the SQLite backend.
//!
//! The `contract_*` functions take `&dyn TrackingStore` and check behaviour every backend must
//! share (MLflow's semantics, independent of storage); they are run here through
//! `contract_tests!` against a fresh [`SqliteStore`] and can be lifted as they are into a
//! shared, backend-agnostic suite. The `sqlite_*` tests check this backend's file format,
//! schema handling, locking and tolerance.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::Connection;

use super::*;
use crate::ErrorCode;
use crate::model::{Dataset, InputTag, LifecycleStage, ViewType};

// ----- helpers -------------------------------------------------------------------------------

fn new_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open_with_artifact_root(&dir.path().join("mlflow.db"), "/art")
        .expect("open new store");
    store.initialise().expect("create the schema");
    (dir, store)
}

fn raw(store: &SqliteStore) -> Connection {
    Connection::open(store.path()).expect("raw connection")
}

fn file_digest(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read file")
}

fn code<T: std::fmt::Debug>(r: Result<T>) -> ErrorCode {
    r.expect_err("expected an error").error_code()
}

fn new_run(store: &dyn TrackingStore, experiment_id: &str) -> Run {
    store
        .create_run(CreateRun {
            experiment_id: experiment_id.into(),
            user_id: "alice".into(),
            start_time: Some(1000),
            ..CreateRun::default()
        })
        .expect("create run")
}

fn m(key: &str, value: f64, timestamp: i64, step: i64) -> Metric {
    Metric::new(key, value, timestamp, step)
}

fn dataset_input(name: &str, digest: &str, context: &str) -> DatasetInput {
    DatasetInput {
        dataset: Dataset {
            name: name.into(),
            digest: digest.into(),
            source_type: "local".into(),
            source: "{\"uri\": \"/data\"}".into(),
            schema: Some("{}".into()),
            profile: None,
        },
        tags: vec![InputTag {
            key: crate::model::DATASET_CONTEXT_TAG.into(),
            value: context.into(),
        }],
    }
}

// ----- backend-agnostic contract -------------------------------------------------------------

/// Experiments: create, read by id and name, unique names, rename, tags, delete/restore
/// (with their runs), search by view type.
pub(crate) fn contract_experiment_lifecycle(store: &dyn TrackingStore) {
    let id = store
        .create_experiment("exp-a", None, &[("team".into(), "x".into())])
        .unwrap();
    let exp = store.get_experiment(&id).unwrap();
    assert_eq!(exp.name, "exp-a");
    assert_eq!(exp.lifecycle_stage, LifecycleStage::Active);
    assert_eq!(exp.tags.get("team").map(String::as_str), Some("x"));
    assert!(exp.creation_time.is_some());
    assert_eq!(
        store
            .get_experiment_by_name("exp-a")
            .unwrap()
            .unwrap()
            .experiment_id,
        id
    );
    assert!(store.get_experiment_by_name("nope").unwrap().is_none());
    assert_eq!(
        code(store.create_experiment("exp-a", None, &[])),
        ErrorCode::ResourceAlreadyExists
    );
    assert_eq!(
        code(store.create_experiment("", None, &[])),
        ErrorCode::InvalidParameterValue
    );
    assert_eq!(
        code(store.get_experiment("987654")),
        ErrorCode::ResourceDoesNotExist
    );

    store.rename_experiment(&id, "exp-b").unwrap();
    assert_eq!(store.get_experiment(&id).unwrap().name, "exp-b");
    store.set_experiment_tag(&id, "k", "v").unwrap();
    store.set_experiment_tag(&id, "k", "v2").unwrap();
    assert_eq!(store.get_experiment(&id).unwrap().tags["k"], "v2");
    store.delete_experiment_tag(&id, "k").unwrap();
    assert_eq!(
        code(store.delete_experiment_tag(&id, "k")),
        ErrorCode::ResourceDoesNotExist
    );

    let run = new_run(store, &id);
    store.delete_experiment(&id).unwrap();
    let deleted = store.get_experiment(&id).unwrap();
    assert_eq!(deleted.lifecycle_stage, LifecycleStage::Deleted);
    assert!(deleted.last_update_time >= deleted.creation_time);
    assert_eq!(
        store
            .get_run(&run.info.run_id)
            .unwrap()
            .info
            .lifecycle_stage,
        LifecycleStage::Deleted
    );
    // Names stay reserved while deleted.
    assert_eq!(
        code(store.create_experiment("exp-b", None, &[])),
        ErrorCode::ResourceAlreadyExists
    );
    assert!(
        store
            .create_run(CreateRun {
                experiment_id: id.clone(),
                ..CreateRun::default()
            })
            .is_err()
    );
    let active = store
        .search_experiments(&ExperimentQuery::default())
        .unwrap();
    assert!(active.items.iter().all(|e| e.experiment_id != id));
    let deleted_view = store
        .search_experiments(&ExperimentQuery {
            view_type: ViewType::DeletedOnly,
            ..ExperimentQuery::default()
        })
        .unwrap();
    assert_eq!(deleted_view.items.len(), 1);

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
}

/// Runs: creation defaults, run name in info and tag, renames, status/end time, delete and
/// restore, and what deleted runs refuse.
pub(crate) fn contract_run_lifecycle(store: &dyn TrackingStore) {
    let exp = store.create_experiment("runs", None, &[]).unwrap();
    let run = store
        .create_run(CreateRun {
            experiment_id: exp.clone(),
            user_id: String::new(),
            start_time: Some(1234),
            tags: vec![RunTag::new("t", "1")],
            run_name: Some("first".into()),
        })
        .unwrap();
    let id = run.info.run_id.clone();
    assert_eq!(id.len(), 32);
    assert_eq!(run.info.run_name, "first");
    assert_eq!(run.info.user_id, "unknown");
    assert_eq!(run.info.status, RunStatus::Running);
    assert_eq!(run.info.start_time, Some(1234));
    assert_eq!(run.info.end_time, None);
    assert_eq!(run.info.experiment_id, exp);
    assert!(run.info.artifact_uri.ends_with(&format!("/{id}/artifacts")));
    assert_eq!(run.data.tags[tags::RUN_NAME], "first");
    assert_eq!(run.data.tags["t"], "1");

    // Name from the tag, random name when neither is given, conflict is an error.
    let from_tag = store
        .create_run(CreateRun {
            experiment_id: exp.clone(),
            tags: vec![RunTag::new(tags::RUN_NAME, "tagged")],
            ..CreateRun::default()
        })
        .unwrap();
    assert_eq!(from_tag.info.run_name, "tagged");
    let random = new_run(store, &exp);
    assert!(!random.info.run_name.is_empty());
    assert_eq!(random.data.tags[tags::RUN_NAME], random.info.run_name);
    assert_eq!(
        code(store.create_run(CreateRun {
            experiment_id: exp.clone(),
            tags: vec![RunTag::new(tags::RUN_NAME, "a")],
            run_name: Some("b".into()),
            ..CreateRun::default()
        })),
        ErrorCode::InvalidParameterValue
    );

    let info = store
        .update_run_info(&id, Some(RunStatus::Finished), Some(5000), Some("renamed"))
        .unwrap();
    assert_eq!(info.status, RunStatus::Finished);
    assert_eq!(info.end_time, Some(5000));
    assert_eq!(info.run_name, "renamed");
    let got = store.get_run(&id).unwrap();
    assert_eq!(got.data.tags[tags::RUN_NAME], "renamed");
    store
        .set_tag(&id, &RunTag::new(tags::RUN_NAME, "via-tag"))
        .unwrap();
    assert_eq!(store.get_run(&id).unwrap().info.run_name, "via-tag");

    store.delete_run(&id).unwrap();
    assert_eq!(
        store.get_run(&id).unwrap().info.lifecycle_stage,
        LifecycleStage::Deleted
    );
    assert_eq!(
        code(store.log_metric(&id, &m("x", 1.0, 1, 0))),
        ErrorCode::InvalidParameterValue
    );
    assert_eq!(
        code(store.update_run_info(&id, Some(RunStatus::Failed), None, None)),
        ErrorCode::InvalidParameterValue
    );
    store.restore_run(&id).unwrap();
    assert_eq!(
        store.get_run(&id).unwrap().info.lifecycle_stage,
        LifecycleStage::Active
    );
    assert_eq!(
        code(store.get_run("0123456789abcdef0123456789abcdef")),
        ErrorCode::ResourceDoesNotExist
    );
    store.set_tag(&id, &RunTag::new("gone", "x")).unwrap();
    store.delete_tag(&id, "gone").unwrap();
    assert_eq!(
        code(store.delete_tag(&id, "gone")),
        ErrorCode::ResourceDoesNotExist
    );
}

/// Metrics: NaN round trip, ±inf, latest value by `(step, timestamp, value)` (across calls and
/// within a batch), duplicates ignored, history order and histories of several keys.
pub(crate) fn contract_metrics(store: &dyn TrackingStore) {
    let exp = store.create_experiment("metrics", None, &[]).unwrap();
    let id = new_run(store, &exp).info.run_id;
    store.log_metric(&id, &m("loss", 0.5, 100, 0)).unwrap();
    store.log_metric(&id, &m("loss", 0.25, 101, 1)).unwrap();
    store.log_metric(&id, &m("loss", 0.75, 102, 0)).unwrap(); // older step: not latest
    store.log_metric(&id, &m("loss", 0.75, 102, 0)).unwrap(); // exact duplicate: ignored
    store
        .log_batch(
            &id,
            &[
                m("nanm", f64::NAN, 5, 0),
                m("infm", f64::INFINITY, 5, 0),
                m("ninfm", f64::NEG_INFINITY, 5, 0),
                m("b", 1.0, 10, 3),
                m("b", 9.0, 10, 2),
                m("b", 2.0, 10, 3),
                m("b", 0.5, 11, 3),
            ],
            &[],
            &[],
        )
        .unwrap();
    let run = store.get_run(&id).unwrap();
    let metrics = &run.data.metrics;
    assert_eq!(metrics["loss"].value, 0.25);
    assert_eq!(metrics["loss"].step, 1);
    assert!(metrics["nanm"].value.is_nan());
    assert_eq!(metrics["b"], m("b", 0.5, 11, 3));

    let history = store.get_metric_history(&id, "loss").unwrap();
    assert_eq!(
        history,
        vec![
            m("loss", 0.5, 100, 0),
            m("loss", 0.25, 101, 1),
            m("loss", 0.75, 102, 0)
        ]
    );
    let nan = store.get_metric_history(&id, "nanm").unwrap();
    assert_eq!(nan.len(), 1);
    assert!(nan[0].value.is_nan());
    assert!(store.get_metric_history(&id, "absent").unwrap().is_empty());
    let both = store
        .get_metric_histories(&id, &["b".to_string(), "loss".to_string()])
        .unwrap();
    assert_eq!(both["b"].len(), 4);
    assert_eq!(both["loss"].len(), 3);

    // Invalid input.
    assert_eq!(
        code(store.log_metric(&id, &m("bad//key", 1.0, 1, 0))),
        ErrorCode::InvalidParameterValue
    );
    assert_eq!(
        code(store.log_metric(&id, &m("neg", 1.0, -1, 0))),
        ErrorCode::InvalidParameterValue
    );
    let too_many: Vec<Metric> = (0..1001).map(|i| m("x", 1.0, i, 0)).collect();
    assert_eq!(
        code(store.log_batch(&id, &too_many, &[], &[])),
        ErrorCode::InvalidParameterValue
    );
    assert_eq!(
        code(store.log_metric("0123456789abcdef0123456789abcdef", &m("x", 1.0, 1, 0))),
        ErrorCode::ResourceDoesNotExist
    );
}

/// Params are immutable (same value is a no-op), long values are truncated; tags overwrite and
/// are truncated.
pub(crate) fn contract_params_and_tags(store: &dyn TrackingStore) {
    let exp = store.create_experiment("params", None, &[]).unwrap();
    let id = new_run(store, &exp).info.run_id;
    store.log_param(&id, &Param::new("lr", "0.01")).unwrap();
    store.log_param(&id, &Param::new("lr", "0.01")).unwrap();
    let err = store.log_param(&id, &Param::new("lr", "0.02")).unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
    assert!(
        err.to_string()
            .contains("Changing param values is not allowed")
    );
    assert_eq!(
        code(store.log_batch(&id, &[], &[Param::new("d", "1"), Param::new("d", "1")], &[])),
        ErrorCode::InvalidParameterValue
    );

    let long = "p".repeat(7000);
    store.log_param(&id, &Param::new("long", long)).unwrap();
    store.set_tag(&id, &RunTag::new("t", "a")).unwrap();
    store.set_tag(&id, &RunTag::new("t", "b")).unwrap();
    store
        .set_tag(&id, &RunTag::new("longtag", "t".repeat(9000)))
        .unwrap();
    let run = store.get_run(&id).unwrap();
    assert_eq!(run.data.params["long"].chars().count(), 6000);
    assert_eq!(run.data.params["lr"], "0.01");
    assert_eq!(run.data.tags["t"], "b");
    assert_eq!(run.data.tags["longtag"].chars().count(), 8000);
}

/// Dataset inputs: logged once per run, datasets reused within the experiment, tags kept.
pub(crate) fn contract_inputs(store: &dyn TrackingStore) {
    let exp = store.create_experiment("inputs", None, &[]).unwrap();
    let a = new_run(store, &exp).info.run_id;
    let b = new_run(store, &exp).info.run_id;
    let ds = dataset_input("train", "abc123", "training");
    store
        .log_inputs(
            &a,
            &[ds.clone(), ds.clone(), dataset_input("eval", "def", "eval")],
        )
        .unwrap();
    store.log_inputs(&a, std::slice::from_ref(&ds)).unwrap();
    store.log_inputs(&b, std::slice::from_ref(&ds)).unwrap();
    let run = store.get_run(&a).unwrap();
    let inputs = &run.inputs.dataset_inputs;
    assert_eq!(inputs.len(), 2);
    let train = inputs.iter().find(|i| i.dataset.name == "train").unwrap();
    assert_eq!(train.dataset, ds.dataset);
    assert_eq!(train.context(), Some("training"));
    let eval = inputs.iter().find(|i| i.dataset.name == "eval").unwrap();
    assert_eq!(eval.context(), Some("eval"));
    assert_eq!(store.get_run(&b).unwrap().inputs.dataset_inputs.len(), 1);
    let mut bad = ds.clone();
    bad.dataset.digest = "d".repeat(37);
    assert_eq!(
        code(store.log_inputs(&a, &[bad])),
        ErrorCode::InvalidParameterValue
    );
}

/// search_runs: experiments, view types, default order (start_time DESC), paging.
pub(crate) fn contract_search_runs(store: &dyn TrackingStore) {
    let e1 = store.create_experiment("s1", None, &[]).unwrap();
    let e2 = store.create_experiment("s2", None, &[]).unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        let run = store
            .create_run(CreateRun {
                experiment_id: if i % 2 == 0 { e1.clone() } else { e2.clone() },
                start_time: Some(1000 + i),
                ..CreateRun::default()
            })
            .unwrap();
        store
            .log_metric(&run.info.run_id, &m("acc", i as f64, 1, 0))
            .unwrap();
        ids.push(run.info.run_id);
    }
    store.delete_run(&ids[4]).unwrap();
    let page = store.search_runs(&RunQuery::new([&e1, &e2])).unwrap();
    let got: Vec<&str> = page.items.iter().map(|r| r.info.run_id.as_str()).collect();
    assert_eq!(got, vec![&ids[3], &ids[2], &ids[1], &ids[0]]);
    assert!(page.next_page_token.is_none());
    assert_eq!(page.items[0].data.metrics["acc"].value, 3.0);

    let only_e1 = store.search_runs(&RunQuery::new([&e1])).unwrap();
    assert_eq!(only_e1.items.len(), 2);
    let deleted = store
        .search_runs(&RunQuery {
            view_type: ViewType::DeletedOnly,
            ..RunQuery::new([&e1, &e2])
        })
        .unwrap();
    assert_eq!(deleted.items.len(), 1);
    let all = store
        .search_runs(&RunQuery {
            view_type: ViewType::All,
            ..RunQuery::new([&e1, &e2])
        })
        .unwrap();
    assert_eq!(all.items.len(), 5);

    let mut query = RunQuery {
        max_results: 3,
        ..RunQuery::new([&e1, &e2])
    };
    let first = store.search_runs(&query).unwrap();
    assert_eq!(first.items.len(), 3);
    query.page_token = first.next_page_token.clone();
    assert!(query.page_token.is_some());
    let second = store.search_runs(&query).unwrap();
    assert_eq!(second.items.len(), 1);
    assert!(second.next_page_token.is_none());
    assert!(
        store
            .search_runs(&RunQuery::new(["424242"]))
            .unwrap()
            .items
            .is_empty()
    );
}

macro_rules! contract_tests {
    ($($name:ident => $body:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let (_dir, store) = new_store();
                $body(&store);
            }
        )*
    };
}

contract_tests! {
    sqlite_contract_experiment_lifecycle => contract_experiment_lifecycle,
    sqlite_contract_run_lifecycle => contract_run_lifecycle,
    sqlite_contract_metrics => contract_metrics,
    sqlite_contract_params_and_tags => contract_params_and_tags,
    sqlite_contract_inputs => contract_inputs,
    sqlite_contract_search_runs => contract_search_runs,
}

// ----- SQLite-specific -----------------------------------------------------------------------

#[test]
fn sqlite_store_is_send_sync_and_object_safe() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SqliteStore>();
    let (_dir, store) = new_store();
    let shared: Arc<dyn TrackingStore> = Arc::new(store);
    // sqlite:/// + the absolute path: sqlite:////tmp/… on unix, sqlite:///C:/… on Windows.
    let uri = shared.tracking_uri();
    let path = uri.strip_prefix("sqlite:///").unwrap_or_default();
    assert!(Path::new(path).is_absolute(), "{uri}");
}

/// What a store records for the root-relative local path `posix` (`/art`): the path itself on
/// unix; on Windows, where it has no drive, MLflow's `resolve_uri_if_local` there gives the
/// `file:` URI of it on the current drive (`file:///C:/art`).
fn recorded_local(posix: &str) -> String {
    if cfg!(windows) {
        crate::store::uri::path_to_file_uri(Path::new(posix))
    } else {
        posix.to_string()
    }
}

/// The path of a `sqlite:///` URI as the store writes it: `/` separators on every platform.
fn uri_path(path: &Path) -> String {
    let text = path.display().to_string();
    if cfg!(windows) {
        text.replace('\\', "/")
    } else {
        text
    }
}

#[test]
fn sqlite_new_database_has_mlflow_schema_and_rows() {
    let (dir, store) = new_store();
    assert_eq!(store.revision(), Some(schema::CREATE_HEAD));
    assert!(store.is_writable());
    assert_eq!(
        store.tracking_uri(),
        format!("sqlite:///{}", uri_path(&dir.path().join("mlflow.db")))
    );
    let conn = raw(&store);
    let count = |kind: &str| -> i64 {
        conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = ?1",
            [kind],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(count("table"), 65);
    assert_eq!(count("index"), 152); // 84 named + 68 automatic (UNIQUE/PRIMARY KEY)
    assert_eq!(count("trigger"), 1);
    let ws: (String, String) = conn
        .query_row("SELECT name, description FROM workspaces", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(
        ws,
        (
            "default".into(),
            "Default workspace for legacy resources".into()
        )
    );
    let default: (i64, String, String, String) = conn
        .query_row(
            "SELECT experiment_id, name, artifact_location, workspace FROM experiments",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        default,
        (
            0,
            "Default".into(),
            format!("{}/0", recorded_local("/art")),
            "default".into()
        )
    );
    // The journal mode is left alone.
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete");
    // Reopening does not change the file.
    drop(store);
    let before = file_digest(&dir.path().join("mlflow.db"));
    let again = SqliteStore::open(&dir.path().join("mlflow.db")).unwrap();
    again.search_runs(&RunQuery::new(["0"])).unwrap();
    drop(again);
    assert_eq!(before, file_digest(&dir.path().join("mlflow.db")));
}

#[test]
fn sqlite_rows_use_mlflow_encodings() {
    let (_dir, store) = new_store();
    let e1 = store.create_experiment("one", None, &[]).unwrap();
    let e2 = store
        .create_experiment("two", Some("relative/place"), &[])
        .unwrap();
    assert_eq!((e1.as_str(), e2.as_str()), ("1", "2"));
    let exp2 = store.get_experiment(&e2).unwrap();
    if cfg!(windows) {
        assert!(
            exp2.artifact_location.starts_with("file:///"),
            "{}",
            exp2.artifact_location
        );
    } else {
        assert!(Path::new(&exp2.artifact_location).is_absolute());
    }
    assert!(exp2.artifact_location.ends_with("/relative/place"));
    let art = recorded_local("/art");
    assert_eq!(
        store.get_experiment(&e1).unwrap().artifact_location,
        format!("{art}/1")
    );
    let run = new_run(&store, &e1);
    let id = run.info.run_id.clone();
    assert_eq!(run.info.artifact_uri, format!("{art}/1/{id}/artifacts"));
    store
        .log_batch(
            &id,
            &[
                m("nanm", f64::NAN, 7, 0),
                m("infm", f64::INFINITY, 7, 0),
                m("ninfm", f64::NEG_INFINITY, 7, 0),
            ],
            &[],
            &[],
        )
        .unwrap();
    let conn = raw(&store);
    let row: (String, String, String, String, String, Option<i64>) = conn
        .query_row(
            "SELECT status, source_type, source_name, entry_point_name, source_version, end_time \
             FROM runs WHERE run_uuid = ?1",
            [&id],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .unwrap();
    assert_eq!(
        row,
        (
            "RUNNING".into(),
            "UNKNOWN".into(),
            String::new(),
            String::new(),
            String::new(),
            None
        )
    );
    for table in ["metrics", "latest_metrics"] {
        let get = |key: &str| -> (f64, i64) {
            conn.query_row(
                &format!("SELECT value, is_nan FROM {table} WHERE run_uuid = ?1 AND key = ?2"),
                [&id, key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
        };
        assert_eq!(get("nanm"), (0.0, 1));
        assert_eq!(get("infm"), (1.7976931348623157e308, 0));
        assert_eq!(get("ninfm"), (-1.7976931348623157e308, 0));
    }
    let history = store.get_metric_history(&id, "infm").unwrap();
    assert_eq!(history[0].value, f64::MAX);

    store.delete_run(&id).unwrap();
    let deleted_time: Option<i64> = conn
        .query_row(
            "SELECT deleted_time FROM runs WHERE run_uuid = ?1",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(deleted_time.is_some());
    store.restore_run(&id).unwrap();
    let deleted_time: Option<i64> = conn
        .query_row(
            "SELECT deleted_time FROM runs WHERE run_uuid = ?1",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(deleted_time.is_none());

    store
        .log_inputs(&id, &[dataset_input("d", "x1", "training")])
        .unwrap();
    let (uuid, source_type, dest): (String, String, String) = conn
        .query_row(
            "SELECT d.dataset_uuid, i.source_type, i.destination_type FROM datasets d \
             JOIN inputs i ON i.source_id = d.dataset_uuid",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(uuid.len(), 32);
    assert_eq!((source_type.as_str(), dest.as_str()), ("DATASET", "RUN"));
}

#[test]
fn sqlite_model_inputs_are_read_from_inputs_rows() {
    let (_dir, store) = new_store();
    let run = new_run(&store, "0");
    raw(&store)
        .execute(
            "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id) \
             VALUES ('u1', 'RUN_INPUT', ?1, 'MODEL_INPUT', 'm-123')",
            [&run.info.run_id],
        )
        .unwrap();
    let got = store.get_run(&run.info.run_id).unwrap();
    assert_eq!(got.inputs.model_inputs, vec!["m-123".to_string()]);
}

#[test]
fn sqlite_writes_at_the_2_22_head() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(schema::DDL_2_22).unwrap();
        conn.execute_batch(
            "INSERT INTO alembic_version VALUES ('0584bdc529eb');
             INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, \
             creation_time, last_update_time) VALUES (0, 'Default', '/x/0', 'active', 1, 1);",
        )
        .unwrap();
    }
    let store = SqliteStore::open_with_artifact_root(&path, "/x").unwrap();
    assert!(store.is_writable(), "{:?}", store.read_only_reason());
    assert!(!store.schema_info().has_workspace);
    assert!(!store.schema_info().inputs_has_step);
    contract_metrics(&store);
    contract_inputs(&store);
    let conn = raw(&store);
    let rev: String = conn
        .query_row("SELECT version_num FROM alembic_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rev, "0584bdc529eb");
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 19, "the schema must not be altered");
}

#[test]
fn sqlite_unknown_revision_is_read_only_with_a_clear_error() {
    let (dir, store) = new_store();
    let run = new_run(&store, "0");
    drop(store);
    let path = dir.path().join("mlflow.db");
    Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE alembic_version SET version_num = 'ffff00001111'",
            [],
        )
        .unwrap();
    let before = file_digest(&path);
    let store = SqliteStore::open(&path).unwrap();
    assert!(!store.is_writable());
    assert_eq!(
        store.get_run(&run.info.run_id).unwrap().info.run_id,
        run.info.run_id
    );
    let err = store.create_experiment("x", None, &[]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("ffff00001111") && msg.contains("newer"),
        "{msg}"
    );
    assert_eq!(err.error_code(), ErrorCode::InvalidState);
    drop(store);
    assert_eq!(before, file_digest(&path));

    // An older revision of the chain: read-only, and the message says how to upgrade.
    Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE alembic_version SET version_num = 'acf3f17fdcc7'",
            [],
        )
        .unwrap();
    let store = SqliteStore::open(&path).unwrap();
    let msg = store
        .log_metric(&run.info.run_id, &m("x", 1.0, 1, 0))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("mlflow db upgrade"), "{msg}");
}

#[test]
fn sqlite_non_mlflow_and_corrupt_files_are_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.db");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('hi');")
        .unwrap();
    let before = file_digest(&other);
    let err = SqliteStore::open(&other).unwrap_err();
    assert!(
        err.to_string().contains("not an MLflow tracking database"),
        "{err}"
    );
    assert_eq!(before, file_digest(&other));

    let garbage = dir.path().join("garbage.db");
    std::fs::write(
        &garbage,
        b"this is definitely not sqlite, just some text bytes...",
    )
    .unwrap();
    let before = file_digest(&garbage);
    let err = SqliteStore::open(&garbage).unwrap_err();
    assert!(err.to_string().contains("not an SQLite database"), "{err}");
    assert_eq!(before, file_digest(&garbage));
    assert!(!dir.path().join("garbage.db-journal").exists());

    let err = SqliteStore::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("directory"), "{err}");
    assert!(SqliteStore::open_read_only(&dir.path().join("missing.db")).is_err());
}

#[test]
fn sqlite_zero_byte_file_is_initialised_by_the_first_write_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    std::fs::write(&path, b"").unwrap();
    let store = SqliteStore::open_with_artifact_root(&path, "/a").unwrap();
    // Opening and reading leave the file as it was (zero bytes).
    assert_eq!(store.revision(), None);
    assert!(!store.is_initialised().unwrap());
    // It reads as the new database the first write makes: Default, and no runs.
    let default = store.get_experiment_by_name("Default").unwrap().unwrap();
    assert_eq!(default.experiment_id, "0");
    assert_eq!(
        default.artifact_location,
        format!("{}/0", recorded_local("/a"))
    );
    let listed = store
        .search_experiments(&ExperimentQuery::default())
        .unwrap();
    assert_eq!(listed.items, vec![default]);
    assert!(
        store
            .search_runs(&RunQuery::new(["0"]))
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(
        store.get_experiment("1").unwrap_err().error_code(),
        ErrorCode::ResourceDoesNotExist
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    let err = SqliteStore::open_read_only(&path).unwrap_err();
    assert!(
        err.to_string().contains("empty, not an MLflow database"),
        "{err}"
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    // The first write creates MLflow's schema, experiment `0` included.
    store.create_experiment("first", None, &[]).unwrap();
    assert_eq!(store.revision(), Some(schema::CREATE_HEAD));
    assert_eq!(store.get_experiment("0").unwrap().name, "Default");
}

#[test]
fn sqlite_read_only_store_reads_and_refuses_writes() {
    let (dir, store) = new_store();
    let run = new_run(&store, "0");
    store
        .log_metric(&run.info.run_id, &m("a", 1.0, 1, 0))
        .unwrap();
    drop(store);
    let path = dir.path().join("mlflow.db");
    let before = file_digest(&path);
    let ro = SqliteStore::open_read_only(&path).unwrap();
    assert!(!ro.is_writable());
    assert_eq!(
        ro.get_metric_history(&run.info.run_id, "a").unwrap().len(),
        1
    );
    let err = ro
        .set_tag(&run.info.run_id, &RunTag::new("k", "v"))
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    drop(ro);
    assert_eq!(before, file_digest(&path));

    // A file without write permission (only meaningful when not running as root).
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&path, perms.clone()).unwrap();
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.get_run(&run.info.run_id).unwrap().info.run_id,
        run.info.run_id
    );
    if !store.is_writable() {
        assert!(store.create_experiment("x", None, &[]).is_err());
    }
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&path, perms).unwrap();
}

#[test]
fn sqlite_undecodable_rows_are_skipped_with_warnings() {
    let (_dir, store) = new_store();
    let good = new_run(&store, "0");
    let bad = new_run(&store, "0");
    // A status outside MLflow's CHECK cannot be written normally; bypass the check.
    let conn = raw(&store);
    conn.execute_batch("PRAGMA ignore_check_constraints = ON")
        .unwrap();
    conn.execute(
        "UPDATE runs SET status = 'EXPLODED' WHERE run_uuid = ?1",
        [&bad.info.run_id],
    )
    .unwrap();
    let page = store.search_runs(&RunQuery::new(["0"])).unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].info.run_id, good.info.run_id);
    assert_eq!(page.warnings.len(), 1);
    assert!(page.warnings[0].message.contains("EXPLODED"));
    assert_eq!(
        code(store.get_run(&bad.info.run_id)),
        ErrorCode::InternalError
    );
}

#[test]
fn sqlite_delete_experiment_marks_every_run_deleted() {
    let (_dir, store) = new_store();
    let exp = store.create_experiment("e", None, &[]).unwrap();
    let a = new_run(&store, &exp).info.run_id;
    let b = new_run(&store, &exp).info.run_id;
    store.delete_run(&b).unwrap();
    store.delete_experiment(&exp).unwrap();
    let conn = raw(&store);
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM runs WHERE experiment_id = ?1 AND lifecycle_stage = 'deleted' \
             AND deleted_time IS NOT NULL",
            [exp.parse::<i64>().unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        code(store.delete_experiment(&exp)),
        ErrorCode::ResourceDoesNotExist
    );
    store.restore_experiment(&exp).unwrap();
    for id in [a, b] {
        assert_eq!(
            store.get_run(&id).unwrap().info.lifecycle_stage,
            LifecycleStage::Active
        );
    }
}

#[test]
fn sqlite_default_artifact_root_is_a_plain_absolute_path() {
    let root = resolve_uri_if_local("./mlruns");
    // A plain path on unix; on Windows the file: URI MLflow's resolve_uri_if_local makes there.
    if cfg!(windows) {
        assert!(root.starts_with("file:///"), "{root}");
    } else {
        assert!(Path::new(&root).is_absolute());
    }
    assert!(root.ends_with("/mlruns") && !root.contains("/./"));
    assert_eq!(resolve_uri_if_local("/abs/x"), recorded_local("/abs/x"));
    assert_eq!(resolve_uri_if_local("s3://b/x"), "s3://b/x");
    assert_eq!(
        resolve_uri_if_local("mlflow-artifacts:/"),
        "mlflow-artifacts:/"
    );
}

/// Several stores (one per thread, as separate processes would have) log into one file at
/// once: nothing is lost and `latest_metrics` ends right.
#[test]
fn sqlite_concurrent_writers_lose_nothing() {
    const WRITERS: i64 = 4;
    const POINTS: i64 = 5000;
    let (dir, store) = new_store();
    let path = dir.path().join("mlflow.db");
    let run_ids: Vec<String> = (0..WRITERS)
        .map(|_| new_run(&store, "0").info.run_id)
        .collect();
    let shared = new_run(&store, "0").info.run_id;
    drop(store);
    let handles: Vec<_> = (0..WRITERS)
        .map(|w| {
            let path: PathBuf = path.clone();
            let own = run_ids[w as usize].clone();
            let shared = shared.clone();
            std::thread::spawn(move || {
                let store = SqliteStore::open(&path).unwrap();
                // Mix single calls and batches, to the writer's own run and a shared one.
                for chunk in 0..(POINTS / 250) {
                    let batch: Vec<Metric> = (0..250)
                        .map(|i| {
                            let step = chunk * 250 + i;
                            m("m", step as f64, 1_000 + step, step)
                        })
                        .collect();
                    store.log_batch(&own, &batch, &[], &[]).unwrap();
                    store
                        .log_metric(&shared, &m("s", w as f64, chunk, w * 10_000 + chunk))
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let mut total = 0;
    for id in &run_ids {
        let history = store.get_metric_history(id, "m").unwrap();
        total += history.len();
        let latest = &store.get_run(id).unwrap().data.metrics["m"];
        assert_eq!(latest.step, POINTS - 1);
    }
    assert_eq!(total as i64, WRITERS * POINTS);
    let shared_history = store.get_metric_history(&shared, "s").unwrap();
    assert_eq!(shared_history.len() as i64, WRITERS * POINTS / 250);
    let latest = &store.get_run(&shared).unwrap().data.metrics["s"];
    assert_eq!(latest.step, (WRITERS - 1) * 10_000 + POINTS / 250 - 1);
}

/// Reads a database written by real MLflow when `MLSCOPE_SQLITE_FIXTURE` names one (e.g. made
/// by `gen_mlflow_fixtures.py --backend sqlite`) and prints the counts to compare with
/// `mlflow_read_check.py`. Run with `--ignored --nocapture`.
#[test]
#[ignore = "needs a fixture database written by MLflow (MLSCOPE_SQLITE_FIXTURE)"]
fn sqlite_reads_mlflow_fixture() {
    let Ok(path) = std::env::var("MLSCOPE_SQLITE_FIXTURE") else {
        return;
    };
    let path = PathBuf::from(path);
    let before = file_digest(&path);
    let store = SqliteStore::open_read_only(&path).unwrap();
    let experiments = store
        .search_experiments(&ExperimentQuery {
            view_type: ViewType::All,
            ..ExperimentQuery::default()
        })
        .unwrap();
    let ids: Vec<String> = experiments
        .items
        .iter()
        .map(|e| e.experiment_id.clone())
        .collect();
    let runs = store
        .search_runs(&RunQuery {
            view_type: ViewType::All,
            max_results: 50_000,
            ..RunQuery::new(ids)
        })
        .unwrap();
    assert!(runs.warnings.is_empty(), "{:?}", runs.warnings);
    let (mut params, mut tags, mut latest, mut points, mut datasets) = (0, 0, 0, 0, 0);
    for run in &runs.items {
        params += run.data.params.len();
        tags += run.data.tags.len();
        latest += run.data.metrics.len();
        datasets += run.inputs.dataset_inputs.len();
        let keys: Vec<String> = run.data.metrics.keys().cloned().collect();
        for (_, history) in store.get_metric_histories(&run.info.run_id, &keys).unwrap() {
            points += history.len();
        }
    }
    println!(
        "experiments={} runs={} params={params} tags={tags} latest_metrics={latest} \
         history_points={points} dataset_inputs={datasets}",
        experiments.items.len(),
        runs.items.len()
    );
    if let Ok(out) = std::env::var("MLSCOPE_SQLITE_DUMP") {
        let json = canonical_dump(&store, &experiments.items, &runs.items);
        std::fs::write(out, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    }
    drop(store);
    assert_eq!(before, file_digest(&path));
}

/// Float as `mlflow_read_check.py` writes it: NaN and ±inf as strings.
fn canon_float(v: f64) -> serde_json::Value {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        v.into()
    }
}

/// What `mlflow_read_check.py --no-artifacts` prints (minus logged models and model outputs),
/// built from this store, for a side-by-side comparison.
fn canonical_dump(
    store: &SqliteStore,
    experiments: &[Experiment],
    runs: &[Run],
) -> serde_json::Value {
    use serde_json::json;
    let mut exps: Vec<serde_json::Value> = Vec::new();
    for e in experiments {
        let mut exp_runs: Vec<&Run> = runs
            .iter()
            .filter(|r| r.info.experiment_id == e.experiment_id)
            .collect();
        exp_runs.sort_by(|a, b| a.info.run_id.cmp(&b.info.run_id));
        let runs_json: Vec<serde_json::Value> = exp_runs
            .iter()
            .map(|r| {
                let mut history = serde_json::Map::new();
                for key in r.data.metrics.keys() {
                    let mut rows: Vec<(i64, i64, f64)> = store
                        .get_metric_history(&r.info.run_id, key)
                        .unwrap()
                        .iter()
                        .map(|m| (m.step, m.timestamp, m.value))
                        .collect();
                    rows.sort_by(|a, b| {
                        (a.0, a.1)
                            .cmp(&(b.0, b.1))
                            .then(a.2.is_nan().cmp(&b.2.is_nan()))
                            .then(a.2.partial_cmp(&b.2).unwrap_or(std::cmp::Ordering::Equal))
                    });
                    let rows: Vec<serde_json::Value> = rows
                        .into_iter()
                        .map(|(s, t, v)| json!([s, t, canon_float(v)]))
                        .collect();
                    history.insert(key.clone(), rows.into());
                }
                let mut datasets: Vec<serde_json::Value> = r
                    .inputs
                    .dataset_inputs
                    .iter()
                    .map(|di| {
                        let mut tags: Vec<(String, String)> = di
                            .tags
                            .iter()
                            .map(|t| (t.key.clone(), t.value.clone()))
                            .collect();
                        tags.sort();
                        json!({
                            "dataset": {
                                "name": di.dataset.name, "digest": di.dataset.digest,
                                "source_type": di.dataset.source_type, "source": di.dataset.source,
                                "schema": di.dataset.schema, "profile": di.dataset.profile,
                            },
                            "tags": tags,
                        })
                    })
                    .collect();
                datasets.sort_by_key(|v| v.to_string());
                let mut model_inputs = r.inputs.model_inputs.clone();
                model_inputs.sort();
                json!({
                    "run_id": r.info.run_id, "run_name": r.info.run_name,
                    "experiment_id": r.info.experiment_id, "user_id": r.info.user_id,
                    "status": r.info.status.as_str(), "start_time": r.info.start_time,
                    "end_time": r.info.end_time, "artifact_uri": r.info.artifact_uri,
                    "lifecycle_stage": r.info.lifecycle_stage.as_str(),
                    "params": r.data.params, "tags": r.data.tags,
                    "metrics": r.data.metrics.iter()
                        .map(|(k, m)| (k.clone(), canon_float(m.value)))
                        .collect::<serde_json::Map<_, _>>(),
                    "metric_history": history,
                    "dataset_inputs": datasets,
                    "model_inputs": model_inputs,
                })
            })
            .collect();
        exps.push(json!({
            "experiment_id": e.experiment_id, "name": e.name,
            "artifact_location": e.artifact_location,
            "lifecycle_stage": e.lifecycle_stage.as_str(), "tags": e.tags,
            "creation_time": e.creation_time, "last_update_time": e.last_update_time,
            "runs": runs_json,
        }));
    }
    json!({ "experiments": exps })
}

/// Writes a varied database for Python MLflow to read (`MLSCOPE_SQLITE_WRITE` = path of the
/// new file) and dumps what this store reads back next to it (`<path>.mine.json`), for
/// comparison with `mlflow_read_check.py`. Run with `--ignored`.
#[test]
#[ignore = "writes a database for the interop check with MLflow (MLSCOPE_SQLITE_WRITE)"]
fn sqlite_write_database_for_mlflow() {
    let Ok(path) = std::env::var("MLSCOPE_SQLITE_WRITE") else {
        return;
    };
    let path = PathBuf::from(path);
    let _ = std::fs::remove_file(&path);
    let store = SqliteStore::open(&path).unwrap();
    let e1 = store
        .create_experiment(
            "written by mlscope ✓",
            None,
            &[("team".into(), "rust".into())],
        )
        .unwrap();
    store
        .set_experiment_tag(&e1, "mlflow.note.content", "# Notes\nline two")
        .unwrap();
    let parent = store
        .create_run(CreateRun {
            experiment_id: e1.clone(),
            user_id: "alice".into(),
            start_time: Some(1_700_000_000_000),
            tags: vec![
                RunTag::new(tags::SOURCE_NAME, "train.rs"),
                RunTag::new(tags::SOURCE_TYPE, "LOCAL"),
                RunTag::new(tags::USER, "alice"),
            ],
            run_name: Some("parent run".into()),
        })
        .unwrap();
    let pid = parent.info.run_id.clone();
    let history: Vec<Metric> = (0..1000)
        .map(|i| {
            m(
                "train/loss",
                1.0 / (i as f64 + 1.0),
                1_700_000_000_000 + i,
                i,
            )
        })
        .collect();
    store.log_batch(&pid, &history, &[], &[]).unwrap();
    store
        .log_batch(
            &pid,
            &[
                m("nanm", f64::NAN, 1_700_000_000_100, 0),
                m("infm", f64::INFINITY, 1_700_000_000_100, 0),
                m("ninfm", f64::NEG_INFINITY, 1_700_000_000_100, 0),
                m("acc", 0.5, 1_700_000_000_100, 0),
                m("acc", 0.75, 1_700_000_000_200, 1),
                m("acc", 0.25, 1_700_000_000_300, 0),
            ],
            &[
                Param::new("lr", "0.01"),
                Param::new("a/b/c", "nested"),
                Param::new("none", "None"),
            ],
            &[
                RunTag::new("t/x", "tv"),
                RunTag::new("multi", "line1\nline2"),
            ],
        )
        .unwrap();
    store
        .log_inputs(&pid, &[dataset_input("train-ds", "2981c147", "training")])
        .unwrap();
    store
        .update_run_info(
            &pid,
            Some(RunStatus::Finished),
            Some(1_700_000_009_000),
            None,
        )
        .unwrap();
    for (i, status) in [RunStatus::Failed, RunStatus::Killed, RunStatus::Running]
        .into_iter()
        .enumerate()
    {
        let child = store
            .create_run(CreateRun {
                experiment_id: e1.clone(),
                user_id: "bob".into(),
                start_time: Some(1_700_000_001_000 + i as i64),
                tags: vec![RunTag::new(tags::PARENT_RUN_ID, pid.clone())],
                run_name: None,
            })
            .unwrap();
        let cid = child.info.run_id;
        store
            .log_metric(&cid, &m("score", i as f64, 1_700_000_002_000, 0))
            .unwrap();
        store
            .log_param(&cid, &Param::new("i", i.to_string()))
            .unwrap();
        store
            .log_inputs(&cid, &[dataset_input("train-ds", "2981c147", "training")])
            .unwrap();
        if status != RunStatus::Running {
            store
                .update_run_info(&cid, Some(status), Some(1_700_000_003_000), Some("renamed"))
                .unwrap();
        }
    }
    let gone = new_run(&store, &e1).info.run_id;
    store.delete_run(&gone).unwrap();
    let e2 = store.create_experiment("to delete", None, &[]).unwrap();
    new_run(&store, &e2);
    store.delete_experiment(&e2).unwrap();
    new_run(&store, "0");

    let experiments = store
        .search_experiments(&ExperimentQuery {
            view_type: ViewType::All,
            ..ExperimentQuery::default()
        })
        .unwrap();
    let ids: Vec<String> = experiments
        .items
        .iter()
        .map(|e| e.experiment_id.clone())
        .collect();
    let runs = store
        .search_runs(&RunQuery {
            view_type: ViewType::All,
            ..RunQuery::new(ids)
        })
        .unwrap();
    let json = canonical_dump(&store, &experiments.items, &runs.items);
    let out = format!("{}.mine.json", path.display());
    std::fs::write(out, serde_json::to_string_pretty(&json).unwrap()).unwrap();
}

/// Points each writer process logs in [`sqlite_concurrent_processes_lose_nothing`].
const PROCESS_POINTS: i64 = 5000;

/// Child side of [`sqlite_concurrent_processes_lose_nothing`]: logs `PROCESS_POINTS` values to
/// its run (batches of 100, or one call per point with `MLSCOPE_SQLITE_CHILD_SINGLE=1`) and
/// one value per batch to a shared run. Does nothing unless started by the parent test.
#[test]
#[ignore = "child process of sqlite_concurrent_processes_lose_nothing"]
fn sqlite_process_writer_child() {
    let (Ok(db), Ok(run), Ok(shared), Ok(index)) = (
        std::env::var("MLSCOPE_SQLITE_CHILD_DB"),
        std::env::var("MLSCOPE_SQLITE_CHILD_RUN"),
        std::env::var("MLSCOPE_SQLITE_CHILD_SHARED"),
        std::env::var("MLSCOPE_SQLITE_CHILD_INDEX"),
    ) else {
        return;
    };
    let index: i64 = index.parse().unwrap();
    let single = std::env::var("MLSCOPE_SQLITE_CHILD_SINGLE").is_ok_and(|v| v == "1");
    let store = SqliteStore::open(Path::new(&db)).unwrap();
    for chunk in 0..PROCESS_POINTS / 100 {
        let batch: Vec<Metric> = (0..100)
            .map(|i| {
                let step = chunk * 100 + i;
                m("m", step as f64, 1_000 + step, step)
            })
            .collect();
        if single {
            for point in &batch {
                store.log_metric(&run, point).unwrap();
            }
        } else {
            store.log_batch(&run, &batch, &[], &[]).unwrap();
        }
        store
            .log_metric(
                &shared,
                &m("s", index as f64, chunk, index * 10_000 + chunk),
            )
            .unwrap();
    }
}

/// Four processes (this test binary, re-run as `sqlite_process_writer_child`) log 5,000
/// points each into one database at the same time: all 20,000 points arrive.
#[test]
fn sqlite_concurrent_processes_lose_nothing() {
    const PROCESSES: i64 = 4;
    let (dir, store) = new_store();
    let path = dir.path().join("mlflow.db");
    let runs: Vec<String> = (0..PROCESSES)
        .map(|_| new_run(&store, "0").info.run_id)
        .collect();
    let shared = new_run(&store, "0").info.run_id;
    drop(store);
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = runs
        .iter()
        .enumerate()
        .map(|(i, run)| {
            std::process::Command::new(&exe)
                .args([
                    "--ignored",
                    "--exact",
                    "store::sqlite::tests::sqlite_process_writer_child",
                    "--test-threads=1",
                    "--quiet",
                ])
                .env("MLSCOPE_SQLITE_CHILD_DB", &path)
                .env("MLSCOPE_SQLITE_CHILD_RUN", run)
                .env("MLSCOPE_SQLITE_CHILD_SHARED", &shared)
                .env("MLSCOPE_SQLITE_CHILD_INDEX", i.to_string())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a writer process failed");
    }
    let store = SqliteStore::open(&path).unwrap();
    let mut total = 0;
    for run in &runs {
        let history = store.get_metric_history(run, "m").unwrap();
        assert_eq!(history.len() as i64, PROCESS_POINTS);
        total += history.len() as i64;
        assert_eq!(
            store.get_run(run).unwrap().data.metrics["m"].step,
            PROCESS_POINTS - 1
        );
    }
    assert_eq!(total, PROCESSES * PROCESS_POINTS);
    assert_eq!(
        store.get_metric_history(&shared, "s").unwrap().len() as i64,
        PROCESSES * PROCESS_POINTS / 100
    );
}

/// A journal left by a writer that crashed mid-transaction: reads see the database as it was
/// before that transaction (whether SQLite rolls the journal back on the read-only reader or
/// the read falls back to the writer connection).
#[test]
fn sqlite_reads_after_a_crashed_writer() {
    let (dir, store) = new_store();
    let run = new_run(&store, "0");
    let batch: Vec<Metric> = (0..1000).map(|i| m("m", i as f64, i, i)).collect();
    store.log_batch(&run.info.run_id, &batch, &[], &[]).unwrap();
    drop(store);
    let path = dir.path().join("mlflow.db");
    let crashed = dir.path().join("crashed.db");
    {
        // Start a big write with a tiny cache so pages spill to the file, then "crash" by
        // copying the database and its journal while the transaction is open.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA cache_size = 1; BEGIN IMMEDIATE; UPDATE metrics SET value = value + 1;",
        )
        .unwrap();
        std::fs::copy(&path, &crashed).unwrap();
        let journal = dir.path().join("mlflow.db-journal");
        if !journal.exists() {
            return; // SQLite kept everything in memory: nothing to test.
        }
        std::fs::copy(&journal, dir.path().join("crashed.db-journal")).unwrap();
        conn.execute_batch("ROLLBACK").unwrap();
    }
    let store = SqliteStore::open(&crashed).unwrap();
    let history = store.get_metric_history(&run.info.run_id, "m").unwrap();
    assert_eq!(history.len(), 1000);
    assert_eq!(
        history[10].value, 10.0,
        "the interrupted update must be rolled back"
    );
}

/// An old (MLflow 1.x-era) schema without experiment times, `deleted_time` or dataset tables
/// is read with those fields empty, and writes are refused with the upgrade hint.
#[test]
fn sqlite_reads_an_old_schema_without_optional_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
             INSERT INTO alembic_version VALUES ('7ac759974ad8');
             CREATE TABLE experiments (experiment_id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(256) \
               NOT NULL UNIQUE, artifact_location VARCHAR(256), lifecycle_stage VARCHAR(32));
             CREATE TABLE experiment_tags (key VARCHAR(250), value VARCHAR(5000), experiment_id INTEGER);
             CREATE TABLE runs (run_uuid VARCHAR(32) PRIMARY KEY, name VARCHAR(250), \
               source_type VARCHAR(20), source_name VARCHAR(500), entry_point_name VARCHAR(50), \
               user_id VARCHAR(256), status VARCHAR(9), start_time BIGINT, end_time BIGINT, \
               source_version VARCHAR(50), lifecycle_stage VARCHAR(20), artifact_uri VARCHAR(200), \
               experiment_id INTEGER);
             CREATE TABLE metrics (key VARCHAR(250), value FLOAT, timestamp BIGINT, run_uuid VARCHAR(32), \
               step BIGINT DEFAULT 0, is_nan BOOLEAN DEFAULT 0);
             CREATE TABLE latest_metrics (key VARCHAR(250), value FLOAT, timestamp BIGINT, step BIGINT, \
               is_nan BOOLEAN, run_uuid VARCHAR(32));
             CREATE TABLE params (key VARCHAR(250), value VARCHAR(250), run_uuid VARCHAR(32));
             CREATE TABLE tags (key VARCHAR(250), value VARCHAR(250), run_uuid VARCHAR(32));
             INSERT INTO experiments VALUES (0, 'Default', '/m/0', 'active');
             INSERT INTO runs VALUES ('r1', '', 'LOCAL', 'x.py', '', 'u', 'FINISHED', 5, 6, '', \
               'active', '/m/0/r1/artifacts', 0);
             INSERT INTO tags VALUES ('mlflow.runName', 'legacy name', 'r1');
             INSERT INTO latest_metrics VALUES ('acc', 0.5, 7, 1, 0, 'r1');
             INSERT INTO metrics VALUES ('acc', 0.5, 7, 'r1', 1, 0);",
        )
        .unwrap();
    let store = SqliteStore::open(&path).unwrap();
    assert!(!store.is_writable());
    let exp = store.get_experiment("0").unwrap();
    assert_eq!((exp.creation_time, exp.last_update_time), (None, None));
    let run = store.get_run("r1").unwrap();
    assert_eq!(run.info.run_name, "legacy name");
    assert_eq!(run.data.metrics["acc"].value, 0.5);
    assert!(run.inputs.dataset_inputs.is_empty());
    assert_eq!(
        store
            .search_runs(&RunQuery::new(["0"]))
            .unwrap()
            .items
            .len(),
        1
    );
    // No dataset tables: dataset filters are evaluated in memory (no run has datasets).
    let count = |filter: &str| {
        store
            .search_runs(&RunQuery {
                filter: filter.into(),
                ..RunQuery::new(["0"])
            })
            .unwrap()
            .items
            .len()
    };
    assert_eq!(count("datasets.name = 'x'"), 0);
    assert_eq!(count("not datasets.name = 'x'"), 1);
    assert_eq!(count("metrics.acc = 0.5 and params.missing is null"), 1);
    // No experiment times: experiment search in memory.
    let exps = store
        .search_experiments(&ExperimentQuery::default())
        .unwrap();
    assert_eq!(exps.items.len(), 1);
    let err = store.set_tag("r1", &RunTag::new("k", "v")).unwrap_err();
    assert!(err.to_string().contains("7ac759974ad8"), "{err}");
}

/// Experiment search through the store: view types and paging with tokens.
pub(crate) fn contract_search_experiments(store: &dyn TrackingStore) {
    for i in 0..4 {
        store
            .create_experiment(&format!("se-{i}"), None, &[])
            .unwrap();
    }
    let all = store
        .search_experiments(&ExperimentQuery::default())
        .unwrap();
    assert_eq!(all.items.len(), 5); // with Default
    let mut query = ExperimentQuery {
        max_results: 2,
        ..ExperimentQuery::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = store.search_experiments(&query).unwrap();
        seen.extend(page.items.into_iter().map(|e| e.experiment_id));
        match page.next_page_token {
            Some(token) => query.page_token = Some(token),
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5);
}

contract_tests! {
    sqlite_contract_search_experiments => contract_search_experiments,
}

/// A `log_batch` whose params conflict writes nothing at all: one transaction (MLflow's SQL
/// store also checks every param before writing; its file store writes the params before the
/// conflicting one).
#[test]
fn sqlite_failed_batch_writes_nothing() {
    let (_dir, store) = new_store();
    let id = new_run(&store, "0").info.run_id;
    store.log_param(&id, &Param::new("lr", "0.01")).unwrap();
    // A batch with a conflicting param writes nothing at all.
    let err = store
        .log_batch(
            &id,
            &[m("side", 1.0, 1, 0)],
            &[Param::new("new", "1"), Param::new("lr", "0.03")],
            &[RunTag::new("side", "x")],
        )
        .unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
    let run = store.get_run(&id).unwrap();
    assert!(!run.data.params.contains_key("new"));
    assert!(!run.data.metrics.contains_key("side"));
    assert!(!run.data.tags.contains_key("side"));
}

// ----- search pushed down to SQL -------------------------------------------------------------

/// Filtering, ordering and paging run in SQL and only the page's runs are loaded: a run row
/// that cannot be decoded produces a warning only when the filter and the page include it.
#[test]
fn sqlite_search_loads_only_the_page() {
    let (_dir, store) = new_store();
    let mut ids = Vec::new();
    for i in 0..30 {
        let run = store
            .create_run(CreateRun {
                experiment_id: "0".into(),
                start_time: Some(1000 + i),
                ..CreateRun::default()
            })
            .unwrap();
        let even = if i % 2 == 0 { "yes" } else { "no" };
        store
            .log_batch(
                &run.info.run_id,
                &[m("acc", i as f64 / 30.0, 1, 0)],
                &[Param::new("even", even)],
                &[],
            )
            .unwrap();
        ids.push(run.info.run_id);
    }
    let conn = raw(&store);
    conn.execute_batch("PRAGMA ignore_check_constraints = ON")
        .unwrap();
    conn.execute(
        "UPDATE runs SET status = 'EXPLODED' WHERE run_uuid = ?1",
        [&ids[1]],
    )
    .unwrap();
    let search = |filter: &str, max_results: usize, page_token: Option<String>| {
        store
            .search_runs(&RunQuery {
                filter: filter.into(),
                max_results,
                page_token,
                ..RunQuery::new(["0"])
            })
            .unwrap()
    };
    let names = |page: &Page<Run>| -> Vec<usize> {
        page.items
            .iter()
            .map(|r| ids.iter().position(|id| *id == r.info.run_id).unwrap())
            .collect()
    };
    // Filtered out: never loaded, no warning.
    let evens = search("params.even = 'yes'", 1000, None);
    assert_eq!(evens.items.len(), 15);
    assert!(evens.warnings.is_empty(), "{:?}", evens.warnings);
    assert_eq!(evens.items[0].data.params["even"], "yes");
    assert_eq!(evens.items[0].data.metrics["acc"].value, 28.0 / 30.0);
    // Outside the page: no warning either.
    let first = search("", 5, None);
    assert_eq!(names(&first), vec![29, 28, 27, 26, 25]);
    assert!(first.warnings.is_empty());
    // The page holding it: left out with a warning, paging unaffected.
    let last = search("", 5, Some(crate::search::encode_page_token(25)));
    assert_eq!(names(&last), vec![4, 3, 2, 0]);
    assert_eq!(last.warnings.len(), 1);
    assert!(last.warnings[0].message.contains("EXPLODED"));
    assert!(last.next_page_token.is_none());
}

/// The compiled search reads the key/value tables only through their `(key, run_uuid)`
/// indexes (one lookup per candidate run and predicate), never by scanning them.
#[test]
fn sqlite_search_plan_uses_indexes() {
    let (_dir, store) = new_store();
    let conn = raw(&store);
    let query = RunQuery {
        filter: "metrics.m0 > 0.5 and params.p1 = 'x' and tags.t LIKE 'a%' \
                 and datasets.context = 'training'"
            .into(),
        order_by: vec!["metrics.m0 DESC".into(), "params.p2".into()],
        ..RunQuery::new(["0"])
    };
    let search = compile_run_search(&query, &SqlOptions::default()).unwrap();
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", search.sql))
        .unwrap();
    let plan: Vec<String> = stmt
        .query_map(
            rusqlite::params_from_iter(sql_values(&search.params)),
            |row| row.get::<_, String>(3),
        )
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let mut lookups = 0;
    for line in &plan {
        if ["_m ", "_kv ", "_i ", "_d ", "_it "]
            .iter()
            .any(|alias| line.contains(alias))
        {
            lookups += 1;
            assert!(line.starts_with("SEARCH"), "{line}\n{plan:#?}");
        }
    }
    assert!(lookups >= 6, "{plan:#?}");
}

/// Experiment search runs in SQL too, in the requested order.
#[test]
fn sqlite_experiment_search_in_sql() {
    let (_dir, store) = new_store();
    for name in ["b", "a", "c"] {
        store
            .create_experiment(name, None, &[("k".into(), name.into())])
            .unwrap();
    }
    let page = store
        .search_experiments(&ExperimentQuery {
            filter: "tags.k != 'c'".into(),
            order_by: vec!["name ASC".into()],
            max_results: 1,
            ..ExperimentQuery::default()
        })
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].name, "a");
    assert_eq!(page.items[0].tags["k"], "a");
    let next = store
        .search_experiments(&ExperimentQuery {
            filter: "tags.k != 'c'".into(),
            order_by: vec!["name ASC".into()],
            max_results: 1,
            page_token: page.next_page_token,
            ..ExperimentQuery::default()
        })
        .unwrap();
    assert_eq!(next.items[0].name, "b");
    assert!(next.next_page_token.is_none());
}

#[test]
fn sqlite_followed_history_returns_each_appended_row_once() {
    let (dir, store) = new_store();
    let exp = store.create_experiment("follow", None, &[]).unwrap();
    let run = new_run(&store, &exp);
    let id = &run.info.run_id;
    store
        .log_batch(
            id,
            &[
                m("loss", 3.0, 30, 2),
                m("loss", 1.0, 10, 0),
                m("acc", 0.5, 10, 0),
            ],
            &[],
            &[],
        )
        .unwrap();
    // Cursor 0: the whole history, in MLflow's order.
    let first = store.read_metric_since(id, "loss", 0).unwrap();
    let steps: Vec<i64> = first.metrics.iter().map(|m| m.step).collect();
    assert_eq!(steps, [0, 2]);
    assert!(first.next_offset > 0);
    // Nothing new: nothing returned, the cursor holds.
    let idle = store
        .read_metric_since(id, "loss", first.next_offset)
        .unwrap();
    assert!(idle.metrics.is_empty());
    assert_eq!(idle.next_offset, first.next_offset);
    // Another process appends (a second store on the same file), to this and other metrics.
    let other = SqliteStore::open(&dir.path().join("mlflow.db")).unwrap();
    other
        .log_batch(id, &[m("acc", 0.7, 40, 3), m("loss", 0.5, 40, 3)], &[], &[])
        .unwrap();
    other.log_metric(id, &m("loss", 0.25, 50, 4)).unwrap();
    let tail = store
        .read_metric_since(id, "loss", first.next_offset)
        .unwrap();
    let got: Vec<(i64, f64)> = tail.metrics.iter().map(|m| (m.step, m.value)).collect();
    assert_eq!(got, [(3, 0.5), (4, 0.25)]);
    assert!(tail.metrics.iter().all(|m| m.key == "loss"));
    assert!(!tail.restarted);
    // Read from the new cursor: the same rows never come back.
    let again = store
        .read_metric_since(id, "loss", tail.next_offset)
        .unwrap();
    assert!(again.metrics.is_empty());
    // The held history plus the tails is the whole history.
    let mut held = first.metrics.clone();
    held.extend(tail.metrics);
    let mut whole = store.get_metric_history(id, "loss").unwrap();
    let key = |m: &Metric| (m.timestamp, m.step);
    held.sort_by_key(key);
    whole.sort_by_key(key);
    assert_eq!(held, whole);
    // Through the trait, as the viewer's worker asks; an unknown run is an error.
    let dyn_store: &dyn TrackingStore = &store;
    assert!(
        dyn_store
            .metric_history_since(id, "loss", 0)
            .unwrap()
            .is_some()
    );
    assert_eq!(
        code(store.read_metric_since("0123456789abcdef0123456789abcdef", "loss", 0)),
        ErrorCode::ResourceDoesNotExist
    );
}
