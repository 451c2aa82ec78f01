//! Charts: one card per metric key of the selected runs, in a grid grouped by key prefix.
//!
//! Every logged point is used: each series is reduced per pixel column to its first, min, max and
//! last points (M4), so a single spike among a million points stays visible while drawing costs
//! a few points per pixel. The reduction reads a min/max pyramid ([`super::lod`]) built once per
//! series and chart options, so a frame costs what the visible range shows, not what was logged;
//! live appends extend the prepared series and its pyramid instead of rebuilding them. Steps
//! going backwards (a restarted run) start a new segment instead of a zig-zag. EMA smoothing
//! (debiased, as TensorBoard) is computed once per series and weight, with its own pyramid, and
//! draws over the faded raw line.
//!
//! Only visible cards ask for histories, and `system/` metrics (MLflow's system metrics) form
//! their own section after the model's metrics, closed until opened.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use egui_plot::{Line, Plot, PlotPoint, PlotPoints};

use crate::model::Run;

mod bars;
mod card;
mod cursor;
pub mod dense;
pub mod group;
mod hover;
pub mod layout;
mod menu;
pub mod paired;
mod prepare;
mod scale;
use card::legend_entry;
pub use group::{
    Band, GroupBand, GroupKey, GroupLine, RunGroup, TIME_BINS, aggregate, aggregate_time,
    group_runs, time_bins,
};
use hover::hover_ui;
use prepare::to_points;
pub use prepare::{NonFinite, NonFiniteKind, Prepared, Segment, prepare};
pub use scale::{fit_y, log_tick_label, x_tick_label};

use crate::format::number_sig;

use super::cache::Entry;
use super::commands::Command;
use super::context::{Histories, ViewCtx};
use super::theme;
use super::worker::Series;

/// Most runs drawn in a chart (the first ones of the selection).
pub const MAX_CHART_RUNS: usize = 500;
/// Narrowest chart card.
const MIN_CARD_WIDTH: f32 = 380.0;
/// Height of a card around its plot (title row, spacing).
const CARD_CHROME: f32 = 36.0;
/// Most runs named in the legend.
const LEGEND_MAX: usize = 60;
/// UI time per frame for preparing series from scratch (x, log, segments, smoothing, pyramid:
/// a few ms per million points); the rest wait for the next frames, so a hundred big histories
/// arriving at once do not freeze the window. At least one series is prepared per frame. Only
/// the time spent preparing counts (see [`prepare::Budget`]).
const PREPARE_BUDGET: Duration = Duration::from_millis(8);
/// Memory for prepared series (16–24 bytes per point) of charts no longer drawn; above it the
/// longest unused ones are dropped (never those drawn in the current frame).
pub const PREPARED_BUDGET_BYTES: usize = 512 << 20;
/// Memory for metric histories (24 bytes per point) that no view read in the current frame;
/// above it the ones read longest ago are dropped (read again when a view needs them).
pub const HISTORY_BUDGET_BYTES: usize = 512 << 20;
/// Key prefix of MLflow's system metrics (`system/cpu_utilization_percentage`, …).
pub const SYSTEM_PREFIX: &str = "system/";
/// Title of the system metrics section.
pub const SYSTEM_SECTION: &str = "System metrics";

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
    pub(super) fn label(self) -> &'static str {
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
    /// Keep each card's y range as it is (zoom and drag y by hand); otherwise y is fitted to
    /// the points in the visible x range, so that zooming x on linked charts never leaves a
    /// card blank.
    pub lock_y: bool,
    /// Fit y to the 1st–99th percentile of the visible values, so that a few spikes do not
    /// flatten the rest (they are drawn, beyond the edge).
    pub ignore_outliers: bool,
    /// Chart cards per row (0: as many as fit).
    pub columns: u8,
    /// Group runs by these keys: one line per group with a band (empty: one line per run).
    pub group_by: Vec<group::GroupKey>,
    /// The line of a group: mean or median.
    pub group_line: group::GroupLine,
    /// The chart cards of each store and experiments (see [`layout::layout_key`]).
    pub layouts: BTreeMap<String, layout::ChartLayout>,
}

