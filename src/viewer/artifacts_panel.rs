//! The Artifacts tab: a lazily listed tree of the focused run's artifacts with sizes, and a
//! preview beside it (images, text and logs, JSON, YAML, CSV/TSV and `log_table` tables). The
//! worker reads files; large ones only in part, and the preview says what was read and what was
//! cut, with buttons to read the next chunk or the whole file. Text and tables are virtualised
//! ([`TextView`], [`TableView`]). MLflow image series (`log_image(key=…, step=…)`) are their own
//! choice in the tree, shown with a step slider: clicking a file always previews that file.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::model::Run;

use super::artifact_preview::{
    self, ArtifactEntry, Extent, Preview, ReadLimit, SeriesImage, WHOLE_FILE_MAX_BYTES,
    WHOLE_FILE_WARN_BYTES, human_bytes,
};
use super::cache::Entry;
use super::commands::Command;
use super::context::ViewCtx;
use super::table_view::TableView;
use super::text_view::{TextView, TextViewState};
use super::theme;
use super::worker::ArtifactRoot;

/// The Artifacts tab, with its state: the run shown, expanded folders, the previewed file, the
/// image series position and the textures of previewed images.
#[derive(Default)]
pub struct ArtifactsPanel {
    /// The run the state belongs to.
    pub run_id: Option<String>,
    /// Expanded folders.
    pub expanded: BTreeSet<String>,
    /// The previewed file.
    pub selected: Option<String>,
    /// Whether the preview pane shows the image series instead of the selected file (chosen in
    /// the tree's "Image series" section; clicking a file ends it).
    pub showing_series: bool,
    /// Chosen image-series key.
    pub series_key: Option<String>,
    /// Step index in the chosen image series.
    pub series_index: usize,
    /// The run's experiment (to find its artifacts in a copied store).
    pub experiment_id: String,
    textures: HashMap<(String, String), egui::TextureHandle>,
    /// Wrapping and scrolling of the previewed text, and the file it belongs to.
    text_state: (Option<String>, TextViewState),
    /// More of a file asked of the worker: the file, and the bytes read when it was asked.
    reading_more: Option<(String, u64)>,
    /// A whole-file read waiting for the user's yes: the file and its size.
    confirm_whole: Option<(String, u64)>,
}

impl std::fmt::Debug for ArtifactsPanel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactsPanel")
            .field("run_id", &self.run_id)
            .field("selected", &self.selected)
            .finish()
    }
}

impl ArtifactsPanel {
    /// Draws the Artifacts tab.
    pub fn show(&mut self, ui: &mut egui::Ui, ctx: &ViewCtx) {
        let Some(run) = ctx.focused_run() else {
            ui.add_space(12.0);
            ui.weak("Select a run in the table to browse its artifacts");
            return;
        };
        if self.run_id.as_deref() != Some(run.info.run_id.as_str()) {
            self.run_id = Some(run.info.run_id.clone());
            self.expanded.clear();
            self.selected = None;
            self.showing_series = false;
            self.series_key = None;
            self.series_index = 0;
            self.textures.clear();
            self.text_state = Default::default();
            self.reading_more = None;
            self.confirm_whole = None;
            self.experiment_id = run.info.experiment_id.clone();
        }
        let root = run.info.artifact_uri.clone();
        let avail = ui.available_size();
        ui.horizontal_top(|ui| {
            let tree_size = egui::vec2((avail.x * 0.32).max(200.0), avail.y);
            ui.allocate_ui_with_layout(
                tree_size,
                egui::Layout::top_down(egui::Align::LEFT),
                |ui| {
                    egui::ScrollArea::vertical()
                        .id_salt("artifact_tree")
                        .auto_shrink([false, false])
                        .show(ui, |ui| {
                            self.tree_ui(ui, ctx, &root, "");
                            self.series_section_ui(ui, ctx, &run, &root);
                        });
                },
            );
            ui.separator();
            ui.vertical(|ui| {
                if self.showing_series {
                    self.series_preview_ui(ui, ctx, &run, &root);
                } else {
                    self.preview_ui(ui, ctx, &root);
                }
            });
        });
    }

    /// The run whose artifacts are shown, for the worker (which opens its repository).
    fn target(&self, artifact_uri: &str) -> ArtifactRoot {
        ArtifactRoot {
            run_id: self.run_id.clone().unwrap_or_default(),
            experiment_id: self.experiment_id.clone(),
            artifact_uri: artifact_uri.to_string(),
        }
    }

