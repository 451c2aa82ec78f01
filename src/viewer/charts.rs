//! Charts: one card per metric key of the selected runs, in a grid grouped by key prefix.
//!
//! Every logged point is used: each series is reduced per pixel column to its first, min, max and
//! last points (M4), so a single spike among a million points stays visible while drawing costs
//! a few points per pixel. Steps going backwards (a restarted run) start a new segment instead
//! of a zig-zag. EMA smoothing (debiased, as TensorBoard) draws over the faded raw line.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use egui_plot::{Line, Plot, PlotPoint, PlotPoints};

use crate::model::Run;

use super::app::App;
use super::cache::Entry;
use super::commands::Command;
use super::theme;
use super::worker::Series;

/// Most runs drawn in a chart (the first ones of the selection).
pub const MAX_CHART_RUNS: usize = 500;
/// Narrowest chart card.
const MIN_CARD_WIDTH: f32 = 380.0;

/// The x axis of charts.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub enum XAxis {
    /// Training step.
    #[default]
    Step,
    /// Wall-clock time of logging.
    WallTime,
    /// Seconds since the run's first value.
    Relative,
}

impl XAxis {
    fn label(self) -> &'static str {
        match self {
            XAxis::Step => "step",
            XAxis::WallTime => "wall time",
            XAxis::Relative => "relative time",
        }
    }
}

/// Chart options, kept between sessions.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ChartOptions {
    /// The x axis.
    pub x_axis: XAxis,
    /// EMA weight in `0..1` (0: no smoothing).
    pub smoothing: f32,
    /// Logarithmic y axis.
    pub log_y: bool,
}

impl Default for ChartOptions {
    fn default() -> Self {
        ChartOptions {
            x_axis: XAxis::Step,
            smoothing: 0.0,
            log_y: false,
        }
    }
}

/// A series prepared for drawing: split into segments of increasing x, values transformed
/// (log), smoothed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prepared {
    /// Segments: xs, ys and smoothed ys (when smoothing is on).
    pub segments: Vec<Segment>,
}

/// A run of points with increasing x.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Segment {
    /// X values (non-decreasing).
    pub xs: Vec<f64>,
    /// Y values (finite).
    pub ys: Vec<f64>,
    /// Smoothed y values.
    pub smooth: Option<Vec<f64>>,
}

/// Prepares a series: x from the axis choice, y through log when asked (non-positive values
/// dropped), non-finite values dropped, split where x goes backwards, EMA-smoothed.
pub fn prepare(series: &Series, options: &ChartOptions) -> Prepared {
    let t0 = series.timestamps.iter().copied().min().unwrap_or(0);
    let mut segments: Vec<Segment> = Vec::new();
    let mut cur = Segment::default();
    let mut prev_x: Option<f64> = None;
    for i in 0..series.values.len() {
        let x = match options.x_axis {
            XAxis::Step => series.steps[i] as f64,
            XAxis::WallTime => series.timestamps[i] as f64 / 1000.0,
            XAxis::Relative => (series.timestamps[i] - t0) as f64 / 1000.0,
        };
        // A restart is seen on the logged x, even when its value is left out below.
        if prev_x.is_some_and(|p| x < p) && !cur.xs.is_empty() {
            segments.push(std::mem::take(&mut cur));
        }
        prev_x = Some(x);
        let mut y = series.values[i];
        if options.log_y {
            if y <= 0.0 {
                continue;
            }
            y = y.log10();
        }
        if !y.is_finite() {
            continue;
        }
        cur.xs.push(x);
        cur.ys.push(y);
    }
    if !cur.xs.is_empty() {
        segments.push(cur);
    }
    if options.smoothing > 0.0 {
        for s in &mut segments {
            s.smooth = Some(ema(&s.ys, options.smoothing as f64));
        }
    }
    Prepared { segments }
}