impl Default for ChartOptions {
    fn default() -> Self {
        ChartOptions {
            x_axis: XAxis::Step,
            smoothing: 0.0,
            log_y: false,
            lock_y: false,
            ignore_outliers: false,
            columns: 0,
            group_by: Vec::new(),
            group_line: group::GroupLine::Mean,
            layouts: BTreeMap::new(),
        }
    }
}

/// The most chart cards per row a user can choose.
pub const MAX_COLUMNS: u8 = 4;
/// Lowest and highest plot height of a card (cards are sized to the pane between them).
const PLOT_HEIGHT_RANGE: (f32, f32) = (150.0, 560.0);

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
    /// Hidden from the chart (its legend entry was clicked).
    pub hidden: bool,
    /// Index of its metric among the card's metrics (its line style).
    pub metric: usize,
}

type MemoKey = (u64, u64, u64, u64, u32, u64, bool);
/// A card's lines, fitted y range and extent, with what they were built for.
type MemoEntry = (
    MemoKey,
    Arc<Vec<RunLines>>,
    Option<(f64, f64)>,
    dense::Extent,
);

/// A prepared series with the options it was prepared for and when it was last drawn.
struct PreparedEntry {
    ohash: u64,
    prepared: Arc<Prepared>,
    used: u64,
}

/// The Charts tab, with its state: the key filter, and series prepared for drawing (memoised
/// per card).
#[derive(Default)]
pub struct Charts {
    /// The key filter text.
    pub key_filter: String,
    /// Ask the key filter to take the focus (Ctrl+F).
    pub focus_key_filter: bool,
    prepared: HashMap<(String, String), PreparedEntry>,
    memo: HashMap<String, MemoEntry>,
    last_x: HashMap<String, (f64, f64, f32)>,
    /// Frames drawn (last use of prepared series).
    frame: u64,
    /// The time this frame spent preparing series from scratch, and how many it prepared.
    prepare_budget: prepare::Budget,
    /// Histories the visible cards lack, by run.
    wanted: BTreeMap<String, Vec<String>>,
    /// Runs hidden from the charts (a click on their legend entry).
    hidden_runs: HashSet<String>,
    /// The run whose lines are drawn over the others (pointer on its legend entry or row).
    highlight: Option<String>,
    /// Plot height of the cards in this frame (sized to the pane).
    plot_height: f32,
    /// Number of chart cards drawn in the last frame (tests).
    pub cards_drawn: usize,
    /// The y range each card was given in the last frame (tests).
    pub shown_y: HashMap<String, (f64, f64)>,
    /// Cards drawn as bar charts in the last frame (one value per run; tests).
    pub bar_cards: Vec<String>,
    /// Non-finite points counted in each card's header in the last frame (tests).
    pub nonfinite_counts: HashMap<String, usize>,
    /// Metric keys of the shown cards in the last frame (tests).
    pub shown_keys: Vec<String>,
    /// Grouped charts: groups, bands and their computation.
    groups: group::GroupState,
    /// The step cursor drawn in this frame: the card under the pointer in the last frame, and
    /// its x there.
    cursor: Option<(String, f64)>,
    /// The step cursor for the next frame.
    cursor_next: Option<(String, f64)>,
    /// Values at the step cursor per card in this frame.
    cursor_values: HashMap<String, Vec<(String, f64)>>,
    /// The runs the table's eye hid, as last seen.
    table_hidden: HashSet<String>,
    /// Lines per metric, a scatter plot or parallel coordinates.
    pub view: ChartsView,
    /// The scatter plot.
    pub scatter: super::sweep::scatter::Scatter,
    /// Parallel coordinates.
    pub parcoords: super::sweep::parcoords::ParCoords,
    /// What a card's menu asked for in this frame.
    card_action: Option<CardAction>,
    /// The place of the card being drawn among the layout's cards (its menu keeps its state by
    /// it, so that it stays open while the card changes).
    menu_slot: Option<usize>,
    /// The layout change to apply after the cards are drawn.
    layout_edit: Option<layout::LayoutEdit>,
    /// Every metric key of the charted runs (the cards' menus offer them).
    all_keys: Vec<String>,
    /// Bars of bar cards, with what they were computed for.
    bars_memo: HashMap<String, (u64, Arc<bars::BarCard>)>,
    /// Lines of cards with another metric as x, with what they were built for.
    paired_memo: HashMap<String, (u64, Arc<Vec<paired::PairedLine>>)>,
    /// The rasterised dense paths of cards with another metric as x, with what they were
    /// drawn for.
    paired_raster: HashMap<String, Arc<std::sync::Mutex<dense::RasterMemo>>>,
    /// The bars of each bar card in the last frame, in their order: (name, value) (tests).
    pub shown_bars: HashMap<String, Vec<(String, f64)>>,
    /// The lines of each card in the last frame: names of the runs' lines (tests).
    pub shown_lines: HashMap<String, Vec<String>>,
    /// The point under the pointer on a card with another metric as x: run (and metric), step,
    /// x and y (tests).
    pub paired_hovered: Option<(String, i64, f64, f64)>,
    /// Where each card with another metric as x was drawn in the last frame (tests).
    paired_transforms: HashMap<String, egui_plot::PlotTransform>,
}

