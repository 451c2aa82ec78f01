//! Behaviour of the file store as a whole, on temporary folders.

use std::fs;
use std::path::{Path, PathBuf};

use super::*;
use crate::error::ErrorCode;
use crate::model::{Dataset, InputTag, LifecycleStage, ViewType, tags};

fn new_store() -> (tempfile::TempDir, FileStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(&dir.path().join("mlruns")).unwrap();
    (dir, store)
}

fn run_in(store: &FileStore, experiment_id: &str) -> Run {
    store
        .create_run(CreateRun {
            experiment_id: experiment_id.into(),
            user_id: "alice".into(),
            start_time: Some(1_000),
            ..CreateRun::default()
        })
        .unwrap()
}

/// The `file:` URI MLflow records for the absolute path `path` (a temp folder, nothing to
/// percent-encode): `file:///tmp/…` on unix, `file:///C:/Users/…` on Windows.
fn file_uri_of(path: &Path) -> String {
    let text = path.display().to_string();
    if cfg!(windows) {
        format!("file:///{}", text.replace('\\', "/"))
    } else {
        format!("file://{text}")
    }
}

/// What the store records for the root-relative local path `posix` (`/abs`): the path itself
/// on unix; on Windows, where it has no drive, the `file:` URI of it on the current drive, as
/// MLflow's `resolve_uri_if_local` there.
fn recorded_local(posix: &str) -> String {
    if cfg!(windows) {
        file_uri_of(&crate::store::uri::absolute(Path::new(posix)))
    } else {
        posix.to_string()
    }
}

fn run_dir(store: &FileStore, run: &Run) -> PathBuf {
    store
        .root()
        .join(&run.info.experiment_id)
        .join(&run.info.run_id)
}

fn yaml_map(path: &Path) -> serde_norway::Mapping {
    serde_norway::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

fn all_runs(store: &FileStore, experiment_ids: &[&str], view: ViewType) -> Page<Run> {
    let mut query = RunQuery::new(experiment_ids.iter().copied());
    query.view_type = view;
    store.search_runs(&query).unwrap()
}

fn experiments(store: &FileStore, view: ViewType) -> Vec<Experiment> {
    let query = ExperimentQuery {
        view_type: view,
        ..ExperimentQuery::default()
    };
    store.search_experiments(&query).unwrap().items
}

// ----- opening and experiments -------------------------------------------------------------

#[test]
fn first_write_creates_root_default_experiment_and_trash() {
    let (_dir, store) = new_store();
    // Opening writes nothing; the store reads as empty until the first write.
    assert!(!store.root().exists());
    let listed = experiments(&store, ViewType::All);
    assert_eq!(listed.len(), 1, "the Default experiment of a new store");
    assert!(!store.root().exists());
    store.create_experiment("first", None, &[]).unwrap();
    assert!(store.root().join(".trash").is_dir());
    let meta = yaml_map(&store.root().join("0/meta.yaml"));
    assert_eq!(meta["experiment_id"], serde_norway::Value::from("0"));
    assert_eq!(meta["name"], serde_norway::Value::from("Default"));
    let expected = format!("{}/0", file_uri_of(store.root()));
    assert_eq!(
        meta["artifact_location"],
        serde_norway::Value::from(expected.as_str())
    );
    let text = fs::read_to_string(store.root().join("0/meta.yaml")).unwrap();
    assert!(text.contains("experiment_id: '0'\n"), "{text}");
    let default = store.get_experiment("0").unwrap();
    assert_eq!(default.name, "Default");
    assert_eq!(default.lifecycle_stage, LifecycleStage::Active);
    assert!(store.tracking_uri().starts_with("file:///"));

    // An existing root without `0` is not given one; opening it creates nothing (the trash
    // comes back with the first deletion).
    fs::remove_dir_all(store.root().join("0")).unwrap();
    fs::remove_dir_all(store.root().join(".trash")).unwrap();
    let again = FileStore::open(store.root()).unwrap();
    assert!(!again.root().join("0").exists());
    assert!(!again.root().join(".trash").exists());
    let id = again.create_experiment("doomed", None, &[]).unwrap();
    assert!(!again.root().join("0").exists());
    again.delete_experiment(&id).unwrap();
    assert!(again.root().join(".trash").join(&id).is_dir());
}

#[test]
fn experiment_lifecycle() {
    let (_dir, store) = new_store();
    let tags = vec![
        ("team".to_string(), "a".to_string()),
        ("nested/tag".to_string(), "v".to_string()),
    ];
    let id = store.create_experiment("my-exp", None, &tags).unwrap();
    assert_eq!(id.len(), 18);
    assert!(id.chars().all(|c| c.is_ascii_digit()) && !id.starts_with('0'));
    assert_eq!(
        fs::read_to_string(store.root().join(&id).join("tags/nested/tag")).unwrap(),
        "v"
    );

    let exp = store.get_experiment(&id).unwrap();
    assert_eq!(exp.name, "my-exp");
    assert_eq!(exp.tags.get("nested/tag").map(String::as_str), Some("v"));
    assert_eq!(
        exp.artifact_location,
        format!("{}/{id}", file_uri_of(store.root()))
    );
    assert_eq!(
        store
            .get_experiment_by_name("my-exp")
            .unwrap()
            .unwrap()
            .experiment_id,
        id
    );
    assert!(store.get_experiment_by_name("nope").unwrap().is_none());

    let dup = store.create_experiment("my-exp", None, &[]).unwrap_err();
    assert_eq!(dup.error_code(), ErrorCode::ResourceAlreadyExists);
    assert!(store.create_experiment("", None, &[]).is_err());

    std::thread::sleep(std::time::Duration::from_millis(2));
    store.rename_experiment(&id, "renamed").unwrap();
    let renamed = store.get_experiment(&id).unwrap();
    assert_eq!(renamed.name, "renamed");
    assert!(renamed.last_update_time > exp.last_update_time);
    let meta = yaml_map(&store.root().join(&id).join("meta.yaml"));
    let tag_map = meta["tags"].as_mapping().unwrap();
    assert_eq!(tag_map["team"], serde_norway::Value::from("a"));

    store.delete_experiment(&id).unwrap();
    assert!(!store.root().join(&id).exists());
    assert!(
        store
            .root()
            .join(".trash")
            .join(&id)
            .join("meta.yaml")
            .is_file()
    );
    let deleted = store.get_experiment(&id).unwrap();
    assert_eq!(deleted.lifecycle_stage, LifecycleStage::Deleted);
    // Deleted names stay reserved.
    let err = store.create_experiment("renamed", None, &[]).unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::ResourceAlreadyExists);
    assert!(err.to_string().contains("deleted state"), "{err}");
    assert!(store.rename_experiment(&id, "x").is_err());
    assert!(store.set_experiment_tag(&id, "k", "v").is_err());

    store.restore_experiment(&id).unwrap();
    assert!(store.root().join(&id).is_dir());
    assert_eq!(
        store.get_experiment(&id).unwrap().lifecycle_stage,
        LifecycleStage::Active
    );
    assert!(store.restore_experiment(&id).is_err());

    let err = store.delete_experiment("0").unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
    let err = store.get_experiment("12345").unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::ResourceDoesNotExist);
    assert_eq!(
        err.to_string(),
        "RESOURCE_DOES_NOT_EXIST: Experiment '12345' does not exist."
    );
    assert_eq!(
        store.get_experiment("../x").unwrap_err().error_code(),
        ErrorCode::InvalidParameterValue
    );
}