/// Debiased exponential moving average (TensorBoard's smoothing).
pub fn ema(ys: &[f64], weight: f64) -> Vec<f64> {
    let w = weight.clamp(0.0, 0.999);
    let mut last = 0.0;
    let mut n = 0;
    ys.iter()
        .map(|&y| {
            last = last * w + (1.0 - w) * y;
            n += 1;
            let debias = 1.0 - w.powi(n);
            if debias > 0.0 { last / debias } else { y }
        })
        .collect()
}

/// Reduces one segment to the points that matter at `buckets` pixel columns over `[x0, x1]`:
/// per column its first, min, max and last point, in x order; plus the nearest point outside
/// each side of the range (so lines reach the edges) and the segment's ends (so automatic
/// bounds still see all the data). Small inputs are returned whole.
pub fn reduce_minmax(xs: &[f64], ys: &[f64], x0: f64, x1: f64, buckets: usize) -> Vec<PlotPoint> {
    let n = xs.len();
    if n == 0 {
        return Vec::new();
    }
    let buckets = buckets.max(1);
    if n <= buckets * 4 || x1.partial_cmp(&x0) != Some(std::cmp::Ordering::Greater) {
        return xs
            .iter()
            .zip(ys)
            .map(|(&x, &y)| PlotPoint::new(x, y))
            .collect();
    }
    let lo = xs.partition_point(|&x| x < x0);
    let hi = xs.partition_point(|&x| x <= x1); // exclusive
    let mut keep: Vec<usize> = Vec::with_capacity(buckets * 4 + 4);
    keep.push(0);
    if lo > 0 {
        keep.push(lo - 1);
    }
    let width = (x1 - x0) / buckets as f64;
    let mut i = lo;
    while i < hi {
        let b = (((xs[i] - x0) / width) as usize).min(buckets - 1);
        let (first, mut min_i, mut max_i) = (i, i, i);
        let mut j = i;
        while j < hi && (((xs[j] - x0) / width) as usize).min(buckets - 1) == b {
            if ys[j] < ys[min_i] {
                min_i = j;
            }
            if ys[j] > ys[max_i] {
                max_i = j;
            }
            j += 1;
        }
        let last = j - 1;
        let mut four = [first, min_i, max_i, last];
        four.sort_unstable();
        keep.extend(four);
        i = j;
    }
    if hi < n {
        keep.push(hi);
    }
    keep.push(n - 1);
    keep.sort_unstable();
    keep.dedup();
    keep.into_iter()
        .map(|k| PlotPoint::new(xs[k], ys[k]))
        .collect()
}

/// One run's drawable lines in one chart.
#[derive(Debug, Clone)]
pub struct RunLines {
    /// Run id.
    pub run_id: String,
    /// Run name.
    pub name: String,
    /// Colour.
    pub color: egui::Color32,
    /// Reduced raw segments.
    pub raw: Vec<Vec<PlotPoint>>,
    /// Reduced smoothed segments.
    pub smooth: Vec<Vec<PlotPoint>>,
    /// The prepared series (for the hover read-out).
    pub prepared: Arc<Prepared>,
}

type MemoKey = (u64, u64, u64, u64, u32, u64);

/// Chart view state.
#[derive(Default)]
pub struct ChartsState {
    /// The key filter text.
    pub key_filter: String,
    /// Ask the key filter to take the focus (Ctrl+F).
    pub focus_key_filter: bool,
    prepared: HashMap<(String, String), (u64, u64, Arc<Prepared>)>,
    memo: HashMap<String, (MemoKey, Arc<Vec<RunLines>>)>,
    last_x: HashMap<String, (f64, f64, f32)>,
    /// Number of chart cards drawn in the last frame (tests).
    pub cards_drawn: usize,
    /// Metric keys of the shown cards in the last frame (tests).
    pub shown_keys: Vec<String>,
}

impl std::fmt::Debug for ChartsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChartsState")
            .field("key_filter", &self.key_filter)
            .field("cards_drawn", &self.cards_drawn)
            .finish()
    }
}

