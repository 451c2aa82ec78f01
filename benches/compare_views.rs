//! Comparing many runs (issue 15). Prints
//!
//! 1. grouped charts: 1,000 runs × a 10,000-step metric in 20 groups: the time to compute the 20
//!    bands (mean, median, min, max, std over every point, aligned by step) on one thread, then
//!    through the Charts panel (bands computed on its background thread while frames go on), and
//!    frame times while zooming and panning the grouped chart;
//! 2. 10,000 runs in the scatter plot and in parallel coordinates: frame times while the pointer
//!    moves over them (hover look-up on every frame) and while brushing an axis.
//!
//! Frames are the CPU side (the panel's UI pass and egui's tessellation; no GPU), on a hand-built
//! view context (no worker thread), like `chart_scale`.
//!
//! `cargo bench --bench compare_views` (measures only with `--bench`; `cargo test` runs it as a
//! no-op).

use std::sync::Arc;
use std::time::{Duration, Instant};

use mlscope::model::{LifecycleStage, Metric, Run, RunData, RunInfo, RunInputs, RunStatus};
use mlscope::viewer::Persisted;
use mlscope::viewer::testing::{
    ChartOptions, Charts, ChartsView, Dim, Entry, GroupKey, MetricAgg, Row, RunSet, Series,
    ViewData, aggregate,
};

const KEY: &str = "loss";
const SCREEN: egui::Vec2 = egui::vec2(1400.0, 800.0);
const GROUPS: usize = 20;

fn run(k: usize) -> Arc<Run> {
    let lr = [0.1, 0.03, 0.01, 0.003, 0.001][k % 5];
    Arc::new(Run {
        info: RunInfo {
            run_id: format!("{k:032x}"),
            run_name: format!("run-{k:05}"),
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
                Metric::new(KEY, 1.0 / (1.0 + k as f64 * 1e-3), 0, 0),
            )]
            .into_iter()
            .collect(),
            params: [
                ("group".to_string(), (k % GROUPS).to_string()),
                ("lr".to_string(), lr.to_string()),
                (
                    "optimizer".to_string(),
                    ["adam", "sgd", "adamw"][k % 3].to_string(),
                ),
                ("batch_size".to_string(), (32 << (k % 4)).to_string()),
            ]
            .into_iter()
            .collect(),
            ..RunData::default()
        },
        inputs: RunInputs::default(),
    })
}

fn series(k: usize, steps: usize) -> Series {
    Series {
        steps: (0..steps as i64).collect(),
        timestamps: (0..steps as i64)
            .map(|i| 1_700_000_000_000 + i * 100)
            .collect(),
        values: (0..steps)
            .map(|i| {
                let noise =
                    ((i.wrapping_mul(2_654_435_761) ^ k.wrapping_mul(40_503)) % 1000) as f64 / 1e4;
                (1.0 + (k % GROUPS) as f64 * 0.05) / (1.0 + i as f64 * 1e-3) + noise
            })
            .collect(),
        offset: None,
    }
}

struct App {
    data: ViewData,
    charts: Charts,
}

fn app_with(runs: Vec<Arc<Run>>, histories: Vec<Series>, options: ChartOptions) -> App {
    let mut data = ViewData::new(Persisted::default(), true);
    for (r, s) in runs.iter().zip(histories) {
        data.histories
            .set_ready((r.info.run_id.clone(), KEY.to_string()), s);
    }
    data.rows.rows = (0..runs.len())
        .map(|i| Row {
            run: i,
            depth: 0,
            has_children: false,
            context_only: false,
        })
        .collect();
    data.selection = runs.iter().map(|r| r.info.run_id.clone()).collect();
    data.selected_experiments.insert("0".into());
    data.runs.entry = Entry::Ready(Arc::new(RunSet::new(runs, 1)));
    data.persisted.charts = options;
    App {
        data,
        charts: Charts::default(),
    }
}

struct Driver {
    ctx: egui::Context,
    time: f64,
    modifiers: egui::Modifiers,
}

impl Driver {
    fn new() -> Driver {
        Driver {
            ctx: egui::Context::default(),
            time: 0.0,
            modifiers: egui::Modifiers::NONE,
        }
    }

