//! The Run tab: everything about the focused run, and editing it (rename, description, tags,
//! delete/restore) through the store.

use std::sync::Arc;

use crate::model::{LifecycleStage, Run, RunTag, tags};

use crate::format::{duration_spaced, number_sig, time_local};

use super::cache::Entry;
use super::commands::{Command, SelectMode};
use super::context::ViewCtx;
use super::runs_model::duration_ms;
use super::theme;
use super::worker::WriteOp;

/// The Run tab, with its edit buffers.
#[derive(Debug, Default, Clone)]
pub struct RunDetails {
    /// The run the buffers belong to.
    pub run_id: Option<String>,
    /// Rename buffer (Some while renaming).
    pub rename: Option<String>,
    /// Description buffer (Some while editing).
    pub description: Option<String>,
    /// New tag key.
    pub new_tag_key: String,
    /// New tag value.
    pub new_tag_value: String,
    /// Tag being edited: key and value buffer.
    pub editing_tag: Option<(String, String)>,
    /// Filter of the params/metrics/tags tables.
    pub filter: String,
    /// A text field just opened (rename, description, tag value): it takes the keyboard focus
    /// on its first frame, so typing goes to it and not to the global shortcuts.
    pub focus_editor: bool,
}

impl RunDetails {
    /// Draws the Run tab.
    pub fn show(&mut self, ui: &mut egui::Ui, ctx: &ViewCtx) {
        let Some(run) = ctx.focused_run() else {
            ui.add_space(12.0);
            ui.weak("Select a run in the table to see its details");
            return;
        };
        if self.run_id.as_deref() != Some(run.info.run_id.as_str()) {
            *self = RunDetails {
                run_id: Some(run.info.run_id.clone()),
                filter: std::mem::take(&mut self.filter),
                ..RunDetails::default()
            };
        }
        let ro = ctx.read_only();
        egui::ScrollArea::vertical()
            .id_salt("run_details")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                self.header_ui(ui, ctx, &run, ro);
                ui.separator();
                self.description_ui(ui, ctx, &run, ro);
                ui.separator();
                ui.horizontal(|ui| {
                    ui.label("Filter");
                    ui.add(
                        egui::TextEdit::singleline(&mut self.filter)
                            .hint_text("key or value…")
                            .desired_width(200.0),
                    )
                    .on_hover_text(
                        "Show params, metrics and tags whose key or value contains this",
                    );
                });
                ui.columns(3, |cols| {
                    self.params_ui(&mut cols[0], ctx, &run);
                    self.metrics_ui(&mut cols[1], ctx, &run);
                    self.tags_ui(&mut cols[2], ctx, &run, ro);
                });
                if !run.inputs.dataset_inputs.is_empty() {
                    ui.separator();
                    ui.strong("Datasets");
                    for d in &run.inputs.dataset_inputs {
                        ui.horizontal(|ui| {
                            ui.label(&d.dataset.name);
                            ui.weak(format!("digest {}", d.dataset.digest));
                            ui.weak(&d.dataset.source_type);
                            if let Some(c) = d.context() {
                                ui.weak(format!("context {c}"));
                            }
                        });
                    }
                }
            });
    }

    fn header_ui(&mut self, ui: &mut egui::Ui, ctx: &ViewCtx, run: &Arc<Run>, ro: bool) {
        let dark = ctx.dark();
        let id = run.info.run_id.clone();
        ui.horizontal(|ui| {
            theme::swatch(ui, theme::color_of(ctx.persisted(), &id));
            match &mut self.rename {
                Some(buf) => {
                    let r = ui.add(
                        egui::TextEdit::singleline(buf)
                            .id(egui::Id::unique("rename_run"))
                            .desired_width(260.0),
                    );
                    if std::mem::take(&mut self.focus_editor) {
                        r.request_focus();
                    }
                    r.clone().on_hover_text("New run name");
                    let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    let escape = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Escape));
                    if escape {
                        self.rename = None;
                    } else if ui.button("Save").clicked() || enter {
                        let name = buf.trim().to_string();
                        if !name.is_empty() && name != run.info.run_name {
                            ctx.send(Command::Write(WriteOp::Rename {
                                run_id: id.clone(),
                                name,
                            }));
                        }
                        self.rename = None;
                    } else if ui.button("Cancel").clicked() {
                        self.rename = None;
                    }
                }
                None => {
                    ui.heading(&run.info.run_name);
                    if ui
                        .add_enabled(!ro, egui::Button::new("✏").small())
                        .on_hover_text("Rename the run")
                        .clicked()
                    {
                        self.rename = Some(run.info.run_name.clone());
                        self.focus_editor = true;
                    }
                }
            }
            let s = run.info.status;
            ui.colored_label(
                theme::status_color(s, dark),
                format!("{} {}", theme::status_icon(s), s.as_str()),
            );
            if run.info.lifecycle_stage == LifecycleStage::Deleted {
                ui.colored_label(theme::warning_color(dark), "deleted");
                if ui
                    .add_enabled(!ro, egui::Button::new("Restore"))
                    .on_hover_text("Restore this run (undo the delete)")
                    .clicked()
                {
                    ctx.send(Command::Write(WriteOp::RestoreRuns {
                        run_ids: vec![id.clone()],
                    }));
                }
            } else if ui
                .add_enabled(!ro, egui::Button::new("Delete…"))
                .on_hover_text("Delete the selected runs (restorable)")
                .clicked()
            {
                if !ctx.selection().contains(&id) {
                    ctx.send(Command::SelectRun {
                        run_id: id.clone(),
                        mode: SelectMode::Replace,
                    });
                }
                ctx.send(Command::AskDeleteSelected);
            }
        });
        egui::Grid::new("run_header")
            .num_columns(4)
            .spacing([16.0, 4.0])
            .show(ui, |ui| {
                ui.weak("run id");
                ui.horizontal(|ui| {
                    // The id as its store knows it (a second store's runs are told apart by a
                    // suffix inside the viewer only).
                    let (slot, store_id) = super::worker::router::split_id(&id);
                    ui.monospace(store_id);
                    if ui
                        .small_button("📋")
                        .on_hover_text("Copy the run id")
                        .clicked()
                    {
                        ctx.send(Command::Copy(store_id.to_string()));
                    }
                    if slot == super::worker::router::Slot::Second {
                        ui.weak(format!("in {}", ctx.store_label(&id)));
                    }
                });
                ui.weak("user");
                ui.label(&run.info.user_id);
                ui.end_row();
                ui.weak("start");
                ui.label(run.info.start_time.map(time_local).unwrap_or_default());
                ui.weak("end");
                ui.label(
                    run.info
                        .end_time
                        .map(time_local)
                        .unwrap_or_else(|| "—".into()),
                );
                ui.end_row();
                ui.weak("duration");
                ui.label(duration_ms(run).map(duration_spaced).unwrap_or_default());
                ui.end_row();
                ui.weak("source");
                ui.label(
                    run.data
                        .tags
                        .get(tags::SOURCE_NAME)
                        .cloned()
                        .unwrap_or_default(),
                );
                ui.weak("git commit");
                ui.monospace(
                    run.data
                        .tags
                        .get(tags::GIT_COMMIT)
                        .cloned()
                        .unwrap_or_default(),
                );
                ui.end_row();
                if let Some(parent) = run.data.tags.get(tags::PARENT_RUN_ID) {
                    ui.weak("parent");
                    let name = ctx
                        .run_set()
                        .and_then(|s| s.get(parent))
                        .map(|p| p.info.run_name.clone());
                    match name {
                        Some(n) => {
                            if ui.link(&n).on_hover_text("Go to the parent run").clicked() {
                                ctx.send(Command::SelectRun {
                                    run_id: parent.clone(),
                                    mode: SelectMode::Replace,
                                });
                            }
                        }
                        None => {
                            ui.monospace(parent);
                        }
                    }
                    ui.end_row();
                }
            });
        // Long texts get their own lines, wrapped in the pane's width.
        let experiment = format!(
            "{} ({})",
            ctx.experiment_name(&run.info.experiment_id),
            run.info.experiment_id
        );
        for (what, text) in [
            ("experiment", experiment.as_str()),
            ("artifacts", run.info.artifact_uri.as_str()),
        ] {
            ui.horizontal_wrapped(|ui| {
                ui.weak(what);
                ui.add(egui::Label::new(text).wrap()).on_hover_text(text);
            });
        }
    }

    fn description_ui(&mut self, ui: &mut egui::Ui, ctx: &ViewCtx, run: &Arc<Run>, ro: bool) {
        let current = run
            .data
            .tags
            .get(tags::NOTE_CONTENT)
            .cloned()
            .unwrap_or_default();
        ui.horizontal(|ui| {
            ui.strong("Description");
            if self.description.is_none()
                && ui
                    .add_enabled(!ro, egui::Button::new("Edit").small())
                    .on_hover_text("Edit the description (mlflow.note.content)")
                    .clicked()
            {
                self.description = Some(current.clone());
                self.focus_editor = true;
            }
        });
        match &mut self.description {
            Some(buf) => {
                let r = ui
                    .add(
                        egui::TextEdit::multiline(buf)
                            .id(egui::Id::unique("description_edit"))
                            .desired_rows(4)
                            .desired_width(f32::INFINITY)
                            .hint_text("Markdown"),
                    )
                    .on_hover_text("Run description (Markdown)");
                if std::mem::take(&mut self.focus_editor) {
                    r.request_focus();
                }
                let (save, cancel) = ui
                    .horizontal(|ui| {
                        (
                            ui.button("Save description").clicked(),
                            ui.button("Cancel").clicked(),
                        )
                    })
                    .inner;
                if save {
                    let text = buf.clone();
                    ctx.send(Command::Write(WriteOp::SetTag {
                        run_id: run.info.run_id.clone(),
                        tag: RunTag::new(tags::NOTE_CONTENT, text),
                    }));
                }
                if save || cancel {
                    self.description = None;
                }
            }
            None if current.is_empty() => {
                ui.weak("No description");
            }
            None => markdown_ui(ui, &current),
        }
    }
}

