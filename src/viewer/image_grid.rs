//! The Images tab: one image series (`log_image(key=…, step=…)`, MLflow's `images/` folder)
//! across every selected run, side by side at one step chosen with one shared slider. There is
//! no cap on the number of runs (MLflow's UI stops at 10): the grid is virtualised by rows, and
//! only the visible cells ask the worker for their run's `images/` listing and their image, so
//! a thousand selected runs cost what a screenful costs. Cells show MLflow's 256 px thumbnail
//! (`…+compressed.webp`) when the run has one; clicking a cell shows the full image enlarged.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::artifacts::FileInfo;
use crate::artifacts::images::{ImageStep, image_series};
use crate::model::Run;

use super::artifact_preview::{ArtifactEntry, Preview};
use super::cache::Entry;
use super::commands::Command;
use super::context::ViewCtx;
use super::theme;
use super::worker::ArtifactRoot;

/// The folder of MLflow's image series, relative to a run's artifact root.
const IMAGES_DIR: &str = crate::artifacts::images::IMAGES_DIR;
/// Smallest and largest cell side, in points.
const CELL_RANGE: std::ops::RangeInclusive<f32> = 96.0..=512.0;
/// Height of a cell's caption (run name and step).
const CAPTION_HEIGHT: f32 = 18.0;
/// Space between cells.
const GAP: f32 = 8.0;
/// Bytes of artifact previews no view read in a frame that the app keeps (older ones are
/// dropped first): an image grid over many runs reads many previews.
pub const PREVIEW_BUDGET_BYTES: usize = 256 * 1024 * 1024;

/// The weight of a preview in memory, for [`PREVIEW_BUDGET_BYTES`]: an image's pixels, or the
/// bytes read of a text or table.
pub fn preview_bytes(preview: &Preview) -> usize {
    match preview {
        Preview::Image { image, .. } => image.pixels.len() * 4,
        Preview::Text { extent, .. } | Preview::Table { extent, .. } => extent.read as usize,
        Preview::Binary { .. } => 64,
    }
}

/// The image grid, with its state: the chosen key and step, the cell size, the enlarged cell
/// and the textures of the cells drawn.
#[derive(Default)]
pub struct ImageGrid {
    /// The chosen image key (the first one seen until the user picks one).
    pub key: Option<String>,
    /// The chosen step (the latest step until the user moves the slider).
    pub step: Option<i64>,
    /// Cell side in points (0: the default).
    cell: f32,
    /// The run whose image is shown enlarged.
    pub enlarged: Option<String>,
    /// Series parsed from each run's `images/` listing, by artifact URI (parsed again only
    /// when the listing changes).
    parsed: HashMap<String, (Arc<Vec<ArtifactEntry>>, Arc<RunSeries>)>,
    /// Textures of the images drawn, by (artifact URI, path); those not drawn in a frame go.
    textures: HashMap<(String, String), egui::TextureHandle>,
}

impl std::fmt::Debug for ImageGrid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageGrid")
            .field("key", &self.key)
            .field("step", &self.step)
            .field("enlarged", &self.enlarged)
            .finish()
    }
}

/// A run's image series by key, each sorted by step.
type RunSeries = BTreeMap<String, Vec<ImageStep>>;

/// What a cell knows of its run's images.
enum CellState {
    /// The listing is on its way.
    Listing,
    /// The listing failed.
    Failed(String),
    /// The run's series.
    Listed(Arc<RunSeries>),
}

/// The image of a series shown at `step`: the last one logged at or before it.
pub fn image_at(steps: &[ImageStep], step: i64) -> Option<&ImageStep> {
    let after = steps.partition_point(|s| s.step <= step);
    after.checked_sub(1).map(|i| &steps[i])
}

fn root_of(run: &Run) -> ArtifactRoot {
    ArtifactRoot {
        run_id: run.info.run_id.clone(),
        experiment_id: run.info.experiment_id.clone(),
        artifact_uri: run.info.artifact_uri.clone(),
    }
}

impl ImageGrid {
    fn cell_side(&self) -> f32 {
        if self.cell <= 0.0 {
            160.0
        } else {
            self.cell.clamp(*CELL_RANGE.start(), *CELL_RANGE.end())
        }
    }