fn options_hash(o: &ChartOptions) -> u64 {
    let x = match o.x_axis {
        XAxis::Step => 0,
        XAxis::WallTime => 1,
        XAxis::Relative => 2,
    };
    x | (u64::from(o.log_y) << 2) | (u64::from(o.smoothing.to_bits()) << 8)
}

/// The options row of the Charts tab.
pub fn chart_options_ui(ui: &mut egui::Ui, app: &mut App) {
    let o = &mut app.persisted.charts;
    ui.separator();
    egui::ComboBox::from_id_salt("x_axis")
        .selected_text(format!("x: {}", o.x_axis.label()))
        .show_ui(ui, |ui| {
            for x in [XAxis::Step, XAxis::WallTime, XAxis::Relative] {
                ui.selectable_value(&mut o.x_axis, x, x.label());
            }
        })
        .response
        .on_hover_text("The x axis of every chart");
    ui.add(
        egui::Slider::new(&mut o.smoothing, 0.0..=0.99)
            .text("smoothing")
            .fixed_decimals(2),
    )
    .on_hover_text("EMA smoothing weight; the raw line stays, faded");
    ui.checkbox(&mut o.log_y, "log y")
        .on_hover_text("Logarithmic y axis (values ≤ 0 are left out)");
    let r = ui.add(
        egui::TextEdit::singleline(&mut app.charts.key_filter)
            .id(egui::Id::unique("chart_key_filter"))
            .hint_text("metric key filter (Ctrl+F)")
            .desired_width(150.0),
    );
    if app.charts.focus_key_filter {
        r.request_focus();
        app.charts.focus_key_filter = false;
    }
}

/// Draws the Charts tab.
pub fn charts_ui(ui: &mut egui::Ui, app: &mut App) {
    app.charts.cards_drawn = 0;
    app.charts.shown_keys.clear();
    let runs: Vec<Arc<Run>> = app
        .selected_runs()
        .into_iter()
        .take(MAX_CHART_RUNS)
        .collect();
    if runs.is_empty() {
        ui.add_space(12.0);
        ui.weak("Select runs in the table to chart their metrics (Ctrl+click and Shift+click select several)");
        return;
    }
    // Every metric key of the selected runs, filtered.
    let q = app.charts.key_filter.to_lowercase();
    let mut keys: Vec<String> = runs
        .iter()
        .flat_map(|r| r.data.metrics.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|k| q.is_empty() || k.to_lowercase().contains(&q))
        .collect();
    keys.sort();
    if keys.is_empty() {
        ui.weak(if q.is_empty() {
            "The selected runs have no metrics"
        } else {
            "No metric key matches the filter"
        });
        return;
    }
    // Ask for missing histories (all keys of a run in one request).
    for r in &runs {
        let wanted: Vec<String> = r
            .data
            .metrics
            .keys()
            .filter(|k| {
                !app.histories
                    .contains(&(r.info.run_id.clone(), (*k).clone()))
            })
            .cloned()
            .collect();
        if !wanted.is_empty() {
            app.commands.push(Command::LoadHistories {
                run_ids: vec![r.info.run_id.clone()],
                keys: wanted,
            });
        }
    }
    if app.selection.len() > MAX_CHART_RUNS {
        ui.weak(format!(
            "Charting the first {MAX_CHART_RUNS} of {} selected runs",
            app.selection.len()
        ));
    }
    // One legend for every chart: the runs in their colours.
    ui.horizontal_wrapped(|ui| {
        for r in runs.iter().take(40) {
            theme::swatch(ui, theme::run_color(&r.info.run_id));
            ui.label(egui::RichText::new(&r.info.run_name).small());
            ui.add_space(6.0);
        }
        if runs.len() > 40 {
            ui.weak(format!("and {} more", runs.len() - 40));
        }
    });
    // Group by prefix before the first '/'.
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for k in keys {
        let prefix = k
            .split_once('/')
            .map(|(p, _)| p.to_string())
            .unwrap_or_default();
        groups.entry(prefix).or_default().push(k);
    }
    let width = ui.available_width();
    let ncols = ((width / MIN_CARD_WIDTH).floor() as usize).clamp(1, 4);
    let spacing = ui.spacing().item_spacing.x;
    let card_w = ((width - spacing * (ncols as f32 - 1.0)) / ncols as f32 - 2.0).max(120.0);
    // Sections by prefix only pay off with many keys; a few keys go in one grid.
    let multi_group = groups.len() > 1 && groups.values().map(Vec::len).sum::<usize>() > 8;
    if !multi_group {
        let all: Vec<String> = groups.into_values().flatten().collect();
        groups = BTreeMap::from([(String::new(), all)]);
    }
    egui::ScrollArea::vertical()
        .id_salt("charts_scroll")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for (prefix, keys) in groups {
                let mut body = |ui: &mut egui::Ui| {
                    for chunk in keys.chunks(ncols) {
                        ui.horizontal(|ui| {
                            for key in chunk {
                                ui.allocate_ui_with_layout(
                                    egui::vec2(card_w, theme::CHART_HEIGHT + 30.0),
                                    egui::Layout::top_down(egui::Align::LEFT),
                                    |ui| {
                                        ui.set_width(card_w);
                                        card_ui(ui, app, &runs, key);
                                    },
                                );
                            }
                        });
                        ui.add_space(6.0);
                    }
                };
                if multi_group {
                    let title = if prefix.is_empty() {
                        "other".to_string()
                    } else {
                        format!("{prefix}/")
                    };
                    egui::CollapsingHeader::new(format!("{title} ({})", keys.len()))
                        .id_salt(("chart_group", &prefix))
                        .default_open(true)
                        .show(ui, |ui| body(ui));
                } else {
                    body(ui);
                }
            }
        });
}

