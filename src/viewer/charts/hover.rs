//! The read-out under the pointer of a chart: each run's nearest logged point, and the x axis's
//! labels.

use crate::format::number_sig;

use super::super::theme;
use super::{RunLines, Segment, XAxis};

/// The nearest point of a segment to `x`: (x, y, smoothed y).
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

pub(super) fn hover_ui(
    ui: &mut egui::Ui,
    lines: &[RunLines],
    x: f64,
    axis: XAxis,
    log_y: bool,
    smoothing: bool,
) {
    let mut values: Vec<(f64, f64, Option<f64>, &RunLines)> = Vec::new();
    for l in lines.iter().filter(|l| !l.hidden) {
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
                let mut text = number_sig(un(*y));
                if let (true, Some(s)) = (smoothing, sm) {
                    text = format!("{} (raw {text})", number_sig(un(*s)));
                }
                if (*px - x).abs() > 0.0 {
                    text = format!("{text}  @ {}", format_x(*px, axis));
                }
                ui.monospace(text);
                ui.end_row();
            }
        });
    if values.len() > 30 {
        ui.weak(format!(
            "and {} more",
            crate::format::count(values.len() - 30, "run")
        ));
    }
}

pub(super) fn format_x(v: f64, axis: XAxis) -> String {
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