    /// The series of a run, as far as its listing is known (asked of the worker when `ask`).
    fn state_of(&mut self, ctx: &ViewCtx, run: &Run, ask: bool) -> CellState {
        let uri = &run.info.artifact_uri;
        let key = (uri.clone(), IMAGES_DIR.to_string());
        match ctx.artifact_lists().get(&key) {
            None => {
                if ask {
                    ctx.send(Command::ListArtifacts {
                        root: root_of(run),
                        path: IMAGES_DIR.into(),
                    });
                }
                CellState::Listing
            }
            Some(Entry::Loading) => CellState::Listing,
            Some(Entry::Failed(e)) => CellState::Failed(e.clone()),
            Some(Entry::Ready(entries)) => {
                if let Some((seen, series)) = self.parsed.get(uri)
                    && Arc::ptr_eq(seen, entries)
                {
                    return CellState::Listed(Arc::clone(series));
                }
                let files: Vec<FileInfo> = entries
                    .iter()
                    .map(|e| FileInfo {
                        path: e.path.clone(),
                        is_dir: e.is_dir,
                        file_size: e.size,
                    })
                    .collect();
                let series = Arc::new(image_series(&files));
                self.parsed
                    .insert(uri.clone(), (Arc::clone(entries), Arc::clone(&series)));
                CellState::Listed(series)
            }
        }
    }

    /// Draws the Images tab.
    pub fn show(&mut self, ui: &mut egui::Ui, ctx: &ViewCtx) {
        let runs = ctx.selected_runs();
        if runs.is_empty() {
            ui.add_space(12.0);
            ui.weak("Select runs in the table to compare their logged images");
            return;
        }
        // Keys and steps from every listing read so far (listings are asked for the visible
        // cells only, so more may appear as the grid scrolls).
        let mut keys: BTreeSet<String> = BTreeSet::new();
        let mut listed = 0usize;
        let mut listed_series: Vec<(usize, Arc<RunSeries>)> = Vec::new();
        for (i, run) in runs.iter().enumerate() {
            if let CellState::Listed(s) = self.state_of(ctx, run, false) {
                listed += 1;
                keys.extend(s.keys().cloned());
                listed_series.push((i, s));
            }
        }
        if self.key.as_ref().is_none_or(|k| !keys.contains(k)) && !keys.is_empty() {
            self.key = keys.iter().next().cloned();
        }
        // Runs known to lack the key get no cell (they are counted instead); runs not listed
        // yet keep theirs until their listing says.
        let lacking: HashSet<usize> = match &self.key {
            Some(k) => listed_series
                .iter()
                .filter(|(_, s)| !s.contains_key(k))
                .map(|(i, _)| *i)
                .collect(),
            None => HashSet::new(),
        };
        let steps: Vec<i64> = match &self.key {
            Some(k) => listed_series
                .iter()
                .filter_map(|(_, s)| s.get(k))
                .flatten()
                .map(|i| i.step)
                .collect::<BTreeSet<i64>>()
                .into_iter()
                .collect(),
            None => Vec::new(),
        };
        let step = self.controls_ui(
            ui,
            &keys,
            &steps,
            runs.len() - lacking.len(),
            runs.len(),
            listed,
        );
        if !lacking.is_empty()
            && let Some(k) = &self.key
        {
            let names: Vec<&str> = lacking
                .iter()
                .take(20)
                .map(|&i| runs[i].info.run_name.as_str())
                .collect();
            ui.weak(format!(
                "{} without '{k}' images",
                crate::format::count(lacking.len(), "selected run")
            ))
            .on_hover_text(names.join("\n"));
        }
        ui.separator();
        if listed == runs.len() && keys.is_empty() {
            ui.weak(
                "None of the selected runs logged an image series \
                 (MLflow's log_image with a key and a step)",
            );
            return;
        }
        let runs: Vec<Arc<Run>> = runs
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !lacking.contains(i))
            .map(|(_, r)| r)
            .collect();