    fn tree_ui(&mut self, ui: &mut egui::Ui, ctx: &ViewCtx, root: &str, folder: &str) {
        let key = (root.to_string(), folder.to_string());
        match ctx.artifact_lists().get(&key).cloned() {
            None => {
                ctx.send(Command::ListArtifacts {
                    root: self.target(root),
                    path: folder.to_string(),
                });
                ui.spinner();
            }
            Some(Entry::Loading) => {
                ui.spinner();
            }
            Some(Entry::Failed(e)) => {
                ui.colored_label(theme::error_color(ctx.dark()), e);
            }
            Some(Entry::Ready(entries)) => {
                if entries.is_empty() && folder.is_empty() {
                    ui.weak("This run has no artifacts");
                }
                for e in entries.iter() {
                    self.entry_ui(ui, ctx, root, e);
                }
            }
        }
    }

    fn entry_ui(&mut self, ui: &mut egui::Ui, ctx: &ViewCtx, root: &str, e: &ArtifactEntry) {
        if e.is_dir {
            let open = self.expanded.contains(&e.path);
            let r = ui.selectable_label(
                false,
                format!("{} 📁 {}", if open { "⏷" } else { "⏵" }, e.name()),
            );
            if r.clicked() {
                if open {
                    self.expanded.remove(&e.path);
                } else {
                    self.expanded.insert(e.path.clone());
                }
            }
            if open {
                ui.indent(("artifact_dir", &e.path), |ui| {
                    self.tree_ui(ui, ctx, root, &e.path)
                });
            }
        } else {
            let selected =
                !self.showing_series && self.selected.as_deref() == Some(e.path.as_str());
            // One button for the whole row: the name and the size both open the preview.
            let size = e.size.map(human_bytes).unwrap_or_default();
            let row = egui::Button::selectable(selected, format!("📄 {}", e.name()))
                .right_text(egui::RichText::new(size).weak())
                .min_size(egui::vec2(ui.available_width(), 0.0));
            if ui.add(row).clicked() {
                self.selected = Some(e.path.clone());
                self.showing_series = false;
                ctx.send(Command::PreviewArtifact {
                    root: self.target(root),
                    path: e.path.clone(),
                });
            }
        }
    }

    /// MLflow image series (`images/` written by `log_image(key=…, step=…)`) by key, sorted by
    /// step; `None` while the folder is listed (or when the run has none).
    fn series(
        &self,
        ctx: &ViewCtx,
        run: &Run,
        root: &str,
    ) -> Option<BTreeMap<String, Vec<SeriesImage>>> {
        let has_images_dir = ctx
            .artifact_lists()
            .get(&(root.to_string(), String::new()))
            .and_then(Entry::ready)
            .is_some_and(|l| l.iter().any(|e| e.is_dir && e.path == "images"));
        if !has_images_dir && !run.data.tags.contains_key("mlflow.loggedImages") {
            return None;
        }
        let key = (root.to_string(), "images".to_string());
        let Some(entries) = ctx.artifact_lists().get(&key).and_then(Entry::ready) else {
            if !ctx.artifact_lists().contains(&key) {
                ctx.send(Command::ListArtifacts {
                    root: self.target(root),
                    path: "images".into(),
                });
            }
            return None;
        };
        let mut series: BTreeMap<String, Vec<SeriesImage>> = BTreeMap::new();
        for e in entries.iter() {
            if let Some(s) = artifact_preview::parse_series_image(&e.path) {
                series.entry(s.key.clone()).or_default().push(s);
            }
        }
        for v in series.values_mut() {
            v.sort_by_key(|s| s.step);
        }
        (!series.is_empty()).then_some(series)
    }

    /// The tree's "Image series" section: one entry per key; choosing one shows the series in
    /// the preview pane (it never changes which file is selected).
    fn series_section_ui(&mut self, ui: &mut egui::Ui, ctx: &ViewCtx, run: &Run, root: &str) {
        let Some(series) = self.series(ctx, run, root) else {
            return;
        };
        ui.separator();
        ui.strong("Image series");
        for (k, images) in &series {
            let chosen = self.showing_series && self.series_key.as_deref() == Some(k.as_str());
            let steps = if images.len() == 1 { "step" } else { "steps" };
            let row = egui::Button::selectable(chosen, format!("🖼 {k}"))
                .right_text(egui::RichText::new(format!("{} {steps}", images.len())).weak())
                .min_size(egui::vec2(ui.available_width(), 0.0));
            if ui
                .add(row)
                .on_hover_text("Show this image series with a step slider")
                .clicked()
            {
                if self.series_key.as_deref() != Some(k.as_str()) {
                    self.series_index = images.len() - 1;
                }
                self.series_key = Some(k.clone());
                self.showing_series = true;
            }
        }
    }

