//! Races between processes that once broke the stores:
//!
//! * 8 processes calling `set_experiment("same-name")` at the same moment must end with exactly
//!   one experiment of that name, and every call must return it (a file store once created
//!   duplicates; SQLite once answered RESOURCE_ALREADY_EXISTS to the losers).
//! * 8 processes logging single metric values into one SQLite run must all get every value in:
//!   a writer waits for its turn (jittered backoff) until the write timeout, never giving up
//!   after a fixed number of attempts.
//!
//! The racing processes are this test binary, re-run with `MLSCOPE_RACE_*` set (the
//! `race_child` test is a no-op otherwise). The `set_experiment` children start together: each
//! announces itself with a file, then waits for the parent's "go" file.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use mlscope::{ExperimentQuery, TrackingClient, ViewType};

const PROCESSES: usize = 8;
/// Rounds of the `set_experiment` race, each with a new name.
const ROUNDS: usize = 12;
/// Single `log_metric` calls per SQLite writer.
const POINTS: usize = 250;

#[test]
fn race_child() {
    let Ok(mode) = std::env::var("MLSCOPE_RACE_MODE") else {
        return; // not a child process
    };
    let uri = std::env::var("MLSCOPE_RACE_URI").unwrap();
    match mode.as_str() {
        "set_experiment" => {
            let name = std::env::var("MLSCOPE_RACE_NAME").unwrap();
            let ready = PathBuf::from(std::env::var("MLSCOPE_RACE_READY").unwrap());
            let go = PathBuf::from(std::env::var("MLSCOPE_RACE_GO").unwrap());
            mlscope::set_tracking_uri(&uri);
            // Open the store before the start, so that all children race on the name only.
            mlscope::search_experiments(&ExperimentQuery::default()).unwrap();
            std::fs::write(&ready, b"").unwrap();
            while !go.exists() {
                std::thread::sleep(Duration::from_millis(1));
            }
            match mlscope::set_experiment(&name) {
                Ok(e) => println!("OK {}", e.experiment_id),
                Err(e) => println!("ERR {e}"),
            }
        }
        "log_metric" => {
            let run = std::env::var("MLSCOPE_RACE_RUN").unwrap();
            let index: i64 = std::env::var("MLSCOPE_RACE_INDEX")
                .unwrap()
                .parse()
                .unwrap();
            let client = TrackingClient::new(&uri).unwrap();
            let mut failures = Vec::new();
            for i in 0..POINTS as i64 {
                let step = index * POINTS as i64 + i;
                if let Err(e) = client.log_metric(&run, "m", i as f64, Some(step), Some(step)) {
                    failures.push(e.to_string());
                }
            }
            println!("FAILURES {}", failures.len());
            for f in failures.iter().take(3) {
                println!("ERR {f}");
            }
        }
        other => panic!("unknown MLSCOPE_RACE_MODE {other}"),
    }
}

fn child(mode: &str, uri: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "race_child",
        "--test-threads=1",
        "--quiet",
        "--nocapture",
    ])
    .env("MLSCOPE_RACE_MODE", mode)
    .env("MLSCOPE_RACE_URI", uri)
    .env_remove("MLFLOW_TRACKING_URI")
    .stdout(Stdio::piped());
    cmd
}