#[test]
fn experiment_tags_and_artifact_locations() {
    let (_dir, store) = new_store();
    let id = store
        .create_experiment("e", Some("/abs/artifacts"), &[])
        .unwrap();
    let location = recorded_local("/abs/artifacts");
    assert_eq!(
        store.get_experiment(&id).unwrap().artifact_location,
        location
    );
    let run = run_in(&store, &id);
    assert_eq!(
        run.info.artifact_uri,
        format!("{location}/{}/artifacts", run.info.run_id)
    );

    store.set_experiment_tag(&id, "a/b", "1").unwrap();
    store.set_experiment_tag(&id, "a/b", "2").unwrap();
    assert_eq!(store.get_experiment(&id).unwrap().tags["a/b"], "2");
    let err = store.set_experiment_tag(&id, "a", "x").unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
    store.delete_experiment_tag(&id, "a/b").unwrap();
    let err = store.delete_experiment_tag(&id, "a/b").unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::ResourceDoesNotExist);
    assert!(
        store
            .set_experiment_tag(&id, "k", &"v".repeat(20_001))
            .is_err()
    );
}

#[test]
fn ambiguous_names_round_trip_through_meta_yaml() {
    let (_dir, store) = new_store();
    for name in [
        "on", "1_000", "12:30", "it's", "-lead", "a: b", "0x1F", "null", "1e3", "~", "yes",
    ] {
        let id = store.create_experiment(name, None, &[]).unwrap();
        assert_eq!(store.get_experiment(&id).unwrap().name, name);
        let meta = yaml_map(&store.root().join(&id).join("meta.yaml"));
        assert_eq!(meta["name"], serde_norway::Value::from(name), "{name}");
        let run = store
            .create_run(CreateRun {
                experiment_id: id.clone(),
                run_name: Some(name.to_string()),
                ..CreateRun::default()
            })
            .unwrap();
        assert_eq!(store.get_run(&run.info.run_id).unwrap().info.run_name, name);
    }
}

// ----- runs ----------------------------------------------------------------------------------

#[test]
fn create_run_writes_the_full_meta_key_set() {
    let (_dir, store) = new_store();
    let run = store
        .create_run(CreateRun {
            experiment_id: "0".into(),
            user_id: String::new(),
            start_time: Some(1796041069655),
            tags: vec![RunTag::new("t/x", "tv")],
            run_name: Some("a run name with spaces: and colon".into()),
        })
        .unwrap();
    let dir = run_dir(&store, &run);
    for sub in ["metrics", "params", "artifacts", "tags"] {
        assert!(dir.join(sub).is_dir(), "{sub}");
    }
    let text = fs::read_to_string(dir.join("meta.yaml")).unwrap();
    let id = &run.info.run_id;
    let expected = format!(
        "artifact_uri: {root}/0/{id}/artifacts\nend_time: null\nentry_point_name: ''\n\
         experiment_id: '0'\nlifecycle_stage: active\nrun_id: {q}{id}{q}\n\
         run_name: 'a run name with spaces: and colon'\nrun_uuid: {q}{id}{q}\nsource_name: ''\n\
         source_type: 4\nsource_version: ''\nstart_time: 1796041069655\nstatus: 1\ntags: []\n\
         user_id: unknown\n",
        root = file_uri_of(store.root()),
        q = if text.contains(&format!("run_id: '{id}'")) {
            "'"
        } else {
            ""
        },
    );
    assert_eq!(text, expected);
    let meta = yaml_map(&dir.join("meta.yaml"));
    assert_eq!(meta["run_uuid"], meta["run_id"]);
    assert!(meta["end_time"].is_null());
    assert_eq!(meta["status"], serde_norway::Value::from(1));
    assert_eq!(
        fs::read_to_string(dir.join("tags/mlflow.runName")).unwrap(),
        "a run name with spaces: and colon"
    );
    assert_eq!(fs::read_to_string(dir.join("tags/t/x")).unwrap(), "tv");

    let read = store.get_run(id).unwrap();
    assert_eq!(read.info, run.info);
    assert_eq!(read.info.user_id, "unknown");
    assert_eq!(read.data.tags, run.data.tags);
}

