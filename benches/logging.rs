//! Logging throughput on both backends: single `log_metric` calls per second, and a 10,000-metric
//! `log_batch` (split into MLflow's 1,000-metric requests), as MLflow's
//! `shared/tools/mlflow_perf_anchors.py logging` measures them.
//!
//! ```sh
//! cargo bench --bench logging
//! MLSCOPE_BENCH_SINGLE=2000 MLSCOPE_BENCH_REPS=5 cargo bench --bench logging
//! scripts/logging_bench_mlflow.sh      # MLflow's side, same machine
//! ```

mod common;
use common::env_usize;

use std::time::Instant;

use mlscope::{Metric, TrackingClient};

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// (single log_metric calls per second, seconds for a 10k-metric batch), medians over reps.
fn measure(uri: &str, singles: usize, reps: usize) -> (f64, f64) {
    let client = TrackingClient::new(uri).expect("store opens");
    let mut single_rates = Vec::new();
    let mut batch_secs = Vec::new();
    for rep in 0..reps {
        let run = client
            .create_run("0", Some(&format!("bench-{rep}")), &[], None)
            .expect("run created");
        let id = run.info.run_id;
        let start = Instant::now();
        for i in 0..singles {
            client
                .log_metric(
                    &id,
                    "single",
                    i as f64,
                    Some(1_700_000_000_000 + i as i64),
                    Some(i as i64),
                )
                .expect("log_metric");
        }
        single_rates.push(singles as f64 / start.elapsed().as_secs_f64());

        let metrics: Vec<Metric> = (0..10_000)
            .map(|i| Metric::new("batch", i as f64 * 0.5, 1_700_000_000_000 + i, i))
            .collect();
        let start = Instant::now();
        client
            .log_batch(&id, &metrics, &[], &[])
            .expect("log_batch");
        batch_secs.push(start.elapsed().as_secs_f64());
    }
    (median(single_rates), median(batch_secs))
}

fn main() {
    // `cargo test --all-targets` runs harness-less benches as tests: only measure under
    // `cargo bench` (which passes --bench).
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let singles = env_usize("MLSCOPE_BENCH_SINGLE", 1000);
    let reps = env_usize("MLSCOPE_BENCH_REPS", 3);
    let dir = tempfile::Builder::new()
        .prefix("mlscope-bench-logging-")
        .tempdir_in(
            std::env::var("MLSCOPE_BENCH_DIR")
                .unwrap_or_else(|_| std::env::temp_dir().display().to_string()),
        )
        .expect("temp dir");
    let file_uri = dir.path().join("mlruns").display().to_string();
    let sqlite_uri = format!("sqlite:///{}", dir.path().join("mlflow.db").display());

    println!("logging throughput ({singles} single calls, 10,000-metric batch; median of {reps})");
    println!("| backend | log_metric calls/s | log_batch 10k metrics (s) |");
    println!("|---|---|---|");
    for (name, uri) in [("file", file_uri.as_str()), ("sqlite", sqlite_uri.as_str())] {
        // SQLite commits (fsync) once per call: fewer single calls keep the run short.
        let n = if name == "sqlite" {
            singles.min(300)
        } else {
            singles
        };
        let (rate, secs) = measure(uri, n, reps);
        println!("| {name} | {rate:.0} | {secs:.3} |");
    }
}
