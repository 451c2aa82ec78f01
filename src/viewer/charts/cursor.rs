//! The step cursor across charts: the x under the pointer on one card is drawn as a vertical line
//! on every other card, with that card's values at that x in its corner (TensorBoard's link by
//! step, on every chart).

use egui_plot::{PlotPoint, PlotTransform};

use crate::format::number_sig;

use super::{Charts, RunLines};

/// Most values listed in a card's cursor read-out.
const READOUT_MAX: usize = 8;

impl Charts {
    /// The cursor's x for a card: the x under the pointer in the last frame, unless the pointer
    /// is on this card (its tooltip says more).
    pub(super) fn cursor_for(&self, key: &str) -> Option<f64> {
        self.cursor
            .as_ref()
            .filter(|(k, _)| k != key)
            .map(|(_, x)| *x)
    }

    /// The step cursor (from the last frame): the card under the pointer and its x (tests).
    pub fn step_cursor(&self) -> Option<(&str, f64)> {
        self.cursor.as_ref().map(|(k, x)| (k.as_str(), *x))
    }

    /// Each card's values at the step cursor in the last frame, by card: (run or group, value)
    /// (tests).
    pub fn cursor_values(&self) -> &std::collections::HashMap<String, Vec<(String, f64)>> {
        &self.cursor_values
    }

    /// Draws the step cursor on a card of run lines, with each run's value at the nearest logged
    /// x.
    pub(super) fn cursor_readout_lines(
        &mut self,
        ui: &egui::Ui,
        transform: &PlotTransform,
        lines: &[RunLines],
        key: &str,
        log_y: bool,
    ) {
        let Some(x) = self.cursor_for(key) else {
            return;
        };
        let mut values: Vec<(egui::Color32, String, f64)> = Vec::new();
        for l in lines.iter().filter(|l| !l.hidden) {
            let best = l
                .prepared
                .segments
                .iter()
                .filter_map(|s| {
                    if s.xs.is_empty() {
                        return None;
                    }
                    let i = s.xs.partition_point(|&v| v < x);
                    [i.saturating_sub(1), i.min(s.xs.len() - 1)]
                        .into_iter()
                        .map(|j| (s.xs[j], s.ys[j]))
                        .min_by(|a, b| (a.0 - x).abs().total_cmp(&(b.0 - x).abs()))
                })
                .min_by(|a, b| (a.0 - x).abs().total_cmp(&(b.0 - x).abs()));
            if let Some((_, y)) = best {
                let y = if log_y { 10f64.powf(y) } else { y };
                values.push((l.color, l.name.clone(), y));
            }
        }
        values.sort_by(|a, b| b.2.total_cmp(&a.2));
        self.cursor_values.insert(
            key.to_string(),
            values.iter().map(|(_, n, v)| (n.clone(), *v)).collect(),
        );
        draw_cursor(ui, transform, x, &values);
    }
}

/// A vertical line at `x` and the values at it in the card's top-left corner.
pub(super) fn draw_cursor(
    ui: &egui::Ui,
    transform: &PlotTransform,
    x: f64,
    values: &[(egui::Color32, String, f64)],
) {
    let frame = *transform.frame();
    let (x0, x1) = (transform.bounds().min()[0], transform.bounds().max()[0]);
    if !(x0..=x1).contains(&x) {
        return;
    }
    let sx = transform
        .position_from_point(&PlotPoint::new(x, transform.bounds().min()[1]))
        .x;
    let painter = ui.painter_at(frame);
    let stroke_color = ui.visuals().strong_text_color().gamma_multiply(0.6);
    painter.vline(sx, frame.y_range(), egui::Stroke::new(1.0, stroke_color));
    if values.is_empty() {
        return;
    }
    let font = egui::FontId::monospace(11.0);
    let mut y = frame.top() + 4.0;
    let left = frame.left() + 6.0;
    let bg = ui.visuals().extreme_bg_color.gamma_multiply(0.85);
    // At most half the plot's height of values, so the lines stay visible.
    let max = ((frame.height() * 0.5 / 14.0) as usize).clamp(2, READOUT_MAX);
    let lines: Vec<(egui::Color32, String)> = values
        .iter()
        .take(max)
        .map(|(c, n, v)| {
            let name: String = if n.chars().count() > 18 {
                n.chars().take(17).chain(std::iter::once('…')).collect()
            } else {
                n.clone()
            };
            (*c, format!("{name} {}", number_sig(*v)))
        })
        .collect();
    let width = lines
        .iter()
        .map(|(_, t)| t.chars().count())
        .max()
        .unwrap_or(0) as f32
        * 6.7
        + 18.0;
    let height = lines.len() as f32 * 14.0 + 4.0 + if values.len() > max { 14.0 } else { 0.0 };
    painter.rect_filled(
        egui::Rect::from_min_size(egui::pos2(left - 3.0, y - 2.0), egui::vec2(width, height)),
        3.0,
        bg,
    );
    for (c, text) in lines {
        painter.rect_filled(
            egui::Rect::from_min_size(egui::pos2(left, y + 3.0), egui::vec2(8.0, 8.0)),
            1.0,
            c,
        );
        painter.text(
            egui::pos2(left + 12.0, y),
            egui::Align2::LEFT_TOP,
            text,
            font.clone(),
            ui.visuals().text_color(),
        );
        y += 14.0;
    }
    if values.len() > max {
        painter.text(
            egui::pos2(left + 12.0, y),
            egui::Align2::LEFT_TOP,
            format!("+{} more", values.len() - max),
            font,
            ui.visuals().weak_text_color(),
        );
    }
}
