//! Parallel coordinates: chosen params and metric summaries as vertical axes (numbers, or
//! categories spread evenly), one line per shown run coloured by a chosen metric. Dragging along
//! an axis brushes a range on it; the runs inside every brush become the selection (a click on an
//! axis clears its brush).

use std::collections::HashMap;
use std::sync::Arc;

use crate::format::number_sig;
use crate::model::Run;

use super::super::commands::Command;
use super::super::context::ViewCtx;
use super::super::theme;
use super::dims::{Dim, DimColumn, dim_picker, scale_color};

/// Most axes shown by default.
const DEFAULT_AXES: usize = 5;
/// How near an axis (in points) a drag brushes it.
const AXIS_GRAB: f32 = 14.0;

/// Parallel coordinates' state.
#[derive(Debug, Default)]
pub struct ParCoords {
    /// The axes (defaults are picked when empty).
    pub axes: Vec<Dim>,
    /// The metric lines are coloured by (run colours when None).
    pub color_by: Option<Dim>,
    /// Brushed ranges per axis, as values along the axis (low, high).
    pub brushes: HashMap<Dim, (f64, f64)>,
    /// A brush being dragged: axis index, start position along the axis (0..1).
    dragging: Option<(usize, f32)>,
    /// The axis being added (picker state).
    adding: Option<Dim>,
    /// Where each axis was drawn in the last frame: its x and its top and bottom y (tests).
    pub axis_screen: Vec<(f32, f32, f32)>,
    /// Runs drawn in the last frame.
    pub lines_drawn: usize,
    /// Whether the defaults were picked.
    initialised: bool,
    columns: super::dims::ColumnCache,
}

