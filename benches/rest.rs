//! Logging 100,000 metric points through a real `mlflow server` 3.17.2 (SQLite backend, one
//! worker, on this machine): mlscope's `RestStore` synchronously (`log_batch` of 1,000) and with
//! background batching (`log_metric` per point, delivered by the background thread), beside
//! MLflow's Python client on the same server (`scripts/rest_bench_mlflow.py`: `log_batch` of
//! 1,000 and `log_metric(synchronous=False)`), plus single synchronous calls of both.
//!
//! ```sh
//! cargo bench --bench rest                                  # starts its own server
//! MLSCOPE_REST_BENCH_URI=http://127.0.0.1:5000 cargo bench --bench rest   # an existing server
//! MLSCOPE_REST_BENCH_POINTS=20000 MLSCOPE_REST_BENCH_SINGLES=500 cargo bench --bench rest
//! ```
//!
//! Every measurement logs into a fresh run and checks afterwards that every point arrived.

mod common;
use common::env_usize;

#[path = "../tests/support/mod.rs"]
mod support;
#[path = "../tests/support_server/mod.rs"]
mod support_server;

use std::time::Instant;

use mlscope::store::RestStore;
use mlscope::store::rest::AsyncLogging;
use mlscope::{CreateRun, Metric, RunStatus, TrackingStore};

const BASE_TS: i64 = 1_700_000_000_000;

fn new_run(store: &dyn TrackingStore, exp: &str, name: &str) -> String {
    store
        .create_run(CreateRun {
            experiment_id: exp.into(),
            user_id: "bench".into(),
            start_time: None,
            tags: vec![],
            run_name: Some(name.into()),
        })
        .expect("run created")
        .info
        .run_id
}

fn point(i: usize) -> Metric {
    Metric::new("loss", i as f64 * 0.5, BASE_TS + i as i64, i as i64)
}

fn check_count(store: &dyn TrackingStore, run_id: &str, expected: usize, what: &str) {
    let n = store
        .get_metric_history(run_id, "loss")
        .expect("history")
        .len();
    assert_eq!(n, expected, "{what}: {n} of {expected} points arrived");
}

/// Prints a row to stderr as soon as it is measured.
fn record(rows: &mut Vec<Row>, row: Row) {
    eprintln!(
        "measured: {} | {} | {} points | {:.2} s | loop {:?}",
        row.client, row.mode, row.points, row.total_s, row.loop_s
    );
    rows.push(row);
}

struct Row {
    client: &'static str,
    mode: &'static str,
    points: usize,
    total_s: f64,
    loop_s: Option<f64>,
}

