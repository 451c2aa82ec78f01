//! Comparing many runs (issue 15). Prints
//!
//! 1. grouped charts: 1,000 runs × a 10,000-step metric in 20 groups: the time to compute the 20
//!    bands (mean, median, min, max, std over every point, aligned by step) on one thread, then
//!    through the Charts panel (bands computed on its background thread while frames go on), and
//!    frame times while zooming and panning the grouped chart;
//! 2. 10,000 runs in the scatter plot and in parallel coordinates: frame times while the pointer
//!    moves over them (hover look-up on every frame) and while brushing an axis;
//! 3. the same 1,000 grouped runs on relative time: the time-binned bands on one thread and
//!    through the panel, then zoom and pan frames;
//! 4. chart cards of 500 runs × 10,000 steps: a card of two metrics, a card of one metric
//!    against another (paired by step) and a bar card (max of every value), frames while zooming,
//!    panning and pointing, and the vertices those frames tessellate to
//!    (`COMPARE_VIEWS_CARDS_ONLY=1` runs only these, `COMPARE_VIEWS_CARDS_RUNS=n` with n runs).
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
    CardKind, CardSpec, ChartLayout, ChartOptions, Charts, ChartsView, Dim, Entry, GroupKey,
    MetricAgg, Row, RunSet, Series, Summary, ViewData, XAxis, aggregate, aggregate_time,
    layout_key, time_bins,
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
    /// Vertices of each frame's tessellated meshes, in order.
    vertices: Vec<usize>,
}

