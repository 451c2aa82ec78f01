//! Four processes log 5,000 metric points each into one store at the same time (the same run
//! and their own runs): nothing is lost, on the `mlruns` folder and on SQLite.
//!
//! The writers are this test binary, re-run with `MLSCOPE_WRITER_*` set (the `writer_child`
//! test is a no-op otherwise).

use std::process::{Command, Stdio};

use mlscope::{Metric, TrackingClient};

const PROCESSES: usize = 4;
const POINTS: usize = 5_000;
/// Points per `log_batch` call: half the points go one by one, half in batches.
const BATCH: usize = 50;

#[test]
fn writer_child() {
    let (Ok(uri), Ok(run), Ok(shared), Ok(index)) = (
        std::env::var("MLSCOPE_WRITER_URI"),
        std::env::var("MLSCOPE_WRITER_RUN"),
        std::env::var("MLSCOPE_WRITER_SHARED"),
        std::env::var("MLSCOPE_WRITER_INDEX"),
    ) else {
        return; // not a child process
    };
    let index: i64 = index.parse().unwrap();
    let client = TrackingClient::new(&uri).unwrap();
    let half = POINTS / 2;
    for i in 0..half as i64 {
        client
            .log_metric(&run, "m", i as f64, Some(1_000 + i), Some(i))
            .unwrap();
    }
    for chunk_start in (half..POINTS).step_by(BATCH) {
        let batch: Vec<Metric> = (chunk_start..chunk_start + BATCH)
            .map(|i| Metric::new("m", i as f64, 1_000 + i as i64, i as i64))
            .collect();
        client.log_batch(&run, &batch, &[], &[]).unwrap();
        // Everyone also appends to one shared run and key.
        client
            .log_metric(
                &shared,
                "s",
                index as f64,
                Some(chunk_start as i64),
                Some(index),
            )
            .unwrap();
    }
}

fn hammer(uri: &str) {
    let client = TrackingClient::new(uri).unwrap();
    let runs: Vec<String> = (0..PROCESSES)
        .map(|i| {
            client
                .create_run("0", Some(&format!("writer-{i}")), &[], None)
                .unwrap()
                .info
                .run_id
        })
        .collect();
    let shared = client
        .create_run("0", Some("shared"), &[], None)
        .unwrap()
        .info
        .run_id;
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = runs
        .iter()
        .enumerate()
        .map(|(i, run)| {
            Command::new(&exe)
                .args(["--exact", "writer_child", "--test-threads=1", "--quiet"])
                .env("MLSCOPE_WRITER_URI", uri)
                .env("MLSCOPE_WRITER_RUN", run)
                .env("MLSCOPE_WRITER_SHARED", &shared)
                .env("MLSCOPE_WRITER_INDEX", i.to_string())
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a writer process failed");
    }
    for run in &runs {
        let history = client.get_metric_history(run, "m").unwrap();
        assert_eq!(history.len(), POINTS, "{uri}: run {run}");
        let mut steps: Vec<i64> = history.iter().map(|m| m.step).collect();
        steps.sort_unstable();
        assert_eq!(
            steps,
            (0..POINTS as i64).collect::<Vec<_>>(),
            "{uri}: every step once"
        );
        assert_eq!(
            client.get_run(run).unwrap().data.metrics["m"].step,
            POINTS as i64 - 1
        );
    }
    let shared_points = client.get_metric_history(&shared, "s").unwrap().len();
    assert_eq!(
        shared_points,
        PROCESSES * (POINTS / 2 / BATCH),
        "{uri}: shared run"
    );
}

#[test]
fn four_processes_into_one_mlruns_folder() {
    let dir = tempfile::tempdir().unwrap();
    hammer(&dir.path().join("mlruns").display().to_string());
}

#[test]
fn four_processes_into_one_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    hammer(&format!(
        "sqlite:///{}",
        dir.path().join("mlflow.db").display()
    ));
}