/// A card being dragged by its title: which, and its place among the layout's cards.
#[derive(Debug, Clone)]
struct CardDrag {
    card: layout::CardRef,
    slot: usize,
}

/// What a card's menu asks for.
#[derive(Debug, Clone, PartialEq)]
enum CardAction {
    /// A change of the layout.
    Edit(layout::LayoutEdit),
    /// Move the card before the card shown before it.
    Earlier(layout::CardRef),
    /// Move the card after the card shown after it.
    Later(layout::CardRef),
}

/// The part of a metric key before its first `/` (its section).
fn key_prefix(key: &str) -> String {
    key.split_once('/')
        .map(|(p, _)| p.to_string())
        .unwrap_or_default()
}

/// The cards of each row of a grid of `ncols` columns, each card spanning its width.
fn pack_rows(cards: &[layout::Card], ncols: usize) -> Vec<std::ops::Range<usize>> {
    let mut rows = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (i, c) in cards.iter().enumerate() {
        let span = usize::from(c.spec.width.max(1)).min(ncols.max(1));
        if used + span > ncols && i > start {
            rows.push(start..i);
            start = i;
            used = 0;
        }
        used += span;
    }
    if start < cards.len() {
        rows.push(start..cards.len());
    }
    rows
}

/// What the Charts tab shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChartsView {
    /// A card of lines per metric key of the selected runs.
    #[default]
    Lines,
    /// A param or metric summary against another, a point per shown run.
    Scatter,
    /// Params and metric summaries as parallel axes, a line per shown run.
    Parallel,
}

impl ChartsView {
    fn label(self) -> &'static str {
        match self {
            ChartsView::Lines => "Metrics",
            ChartsView::Scatter => "Scatter",
            ChartsView::Parallel => "Parallel coordinates",
        }
    }
}

impl Charts {
    /// Number of prepared series held (tests).
    pub fn prepared_len(&self) -> usize {
        self.prepared.len()
    }

    /// Runs hidden from the charts by a click on their legend entry.
    pub fn hidden_runs(&self) -> &HashSet<String> {
        &self.hidden_runs
    }

    /// Plot height of the cards in the last frame (tests).
    pub fn plot_height(&self) -> f32 {
        self.plot_height
    }

    /// Width of a card's plot in its last frame (tests).
    pub fn plot_width(&self, key: &str) -> Option<f32> {
        self.last_x.get(key).map(|&(_, _, w)| w)
    }

    /// The x range a card showed in its last frame (tests, benchmarks).
    pub fn visible_x(&self, key: &str) -> Option<(f64, f64)> {
        self.last_x.get(key).map(|&(a, b, _)| (a, b))
    }

