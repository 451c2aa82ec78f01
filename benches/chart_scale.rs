//! Chart scale: how the viewer's charts cope with huge curves. Prints
//!
//! 1. the time to read a 1M-point metric file (the worker's path) and to prepare it for drawing
//!    (x, segments, min/max pyramid), and the pyramid alone;
//! 2. the first frame of a chart of that metric (the app's real chart panel, `Charts::show` on a
//!    hand-built view context, run in an egui context and tessellated: the CPU side of a frame,
//!    no GPU);
//! 3. frame times (p50/p95/max) while panning and zooming one chart of `RUNS` runs × 1M points
//!    (default 100; `MLSCOPE_BENCH_RUNS=20` for less memory: 100 × 1M takes about 4.5 GB).
//!
//! `cargo bench --bench chart_scale` (measures only with `--bench`; `cargo test` runs it as a
//! no-op).

use std::sync::Arc;
use std::time::{Duration, Instant};

use mlscope::model::{LifecycleStage, Metric, Run, RunData, RunInfo, RunInputs, RunStatus};
use mlscope::store::FileStore;
use mlscope::viewer::Persisted;
use mlscope::viewer::testing::{
    self as charts, ChartOptions, Charts, Entry, Pyramid, RunSet, Series, ViewData, reduce_brute,
};
use mlscope::{CreateRun, TrackingStore};

const POINTS: usize = 1_000_000;
const KEY: &str = "train/loss";
const SCREEN: egui::Vec2 = egui::vec2(1400.0, 800.0);

/// A loss-like curve with noise and a few spikes; `k` varies it per run.
fn value(k: usize, i: usize) -> f64 {
    let noise = ((i.wrapping_mul(2_654_435_761) ^ k.wrapping_mul(40_503)) % 1000) as f64 / 1e4;
    let spike = if (i + k * 7919).is_multiple_of(250_000) {
        5.0
    } else {
        0.0
    };
    (1.0 + k as f64 * 0.01) / (1.0 + i as f64 * 1e-4) + noise + spike
}

fn series(k: usize) -> Series {
    Series {
        steps: (0..POINTS as i64).collect(),
        timestamps: (0..POINTS as i64)
            .map(|i| 1_700_000_000_000 + i * 10)
            .collect(),
        values: (0..POINTS).map(|i| value(k, i)).collect(),
        offset: None,
    }
}

fn run(k: usize) -> Arc<Run> {
    let id = format!("{k:032x}");
    Arc::new(Run {
        info: RunInfo {
            run_id: id.clone(),
            run_name: format!("run-{k:03}"),
            experiment_id: "0".into(),
            user_id: "bench".into(),
            status: RunStatus::Finished,
            start_time: Some(1_700_000_000_000),
            end_time: None,
            artifact_uri: String::new(),
            lifecycle_stage: LifecycleStage::Active,
        },
        data: RunData {
            metrics: [(
                KEY.to_string(),
                Metric::new(KEY, value(k, POINTS - 1), 0, POINTS as i64 - 1),
            )]
            .into(),
            ..RunData::default()
        },
        inputs: RunInputs::default(),
    })
}

/// The Charts tab: the panel and the data it reads (no app, no worker thread).
struct App {
    data: ViewData,
    charts: Charts,
}

/// The Charts tab of `runs`, all selected, with their histories loaded.
fn app_with(runs: Vec<(Arc<Run>, Series)>) -> App {
    let mut data = ViewData::new(Persisted::default(), true);
    let ids: Vec<String> = runs.iter().map(|(r, _)| r.info.run_id.clone()).collect();
    let mut list = Vec::new();
    for (r, s) in runs {
        data.histories
            .set_ready((r.info.run_id.clone(), KEY.to_string()), s);
        list.push(r);
    }
    data.runs.entry = Entry::Ready(Arc::new(RunSet::new(list, 1)));
    data.selection = ids.into_iter().collect();
    data.persisted.charts = ChartOptions::default();
    App {
        data,
        charts: Charts::default(),
    }
}

struct Driver {
    ctx: egui::Context,
    time: f64,
    /// Time of each frame's UI pass alone (without tessellation).
    ui_times: Vec<Duration>,
    /// Keys held in the next frames.
    modifiers: egui::Modifiers,
}

impl Driver {
    fn new() -> Driver {
        Driver {
            ctx: egui::Context::default(),
            time: 0.0,
            ui_times: Vec::new(),
            modifiers: egui::Modifiers::NONE,
        }
    }

