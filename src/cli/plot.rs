//! `mlscope plot`: the viewer's comparison chart of one experiment's runs, rendered without a
//! window to a PNG or SVG file (for CI jobs, reports and papers).
//!
//! It draws what the viewer draws: each run in the colour the viewer shows it in (the one the
//! viewer remembers on this machine, else the palette in the runs table's order,
//! `src/chart/palette.rs`), each curve reduced to the first, min, max and last point of every
//! pixel column by the viewer's pyramid (`src/chart/lod.rs`), so no spike is lost however many
//! points were logged. Values that cannot be drawn (NaN, ±inf) are left out and counted on
//! stderr; a curve whose x goes back (a restarted run) is drawn as separate pieces, as in the
//! viewer.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::artifacts::figure::{Figure, PlotFigure};
use crate::chart::lod::Pyramid;
use crate::chart::palette::assign_colors;
use crate::error::{Error, Result};
use crate::model::{Run, ViewType, tags};
use crate::store::RunQuery;
use crate::tracking::TrackingClient;
use crate::tracking::client::collect_pages;

use super::progress::Progress;
use super::{Common, open};

/// Smallest picture side that leaves room for the axes, the title and the legend.
pub const MIN_SIDE: u32 = 200;

/// `mlscope plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// Tracking URI or path: ./mlruns, file:///abs/mlruns, sqlite:///mlflow.db, or a project
    /// folder holding mlruns/ or mlflow.db.
    pub uri: String,
    /// The experiment whose runs are compared (its name, or its id).
    #[arg(long)]
    pub experiment: String,
    /// MLflow filter string choosing the runs, e.g. "params.lr = '0.01'".
    #[arg(long, default_value = "")]
    pub filter: String,
    /// Only these runs (ids, comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub runs: Vec<String>,
    /// Metric keys, comma-separated: one chart each.
    #[arg(long, value_delimiter = ',', required = true)]
    pub metric: Vec<String>,
    /// The x axis: the logged step, the wall-clock time, or the time since the run's first point.
    #[arg(long, value_enum, default_value_t = XKind::Step)]
    pub x: XKind,
    /// The picture to write: .png or .svg.
    #[arg(long)]
    pub out: PathBuf,
    /// Width in pixels.
    #[arg(long, default_value_t = 1200)]
    pub width: u32,
    /// Height in pixels.
    #[arg(long, default_value_t = 700)]
    pub height: u32,
    /// Colours the viewer remembers for runs, by run id (not an option: the `mlscope` binary
    /// fills it from the viewer's saved state when it has the viewer; empty otherwise).
    #[arg(skip)]
    pub remembered_colors: std::collections::BTreeMap<String, [u8; 3]>,
}

/// What the x axis shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum XKind {
    /// The step each value was logged at.
    Step,
    /// Wall-clock time (UTC).
    Time,
    /// Seconds since the run's first logged point of the metric.
    Relative,
}

/// A piece of a curve whose x never goes back, with its pyramid.
struct Piece {
    xs: Vec<f64>,
    ys: Vec<f64>,
    lod: Pyramid,
}

/// One run's curve of one metric.
struct Curve {
    color: [u8; 3],
    pieces: Vec<Piece>,
}

/// One metric's chart.
struct Panel {
    metric: String,
    curves: Vec<Curve>,
}

/// Everything drawn: what [`PlotFigure::draw`] renders on any backend.
struct Chart {
    title: String,
    x: XKind,
    panels: Vec<Panel>,
    legend: Vec<(String, [u8; 3])>,
    size: (u32, u32),
}

/// The picture format named by `out`'s extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutFormat {
    Png,
    Svg,
}

fn out_format(out: &std::path::Path) -> Result<OutFormat> {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("png") => Ok(OutFormat::Png),
        Some("svg") => Ok(OutFormat::Svg),
        _ => Err(Error::InvalidParameter(format!(
            "--out must name a .png or .svg file, not '{}'",
            out.display()
        ))),
    }
}

