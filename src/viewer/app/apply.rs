//! The requests the app sends to the worker, and applying the commands views sent (after the
//! frame, so no view changes what another is still reading).

use std::time::Instant;

use crate::model::{LifecycleStage, ViewType};

use super::super::artifact_preview::ReadLimit;
use super::super::cache::Entry;
use super::super::commands::{Command, SelectMode};
use super::super::filter_bar;
use super::super::run_details::MIN_RUN_KEY_SHARE;
use super::super::runs_table::apply_sort_click;
use super::super::worker::{Request, WriteOp};
use super::{App, Confirm, DialogResult};

impl App {
    pub(super) fn open_store(&mut self, uri: String) {
        let g = self.next_generation();
        self.store = Some(Entry::Loading);
        self.store_request = Some(uri.clone());
        self.store_found_inside = None;
        self.choose_store = None;
        self.preselect_runs = false;
        self.auto_selected = false;
        self.stop_live();
        self.data.experiments = Entry::Loading;
        self.experiment_warnings.clear();
        self.data.run_counts.clear();
        self.data.selected_experiments.clear();
        self.data.runs.entry = Entry::Loading;
        self.data.runs.partial.clear();
        self.data.runs.warnings.clear();
        self.data.runs.time_to_first_rows = None;
        self.data.selection.clear();
        self.data.focus = None;
        self.data.histories.clear();
        self.data.artifact_lists.clear();
        self.data.artifact_previews.clear();
        self.data.filter.error = None;
        self.perf.opened_at = Some(Instant::now());
        self.worker.send(g, Request::Open { uri });
    }

    pub(super) fn request_experiments(&mut self) {
        let g = self.next_generation();
        self.experiments_generation = g;
        let view = if self.data.show_deleted_experiments {
            ViewType::All
        } else {
            ViewType::ActiveOnly
        };
        self.worker.send(g, Request::Experiments { view });
    }

    /// Sends a new runs search for the selected experiments, filter and view.
    pub(super) fn request_runs(&mut self) {
        let g = self.next_generation();
        self.data.runs.generation = g;
        self.data.runs.partial.clear();
        self.data.runs.loading = true;
        self.data.runs.awaiting_first_page = true;
        self.data.runs.progress = None;
        self.data.runs.started = Instant::now();
        if !matches!(self.data.runs.entry, Entry::Ready(_)) {
            self.data.runs.entry = Entry::Loading;
        }
        self.data.filter.applied = self.data.filter.text.clone();
        self.worker.send(
            g,
            Request::Runs {
                experiment_ids: self.data.selected_experiments.iter().cloned().collect(),
                filter: self.data.filter.text.trim().to_string(),
                view: self.data.filter.run_view,
            },
        );
    }

    pub(super) fn request_run_counts(&mut self, ids: Vec<String>) {
        if ids.is_empty() {
            return;
        }
        let g = self.next_generation();
        self.worker.send(
            g,
            Request::RunCounts {
                experiment_ids: ids,
            },
        );
    }

    /// Asks for the histories of `keys` of `run_id` not asked yet.
    pub fn ensure_histories(&mut self, run_id: &str, keys: &[String]) {
        let missing: Vec<String> = keys
            .iter()
            .filter(|k| {
                !self
                    .data
                    .histories
                    .contains(&(run_id.to_string(), (*k).clone()))
            })
            .cloned()
            .collect();
        if missing.is_empty() {
            return;
        }
        for k in &missing {
            self.data
                .histories
                .set_loading((run_id.to_string(), k.clone()));
        }
        let g = self.next_generation();
        self.worker.send(
            g,
            Request::Histories {
                run_id: run_id.to_string(),
                keys: missing,
            },
        );
    }

    pub(super) fn refresh_runs(&mut self, run_ids: Vec<String>) {
        if run_ids.is_empty() {
            return;
        }
        let g = self.next_generation();
        self.worker.send(g, Request::GetRuns { run_ids });
    }

    pub(super) fn shown_run_ids(&self) -> Vec<String> {
        let Some(set) = self.run_set() else {
            return Vec::new();
        };
        self.data
            .rows
            .rows
            .iter()
            .map(|r| set.runs[r.run].info.run_id.clone())
            .collect()
    }