    /// The preview pane showing the chosen image series: a step slider and the image.
    fn series_preview_ui(&mut self, ui: &mut egui::Ui, ctx: &ViewCtx, run: &Run, root: &str) {
        let Some(series) = self.series(ctx, run, root) else {
            ui.spinner();
            return;
        };
        let Some((key, images)) = self
            .series_key
            .as_ref()
            .and_then(|k| series.get_key_value(k))
            .or_else(|| series.iter().next())
        else {
            return;
        };
        let mut idx = self.series_index.min(images.len() - 1);
        ui.horizontal(|ui| {
            ui.strong(format!("Image series: {key}"));
            if images.len() > 1 {
                ui.add(
                    egui::Slider::new(&mut idx, 0..=images.len() - 1)
                        .custom_formatter(|i, _| format!("step {}", images[i as usize].step)),
                )
                .on_hover_text("Step of the image");
            } else {
                ui.weak(format!("step {}", images[0].step));
            }
        });
        self.series_index = idx;
        let path = images[idx].path.clone();
        let cache_key = (root.to_string(), path.clone());
        let Some(preview) = self.ready_preview(ui, ctx, root, path) else {
            return;
        };
        match preview.as_ref() {
            Preview::Image {
                image,
                original_size,
            } => self.image_ui(ui, &cache_key, image, *original_size),
            _ => {
                ui.weak("Not an image");
            }
        }
    }

    /// The preview of `path` when it is ready; until then it is asked of the worker (once) and
    /// a spinner, or the error, is drawn instead.
    fn ready_preview(
        &self,
        ui: &mut egui::Ui,
        ctx: &ViewCtx,
        root: &str,
        path: String,
    ) -> Option<Arc<Preview>> {
        match ctx
            .artifact_previews()
            .get(&(root.to_string(), path.clone()))
            .cloned()
        {
            None => {
                ctx.send(Command::PreviewArtifact {
                    root: self.target(root),
                    path,
                });
                ui.spinner();
                None
            }
            Some(Entry::Loading) => {
                ui.spinner();
                None
            }
            Some(Entry::Failed(e)) => {
                ui.colored_label(theme::error_color(ctx.dark()), e);
                None
            }
            Some(Entry::Ready(preview)) => Some(preview),
        }
    }

