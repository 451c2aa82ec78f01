//! The experiments panel: every experiment with its run count, a search box, multi-select
//! (click, Ctrl+click, checkboxes) and a switch to show deleted ones.

use std::collections::BTreeSet;

use crate::model::LifecycleStage;

use super::app::App;
use super::cache::Entry;
use super::commands::Command;
use super::theme;

/// Draws the experiments panel.
pub fn experiments_ui(ui: &mut egui::Ui, app: &mut App) {
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        ui.heading("Experiments");
    });
    ui.add(
        egui::TextEdit::singleline(&mut app.experiment_search)
            .id(egui::Id::unique("experiment_search"))
            .hint_text("search…")
            .desired_width(f32::INFINITY),
    )
    .on_hover_text("Show experiments whose name contains this text");
    let mut deleted = app.show_deleted_experiments;
    if ui
        .checkbox(&mut deleted, "Show deleted")
        .on_hover_text("List deleted experiments too")
        .changed()
    {
        app.commands.push(Command::ShowDeletedExperiments(deleted));
    }
    ui.separator();
    let experiments = match &app.experiments {
        Entry::Loading => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Reading experiments…");
            });
            return;
        }
        Entry::Failed(e) => {
            ui.colored_label(theme::error_color(app.persisted.dark), e.as_str());
            return;
        }
        Entry::Ready(e) => e.clone(),
    };
    let query = app.experiment_search.to_lowercase();
    let modifiers = ui.input(|i| i.modifiers);
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            let mut shown = 0;
            for e in experiments.iter() {
                if !query.is_empty() && !e.name.to_lowercase().contains(&query) {
                    continue;
                }
                shown += 1;
                let id = &e.experiment_id;
                let selected = app.selected_experiments.contains(id);
                ui.horizontal(|ui| {
                    let mut checked = selected;
                    let cb = ui
                        .checkbox(&mut checked, "")
                        .on_hover_text(format!("Show the runs of {} with the others", e.name));
                    let name = format!("include {}", e.name);
                    cb.widget_info(|| {
                        egui::WidgetInfo::selected(egui::Role::CheckBox, true, checked, &name)
                    });
                    if cb.changed()
                    {
                        let mut ids = app.selected_experiments.clone();
                        if checked {
                            ids.insert(id.clone());
                        } else {
                            ids.remove(id);
                        }
                        app.commands.push(Command::SelectExperiments(ids));
                    }
                    let count = app
                        .run_counts
                        .get(id)
                        .map_or_else(|| "…".to_string(), |n| n.to_string());
                    let mut text = egui::RichText::new(&e.name);
                    if e.lifecycle_stage == LifecycleStage::Deleted {
                        text = text.strikethrough().weak();
                    }
                    let r = ui
                        .add(egui::Button::selectable(selected, text).truncate())
                        .on_hover_text(format!(
                            "id {id} · {count} runs\n{}\nClick: show only this one; Ctrl+click: add or remove",
                            e.artifact_location
                        ));
                    if r.clicked() {
                        let mut ids = if modifiers.command {
                            app.selected_experiments.clone()
                        } else {
                            BTreeSet::new()
                        };
                        if modifiers.command && selected {
                            ids.remove(id);
                        } else {
                            ids.insert(id.clone());
                        }
                        app.commands.push(Command::SelectExperiments(ids));
                    }
                    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                        ui.weak(count);
                    });
                });
            }
            if shown == 0 {
                ui.weak(if experiments.is_empty() {
                    "This store has no experiments"
                } else {
                    "No experiment matches"
                });
            }
        });
}