    pub(super) fn apply_commands(&mut self, ctx: &egui::Context) {
        let commands = std::mem::take(&mut self.commands);
        for c in commands {
            self.apply(c, ctx);
        }
    }

    /// Applies one command (also used by tests to drive the app).
    pub fn apply(&mut self, command: Command, ctx: &egui::Context) {
        match command {
            Command::OpenStore(uri) => self.open_store(uri),
            Command::OpenFolderDialog => self.spawn_dialog(ctx, false),
            Command::OpenDatabaseDialog => self.spawn_dialog(ctx, true),
            Command::OpenSecondStore(uri) => self.open_second_store(uri),
            Command::ShowOpenSecondStore => self.open_second_window.open = true,
            Command::CloseSecondStore => self.close_second_store(),
            Command::Reload => {
                if let Some(Entry::Failed(_)) = &self.store
                    && let Some(uri) = self.store_request.clone()
                {
                    self.open_store(uri);
                    return;
                }
                self.data.histories.clear();
                self.data.histories_version += 1;
                self.data.artifact_lists.clear();
                self.data.artifact_previews.clear();
                self.data.runs.warnings.clear();
                self.data.run_counts.clear();
                self.request_experiments();
            }
            Command::SelectExperiments(ids) => {
                self.auto_selected = false;
                self.preselect_runs = false;
                if ids != self.data.selected_experiments {
                    if let Some(s) = self.store_request.clone() {
                        let list = ids.iter().cloned().collect();
                        self.data.persisted.last_experiments.insert(s, list);
                    }
                    self.data.selected_experiments = ids;
                    self.data.runs.warnings.clear();
                    self.request_runs();
                }
            }
            Command::ShowDeletedExperiments(on) => {
                self.data.show_deleted_experiments = on;
                self.request_experiments();
            }
            Command::SetFilter(text) => {
                self.data.filter.text = text;
                match filter_bar::check_filter(&self.data.filter.text) {
                    Err(e) => self.data.filter.error = Some(e),
                    Ok(()) => {
                        self.data.filter.error = None;
                        if self.data.filter.text.trim() != self.data.filter.applied.trim()
                            || self.data.runs.loading
                        {
                            self.data.runs.warnings.clear();
                            self.request_runs();
                        }
                    }
                }
            }
            Command::SetRunView(view) => {
                if view != self.data.filter.run_view {
                    self.data.filter.run_view = view;
                    self.data.runs.warnings.clear();
                    self.request_runs();
                }
            }
            Command::SelectRun { run_id, mode } => self.select(run_id, mode),
            Command::SelectRuns(ids) => {
                self.data.selection = ids.iter().cloned().collect();
                self.data.focus = ids.first().cloned();
                self.anchor = self.data.focus.clone();
            }
            Command::MoveFocus { delta, extend } => self.move_focus(delta, extend),
            Command::ToggleExpanded(id) => {
                if !self.data.collapsed.remove(&id) {
                    self.data.collapsed.insert(id);
                }
                self.collapsed_version += 1;
            }
            Command::SetTab(tab) => self.data.persisted.tab = tab,
            Command::Write(op) => {
                if self.data.read_only {
                    self.error("the viewer is read-only: switch read-only off to change the store");
                    return;
                }
                let g = self.next_generation();
                self.worker.send(g, Request::Write(op));
            }
            Command::AskDeleteSelected => {
                if self.data.read_only {
                    self.error("the viewer is read-only: switch read-only off to delete runs");
                    return;
                }
                let runs = self.data.ctx().selected_runs();
                let ids: Vec<String> = runs
                    .iter()
                    .filter(|r| r.info.lifecycle_stage == LifecycleStage::Active)
                    .map(|r| r.info.run_id.clone())
                    .collect();
                if ids.is_empty() {
                    return;
                }
                let text = if ids.len() == 1 {
                    format!(
                        "Delete run \"{}\"? It can be restored from the Deleted view.",
                        runs[0].info.run_name
                    )
                } else {
                    format!(
                        "Delete {} runs? They can be restored from the Deleted view.",
                        ids.len()
                    )
                };
                self.confirm = Some(Confirm {
                    text,
                    op: WriteOp::DeleteRuns { run_ids: ids },
                });
            }
            Command::LoadHistories { run_ids, keys } => {
                for id in run_ids {
                    self.ensure_histories(&id, &keys);
                }
            }
            Command::ListArtifacts { root, path } => {
                let key = (root.artifact_uri.clone(), path.clone());
                if !self.data.artifact_lists.contains(&key) {
                    self.data.artifact_lists.set_loading(key.clone());
                    let g = self.next_generation();
                    self.worker.send(g, Request::ListArtifacts { root, path });
                }
            }
            Command::PreviewArtifact { root, path } => {
                let key = (root.artifact_uri.clone(), path.clone());
                if !self.data.artifact_previews.contains(&key) {
                    self.data.artifact_previews.set_loading(key.clone());
                    let g = self.next_generation();
                    let limit = ReadLimit::default();
                    self.worker
                        .send(g, Request::ReadArtifact { root, path, limit });
                }
            }
            Command::ReadMoreOfArtifact { root, path, limit } => {
                // The preview shown stays (it is replaced when the worker answers).
                let g = self.next_generation();
                self.worker
                    .send(g, Request::ReadArtifact { root, path, limit });
            }
            Command::OpenArtifact { root, path } => {
                let g = self.next_generation();
                self.worker.send(g, Request::LocalCopy { root, path });
            }
            Command::SaveAs { file_name, bytes } => {
                let tx = self.dialogs.0.clone();
                let ctx = ctx.clone();
                let spawned = std::thread::Builder::new()
                    .name("mlscope-dialog".into())
                    .spawn(move || {
                        if let Some(path) =
                            rfd::FileDialog::new().set_file_name(&file_name).save_file()
                        {
                            let _ = tx.send(DialogResult::Save { path, bytes });
                            ctx.request_repaint();
                        }
                    });
                if spawned.is_err() {
                    self.error("cannot show the save dialog");
                }
            }
            Command::ExportPng { file_name, rect } => {
                let tx = self.dialogs.0.clone();
                let repaint = ctx.clone();
                let ppp = ctx.pixels_per_point();
                ctx.request_screenshot(move |image| {
                    let region = image.region(&rect, Some(ppp));
                    let _ = tx.send(DialogResult::Png {
                        file_name,
                        bytes: encode_png(&region),
                    });
                    repaint.request_repaint();
                });
            }
            Command::Copy(text) => ctx.copy_text(text),
            Command::SetDark(dark) => self.data.persisted.dark = dark,
            Command::SetNameQuery(text) => self.data.filter.name_query = text,
            Command::SortBy { column, add } => apply_sort_click(&mut self.data.sort, column, add),
            Command::ClearSort => self.data.sort.clear(),
            Command::SetMetricAgg { key, agg } => {
                self.data.persisted.columns.metric_agg.insert(key, agg);
            }
            Command::ShowColumn { id, shown } => {
                let prefs = &mut self.data.persisted.columns;
                if shown {
                    prefs.hidden.remove(&id);
                    prefs.shown.insert(id);
                } else {
                    prefs.shown.remove(&id);
                    prefs.hidden.insert(id);
                }
            }
            Command::ResetColumns => {
                let prefs = &mut self.data.persisted.columns;
                prefs.shown.clear();
                prefs.hidden.clear();
                prefs.order.clear();
            }
            Command::SetChartOptions(options) => self.data.persisted.charts = options,
            Command::SetReadOnly(ro) => self.data.read_only = ro,
            Command::Notify(text) => self.info(text),
            Command::AssignRunColors(colors) => self.data.persisted.run_colors.extend(colors),
            Command::SetRunColor { run_id, rgb } => {
                self.data.persisted.run_colors.insert(run_id, rgb);
            }
            Command::HoverRun(run_id) => self.data.hovered_run = run_id,
            Command::SetRunKeyShare(share) => {
                self.data.persisted.run_key_share =
                    share.clamp(MIN_RUN_KEY_SHARE, 1.0 - MIN_RUN_KEY_SHARE);
            }
            Command::ToggleHiddenFromCharts(run_id) => {
                if !self.data.hidden_from_charts.remove(&run_id) {
                    self.data.hidden_from_charts.insert(run_id);
                }
            }
            Command::SetColumnOrder(order) => self.data.persisted.columns.order = order,
            Command::TogglePinned(run_id) => {
                if let Some(run) = self.run_set().and_then(|s| s.get(&run_id)).cloned() {
                    super::super::runs_table::toggle_pin(
                        &mut self.data.persisted.pinned_runs,
                        &run,
                    );
                    self.data.rows.key = None; // the rows are built again
                }
            }
        }
    }