    /// An image, scaled to the pane.
    fn image_ui(
        &mut self,
        ui: &mut egui::Ui,
        key: &(String, String),
        image: &egui::ColorImage,
        original_size: [usize; 2],
    ) {
        let path = key.1.clone();
        let tex = self
            .textures
            .entry(key.clone())
            .or_insert_with(|| {
                ui.ctx().load_texture(
                    format!("artifact:{path}"),
                    image.clone(),
                    Default::default(),
                )
            })
            .clone();
        ui.weak(format!("{} × {} px", original_size[0], original_size[1]));
        let avail = ui.available_size();
        egui::ScrollArea::both()
            .id_salt("image_preview")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                let size = tex.size_vec2();
                let scale = (avail.x / size.x).min(avail.y / size.y).clamp(0.05, 4.0);
                ui.add(
                    egui::Image::new(&tex)
                        .fit_to_exact_size(size * scale)
                        .alt_text(path),
                );
            });
    }

    /// What was read of a file and what was cut, with buttons to read the next chunk or all of
    /// it (through the worker; the preview shown stays until it answers).
    fn extent_ui(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &ViewCtx,
        root: &str,
        path: &str,
        extent: Extent,
        summary: String,
    ) {
        ui.horizontal_wrapped(|ui| {
            ui.weak(summary);
            if extent.is_whole() {
                return;
            }
            let reading = self
                .reading_more
                .as_ref()
                .is_some_and(|(p, read)| p == path && *read == extent.read);
            if reading {
                ui.spinner();
                ui.weak("reading more…");
                return;
            }
            let next = ReadLimit::after(extent.read);
            let next_bytes = next.bytes(extent.total);
            if next_bytes < extent.total
                && ui
                    .small_button(format!(
                        "Read the next {}",
                        human_bytes(next_bytes - extent.read)
                    ))
                    .on_hover_text(
                        "Read more of the file (the worker reads it; the app stays responsive)",
                    )
                    .clicked()
            {
                self.read_more(ctx, root, path, extent, next);
            }
            let too_big = extent.total > WHOLE_FILE_MAX_BYTES;
            let r = ui
                .add_enabled(
                    !too_big,
                    egui::Button::new(format!(
                        "Read the whole file ({})",
                        human_bytes(extent.total)
                    ))
                    .small(),
                )
                .on_disabled_hover_text(format!(
                    "Larger than {}: open it externally",
                    human_bytes(WHOLE_FILE_MAX_BYTES)
                ));
            if r.clicked() {
                if extent.total > WHOLE_FILE_WARN_BYTES {
                    self.confirm_whole = Some((path.to_string(), extent.total));
                } else {
                    self.read_more(ctx, root, path, extent, ReadLimit::Whole);
                }
            }
        });
        if let Some((p, total)) = self.confirm_whole.clone()
            && p == path
        {
            ui.horizontal_wrapped(|ui| {
                ui.colored_label(
                    theme::warning_color(ctx.dark()),
                    format!(
                        "Reading all {} holds it in memory (and more for a table).",
                        human_bytes(total)
                    ),
                );
                if ui.small_button("Read it all").clicked() {
                    self.confirm_whole = None;
                    self.read_more(ctx, root, path, extent, ReadLimit::Whole);
                }
                if ui.small_button("Cancel").clicked() {
                    self.confirm_whole = None;
                }
            });
        }
    }

    fn read_more(
        &mut self,
        ctx: &ViewCtx,
        root: &str,
        path: &str,
        extent: Extent,
        limit: ReadLimit,
    ) {
        self.reading_more = Some((path.to_string(), extent.read));
        ctx.send(Command::ReadMoreOfArtifact {
            root: self.target(root),
            path: path.to_string(),
            limit,
        });
    }

    fn preview_ui(&mut self, ui: &mut egui::Ui, ctx: &ViewCtx, root: &str) {
        let Some(path) = self.selected.clone() else {
            ui.weak("Choose a file to preview it");
            return;
        };
        let key = (root.to_string(), path.clone());
        ui.horizontal(|ui| {
            ui.strong(&path);
            if ui
                .small_button("Open externally")
                .on_hover_text(
                    "Open in the system's viewer (files on a server are downloaded first)",
                )
                .clicked()
            {
                ctx.send(Command::OpenArtifact {
                    root: self.target(root),
                    path: path.clone(),
                });
            }
        });
        let Some(preview) = self.ready_preview(ui, ctx, root, path.clone()) else {
            return;
        };
        match preview.as_ref() {
            Preview::Image {
                image,
                original_size,
            } => self.image_ui(ui, &key, image, *original_size),
            Preview::Text {
                doc,
                extent,
                language,
                problem,
            } => {
                let summary = if extent.is_whole() {
                    format!("{language}, {}", human_bytes(extent.total))
                } else {
                    format!("{language}: showing the {}", extent.describe())
                };
                self.extent_ui(ui, ctx, root, &path, *extent, summary);
                if let Some(problem) = problem {
                    ui.colored_label(theme::error_color(ctx.dark()), problem);
                }
                if self.text_state.0.as_deref() != Some(path.as_str()) {
                    self.text_state = (Some(path.clone()), TextViewState::default());
                }
                TextView::new(doc, &mut self.text_state.1)
                    .id_salt(("artifact_text", &path))
                    .show(ui);
            }
            Preview::Table {
                table,
                extent,
                complete,
                note,
            } => {
                let rows = table.row_count();
                let columns = table.column_count();
                let so_far = if *complete { "" } else { " so far" };
                let summary = format!(
                    "{rows} {}{so_far} × {columns} {} · {}",
                    if rows == 1 { "row" } else { "rows" },
                    if columns == 1 { "column" } else { "columns" },
                    if extent.is_whole() {
                        format!("all {}", human_bytes(extent.total))
                    } else {
                        format!("read the {}", extent.describe())
                    }
                );
                self.extent_ui(ui, ctx, root, &path, *extent, summary);
                if let Some(note) = note {
                    ui.colored_label(theme::warning_color(ctx.dark()), note);
                }
                TableView::new(table)
                    .id_salt(("artifact_table", &path))
                    .show(ui);
            }
            Preview::Binary { total_bytes } => {
                ui.weak(format!(
                    "Binary file ({}): no preview; open it externally",
                    human_bytes(*total_bytes)
                ));
            }
        }
    }
}
