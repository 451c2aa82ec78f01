//! Live refresh latency: 50 runs log metric points at once (through `FileStore::log_batch`, as
//! a training process would) while a change feed follows the store and reads each changed metric
//! incrementally through the trait (`TrackingStore::metric_history_since` on a
//! `dyn TrackingStore`), as the viewer's worker does. Prints the append→model latency
//! (p50/p95/max) over every point.
//!
//! `cargo bench --bench live` (measures only with `--bench`; `cargo test` runs it as a no-op).

#[cfg(feature = "viewer")]
use std::collections::HashMap;
#[cfg(feature = "viewer")]
use std::sync::Arc;
#[cfg(feature = "viewer")]
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[cfg(feature = "viewer")]
use mlscope::store::FileStore;
#[cfg(feature = "viewer")]
use mlscope::watch::{Change, ChangeFeed, FeedEvent};
#[cfg(feature = "viewer")]
use mlscope::{CreateRun, Metric, TrackingStore};

#[cfg(not(feature = "viewer"))]
fn main() {}

#[cfg(feature = "viewer")]
const RUNS: usize = 50;
#[cfg(feature = "viewer")]
const POINTS: i64 = 40;
#[cfg(feature = "viewer")]
const PERIOD: Duration = Duration::from_millis(100);

#[cfg(feature = "viewer")]
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(feature = "viewer")]
fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("mlruns");
    let store = Arc::new(FileStore::open(&root).expect("store"));
    let ids: Vec<String> = (0..RUNS)
        .map(|_| {
            store
                .create_run(CreateRun {
                    experiment_id: "0".into(),
                    ..CreateRun::default()
                })
                .expect("run")
                .info
                .run_id
        })
        .collect();
    let feed = ChangeFeed::file_store(&root, Arc::new(|| {}));
    let mode = loop {
        if let Some(FeedEvent::Mode(m)) = feed.next_timeout(Duration::from_secs(10)) {
            break m;
        }
    };

    let start = Instant::now();
    let writers: Vec<_> = ids
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, id)| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                // Spread the writers over one period.
                std::thread::sleep(PERIOD * i as u32 / RUNS as u32);
                for step in 0..POINTS {
                    let m = Metric::new("loss", step as f64, now_ms(), step);
                    store.log_batch(&id, &[m], &[], &[]).expect("log");
                    std::thread::sleep(PERIOD);
                }
            })
        })
        .collect();

    // The worker sees only the trait object.
    let reader: Arc<dyn TrackingStore> = store.clone();
    let mut offsets: HashMap<String, u64> = HashMap::new();
    let mut latencies: Vec<i64> = Vec::new();
    let total = RUNS * POINTS as usize;
    let deadline = Instant::now() + Duration::from_secs(120);
    while latencies.len() < total && Instant::now() < deadline {
        let Some(FeedEvent::Changes(changes)) = feed.next_timeout(Duration::from_millis(50)) else {
            continue;
        };
        for c in changes {
            let Change::Metric { run_id, key, .. } = c else {
                continue;
            };
            let from = offsets.get(&run_id).copied().unwrap_or(0);
            let Ok(Some(tail)) = reader.metric_history_since(&run_id, &key, from) else {
                continue;
            };
            let seen = now_ms();
            latencies.extend(tail.metrics.iter().map(|m| seen - m.timestamp));
            offsets.insert(run_id, tail.next_offset);
        }
    }
    for w in writers {
        let _ = w.join();
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(-1)
    };
    println!(
        "live refresh ({mode:?}): {RUNS} runs x {POINTS} points every {} ms, {} of {total} points seen in {:.1} s",
        PERIOD.as_millis(),
        latencies.len(),
        start.elapsed().as_secs_f64()
    );
    println!(
        "append -> model latency: p50 {} ms, p95 {} ms, max {} ms",
        pct(0.5),
        pct(0.95),
        latencies.last().copied().unwrap_or(-1)
    );
}