    fn select(&mut self, run_id: String, mode: SelectMode) {
        match mode {
            SelectMode::Replace => {
                self.data.selection.clear();
                self.data.selection.insert(run_id.clone());
                self.anchor = Some(run_id.clone());
            }
            SelectMode::Toggle => {
                if !self.data.selection.remove(&run_id) {
                    self.data.selection.insert(run_id.clone());
                }
                self.anchor = Some(run_id.clone());
            }
            SelectMode::Extend => {
                let ids = self.shown_run_ids();
                let to = ids.iter().position(|i| *i == run_id);
                let from = self
                    .anchor
                    .as_ref()
                    .and_then(|a| ids.iter().position(|i| i == a))
                    .or(to);
                if let (Some(a), Some(b)) = (from, to) {
                    let (lo, hi) = (a.min(b), a.max(b));
                    self.data.selection = ids[lo..=hi].iter().cloned().collect();
                } else {
                    self.data.selection.insert(run_id.clone());
                }
            }
        }
        self.data.focus = Some(run_id);
    }

    fn move_focus(&mut self, delta: i64, extend: bool) {
        let ids = self.shown_run_ids();
        if ids.is_empty() {
            return;
        }
        let cur = self
            .data
            .focus
            .as_ref()
            .and_then(|f| ids.iter().position(|i| i == f));
        let next = match cur {
            None => 0,
            Some(c) => (c as i64 + delta).clamp(0, ids.len() as i64 - 1) as usize,
        };
        let id = ids[next].clone();
        if extend {
            self.select(id, SelectMode::Extend);
        } else {
            self.select(id, SelectMode::Replace);
        }
        self.scroll_to_row = Some(next);
    }

