//! Every colour and spacing of the viewer, and the colour of each run: from a palette of
//! distinct colours, given in table order and kept (persisted) once given, or chosen by the user.

use egui::Color32;

use crate::model::RunStatus;

use super::commands::Command;
use super::context::ViewCtx;
use super::settings::Persisted;

pub use crate::chart::palette::{PALETTE, assign_colors};

/// The colour of a run: the one it was given (palette or the user's choice), else a stable one
/// from its id until it is given one.
pub fn color_of(persisted: &Persisted, run_id: &str) -> Color32 {
    match persisted.run_colors.get(run_id) {
        Some([r, g, b]) => Color32::from_rgb(*r, *g, *b),
        None => run_color(run_id),
    }
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

/// The colour of a run before it is given one: the same run id always gets the same colour
/// ([`crate::chart::palette::run_rgb`]).
pub fn run_color(run_id: &str) -> Color32 {
    let [r, g, b] = crate::chart::palette::run_rgb(run_id);
    Color32::from_rgb(r, g, b)
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