fn card_ui(ui: &mut egui::Ui, app: &mut App, runs: &[Arc<Run>], key: &str) {
    app.charts.shown_keys.push(key.to_string());
    let top = ui.cursor().min;
    let card_rect = egui::Rect::from_min_size(
        top,
        egui::vec2(ui.available_width(), theme::CHART_HEIGHT + 26.0),
    );
    if !ui.is_rect_visible(card_rect) {
        ui.allocate_space(card_rect.size());
        return;
    }
    app.charts.cards_drawn += 1;
    let mut export_csv = false;
    let mut export_png = false;
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new(key).strong())
            .on_hover_text(format!("metric {key}"));
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            export_csv = ui
                .small_button("CSV")
                .on_hover_text("Save every value of this metric of the charted runs as CSV")
                .clicked();
            export_png = ui
                .small_button("PNG")
                .on_hover_text("Save this chart as a PNG image")
                .clicked();
            let loading = runs.iter().any(|r| {
                r.data.metrics.contains_key(key)
                    && app
                        .histories
                        .get(&(r.info.run_id.clone(), key.to_string()))
                        .is_none_or(Entry::is_loading)
            });
            if loading {
                ui.spinner();
            }
        });
    });
    let options = app.persisted.charts.clone();
    let ohash = options_hash(&options);
    let (x0, x1, px) = app.charts.last_x.get(key).copied().unwrap_or((
        f64::NEG_INFINITY,
        f64::INFINITY,
        ui.available_width(),
    ));
    let sel_hash = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for r in runs {
            r.info.run_id.hash(&mut h);
            r.info.run_name.hash(&mut h);
        }
        h.finish()
    };
    let memo_key: MemoKey = (
        ohash,
        app.histories_version,
        x0.to_bits(),
        x1.to_bits(),
        px as u32,
        sel_hash,
    );
    let lines = match app.charts.memo.get(key) {
        Some((k, lines)) if *k == memo_key => Arc::clone(lines),
        _ => {
            let lines = Arc::new(build_lines(app, runs, key, &options, ohash, (x0, x1), px));
            app.charts
                .memo
                .insert(key.to_string(), (memo_key, Arc::clone(&lines)));
            lines
        }
    };
    let link = egui::Id::unique("mlscope_charts_link");
    let log_y = options.log_y;
    let x_axis = options.x_axis;
    let smoothing = options.smoothing > 0.0;
    let plot = Plot::new(("chart", key))
        .height(theme::CHART_HEIGHT)
        .link_axis(link, [true, false])
        .link_cursor(link, [true, false])
        .allow_scroll(false)
        .show_x(false)
        .show_y(false)
        .x_axis_formatter(move |mark, _| format_x(mark.value, x_axis))
        .y_axis_formatter(move |mark, _| {
            if log_y {
                super::runs_table::format_number(10f64.powf(mark.value))
            } else {
                super::runs_table::format_number(mark.value)
            }
        });
    // A chart whose values all sit at one x (a final test metric) gets some room around it.
    let xs = lines
        .iter()
        .flat_map(|l| l.raw.iter().flatten().map(|p| p.x));
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let plot = if lo.is_finite() && lo == hi {
        plot.include_x(lo - 1.0).include_x(hi + 1.0)
    } else {
        plot
    };
    let lines_for_plot = Arc::clone(&lines);
    let response = plot.show(ui, |plot_ui| {
        for l in lines_for_plot.iter() {
            let raw_color = if smoothing {
                l.color.gamma_multiply(theme::RAW_LINE_ALPHA)
            } else {
                l.color
            };
            for (i, seg) in l.raw.iter().enumerate() {
                plot_ui.line(
                    Line::new(l.name.clone(), PlotPoints::Borrowed(seg))
                        .color(raw_color)
                        .width(1.2)
                        .id((&l.run_id, "raw", i)),
                );
            }
            if l.raw.iter().map(Vec::len).sum::<usize>() <= 2 {
                // One or two values: a line would be invisible, show the points.
                for seg in &l.raw {
                    plot_ui.points(
                        egui_plot::Points::new(l.name.clone(), PlotPoints::Borrowed(seg))
                            .color(l.color)
                            .radius(3.5),
                    );
                }
            }
            for (i, seg) in l.smooth.iter().enumerate() {
                plot_ui.line(
                    Line::new(l.name.clone(), PlotPoints::Borrowed(seg))
                        .color(l.color)
                        .width(1.6)
                        .id((&l.run_id, "smooth", i)),
                );
            }
        }
        plot_ui.pointer_coordinate()
    });
    let b = response.transform.bounds();
    let new_x = (b.min()[0], b.max()[0], response.transform.frame().width());
    let old = app.charts.last_x.insert(key.to_string(), new_x);
    if old != Some(new_x) {
        ui.ctx().request_repaint();
    }
    if let Some(pointer) = response.inner
        && response.response.hovered()
    {
        response.response.on_hover_ui_at_pointer(|ui| {
            hover_ui(ui, &lines, pointer.x, x_axis, log_y, smoothing);
        });
    }
    if export_png {
        app.commands.push(Command::ExportPng {
            file_name: format!("{}.png", sanitize(key)),
            rect: card_rect,
        });
    }
    if export_csv {
        let csv = series_csv(app, runs, key);
        app.commands.push(Command::SaveAs {
            file_name: format!("{}.csv", sanitize(key)),
            bytes: csv.into_bytes(),
        });
    }
}