    /// Drops what was derived from histories that are no longer held, and, above
    /// [`PREPARED_BUDGET_BYTES`], the prepared series drawn longest ago (not those of this frame).
    pub fn trim(&mut self, histories: &Histories) {
        self.prepared
            .retain(|k, _| matches!(histories.peek(k), Some(Entry::Ready(_))));
        let mut total: usize = self
            .prepared
            .values()
            .map(|e| e.prepared.heap_bytes())
            .sum();
        if total > PREPARED_BUDGET_BYTES {
            let mut old: Vec<(u64, (String, String))> = self
                .prepared
                .iter()
                .filter(|(_, e)| e.used < self.frame)
                .map(|(k, e)| (e.used, k.clone()))
                .collect();
            old.sort();
            for (_, k) in old {
                if total <= PREPARED_BUDGET_BYTES {
                    break;
                }
                if let Some(e) = self.prepared.remove(&k) {
                    total = total.saturating_sub(e.prepared.heap_bytes());
                }
            }
        }
        if self.memo.len() > 4096 {
            self.memo.clear();
        }
        if self.bars_memo.len() + self.paired_memo.len() > 1024 {
            self.bars_memo.clear();
            self.paired_memo.clear();
            self.paired_raster.clear();
        }
    }
}

impl std::fmt::Debug for Charts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Charts")
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

/// Heap bytes of a history.
pub fn series_bytes(s: &Series) -> usize {
    (s.steps.capacity() + s.timestamps.capacity() + s.values.capacity()) * 8
}