        let side = self.cell_side();
        let per_row = (((ui.available_width() + GAP) / (side + GAP)).floor() as usize).max(1);
        let n_rows = runs.len().div_ceil(per_row);
        let row_height = side + CAPTION_HEIGHT + GAP;
        let mut drawn: HashSet<(String, String)> = HashSet::new();
        let key = self.key.clone();
        egui::ScrollArea::vertical()
            .id_salt("image_grid")
            .auto_shrink([false, false])
            .show_rows(ui, row_height, n_rows, |ui, visible| {
                for r in visible {
                    ui.horizontal(|ui| {
                        ui.spacing_mut().item_spacing.x = GAP;
                        let first = r * per_row;
                        for run in &runs[first..(first + per_row).min(runs.len())] {
                            self.cell_ui(ui, ctx, run, key.as_deref(), step, side, &mut drawn);
                        }
                    });
                }
            });
        self.enlarged_ui(ui, ctx, &runs, key.as_deref(), step, &mut drawn);
        self.textures.retain(|k, _| drawn.contains(k));
    }

    /// The key chooser, the step slider and the cell size; returns the step to show. `n_runs`
    /// runs have a cell, `listed` of the `n_selected` have their listing read.
    fn controls_ui(
        &mut self,
        ui: &mut egui::Ui,
        keys: &BTreeSet<String>,
        steps: &[i64],
        n_runs: usize,
        n_selected: usize,
        listed: usize,
    ) -> Option<i64> {
        let mut shown = None;
        ui.horizontal_wrapped(|ui| {
            ui.label("Image");
            let current = self.key.clone().unwrap_or_default();
            egui::ComboBox::from_id_salt("image_grid_key")
                .selected_text(if current.is_empty() {
                    "(none yet)"
                } else {
                    current.as_str()
                })
                .show_ui(ui, |ui| {
                    for k in keys {
                        if ui.selectable_label(current == *k, k).clicked() {
                            self.key = Some(k.clone());
                        }
                    }
                })
                .response
                .on_hover_text("The image key (log_image's key) shown for every run");
            if let (Some(&first), Some(&last)) = (steps.first(), steps.last()) {
                let wanted = self.step.unwrap_or(last);
                let mut idx = steps.partition_point(|&s| s <= wanted).saturating_sub(1);
                if steps.len() > 1 {
                    let r =
                        ui
                            .add(
                                egui::Slider::new(&mut idx, 0..=steps.len() - 1)
                                    .custom_formatter(|i, _| format!("step {}", steps[i as usize]))
                                    .custom_parser(|t| {
                                        let n: i64 = t
                                            .trim()
                                            .trim_start_matches("step")
                                            .trim()
                                            .parse()
                                            .ok()?;
                                        Some(steps.partition_point(|&s| s <= n).saturating_sub(1)
                                            as f64)
                                    }),
                            )
                            .on_hover_text(format!(
                                "One step for every run ({} steps, {first} to {last}); a run \
                             without an image at this step shows its last one before it",
                                steps.len()
                            ));
                    if r.changed() {
                        self.step = Some(steps[idx]);
                    }
                } else {
                    ui.weak(format!("step {first}"));
                }
                shown = Some(steps[idx]);
            }
            ui.separator();
            let mut side = self.cell_side();
            if ui
                .add(egui::Slider::new(&mut side, CELL_RANGE).text("size"))
                .on_hover_text("Size of each run's image")
                .changed()
            {
                self.cell = side;
            }
            ui.separator();
            ui.weak(format!(
                "{} side by side",
                crate::format::count(n_runs, "run")
            ));
            if listed < n_selected {
                ui.weak(format!("({listed} listed so far: scroll to list more)"));
            }
        });
        shown
    }

    /// One run's cell: its colour and name, and its image at `step` (asked of the worker when
    /// the cell is drawn, i.e. visible).
    #[allow(clippy::too_many_arguments)]
    fn cell_ui(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &ViewCtx,
        run: &Arc<Run>,
        key: Option<&str>,
        step: Option<i64>,
        side: f32,
        drawn: &mut HashSet<(String, String)>,
    ) {
        let size = egui::vec2(side, side + CAPTION_HEIGHT);
        ui.allocate_ui_with_layout(size, egui::Layout::top_down(egui::Align::LEFT), |ui| {
            ui.set_width(side);
            let state = self.state_of(ctx, run, true);
            let image = match (&state, key, step) {
                (CellState::Listed(s), Some(k), Some(step)) => {
                    s.get(k).and_then(|v| image_at(v, step)).cloned()
                }
                _ => None,
            };
            ui.horizontal(|ui| {
                ui.set_height(CAPTION_HEIGHT - 4.0);
                theme::run_swatch(ui, ctx, &run.info.run_id);
                let mut caption = run.info.run_name.clone();
                if let (Some(img), Some(step)) = (&image, step)
                    && img.step != step
                {
                    caption = format!("{caption} (step {})", img.step);
                }
                ui.add(egui::Label::new(caption).truncate().selectable(false))
                    .on_hover_text(format!("{}\nrun id {}", run.info.run_name, run.info.run_id));
            });
            let (rect, response) =
                ui.allocate_exact_size(egui::vec2(side, side), egui::Sense::click());
            ui.painter()
                .rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
            let uri = run.info.artifact_uri.clone();
            let message = |ui: &mut egui::Ui, text: String, error: bool| {
                let color = if error {
                    theme::error_color(ctx.dark())
                } else {
                    ui.visuals().weak_text_color()
                };
                ui.put(
                    rect.shrink(6.0),
                    egui::Label::new(egui::RichText::new(text).color(color).small()).wrap(),
                );
            };
            let path = image
                .as_ref()
                .and_then(|i| i.compressed_filepath.clone().or_else(|| i.filepath.clone()));
            let label = match (&image, step) {
                (Some(i), _) => format!("{} at step {}", run.info.run_name, i.step),
                (None, _) => format!("{}: no image", run.info.run_name),
            };
            match (&state, path) {
                (CellState::Listing, _) => {
                    ui.put(rect, egui::Spinner::new());
                }
                (CellState::Failed(e), _) => message(ui, e.clone(), true),
                (CellState::Listed(_), None) => message(
                    ui,
                    match (key, step) {
                        (Some(k), Some(s)) => format!("no '{k}' image at or before step {s}"),
                        _ => "no image series".to_string(),
                    },
                    false,
                ),
                (CellState::Listed(_), Some(path)) => {
                    let cache_key = (uri.clone(), path.clone());
                    match ctx.artifact_previews().get(&cache_key) {
                        None => {
                            ctx.send(Command::PreviewArtifact {
                                root: root_of(run),
                                path,
                            });
                            ui.put(rect, egui::Spinner::new());
                        }
                        Some(Entry::Loading) => {
                            ui.put(rect, egui::Spinner::new());
                        }
                        Some(Entry::Failed(e)) => message(ui, e.clone(), true),
                        Some(Entry::Ready(p)) => match p.as_ref() {
                            Preview::Image { image, .. } => {
                                let tex = self.texture(ui, &cache_key, image);
                                drawn.insert(cache_key);
                                paint_fitted(ui, &tex, rect);
                            }
                            _ => message(ui, "not an image".into(), true),
                        },
                    }
                }
            }
            let response = response.on_hover_text("Click to enlarge");
            response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label));
            if response.clicked() && image.is_some() {
                self.enlarged = Some(run.info.run_id.clone());
            }
        });
    }

    fn texture(
        &mut self,
        ui: &egui::Ui,
        key: &(String, String),
        image: &egui::ColorImage,
    ) -> egui::TextureHandle {
        self.textures
            .entry(key.clone())
            .or_insert_with(|| {
                ui.ctx().load_texture(
                    format!("image-grid:{}:{}", key.0, key.1),
                    image.clone(),
                    // Small images (MLflow samples are often a few pixels) stay sharp when
                    // enlarged; large ones are smoothed when shrunk.
                    egui::TextureOptions {
                        magnification: egui::TextureFilter::Nearest,
                        ..egui::TextureOptions::LINEAR
                    },
                )
            })
            .clone()
    }

    /// The enlarged image of the clicked cell: the full-size file at the grid's step, in a
    /// window over the app (Escape or a click outside closes it).
    fn enlarged_ui(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &ViewCtx,
        runs: &[Arc<Run>],
        key: Option<&str>,
        step: Option<i64>,
        drawn: &mut HashSet<(String, String)>,
    ) {
        let Some(id) = self.enlarged.clone() else {
            return;
        };
        let Some(run) = runs.iter().find(|r| r.info.run_id == id) else {
            self.enlarged = None;
            return;
        };
        let image = match (self.state_of(ctx, run, true), key, step) {
            (CellState::Listed(s), Some(k), Some(step)) => {
                s.get(k).and_then(|v| image_at(v, step)).cloned()
            }
            _ => None,
        };
        let screen = ui.ctx().content_rect();
        let modal =
            egui::Modal::new(egui::Id::unique("image_grid_enlarged")).show(ui.ctx(), |ui| {
                let Some(image) = image else {
                    ui.weak("No image at this step");
                    return;
                };
                let path = image
                    .filepath
                    .clone()
                    .or_else(|| image.compressed_filepath.clone())
                    .unwrap_or_default();
                ui.horizontal(|ui| {
                    theme::run_swatch(ui, ctx, &run.info.run_id);
                    ui.strong(format!(
                        "{} · {} · step {}",
                        run.info.run_name,
                        key.unwrap_or_default(),
                        image.step
                    ));
                });
                let cache_key = (run.info.artifact_uri.clone(), path.clone());
                match ctx.artifact_previews().get(&cache_key) {
                    None => {
                        ctx.send(Command::PreviewArtifact {
                            root: root_of(run),
                            path,
                        });
                        ui.spinner();
                    }
                    Some(Entry::Loading) => {
                        ui.spinner();
                    }
                    Some(Entry::Failed(e)) => {
                        ui.colored_label(theme::error_color(ctx.dark()), e.clone());
                    }
                    Some(Entry::Ready(p)) => {
                        if let Preview::Image {
                            image,
                            original_size,
                        } = p.as_ref()
                        {
                            ui.weak(format!("{} × {} px", original_size[0], original_size[1]));
                            let tex = self.texture(ui, &cache_key, image);
                            drawn.insert(cache_key);
                            let size = tex.size_vec2();
                            let fit = ((screen.width() * 0.8) / size.x)
                                .min((screen.height() * 0.75) / size.y)
                                .clamp(0.05, 8.0);
                            ui.add(
                                egui::Image::new(&tex)
                                    .fit_to_exact_size(size * fit)
                                    .alt_text(format!("{} enlarged", run.info.run_name)),
                            );
                        }
                    }
                }
                if ui.button("Close").clicked() {
                    ui.close();
                }
            });
        if modal.should_close() {
            self.enlarged = None;
        }
    }
}