fn check_size(width: u32, height: u32) -> Result<()> {
    let max = crate::artifacts::figure::MAX_FIGURE_SIDE;
    for (name, v) in [("--width", width), ("--height", height)] {
        if !(MIN_SIDE..=max).contains(&v) {
            return Err(Error::InvalidParameter(format!(
                "{name} {v} is out of range: it must be {MIN_SIDE}..={max} pixels"
            )));
        }
    }
    Ok(())
}

/// Runs `mlscope plot`: reads the runs and histories, renders, writes `--out`, and says what it
/// wrote on `out`.
pub fn run(args: PlotArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    // Mistakes in the arguments are reported before the store is read.
    let format = out_format(&args.out)?;
    check_size(args.width, args.height)?;
    let metrics = metric_keys(&args.metric)?;
    let client = open(
        &Common {
            uri: args.uri.clone(),
            format: super::output::Format::Table,
        },
        err,
    )?;
    let experiment = find_experiment(&client, &args.experiment)?;
    let table = table_runs(&client, &experiment.experiment_id, "")?;
    let order: Vec<&str> = table.iter().map(|r| r.info.run_id.as_str()).collect();
    // The colours the viewer gave these runs on this machine stay theirs; the others get the
    // palette as the viewer would give it (least used first, in table order).
    let given = &args.remembered_colors;
    let colors: HashMap<String, [u8; 3]> = assign_colors(&order, given)
        .into_iter()
        .chain(given.iter().map(|(id, c)| (id.clone(), *c)))
        .collect();
    let chosen = chosen_runs(&client, &experiment, &table, &args)?;
    let mut panels = Vec::new();
    let mut drawn: Vec<&Run> = Vec::new();
    // Warnings wait for the progress bar to be gone (they would be drawn over).
    let mut warnings = Vec::new();
    let histories: usize = metrics
        .iter()
        .map(|k| {
            chosen
                .iter()
                .filter(|r| r.data.metrics.contains_key(k))
                .count()
        })
        .sum();
    let progress = Progress::items("reading metric histories", histories as u64);
    for key in &metrics {
        let with_key: Vec<&Run> = chosen
            .iter()
            .copied()
            .filter(|r| r.data.metrics.contains_key(key))
            .collect();
        if with_key.is_empty() {
            return Err(unknown_metric(key, &experiment.name, &chosen));
        }
        let mut curves = Vec::new();
        for run in with_key {
            progress.set_message(format!("reading '{key}' of {}", display_name(run)));
            let history = client.get_metric_history(&run.info.run_id, key)?;
            progress.inc(1);
            let (pieces, skipped) = pieces_of(&history, args.x);
            if skipped > 0 {
                warnings.push(format!(
                    "warning: {skipped} NaN/inf {} of '{key}' in run {} ({}) not drawn",
                    if skipped == 1 { "value" } else { "values" },
                    display_name(run),
                    run.info.run_id
                ));
            }
            if !drawn.iter().any(|d| d.info.run_id == run.info.run_id) {
                drawn.push(run);
            }
            curves.push(Curve {
                color: colors
                    .get(&run.info.run_id)
                    .copied()
                    .unwrap_or_else(|| crate::chart::palette::run_rgb(&run.info.run_id)),
                pieces,
            });
        }
        panels.push(Panel {
            metric: key.clone(),
            curves,
        });
    }
    drop(progress);
    for w in warnings {
        let _ = writeln!(err, "{w}");
    }
    // The legend lists the drawn runs in table order.
    let legend = chosen
        .iter()
        .filter(|r| drawn.iter().any(|d| d.info.run_id == r.info.run_id))
        .map(|r| {
            (
                display_name(r),
                colors
                    .get(&r.info.run_id)
                    .copied()
                    .unwrap_or_else(|| crate::chart::palette::run_rgb(&r.info.run_id)),
            )
        })
        .collect();
    let chart = Chart {
        title: format!("{}: {}", experiment.name, metrics.join(", ")),
        x: args.x,
        panels,
        legend,
        size: (args.width, args.height),
    };
    let path = args.out.to_string_lossy().into_owned();
    let figure = match format {
        OutFormat::Svg => Figure::svg_from_drawing(chart.size, |root| chart.draw(root))?,
        OutFormat::Png => Figure::bitmap_from_drawing(chart.size, |root| chart.draw(root))?,
    };
    let bytes = figure.encode_for(&path)?;
    std::fs::write(&args.out, bytes)
        .map_err(|e| Error::io("cannot write the plot", &args.out, e))?;
    let _ = writeln!(
        out,
        "wrote {} ({} {}, {} {})",
        args.out.display(),
        drawn.len(),
        if drawn.len() == 1 { "run" } else { "runs" },
        metrics.len(),
        if metrics.len() == 1 {
            "metric"
        } else {
            "metrics"
        }
    );
    Ok(())
}