#[test]
fn run_names_come_from_request_tag_or_random() {
    let (_dir, store) = new_store();
    let from_tag = store
        .create_run(CreateRun {
            experiment_id: "0".into(),
            tags: vec![RunTag::new(tags::RUN_NAME, "tagged")],
            ..CreateRun::default()
        })
        .unwrap();
    assert_eq!(from_tag.info.run_name, "tagged");
    let random = run_in(&store, "0");
    assert!(!random.info.run_name.is_empty());
    assert_eq!(random.data.tags[tags::RUN_NAME], random.info.run_name);
    let err = store
        .create_run(CreateRun {
            experiment_id: "0".into(),
            run_name: Some("a".into()),
            tags: vec![RunTag::new(tags::RUN_NAME, "b")],
            ..CreateRun::default()
        })
        .unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
    let err = store
        .create_run(CreateRun {
            experiment_id: "42".into(),
            ..CreateRun::default()
        })
        .unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::ResourceDoesNotExist);
}

#[test]
fn update_delete_restore_run() {
    let (_dir, store) = new_store();
    let run = run_in(&store, "0");
    let id = &run.info.run_id;
    let info = store
        .update_run_info(id, Some(RunStatus::Finished), Some(2_000), Some("renamed"))
        .unwrap();
    assert_eq!(
        (info.status, info.end_time, info.run_name.as_str()),
        (RunStatus::Finished, Some(2_000), "renamed")
    );
    let read = store.get_run(id).unwrap();
    assert_eq!(read.info.run_name, "renamed");
    assert_eq!(read.data.tags[tags::RUN_NAME], "renamed");
    assert_eq!(
        yaml_map(&run_dir(&store, &run).join("meta.yaml"))["status"],
        serde_norway::Value::from(3)
    );

    // Setting the tag renames too.
    store
        .set_tag(id, &RunTag::new(tags::RUN_NAME, "by-tag"))
        .unwrap();
    assert_eq!(store.get_run(id).unwrap().info.run_name, "by-tag");

    store.delete_run(id).unwrap();
    let meta = yaml_map(&run_dir(&store, &run).join("meta.yaml"));
    assert_eq!(
        meta["lifecycle_stage"],
        serde_norway::Value::from("deleted")
    );
    assert!(meta["deleted_time"].is_i64());
    assert_eq!(
        store.get_run(id).unwrap().info.lifecycle_stage,
        LifecycleStage::Deleted
    );
    let err = store
        .log_metric(id, &Metric::new("m", 1.0, 1, 0))
        .unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
    assert_eq!(
        err.to_string(),
        format!(
            "INVALID_PARAMETER_VALUE: The run {id} must be in the 'active' state. Current state is deleted."
        )
    );
    assert!(
        store
            .update_run_info(id, Some(RunStatus::Failed), None, None)
            .is_err()
    );

    store.restore_run(id).unwrap();
    let meta = yaml_map(&run_dir(&store, &run).join("meta.yaml"));
    assert!(meta.get("deleted_time").is_none());
    store.log_metric(id, &Metric::new("m", 1.0, 1, 0)).unwrap();

    let err = store
        .get_run("0123456789abcdef0123456789abcdef")
        .unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::ResourceDoesNotExist);
    assert_eq!(
        store.get_run("../etc").unwrap_err().error_code(),
        ErrorCode::InvalidParameterValue
    );
}

#[test]
fn deleting_an_experiment_deletes_its_runs_and_restore_brings_them_back() {
    let (_dir, store) = new_store();
    let id = store.create_experiment("e", None, &[]).unwrap();
    let a = run_in(&store, &id);
    let b = run_in(&store, &id);
    store.delete_run(&b.info.run_id).unwrap();
    store.delete_experiment(&id).unwrap();

    let trashed = store
        .root()
        .join(".trash")
        .join(&id)
        .join(&a.info.run_id)
        .join("meta.yaml");
    let meta = yaml_map(&trashed);
    assert_eq!(
        meta["lifecycle_stage"],
        serde_norway::Value::from("deleted")
    );
    assert!(meta["deleted_time"].is_i64());
    // Runs are still found by id in the trash.
    assert_eq!(
        store.get_run(&a.info.run_id).unwrap().info.lifecycle_stage,
        LifecycleStage::Deleted
    );
    assert!(
        all_runs(&store, &[&id], ViewType::ActiveOnly)
            .items
            .is_empty()
    );
    assert_eq!(
        all_runs(&store, &[&id], ViewType::DeletedOnly).items.len(),
        2
    );
    assert!(
        store
            .create_run(CreateRun {
                experiment_id: id.clone(),
                ..CreateRun::default()
            })
            .is_err()
    );

    store.restore_experiment(&id).unwrap();
    let active = all_runs(&store, &[&id], ViewType::ActiveOnly);
    assert_eq!(active.items.len(), 2, "MLflow restores every deleted run");
    assert!(active.warnings.is_empty(), "{:?}", active.warnings);
}

#[test]
fn view_types_select_runs_and_experiments() {
    let (_dir, store) = new_store();
    let keep = store.create_experiment("keep", None, &[]).unwrap();
    let gone = store.create_experiment("gone", None, &[]).unwrap();
    let live = run_in(&store, &keep);
    let dead = run_in(&store, &keep);
    store.delete_run(&dead.info.run_id).unwrap();
    store.delete_experiment(&gone).unwrap();

    let ids = |runs: Page<Run>| -> Vec<String> {
        runs.items.into_iter().map(|r| r.info.run_id).collect()
    };
    assert_eq!(
        ids(all_runs(&store, &[&keep], ViewType::ActiveOnly)),
        std::slice::from_ref(&live.info.run_id)
    );
    assert_eq!(
        ids(all_runs(&store, &[&keep], ViewType::DeletedOnly)),
        std::slice::from_ref(&dead.info.run_id)
    );
    assert_eq!(all_runs(&store, &[&keep], ViewType::All).items.len(), 2);

    let names = |view| -> Vec<String> {
        let mut names: Vec<String> = experiments(&store, view)
            .into_iter()
            .map(|e| e.name)
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(ViewType::ActiveOnly), ["Default", "keep"]);
    assert_eq!(names(ViewType::DeletedOnly), ["gone"]);
    assert_eq!(names(ViewType::All), ["Default", "gone", "keep"]);

    let page = all_runs(&store, &["777"], ViewType::All);
    assert!(page.items.is_empty());
    assert_eq!(page.warnings.len(), 1);
}