/// Paints a texture into `rect`, as large as fits, keeping its aspect ratio, centred.
fn paint_fitted(ui: &egui::Ui, tex: &egui::TextureHandle, rect: egui::Rect) {
    let size = tex.size_vec2();
    if size.x <= 0.0 || size.y <= 0.0 {
        return;
    }
    let scale = (rect.width() / size.x).min(rect.height() / size.y);
    let target = egui::Rect::from_center_size(rect.center(), size * scale);
    egui::Image::new(tex).paint_at(ui, target);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(s: i64) -> ImageStep {
        ImageStep {
            step: s,
            timestamp: 0,
            file_key: format!("k{s}"),
            filepath: Some(format!("images/k+step+{s}.png")),
            compressed_filepath: None,
        }
    }

    #[test]
    fn the_image_shown_is_the_last_at_or_before_the_step() {
        let steps = [step(0), step(10), step(20)];
        assert_eq!(image_at(&steps, 10).map(|s| s.step), Some(10));
        assert_eq!(image_at(&steps, 15).map(|s| s.step), Some(10));
        assert_eq!(image_at(&steps, 99).map(|s| s.step), Some(20));
        assert_eq!(image_at(&steps, -1).map(|s| s.step), None);
        assert_eq!(image_at(&[], 3), None);
    }
}
