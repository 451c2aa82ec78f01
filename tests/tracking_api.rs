//! The fluent and client APIs over a real store: run lifecycle, nesting, system tags, errors.
//!
//! The fluent API keeps process-wide state, so every test takes `LOCK` and resets it.

use std::sync::{Mutex, MutexGuard};

use mlscope::model::tags;
use mlscope::{ErrorCode, RunOptions, RunQuery, RunStatus, TrackingClient, ViewType};

static LOCK: Mutex<()> = Mutex::new(());

struct Fixture {
    _guard: MutexGuard<'static, ()>,
    _dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
        mlscope::tracking::fluent::reset_for_tests();
        let dir = tempfile::tempdir().unwrap();
        mlscope::set_tracking_uri(dir.path().join("mlruns").to_string_lossy().into_owned());
        Fixture {
            _guard: guard,
            _dir: dir,
        }
    }

    fn client(&self) -> TrackingClient {
        mlscope::tracking::fluent::client().unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        mlscope::tracking::fluent::reset_for_tests();
    }
}

#[test]
fn start_run_sets_system_tags_and_ends_finished() {
    let fx = Fixture::new();
    let exp = mlscope::set_experiment("tags-exp").unwrap();
    let run = mlscope::start_run(
        RunOptions::new()
            .run_name("my-run")
            .description("A **markdown** note")
            .tag("team", "vision"),
    )
    .unwrap();
    let id = run.run_id().to_string();
    mlscope::log_param("lr", 0.01).unwrap();
    mlscope::log_metric("loss", 0.5, Some(1)).unwrap();
    run.end().unwrap();

    let stored = fx.client().get_run(&id).unwrap();
    assert_eq!(stored.info.experiment_id, exp.experiment_id);
    assert_eq!(stored.info.status, RunStatus::Finished);
    assert!(stored.info.end_time.is_some());
    assert_eq!(stored.info.run_name, "my-run");
    let t = &stored.data.tags;
    assert_eq!(t[tags::RUN_NAME], "my-run");
    assert_eq!(t[tags::NOTE_CONTENT], "A **markdown** note");
    assert_eq!(t[tags::SOURCE_TYPE], "LOCAL");
    assert!(!t[tags::SOURCE_NAME].is_empty());
    assert_eq!(t[tags::USER], stored.info.user_id);
    assert_eq!(t["team"], "vision");
    assert_eq!(stored.data.params["lr"], "0.01");
    assert_eq!(stored.data.metrics["loss"].step, 1);
    assert_eq!(mlscope::last_active_run().unwrap().unwrap().info.run_id, id);
    assert!(mlscope::active_run().unwrap().is_none());
}

#[test]
fn random_names_when_none_given() {
    let fx = Fixture::new();
    let run = mlscope::start_run(RunOptions::new()).unwrap();
    let id = run.run_id().to_string();
    run.end().unwrap();
    let stored = fx.client().get_run(&id).unwrap();
    assert_eq!(stored.info.run_name.split('-').count(), 3);
    assert_eq!(stored.data.tags[tags::RUN_NAME], stored.info.run_name);
}

#[test]
fn nested_runs_form_a_stack() {
    let fx = Fixture::new();
    let parent = mlscope::start_run(RunOptions::new().run_name("parent")).unwrap();
    let err = mlscope::start_run(RunOptions::new()).unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidState);

    let child = mlscope::start_run(RunOptions::new().nested(true).run_name("child")).unwrap();
    mlscope::log_metric("child_metric", 1.0, None).unwrap();
    let child_id = child.run_id().to_string();
    let parent_id = parent.run_id().to_string();

    // Ending the parent while the child is open is an error, as in MLflow.
    let err = parent.end().unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidState);
    assert!(err.to_string().contains(&child_id), "{err}");

    child.end().unwrap();
    mlscope::end_run(RunStatus::Finished).unwrap();

    let client = fx.client();
    let c = client.get_run(&child_id).unwrap();
    assert_eq!(c.data.tags[tags::PARENT_RUN_ID], parent_id);
    assert!(c.data.metrics.contains_key("child_metric"));
    assert_eq!(
        client
            .get_parent_run(&child_id)
            .unwrap()
            .unwrap()
            .info
            .run_id,
        parent_id
    );
    assert_eq!(
        client.get_run(&parent_id).unwrap().info.status,
        RunStatus::Finished
    );
    assert!(client.get_parent_run(&parent_id).unwrap().is_none());
}