impl Driver {
    fn new() -> Driver {
        Driver {
            ctx: egui::Context::default(),
            time: 0.0,
            modifiers: egui::Modifiers::NONE,
            vertices: Vec::new(),
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
        let elapsed = started.elapsed();
        out.textures_delta.clear();
        self.vertices.push(
            prims
                .iter()
                .map(|p| match &p.primitive {
                    egui::epaint::Primitive::Mesh(m) => m.vertices.len(),
                    egui::epaint::Primitive::Callback(_) => 0,
                })
                .sum(),
        );
        std::hint::black_box(prims);
        elapsed
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

/// Steps frames until the Charts panel has drawn every group's band of `KEY`, prints how long
/// that took and the frame times meanwhile, then settles for three frames.
fn frames_until_every_band_is_drawn(d: &mut Driver, app: &mut App) {
    let t = Instant::now();
    let mut waiting = Vec::new();
    loop {
        waiting.push(d.frame(app, Vec::new()));
        let state = app.charts.group_state();
        if state.groups.len() == GROUPS
            && state
                .groups
                .iter()
                .all(|g| state.band(KEY, &g.label).is_some())
        {
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
        d.frame(app, Vec::new());
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
    frames_until_every_band_is_drawn(&mut d, &mut app);
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

/// Zooms x in step by step on the card at `pos`, pans, zooms out, pans; frame times and the
/// frames whose x range of `key` changed.
fn zoom_and_pan(d: &mut Driver, app: &mut App, mut pos: egui::Pos2, key: &str) -> String {
    let shift = egui::Modifiers::SHIFT;
    let none = egui::Modifiers::NONE;
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
    let mut frames = Vec::new();
    let mut ranges = Vec::new();
    for (events, modifiers) in script {
        d.modifiers = modifiers;
        frames.push(d.frame(app, events));
        ranges.push(app.charts.visible_x(key));
    }
    d.modifiers = none;
    let changed = ranges.windows(2).filter(|w| w[0] != w[1]).count();
    format!("({changed} frames with a new x range): {}", summary(frames))
}

fn time_binned(runs_n: usize, steps: usize) {
    let runs: Vec<Arc<Run>> = (0..runs_n).map(run).collect();
    let histories: Vec<Series> = (0..runs_n).map(|k| series(k, steps)).collect();
    let arcs: Vec<Arc<Series>> = histories.iter().cloned().map(Arc::new).collect();
    let t = Instant::now();
    let mut bins = 0;
    for g in 0..GROUPS {
        let members: Vec<Arc<Series>> = (g..runs_n)
            .step_by(GROUPS)
            .map(|k| Arc::clone(&arcs[k]))
            .collect();
        bins = time_bins(&members);
        std::hint::black_box(aggregate_time(&members, XAxis::Relative, bins));
    }
    let bands = t.elapsed();
    drop(arcs);
    println!(
        "time-binned bands: {runs_n} runs × {steps} points in {GROUPS} groups, {bins} bins each, \
         relative time: {:.0} ms on one thread",
        ms(bands)
    );
    let options = ChartOptions {
        x_axis: XAxis::Relative,
        group_by: vec![GroupKey::Param("group".into())],
        ..ChartOptions::default()
    };
    let mut app = app_with(runs, histories, options);
    let mut d = Driver::new();
    frames_until_every_band_is_drawn(&mut d, &mut app);
    println!(
        "  zoom and pan the time-binned chart {}",
        zoom_and_pan(&mut d, &mut app, egui::pos2(300.0, 250.0), KEY)
    );
}

fn chart_cards(runs_n: usize, steps: usize) {
    const VAL: &str = "val_loss";
    let runs: Vec<Arc<Run>> = (0..runs_n)
        .map(|k| {
            let mut r = (*run(k)).clone();
            r.data
                .metrics
                .insert(VAL.into(), Metric::new(VAL, 1.0, 0, 0));
            Arc::new(r)
        })
        .collect();
    let mut app = app_with(
        runs.clone(),
        (0..runs_n).map(|k| series(k, steps)).collect(),
        ChartOptions::default(),
    );
    for (k, r) in runs.iter().enumerate() {
        app.data.histories.set_ready(
            (r.info.run_id.clone(), VAL.to_string()),
            series(k + 7, steps),
        );
    }
    let two = CardSpec {
        metrics: vec![KEY.into(), VAL.into()],
        ..CardSpec::default()
    };
    let paired = CardSpec {
        metrics: vec![VAL.into()],
        x_metric: Some(KEY.into()),
        ..CardSpec::default()
    };
    let bars = CardSpec {
        metrics: vec![KEY.into()],
        kind: CardKind::Bars,
        summary: Summary::Max,
        ..CardSpec::default()
    };
    let (two_id, paired_id, bars_id) = (two.title(), paired.title(), bars.title());
    app.data.persisted.charts.layouts.insert(
        layout_key("", &app.data.selected_experiments),
        ChartLayout {
            cards: vec![two, paired, bars],
            ..ChartLayout::default()
        },
    );
    let mut d = Driver::new();
    let t = Instant::now();
    let mut first = Vec::new();
    loop {
        first.push(d.frame(&mut app, Vec::new()));
        let c = &app.charts;
        if c.shown_lines
            .get(&two_id)
            .is_some_and(|l| l.len() == 2 * runs_n)
            && c.shown_lines
                .get(&paired_id)
                .is_some_and(|l| l.len() == runs_n)
            && c.shown_bars
                .get(&bars_id)
                .is_some_and(|b| b.len() == runs_n)
        {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "cards never drawn: lines {:?}, paired {:?}, bars {:?}",
            c.shown_lines.get(&two_id).map(Vec::len),
            c.shown_lines.get(&paired_id).map(Vec::len),
            c.shown_bars.get(&bars_id).map(Vec::len)
        );
    }
    println!(
        "chart cards, {runs_n} runs × {steps} points × 2 metrics: a card of both, val against \
         loss (paired by step), bars of max: every line prepared after {:.0} ms, {}",
        ms(t.elapsed()),
        summary(first)
    );
    for _ in 0..3 {
        d.frame(&mut app, Vec::new());
    }
    d.vertices.clear();
    println!(
        "  zoom and pan the card of two metrics {}",
        zoom_and_pan(&mut d, &mut app, egui::pos2(200.0, 300.0), &two_id)
    );
    println!("  {}", vertex_summary(&mut d.vertices));
    let mut frames = Vec::new();
    for i in 0..60 {
        let pos = egui::pos2(500.0 + i as f32 * 6.0, 300.0);
        frames.push(d.frame(&mut app, vec![egui::Event::PointerMoved(pos)]));
    }
    println!(
        "  pointer over the paired card (nearest point on every frame): {}",
        summary(frames)
    );
    // Zooming the paired card itself draws its dense paths again at every new view.
    d.vertices.clear();
    println!(
        "  zoom and pan the paired card {}",
        zoom_and_pan(&mut d, &mut app, egui::pos2(700.0, 300.0), &paired_id)
    );
    println!("  {}", vertex_summary(&mut d.vertices));
}

/// The median and largest vertex counts of the frames in `vertices` (then cleared).
fn vertex_summary(vertices: &mut Vec<usize>) -> String {
    vertices.sort_unstable();
    let out = format!(
        "vertices a frame (all three cards, tessellated): p50 {}, max {}",
        vertices.get(vertices.len() / 2).copied().unwrap_or(0),
        vertices.last().copied().unwrap_or(0)
    );
    vertices.clear();
    out
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    if std::env::var_os("COMPARE_VIEWS_CARDS_ONLY").is_none() {
        grouped(1_000, 10_000);
        sweep_views(10_000);
        time_binned(1_000, 10_000);
    }
    let cards_runs = std::env::var("COMPARE_VIEWS_CARDS_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(500);
    chart_cards(cards_runs, 10_000);
}