// ----- metrics, params, tags -----------------------------------------------------------------

#[test]
fn metrics_round_trip_exactly() {
    let (_dir, store) = new_store();
    let run = run_in(&store, "0");
    let id = &run.info.run_id;
    let values = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        1e-300,
        5e-324,
        0.1,
        1e16,
        1.2345678901234568e17,
        f64::MAX,
    ];
    let mut logged = Vec::new();
    for (i, value) in values.iter().enumerate() {
        logged.push(Metric::new("edge", *value, 100 + i as i64, i as i64));
    }
    logged.push(Metric::new("edge", 2.0, 5, i64::MAX));
    logged.push(Metric::new("edge", 3.0, 6, i64::MIN));
    logged.push(Metric::new("edge", 4.0, 7, -1));
    store.log_batch(id, &logged, &[], &[]).unwrap();
    let history = store.get_metric_history(id, "edge").unwrap();
    assert_eq!(history.len(), logged.len());
    for (got, want) in history.iter().zip(&logged) {
        assert_eq!((got.timestamp, got.step), (want.timestamp, want.step));
        assert_eq!(got.value.to_bits(), want.value.to_bits(), "{}", want.value);
    }
    let text = fs::read_to_string(run_dir(&store, &run).join("metrics/edge")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "100 nan 0");
    assert_eq!(lines[1], "101 inf 1");
    assert_eq!(lines[2], "102 -inf 2");
    assert_eq!(lines[3], "103 -0.0 3");
    assert_eq!(lines[4], "104 1e-300 4");
    assert_eq!(lines[5], "105 5e-324 5");
    assert_eq!(lines[7], "107 1e+16 7");
    assert_eq!(lines[10], format!("5 2.0 {}", i64::MAX));
    assert!(text.ends_with('\n'));
    // Latest: the greatest step wins.
    let latest = &store.get_run(id).unwrap().data.metrics["edge"];
    assert_eq!((latest.step, latest.value), (i64::MAX, 2.0));
    // Unknown metric: empty history.
    assert!(store.get_metric_history(id, "nope").unwrap().is_empty());
}

#[test]
fn latest_metric_uses_step_timestamp_value_over_many_values_per_step() {
    let (_dir, store) = new_store();
    let run = run_in(&store, "0");
    let id = &run.info.run_id;
    let mut batch = Vec::new();
    for step in 0..5 {
        for repeat in 0..50 {
            batch.push(Metric::new(
                "train/loss",
                (step * 100 + repeat) as f64,
                1_000 - repeat,
                step,
            ));
        }
    }
    batch.push(Metric::new("train/loss", -5.0, 1_000, 4));
    batch.push(Metric::new("train/loss", 7.0, 1_000, 4));
    store.log_batch(id, &batch, &[], &[]).unwrap();
    let latest = &store.get_run(id).unwrap().data.metrics["train/loss"];
    assert_eq!(
        (latest.step, latest.timestamp, latest.value),
        (4, 1_000, 400.0)
    );
    assert_eq!(
        store.get_metric_history(id, "train/loss").unwrap().len(),
        252
    );
    assert!(run_dir(&store, &run).join("metrics/train/loss").is_file());
}

#[test]
fn params_are_immutable_and_truncated() {
    let (_dir, store) = new_store();
    let run = run_in(&store, "0");
    let id = &run.info.run_id;
    store.log_param(id, &Param::new("lr", "0.01")).unwrap();
    store.log_param(id, &Param::new("lr", "0.01")).unwrap();
    let err = store.log_param(id, &Param::new("lr", "0.02")).unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
    assert_eq!(
        err.to_string(),
        format!(
            "INVALID_PARAMETER_VALUE: Changing param values is not allowed. Param with key='lr' was \
             already logged with value='0.01' for run ID='{id}'. Attempted logging new value '0.02'."
        )
    );
    store
        .log_param(id, &Param::new("long", "x".repeat(7_000)))
        .unwrap();
    store
        .log_param(id, &Param::new("long", "x".repeat(6_500)))
        .unwrap();
    let data = store.get_run(id).unwrap().data;
    assert_eq!(data.params["long"].len(), 6_000);
    assert_eq!(
        fs::read_to_string(run_dir(&store, &run).join("params/lr")).unwrap(),
        "0.01"
    );

    store
        .set_tag(id, &RunTag::new("big", "y".repeat(9_000)))
        .unwrap();
    assert_eq!(store.get_run(id).unwrap().data.tags["big"].len(), 8_000);

    let dup = [Param::new("p", "1"), Param::new("p", "2")];
    assert!(store.log_batch(id, &[], &dup, &[]).is_err());
    // MLflow's FileStore refuses a key twice even with one value (`_validate_param_keys_unique`;
    // the store contract holds every backend and the real server to it).
    let same = [Param::new("q", "1"), Param::new("q", "1")];
    assert!(store.log_batch(id, &[], &same, &[]).is_err());
}

#[test]
fn log_batch_validates_everything_before_writing() {
    let (_dir, store) = new_store();
    let run = run_in(&store, "0");
    let id = &run.info.run_id;
    store.log_param(id, &Param::new("fixed", "a")).unwrap();
    let dir = run_dir(&store, &run);
    let failing = [
        (
            vec![
                Metric::new("ok", 1.0, 1, 0),
                Metric::new("bad//key", 1.0, 1, 0),
            ],
            vec![],
            vec![],
        ),
        (vec![Metric::new("ok", 1.0, -1, 0)], vec![], vec![]),
        (
            vec![Metric::new("ok", 1.0, 1, 0)],
            vec![Param::new("fixed", "b")],
            vec![],
        ),
        (
            vec![Metric::new("ok", 1.0, 1, 0)],
            vec![],
            vec![RunTag::new("t", "v"), RunTag::new("t/u", "v")],
        ),
        (
            vec![Metric::new("ok", 1.0, 1, 0)],
            vec![],
            vec![RunTag::new("", "v")],
        ),
        (
            (0..1001).map(|i| Metric::new("ok", 1.0, 1, i)).collect(),
            vec![],
            vec![],
        ),
    ];
    for (metrics, params, tags) in failing {
        assert!(store.log_batch(id, &metrics, &params, &tags).is_err());
    }
    assert!(
        !dir.join("metrics/ok").exists(),
        "nothing may be written by a rejected batch"
    );
    assert!(!dir.join("tags/t").exists());
}