fn main() {
    // `cargo test --all-targets` runs harness-less benches as tests: only measure under
    // `cargo bench` (which passes --bench).
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let points = env_usize("MLSCOPE_REST_BENCH_POINTS", 100_000);
    let singles = env_usize("MLSCOPE_REST_BENCH_SINGLES", 2_000);
    let mut _server = None;
    let uri = match std::env::var("MLSCOPE_REST_BENCH_URI") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            let Some(s) = support_server::MlflowServer::start("benches/rest") else {
                return;
            };
            let uri = s.uri();
            _server = Some(s);
            uri
        }
    };
    eprintln!("server: {uri}");
    let store = RestStore::open(&uri).expect("store");
    let exp = store
        .create_experiment(
            &format!("rest-bench-{}", mlscope::model::new_run_id()),
            None,
            &[],
        )
        .expect("experiment");
    let mut rows = Vec::new();

    // 1. Synchronous log_batch of 1,000.
    let run = new_run(&store, &exp, "mlscope-sync-batch");
    let start = Instant::now();
    let all: Vec<Metric> = (0..points).map(point).collect();
    for chunk in all.chunks(1000) {
        store.log_batch(&run, chunk, &[], &[]).expect("log_batch");
    }
    record(
        &mut rows,
        Row {
            client: "mlscope",
            mode: "sync `log_batch` of 1,000",
            points,
            total_s: start.elapsed().as_secs_f64(),
            loop_s: None,
        },
    );
    check_count(&store, &run, points, "sync batch");

    // 2. Background batching: log_metric per point, flushed when the run ends.
    let background = RestStore::open(&uri)
        .expect("store")
        .with_async_logging(AsyncLogging::default())
        .expect("background logging");
    let run = new_run(&background, &exp, "mlscope-background");
    let start = Instant::now();
    for i in 0..points {
        background.log_metric(&run, &point(i)).expect("log_metric");
    }
    let loop_s = start.elapsed().as_secs_f64();
    background
        .update_run_info(&run, Some(RunStatus::Finished), None, None)
        .expect("end run (flush)");
    record(
        &mut rows,
        Row {
            client: "mlscope",
            mode: "background `log_metric` (`with_async_logging`)",
            points,
            total_s: start.elapsed().as_secs_f64(),
            loop_s: Some(loop_s),
        },
    );
    check_count(&store, &run, points, "background");

    // 3. Synchronous single calls.
    let run = new_run(&store, &exp, "mlscope-sync-single");
    let start = Instant::now();
    for i in 0..singles {
        store.log_metric(&run, &point(i)).expect("log_metric");
    }
    record(
        &mut rows,
        Row {
            client: "mlscope",
            mode: "sync `log_metric`, one request each",
            points: singles,
            total_s: start.elapsed().as_secs_f64(),
            loop_s: None,
        },
    );
    check_count(&store, &run, singles, "sync single");

    // MLflow's Python client on the same server.
    if support::require_mlflow(
        support::MlflowVersion::V3_17_2,
        "benches/rest (MLflow side)",
    )
    .is_some()
    {
        let (code, stdout, stderr) = support::run_python(
            support::MlflowVersion::V3_17_2,
            "rest_bench_mlflow.py",
            &[
                &uri,
                "--points",
                &points.to_string(),
                "--singles",
                &singles.to_string(),
            ],
        );
        assert_eq!(code, 0, "rest_bench_mlflow.py failed:\n{stderr}");
        // MLflow prints "View run … at …" lines on stdout too: the result is the last line.
        let last = stdout
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('{'))
            .unwrap_or_else(|| panic!("no JSON from rest_bench_mlflow.py:\n{stdout}\n{stderr}"));
        let v: serde_json::Value =
            serde_json::from_str(last).expect("JSON from rest_bench_mlflow.py");
        let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
        record(
            &mut rows,
            Row {
                client: "MLflow 3.17.2 (Python)",
                mode: "sync `log_batch` of 1,000",
                points,
                total_s: f("sync_batch_s"),
                loop_s: None,
            },
        );
        record(
            &mut rows,
            Row {
                client: "MLflow 3.17.2 (Python)",
                mode: "`log_metric(synchronous=False)` + flush",
                points,
                total_s: f("async_total_s"),
                loop_s: Some(f("async_loop_s")),
            },
        );
        record(
            &mut rows,
            Row {
                client: "MLflow 3.17.2 (Python)",
                mode: "sync `log_metric`, one request each",
                points: singles,
                total_s: f("sync_single_s"),
                loop_s: None,
            },
        );
    }

    println!(
        "\nMetric points through `mlflow server` 3.17.2 (SQLite, 1 worker) on this machine: {uri}"
    );
    println!("| client | mode | points | until on the server (s) | points/s | logging loop (s) |");
    println!("|---|---|---:|---:|---:|---:|");
    for r in &rows {
        let loop_s = r.loop_s.map_or("–".to_string(), |s| format!("{s:.3}"));
        println!(
            "| {} | {} | {} | {:.2} | {:.0} | {} |",
            r.client,
            r.mode,
            r.points,
            r.total_s,
            r.points as f64 / r.total_s,
            loop_s
        );
    }
}
