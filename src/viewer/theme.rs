//! Every colour and spacing of the viewer, and the stable colour of each run.

use egui::Color32;

use crate::model::RunStatus;

/// FNV-1a: a hash that is the same in every build and on every machine.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The colour of a run: the same run id always gets the same colour. The hue comes from a hash
/// of the id (continuous, so that two runs rarely share a colour); saturation and lightness are
/// fixed to read on dark and light backgrounds.
pub fn run_color(run_id: &str) -> Color32 {
    let h = fnv1a(run_id.as_bytes());
    let hue = (h % 3600) as f32 / 3600.0;
    // Slight lightness variation separates neighbouring hues a little more.
    let lightness = 0.52 + ((h >> 20) % 3) as f32 * 0.06;
    hsl(hue, 0.68, lightness)
}

/// A colour from hue, saturation and lightness in `0..=1`.
fn hsl(h: f32, s: f32, l: f32) -> Color32 {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let hp = h * 6.0;
    let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    let to = |v: f32| ((v + m).clamp(0.0, 1.0) * 255.0).round() as u8;
    Color32::from_rgb(to(r), to(g), to(b))
}

/// The colour of a run status.
pub fn status_color(status: RunStatus, dark: bool) -> Color32 {
    use RunStatus as Status;
    match (status, dark) {
        (Status::Finished, true) => Color32::from_rgb(0x6c, 0xc6, 0x6c),
        (Status::Finished, false) => Color32::from_rgb(0x1e, 0x84, 0x1e),
        (Status::Running, true) => Color32::from_rgb(0x6a, 0xb0, 0xf0),
        (Status::Running, false) => Color32::from_rgb(0x1a, 0x5f, 0xb4),
        (Status::Failed, true) => Color32::from_rgb(0xf0, 0x6a, 0x6a),
        (Status::Failed, false) => Color32::from_rgb(0xc0, 0x20, 0x20),
        (Status::Killed, _) => Color32::from_rgb(0xd0, 0x8a, 0x30),
        (Status::Scheduled, _) => Color32::GRAY,
    }
}

/// The icon of a run status.
pub fn status_icon(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Finished => "✔",
        RunStatus::Running => "⟳",
        RunStatus::Failed => "✖",
        RunStatus::Killed => "■",
        RunStatus::Scheduled => "…",
    }
}

/// Colour of error messages.
pub fn error_color(dark: bool) -> Color32 {
    if dark {
        Color32::from_rgb(0xff, 0x80, 0x80)
    } else {
        Color32::from_rgb(0xb0, 0x10, 0x10)
    }
}

/// Colour of warnings.
pub fn warning_color(dark: bool) -> Color32 {
    if dark {
        Color32::from_rgb(0xf0, 0xc0, 0x50)
    } else {
        Color32::from_rgb(0x9a, 0x60, 0x00)
    }
}

/// Draws a run's colour swatch (a small filled circle) in the flow of `ui`.
pub fn swatch(ui: &mut egui::Ui, color: Color32) -> egui::Response {
    let (rect, response) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
    ui.painter().circle_filled(rect.center(), 4.5, color);
    response
}

/// Alpha used for the raw line behind a smoothed one.
pub const RAW_LINE_ALPHA: f32 = 0.25;
/// Height of a runs-table row.
pub const ROW_HEIGHT: f32 = 20.0;
/// Height of a chart card's plot.
pub const CHART_HEIGHT: f32 = 190.0;
/// Width of the experiments panel at first start.
pub const EXPERIMENTS_PANEL_WIDTH: f32 = 220.0;

/// Applies the dark or light theme.
pub fn apply(ctx: &egui::Context, dark: bool) {
    ctx.set_theme(if dark {
        egui::Theme::Dark
    } else {
        egui::Theme::Light
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_colours_are_stable_and_spread() {
        assert_eq!(run_color("abc"), run_color("abc"));
        let ids: Vec<String> = (0..40).map(|i| format!("{i:032x}")).collect();
        let distinct: std::collections::HashSet<_> = ids.iter().map(|i| run_color(i)).collect();
        assert!(distinct.len() > 35);
        assert_eq!(hsl(0.0, 1.0, 0.5), Color32::from_rgb(255, 0, 0));
        assert_eq!(hsl(1.0 / 3.0, 1.0, 0.5), Color32::from_rgb(0, 255, 0));
    }
}