#[test]
fn tags_with_slashes_overwrite_and_delete() {
    let (_dir, store) = new_store();
    let run = run_in(&store, "0");
    let id = &run.info.run_id;
    store.set_tag(id, &RunTag::new("a/b/c", "1")).unwrap();
    store.set_tag(id, &RunTag::new("a/b/c", "2")).unwrap();
    store
        .set_tag(id, &RunTag::new("multi", "line\nvalue\n"))
        .unwrap();
    let dir = run_dir(&store, &run);
    assert_eq!(fs::read_to_string(dir.join("tags/a/b/c")).unwrap(), "2");
    let tags = store.get_run(id).unwrap().data.tags;
    assert_eq!(tags["a/b/c"], "2");
    assert_eq!(tags["multi"], "line\nvalue\n");
    store.delete_tag(id, "a/b/c").unwrap();
    assert_eq!(
        store.delete_tag(id, "a/b/c").unwrap_err().error_code(),
        ErrorCode::ResourceDoesNotExist
    );
    assert_eq!(
        store.delete_tag(id, "a/b").unwrap_err().error_code(),
        ErrorCode::ResourceDoesNotExist
    );
    // No temporary files are left behind.
    let leftovers: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(paths::TEMP_PREFIX)
        })
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn key_collisions_are_clear_errors() {
    let (_dir, store) = new_store();
    let run = run_in(&store, "0");
    let id = &run.info.run_id;
    store.log_metric(id, &Metric::new("a", 1.0, 1, 0)).unwrap();
    let err = store
        .log_metric(id, &Metric::new("a/b", 1.0, 1, 0))
        .unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
    assert!(err.to_string().contains("named 'a' exists"), "{err}");
    store.log_param(id, &Param::new("x/y", "1")).unwrap();
    let err = store.log_param(id, &Param::new("x", "1")).unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
    store.set_tag(id, &RunTag::new("t/u", "1")).unwrap();
    let err = store.set_tag(id, &RunTag::new("t", "1")).unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
}

#[test]
fn concurrent_appends_never_interleave() {
    let (_dir, store) = new_store();
    let run = run_in(&store, "0");
    let id = run.info.run_id.clone();
    let threads = 8;
    let per_thread = 200;
    std::thread::scope(|scope| {
        for t in 0..threads {
            let store = &store;
            let id = &id;
            scope.spawn(move || {
                for i in 0..per_thread {
                    let value = t as f64 + i as f64 / 1000.0 + 1e-9;
                    store
                        .log_metric(id, &Metric::new("shared", value, 1_000_000 + i, t))
                        .unwrap();
                }
            });
        }
    });
    let text = fs::read_to_string(run_dir(&store, &run).join("metrics/shared")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), threads as usize * per_thread as usize);
    for line in &lines {
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields.len(), 3, "interleaved line {line:?}");
        let value: f64 = fields[1].parse().unwrap();
        let step: i64 = fields[2].parse().unwrap();
        assert_eq!(value.trunc() as i64, step, "{line}");
    }
    let (history, warnings) = store
        .get_metric_history_with_warnings(&id, "shared")
        .unwrap();
    assert_eq!(history.len(), lines.len());
    assert!(warnings.is_empty());
}

#[test]
fn log_inputs_writes_mlflow_records_and_reads_them_back() {
    let (_dir, store) = new_store();
    let run = run_in(&store, "0");
    let id = &run.info.run_id;
    let input = DatasetInput {
        dataset: Dataset {
            name: "dsname".into(),
            digest: "2981c147".into(),
            source_type: "code".into(),
            source: r#"{"tags": {"mlflow.user": "root"}}"#.into(),
            schema: Some(r#"{"mlflow_colspec": []}"#.into()),
            profile: None,
        },
        tags: vec![InputTag {
            key: "mlflow.data.context".into(),
            value: "training".into(),
        }],
    };
    store.log_inputs(id, std::slice::from_ref(&input)).unwrap();
    store.log_inputs(id, std::slice::from_ref(&input)).unwrap();
    let dataset_meta = store
        .root()
        .join("0/datasets/6c2425279750b556d42ea44bf2299cb1/meta.yaml");
    let meta = yaml_map(&dataset_meta);
    assert_eq!(meta["name"], serde_norway::Value::from("dsname"));
    assert!(meta["profile"].is_null());
    let input_id = inputs::input_id("6c2425279750b556d42ea44bf2299cb1", id);
    let record = yaml_map(
        &run_dir(&store, &run)
            .join("inputs")
            .join(input_id)
            .join("meta.yaml"),
    );
    assert_eq!(record["source_type"], serde_norway::Value::from("DATASET"));
    assert_eq!(
        record["destination_id"],
        serde_norway::Value::from("6c2425279750b556d42ea44bf2299cb1")
    );

    let read = store.get_run(id).unwrap();
    assert_eq!(read.inputs.dataset_inputs, vec![input.clone()]);
    assert_eq!(read.inputs.dataset_inputs[0].context(), Some("training"));

    let mut too_long = input.clone();
    too_long.dataset.digest = "d".repeat(37);
    assert!(store.log_inputs(id, &[too_long]).is_err());
}

#[test]
fn model_inputs_are_read() {
    let (_dir, store) = new_store();
    let run = run_in(&store, "0");
    let dir = run_dir(&store, &run).join("inputs/abc");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("meta.yaml"),
        "destination_id: m-1\ndestination_type: RUN\nsource_id: m-1\nsource_type: MODEL\ntags: {}\n",
    )
    .unwrap();
    let read = store.get_run(&run.info.run_id).unwrap();
    assert_eq!(read.inputs.model_inputs, ["m-1"]);
    assert!(read.inputs.dataset_inputs.is_empty());
}

