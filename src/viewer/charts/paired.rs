//! Cards with another metric as x: each run's y metric against its x metric, the two paired by
//! step (the value logged last at a step, as MLflow keeps it), drawn in step order (a path: loss
//! against learning rate, validation against training loss).

use super::layout::Card;
use super::*;

/// Cells per pixel of the grid over a card's range in which consecutive points of a line are
/// drawn as one (a path keeps its shape, a frame draws what the card's pixels can show).
const CELLS_PER_PIXEL: f64 = 1.0;

/// Most points one line keeps, per pixel of the card's width. A noisy path moves to another
/// cell at nearly every point, so the pixel grid alone kept all 10,000 points of each run and
/// a card of 50 runs took ~370 ms a frame; past this the grid coarsens instead.
const MAX_POINTS_PER_PIXEL: f64 = 4.0;

/// Most points a whole card draws; with many runs each line gets its share (never less than
/// half a point per pixel), so the frame's cost stops growing with the number of runs.
const MAX_CARD_POINTS: f64 = 200_000.0;

/// Most points a card draws as paths, all lines together; a line past its share (or past four
/// points per pixel of the card's width and height) is dense and is rasterised instead
/// ([`dense::PairedRaster`]), so that a frame's vertices are bounded by the card's area.
const MAX_PATH_POINTS: usize = 20_000;

/// `(step, x, y)` for each step at which both series have a finite value, in step order; a
/// step logged several times counts with its last value.
pub fn pair_by_step(x: &Series, y: &Series) -> Vec<(i64, f64, f64)> {
    // Non-finite values stay until paired: a step whose last value is NaN is left out.
    let last_per_step = |s: &Series| {
        let n = s.steps.len().min(s.values.len());
        super::group::last_per_step(
            (0..n)
                .map(|i| (s.steps[i], crate::format::as_logged(s.values[i])))
                .collect(),
        )
    };
    let (xs, ys) = (last_per_step(x), last_per_step(y));
    let mut out = Vec::with_capacity(xs.len().min(ys.len()));
    let mut j = 0;
    for (step, xv) in xs {
        while j < ys.len() && ys[j].0 < step {
            j += 1;
        }
        if let Some(&(s, yv)) = ys.get(j)
            && s == step
            && xv.is_finite()
            && yv.is_finite()
        {
            out.push((step, xv, yv));
        }
    }
    out
}

/// A line before thinning: name, colour, metric index, paired `(step, x, y)` points.
type RawLine = (String, egui::Color32, usize, Vec<(i64, f64, f64)>);

/// One run's y metric against the x metric.
#[derive(Debug, Clone)]
pub struct PairedLine {
    /// Run name (and metric, when the card has several).
    pub name: String,
    /// Colour.
    pub color: egui::Color32,
    /// Index of the metric among the card's (its line style).
    pub metric: usize,
    /// Points to draw, in step order (consecutive points within one cell merged).
    pub points: Vec<PlotPoint>,
    /// The step of each point.
    pub steps: Vec<i64>,
    /// A path too dense to draw as a line: its points thinned to a cell per pixel only, drawn
    /// rasterised with the other dense paths of the card (`points` are then for the read-out).
    pub dense: Option<Vec<PlotPoint>>,
}

/// Drops the points that fall in the same cell of a `cells × cells` grid over `range` as the
/// point kept before them (a path keeps its shape at any zoom of the whole range).
fn thin(
    points: &[(i64, f64, f64)],
    range: [(f64, f64); 2],
    cells: f64,
) -> (Vec<PlotPoint>, Vec<i64>) {
    let cell = |v: f64, (lo, hi): (f64, f64)| {
        if hi > lo {
            ((v - lo) / (hi - lo) * cells).floor() as i64
        } else {
            0
        }
    };
    let mut pts = Vec::new();
    let mut steps = Vec::new();
    let mut last = None;
    for (k, &(step, x, y)) in points.iter().enumerate() {
        let c = (cell(x, range[0]), cell(y, range[1]));
        if last != Some(c) || k + 1 == points.len() {
            pts.push(PlotPoint::new(x, y));
            steps.push(step);
            last = Some(c);
        }
    }
    (pts, steps)
}