/// The metric keys asked for, without blanks and repeats.
fn metric_keys(given: &[String]) -> Result<Vec<String>> {
    let mut keys: Vec<String> = Vec::new();
    for k in given.iter().map(|k| k.trim()).filter(|k| !k.is_empty()) {
        if !keys.iter().any(|x| x == k) {
            keys.push(k.to_string());
        }
    }
    if keys.is_empty() {
        return Err(Error::InvalidParameter(
            "--metric names no metric: give one or more keys, e.g. --metric loss,accuracy".into(),
        ));
    }
    Ok(keys)
}

/// The experiment named `name_or_id` (by name first, then by id).
fn find_experiment(client: &TrackingClient, name_or_id: &str) -> Result<crate::Experiment> {
    if let Some(e) = client.get_experiment_by_name(name_or_id)? {
        return Ok(e);
    }
    if let Ok(e) = client.get_experiment(name_or_id) {
        return Ok(e);
    }
    let names: Vec<String> = client
        .list_all_experiments(ViewType::ActiveOnly)?
        .items
        .into_iter()
        .map(|e| format!("'{}'", e.name))
        .collect();
    Err(Error::NotFound(format!(
        "no experiment named '{name_or_id}' (experiments: {})",
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    )))
}

/// The experiment's active runs matching `filter`, in the viewer's runs-table order: newest
/// first, each child run right after its parent (the order palette colours are given in).
fn table_runs(client: &TrackingClient, experiment_id: &str, filter: &str) -> Result<Vec<Run>> {
    let query = RunQuery {
        experiment_ids: vec![experiment_id.to_string()],
        filter: filter.to_string(),
        view_type: ViewType::ActiveOnly,
        max_results: crate::store::SEARCH_MAX_RESULTS_THRESHOLD,
        order_by: Vec::new(),
        page_token: None,
    };
    let page = collect_pages(None, |page_token| {
        client.search_runs(&RunQuery {
            page_token,
            ..query.clone()
        })
    })?;
    Ok(tree_order(page.items))
}

/// Runs reordered as the viewer's tree shows them ([`tree_indices`]).
fn tree_order(runs: Vec<Run>) -> Vec<Run> {
    let links: Vec<(&str, Option<&str>)> = runs
        .iter()
        .map(|r| {
            (
                r.info.run_id.as_str(),
                r.data.tags.get(tags::PARENT_RUN_ID).map(String::as_str),
            )
        })
        .collect();
    let order = tree_indices(&links);
    let mut slots: Vec<Option<Run>> = runs.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// The viewer's tree order of runs given as (id, parent id): top-level runs in the given
/// order, each followed by its children (in the given order), depth first. A run whose parent
/// is not in the list is top-level; runs only reachable through a parent cycle in damaged data
/// come last, as in the viewer.
fn tree_indices(links: &[(&str, Option<&str>)]) -> Vec<usize> {
    let index: HashMap<&str, usize> = links.iter().enumerate().map(|(i, l)| (l.0, i)).collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); links.len()];
    let mut roots = Vec::new();
    for (i, (_, parent)) in links.iter().enumerate() {
        match parent
            .and_then(|p| index.get(p).copied())
            .filter(|&p| p != i)
        {
            Some(p) => children[p].push(i),
            None => roots.push(i),
        }
    }
    let mut order = Vec::with_capacity(links.len());
    let mut visited = vec![false; links.len()];
    let mut stack: Vec<usize> = roots.into_iter().rev().collect();
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut visited[i], true) {
            continue;
        }
        order.push(i);
        stack.extend(children[i].iter().rev());
    }
    order.extend((0..links.len()).filter(|&i| !visited[i]));
    order
}