// ----- tolerant reading ----------------------------------------------------------------------

#[test]
fn damaged_store_lists_healthy_runs_and_names_each_problem() {
    let (_dir, store) = new_store();
    let id = store.create_experiment("e", None, &[]).unwrap();
    let healthy: Vec<Run> = (0..3).map(|_| run_in(&store, &id)).collect();
    for run in &healthy {
        store
            .log_batch(
                &run.info.run_id,
                &[Metric::new("loss", 0.5, 1, 0)],
                &[Param::new("p", "1")],
                &[],
            )
            .unwrap();
    }
    let exp_dir = store.root().join(&id);

    let truncated = run_in(&store, &id);
    let meta_path = exp_dir.join(&truncated.info.run_id).join("meta.yaml");
    let text = fs::read_to_string(&meta_path).unwrap();
    fs::write(&meta_path, &text[..text.find("run_id").unwrap() + 12]).unwrap();

    let empty_meta = run_in(&store, &id);
    fs::write(exp_dir.join(&empty_meta.info.run_id).join("meta.yaml"), "").unwrap();

    let garbage_meta = run_in(&store, &id);
    fs::write(
        exp_dir.join(&garbage_meta.info.run_id).join("meta.yaml"),
        "run_id: [unclosed\n",
    )
    .unwrap();

    let wrong_exp = run_in(&store, &id);
    let path = exp_dir.join(&wrong_exp.info.run_id).join("meta.yaml");
    let text = fs::read_to_string(&path)
        .unwrap()
        .replace(&format!("'{id}'"), "'999'");
    fs::write(&path, text).unwrap();

    let bad_line = &healthy[0];
    let metric_path = exp_dir.join(&bad_line.info.run_id).join("metrics/loss");
    fs::write(&metric_path, "1 0.5 0\nnot a metric line\n2 0.25 1\n3 0.1").unwrap();

    fs::write(
        exp_dir.join(&healthy[1].info.run_id).join("metrics/empty"),
        "",
    )
    .unwrap();
    fs::write(
        exp_dir
            .join(&healthy[1].info.run_id)
            .join("metrics/.DS_Store"),
        [0u8, 1, 2],
    )
    .unwrap();
    fs::write(exp_dir.join("stray.txt"), "x").unwrap();
    fs::create_dir(exp_dir.join("not-a-run")).unwrap();
    fs::create_dir_all(exp_dir.join("datasets")).unwrap();
    fs::create_dir_all(exp_dir.join("traces")).unwrap();

    let page = all_runs(&store, &[&id], ViewType::All);
    let mut listed: Vec<&str> = page.items.iter().map(|r| r.info.run_id.as_str()).collect();
    listed.sort();
    let mut expected: Vec<&str> = healthy.iter().map(|r| r.info.run_id.as_str()).collect();
    expected.sort();
    assert_eq!(listed, expected);

    let warned = |needle: &str| page.warnings.iter().any(|w| w.location.contains(needle));
    for damaged in [&truncated, &empty_meta, &garbage_meta, &wrong_exp] {
        assert!(
            warned(&damaged.info.run_id),
            "no warning for {}: {:?}",
            damaged.info.run_id,
            page.warnings
        );
    }
    assert!(warned("stray.txt"));
    assert!(warned("not-a-run"));
    assert!(warned(".DS_Store"));
    let sep = std::path::MAIN_SEPARATOR;
    assert!(warned(&format!("metrics{sep}empty")));
    assert!(!warned("datasets") && !warned("traces"));
    let line_warning = page
        .warnings
        .iter()
        .find(|w| w.location.ends_with(&format!("metrics{sep}loss")))
        .unwrap();
    assert!(line_warning.message.contains("line 2"), "{line_warning}");
    assert!(
        line_warning.message.contains("incomplete"),
        "{line_warning}"
    );
    assert_eq!(page.warnings.len(), 9, "{:#?}", page.warnings);

    // Good lines still count: the latest of the two good lines.
    let run = page
        .items
        .iter()
        .find(|r| r.info.run_id == bad_line.info.run_id)
        .unwrap();
    assert_eq!(run.data.metrics["loss"].value, 0.25);
    assert_eq!(
        store
            .get_metric_history(&bad_line.info.run_id, "loss")
            .unwrap()
            .len(),
        2
    );

    // get_run of a damaged run names the file.
    let err = store.get_run(&empty_meta.info.run_id).unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InternalError);
    assert!(err.to_string().contains("meta.yaml"), "{err}");
    assert!(matches!(err, Error::Corrupt { .. }));
}

#[test]
fn damaged_experiments_are_skipped_with_warnings() {
    let (_dir, store) = new_store();
    let id = store.create_experiment("e", None, &[]).unwrap();
    fs::create_dir(store.root().join("12345")).unwrap();
    fs::create_dir(store.root().join("777")).unwrap();
    fs::write(
        store.root().join("777/meta.yaml"),
        "experiment_id: '778'\nname: x\n",
    )
    .unwrap();
    fs::create_dir(store.root().join("models")).unwrap();
    fs::write(store.root().join("stray-file"), "x").unwrap();
    let page = store
        .search_experiments(&ExperimentQuery::default())
        .unwrap();
    let mut names: Vec<String> = page.items.iter().map(|e| e.name.clone()).collect();
    names.sort();
    assert_eq!(names, ["Default", "e"]);
    assert_eq!(page.warnings.len(), 2, "{:?}", page.warnings);
    assert!(page.warnings.iter().any(|w| w.location.contains("12345")));
    assert!(page.warnings.iter().any(|w| w.location.contains("777")));
    assert!(store.get_experiment(&id).is_ok());
    assert_eq!(
        store.get_experiment("12345").unwrap_err().error_code(),
        ErrorCode::InternalError
    );
}