    /// One frame of the Charts tab (UI pass and tessellation); its time.
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
            // Commands (history requests, selections) are dropped: nothing applies them.
            egui::CentralPanel::default().show(ui, |ui| app.charts.show(ui, &app.data.ctx()));
        });
        let shapes = std::mem::take(&mut out.shapes);
        let prims = self.ctx.tessellate(shapes, out.pixels_per_point);
        out.textures_delta.clear();
        std::hint::black_box(prims);
        started.elapsed()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn summary(mut frames: Vec<Duration>) -> String {
    frames.sort();
    let pct = |p: f64| ms(frames[((frames.len() - 1) as f64 * p).round() as usize]);
    format!(
        "{} frames: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        frames.len(),
        pct(0.5),
        pct(0.95),
        ms(*frames.last().unwrap_or(&Duration::ZERO))
    )
}

fn button(pos: egui::Pos2, pressed: bool) -> egui::Event {
    egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: egui::Modifiers::NONE,
    }
}

fn grouped(runs_n: usize, steps: usize) {
    let runs: Vec<Arc<Run>> = (0..runs_n).map(run).collect();
    let histories: Vec<Series> = (0..runs_n).map(|k| series(k, steps)).collect();
    // 1a. The bands alone, one thread.
    let t = Instant::now();
    let mut points = 0;
    for g in 0..GROUPS {
        let members: Vec<Arc<Series>> = (g..runs_n)
            .step_by(GROUPS)
            .map(|k| Arc::new(histories[k].clone()))
            .collect();
        let b = aggregate(&members);
        points += members.iter().map(|s| s.values.len()).sum::<usize>();
        std::hint::black_box(b);
    }
    let cloned = t.elapsed();
    // Without the clones into Arcs (the panel holds the histories as Arcs already).
    let arcs: Vec<Arc<Series>> = histories.iter().cloned().map(Arc::new).collect();
    let t = Instant::now();
    for g in 0..GROUPS {
        let members: Vec<Arc<Series>> = (g..runs_n)
            .step_by(GROUPS)
            .map(|k| Arc::clone(&arcs[k]))
            .collect();
        std::hint::black_box(aggregate(&members));
    }
    let bands = t.elapsed();
    drop(arcs);
    println!(
        "bands: {runs_n} runs × {steps} steps in {GROUPS} groups ({points} points): {:.0} ms \
         on one thread ({:.0} ms with copying the histories)",
        ms(bands),
        ms(cloned)
    );
    // 1b. Through the panel: frames go on while its thread computes the bands.
    let options = ChartOptions {
        group_by: vec![GroupKey::Param("group".into())],
        ..ChartOptions::default()
    };
    let mut app = app_with(runs, histories, options);
    let mut d = Driver::new();
    let t = Instant::now();
    let mut waiting = Vec::new();
    loop {
        waiting.push(d.frame(&mut app, Vec::new()));
        let state = app.charts.group_state();
        let done = state.groups.len() == GROUPS
            && state
                .groups
                .iter()
                .all(|g| state.band(KEY, &g.label).is_some());
        if done {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(120), "bands never came");
        std::thread::sleep(Duration::from_millis(1));
    }
    println!(
        "  through the Charts panel: all {GROUPS} bands drawn {:.0} ms after the first frame; \
         frames meanwhile {}",
        ms(t.elapsed()),
        summary(waiting)
    );
    for _ in 0..3 {
        d.frame(&mut app, Vec::new());
    }
    // Zoom x in step by step, pan, zoom out, pan (as chart_scale).
    let shift = egui::Modifiers::SHIFT;
    let none = egui::Modifiers::NONE;
    let mut pos = egui::pos2(300.0, 250.0);
    let mut script: Vec<(Vec<egui::Event>, egui::Modifiers)> =
        vec![(vec![egui::Event::PointerMoved(pos)], none)];
    for _ in 0..40 {
        script.push((vec![egui::Event::Zoom(1.08)], shift));
    }
    script.push((vec![button(pos, true)], none));
    for i in 0..120 {
        pos += egui::vec2(if i < 60 { -3.0 } else { 3.0 }, 0.0);
        script.push((vec![egui::Event::PointerMoved(pos)], none));
    }
    script.push((vec![button(pos, false)], none));
    for _ in 0..40 {
        script.push((vec![egui::Event::Zoom(1.0 / 1.08)], shift));
    }
    script.push((vec![button(pos, true)], none));
    for i in 0..60 {
        pos += egui::vec2(if i < 30 { 4.0 } else { -4.0 }, 0.0);
        script.push((vec![egui::Event::PointerMoved(pos)], none));
    }
    script.push((vec![button(pos, false)], none));
    let mut frames = Vec::new();
    let mut ranges = Vec::new();
    for (events, modifiers) in script {
        d.modifiers = modifiers;
        frames.push(d.frame(&mut app, events));
        ranges.push(app.charts.visible_x(KEY));
    }
    let changed = ranges.windows(2).filter(|w| w[0] != w[1]).count();
    println!(
        "  zoom and pan the grouped chart ({changed} frames with a new x range): {}",
        summary(frames)
    );
}