#[test]
fn explicit_parent_run_id_must_match_active_run() {
    let _fx = Fixture::new();
    let parent = mlscope::start_run(RunOptions::new()).unwrap();
    let err =
        mlscope::start_run(RunOptions::new().parent_run_id("0123456789abcdef0123456789abcdef"))
            .unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
    let child = mlscope::start_run(RunOptions::new().parent_run_id(parent.run_id())).unwrap();
    child.end().unwrap();
    parent.end().unwrap();
}

#[test]
fn with_run_maps_ok_and_err() {
    let fx = Fixture::new();
    let ok_id = mlscope::with_run(RunOptions::new(), |run| {
        Ok::<_, mlscope::Error>(run.run_id().to_string())
    })
    .unwrap();
    let mut failed_id = String::new();
    let result: Result<(), mlscope::Error> = mlscope::with_run(RunOptions::new(), |run| {
        failed_id = run.run_id().to_string();
        Err(mlscope::Error::InvalidParameter("training diverged".into()))
    });
    assert!(result.is_err());
    let client = fx.client();
    assert_eq!(
        client.get_run(&ok_id).unwrap().info.status,
        RunStatus::Finished
    );
    assert_eq!(
        client.get_run(&failed_id).unwrap().info.status,
        RunStatus::Failed
    );
}

#[test]
fn guard_dropped_in_panic_marks_failed() {
    let fx = Fixture::new();
    let id = std::sync::Arc::new(Mutex::new(String::new()));
    let id2 = id.clone();
    let result = std::panic::catch_unwind(move || {
        let run = mlscope::start_run(RunOptions::new()).unwrap();
        *id2.lock().unwrap() = run.run_id().to_string();
        panic!("boom");
    });
    assert!(result.is_err());
    let id = id.lock().unwrap().clone();
    let run = fx.client().get_run(&id).unwrap();
    assert_eq!(run.info.status, RunStatus::Failed);
    assert!(mlscope::active_run().unwrap().is_none());
}

#[test]
fn guard_dropped_normally_marks_finished() {
    let fx = Fixture::new();
    let id = {
        let run = mlscope::start_run(RunOptions::new()).unwrap();
        run.run_id().to_string()
    };
    assert_eq!(
        fx.client().get_run(&id).unwrap().info.status,
        RunStatus::Finished
    );
}

#[test]
fn resume_run_by_id() {
    let fx = Fixture::new();
    let run = mlscope::start_run(RunOptions::new().run_name("resumable")).unwrap();
    let id = run.run_id().to_string();
    run.end_with_status(RunStatus::Killed).unwrap();
    let resumed = mlscope::start_run(RunOptions::new().run_id(&id)).unwrap();
    assert_eq!(
        fx.client().get_run(&id).unwrap().info.status,
        RunStatus::Running
    );
    mlscope::log_metric("after_resume", 2.0, Some(3)).unwrap();
    resumed.end().unwrap();
    let run = fx.client().get_run(&id).unwrap();
    assert_eq!(run.info.status, RunStatus::Finished);
    assert_eq!(run.info.run_name, "resumable");
    assert!(run.data.metrics.contains_key("after_resume"));

    let err = mlscope::start_run(RunOptions::new().run_id("doesnotexist0000")).unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::ResourceDoesNotExist);
}

#[test]
fn ending_with_no_active_run_is_an_error() {
    let _fx = Fixture::new();
    let err = mlscope::end_run(RunStatus::Finished).unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidState);
}