/// A small Markdown subset: headings, bullet lists, code blocks, paragraphs.
pub(crate) fn markdown_ui(ui: &mut egui::Ui, text: &str) {
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            ui.monospace(line);
        } else if let Some(h) = line.strip_prefix("# ") {
            ui.heading(h);
        } else if let Some(h) = line
            .strip_prefix("## ")
            .or_else(|| line.strip_prefix("### "))
        {
            ui.strong(h);
        } else if let Some(b) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) {
            ui.label(format!("  • {b}"));
        } else if line.trim().is_empty() {
            ui.add_space(4.0);
        } else {
            ui.add(egui::Label::new(line.replace("**", "").replace('`', "")).wrap());
        }
    }
}

/// Width of a tag row's edit and delete buttons.
const TAG_BUTTONS_WIDTH: f32 = 72.0;

/// The smallest share of a key/value table that its keys, or its values, take when dragged.
pub(crate) const MIN_RUN_KEY_SHARE: f32 = 0.1;

/// Widths of the key and value columns of a key/value grid in `ui`'s width (less `extra` for
/// buttons), and that width: keys get `key_share` of it (the user drags the split), values the
/// rest, so that both use the pane and wrap in it instead of being cut to a few characters.
fn key_value_widths(ui: &egui::Ui, extra: f32, key_share: f32) -> (f32, f32, f32) {
    let spacing = ui.spacing().item_spacing.x * 2.0;
    let width = (ui.available_width() - extra - spacing).max(80.0);
    let key = (width * key_share).clamp(40.0, (width - 40.0).max(40.0));
    (key, (width - key).max(40.0), width)
}