fn build_lines(
    app: &mut App,
    runs: &[Arc<Run>],
    key: &str,
    options: &ChartOptions,
    ohash: u64,
    (x0, x1): (f64, f64),
    px: f32,
) -> Vec<RunLines> {
    let buckets = (px.max(50.0)) as usize;
    let mut out = Vec::new();
    for r in runs {
        let id = &r.info.run_id;
        let hkey = (id.clone(), key.to_string());
        let Some(Entry::Ready(series)) = app.histories.get(&hkey) else {
            continue;
        };
        let series_id = Arc::as_ptr(series) as u64;
        let prepared = match app.charts.prepared.get(&hkey) {
            Some((o, s, p)) if *o == ohash && *s == series_id => Arc::clone(p),
            _ => {
                let p = Arc::new(prepare(series, options));
                app.charts
                    .prepared
                    .insert(hkey.clone(), (ohash, series_id, Arc::clone(&p)));
                p
            }
        };
        let (lo, hi) = if x0.is_finite() && x1.is_finite() {
            (x0, x1)
        } else {
            let lo = prepared
                .segments
                .iter()
                .filter_map(|s| s.xs.first())
                .copied()
                .fold(f64::INFINITY, f64::min);
            let hi = prepared
                .segments
                .iter()
                .filter_map(|s| s.xs.last())
                .copied()
                .fold(f64::NEG_INFINITY, f64::max);
            (lo, hi)
        };
        let raw = prepared
            .segments
            .iter()
            .map(|s| reduce_minmax(&s.xs, &s.ys, lo, hi, buckets))
            .collect();
        let smooth = prepared
            .segments
            .iter()
            .filter_map(|s| {
                s.smooth
                    .as_ref()
                    .map(|sm| reduce_minmax(&s.xs, sm, lo, hi, buckets))
            })
            .collect();
        out.push(RunLines {
            run_id: id.clone(),
            name: r.info.run_name.clone(),
            color: theme::run_color(id),
            raw,
            smooth,
            prepared,
        });
    }
    if app.charts.prepared.len() > 50_000 {
        app.charts.prepared.clear();
    }
    out
}