#[test]
fn logging_without_a_run_starts_one_like_mlflow() {
    let fx = Fixture::new();
    mlscope::log_param("implicit", "yes").unwrap();
    let active = mlscope::active_run().unwrap().expect("a run was started");
    assert_eq!(active.data.params["implicit"], "yes");
    mlscope::end_run(RunStatus::Finished).unwrap();
    assert_eq!(
        fx.client()
            .get_run(&active.info.run_id)
            .unwrap()
            .info
            .status,
        RunStatus::Finished
    );
}

#[test]
fn bad_input_gets_mlflow_error_codes() {
    let fx = Fixture::new();
    let run = mlscope::start_run(RunOptions::new()).unwrap();
    let code = |r: mlscope::Result<()>| r.unwrap_err().error_code();
    assert_eq!(
        code(mlscope::log_metric("bad//key", 1.0, None)),
        ErrorCode::InvalidParameterValue
    );
    assert_eq!(
        code(mlscope::log_param("../escape", "x").map(|_| ())),
        ErrorCode::InvalidParameterValue
    );
    mlscope::log_param("p", "a").unwrap();
    mlscope::log_param("p", "a").unwrap(); // same value: no-op
    let err = mlscope::log_param("p", "b").unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
    assert!(err.to_string().contains("p"), "{err}");

    // Over-long param values are truncated to 6000 characters, as MLflow does by default.
    mlscope::log_param("long", "x".repeat(7000)).unwrap();
    let client = fx.client();
    let stored = client.get_run(run.run_id()).unwrap();
    assert_eq!(stored.data.params["long"].len(), 6000);

    assert_eq!(
        client
            .get_run("0123456789abcdef0123456789abcdef")
            .unwrap_err()
            .error_code(),
        ErrorCode::ResourceDoesNotExist
    );
    assert_eq!(
        client.get_experiment("123456").unwrap_err().error_code(),
        ErrorCode::ResourceDoesNotExist
    );
    assert_eq!(
        mlscope::set_experiment_by_id("424242")
            .unwrap_err()
            .error_code(),
        ErrorCode::ResourceDoesNotExist
    );
    assert_eq!(
        client
            .create_experiment("", None, &[])
            .unwrap_err()
            .error_code(),
        ErrorCode::InvalidParameterValue
    );
    run.end().unwrap();
}

#[test]
fn deleted_experiment_cannot_be_activated() {
    let fx = Fixture::new();
    let client = fx.client();
    let id = client.create_experiment("soon-gone", None, &[]).unwrap();
    client.delete_experiment(&id).unwrap();
    let err = mlscope::set_experiment("soon-gone").unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidState);
    // The name stays reserved while the experiment is in the trash.
    let err = client
        .create_experiment("soon-gone", None, &[])
        .unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::ResourceAlreadyExists);
}

#[test]
fn client_batches_are_split_within_mlflow_limits() {
    let fx = Fixture::new();
    let client = fx.client();
    let run = client.create_run("0", Some("batch"), &[], None).unwrap();
    let metrics: Vec<mlscope::Metric> = (0..2500)
        .map(|i| mlscope::Metric::new("m", i as f64, 1_000 + i, i))
        .collect();
    let params: Vec<mlscope::Param> = (0..150)
        .map(|i| mlscope::Param::new(format!("p{i}"), i.to_string()))
        .collect();
    client
        .log_batch(&run.info.run_id, &metrics, &params, &[])
        .unwrap();
    let history = client.get_metric_history(&run.info.run_id, "m").unwrap();
    assert_eq!(history.len(), 2500);
    let stored = client.get_run(&run.info.run_id).unwrap();
    assert_eq!(stored.data.params.len(), 150);
    assert_eq!(stored.data.metrics["m"].value, 2499.0);
}