/// A handle on the line between the keys and the values of `grid` (drawn with keys `key_w` of
/// `width` wide): dragging it sets the share of the keys for every key/value table of the tab.
fn key_split_handle(
    ui: &mut egui::Ui,
    ctx: &ViewCtx,
    grid: egui::Rect,
    key_w: f32,
    width: f32,
    name: &str,
) {
    let x = grid.left() + key_w + ui.spacing().item_spacing.x / 2.0;
    let rect = egui::Rect::from_x_y_ranges(x - 3.0..=x + 3.0, grid.y_range());
    let response = ui
        .interact(
            rect,
            egui::Id::unique(("run_key_split", name)),
            egui::Sense::drag(),
        )
        .on_hover_cursor(egui::CursorIcon::ResizeColumn);
    response.widget_info(|| {
        egui::WidgetInfo::labeled(
            egui::Role::Splitter,
            true,
            format!("{name}: drag to resize keys and values"),
        )
    });
    if response.hovered() || response.dragged() {
        ui.painter()
            .vline(x, grid.y_range(), ui.visuals().widgets.active.fg_stroke);
    }
    if response.dragged() && response.drag_delta().x != 0.0 {
        ctx.send(Command::SetRunKeyShare(
            (key_w + response.drag_delta().x) / width,
        ));
    }
}

