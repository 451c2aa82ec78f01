//! Every colour and spacing of the viewer, and the colour of each run: from a palette of
//! distinct colours, given to the top rows and the selected runs in table order and kept (persisted)
//! once given, or chosen by the user.

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

/// Rows at the top of the table given palette colours (besides the selected runs).
///
/// Colours matter where runs are drawn side by side; giving one to every row of a
/// 100,000-run store kept 100,000 entries in the settings file for ever (rewritten at every
/// save, on the UI thread) and looked each row up every frame.
pub const COLOURED_TOP_ROWS: usize = 200;

/// Selected runs given palette colours, at most; more selected runs than this share the
/// palette's 20 colours many times over, and keep the colour their id gives them.
pub const COLOURED_SELECTED_RUNS: usize = 2_000;

/// Gives palette colours to the runs that have none among the top rows of the table (in table
/// order) and the selected runs (the ones charted), sent as a command and kept between
/// sessions. Bounded work a frame: at most [`COLOURED_TOP_ROWS`] + [`COLOURED_SELECTED_RUNS`]
/// look-ups, whatever the size of the store.
pub fn assign_shown_colors(ctx: &ViewCtx) {
    let Some(set) = ctx.run_set() else {
        return;
    };
    let given = &ctx.persisted().run_colors;
    let top = ctx
        .rows()
        .iter()
        .take(COLOURED_TOP_ROWS)
        .map(|r| set.runs[r.run].info.run_id.as_str());
    // Selected runs of the run set, in the store's order (newest first), after the top rows.
    let mut selected: Vec<(usize, &str)> = ctx
        .selection()
        .iter()
        .filter_map(|id| set.index.get(id).map(|&i| (i, id.as_str())))
        .take(COLOURED_SELECTED_RUNS)
        .collect();
    selected.sort_unstable();
    let order: Vec<&str> = top.chain(selected.into_iter().map(|(_, id)| id)).collect();
    if order.iter().all(|id| given.contains_key(*id)) {
        return;
    }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{LifecycleStage, Run, RunData, RunInfo, RunInputs};
    use crate::viewer::cache::Entry;
    use crate::viewer::context::ViewData;
    use crate::viewer::runs_model::{Row, RunSet};

    /// A loaded run set of `n` runs shown in store order, with `selected` selected.
    fn data_with(n: usize, selected: &[usize]) -> ViewData {
        let runs: Vec<Arc<Run>> = (0..n)
            .map(|i| {
                Arc::new(Run {
                    info: RunInfo {
                        run_id: format!("run{i:05}"),
                        run_name: format!("run {i}"),
                        experiment_id: "1".into(),
                        user_id: "tester".into(),
                        status: RunStatus::Finished,
                        start_time: Some(1_700_000_000_000 - i as i64),
                        end_time: None,
                        artifact_uri: String::new(),
                        lifecycle_stage: LifecycleStage::Active,
                    },
                    data: RunData::default(),
                    inputs: RunInputs::default(),
                })
            })
            .collect();
        let mut data = ViewData::new(Persisted::default(), false);
        data.rows.rows = (0..n)
            .map(|run| Row {
                run,
                depth: 0,
                has_children: false,
                context_only: false,
            })
            .collect();
        data.selection = selected.iter().map(|i| format!("run{i:05}")).collect();
        data.runs.entry = Entry::Ready(Arc::new(RunSet::new(runs, 1)));
        data
    }

    fn assigned(data: &ViewData) -> Vec<(String, [u8; 3])> {
        let ctx = data.ctx();
        assign_shown_colors(&ctx);
        ctx.into_commands()
            .into_iter()
            .flat_map(|c| match c {
                Command::AssignRunColors(colors) => colors,
                _ => Vec::new(),
            })
            .collect()
    }

    #[test]
    fn the_top_rows_and_the_selected_runs_get_colours_not_every_row() {
        let data = data_with(10_000, &[5, 7_000, 9_999]);
        let colors = assigned(&data);
        let ids: std::collections::BTreeSet<&str> =
            colors.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(colors.len(), COLOURED_TOP_ROWS + 2);
        for i in 0..COLOURED_TOP_ROWS {
            assert!(ids.contains(format!("run{i:05}").as_str()), "row {i}");
        }
        assert!(ids.contains("run07000") && ids.contains("run09999"));
        assert!(!ids.contains("run00200") && !ids.contains("run05000"));
        // The first rows get the palette's colours in table order, all distinct.
        assert_eq!(colors[0].1, PALETTE[0]);
        let first: std::collections::BTreeSet<[u8; 3]> =
            colors.iter().take(PALETTE.len()).map(|(_, c)| *c).collect();
        assert_eq!(first.len(), PALETTE.len());
    }

    #[test]
    fn runs_already_coloured_are_not_given_again() {
        let mut data = data_with(300, &[250]);
        let colors = assigned(&data);
        data.persisted.run_colors.extend(colors);
        assert!(assigned(&data).is_empty());
    }

    #[test]
    fn a_huge_selection_gives_at_most_its_cap() {
        let all: Vec<usize> = (0..10_000).collect();
        let data = data_with(10_000, &all);
        assert_eq!(
            assigned(&data).len(),
            COLOURED_TOP_ROWS.max(COLOURED_SELECTED_RUNS)
        );
    }
}