#[test]
fn search_runs_pages_and_views() {
    let fx = Fixture::new();
    let client = fx.client();
    let exp = client.create_experiment("paging", None, &[]).unwrap();
    let mut ids = Vec::new();
    for i in 0..7 {
        let run = client
            .create_run(&exp, Some(&format!("r{i}")), &[], Some(1_000 + i))
            .unwrap();
        ids.push(run.info.run_id);
    }
    client.delete_run(&ids[0]).unwrap();
    let mut query = RunQuery::new([exp.clone()]);
    query.max_results = 4;
    let first = client.search_runs(&query).unwrap();
    assert_eq!(first.items.len(), 4);
    // Newest first.
    assert_eq!(first.items[0].info.run_name, "r6");
    query.page_token = first.next_page_token.clone();
    assert!(query.page_token.is_some());
    let second = client.search_runs(&query).unwrap();
    assert_eq!(second.items.len(), 2);
    assert!(second.next_page_token.is_none());

    let mut deleted = RunQuery::new([exp.clone()]);
    deleted.view_type = ViewType::DeletedOnly;
    let d = client.search_runs(&deleted).unwrap();
    assert_eq!(d.items.len(), 1);
    assert_eq!(d.items[0].info.run_id, ids[0]);
    deleted.view_type = ViewType::All;
    assert_eq!(client.search_runs(&deleted).unwrap().items.len(), 7);
}

/// Sets environment variables for the duration of a test (callers hold `LOCK`).
struct EnvVars(Vec<&'static str>);

impl EnvVars {
    fn set(vars: &[(&'static str, &str)]) -> EnvVars {
        for (k, v) in vars {
            // SAFETY: tests touching the environment hold LOCK; no other thread of this test
            // binary reads these variables concurrently.
            unsafe { std::env::set_var(k, v) };
        }
        EnvVars(vars.iter().map(|(k, _)| *k).collect())
    }
}

impl Drop for EnvVars {
    fn drop(&mut self) {
        for k in &self.0 {
            // SAFETY: as above.
            unsafe { std::env::remove_var(k) };
        }
    }
}

#[test]
fn mlflow_experiment_name_env_picks_and_creates_the_experiment() {
    let fx = Fixture::new();
    let _env = EnvVars::set(&[("MLFLOW_EXPERIMENT_NAME", "from-env")]);
    let run = mlscope::start_run(RunOptions::new()).unwrap();
    let id = run.run_id().to_string();
    run.end().unwrap();
    let exp = fx
        .client()
        .get_experiment_by_name("from-env")
        .unwrap()
        .expect("created from MLFLOW_EXPERIMENT_NAME");
    assert_eq!(
        fx.client().get_run(&id).unwrap().info.experiment_id,
        exp.experiment_id
    );
}

#[test]
fn mlflow_experiment_id_env_picks_the_experiment() {
    let fx = Fixture::new();
    let exp = fx.client().create_experiment("by-id", None, &[]).unwrap();
    let _env = EnvVars::set(&[("MLFLOW_EXPERIMENT_ID", exp.as_str())]);
    let run = mlscope::start_run(RunOptions::new()).unwrap();
    assert_eq!(run.run().unwrap().info.experiment_id, exp);
    run.end().unwrap();
}

#[test]
fn mlflow_run_id_env_resumes_that_run() {
    let fx = Fixture::new();
    let first = fx
        .client()
        .create_run("0", Some("to-resume"), &[], None)
        .unwrap();
    let id = first.info.run_id;
    fx.client()
        .set_terminated(&id, RunStatus::Failed, None)
        .unwrap();
    let _env = EnvVars::set(&[("MLFLOW_RUN_ID", id.as_str())]);
    let run = mlscope::start_run(RunOptions::new()).unwrap();
    assert_eq!(run.run_id(), id);
    mlscope::log_metric("resumed", 1.0, None).unwrap();
    run.end().unwrap();
    let stored = fx.client().get_run(&id).unwrap();
    assert_eq!(stored.info.status, RunStatus::Finished);
    assert!(stored.data.metrics.contains_key("resumed"));
}

#[test]
fn mlflow_tracking_uri_env_is_the_default() {
    let _fx = Fixture::new();
    mlscope::tracking::fluent::reset_for_tests();
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("file://{}", dir.path().join("env-store").display());
    let _env = EnvVars::set(&[("MLFLOW_TRACKING_URI", uri.as_str())]);
    assert_eq!(mlscope::get_tracking_uri(), uri);
    let run = mlscope::start_run(RunOptions::new()).unwrap();
    run.end().unwrap();
    assert!(dir.path().join("env-store/0").is_dir());
}