#[test]
fn legacy_and_3x_meta_files_are_read() {
    let (_dir, store) = new_store();
    let exp_dir = store.root().join("1");
    fs::create_dir_all(exp_dir.join("abc/metrics")).unwrap();
    fs::write(
        exp_dir.join("meta.yaml"),
        "artifact_location: /x/1\nexperiment_id: 1\nlifecycle_stage: active\nname: old\n",
    )
    .unwrap();
    // MLflow 1.x: integer ids, no run_id, no lifecycle_stage, no run_name (name from the tag).
    fs::write(
        exp_dir.join("abc/meta.yaml"),
        "artifact_uri: /x/1/abc/artifacts\nend_time: 20\nexperiment_id: 1\nrun_uuid: abc\nstart_time: 10\nstatus: 3\nuser_id: bob\n",
    )
    .unwrap();
    fs::create_dir_all(exp_dir.join("abc/tags")).unwrap();
    fs::write(exp_dir.join("abc/tags/mlflow.runName"), "from-tag").unwrap();
    fs::write(exp_dir.join("abc/metrics/legacy"), "10 1.5\n9 NaN\n").unwrap();
    // MLflow 3.x: no run_uuid, 5-field metric lines.
    fs::create_dir_all(exp_dir.join("def/metrics")).unwrap();
    fs::write(
        exp_dir.join("def/meta.yaml"),
        "artifact_uri: /x/1/def/artifacts\nend_time: null\nentry_point_name: ''\nexperiment_id: '1'\nlifecycle_stage: active\nrun_id: def\nrun_name: new\nsource_name: ''\nsource_type: 4\nsource_version: ''\nstart_time: 11\nstatus: 1\ntags: []\nuser_id: root\n",
    )
    .unwrap();
    fs::write(exp_dir.join("def/metrics/acc"), "1 0.9 0 ds 1a2b\n").unwrap();

    let page = all_runs(&store, &["1"], ViewType::ActiveOnly);
    assert!(page.warnings.is_empty(), "{:?}", page.warnings);
    assert_eq!(page.items.len(), 2);
    let old = store.get_run("abc").unwrap();
    assert_eq!(old.info.run_name, "from-tag");
    assert_eq!(old.info.experiment_id, "1");
    assert_eq!(old.info.status, RunStatus::Finished);
    assert_eq!(old.data.metrics["legacy"].value, 1.5);
    let new = store.get_run("def").unwrap();
    assert_eq!(new.info.run_name, "new");
    assert_eq!(new.data.metrics["acc"].value, 0.9);
    assert_eq!(store.get_experiment("1").unwrap().name, "old");
}

#[test]
fn store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FileStore>();
}

/// Moves the modification time of every file under `dir` an hour back, so that listings keep
/// the runs' reads (files modified in the last seconds are always read again).
fn age_files(dir: &Path) {
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            age_files(&path);
        } else {
            fs::File::options()
                .append(true)
                .open(&path)
                .and_then(|f| f.set_modified(past))
                .unwrap();
        }
    }
}

fn latest(store: &FileStore, experiment_id: &str, key: &str) -> f64 {
    let page = all_runs(store, &[experiment_id], ViewType::ActiveOnly);
    page.items[0].data.metrics[key].value
}

#[test]
fn kept_runs_are_read_again_when_their_files_change() {
    let (_dir, store) = new_store();
    let exp = store.create_experiment("cache", None, &[]).unwrap();
    let run = run_in(&store, &exp);
    let id = run.info.run_id.clone();
    store
        .log_batch(
            &id,
            &[Metric::new("loss", 1.0, 10, 0)],
            &[],
            &[RunTag::new("t", "aaa")],
        )
        .unwrap();
    let dir = run_dir(&store, &run);
    age_files(&dir);
    // Another process (a second store on the same folder) reads the run and keeps it.
    let reader = FileStore::open(store.root()).unwrap();
    assert_eq!(latest(&reader, &exp, "loss"), 1.0);
    assert_eq!(latest(&reader, &exp, "loss"), 1.0);
    // An append is a new size.
    store
        .log_metric(&id, &Metric::new("loss", 0.5, 20, 1))
        .unwrap();
    assert_eq!(latest(&reader, &exp, "loss"), 0.5);
    // A same-size rewrite in place (as MLflow rewrites tags) shows in the modification time,
    // even an old one.
    age_files(&dir);
    assert_eq!(latest(&reader, &exp, "loss"), 0.5);
    let tag = dir.join("tags").join("t");
    fs::write(&tag, "bbb").unwrap();
    let older = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    fs::File::options()
        .append(true)
        .open(&tag)
        .and_then(|f| f.set_modified(older))
        .unwrap();
    let page = all_runs(&reader, &[&exp], ViewType::ActiveOnly);
    assert_eq!(page.items[0].data.tags["t"], "bbb");
    // A new param file, and a deleted run.
    fs::write(dir.join("params").join("lr"), "0.1").unwrap();
    let page = all_runs(&reader, &[&exp], ViewType::ActiveOnly);
    assert_eq!(page.items[0].data.params["lr"], "0.1");
    store.delete_run(&id).unwrap();
    assert!(
        all_runs(&reader, &[&exp], ViewType::ActiveOnly)
            .items
            .is_empty()
    );
    assert_eq!(
        all_runs(&reader, &[&exp], ViewType::DeletedOnly)
            .items
            .len(),
        1
    );
}