impl Charts {
    /// The options row of the Charts tab.
    pub fn options_ui(&mut self, ui: &mut egui::Ui, ctx: &ViewCtx) {
        let mut options = ctx.persisted().charts.clone();
        let o = &mut options;
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
        ui.checkbox(&mut o.lock_y, "lock y").on_hover_text(
            "Keep each chart's y range as it is (drag and zoom y by hand); \
             unlocked, y fits the points in the visible x range",
        );
        ui.checkbox(&mut o.ignore_outliers, "ignore outliers")
            .on_hover_text(
                "Fit y to the 1st–99th percentile of the visible values, so that a few spikes \
                 do not flatten the rest",
            );
        egui::ComboBox::from_id_salt("chart_columns")
            .selected_text(match o.columns {
                0 => "per row: auto".to_string(),
                n => format!("per row: {n}"),
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut o.columns, 0, "auto");
                for n in 1..=MAX_COLUMNS {
                    ui.selectable_value(&mut o.columns, n, n.to_string());
                }
            })
            .response
            .on_hover_text("Chart cards per row");
        group::group_by_ui(ui, ctx, o);
        if options != ctx.persisted().charts {
            ctx.send(Command::SetChartOptions(options));
        }
        let r = ui.add(
            egui::TextEdit::singleline(&mut self.key_filter)
                .id(egui::Id::unique("chart_key_filter"))
                .hint_text("metric key filter (Ctrl+F)")
                .desired_width(150.0),
        );
        if self.focus_key_filter {
            r.request_focus();
            self.focus_key_filter = false;
        }
    }

    /// Draws the Charts tab.
    pub fn show(&mut self, ui: &mut egui::Ui, ctx: &ViewCtx) {
        self.cards_drawn = 0;
        self.shown_keys.clear();
        self.shown_y.clear();
        self.bar_cards.clear();
        self.nonfinite_counts.clear();
        self.shown_bars.clear();
        self.shown_lines.clear();
        self.frame += 1;
        self.prepare_budget = prepare::Budget::default();
        self.cursor = self.cursor_next.take();
        self.cursor_values.clear();
        self.paired_hovered = None;
        let layout_key =
            layout::layout_key(ctx.store_key().unwrap_or(""), ctx.selected_experiments());
        self.layout_edit = None;
        ui.horizontal(|ui| {
            for v in [ChartsView::Lines, ChartsView::Scatter, ChartsView::Parallel] {
                ui.selectable_value(&mut self.view, v, v.label());
            }
            if self.view == ChartsView::Lines && !self.all_keys.is_empty() {
                ui.separator();
                // The keys of the last frame (read below): the same but for a frame.
                let keys = std::mem::take(&mut self.all_keys);
                let customised = ctx.persisted().charts.layouts.contains_key(&layout_key);
                self.layout_bar_ui(ui, &keys, customised);
                self.all_keys = keys;
            }
        });
        match self.view {
            ChartsView::Lines => {}
            ChartsView::Scatter => return self.scatter.show(ui, ctx),
            ChartsView::Parallel => return self.parcoords.show(ui, ctx),
        }
        self.groups.receive();
        let group_keys = &ctx.persisted().charts.group_by;
        // Grouped charts draw a line per group: every selected run counts.
        let runs: Vec<Arc<Run>> = ctx
            .selected_runs()
            .into_iter()
            .take(if group_keys.is_empty() {
                MAX_CHART_RUNS
            } else {
                usize::MAX
            })
            .collect();
        self.groups.groups = if group_keys.is_empty() {
            Vec::new()
        } else {
            group::group_runs(&runs, group_keys)
        };
        if runs.is_empty() {
            self.all_keys.clear();
            ui.add_space(12.0);
            ui.weak("Select runs in the table to chart their metrics (Ctrl+click and Shift+click select several)");
            return;
        }
        // Every metric key of the selected runs; the experiment's cards, then a card per key in
        // none of them; filtered.
        let all_keys: Vec<String> = runs
            .iter()
            .flat_map(|r| r.data.metrics.keys().cloned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        self.all_keys.clone_from(&all_keys);
        let chart_layout = ctx
            .persisted()
            .charts
            .layouts
            .get(&layout_key)
            .cloned()
            .unwrap_or_default();
        let (explicit, auto) = chart_layout.resolve(&all_keys);
        let q = self.key_filter.to_lowercase();
        let matches = |k: &String| q.is_empty() || k.to_lowercase().contains(&q);
        let explicit: Vec<layout::Card> = explicit
            .into_iter()
            .filter(|c| c.spec.keys().any(matches))
            .collect();
        // The automatic cards in the order they are drawn (sections by prefix): an edit writes
        // them into the layout in this order.
        let mut auto_order: Vec<String> = auto
            .iter()
            .filter(|k| !k.starts_with(SYSTEM_PREFIX))
            .cloned()
            .collect();
        auto_order.sort_by_cached_key(|k| (key_prefix(k), k.clone()));
        let keys: Vec<String> = auto.into_iter().filter(matches).collect();
        if keys.is_empty() && explicit.is_empty() {
            ui.weak(if all_keys.is_empty() {
                "The selected runs have no metrics"
            } else if !q.is_empty() {
                "No metric key matches the filter"
            } else {
                "Every chart was removed: add one with \"+ chart\""
            });
            if !all_keys.is_empty() && q.is_empty() {
                self.apply_layout_edit(ctx, &layout_key, chart_layout, &auto_order);
            }
            return;
        }
        if ctx.selection().len() > MAX_CHART_RUNS && group_keys.is_empty() {
            ui.weak(format!(
                "Charting the first {MAX_CHART_RUNS} of {} selected runs",
                ctx.selection().len()
            ));
        }
        // One legend for every chart: the runs in their colours. Pointing at an entry draws that
        // run over the others; a click hides or shows it.
        let mut highlight = ctx.hovered_run().cloned();
        self.hidden_runs.retain(|id| ctx.selection().contains(id));
        // The table's eye hides runs too: take in its changes (the legend's own clicks stay).
        let table_hidden = ctx.hidden_from_charts();
        for id in self.table_hidden.difference(table_hidden) {
            self.hidden_runs.remove(id);
        }
        for id in table_hidden {
            if !self.table_hidden.contains(id) {
                self.hidden_runs.insert(id.clone());
            }
        }
        self.table_hidden = table_hidden.clone();
        if !group_keys.is_empty() {
            self.group_legend_ui(ui);
        } else {
            ui.horizontal_wrapped(|ui| {
                for r in runs.iter().take(LEGEND_MAX) {
                    let id = &r.info.run_id;
                    let hidden = self.hidden_runs.contains(id);
                    let resp = legend_entry(
                        ui,
                        theme::color_of(ctx.persisted(), id),
                        &r.info.run_name,
                        hidden,
                    )
                    .on_hover_text(if hidden {
                        "Hidden from the charts: click to show"
                    } else {
                        "Click to hide this run from the charts"
                    });
                    if resp.hovered() && !hidden {
                        highlight = Some(id.clone());
                    }
                    if resp.clicked() && !self.hidden_runs.remove(id) {
                        self.hidden_runs.insert(id.clone());
                    }
                }
                if runs.len() > LEGEND_MAX {
                    ui.weak(format!("and {} more", runs.len() - LEGEND_MAX));
                }
            });
        }
        self.highlight = highlight;
        let (system, model): (Vec<String>, Vec<String>) =
            keys.into_iter().partition(|k| k.starts_with(SYSTEM_PREFIX));
        // Group by prefix before the first '/'.
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for k in model {
            groups.entry(key_prefix(&k)).or_default().push(k);
        }
        let width = ui.available_width();
        let options = &ctx.persisted().charts;
        let ncols = match options.columns {
            0 => ((width / MIN_CARD_WIDTH).floor() as usize).clamp(1, MAX_COLUMNS as usize),
            n => usize::from(n.min(MAX_COLUMNS)),
        };
        let auto_card = |k: &String| layout::Card {
            id: k.clone(),
            spec: layout::CardSpec::of_key(k),
            index: None,
        };
        // Cards fill the pane: one row of cards takes it all, more rows share it two by two.
        let card_rows: usize = (pack_rows(&explicit, ncols).len()
            + groups
                .values()
                .map(|k| k.len().div_ceil(ncols))
                .sum::<usize>())
        .max(1);
        let per_pane = card_rows.min(2) as f32;
        self.plot_height = ((ui.available_height() - 40.0) / per_pane - CARD_CHROME)
            .clamp(PLOT_HEIGHT_RANGE.0, PLOT_HEIGHT_RANGE.1);
        let spacing = ui.spacing().item_spacing.x;
        let card_w = ((width - spacing * (ncols as f32 - 1.0)) / ncols as f32 - 2.0).max(120.0);
        // Sections by prefix only pay off with many keys; a few keys go in one grid.
        let multi_group = groups.len() > 1 && groups.values().map(Vec::len).sum::<usize>() > 8;
        if !multi_group && !groups.is_empty() {
            let all: Vec<String> = groups.into_values().flatten().collect();
            groups = BTreeMap::from([(String::new(), all)]);
        }
        // Where a card sits among the cards of the layout once the automatic ones are written
        // into it (the position a move is counted in).
        let n_layout = chart_layout.cards.len();
        let position = |c: &layout::Card| match c.index {
            Some(i) => Some(i),
            None => auto_order
                .iter()
                .position(|k| *k == c.id)
                .map(|p| n_layout + p),
        };
        let positions: Vec<usize> = explicit
            .iter()
            .filter_map(position)
            .chain(
                groups
                    .values()
                    .flatten()
                    .filter_map(|k| auto_order.iter().position(|a| a == k))
                    .map(|p| n_layout + p),
            )
            .collect();
        let grid = |ui: &mut egui::Ui, charts: &mut Charts, cards: &[layout::Card]| {
            for row in pack_rows(cards, ncols) {
                ui.horizontal(|ui| {
                    for card in &cards[row] {
                        let span = usize::from(card.spec.width.max(1)).min(ncols);
                        let w = card_w * span as f32 + (spacing + 2.0) * (span as f32 - 1.0);
                        let tall = f32::from(card.spec.height.clamp(1, layout::MAX_CARD_HEIGHT));
                        let plot_h = charts.plot_height * tall + (CARD_CHROME + 6.0) * (tall - 1.0);
                        // The cards before and after this one among those shown, for moves.
                        let at =
                            position(card).and_then(|p| positions.iter().position(|&q| q == p));
                        let before = at
                            .and_then(|a| a.checked_sub(1))
                            .and_then(|b| positions.get(b).copied());
                        let after = at.and_then(|a| positions.get(a + 1).copied());
                        let drop_target = ui.allocate_ui_with_layout(
                            egui::vec2(w, plot_h + CARD_CHROME),
                            egui::Layout::top_down(egui::Align::LEFT),
                            |ui| {
                                ui.set_width(w);
                                charts.menu_slot = position(card);
                                charts.card_ui(ui, ctx, &runs, card, plot_h);
                                charts.layout_edit = match charts.card_action.take() {
                                    Some(CardAction::Edit(e)) => Some(e),
                                    Some(CardAction::Earlier(r)) => {
                                        before.map(|p| layout::LayoutEdit::Move(r, p))
                                    }
                                    Some(CardAction::Later(r)) => {
                                        after.map(|n| layout::LayoutEdit::Move(r, n + 1))
                                    }
                                    None => charts.layout_edit.take(),
                                };
                            },
                        );
                        // A card's title dragged onto another card puts it there.
                        if let Some(slot) = position(card) {
                            let target = drop_target.response;
                            if target
                                .dnd_hover_payload::<CardDrag>()
                                .is_some_and(|d| d.slot != slot)
                            {
                                ui.painter().rect_stroke(
                                    target.rect,
                                    4.0,
                                    egui::Stroke::new(2.0, ui.visuals().selection.stroke.color),
                                    egui::StrokeKind::Inside,
                                );
                            }
                            if let Some(d) = target.dnd_release_payload::<CardDrag>()
                                && d.slot != slot
                            {
                                let to = if d.slot < slot { slot + 1 } else { slot };
                                charts.layout_edit =
                                    Some(layout::LayoutEdit::Move(d.card.clone(), to));
                            }
                        }
                    }
                });
                ui.add_space(6.0);
            }
        };
        egui::ScrollArea::vertical()
            .id_salt("charts_scroll")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                grid(ui, self, &explicit);
                for (prefix, keys) in &groups {
                    let cards: Vec<layout::Card> = keys.iter().map(auto_card).collect();
                    if multi_group {
                        let title = if prefix.is_empty() {
                            "other".to_string()
                        } else {
                            format!("{prefix}/")
                        };
                        egui::CollapsingHeader::new(format!("{title} ({})", keys.len()))
                            .id_salt(("chart_group", prefix))
                            .default_open(true)
                            .show(ui, |ui| grid(ui, self, &cards));
                    } else {
                        grid(ui, self, &cards);
                    }
                }
                // System metrics (CPU, memory, GPU…) after the model's, closed until asked for:
                // their histories are read only then.
                if !system.is_empty() {
                    if !groups.is_empty() || !explicit.is_empty() {
                        ui.separator();
                    }
                    let cards: Vec<layout::Card> = system.iter().map(auto_card).collect();
                    egui::CollapsingHeader::new(format!("{SYSTEM_SECTION} ({})", system.len()))
                        .id_salt("chart_group_system")
                        .default_open(false)
                        .show(ui, |ui| grid(ui, self, &cards));
                }
            });
        self.apply_layout_edit(ctx, &layout_key, chart_layout, &auto_order);
        // Ask for the histories the visible cards lack (all keys of a run in one request).
        for (run_id, keys) in std::mem::take(&mut self.wanted) {
            ctx.send(Command::LoadHistories {
                run_ids: vec![run_id],
                keys,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimming_drops_what_was_derived_from_dropped_histories() {
        let mut histories: crate::viewer::cache::Cache<(String, String), Series> =
            crate::viewer::cache::Cache::new(10);
        let s = Series {
            steps: vec![0, 1],
            timestamps: vec![0, 1],
            values: vec![1.0, 2.0],
            offset: None,
        };
        histories.set_ready(("a".into(), "m".into()), s.clone());
        let mut state = Charts::default();
        for run in ["a", "b"] {
            state.prepared.insert(
                (run.into(), "m".into()),
                PreparedEntry {
                    ohash: 0,
                    prepared: Arc::new(prepare(&s, &ChartOptions::default())),
                    used: 0,
                },
            );
        }
        state.trim(&histories);
        assert_eq!(state.prepared_len(), 1);
        assert!(state.prepared.contains_key(&("a".into(), "m".into())));
        assert!(series_bytes(&s) >= 48);
    }
}
