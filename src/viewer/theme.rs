//! Every colour and spacing of the viewer, and the colour of each run: from a palette of
//! distinct colours, given in table order and kept (persisted) once given, or chosen by the user.

use std::collections::BTreeMap;

use egui::Color32;

use crate::model::RunStatus;

use super::commands::Command;
use super::context::ViewCtx;
use super::settings::Persisted;

/// Distinct colours for runs, most distinct first (Tableau 10, then a second set of ten that
/// differ from them in hue or lightness), legible on dark and light backgrounds.
pub const PALETTE: [[u8; 3]; 20] = [
    [0x4e, 0x79, 0xa7],
    [0xf2, 0x8e, 0x2b],
    [0xe1, 0x57, 0x59],
    [0x76, 0xb7, 0xb2],
    [0x59, 0xa1, 0x4f],
    [0xed, 0xc9, 0x48],
    [0xb0, 0x7a, 0xa1],
    [0xff, 0x9d, 0xa7],
    [0x9c, 0x75, 0x5f],
    [0xba, 0xb0, 0xac],
    [0x1f, 0xbe, 0xe8],
    [0xa0, 0xcb, 0x32],
    [0xd6, 0x37, 0xb4],
    [0x8c, 0x6b, 0xf0],
    [0xa8, 0x32, 0x5e],
    [0x17, 0x8f, 0x6a],
    [0xc0, 0x4a, 0x1c],
    [0x6b, 0xa8, 0xff],
    [0xe8, 0x8c, 0xd8],
    [0x8a, 0x8a, 0x2a],
];

/// The colour of a run: the one it was given (palette or the user's choice), else a stable one
/// from its id until it is given one.
pub fn color_of(persisted: &Persisted, run_id: &str) -> Color32 {
    match persisted.run_colors.get(run_id) {
        Some([r, g, b]) => Color32::from_rgb(*r, *g, *b),
        None => run_color(run_id),
    }
}

/// Palette colours for the runs of `order` (table order) that have none yet: each takes the
/// palette colour least used by the runs of `order` already coloured (the first such in palette
/// order), so the runs on screen get distinct colours while there are colours left.
pub fn assign_colors(order: &[&str], given: &BTreeMap<String, [u8; 3]>) -> Vec<(String, [u8; 3])> {
    let mut uses = [0usize; PALETTE.len()];
    for id in order {
        if let Some(c) = given.get(*id)
            && let Some(i) = PALETTE.iter().position(|p| p == c)
        {
            uses[i] += 1;
        }
    }
    let mut out = Vec::new();
    for id in order {
        if given.contains_key(*id)
            || out
                .iter()
                .any(|(o, _): &(String, [u8; 3])| o.as_str() == *id)
        {
            continue;
        }
        let (i, _) = uses
            .iter()
            .enumerate()
            .min_by_key(|&(i, n)| (*n, i))
            .unwrap_or((0, &0));
        uses[i] += 1;
        out.push(((*id).to_string(), PALETTE[i]));
    }
    out
}

/// Gives palette colours to the shown runs that have none, in table order (sent as a command;
/// kept between sessions).
pub fn assign_shown_colors(ctx: &ViewCtx) {
    let Some(set) = ctx.run_set() else {
        return;
    };
    let given = &ctx.persisted().run_colors;
    if ctx
        .rows()
        .iter()
        .all(|r| given.contains_key(&set.runs[r.run].info.run_id))
    {
        return;
    }
    let order: Vec<&str> = ctx
        .rows()
        .iter()
        .map(|r| set.runs[r.run].info.run_id.as_str())
        .collect();
    let new = assign_colors(&order, given);
    if !new.is_empty() {
        ctx.send(Command::AssignRunColors(new));
    }
}

/// A run's colour swatch that opens a colour picker when clicked (the choice is kept).
pub fn run_swatch(ui: &mut egui::Ui, ctx: &ViewCtx, run_id: &str) -> egui::Response {
    let color = color_of(ctx.persisted(), run_id);
    let (rect, response) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::click());
    let radius = if response.hovered() { 5.5 } else { 4.5 };
    ui.painter().circle_filled(rect.center(), radius, color);
    response.widget_info(|| {
        egui::WidgetInfo::labeled(egui::Role::Button, true, format!("Colour of run {run_id}"))
    });
    let response = response.on_hover_text("Run colour: click to choose another");
    egui::Popup::from_toggle_button_response(&response)
        .close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside)
        .show(|ui| {
            let mut c = color;
            ui.label("Run colour");
            if egui::color_picker::color_picker_color32(
                ui,
                &mut c,
                egui::color_picker::Alpha::Opaque,
            ) && c != color
            {
                ctx.send(Command::SetRunColor {
                    run_id: run_id.to_string(),
                    rgb: [c.r(), c.g(), c.b()],
                });
            }
            ui.horizontal_wrapped(|ui| {
                for p in PALETTE {
                    let pc = Color32::from_rgb(p[0], p[1], p[2]);
                    let (r, resp) =
                        ui.allocate_exact_size(egui::vec2(14.0, 14.0), egui::Sense::click());
                    ui.painter().rect_filled(r, 2.0, pc);
                    let hex = format!("#{:02x}{:02x}{:02x}", p[0], p[1], p[2]);
                    resp.widget_info(|| {
                        egui::WidgetInfo::labeled(egui::Role::Button, true, hex.clone())
                    });
                    let resp = resp.on_hover_text(hex);
                    if resp.clicked() {
                        ctx.send(Command::SetRunColor {
                            run_id: run_id.to_string(),
                            rgb: p,
                        });
                    }
                }
            });
        });
    response
}

/// FNV-1a: a hash that is the same in every build and on every machine.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The colour of a run before it is given one: the same run id always gets the same colour. The hue comes from a hash
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

    #[test]
    fn palette_colours_go_in_table_order_distinct_and_stay() {
        let ids: Vec<String> = (0..19).map(|i| format!("{i:032x}")).collect();
        let order: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut given = BTreeMap::new();
        let new = assign_colors(&order, &given);
        assert_eq!(new.len(), 19);
        assert_eq!(new[0].1, PALETTE[0]);
        let distinct: std::collections::HashSet<_> = new.iter().map(|(_, c)| *c).collect();
        assert_eq!(distinct.len(), 19);
        given.extend(new);
        // Once given, a colour stays, whatever the order; a new run takes an unused colour.
        let mut reordered = order.clone();
        reordered.reverse();
        reordered.push("new");
        let more = assign_colors(&reordered, &given);
        assert_eq!(more, vec![("new".to_string(), PALETTE[19])]);
        // Hashed colours collided (4 teals among the demo's 19 runs): the palette's do not
        // come close to each other.
        for (i, a) in PALETTE.iter().enumerate() {
            for b in &PALETTE[i + 1..] {
                let d: i32 = a
                    .iter()
                    .zip(b)
                    .map(|(x, y)| (*x as i32 - *y as i32).abs())
                    .sum();
                assert!(d > 60, "{a:?} {b:?}");
            }
        }
    }
}