#[test]
fn next_pages_come_from_the_first_pages_read_until_a_write() {
    let (_dir, store) = new_store();
    let exp = store.create_experiment("pages", None, &[]).unwrap();
    for i in 0..5 {
        let run = run_in(&store, &exp);
        store
            .log_metric(&run.info.run_id, &Metric::new("m", i as f64, 10, 0))
            .unwrap();
    }
    let mut query = RunQuery::new([exp.clone()]);
    query.max_results = 2;
    query.order_by = vec!["metrics.m ASC".into()];
    let mut values = Vec::new();
    loop {
        let page = store.search_runs(&query).unwrap();
        values.extend(page.items.iter().map(|r| r.data.metrics["m"].value));
        if values.len() == 2 {
            // A change by another process after the first page: the next pages are the
            // snapshot of the first page's read (no duplicates, nothing skipped).
            let other = FileStore::open(store.root()).unwrap();
            let extra = run_in(&other, &exp);
            other
                .log_metric(&extra.info.run_id, &Metric::new("m", -1.0, 10, 0))
                .unwrap();
        }
        match page.next_page_token {
            Some(t) => query.page_token = Some(t),
            None => break,
        }
    }
    assert_eq!(values, [0.0, 1.0, 2.0, 3.0, 4.0]);
    // A first page reads the store again and sees the new run.
    query.page_token = None;
    let page = store.search_runs(&query).unwrap();
    assert_eq!(page.items[0].data.metrics["m"].value, -1.0);
    // A write through this store between pages: the next page is read again (MLflow's
    // offset semantics).
    let token = page.next_page_token.clone();
    let newest = run_in(&store, &exp);
    store
        .log_metric(&newest.info.run_id, &Metric::new("m", -2.0, 10, 0))
        .unwrap();
    query.page_token = token;
    let page = store.search_runs(&query).unwrap();
    let got: Vec<f64> = page
        .items
        .iter()
        .map(|r| r.data.metrics["m"].value)
        .collect();
    assert_eq!(got, [0.0, 1.0]);
}

#[test]
fn a_store_never_seen_streams_a_first_batch_before_ordering_every_run() {
    use crate::store::TrackingStore;
    // More never-read runs than the sample ordered before the first batch.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let writer = FileStore::open(&root).unwrap().with_index(None);
    let exp = writer.create_experiment("many", None, &[]).unwrap();
    let runs = super::reader::COLD_SAMPLE + 150;
    let mut ids = std::collections::BTreeSet::new();
    for _ in 0..runs {
        ids.insert(run_in(&writer, &exp).info.run_id);
    }
    let store = FileStore::open(&root).unwrap().with_index(None);
    let mut batches: Vec<Vec<String>> = Vec::new();
    let mut progress = Vec::new();
    store
        .stream_runs(&RunQuery::new([exp.as_str()]), &mut |b| {
            progress.push(b.progress);
            batches.push(b.runs.iter().map(|r| r.info.run_id.clone()).collect());
            true
        })
        .unwrap();
    // Every run exactly once.
    let all: Vec<&String> = batches.iter().flatten().collect();
    assert_eq!(all.len(), runs);
    let streamed: std::collections::BTreeSet<String> = all.into_iter().cloned().collect();
    assert_eq!(streamed, ids);
    assert_eq!(batches[0].len(), 256);
    assert_eq!(progress.last(), Some(&Some((runs, runs))));
    // After the first batch, the rest comes newest folder first.
    let mtime = |id: &String| {
        fs::metadata(root.join(&exp).join(id))
            .and_then(|m| m.modified())
            .unwrap()
    };
    let rest: Vec<std::time::SystemTime> = batches[1..].iter().flatten().map(mtime).collect();
    assert!(
        rest.windows(2).all(|w| w[0] >= w[1]),
        "the rest is newest first"
    );
    // The first batch comes from the sample (the first run folders by name) without stat'ing
    // the others: not the newest of the whole store.
    let sample: std::collections::BTreeSet<&String> =
        ids.iter().take(super::reader::COLD_SAMPLE).collect();
    assert!(batches[0].iter().all(|id| sample.contains(id)));
    // It is the newest of the sample: newest first too.
    let first: Vec<std::time::SystemTime> = batches[0].iter().map(mtime).collect();
    assert!(first.windows(2).all(|w| w[0] >= w[1]));
}

#[test]
fn after_saving_the_index_a_store_keeps_no_copy_of_the_runs_in_memory() {
    use crate::store::TrackingStore;
    use crate::store::index::IndexOptions;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let options = || {
        Some(IndexOptions {
            dir: dir.path().join("index"),
            min_runs: 5,
        })
    };
    let writer = FileStore::open(&root).unwrap().with_index(None);
    let exp = writer.create_experiment("kept", None, &[]).unwrap();
    for i in 0..8 {
        let run = run_in(&writer, &exp);
        writer
            .log_metric(&run.info.run_id, &Metric::new("m", f64::from(i), 1, 0))
            .unwrap();
    }
    // Past the "too fresh to trust" window (status-change times cannot be set back), so that
    // the runs are kept.
    std::thread::sleep(std::time::Duration::from_millis(
        super::snapshot::RACY_SECONDS * 1000 + 200,
    ));
    let store = FileStore::open(&root).unwrap().with_index(options());
    let query = RunQuery::new([exp.as_str()]);
    let first = store.search_runs(&query).unwrap();
    assert_eq!(first.items.len(), 8);
    assert_eq!(store.run_cache.kept_in_memory(), 0, "the index holds them");
    // The next listing takes them from the index (not read from the store) and is the same.
    let read_before = store.runs_read();
    let again = store.search_runs(&query).unwrap();
    assert_eq!(again.items, first.items);
    assert_eq!(store.runs_read(), read_before, "nothing read again");
    assert_eq!(store.runs_reused(), 8);
    // While a listing streams runs taken from the index, it keeps none of them either.
    let mut streamed = 0;
    store
        .stream_runs(&query, &mut |b| {
            streamed += b.runs.len();
            assert_eq!(store.run_cache.kept_in_memory(), 0);
            true
        })
        .unwrap();
    assert_eq!(streamed, 8);
    assert_eq!(store.runs_reused(), 16);
}