fn nearest(seg: &Segment, x: f64) -> Option<(f64, f64, Option<f64>)> {
    if seg.xs.is_empty() {
        return None;
    }
    let i = seg.xs.partition_point(|&v| v < x);
    let cand = [i.saturating_sub(1), i.min(seg.xs.len() - 1)];
    let j = *cand
        .iter()
        .min_by(|&&a, &&b| (seg.xs[a] - x).abs().total_cmp(&(seg.xs[b] - x).abs()))?;
    Some((seg.xs[j], seg.ys[j], seg.smooth.as_ref().map(|s| s[j])))
}

fn hover_ui(
    ui: &mut egui::Ui,
    lines: &[RunLines],
    x: f64,
    axis: XAxis,
    log_y: bool,
    smoothing: bool,
) {
    let mut values: Vec<(f64, f64, Option<f64>, &RunLines)> = Vec::new();
    for l in lines {
        let best = l
            .prepared
            .segments
            .iter()
            .filter_map(|s| nearest(s, x))
            .min_by(|a, b| (a.0 - x).abs().total_cmp(&(b.0 - x).abs()));
        if let Some((px, y, sm)) = best {
            values.push((px, y, sm, l));
        }
    }
    values.sort_by(|a, b| b.1.total_cmp(&a.1));
    let un = |v: f64| if log_y { 10f64.powf(v) } else { v };
    // The header names the x of the values shown (the nearest logged point of the first run).
    let x = values.first().map_or(x, |v| v.0);
    ui.label(egui::RichText::new(format!("{}: {}", axis.label(), format_x(x, axis))).weak());
    egui::Grid::new("chart_hover")
        .num_columns(3)
        .show(ui, |ui| {
            for (px, y, sm, l) in values.iter().take(30) {
                theme::swatch(ui, l.color);
                ui.label(&l.name);
                let mut text = super::runs_table::format_number(un(*y));
                if let (true, Some(s)) = (smoothing, sm) {
                    text = format!("{} (raw {text})", super::runs_table::format_number(un(*s)));
                }
                if (*px - x).abs() > 0.0 {
                    text = format!("{text}  @ {}", format_x(*px, axis));
                }
                ui.monospace(text);
                ui.end_row();
            }
        });
    if values.len() > 30 {
        ui.weak(format!("and {} more runs", values.len() - 30));
    }
}