/// [`thin`] on the finest grid (`cells` a side) that keeps at most `budget` points: each step
/// halves the cells, so a dense path is drawn at 2, 4 or 8 pixels' precision instead of point
/// by point; never coarser than that (a path that jumps across the whole card at every point
/// keeps more than its budget rather than collapse to a few lines); the ends are always kept.
fn thin_within(
    points: &[(i64, f64, f64)],
    range: [(f64, f64); 2],
    cells: f64,
    budget: usize,
) -> (Vec<PlotPoint>, Vec<i64>) {
    let coarsest = (cells / 8.0).max(1.0);
    let mut grid = cells;
    loop {
        let thinned = thin(points, range, grid);
        if thinned.0.len() <= budget || grid / 2.0 < coarsest {
            return thinned;
        }
        grid /= 2.0;
    }
}

impl Charts {
    /// A card of the card's metrics against another metric, a line per run and metric.
    pub(super) fn paired_card_ui(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &ViewCtx,
        runs: &[Arc<Run>],
        card: &Card,
        x_key: &str,
        (plot_height, card_rect): (f32, egui::Rect),
    ) {
        let key = card.id.as_str();
        let options = &ctx.persisted().charts;
        let log_y = options.log_y;
        let runs = &runs[..runs.len().min(MAX_CHART_RUNS)];
        // The card's plot width in its last frame (the grid of thinning follows it).
        let px = self
            .last_x
            .get(key)
            .map_or(ui.available_width(), |&(_, _, w)| w)
            .max(100.0);
        let fingerprint = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            ctx.histories_version().hash(&mut h);
            card.spec.hash(&mut h);
            log_y.hash(&mut h);
            (px as u32).hash(&mut h);
            (plot_height as u32).hash(&mut h);
            self.drawn_runs_hash(ctx, runs).hash(&mut h);
            h.finish()
        };
        let lines = match self.paired_memo.get(key) {
            Some((f, l)) if *f == fingerprint => Arc::clone(l),
            _ => {
                let cells = f64::from(px) * CELLS_PER_PIXEL;
                // Four points per pixel of the card's sides, or the line's share of the card's.
                let path_max = (4.0 * (px + plot_height)) as usize;
                let lines =
                    Arc::new(self.paired_lines(ctx, runs, card, x_key, log_y, (cells, path_max)));
                self.paired_memo
                    .insert(key.to_string(), (fingerprint, Arc::clone(&lines)));
                lines
            }
        };
        self.shown_lines.insert(
            key.to_string(),
            lines.iter().map(|l| l.name.clone()).collect(),
        );
        let loading = runs.iter().any(|r| {
            card.spec.keys().any(|m| {
                r.data.metrics.contains_key(m)
                    && ctx
                        .histories()
                        .get(&(r.info.run_id.clone(), m.clone()))
                        .is_none_or(Entry::is_loading)
            })
        });
        let export = self.card_header_ui(ui, card, loading);
        let x_name = x_key.to_string();
        let plot = Plot::new(("paired", key))
            .height(plot_height)
            .allow_scroll(false)
            .show_x(false)
            .show_y(false)
            .x_axis_label(card::truncate_label(&x_name, 40))
            .x_axis_formatter(|mark, _| number_sig(mark.value))
            .y_axis_formatter(move |mark, _| {
                if log_y {
                    log_tick_label(mark.value)
                } else {
                    number_sig(mark.value)
                }
            });
        let plot = if log_y {
            plot.y_grid_spacer(scale::log_grid)
        } else {
            plot
        };
        let drawn = Arc::clone(&lines);
        let raster_memo = Arc::clone(self.paired_raster.entry(key.to_string()).or_default());
        let response = plot.show(ui, |plot_ui| {
            if drawn.iter().any(|l| l.dense.is_some()) {
                plot_ui.add(dense::PairedRaster::new(
                    Arc::clone(&drawn),
                    fingerprint,
                    raster_memo,
                ));
            }
            for (i, l) in drawn.iter().enumerate().filter(|(_, l)| l.dense.is_none()) {
                plot_ui.line(
                    Line::new(l.name.clone(), PlotPoints::Borrowed(&l.points))
                        .color(l.color)
                        .style(menu::metric_style(l.metric))
                        .width(1.4)
                        .id(("paired", i)),
                );
                if l.points.len() <= 2 {
                    plot_ui.points(
                        egui_plot::Points::new(l.name.clone(), PlotPoints::Borrowed(&l.points))
                            .color(l.color)
                            .radius(3.5),
                    );
                }
            }
            plot_ui.pointer_coordinate()
        });
        let b = response.transform.bounds();
        self.shown_y
            .insert(key.to_string(), (b.min()[1], b.max()[1]));
        self.last_x.insert(
            key.to_string(),
            (b.min()[0], b.max()[0], response.transform.frame().width()),
        );
        self.paired_transforms
            .insert(key.to_string(), response.transform);
        // The point nearest to the pointer on screen: its run, step and both values.
        if response.response.hovered()
            && let Some(pointer) = response.response.hover_pos()
        {
            let t = &response.transform;
            // Points within 30 px of the pointer, found in plot units first (a comparison per
            // point), measured on screen then.
            let at = t.value_from_position(pointer);
            let (rx, ry) = (
                30.0 * t.dvalue_dpos()[0].abs(),
                30.0 * t.dvalue_dpos()[1].abs(),
            );
            let nearest = lines
                .iter()
                .flat_map(|l| l.points.iter().zip(&l.steps).map(move |(p, s)| (l, *p, *s)))
                .filter(|(_, p, _)| (p.x - at.x).abs() <= rx && (p.y - at.y).abs() <= ry)
                .map(|(l, p, s)| (t.position_from_point(&p).distance(pointer), l, p, s))
                .min_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((d, l, p, step)) = nearest
                && d < 30.0
            {
                let y = if log_y { 10f64.powf(p.y) } else { p.y };
                self.paired_hovered = Some((l.name.clone(), step, p.x, y));
                response.response.on_hover_ui_at_pointer(|ui| {
                    ui.horizontal(|ui| {
                        theme::swatch(ui, l.color);
                        ui.label(egui::RichText::new(&l.name).strong());
                    });
                    ui.monospace(format!(
                        "step {step}\n{x_name} {}\n{} {}",
                        number_sig(p.x),
                        card.spec.metrics[l.metric],
                        number_sig(y)
                    ));
                });
            }
        }
        let keys: Vec<String> = card.spec.keys().cloned().collect();
        card::send_exports(ctx, key, card_rect, runs, &keys, export);
    }

    /// Where the point of `run_name`'s line at `step` was drawn on card `id` in the last frame
    /// (tests).
    pub fn paired_screen(&self, id: &str, run_name: &str, step: i64) -> Option<(f32, f32)> {
        let t = self.paired_transforms.get(id)?;
        let (_, lines) = self.paired_memo.get(id)?;
        let l = lines.iter().find(|l| l.name == run_name)?;
        let i = l.steps.iter().position(|&s| s == step)?;
        let p = t.position_from_point(&l.points[i]);
        Some((p.x, p.y))
    }

    fn paired_lines(
        &self,
        ctx: &ViewCtx,
        runs: &[Arc<Run>],
        card: &Card,
        x_key: &str,
        log_y: bool,
        (cells, path_max): (f64, usize),
    ) -> Vec<PairedLine> {
        let histories = ctx.histories();
        let several = card.spec.metrics.len() > 1;
        // (name, colour, metric index, paired points) per run and metric.
        let mut raw: Vec<RawLine> = Vec::new();
        for r in runs {
            if self.hidden_runs.contains(&r.info.run_id) {
                continue;
            }
            let id = &r.info.run_id;
            let Some(xs) = histories
                .get(&(id.clone(), x_key.to_string()))
                .and_then(Entry::ready)
            else {
                continue;
            };
            for (mi, m) in card.spec.metrics.iter().enumerate() {
                let Some(ys) = histories
                    .get(&(id.clone(), m.clone()))
                    .and_then(Entry::ready)
                else {
                    continue;
                };
                let mut pts = pair_by_step(xs, ys);
                if log_y {
                    pts.retain(|p| p.2 > 0.0);
                    for p in &mut pts {
                        p.2 = p.2.log10();
                    }
                }
                let name = if several {
                    format!("{} · {m}", r.info.run_name)
                } else {
                    r.info.run_name.clone()
                };
                raw.push((name, theme::color_of(ctx.persisted(), id), mi, pts));
            }
        }
        // One grid over every line, a cell about a pixel of the card.
        let mut range = [(f64::INFINITY, f64::NEG_INFINITY); 2];
        for (_, _, _, pts) in &raw {
            for &(_, x, y) in pts {
                range[0] = (range[0].0.min(x), range[0].1.max(x));
                range[1] = (range[1].0.min(y), range[1].1.max(y));
            }
        }
        let per_line = (cells * MAX_POINTS_PER_PIXEL)
            .min(MAX_CARD_POINTS / raw.len().max(1) as f64)
            .max(cells / 2.0) as usize;
        let path_max = path_max.min(MAX_PATH_POINTS / raw.len().max(1)).max(64);
        raw.into_iter()
            .map(|(name, color, metric, pts)| {
                let (points, steps) = thin_within(&pts, range, cells, per_line);
                let dense = (points.len() > path_max).then(|| thin(&pts, range, cells).0);
                PairedLine {
                    name,
                    color,
                    metric,
                    points,
                    steps,
                    dense,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(points: &[(i64, f64)]) -> Series {
        Series {
            steps: points.iter().map(|p| p.0).collect(),
            timestamps: (0..points.len() as i64).collect(),
            values: points.iter().map(|p| p.1).collect(),
            offset: None,
        }
    }

    #[test]
    fn points_pair_by_step_with_the_last_value_of_a_step() {
        let x = s(&[(0, 0.1), (1, 0.2), (2, 0.3), (2, 0.35), (4, 0.5)]);
        let y = s(&[(4, 9.0), (0, 1.0), (2, 3.0), (3, 7.0), (1, f64::NAN)]);
        assert_eq!(
            pair_by_step(&x, &y),
            vec![(0, 0.1, 1.0), (2, 0.35, 3.0), (4, 0.5, 9.0)]
        );
    }

    #[test]
    fn thinning_keeps_the_ends_and_every_move_to_another_cell() {
        let pts: Vec<(i64, f64, f64)> = (0..1000).map(|i| (i, (i / 100) as f64, 0.0)).collect();
        let (kept, steps) = thin(&pts, [(0.0, 9.0), (0.0, 1.0)], 9.0);
        assert_eq!(kept.len(), 11);
        assert_eq!(steps.first(), Some(&0));
        assert_eq!(steps.last(), Some(&999));
    }

    #[test]
    fn a_noisy_path_is_thinned_on_a_coarser_grid_to_stay_within_its_budget() {
        // A trend with noise of about two cells in both axes (training curves against each other):
        // on a 400-cell grid nearly every point is in a new cell.
        let mut state = 12345u64;
        let mut noise = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let pts: Vec<(i64, f64, f64)> = (0..10_000)
            .map(|i| {
                let t = i as f64 / 10_000.0;
                (i, t + 0.005 * noise(), (1.0 - t).powi(2) + 0.005 * noise())
            })
            .collect();
        let range = [(-0.01, 1.01), (-0.01, 1.01)];
        assert!(thin(&pts, range, 400.0).0.len() > 8_000);
        let (kept, steps) = thin_within(&pts, range, 400.0, 1_600);
        assert!(kept.len() <= 1_600, "{} points kept", kept.len());
        assert!(kept.len() > 400, "thinned too far: {}", kept.len());
        assert_eq!(steps.first(), Some(&0));
        assert_eq!(steps.last(), Some(&9_999));
        // A path that already fits keeps every cell move, as before.
        let smooth: Vec<(i64, f64, f64)> = (0..1000).map(|i| (i, (i / 100) as f64, 0.0)).collect();
        assert_eq!(
            thin_within(&smooth, [(0.0, 9.0), (0.0, 1.0)], 9.0, 1_000)
                .0
                .len(),
            11
        );
    }
}