/// The runs to draw, in table order: those matching `--filter`, narrowed to `--runs`.
fn chosen_runs<'t>(
    client: &TrackingClient,
    experiment: &crate::Experiment,
    table: &'t [Run],
    args: &PlotArgs,
) -> Result<Vec<&'t Run>> {
    let matching: Option<HashSet<String>> = if args.filter.trim().is_empty() {
        None
    } else {
        Some(
            table_runs(client, &experiment.experiment_id, &args.filter)?
                .into_iter()
                .map(|r| r.info.run_id)
                .collect(),
        )
    };
    let wanted: Vec<&str> = args
        .runs
        .iter()
        .map(|r| r.trim())
        .filter(|r| !r.is_empty())
        .collect();
    for id in &wanted {
        if !table.iter().any(|r| r.info.run_id == *id) {
            return Err(Error::NotFound(format!(
                "run '{id}' is not an active run of experiment '{}'",
                experiment.name
            )));
        }
        if matching.as_ref().is_some_and(|m| !m.contains(*id)) {
            return Err(Error::InvalidParameter(format!(
                "run '{id}' does not match the filter \"{}\"",
                args.filter
            )));
        }
    }
    let chosen: Vec<&Run> = table
        .iter()
        .filter(|r| matching.as_ref().is_none_or(|m| m.contains(&r.info.run_id)))
        .filter(|r| wanted.is_empty() || wanted.contains(&r.info.run_id.as_str()))
        .collect();
    if chosen.is_empty() {
        return Err(Error::NotFound(if args.filter.trim().is_empty() {
            format!("experiment '{}' has no active runs", experiment.name)
        } else {
            format!(
                "no run of experiment '{}' matches the filter \"{}\"",
                experiment.name, args.filter
            )
        }));
    }
    Ok(chosen)
}

