//! The Artifacts tab: a lazily listed tree of the focused run's artifacts with sizes, and a
//! preview beside it (images, text and logs, JSON, YAML, CSV/TSV and `log_table` tables, MLflow
//! image series with a step slider). The worker reads files; large ones only in part.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::Run;

use super::artifact_preview::{self, ArtifactEntry, Preview, SeriesImage, human_bytes};
use super::cache::Entry;
use super::commands::Command;
use super::context::ViewCtx;
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
    /// Chosen image-series key and step index.
    pub series_key: Option<String>,
    /// Step index in the chosen image series.
    pub series_index: usize,
    /// The run's experiment (to find its artifacts in a copied store).
    pub experiment_id: String,
    textures: HashMap<(String, String), egui::TextureHandle>,
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
            self.series_key = None;
            self.series_index = 0;
            self.textures.clear();
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
            ui.vertical(|ui| self.preview_ui(ui, ctx, &root));
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
            let selected = self.selected.as_deref() == Some(e.path.as_str());
            ui.horizontal(|ui| {
                let r = ui.selectable_label(selected, format!("📄 {}", e.name()));
                if r.clicked() {
                    self.selected = Some(e.path.clone());
                    ctx.send(Command::PreviewArtifact {
                        root: self.target(root),
                        path: e.path.clone(),
                    });
                }
                if let Some(s) = e.size {
                    ui.weak(human_bytes(s));
                }
            });
        }
    }

    /// MLflow image series (`images/` written by `log_image(key=…, step=…)`): a key chooser and a step
    /// slider.
    fn series_section_ui(&mut self, ui: &mut egui::Ui, ctx: &ViewCtx, run: &Run, root: &str) {
        let has_images_dir = ctx
            .artifact_lists()
            .get(&(root.to_string(), String::new()))
            .and_then(Entry::ready)
            .is_some_and(|l| l.iter().any(|e| e.is_dir && e.path == "images"));
        if !has_images_dir && !run.data.tags.contains_key("mlflow.loggedImages") {
            return;
        }
        let key = (root.to_string(), "images".to_string());
        let Some(entries) = ctx
            .artifact_lists()
            .get(&key)
            .and_then(Entry::ready)
            .cloned()
        else {
            if !ctx.artifact_lists().contains(&key) {
                ctx.send(Command::ListArtifacts {
                    root: self.target(root),
                    path: "images".into(),
                });
            }
            return;
        };
        let mut series: BTreeMap<String, Vec<SeriesImage>> = BTreeMap::new();
        for e in entries.iter() {
            if let Some(s) = artifact_preview::parse_series_image(&e.path) {
                series.entry(s.key.clone()).or_default().push(s);
            }
        }
        if series.is_empty() {
            return;
        }
        for v in series.values_mut() {
            v.sort_by_key(|s| s.step);
        }
        ui.separator();
        ui.strong("Image series");
        let keys: Vec<String> = series.keys().cloned().collect();
        let current = self
            .series_key
            .clone()
            .filter(|k| series.contains_key(k))
            .unwrap_or_else(|| keys[0].clone());
        for k in &keys {
            if ui.selectable_label(*k == current, k).clicked() {
                self.series_key = Some(k.clone());
                self.series_index = 0;
            }
        }
        let images = &series[&current];
        let mut idx = self.series_index.min(images.len() - 1);
        if images.len() > 1 {
            ui.add(
                egui::Slider::new(&mut idx, 0..=images.len() - 1)
                    .custom_formatter(|i, _| format!("step {}", images[i as usize].step)),
            )
            .on_hover_text("Step of the image");
        }
        let path = images[idx].path.clone();
        if idx != self.series_index
            || self.series_key.as_deref() != Some(current.as_str())
            || self.selected.as_deref() != Some(path.as_str())
        {
            if self.series_key.is_some() || idx != self.series_index {
                self.selected = Some(path.clone());
                ctx.send(Command::PreviewArtifact {
                    root: self.target(root),
                    path,
                });
            }
            self.series_index = idx;
            self.series_key = Some(current);
        }
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
        let entry = ctx.artifact_previews().get(&key).cloned();
        match entry {
            None => {
                ctx.send(Command::PreviewArtifact {
                    root: self.target(root),
                    path,
                });
                ui.spinner();
            }
            Some(Entry::Loading) => {
                ui.spinner();
            }
            Some(Entry::Failed(e)) => {
                ui.colored_label(theme::error_color(ctx.dark()), e);
            }
            Some(Entry::Ready(preview)) => match preview.as_ref() {
                Preview::Image {
                    image,
                    original_size,
                } => {
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
                                    .alt_text(path.clone()),
                            );
                        });
                }
                Preview::Text {
                    text,
                    truncated,
                    total_bytes,
                    language,
                } => {
                    if *truncated {
                        ui.weak(format!(
                            "Showing the first {} of {} ({language})",
                            human_bytes(text.len() as u64),
                            human_bytes(*total_bytes)
                        ));
                    }
                    egui::ScrollArea::both()
                        .id_salt("text_preview")
                        .auto_shrink([false, false])
                        .show(ui, |ui| {
                            // Only the visible lines are laid out.
                            let row_h = ui.text_style_height(&egui::TextStyle::Monospace);
                            let lines: Vec<&str> = text.lines().collect();
                            let total_h = row_h * lines.len() as f32;
                            let (rect, _) = ui.allocate_exact_size(
                                egui::vec2(ui.available_width().max(400.0), total_h),
                                egui::Sense::hover(),
                            );
                            let clip = ui.clip_rect();
                            let first =
                                (((clip.top() - rect.top()) / row_h).floor().max(0.0)) as usize;
                            let last = (((clip.bottom() - rect.top()) / row_h).ceil().max(0.0)
                                as usize)
                                .min(lines.len());
                            for (i, line) in lines.iter().enumerate().take(last).skip(first) {
                                let top = rect.top() + i as f32 * row_h;
                                let line_rect = egui::Rect::from_min_size(
                                    egui::pos2(rect.left(), top),
                                    egui::vec2(rect.width(), row_h),
                                );
                                ui.put(
                                    line_rect,
                                    egui::Label::new(egui::RichText::new(*line).monospace())
                                        .extend()
                                        .halign(egui::Align::LEFT),
                                );
                            }
                        });
                }
                Preview::Table {
                    columns,
                    rows,
                    truncated,
                } => {
                    if *truncated {
                        ui.weak(format!("Showing the first {} rows", rows.len()));
                    }
                    egui::ScrollArea::horizontal()
                        .id_salt("table_preview")
                        .show(ui, |ui| {
                            let mut t = egui_extras::TableBuilder::new(ui)
                                .id_salt(("artifact_table", &path))
                                .striped(true)
                                .resizable(true)
                                .auto_shrink([false, false]);
                            for _ in 0..columns.len().max(1) {
                                t = t.column(
                                    egui_extras::Column::initial(110.0)
                                        .at_least(40.0)
                                        .clip(true),
                                );
                            }
                            t.header(20.0, |mut h| {
                                for c in columns {
                                    h.col(|ui| {
                                        ui.strong(c);
                                    });
                                }
                            })
                            .body(|body| {
                                body.rows(theme::ROW_HEIGHT, rows.len(), |mut row| {
                                    let r = &rows[row.index()];
                                    for i in 0..columns.len().max(1) {
                                        row.col(|ui| {
                                            let v = r.get(i).map(String::as_str).unwrap_or("");
                                            ui.add(egui::Label::new(v).truncate());
                                        });
                                    }
                                });
                            });
                        });
                }
                Preview::Binary { total_bytes } => {
                    ui.weak(format!(
                        "Binary file ({}): no preview; open it externally",
                        human_bytes(*total_bytes)
                    ));
                }
            },
        }
    }
}
