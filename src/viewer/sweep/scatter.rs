//! The scatter plot: one point per shown run, a param or metric summary against another,
//! coloured by run; pointing at a point names the run, a click selects it (Ctrl+click adds it).

use std::sync::Arc;

use egui_plot::{Plot, PlotPoint};

use crate::model::Run;

use super::super::commands::{Command, SelectMode};
use super::super::context::ViewCtx;
use super::super::theme;
use super::dims::{Dim, DimColumn, dim_picker};

/// The scatter plot's state.
#[derive(Debug, Default)]
pub struct Scatter {
    /// The x dimension (a default is picked when None).
    pub x: Option<Dim>,
    /// The y dimension.
    pub y: Option<Dim>,
    /// Where each run's point was drawn in the last frame, in screen points (tests).
    pub screen_points: Vec<(String, egui::Pos2)>,
    /// The run named under the pointer in the last frame.
    pub hovered: Option<String>,
    columns: super::dims::ColumnCache,
}

/// Radius of a point; selected runs are drawn larger.
const RADIUS: f32 = 3.5;
/// How near the pointer must be to a point to name it.
const HOVER_RADIUS: f32 = 8.0;

impl Scatter {
    /// Draws the scatter plot of the shown runs.
    pub fn show(&mut self, ui: &mut egui::Ui, ctx: &ViewCtx) {
        self.screen_points.clear();
        self.hovered = None;
        let all = Dim::all(ctx);
        if self.x.is_none() || self.y.is_none() {
            let (params, metrics) = Dim::defaults(ctx);
            if self.x.is_none() {
                self.x = params.first().or(metrics.get(1)).cloned();
            }
            if self.y.is_none() {
                self.y = metrics.first().cloned();
            }
        }
        ui.horizontal(|ui| {
            dim_picker(ui, "x", &all, &mut self.x);
            dim_picker(ui, "y", &all, &mut self.y);
        });
        let (Some(xd), Some(yd), Some(set)) = (self.x.clone(), self.y.clone(), ctx.run_set())
        else {
            ui.weak("The runs have no params or metrics to plot");
            return;
        };
        let runs: Vec<Arc<Run>> = ctx
            .rows()
            .iter()
            .map(|r| Arc::clone(&set.runs[r.run]))
            .collect();
        let xs = self.columns.get(ctx, &runs, &xd);
        let ys = self.columns.get(ctx, &runs, &yd);
        let points: Vec<(usize, f64, f64)> = (0..runs.len())
            .filter_map(|i| Some((i, xs.values[i]?, ys.values[i]?)))
            .collect();
        ui.weak(format!(
            "{} of {} shown runs have both values",
            points.len(),
            runs.len()
        ));
        let (xc, yc) = (Arc::clone(&xs), Arc::clone(&ys));
        let pad = |(lo, hi): (f64, f64)| {
            let p = if hi > lo {
                (hi - lo) * 0.05
            } else {
                (lo.abs() * 0.05).max(0.5)
            };
            (lo - p, hi + p)
        };
        let mut plot = Plot::new("scatter")
            .allow_scroll(false)
            .show_x(false)
            .show_y(false)
            .x_axis_label(xd.title())
            .y_axis_label(yd.title())
            .x_axis_formatter(move |m, _| axis_label(&xc, m.value))
            .y_axis_formatter(move |m, _| axis_label(&yc, m.value));
        // The points are drawn by the painter below (one shape per run); the bounds include them.
        if xs.range.0 <= xs.range.1 && ys.range.0 <= ys.range.1 {
            let (x0, x1) = pad(xs.range);
            let (y0, y1) = pad(ys.range);
            plot = plot.include_x(x0).include_x(x1).include_y(y0).include_y(y1);
        }
        let response = plot.show(ui, |_| {});
        let transform = response.transform;
        let painter = ui.painter_at(*transform.frame());
        let pointer = response.response.hover_pos();
        let mut nearest: Option<(f32, usize)> = None;
        let selection = ctx.selection();
        let stroke = egui::Stroke::new(1.5, ui.visuals().strong_text_color());
        for &(i, x, y) in &points {
            let p = transform.position_from_point(&PlotPoint::new(x, y));
            let id = &runs[i].info.run_id;
            let selected = selection.contains(id);
            let color = theme::color_of(ctx.persisted(), id);
            if selected {
                painter.circle(p, RADIUS + 1.5, color, stroke);
            } else {
                painter.circle_filled(p, RADIUS, color);
            }
            self.screen_points.push((id.clone(), p));
            if let Some(ptr) = pointer {
                let d = ptr.distance(p);
                if d < HOVER_RADIUS && nearest.is_none_or(|(best, _)| d < best) {
                    nearest = Some((d, i));
                }
            }
        }
        if let Some((_, i)) = nearest {
            let run = &runs[i];
            self.hovered = Some(run.info.run_id.clone());
            let (x, y) = (xs.values[i], ys.values[i]);
            let clicked = response.response.clicked();
            let modifiers = ui.input(|i| i.modifiers);
            response.response.on_hover_ui_at_pointer(|ui| {
                ui.horizontal(|ui| {
                    theme::swatch(ui, theme::color_of(ctx.persisted(), &run.info.run_id));
                    ui.label(egui::RichText::new(&run.info.run_name).strong());
                });
                ui.monospace(format!(
                    "{} = {}\n{} = {}",
                    xd.title(),
                    x.map(|v| xs.label(v)).unwrap_or_default(),
                    yd.title(),
                    y.map(|v| ys.label(v)).unwrap_or_default()
                ));
                ui.weak("Click to select this run");
            });
            if clicked {
                ctx.send(Command::SelectRun {
                    run_id: run.info.run_id.clone(),
                    mode: if modifiers.command {
                        SelectMode::Toggle
                    } else {
                        SelectMode::Replace
                    },
                });
            }
        }
    }
}

/// A tick label: the number, or the category at a whole position (none between).
fn axis_label(col: &DimColumn, v: f64) -> String {
    match &col.categories {
        Some(_) if (v - v.round()).abs() > 1e-6 => String::new(),
        Some(c) if v < -0.01 || v.round() as usize >= c.len() => String::new(),
        _ => col.label(v),
    }
}