    /// One frame of the Charts tab (layout, chart code, egui_plot, tessellation); its time.
    fn frame(&mut self, app: &mut App, mut events: Vec<egui::Event>) -> Duration {
        self.time += 1.0 / 60.0;
        events.insert(0, egui::Event::ModifiersChanged(self.modifiers));
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, SCREEN)),
            time: Some(self.time),
            events,
            ..Default::default()
        };
        let started = Instant::now();
        let mut out = self.ctx.run_ui(input, |ui| {
            // The commands the panel sends (history requests) are dropped: nothing applies them.
            egui::CentralPanel::default().show(ui, |ui| app.charts.show(ui, &app.data.ctx()));
        });
        let ui_time = started.elapsed();
        let shapes = std::mem::take(&mut out.shapes);
        let prims = self.ctx.tessellate(shapes, out.pixels_per_point);
        let took = started.elapsed();
        self.ui_times.push(ui_time);
        // No renderer here: the font atlas updates are not uploaded anywhere.
        out.textures_delta.clear();
        std::hint::black_box(prims);
        took
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    ms(sorted[((sorted.len() - 1) as f64 * p).round() as usize])
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runs_n: usize = std::env::var("MLSCOPE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    println!("chart scale: {POINTS} points per series, {runs_n} series in the overlaid chart");

    // 1. Reading a 1M-point metric file as the worker does, and preparing it.
    let dir = tempfile::tempdir().expect("temp dir");
    let store = FileStore::open(&dir.path().join("mlruns")).expect("store");
    let id = store
        .create_run(CreateRun {
            experiment_id: "0".into(),
            ..CreateRun::default()
        })
        .expect("run")
        .info
        .run_id;
    for chunk in (0..POINTS).collect::<Vec<_>>().chunks(1000) {
        let batch: Vec<Metric> = chunk
            .iter()
            .map(|&i| {
                Metric::new(
                    KEY,
                    value(0, i),
                    1_700_000_000_000 + i as i64 * 10,
                    i as i64,
                )
            })
            .collect();
        store.log_batch(&id, &batch, &[], &[]).expect("log");
    }
    let started = Instant::now();
    let tail = store.read_metric_since(&id, KEY, 0).expect("read");
    let mut loaded = Series::default();
    loaded.extend(&tail.metrics);
    drop(tail);
    let read = started.elapsed();
    assert_eq!(loaded.values.len(), POINTS);
    let options = ChartOptions::default();
    let mut prep = Vec::new();
    let mut pyr = Vec::new();
    let steps: Vec<f64> = loaded.steps.iter().map(|&s| s as f64).collect();
    for _ in 0..5 {
        let t = Instant::now();
        std::hint::black_box(charts::prepare(&loaded, &options));
        prep.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(Pyramid::new(&steps, &loaded.values));
        pyr.push(t.elapsed());
    }
    prep.sort();
    pyr.sort();
    let smoothed = ChartOptions {
        smoothing: 0.6,
        ..ChartOptions::default()
    };
    let t = Instant::now();
    std::hint::black_box(charts::prepare(&loaded, &smoothed));
    let prep_smooth = t.elapsed();
    println!("read 1M-point metric file (worker): {:.0} ms", ms(read));
    println!(
        "LOD build, 1M points: pyramid alone {:.1} ms; prepare (x, segments, pyramid) {:.1} ms; \
         with EMA smoothing (+ its pyramid) {:.1} ms (median of 5 / one run)",
        ms(pyr[2]),
        ms(prep[2]),
        ms(prep_smooth)
    );

    // One reduction of the whole 1M-point curve to 460 columns: the pass over every point that
    // charts did each frame before the pyramid, and the pyramid's.
    let prepared = charts::prepare(&loaded, &options);
    let seg = &prepared.segments[0];
    let (x0, x1) = (0.0, POINTS as f64);
    let t = Instant::now();
    let brute = reduce_brute(&seg.xs, &seg.ys, x0, x1, 460);
    let brute_t = t.elapsed();
    let t = Instant::now();
    let fast = seg.lod.reduce(&seg.xs, &seg.ys, x0, x1, 460);
    let fast_t = t.elapsed();
    assert_eq!(brute, fast);
    println!(
        "one 1M-point curve to 460 columns: full pass {:.2} ms, pyramid {:.3} ms ({} points kept)",
        ms(brute_t),
        ms(fast_t),
        fast.len()
    );
    drop(prepared);

    // 2. First frame of a 1M-point chart: preparing the series is part of it.
    let mut app = app_with(vec![(run(0), loaded)]);
    let mut d = Driver::new();
    let first = d.frame(&mut app, Vec::new());
    let second = d.frame(&mut app, Vec::new());
    println!(
        "first frame of a 1M-point chart: {:.1} ms (next frame {:.1} ms); \
         read + first frame {:.0} ms",
        ms(first),
        ms(second),
        ms(read + first)
    );
    drop(app);
    drop(store);

    // 3. Pan and zoom over RUNS × 1M points.
    let t = Instant::now();
    let data: Vec<(Arc<Run>, Series)> = (0..runs_n).map(|k| (run(k), series(k))).collect();
    println!(
        "generated {runs_n} × 1M points in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let mut app = app_with(data);
    let mut d = Driver::new();
    // Frames until every series is prepared (a budget of a few ms of preparing per frame).
    let t = Instant::now();
    let mut warm = Vec::new();
    while app.charts.prepared_len() < runs_n && warm.len() < 10_000 {
        warm.push(d.frame(&mut app, Vec::new()));
    }
    warm.sort();
    println!(
        "{runs_n} series prepared over {} frames in {:.2} s (frame max {:.1} ms, p50 {:.1} ms)",
        warm.len(),
        t.elapsed().as_secs_f64(),
        ms(*warm.last().unwrap_or(&Duration::ZERO)),
        pct(&warm, 0.5)
    );
    // Where the chart is: the plot area of the first card.
    for _ in 0..3 {
        d.frame(&mut app, Vec::new());
    }
    // Zoom in on x (Shift + pinch or Ctrl+scroll: the y range stays, every line on screen)
    // step by step, pan while zoomed, zoom out, pan again.
    let shift = egui::Modifiers::SHIFT;
    let none = egui::Modifiers::NONE;
    let mut pos = egui::pos2(200.0, 200.0);
    let mut script: Vec<(Vec<egui::Event>, egui::Modifiers)> =
        vec![(vec![egui::Event::PointerMoved(pos)], none)];
    for _ in 0..60 {
        script.push((vec![egui::Event::Zoom(1.08)], shift));
    }
    let button = |pos, pressed| egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: egui::Modifiers::NONE,
    };
    script.push((vec![button(pos, true)], none));
    for i in 0..120 {
        pos += egui::vec2(if i < 60 { -3.0 } else { 3.0 }, 0.0);
        script.push((vec![egui::Event::PointerMoved(pos)], none));
    }
    script.push((vec![button(pos, false)], none));
    for _ in 0..60 {
        script.push((vec![egui::Event::Zoom(1.0 / 1.08)], shift));
    }
    script.push((vec![button(pos, true)], none));
    for i in 0..60 {
        pos += egui::vec2(if i < 30 { 4.0 } else { -4.0 }, 0.0);
        script.push((vec![egui::Event::PointerMoved(pos)], none));
    }
    script.push((vec![button(pos, false)], none));
    let mut frames = Vec::new();
    let mut bounds = Vec::new();
    d.ui_times.clear();
    for (events, modifiers) in script {
        d.modifiers = modifiers;
        frames.push(d.frame(&mut app, events));
        bounds.push(app.charts.visible_x(KEY));
    }
    let mut ui_only = std::mem::take(&mut d.ui_times);
    ui_only.sort();
    // Phases of the script: zoom in, pan zoomed in, zoom out, pan zoomed out.
    let phases = [
        ("zoom in", 1..61),
        ("pan (zoomed in)", 62..182),
        ("zoom out", 183..243),
        ("pan (all data)", 244..304),
    ];
    let by_phase: Vec<String> = phases
        .iter()
        .map(|(name, r)| {
            let mut f = frames[r.clone()].to_vec();
            f.sort();
            format!("{name} p50 {:.1} / p95 {:.1}", pct(&f, 0.5), pct(&f, 0.95))
        })
        .collect();
    let changed = bounds.windows(2).filter(|w| w[0] != w[1]).count();
    frames.sort();
    println!(
        "pan/zoom, {runs_n} × 1M points, {} frames ({changed} with a new x range): \
         p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        frames.len(),
        pct(&frames, 0.5),
        pct(&frames, 0.95),
        ms(*frames.last().unwrap_or(&Duration::ZERO)),
    );
    println!(
        "  of which the UI pass (chart code, egui_plot) p50 {:.1} ms, p95 {:.1} ms; \
         the rest is tessellation",
        pct(&ui_only, 0.5),
        pct(&ui_only, 0.95)
    );
    println!("  by phase (ms): {}", by_phase.join("; "));
    if let (Some(Some(a)), Some(Some(b))) = (bounds.first(), bounds.get(60)) {
        println!(
            "x range at start {:.0}..{:.0}, after zooming in {:.0}..{:.0}",
            a.0, a.1, b.0, b.1
        );
    }
}
