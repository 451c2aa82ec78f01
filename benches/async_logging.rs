//! Synchronous vs asynchronous logging (file store in a temp dir): `log_metric` calls per
//! second while calling, and values stored per second including the final flush (`end_run`).
//! One thread uses the fluent call on the active run, four threads `TrackingClient` with the
//! run id (as the MLflow script does). `scripts/async_bench_mlflow.py` measures MLflow's `mlflow.log_metric` with
//! `synchronous=True` and `False` the same way; docs/BENCHMARKS.md has both.
//!
//! ```sh
//! cargo bench --bench async_logging
//! MLSCOPE_BENCH_SYNC=5000 MLSCOPE_BENCH_ASYNC=1000000 MLSCOPE_BENCH_REPS=3 cargo bench --bench async_logging
//! ~/.cache/mlscope/venv-mlflow-3.17.2/bin/python scripts/async_bench_mlflow.py
//! ```

mod common;
use common::env_usize;

use std::time::Instant;

use mlscope::RunOptions;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

struct Rates {
    calls_per_sec: f64,
    stored_per_sec: f64,
}

/// Logs `calls` metric values from `threads` threads into a fresh run, then ends it.
fn measure(calls: usize, threads: usize, asynchronous: bool) -> Rates {
    let run = mlscope::start_run(RunOptions::new()).expect("run starts");
    let per_thread = calls / threads;
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let client = run.client().clone();
            let run_id = run.run_id().to_string();
            std::thread::spawn(move || {
                let key = format!("m{t}");
                for i in 0..per_thread {
                    let (v, s) = (i as f64, Some(i as i64));
                    let r = match (asynchronous, threads) {
                        (false, 1) => mlscope::log_metric(&key, v, s),
                        (true, 1) => mlscope::log_metric_async(&key, v, s),
                        (false, _) => client.log_metric(&run_id, &key, v, None, s),
                        (true, _) => client.log_metric_async(&run_id, &key, v, None, s),
                    };
                    r.expect("log_metric");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let calls_done = start.elapsed().as_secs_f64();
    run.end().expect("end_run (flushes)");
    let stored = start.elapsed().as_secs_f64();
    let n = (per_thread * threads) as f64;
    Rates {
        calls_per_sec: n / calls_done,
        stored_per_sec: n / stored,
    }
}

fn main() {
    // `cargo test --all-targets` runs harness-less benches as tests: only measure under
    // `cargo bench` (which passes --bench).
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let sync_calls = env_usize("MLSCOPE_BENCH_SYNC", 5_000);
    let async_calls = env_usize("MLSCOPE_BENCH_ASYNC", 1_000_000);
    let reps = env_usize("MLSCOPE_BENCH_REPS", 3);
    let dir = tempfile::Builder::new()
        .prefix("mlscope-bench-async-")
        .tempdir_in(
            std::env::var("MLSCOPE_BENCH_DIR")
                .unwrap_or_else(|_| std::env::temp_dir().display().to_string()),
        )
        .expect("temp dir");
    mlscope::set_tracking_uri(dir.path().join("mlruns").display().to_string());

    println!("fluent log_metric, file store, median of {reps}");
    println!("| implementation | mode | calls | calls/s | values stored/s (incl. flush) |");
    println!("|---|---|---|---|---|");
    let cases = [
        ("synchronous", sync_calls, 1, false),
        ("asynchronous", async_calls, 1, true),
        ("asynchronous, 4 threads", async_calls, 4, true),
    ];
    for (mode, calls, threads, asynchronous) in cases {
        let mut calls_rates = Vec::new();
        let mut stored_rates = Vec::new();
        for _ in 0..reps {
            let r = measure(calls, threads, asynchronous);
            calls_rates.push(r.calls_per_sec);
            stored_rates.push(r.stored_per_sec);
        }
        println!(
            "| mlscope | {mode} | {calls} | {:.0} | {:.0} |",
            median(calls_rates),
            median(stored_rates)
        );
    }
}