fn sweep_views(runs_n: usize) {
    let runs: Vec<Arc<Run>> = (0..runs_n).map(run).collect();
    let mut app = app_with(runs, Vec::new(), ChartOptions::default());
    let mut d = Driver::new();
    // Scatter: lr against loss (last), the pointer moving over the points.
    app.charts.view = ChartsView::Scatter;
    app.charts.scatter.x = Some(Dim::Param("batch_size".into()));
    app.charts.scatter.y = Some(Dim::Metric(KEY.into(), MetricAgg::Last));
    for _ in 0..3 {
        d.frame(&mut app, Vec::new());
    }
    let drawn = app.charts.scatter.screen_points.len();
    let mut frames = Vec::new();
    for i in 0..120 {
        let pos = egui::pos2(100.0 + i as f32 * 9.0, 200.0 + (i % 40) as f32 * 8.0);
        frames.push(d.frame(&mut app, vec![egui::Event::PointerMoved(pos)]));
    }
    println!(
        "scatter, {runs_n} runs ({drawn} points), pointer moving: {}",
        summary(frames)
    );
    // Parallel coordinates: lr, optimizer (categories), batch_size, loss; colour by loss.
    app.charts.view = ChartsView::Parallel;
    for _ in 0..2 {
        d.frame(&mut app, Vec::new());
    }
    app.charts.parcoords.axes = vec![
        Dim::Param("lr".into()),
        Dim::Param("optimizer".into()),
        Dim::Param("batch_size".into()),
        Dim::Metric(KEY.into(), MetricAgg::Last),
    ];
    app.charts.parcoords.color_by = Some(Dim::Metric(KEY.into(), MetricAgg::Last));
    for _ in 0..3 {
        d.frame(&mut app, Vec::new());
    }
    let mut frames = Vec::new();
    for i in 0..60 {
        let pos = egui::pos2(100.0 + i as f32 * 15.0, 300.0);
        frames.push(d.frame(&mut app, vec![egui::Event::PointerMoved(pos)]));
    }
    println!(
        "parallel coordinates, {runs_n} runs ({} lines), pointer moving: {}",
        app.charts.parcoords.lines_drawn,
        summary(frames)
    );
    // Brush the loss axis from its top down.
    let (x, top, bottom) = app.charts.parcoords.axis_screen[3];
    let mut pos = egui::pos2(x, top + 5.0);
    let mut frames = vec![d.frame(
        &mut app,
        vec![egui::Event::PointerMoved(pos), button(pos, true)],
    )];
    for _ in 0..60 {
        pos.y += (bottom - top) * 0.5 / 60.0;
        frames.push(d.frame(&mut app, vec![egui::Event::PointerMoved(pos)]));
    }
    frames.push(d.frame(&mut app, vec![button(pos, false)]));
    println!(
        "  brushing an axis ({} brushes): {}",
        app.charts.parcoords.brushes.len(),
        summary(frames)
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    grouped(1_000, 10_000);
    sweep_views(10_000);
}