/// A grid cell `width` wide showing all of `text`, wrapped; the full text also shows on hover.
fn wrapped_cell(ui: &mut egui::Ui, width: f32, text: egui::RichText, full: &str) {
    ui.allocate_ui_with_layout(
        egui::vec2(width, 0.0),
        egui::Layout::top_down(egui::Align::Min),
        |ui| {
            ui.set_width(width);
            ui.add(egui::Label::new(text).wrap()).on_hover_text(full);
        },
    );
}

fn matches(filter: &str, key: &str, value: &str) -> bool {
    let f = filter.to_lowercase();
    f.is_empty() || key.to_lowercase().contains(&f) || value.to_lowercase().contains(&f)
}

impl RunDetails {
    fn params_ui(&self, ui: &mut egui::Ui, ctx: &ViewCtx, run: &Run) {
        ui.strong(format!("Params ({})", run.data.params.len()));
        let (key_w, value_w, width) = key_value_widths(ui, 0.0, ctx.persisted().run_key_share);
        let grid = egui::Grid::new("params")
            .striped(true)
            .num_columns(2)
            .show(ui, |ui| {
                for (k, v) in &run.data.params {
                    if !matches(&self.filter, k, v) {
                        continue;
                    }
                    wrapped_cell(ui, key_w, egui::RichText::new(k).monospace(), k);
                    wrapped_cell(ui, value_w, egui::RichText::new(v), v);
                    ui.end_row();
                }
            });
        key_split_handle(ui, ctx, grid.response.rect, key_w, width, "Params");
    }

    fn metrics_ui(&self, ui: &mut egui::Ui, ctx: &ViewCtx, run: &Run) {
        ui.strong(format!("Metrics ({})", run.data.metrics.len()));
        let keys: Vec<String> = run.data.metrics.keys().cloned().collect();
        let missing = keys.iter().any(|k| {
            !ctx.histories()
                .contains(&(run.info.run_id.clone(), k.clone()))
        });
        if missing {
            ctx.send(Command::LoadHistories {
                run_ids: vec![run.info.run_id.clone()],
                keys: keys.clone(),
            });
        }
        egui::Grid::new("metrics")
            .striped(true)
            .num_columns(5)
            .show(ui, |ui| {
                ui.weak("key");
                ui.weak("last");
                ui.weak("min");
                ui.weak("max");
                ui.weak("steps");
                ui.end_row();
                for (k, m) in &run.data.metrics {
                    if !matches(&self.filter, k, "") {
                        continue;
                    }
                    ui.monospace(k);
                    ui.label(number_sig(m.value))
                        .on_hover_text(format!("{} at step {}", m.value, m.step));
                    match ctx.histories().get(&(run.info.run_id.clone(), k.clone())) {
                        Some(Entry::Ready(s)) => {
                            let vals = s.values.iter().copied().filter(|v| !v.is_nan());
                            let min = vals.clone().reduce(f64::min);
                            let max = vals.reduce(f64::max);
                            ui.label(min.map(number_sig).unwrap_or_default());
                            ui.label(max.map(number_sig).unwrap_or_default());
                            ui.label(s.values.len().to_string());
                        }
                        Some(Entry::Failed(e)) => {
                            ui.label("?").on_hover_text(e.as_str());
                            ui.label("?");
                            ui.label("?");
                        }
                        _ => {
                            ui.label("…");
                            ui.label("…");
                            ui.label("…");
                        }
                    }
                    ui.end_row();
                }
            });
    }