/// The lines a child printed (the test harness's own lines left out).
fn child_lines(output: &std::process::Output) -> Vec<String> {
    assert!(output.status.success(), "a child process failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| l.starts_with("OK ") || l.starts_with("ERR ") || l.starts_with("FAILURES "))
        .map(str::to_string)
        .collect()
}

fn wait_for_files(paths: &[PathBuf]) {
    while !paths.iter().all(|p| p.exists()) {
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Runs `ROUNDS` rounds of 8 simultaneous `set_experiment` calls on `uri`; returns the errors
/// the calls returned and, per round, the ids the calls returned and the number of experiments
/// with the round's name afterwards.
fn set_experiment_race(uri: &str, sync_dir: &Path) -> (Vec<String>, Vec<(Vec<String>, usize)>) {
    // The store exists before the race (its creation is not what is raced here).
    let client = TrackingClient::new(uri).unwrap();
    client.create_experiment("warm-up", None, &[]).unwrap();
    let mut errors = Vec::new();
    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        let name = format!("same-name-{round}");
        let go = sync_dir.join(format!("go-{round}"));
        let ready: Vec<PathBuf> = (0..PROCESSES)
            .map(|i| sync_dir.join(format!("ready-{round}-{i}")))
            .collect();
        let children: Vec<_> = ready
            .iter()
            .map(|ready| {
                child("set_experiment", uri)
                    .env("MLSCOPE_RACE_NAME", &name)
                    .env("MLSCOPE_RACE_READY", ready)
                    .env("MLSCOPE_RACE_GO", &go)
                    .spawn()
                    .unwrap()
            })
            .collect();
        wait_for_files(&ready);
        std::fs::write(&go, b"").unwrap();
        let mut ids = Vec::new();
        for c in children {
            for line in child_lines(&c.wait_with_output().unwrap()) {
                match line.strip_prefix("OK ") {
                    Some(id) => ids.push(id.to_string()),
                    None => errors.push(format!("{name}: {line}")),
                }
            }
        }
        let same_name = TrackingClient::new(uri)
            .unwrap()
            .list_all_experiments(ViewType::All)
            .unwrap()
            .items
            .iter()
            .filter(|e| e.name == name)
            .count();
        rounds.push((ids, same_name));
    }
    (errors, rounds)
}

fn assert_one_experiment_per_name(uri: &str) {
    let sync = tempfile::tempdir().unwrap();
    let (errors, rounds) = set_experiment_race(uri, sync.path());
    assert!(
        errors.is_empty(),
        "{uri}: set_experiment failed: {errors:#?}"
    );
    for (round, (ids, same_name)) in rounds.iter().enumerate() {
        assert_eq!(
            *same_name, 1,
            "{uri}: round {round}: experiments named alike"
        );
        assert_eq!(ids.len(), PROCESSES, "{uri}: round {round}");
        assert!(
            ids.iter().all(|id| *id == ids[0]),
            "{uri}: round {round}: every call returns the one experiment: {ids:?}"
        );
    }
}

#[test]
fn simultaneous_set_experiment_makes_one_experiment_in_an_mlruns_folder() {
    let dir = tempfile::tempdir().unwrap();
    assert_one_experiment_per_name(&dir.path().join("mlruns").display().to_string());
}

#[test]
fn simultaneous_set_experiment_never_fails_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    assert_one_experiment_per_name(&format!(
        "sqlite:///{}",
        dir.path().join("mlflow.db").display()
    ));
}

#[test]
fn eight_sqlite_writers_all_get_every_value_in() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("mlflow.db").display());
    let client = TrackingClient::new(&uri).unwrap();
    let run = client
        .create_run("0", Some("contended"), &[], None)
        .unwrap()
        .info
        .run_id;
    let children: Vec<_> = (0..PROCESSES)
        .map(|i| {
            child("log_metric", &uri)
                .env("MLSCOPE_RACE_RUN", &run)
                .env("MLSCOPE_RACE_INDEX", i.to_string())
                // SQLite's own busy handler gives up at once: waiting for the lock is left to
                // the store's retries, which must go on until the write timeout.
                .env("MLSCOPE_SQLITE_BUSY_TIMEOUT_MS", "1")
                .env("MLSCOPE_SQLITE_WRITE_TIMEOUT_MS", "600000")
                .spawn()
                .unwrap()
        })
        .collect();
    let mut reports = Vec::new();
    for c in children {
        reports.extend(child_lines(&c.wait_with_output().unwrap()));
    }
    let failed: Vec<&String> = reports
        .iter()
        .filter(|l| l.starts_with("ERR ") || (l.starts_with("FAILURES ") && *l != "FAILURES 0"))
        .collect();
    assert!(failed.is_empty(), "writers gave up: {failed:#?}");
    let history = client.get_metric_history(&run, "m").unwrap();
    assert_eq!(history.len(), PROCESSES * POINTS);
    let mut steps: Vec<i64> = history.iter().map(|m| m.step).collect();
    steps.sort_unstable();
    assert_eq!(steps, (0..(PROCESSES * POINTS) as i64).collect::<Vec<_>>());
}
