//! The experiments panel: every experiment with its run count, a search box, multi-select
//! (click, Ctrl+click, checkboxes) and a switch to show deleted ones.

use std::collections::BTreeSet;

use crate::model::{Experiment, LifecycleStage};

use super::cache::Entry;
use super::commands::Command;
use super::context::ViewCtx;
use super::theme;
use super::worker::router::{SecondState, Slot, qualify, slot_of};

/// The experiments panel, with its search box.
#[derive(Debug, Default)]
pub struct ExperimentsPanel {
    search: String,
}

impl ExperimentsPanel {
    /// Draws the experiments panel.
    pub fn show(&mut self, ui: &mut egui::Ui, ctx: &ViewCtx) {
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            ui.heading("Experiments");
        });
        ui.add(
            egui::TextEdit::singleline(&mut self.search)
                .id(egui::Id::unique("experiment_search"))
                .hint_text("search…")
                .desired_width(f32::INFINITY),
        )
        .on_hover_text("Show experiments whose name contains this text");
        let mut deleted = ctx.show_deleted_experiments();
        if ui
            .checkbox(&mut deleted, "Show deleted")
            .on_hover_text("List deleted experiments too")
            .changed()
        {
            ctx.send(Command::ShowDeletedExperiments(deleted));
        }
        ui.separator();
        let experiments = match ctx.experiments() {
            Entry::Loading => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Reading experiments…");
                });
                return;
            }
            Entry::Failed(e) => {
                ui.colored_label(theme::error_color(ctx.dark()), e.as_str());
                return;
            }
            Entry::Ready(e) => e.clone(),
        };
        let query = self.search.to_lowercase();
        let modifiers = ui.input(|i| i.modifiers);
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                let matching =
                    |e: &&Experiment| query.is_empty() || e.name.to_lowercase().contains(&query);
                let Some(second) = ctx.second_store() else {
                    let shown: Vec<&Experiment> = experiments.iter().filter(matching).collect();
                    for e in &shown {
                        experiment_row(ui, ctx, e, modifiers);
                    }
                    if shown.is_empty() {
                        ui.weak(if experiments.is_empty() {
                            "This store has no experiments"
                        } else {
                            "No experiment matches"
                        });
                    }
                    return;
                };
                // Two stores: one header each, with that store's experiments under it.
                for slot in [Slot::Primary, Slot::Second] {
                    let of_store: Vec<&Experiment> = experiments
                        .iter()
                        .filter(|e| slot_of(&e.experiment_id) == slot)
                        .collect();
                    let probe = match slot {
                        Slot::Primary => String::new(),
                        Slot::Second => qualify(""),
                    };
                    ui.add_space(2.0);
                    ui.horizontal(|ui| {
                        ui.label(egui::RichText::new(ctx.store_label(&probe)).strong())
                            .on_hover_text(match slot {
                                Slot::Primary => ctx.store_key().unwrap_or("").to_string(),
                                Slot::Second => second.request.clone(),
                            });
                        if slot == Slot::Second
                            && ui
                                .small_button("✕")
                                .on_hover_text("Close the second store")
                                .clicked()
                        {
                            ctx.send(Command::CloseSecondStore);
                        }
                    });
                    if slot == Slot::Second {
                        match &second.state {
                            SecondState::Opening => {
                                ui.horizontal(|ui| {
                                    ui.spinner();
                                    ui.label("Opening…");
                                });
                                continue;
                            }
                            SecondState::Failed(why) => {
                                ui.colored_label(theme::error_color(ctx.dark()), why.as_str());
                                if ui.button("Try again").clicked() {
                                    ctx.send(Command::OpenSecondStore(second.request.clone()));
                                }
                                continue;
                            }
                            SecondState::Ready { .. } => {}
                        }
                        if let Some(why) = &second.error {
                            ui.colored_label(theme::error_color(ctx.dark()), why.as_str());
                        }
                    }
                    let shown: Vec<&Experiment> =
                        of_store.iter().copied().filter(matching).collect();
                    for e in &shown {
                        experiment_row(ui, ctx, e, modifiers);
                    }
                    if shown.is_empty() {
                        ui.weak(if of_store.is_empty() {
                            "This store has no experiments"
                        } else {
                            "No experiment matches"
                        });
                    }
                    ui.separator();
                }
            });
    }
}

/// One experiment of the list: its checkbox, name and run count.
fn experiment_row(ui: &mut egui::Ui, ctx: &ViewCtx, e: &Experiment, modifiers: egui::Modifiers) {
    let id = &e.experiment_id;
    let selected = ctx.selected_experiments().contains(id);
    ui.horizontal(|ui| {
        let mut checked = selected;
        let cb = ui
            .checkbox(&mut checked, "")
            .on_hover_text(format!("Show the runs of {} with the others", e.name));
        let name = format!("include {}", e.name);
        cb.widget_info(|| egui::WidgetInfo::selected(egui::Role::CheckBox, true, checked, &name));
        if cb.changed() {
            let mut ids = ctx.selected_experiments().clone();
            if checked {
                ids.insert(id.clone());
            } else {
                ids.remove(id);
            }
            ctx.send(Command::SelectExperiments(ids));
        }
        // The row shows the bare number (the panel is narrow); the tooltip says it in words.
        let counted = ctx.run_counts().get(id).copied();
        let number = counted.map_or_else(|| "…".to_string(), |n| n.to_string());
        let count =
            counted.map_or_else(|| "… runs".to_string(), |n| crate::format::count(n, "run"));
        let mut text = egui::RichText::new(&e.name);
        if e.lifecycle_stage == LifecycleStage::Deleted {
            text = text.strikethrough().weak();
        }
        // The count is laid out first, at the right, so that a long name is cut before it
        // instead of running under it.
        let r = ui
            .with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.weak(&number).on_hover_text(&count);
                ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                    ui.add(egui::Button::selectable(selected, text).truncate())
                })
                .inner
            })
            .inner
            .on_hover_text(format!(
                "id {id} · {count}\n{}\nClick: show only this one; Ctrl+click: add or remove",
                e.artifact_location
            ));
        if r.clicked() {
            let mut ids = if modifiers.command {
                ctx.selected_experiments().clone()
            } else {
                BTreeSet::new()
            };
            if modifiers.command && selected {
                ids.remove(id);
            } else {
                ids.insert(id.clone());
            }
            ctx.send(Command::SelectExperiments(ids));
        }
    });
}

/// The description of the shown experiment (MLflow's `mlflow.note.content` experiment tag),
/// above its runs: what the experiment is about, in its author's words. Nothing when several
/// experiments are shown or it has none.
pub fn description_ui(ui: &mut egui::Ui, ctx: &ViewCtx) {
    let selected = ctx.selected_experiments();
    if selected.len() != 1 {
        return;
    }
    let Some(id) = selected.first() else {
        return;
    };
    let Some(experiment) = ctx
        .experiments()
        .ready()
        .and_then(|list| list.iter().find(|e| e.experiment_id == *id))
    else {
        return;
    };
    let Some(note) = experiment
        .tags
        .get(crate::model::tags::NOTE_CONTENT)
        .filter(|n| !n.trim().is_empty())
    else {
        return;
    };
    egui::CollapsingHeader::new(egui::RichText::new(format!("About {}", experiment.name)).strong())
        .id_salt(("experiment_description", id.as_str()))
        .default_open(true)
        .show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("experiment_description_scroll")
                .max_height(90.0)
                .auto_shrink([false, true])
                .show(ui, |ui| super::run_details::markdown_ui(ui, note));
        });
}