impl ParCoords {
    /// Draws the parallel coordinates of the shown runs.
    pub fn show(&mut self, ui: &mut egui::Ui, ctx: &ViewCtx) {
        self.axis_screen.clear();
        self.lines_drawn = 0;
        let Some(set) = ctx.run_set() else {
            return;
        };
        if !self.initialised && set.catalog.params.len() + set.catalog.metrics.len() > 0 {
            let (params, metrics) = Dim::defaults(ctx);
            self.axes = params
                .into_iter()
                .take(DEFAULT_AXES - 1)
                .chain(metrics.first().cloned())
                .collect();
            self.color_by = metrics.first().cloned();
            self.initialised = true;
        }
        let all = Dim::all(ctx);
        let mut remove: Option<usize> = None;
        ui.horizontal_wrapped(|ui| {
            for (i, a) in self.axes.iter().enumerate() {
                if ui
                    .small_button(format!("{} ✖", a.title()))
                    .on_hover_text("Remove this axis")
                    .clicked()
                {
                    remove = Some(i);
                }
            }
            if dim_picker(ui, "add axis", &all, &mut self.adding)
                && let Some(d) = self.adding.take()
                && !self.axes.contains(&d)
            {
                self.axes.push(d);
            }
            let metrics: Vec<Dim> = all
                .iter()
                .filter(|d| matches!(d, Dim::Metric(..)))
                .cloned()
                .collect();
            dim_picker(ui, "colour by", &metrics, &mut self.color_by);
            if !self.brushes.is_empty() && ui.button("Clear brushes").clicked() {
                self.brushes.clear();
            }
        });
        if let Some(i) = remove {
            let d = self.axes.remove(i);
            self.brushes.remove(&d);
        }
        if self.axes.is_empty() {
            ui.weak("Add axes: params and metric summaries of the runs");
            return;
        }
        let runs: Vec<Arc<Run>> = ctx
            .rows()
            .iter()
            .map(|r| Arc::clone(&set.runs[r.run]))
            .collect();
        let axes = self.axes.clone();
        let cols: Vec<Arc<DimColumn>> = axes
            .iter()
            .map(|d| self.columns.get(ctx, &runs, d))
            .collect();
        let color_col = self
            .color_by
            .clone()
            .map(|d| self.columns.get(ctx, &runs, &d));

        // No wider than what is visible (a wide row above can make the pane wider).
        let visible_w = ui.clip_rect().right() - ui.cursor().left();
        let size = egui::vec2(ui.available_width().min(visible_w), ui.available_height());
        let (rect, response) = ui.allocate_exact_size(
            size.max(egui::vec2(200.0, 150.0)),
            egui::Sense::click_and_drag(),
        );
        let painter = ui.painter_at(rect);
        let n = cols.len();
        let top = rect.top() + 28.0;
        let bottom = rect.bottom() - 22.0;
        let margin = 80.0;
        let axis_x = |i: usize| {
            if n == 1 {
                rect.center().x
            } else {
                rect.left() + margin + (rect.width() - 2.0 * margin) * i as f32 / (n - 1) as f32
            }
        };
        // Value → screen y (higher values up).
        let y_of = |c: &DimColumn, v: f64| bottom - (bottom - top) * c.normalized(v) as f32;
        let along = |y: f32| ((bottom - y) / (bottom - top)).clamp(0.0, 1.0);
        // Brushing: a drag starting near an axis.
        if response.drag_started()
            && let Some(p) = ui
                .input(|i| i.pointer.press_origin())
                .or(response.interact_pointer_pos())
            && let Some(i) = (0..n).find(|&i| (p.x - axis_x(i)).abs() < AXIS_GRAB)
        {
            self.dragging = Some((i, along(p.y)));
        }
        let mut changed = false;
        if let (Some((i, start)), Some(p)) = (self.dragging, response.interact_pointer_pos()) {
            let end = along(p.y);
            let (a, b) = (start.min(end) as f64, start.max(end) as f64);
            if b - a > 0.005 {
                let (lo, hi) = cols[i].range;
                let span = if hi > lo { hi - lo } else { 1.0 };
                let base = if hi > lo { lo } else { lo - 0.5 };
                self.brushes
                    .insert(self.axes[i].clone(), (base + a * span, base + b * span));
                changed = true;
            }
        }
        if response.drag_stopped() {
            self.dragging = None;
            changed = true;
        }
        if response.clicked()
            && let Some(p) = response.interact_pointer_pos()
            && let Some(i) = (0..n).find(|&i| (p.x - axis_x(i)).abs() < AXIS_GRAB)
            && self.brushes.remove(&self.axes[i]).is_some()
        {
            changed = true;
        }
        let inside = |k: usize| {
            cols.iter().all(|c| match self.brushes.get(&c.dim) {
                None => true,
                Some(&(lo, hi)) => c.values[k].is_some_and(|v| v >= lo && v <= hi),
            })
        };
        // Lines: outside the brushes faded and first, inside over them.
        let color_range = color_col.as_ref().map(|c| c.range);
        let mut faded = Vec::new();
        let mut strong = Vec::new();
        for (k, run) in runs.iter().enumerate() {
            let pts: Vec<egui::Pos2> = cols
                .iter()
                .enumerate()
                .filter_map(|(i, c)| Some(egui::pos2(axis_x(i), y_of(c, c.values[k]?))))
                .collect();
            if pts.len() < 2 && n > 1 {
                continue;
            }
            let color = match (&color_col, color_range) {
                (Some(c), Some(_)) => match c.values[k] {
                    Some(v) => scale_color(c.normalized(v)),
                    None => egui::Color32::GRAY,
                },
                _ => theme::color_of(ctx.persisted(), &run.info.run_id),
            };
            if self.brushes.is_empty() || inside(k) {
                strong.push((pts, color));
            } else {
                faded.push(pts);
            }
        }
        self.lines_drawn = strong.len() + faded.len();
        let faint = ui.visuals().weak_text_color().gamma_multiply(0.25);
        for pts in faded {
            painter.add(egui::Shape::line(pts, egui::Stroke::new(1.0, faint)));
        }
        let width = if strong.len() > 2000 { 0.7 } else { 1.2 };
        for (pts, color) in strong {
            painter.add(egui::Shape::line(
                pts,
                egui::Stroke::new(width, color.gamma_multiply(0.8)),
            ));
        }
        // Axes, their ticks and brushes.
        let text = ui.visuals().text_color();
        let axis_stroke = egui::Stroke::new(1.5, ui.visuals().strong_text_color());
        let font = egui::FontId::proportional(11.0);
        for (i, c) in cols.iter().enumerate() {
            let x = axis_x(i);
            self.axis_screen.push((x, top, bottom));
            painter.vline(x, top..=bottom, axis_stroke);
            painter.text(
                egui::pos2(x, rect.top() + 4.0),
                egui::Align2::CENTER_TOP,
                c.dim.title(),
                font.clone(),
                text,
            );
            let ticks: Vec<f64> = match &c.categories {
                Some(cats) if cats.len() <= 20 => (0..cats.len()).map(|v| v as f64).collect(),
                Some(cats) => vec![0.0, (cats.len() - 1) as f64],
                None if c.range.0 <= c.range.1 => (0..=4)
                    .map(|t| c.range.0 + (c.range.1 - c.range.0) * t as f64 / 4.0)
                    .collect(),
                None => Vec::new(),
            };
            for v in ticks {
                let y = y_of(c, v);
                painter.hline(x - 3.0..=x + 3.0, y, axis_stroke);
                // The last axis has its labels on its left, inside the view.
                let (dx, align) = if i + 1 == n && n > 1 {
                    (-5.0, egui::Align2::RIGHT_CENTER)
                } else {
                    (5.0, egui::Align2::LEFT_CENTER)
                };
                painter.text(egui::pos2(x + dx, y), align, c.label(v), font.clone(), text);
            }
            if let Some(&(lo, hi)) = self.brushes.get(&c.dim) {
                let (ya, yb) = (y_of(c, hi), y_of(c, lo));
                let r = egui::Rect::from_min_max(egui::pos2(x - 6.0, ya), egui::pos2(x + 6.0, yb));
                painter.rect_filled(r, 2.0, ui.visuals().selection.bg_fill.gamma_multiply(0.6));
                painter.text(
                    egui::pos2(x - 8.0, ya),
                    egui::Align2::RIGHT_TOP,
                    format!("{} – {}", number_sig(lo), number_sig(hi)),
                    font.clone(),
                    text,
                );
            }
        }
        if let (Some(c), Some((lo, hi))) = (&color_col, color_range)
            && lo <= hi
        {
            painter.text(
                egui::pos2(rect.right() - 4.0, rect.bottom() - 4.0),
                egui::Align2::RIGHT_BOTTOM,
                format!(
                    "colour: {} from {} (dark) to {} (yellow)",
                    c.dim.title(),
                    number_sig(lo),
                    number_sig(hi)
                ),
                font,
                ui.visuals().weak_text_color(),
            );
        }
        response.on_hover_text("Drag along an axis to brush a range: the runs inside every brush are selected. Click an axis to clear its brush.");
        // The brushed runs become the selection (when a brush changed).
        if changed && self.dragging.is_none() {
            let ids: Vec<String> = if self.brushes.is_empty() {
                Vec::new()
            } else {
                (0..runs.len())
                    .filter(|&k| inside(k))
                    .map(|k| runs[k].info.run_id.clone())
                    .collect()
            };
            if !self.brushes.is_empty() || !ctx.selection().is_empty() {
                ctx.send(Command::SelectRuns(ids));
            }
        }
    }
}