fn format_x(v: f64, axis: XAxis) -> String {
    match axis {
        XAxis::Step => {
            if v.fract() == 0.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        }
        XAxis::WallTime => {
            use chrono::TimeZone;
            match chrono::Local.timestamp_millis_opt((v * 1000.0) as i64) {
                chrono::LocalResult::Single(t) => t.format("%H:%M:%S").to_string(),
                _ => format!("{v:.0}"),
            }
        }
        XAxis::Relative => {
            let s = v.max(0.0);
            if s >= 3600.0 {
                format!(
                    "{}h{:02}m",
                    (s / 3600.0) as i64,
                    ((s % 3600.0) / 60.0) as i64
                )
            } else if s >= 60.0 {
                format!("{}m{:02}s", (s / 60.0) as i64, (s % 60.0) as i64)
            } else {
                format!("{s:.1}s")
            }
        }
    }
}

fn sanitize(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Every value of `key` of the charted runs as CSV: `run_id,run_name,step,timestamp,value`.
fn series_csv(app: &App, runs: &[Arc<Run>], key: &str) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["run_id", "run_name", "key", "step", "timestamp", "value"]);
    for r in runs {
        if let Some(s) = app
            .histories
            .get(&(r.info.run_id.clone(), key.to_string()))
            .and_then(Entry::ready)
        {
            for i in 0..s.values.len() {
                let _ = w.write_record([
                    r.info.run_id.as_str(),
                    r.info.run_name.as_str(),
                    key,
                    &s.steps[i].to_string(),
                    &s.timestamps[i].to_string(),
                    &s.values[i].to_string(),
                ]);
            }
        }
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_spike_survives_reduction() {
        let n = 1_000_000;
        let xs: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let mut ys = vec![1.0; n];
        ys[734_211] = 1000.0;
        let pts = reduce_minmax(&xs, &ys, 0.0, n as f64, 800);
        assert!(pts.len() <= 800 * 4 + 4);
        assert!(pts.iter().any(|p| p.y == 1000.0 && p.x == 734_211.0));
        // Zoomed in: still there, and the ends are kept.
        let pts = reduce_minmax(&xs, &ys, 700_000.0, 800_000.0, 100);
        assert!(pts.iter().any(|p| p.y == 1000.0));
        assert_eq!(pts.first().unwrap().x, 0.0);
        assert_eq!(pts.last().unwrap().x, (n - 1) as f64);
    }

    #[test]
    fn small_series_are_kept_whole() {
        let xs = [0.0, 1.0, 2.0];
        let ys = [3.0, 1.0, 2.0];
        assert_eq!(reduce_minmax(&xs, &ys, 0.0, 2.0, 100).len(), 3);
    }

    #[test]
    fn restarts_make_segments_and_log_drops_non_positive() {
        let s = Series {
            steps: vec![0, 1, 2, 0, 1],
            timestamps: vec![0, 1, 2, 3, 4],
            values: vec![1.0, 10.0, -1.0, f64::NAN, 100.0],
            offset: None,
        };
        let p = prepare(
            &s,
            &ChartOptions {
                log_y: true,
                ..ChartOptions::default()
            },
        );
        assert_eq!(p.segments.len(), 2);
        assert_eq!(p.segments[0].ys, vec![0.0, 1.0]);
        assert_eq!(p.segments[1].xs, vec![1.0]);
    }

    #[test]
    fn ema_is_debiased() {
        let s = ema(&[1.0, 1.0, 1.0], 0.9);
        assert!(s.iter().all(|v| (v - 1.0).abs() < 1e-12));
        let s = ema(&[0.0, 10.0], 0.5);
        assert!((s[1] - 10.0 * 0.5 / 0.75).abs() < 1e-9);
    }
}