    fn tags_ui(&mut self, ui: &mut egui::Ui, ctx: &ViewCtx, run: &Run, ro: bool) {
        let id = run.info.run_id.clone();
        let user_tags: Vec<(&String, &String)> = run
            .data
            .tags
            .iter()
            .filter(|(k, _)| k.as_str() != tags::NOTE_CONTENT)
            .collect();
        ui.strong(format!("Tags ({})", user_tags.len()));
        let (key_w, value_w, width) =
            key_value_widths(ui, TAG_BUTTONS_WIDTH, ctx.persisted().run_key_share);
        let grid = egui::Grid::new("tags")
            .striped(true)
            .num_columns(3)
            .show(ui, |ui| {
                for (k, v) in user_tags {
                    if !matches(&self.filter, k, v) {
                        continue;
                    }
                    wrapped_cell(ui, key_w, egui::RichText::new(k).monospace(), k);
                    let editing = self.editing_tag.as_ref().is_some_and(|(ek, _)| ek == k);
                    if editing {
                        let mut save = false;
                        let mut cancel = false;
                        if let Some((_, buf)) = &mut self.editing_tag {
                            let r = ui
                                .add(
                                    egui::TextEdit::multiline(buf)
                                        .desired_width(value_w)
                                        .desired_rows(1),
                                )
                                .on_hover_text(format!("New value of {k}"));
                            if std::mem::take(&mut self.focus_editor) {
                                r.request_focus();
                            }
                        }
                        ui.horizontal(|ui| {
                            save = ui.small_button("Save").clicked();
                            cancel = ui.small_button("Cancel").clicked();
                        });
                        if save && let Some((key, value)) = self.editing_tag.take() {
                            ctx.send(Command::Write(WriteOp::SetTag {
                                run_id: id.clone(),
                                tag: RunTag::new(key, value),
                            }));
                        }
                        if cancel {
                            self.editing_tag = None;
                        }
                    } else {
                        wrapped_cell(ui, value_w, egui::RichText::new(v), v);
                        ui.horizontal(|ui| {
                            if ui
                                .add_enabled(!ro, egui::Button::new("✏").small())
                                .on_hover_text(format!("Edit tag {k}"))
                                .clicked()
                            {
                                self.editing_tag = Some((k.clone(), v.clone()));
                                self.focus_editor = true;
                            }
                            if ui
                                .add_enabled(!ro, egui::Button::new("🗑").small())
                                .on_hover_text(format!("Delete tag {k}"))
                                .clicked()
                            {
                                ctx.send(Command::Write(WriteOp::DeleteTag {
                                    run_id: id.clone(),
                                    key: k.clone(),
                                }));
                            }
                        });
                    }
                    ui.end_row();
                }
            });
        key_split_handle(ui, ctx, grid.response.rect, key_w, width, "Tags");
        if !ro {
            ui.horizontal(|ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut self.new_tag_key)
                        .id(egui::Id::unique("new_tag_key"))
                        .hint_text("key")
                        .desired_width(90.0),
                )
                .on_hover_text("New tag key");
                ui.add(
                    egui::TextEdit::singleline(&mut self.new_tag_value)
                        .id(egui::Id::unique("new_tag_value"))
                        .hint_text("value")
                        .desired_width(90.0),
                )
                .on_hover_text("New tag value");
                let key = self.new_tag_key.trim().to_string();
                if ui
                    .add_enabled(!key.is_empty(), egui::Button::new("Add tag"))
                    .clicked()
                {
                    ctx.send(Command::Write(WriteOp::SetTag {
                        run_id: id.clone(),
                        tag: RunTag::new(key, self.new_tag_value.clone()),
                    }));
                    self.new_tag_key.clear();
                    self.new_tag_value.clear();
                }
            });
        }
    }
}