fn unknown_metric(key: &str, experiment: &str, runs: &[&Run]) -> Error {
    let mut logged: Vec<&str> = runs
        .iter()
        .flat_map(|r| r.data.metrics.keys().map(String::as_str))
        .collect();
    logged.sort_unstable();
    logged.dedup();
    Error::NotFound(format!(
        "no run of experiment '{experiment}' chosen for the plot has a metric '{key}' (metrics: {})",
        if logged.is_empty() {
            "none".to_string()
        } else {
            logged
                .iter()
                .map(|k| format!("'{k}'"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    ))
}

/// A run's name as the legend shows it (the start of its id when it has none).
fn display_name(run: &Run) -> String {
    if run.info.run_name.trim().is_empty() {
        run.info.run_id.chars().take(8).collect()
    } else {
        run.info.run_name.clone()
    }
}

/// A metric history as drawable pieces (split where x goes back) with their pyramids, and the
/// number of values that cannot be drawn (NaN, ±inf).
fn pieces_of(history: &[crate::Metric], x: XKind) -> (Vec<Piece>, usize) {
    let t0 = history.iter().map(|m| m.timestamp).min().unwrap_or(0);
    let mut pieces = Vec::new();
    let mut xs: Vec<f64> = Vec::new();
    let mut ys: Vec<f64> = Vec::new();
    let mut prev_x: Option<f64> = None;
    let mut skipped = 0;
    let mut close = |xs: &mut Vec<f64>, ys: &mut Vec<f64>| {
        if !xs.is_empty() {
            let (xs, ys) = (std::mem::take(xs), std::mem::take(ys));
            let lod = Pyramid::new(&xs, &ys);
            pieces.push(Piece { xs, ys, lod });
        }
    };
    for m in history {
        let xv = match x {
            XKind::Step => m.step as f64,
            XKind::Time => m.timestamp as f64 / 1000.0,
            XKind::Relative => (m.timestamp - t0) as f64 / 1000.0,
        };
        if prev_x.is_some_and(|p| xv < p) {
            close(&mut xs, &mut ys);
        }
        prev_x = Some(xv);
        let y = crate::format::as_logged(m.value);
        if !y.is_finite() {
            skipped += 1;
            continue;
        }
        xs.push(xv);
        ys.push(y);
    }
    close(&mut xs, &mut ys);
    (pieces, skipped)
}

/// The range of the drawn values, widened so that a flat curve still gets an axis.
fn bounds(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        let half = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return (lo - half, hi + half);
    }
    let p = (hi - lo) * pad;
    (lo - p, hi + p)
}

const FONT: &str = "sans-serif";
const LEGEND_ROW: u32 = 22;
const LEGEND_SWATCH: i32 = 18;

fn rgb([r, g, b]: [u8; 3]) -> RGBColor {
    RGBColor(r, g, b)
}

impl Chart {
    fn x_label(&self) -> &'static str {
        match self.x {
            XKind::Step => "step",
            XKind::Time => "time (UTC)",
            XKind::Relative => "time since the run's first point",
        }
    }

    /// The legend entries laid out in rows that fit `width`: (entry, x offset) per row.
    fn legend_rows<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        width: u32,
    ) -> Vec<Vec<(usize, i32)>> {
        let style = TextStyle::from((FONT, 15).into_font());
        let mut rows: Vec<Vec<(usize, i32)>> = vec![Vec::new()];
        let mut x = 10i32;
        for (i, (name, _)) in self.legend.iter().enumerate() {
            let text_w = area
                .estimate_text_size(name, &style)
                .map(|(w, _)| w as i32)
                .unwrap_or(8 * name.chars().count() as i32);
            let entry_w = LEGEND_SWATCH + 6 + text_w + 26;
            let row_has_entries = rows.last().is_some_and(|r| !r.is_empty());
            if row_has_entries && x + entry_w > width as i32 - 10 {
                rows.push(Vec::new());
                x = 10;
            }
            if let Some(row) = rows.last_mut() {
                row.push((i, x));
            }
            x += entry_w;
        }
        rows
    }

    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        panel: &Panel,
        captioned: bool,
    ) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let all = || panel.curves.iter().flat_map(|c| c.pieces.iter());
        let (x0, x1) = bounds(all().flat_map(|p| p.xs.iter().copied()), 0.0);
        let (y0, y1) = bounds(all().flat_map(|p| p.ys.iter().copied()), 0.05);
        let mut builder = ChartBuilder::on(area);
        builder
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(80);
        if captioned {
            builder.caption(&panel.metric, (FONT, 18).into_font());
        }
        let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1)?;
        let x_kind = self.x;
        let x_span = x1 - x0;
        let x_format = move |v: &f64| format_x(x_kind, *v, x_span);
        chart
            .configure_mesh()
            .x_desc(self.x_label())
            .y_desc(&panel.metric)
            .x_labels(if self.x == XKind::Time { 5 } else { 8 })
            .x_label_formatter(&x_format)
            .light_line_style(RGBColor(236, 236, 236))
            .bold_line_style(RGBColor(214, 214, 214))
            .label_style((FONT, 14).into_font())
            .axis_desc_style((FONT, 15).into_font())
            .draw()?;
        // One bucket per pixel column of the plotting area, as the viewer reduces per pixel.
        let buckets = (chart.plotting_area().dim_in_pixel().0 as usize).max(1);
        for curve in &panel.curves {
            let color = rgb(curve.color);
            for piece in &curve.pieces {
                if piece.xs.len() == 1 {
                    chart.draw_series(std::iter::once(Circle::new(
                        (piece.xs[0], piece.ys[0]),
                        3,
                        color.filled(),
                    )))?;
                    continue;
                }
                let keep = piece.lod.reduce(&piece.xs, &piece.ys, x0, x1, buckets);
                chart.draw_series(LineSeries::new(
                    keep.into_iter().map(|k| (piece.xs[k], piece.ys[k])),
                    color.stroke_width(2),
                ))?;
            }
        }
        Ok(())
    }
}

