//! A logged measurement of the viewer on a 5,000-run `mlruns` store written by mlscope's own
//! writer: time to the first rows, time to all rows, and UI frame times while scrolling the
//! runs table (CPU time of the UI thread; no GPU in the loop).
//!
//! ```sh
//! cargo test --release --test viewer_perf -- --ignored --nocapture
//! ```
//!
//! Ignored by default: writing 5,000 runs takes a while. Needs a working file store. With
//! `MLSCOPE_PERF_STORE=<folder>` the store is written to `<folder>/mlruns` and kept, e.g. to open
//! it in the app with `MLSCOPE_VIEWER_TIMINGS=1 mlscope <folder>/mlruns`.
//!
//! `browsing_an_existing_store` opens a store that is already there (issue 7: the 10,000-run
//! stores of `cargo bench --bench scale`) and also reports the process's peak memory; run it
//! alone, so that the peak is its own:
//!
//! ```sh
//! MLSCOPE_SCALE_STORE=target/mlscope-scale/scale-10000r-20p-10m-100s/mlruns \
//!   cargo test --release --test viewer_perf browsing_an_existing_store -- --ignored --nocapture
//! ```

#![cfg(feature = "viewer")]

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use mlscope::model::tags;
use mlscope::viewer::App;
use mlscope::{CreateRun, ExperimentQuery, Metric, Param, RunStatus, RunTag, TrackingStore};

const RUNS: usize = 5_000;

fn write_store(root: &std::path::Path) -> Option<Arc<dyn TrackingStore>> {
    let uri = root.join("mlruns").display().to_string();
    let store = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let s = mlscope::open_store(&uri).ok()?;
        s.search_experiments(&ExperimentQuery::default()).ok()?;
        Some(s)
    }))
    .ok()
    .flatten()?;
    let exp = store.create_experiment("big-sweep", None, &[]).ok()?;
    let t0 = 1_767_603_600_000i64;
    let mut parent = String::new();
    for i in 0..RUNS {
        let mut tags_ = vec![RunTag::new(tags::SOURCE_NAME, "train.py")];
        if i % 50 != 0 {
            tags_.push(RunTag::new(tags::PARENT_RUN_ID, parent.clone()));
        }
        let run = store
            .create_run(CreateRun {
                experiment_id: exp.clone(),
                user_id: "bench".into(),
                start_time: Some(t0 + i as i64 * 1000),
                tags: tags_,
                run_name: Some(format!("run-{i:05}")),
            })
            .ok()?;
        let id = run.info.run_id;
        if i % 50 == 0 {
            parent = id.clone();
        }
        let metrics: Vec<Metric> = (0..10)
            .flat_map(|s| {
                let t = t0 + i as i64 * 1000 + s;
                [
                    Metric::new("loss", 1.0 / (1.0 + s as f64 + i as f64 * 1e-3), t, s),
                    Metric::new("acc", 0.5 + (i % 97) as f64 / 200.0, t, s),
                ]
            })
            .collect();
        let params = [
            Param::new("lr", format!("{}", [0.1, 0.01, 0.001][i % 3])),
            Param::new("seed", format!("{}", i % 7)),
            Param::new("layers", format!("{}", 2 + i % 5)),
        ];
        store.log_batch(&id, &metrics, &params, &[]).ok()?;
        store
            .update_run_info(
                &id,
                Some(RunStatus::Finished),
                Some(t0 + i as i64 * 1000 + 900),
                None,
            )
            .ok()?;
    }
    Some(store)
}

/// Frame times of 300 frames scrolling the runs table with the mouse wheel (200 down, 100 up).
fn scroll_frames(h: &mut Harness<'static, App>) -> Vec<Duration> {
    let mut frames = Vec::new();
    for i in 0..300 {
        h.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, if i < 200 { -120.0 } else { 240.0 }),
            modifiers: egui::Modifiers::NONE,
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Wheel,
        });
        h.hover_at(egui::pos2(800.0, 300.0));
        let f = Instant::now();
        h.step();
        frames.push(f.elapsed());
    }
    frames
}