    fn spawn_dialog(&mut self, ctx: &egui::Context, database: bool) {
        self.spawn_open_dialog(ctx, database, DialogResult::Open);
    }

    /// The native dialog picking a second store.
    pub(super) fn spawn_second_dialog(&mut self, ctx: &egui::Context, database: bool) {
        self.spawn_open_dialog(ctx, database, DialogResult::OpenSecond);
    }

    fn spawn_open_dialog(
        &mut self,
        ctx: &egui::Context,
        database: bool,
        result: fn(std::path::PathBuf) -> DialogResult,
    ) {
        let tx = self.dialogs.0.clone();
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("mlscope-dialog".into())
            .spawn(move || {
                let picked = if database {
                    rfd::FileDialog::new()
                        .set_title("Open an MLflow database")
                        .add_filter("SQLite database", &["db", "sqlite", "sqlite3"])
                        .pick_file()
                } else {
                    rfd::FileDialog::new()
                        .set_title("Open an mlruns folder, or the project folder holding mlruns/ or mlflow.db")
                        .pick_folder()
                };
                if let Some(p) = picked {
                    let _ = tx.send(result(p));
                    ctx.request_repaint();
                }
            });
        if spawned.is_err() {
            self.error("cannot show the open dialog");
        }
    }

    pub(super) fn receive_dialogs(&mut self) {
        while let Ok(result) = self.dialogs.1.try_recv() {
            match result {
                DialogResult::Open(p) => self.open_store(p.display().to_string()),
                DialogResult::OpenSecond(p) => self.open_second_store(p.display().to_string()),
                DialogResult::Save { path, bytes } => {
                    let g = self.next_generation();
                    self.worker.send(g, Request::SaveFile { path, bytes });
                }
                DialogResult::Png { file_name, bytes } => match bytes {
                    Ok(bytes) => self.commands.push(Command::SaveAs { file_name, bytes }),
                    Err(e) => self.error(e),
                },
            }
        }
    }
}

fn encode_png(image: &egui::ColorImage) -> Result<Vec<u8>, String> {
    let [w, h] = image.size;
    let raw: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
    let buf = image::RgbaImage::from_raw(w as u32, h as u32, raw)
        .ok_or_else(|| "cannot encode the chart image".to_string())?;
    let mut out = std::io::Cursor::new(Vec::new());
    buf.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| format!("cannot encode the chart image: {e}"))?;
    Ok(out.into_inner())
}