/// An x tick label: a step, a UTC time (the date only while the range spans days), or a duration.
fn format_x(kind: XKind, v: f64, span: f64) -> String {
    match kind {
        XKind::Step => {
            if v.fract() == 0.0 && v.abs() < 1e15 {
                format!("{}", v as i64)
            } else {
                format!("{v:.1}")
            }
        }
        XKind::Time => {
            let full = crate::format::time_utc((v * 1000.0).round() as i64);
            if span > 2.0 * 86_400.0 {
                full.get(..10).unwrap_or(&full).to_string()
            } else if span > 3600.0 {
                full.get(11..16).unwrap_or(&full).to_string()
            } else {
                full.get(11..).unwrap_or(&full).to_string()
            }
        }
        XKind::Relative => {
            if v <= 0.0 {
                "0".to_string()
            } else {
                crate::format::duration_compact((v * 1000.0).round() as i64)
            }
        }
    }
}

impl PlotFigure for Chart {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let body = root.titled(&self.title, (FONT, 22).into_font())?;
        let (width, height) = body.dim_in_pixel();
        let rows = self.legend_rows(&body, width);
        let legend_h = (rows.len() as u32 * LEGEND_ROW + 10).min(height / 2);
        let (charts, legend) = body.split_vertically(height - legend_h);
        let n = self.panels.len().max(1);
        let cols = (n as f64).sqrt().ceil() as usize;
        let grid_rows = n.div_ceil(cols);
        let cells = charts.split_evenly((grid_rows, cols));
        let captioned = self.panels.len() > 1;
        for (cell, panel) in cells.iter().zip(&self.panels) {
            self.draw_panel(cell, panel, captioned)?;
        }
        let style = TextStyle::from((FONT, 15).into_font()).color(&BLACK);
        for (r, row) in rows.iter().enumerate() {
            let y = 4 + r as i32 * LEGEND_ROW as i32;
            for &(i, x) in row {
                let (name, color) = &self.legend[i];
                legend.draw(&Rectangle::new(
                    [(x, y + 6), (x + LEGEND_SWATCH, y + 10)],
                    rgb(*color).filled(),
                ))?;
                legend.draw(&Text::new(
                    name.clone(),
                    (x + LEGEND_SWATCH + 6, y),
                    style.clone(),
                ))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Metric;

    #[test]
    fn children_follow_their_parent_like_the_viewer_tree() {
        // Store order (newest first): the parent started first, so it comes last.
        let links = [
            ("c2", Some("p")),
            ("x", None),
            ("c1", Some("p")),
            ("g", Some("c1")),
            ("p", None),
            ("loop-a", Some("loop-b")),
            ("loop-b", Some("loop-a")),
            ("orphan", Some("gone")),
        ];
        let ids: Vec<&str> = tree_indices(&links)
            .into_iter()
            .map(|i| links[i].0)
            .collect();
        assert_eq!(
            ids,
            ["x", "p", "c2", "c1", "g", "orphan", "loop-a", "loop-b"]
        );
    }

    #[test]
    fn a_restarted_history_is_split_and_non_finite_values_are_counted() {
        let m = |step, value| Metric::new("loss", value, 1_000 * (step + 1), step);
        let history = vec![
            m(0, 1.0),
            m(1, f64::NAN),
            m(2, 0.5),
            m(0, 0.9),
            m(1, f64::MAX),
        ];
        let (pieces, skipped) = pieces_of(&history, XKind::Step);
        assert_eq!(skipped, 2);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0].xs, [0.0, 2.0]);
        assert_eq!(pieces[1].ys, [0.9]);
        let (relative, _) = pieces_of(&history, XKind::Relative);
        assert_eq!(relative[0].xs, [0.0, 2.0]);
    }

    #[test]
    fn bad_output_names_and_sizes_are_refused() {
        assert!(out_format(std::path::Path::new("a.PNG")).is_ok());
        let e = out_format(std::path::Path::new("a.jpg"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains(".png or .svg") && e.contains("a.jpg"), "{e}");
        assert!(check_size(100, 700).is_err());
        assert!(check_size(1200, 700).is_ok());
        assert_eq!(bounds([2.0, 2.0].into_iter(), 0.05), (1.8, 2.2));
    }
}