#[test]
#[ignore = "writes a 5,000-run store; run with --ignored --nocapture"]
fn time_to_first_rows_and_scrolling_frame_times_on_5000_runs() {
    let dir = tempfile::tempdir().unwrap();
    // MLSCOPE_PERF_STORE=<folder> writes the store there and keeps it (to open it in the app).
    let kept = std::env::var_os("MLSCOPE_PERF_STORE").map(std::path::PathBuf::from);
    let root = kept.unwrap_or_else(|| dir.path().to_path_buf());
    let started = Instant::now();
    let Some(_) = write_store(&root) else {
        eprintln!("skipped: this build has no working file store");
        return;
    };
    eprintln!(
        "wrote {RUNS} runs in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Open through the URI, as the binary does (a fresh store: nothing cached).
    let store = mlscope::open_store(&root.join("mlruns").display().to_string()).unwrap();
    let opened = Instant::now();
    // Building the harness already runs frames; the app measures from its own start.
    let mut h = Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .with_max_steps(100_000)
        .build_ui_state(
            |ui, app: &mut App| app.ui(ui),
            App::new_with_store(store, true),
        );
    while opened.elapsed() < Duration::from_secs(120) {
        h.step();
        if h.state().is_idle() && h.state().shown_run_names().len() >= RUNS {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let all_rows = opened.elapsed();
    let first_rows = h.state().time_to_first_rows().expect("rows shown");
    let mut frames_while_loading: Vec<Duration> = h
        .state()
        .frame_times_ms()
        .iter()
        .map(|ms| Duration::from_secs_f32(ms / 1e3))
        .collect();
    // Parents are expanded by default: all 5,000 rows are in the table. Scroll through it.
    let n = h.state().shown_run_names().len();
    let mut frames = scroll_frames(&mut h);
    frames.sort();
    frames_while_loading.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let q = |v: &[Duration], p: f64| ms(v[((v.len() - 1) as f64 * p) as usize]);
    eprintln!(
        "viewer on {RUNS} runs ({n} rows shown): first rows after {:.0} ms, all rows after {:.0} ms",
        ms(first_rows),
        ms(all_rows)
    );
    eprintln!(
        "UI frame while loading: p50 {:.2} ms, max {:.2} ms over {} frames",
        q(&frames_while_loading, 0.5),
        q(&frames_while_loading, 1.0),
        frames_while_loading.len()
    );
    eprintln!(
        "UI frame while scrolling: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms over {} frames",
        q(&frames, 0.5),
        q(&frames, 0.95),
        q(&frames, 1.0),
        frames.len()
    );
    // The window must never freeze: no UI frame anywhere near a second.
    assert!(q(&frames, 0.95) < 100.0);
    assert!(q(&frames_while_loading, 1.0) < 1000.0);
}

/// Peak resident memory of this process so far, MiB (Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<f64>().ok()? / 1024.0)
}

#[test]
#[ignore = "needs MLSCOPE_SCALE_STORE=<store URI or path>; run with --ignored --nocapture"]
fn browsing_an_existing_store() {
    let Some(uri) = std::env::var_os("MLSCOPE_SCALE_STORE") else {
        eprintln!(
            "skipped: set MLSCOPE_SCALE_STORE to a store (e.g. of `cargo bench --bench scale`)"
        );
        return;
    };
    let uri = uri.to_string_lossy().into_owned();
    // Rows to wait for (default: until the worker is idle and the rows stop changing).
    let expected: Option<usize> = std::env::var("MLSCOPE_SCALE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok());
    let store = mlscope::open_store(&uri).unwrap();
    let opened_for_app = Instant::now();
    let mut h = Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .with_max_steps(100_000)
        .build_ui_state(
            |ui, app: &mut App| app.ui(ui),
            App::new_with_store(store, true),
        );
    // MLSCOPE_SCALE_LIVE=0: without live refresh (its file watch sees the store being read).
    if std::env::var("MLSCOPE_SCALE_LIVE").is_ok_and(|v| v == "0") {
        h.state_mut().set_live_refresh(false);
    }
    let mut stable = 0;
    let mut last = 0;
    let mut loading_frames = Vec::new();
    while opened_for_app.elapsed() < Duration::from_secs(180) {
        let f = Instant::now();
        h.step();
        loading_frames.push(f.elapsed());
        let shown = h.state().shown_run_names().len();
        stable = if h.state().is_idle() && shown > 0 && shown == last {
            stable + 1
        } else {
            0
        };
        last = shown;
        if expected.map_or(stable >= 50, |e| h.state().is_idle() && shown >= e) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let all_rows = opened_for_app.elapsed();
    let n = h.state().shown_run_names().len();
    let first_rows = h.state().time_to_first_rows();
    loading_frames.sort();
    eprintln!(
        "loaded {n} rows after {:.0} ms (idle: {}); {} frames while loading, p50 {:.1} ms, max \
         {:.1} ms; peak memory so far {:.0} MiB",
        all_rows.as_secs_f64() * 1e3,
        h.state().is_idle(),
        loading_frames.len(),
        loading_frames[loading_frames.len() / 2].as_secs_f64() * 1e3,
        loading_frames.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
        peak_rss_mib().unwrap_or(f64::NAN)
    );
    let mut frames = scroll_frames(&mut h);
    frames.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let q = |v: &[Duration], p: f64| ms(v[((v.len() - 1) as f64 * p) as usize]);
    eprintln!(
        "viewer on {uri}: {n} rows shown; first rows after {:.0} ms, all rows after {:.0} ms",
        first_rows.map_or(f64::NAN, ms),
        ms(all_rows)
    );
    eprintln!(
        "runs table frame while scrolling: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms over {} frames",
        q(&frames, 0.5),
        q(&frames, 0.95),
        q(&frames, 1.0),
        frames.len()
    );
    eprintln!(
        "peak memory (VmHWM) of the test process: {:.0} MiB",
        peak_rss_mib().unwrap_or(f64::NAN)
    );
}
