//! The app: the [`App`] struct and its frame. The rest of it is split by concern, as rerun
//! splits its `app/`:
//!
//! * [`answers`]: applying the worker's answers to the data views read.
//! * [`live`]: live refresh (the store's change feed turned into the narrowest reads).
//! * [`apply`]: the requests the app sends, and applying the commands views sent.
//! * [`chrome`]: the menu and status bars, the bottom pane's tabs, windows, dialogs, keys.
//!
//! A frame reads top to bottom: receive answers, input, rows; draw the chrome and the panels
//! (each panel gets a [`ViewCtx`] borrowed from [`ViewData`] and sends commands through it);
//! windows; apply the commands; trim memory; poll the change feed.

mod answers;
mod apply;
mod chrome;
mod live;
mod second_store;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use crate::error::StoreWarning;
use crate::model::Run;
use crate::store::TrackingStore;
use crate::watch::{ChangeFeed, FeedMode};

use super::artifacts_panel::ArtifactsPanel;
use super::cache::Entry;
use super::charts::{self, Charts};
use super::commands::Command;
use super::compare::Compare;
use super::context::{Histories, ViewData};
use super::experiments_panel::ExperimentsPanel;
use super::filter_bar::{FilterBar, FilterError};
use super::run_details::RunDetails;
use super::runs_model::{ColumnId, MetricAgg, RunSet, SortValue, build_rows, sort_value};
use super::runs_table::RunsTable;
use super::settings::{Persisted, ViewerOptions};
use super::theme;
use super::worker::router::Router;
use super::worker::{Worker, WriteOp};

/// Key under which the UI state is persisted.
pub(crate) const STORAGE_KEY: &str = "mlscope-viewer";
/// Time spent draining worker answers per frame before asking for another frame.
const ANSWER_BUDGET: Duration = Duration::from_millis(8);

/// A message shown in the window (errors of writes, exports…).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The text.
    pub text: String,
    /// Whether it is an error.
    pub is_error: bool,
    /// The write that undoes what the message reports (restoring deleted runs), offered as an
    /// "Undo" button on the message.
    pub undo: Option<WriteOp>,
}

/// A confirmation the user must give before a change.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    /// The question.
    pub text: String,
    /// What happens on yes.
    pub op: WriteOp,
}

/// Frame time statistics (logged with `MLSCOPE_VIEWER_TIMINGS=1`).
#[derive(Debug, Default)]
struct Perf {
    /// Recent frame times (UI thread, ms).
    frame_ms: Vec<f32>,
    last_log: Option<Instant>,
    /// Opening time of the store.
    opened_at: Option<Instant>,
}

impl Perf {
    fn record(&mut self, ms: f32) {
        self.frame_ms.push(ms);
        if self.frame_ms.len() > 600 {
            self.frame_ms.drain(..300);
        }
        if timings_enabled() {
            let now = Instant::now();
            if self
                .last_log
                .is_none_or(|t| now - t > Duration::from_secs(2))
            {
                let (p50, p95, max) = self.summary();
                eprintln!(
                    "mlscope-viewer: frame ms p50 {p50:.2} p95 {p95:.2} max {max:.2} over {} frames",
                    self.frame_ms.len()
                );
                self.frame_ms.clear();
                self.last_log = Some(now);
            }
        }
    }

    /// Median, 95th percentile and maximum of recent frame times (ms).
    fn summary(&self) -> (f32, f32, f32) {
        if self.frame_ms.is_empty() {
            return (0.0, 0.0, 0.0);
        }
        let mut v = self.frame_ms.clone();
        v.sort_by(f32::total_cmp);
        let at = |q: f32| v[((v.len() - 1) as f32 * q) as usize];
        (at(0.5), at(0.95), v[v.len() - 1])
    }
}

/// A file dialog's outcome, sent from its thread.
#[derive(Debug)]
enum DialogResult {
    Open(PathBuf),
    /// A store picked to open as the second store.
    OpenSecond(PathBuf),
    Save {
        path: PathBuf,
        bytes: Vec<u8>,
    },
    Png {
        file_name: String,
        bytes: Result<Vec<u8>, String>,
    },
}

/// The panels, each owning its own state.
#[derive(Debug, Default)]
struct Panels {
    experiments: ExperimentsPanel,
    filter_bar: FilterBar,
    runs_table: RunsTable,
    charts: Charts,
    compare: Compare,
    details: RunDetails,
    artifacts: ArtifactsPanel,
    images: super::image_grid::ImageGrid,
}

/// The viewer application.
pub struct App {
    /// What views read (through a [`ViewCtx`]).
    data: ViewData,
    panels: Panels,
    /// The stores' workers (the first store's, and a second one's when one is open).
    worker: Router,
    generation: u64,
    /// The store: loading (opening), ready (its URI) or failed (why).
    store: Option<Entry<String>>,
    /// What the user asked to open.
    store_request: Option<String>,
    /// What was found inside the folder the user chose (`mlruns/ inside /x`), shown in the
    /// status bar.
    store_found_inside: Option<String>,
    /// A chosen folder holding both `mlruns/` and `mlflow.db`, and the two, while the user
    /// picks one.
    choose_store: Option<(String, Vec<String>)>,
    experiments_generation: u64,
    /// Experiments that could not be read.
    experiment_warnings: Vec<StoreWarning>,
    /// The shown experiment was picked by the app, not the user (it may move to one with runs).
    auto_selected: bool,
    /// The first view of a store: select its latest leaf runs once they are read.
    preselect_runs: bool,
    /// Changes whenever a parent is expanded or collapsed (memoisation key of the rows).
    collapsed_version: u64,
    /// Where Shift+click and Shift+arrows extend the selection from.
    anchor: Option<String>,
    /// Scroll the table to this row on the next frame.
    scroll_to_row: Option<usize>,
    /// A pending confirmation.
    confirm: Option<Confirm>,
    /// Messages shown in the window.
    messages: Vec<Message>,
    /// Commands sent during this frame (by the chrome, the keyboard, the views).
    commands: Vec<Command>,
    /// Whether the damaged-items window is open.
    show_warnings: bool,
    /// Whether the keyboard help window is open.
    show_keyboard_help: bool,
    /// Frame timings.
    perf: Perf,
    /// The store's change feed (live refresh), while one is open.
    live: Option<ChangeFeed>,
    /// How the feed learns of changes (shown in the status bar).
    live_mode: Option<FeedMode>,
    /// Which runs the store's file feed watches (live refresh), once it said.
    live_coverage: Option<crate::watch::Coverage>,
    /// Changes reported while the rows were being read, applied once they are in.
    live_pending: std::collections::BTreeSet<crate::watch::Change>,
    /// The runs search whose rows the change feed was asked to follow.
    live_followed_search: Option<u64>,
    /// Metric histories being read incrementally, and those changed again meanwhile.
    tails_in_flight: HashSet<(String, String)>,
    tails_again: HashSet<(String, String)>,
    /// The second store's change feed, while one is open.
    second_live: Option<ChangeFeed>,
    /// The second store just opened: show one of its experiments when they arrive.
    select_in_second: bool,
    /// The request for the second store's experiment logged to last, while it is asked.
    second_latest: Option<u64>,
    /// Select the second store's latest runs when its runs arrive.
    preselect_second: bool,
    /// The "Open second store" window.
    open_second_window: second_store::OpenSecondWindow,
    /// Wakes the UI when the feed has news.
    live_waker: Arc<std::sync::Mutex<Option<egui::Context>>>,
    dialogs: (Sender<DialogResult>, Receiver<DialogResult>),
    theme_applied: Option<bool>,
    /// Whether the fallback font was added to the context.
    fonts_installed: bool,
    repaint_ctx: Option<egui::Context>,
}

impl App {
    /// A viewer that opens `options.store` (if any) on its worker thread.
    pub fn new(options: ViewerOptions, persisted: Persisted) -> App {
        let mut app = App::blank(Worker::spawn(None), persisted, options.read_only);
        let uri = options
            .store
            .or_else(|| std::env::var("MLFLOW_TRACKING_URI").ok())
            .filter(|s| !s.trim().is_empty());
        if let Some(uri) = uri {
            app.open_store(uri);
        }
        app
    }

    /// A viewer on an already open store (tests, embedding).
    pub fn new_with_store(store: Arc<dyn TrackingStore>, read_only: bool) -> App {
        let uri = store.tracking_uri();
        let mut app = App::blank(Worker::spawn(Some(store)), Persisted::default(), read_only);
        app.store = Some(Entry::Ready(Arc::new(uri.clone())));
        app.store_request = Some(uri.clone());
        app.perf.opened_at = Some(Instant::now());
        app.start_live(&uri);
        app.request_experiments();
        app
    }

    fn blank(worker: Worker, persisted: Persisted, read_only: bool) -> App {
        App {
            data: ViewData::new(persisted, read_only),
            panels: Panels::default(),
            worker: Router::new(worker),
            generation: 0,
            store: None,
            store_request: None,
            store_found_inside: None,
            choose_store: None,
            experiments_generation: 0,
            experiment_warnings: Vec::new(),
            auto_selected: false,
            preselect_runs: false,
            collapsed_version: 0,
            anchor: None,
            scroll_to_row: None,
            confirm: None,
            messages: Vec::new(),
            commands: Vec::new(),
            show_warnings: false,
            show_keyboard_help: false,
            perf: Perf::default(),
            live: None,
            live_mode: None,
            live_coverage: None,
            live_pending: Default::default(),
            live_followed_search: None,
            tails_in_flight: HashSet::new(),
            tails_again: HashSet::new(),
            second_live: None,
            select_in_second: false,
            second_latest: None,
            preselect_second: false,
            open_second_window: second_store::OpenSecondWindow::default(),
            live_waker: Arc::new(std::sync::Mutex::new(None)),
            dialogs: std::sync::mpsc::channel(),
            theme_applied: None,
            fonts_installed: false,
            repaint_ctx: None,
        }
    }

    /// Restores persisted state from eframe's storage.
    pub fn load_persisted(storage: Option<&dyn eframe::Storage>) -> Persisted {
        storage
            .and_then(|s| eframe::get_value(s, STORAGE_KEY))
            .unwrap_or_default()
    }

    /// Whether every request was answered (tests wait for this).
    pub fn is_idle(&self) -> bool {
        self.worker.is_idle()
    }

    /// The loaded runs, if any.
    pub fn run_set(&self) -> Option<&Arc<RunSet>> {
        self.data.runs.entry.ready()
    }

    /// Names of the shown rows, in order (tests).
    pub fn shown_run_names(&self) -> Vec<String> {
        let Some(set) = self.run_set() else {
            return Vec::new();
        };
        self.data
            .rows
            .rows
            .iter()
            .map(|r| set.runs[r.run].info.run_name.clone())
            .collect()
    }

    fn next_generation(&mut self) -> u64 {
        self.generation += 1;
        self.generation
    }

    /// Shows an error message in the window.
    fn error(&mut self, text: impl Into<String>) {
        self.messages.push(Message {
            text: text.into(),
            is_error: true,
            undo: None,
        });
    }

    /// Shows an information message in the window.
    fn info(&mut self, text: impl Into<String>) {
        self.messages.push(Message {
            text: text.into(),
            is_error: false,
            undo: None,
        });
    }

    /// Shows an information message with an "Undo" button that sends `undo` to the worker.
    fn info_with_undo(&mut self, text: impl Into<String>, undo: WriteOp) {
        self.messages.push(Message {
            text: text.into(),
            is_error: false,
            undo: Some(undo),
        });
    }

    /// Rebuilds the shown rows when their inputs changed.
    fn update_rows(&mut self) {
        let d = &self.data;
        let Some(set) = d.runs.entry.ready().cloned() else {
            self.data.rows.rows.clear();
            return;
        };
        let key = (
            set.version,
            d.filter.name_query.clone(),
            d.sort.clone(),
            self.collapsed_version,
            if d.sort
                .iter()
                .any(|s| matches!(s.column, ColumnId::Metric(_)))
            {
                d.histories_version
            } else {
                0
            },
        );
        if d.rows.key.as_ref() == Some(&key) {
            return;
        }
        let names: HashMap<String, String> = d
            .experiments
            .ready()
            .map(|e| {
                e.iter()
                    .map(|e| (e.experiment_id.clone(), e.name.to_lowercase()))
                    .collect()
            })
            .unwrap_or_default();
        let exp_name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
        let view = d.ctx();
        let metric = |r: &Run, k: &str| view.metric_value(r, k, view.metric_agg(k));
        let value_of =
            |r: &Run, c: &ColumnId| -> SortValue { sort_value(r, c, &exp_name, &metric) };
        let pinned = |r: &Run| super::runs_model::is_pinned(&d.persisted.pinned_runs, r);
        let rows = build_rows(
            &set,
            &d.filter.name_query,
            &d.collapsed,
            &value_of,
            &d.sort,
            &pinned,
        );
        self.data.rows.rows = rows;
        self.data.rows.key = Some(key);
    }

    // ----- the frame ---------------------------------------------------------------------------

    /// Draws the whole viewer into `ui` (the eframe app and the tests call this).
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let frame_start = Instant::now();
        let ctx = ui.ctx().clone();
        if self.repaint_ctx.is_none() {
            self.worker.set_repaint_context(&ctx);
            self.repaint_ctx = Some(ctx.clone());
            if let Ok(mut slot) = self.live_waker.lock() {
                *slot = Some(ctx.clone());
            }
        }
        if !self.fonts_installed {
            super::fonts::install(&ctx);
            self.fonts_installed = true;
        }
        if self.theme_applied != Some(self.data.persisted.dark) {
            theme::apply(&ctx, self.data.persisted.dark);
            self.theme_applied = Some(self.data.persisted.dark);
        }
        self.receive_answers(&ctx);
        self.receive_dialogs();
        self.handle_window_input(&ctx);
        self.update_rows();
        if self.data.store_key != self.store_request {
            self.data.store_key.clone_from(&self.store_request);
        }

        egui::Panel::top("menu_bar").show(ui, |ui| self.menu_bar_ui(ui));
        egui::Panel::bottom("status_bar").show(ui, |ui| self.status_bar_ui(ui));
        // The panels read the data through a context and send commands through it.
        let mut view = self.data.ctx();
        view.scroll_to_row = self.scroll_to_row.take();
        let panels = &mut self.panels;
        if matches!(self.store, Some(Entry::Ready(_))) {
            egui::Panel::left("experiments")
                .resizable(true)
                .default_size(theme::EXPERIMENTS_PANEL_WIDTH)
                .show(ui, |ui| panels.experiments.show(ui, &view));
            let height = ui.available_height();
            egui::Panel::bottom("selection")
                .resizable(true)
                .default_size((height * 0.5).max(200.0))
                .min_size(120.0)
                .show(ui, |ui| panels.bottom_pane_ui(ui, &view));
            egui::CentralPanel::default().show(ui, |ui| {
                super::experiments_panel::description_ui(ui, &view);
                panels.filter_bar.show(ui, &view);
                panels.runs_table.show(ui, &view);
            });
        } else {
            let store = self.store.as_ref();
            egui::CentralPanel::default().show(ui, |ui| chrome::empty_state_ui(ui, store, &view));
        }
        panels.runs_table.column_chooser_window(&ctx, &view);
        self.commands.extend(view.into_commands());
        self.windows_ui(&ctx);
        self.open_second_window_ui(&ctx);
        self.apply_commands(&ctx);
        self.trim_memory();
        self.poll_live();
        self.worker.flush();
        if self.data.runs.loading || !self.worker.is_idle() {
            // Keep the progress indicator moving; answers wake us up anyway.
            ctx.request_repaint_after(Duration::from_millis(250));
        }
        self.perf.record(frame_start.elapsed().as_secs_f32() * 1e3);
    }

    /// Ends a frame's memory bookkeeping: drops histories no view read in this frame while they
    /// weigh more than [`charts::HISTORY_BUDGET_BYTES`], and the chart data derived from dropped
    /// ones.
    fn trim_memory(&mut self) {
        let histories = &mut self.data.histories;
        if histories.evict_unused(charts::HISTORY_BUDGET_BYTES, charts::series_bytes) > 0 {
            self.data.histories_version += 1;
        }
        self.panels.charts.trim(&self.data.histories);
        self.data.histories.tick();
        let previews = &mut self.data.artifact_previews;
        previews.evict_unused(
            super::image_grid::PREVIEW_BUDGET_BYTES,
            super::image_grid::preview_bytes,
        );
        previews.tick();
    }

    // ----- what tests read and drive ---------------------------------------------------------

    /// Queues a command, applied after the next frame (tests drive the app with these).
    #[doc(hidden)]
    pub fn send(&mut self, command: Command) {
        self.commands.push(command);
    }

    /// Selected run ids.
    #[doc(hidden)]
    pub fn selection(&self) -> &std::collections::BTreeSet<String> {
        &self.data.selection
    }

    /// Experiments whose runs are shown.
    #[doc(hidden)]
    pub fn selected_experiments(&self) -> &std::collections::BTreeSet<String> {
        &self.data.selected_experiments
    }

    /// The experiments.
    #[doc(hidden)]
    pub fn experiments(&self) -> &Entry<Vec<crate::model::Experiment>> {
        &self.data.experiments
    }

    /// The filter's error, as shown under the bar.
    #[doc(hidden)]
    pub fn filter_error(&self) -> &Option<FilterError> {
        &self.data.filter.error
    }

    /// Runs that could not be read.
    #[doc(hidden)]
    pub fn run_warnings(&self) -> &[StoreWarning] {
        &self.data.runs.warnings
    }

    /// Metric histories.
    #[doc(hidden)]
    pub fn histories(&self) -> &Histories {
        &self.data.histories
    }

    /// The value of a metric of a run for a summary (see [`ViewCtx::metric_value`]).
    #[doc(hidden)]
    pub fn metric_value(&self, run: &Run, key: &str, agg: MetricAgg) -> Option<f64> {
        self.data.ctx().metric_value(run, key, agg)
    }

    /// The Charts panel.
    #[doc(hidden)]
    pub fn charts(&self) -> &Charts {
        &self.panels.charts
    }

    /// Persisted UI state, to change.
    #[doc(hidden)]
    pub fn persisted_mut(&mut self) -> &mut Persisted {
        &mut self.data.persisted
    }

    /// Whether every edit control is off.
    #[doc(hidden)]
    pub fn is_read_only(&self) -> bool {
        self.data.read_only
    }

    /// The pending confirmation.
    #[doc(hidden)]
    pub fn confirm(&self) -> Option<&Confirm> {
        self.confirm.as_ref()
    }

    /// Messages shown in the window.
    #[doc(hidden)]
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// A listed artifact folder, by the run's artifact URI and the folder's path.
    #[doc(hidden)]
    pub fn artifact_list(
        &self,
        artifact_uri: &str,
        path: &str,
    ) -> Option<&Entry<Vec<super::artifact_preview::ArtifactEntry>>> {
        self.data
            .artifact_lists
            .peek(&(artifact_uri.to_string(), path.to_string()))
    }

    /// A read artifact preview, by the run's artifact URI and the file's path.
    #[doc(hidden)]
    pub fn artifact_preview(
        &self,
        artifact_uri: &str,
        path: &str,
    ) -> Option<&Entry<super::artifact_preview::Preview>> {
        self.data
            .artifact_previews
            .peek(&(artifact_uri.to_string(), path.to_string()))
    }

    /// The folder holding both `mlruns/` and `mlflow.db` the user is asked about, if any.
    #[doc(hidden)]
    pub fn store_choice(&self) -> Option<&(String, Vec<String>)> {
        self.choose_store.as_ref()
    }

    /// Opens the column chooser window.
    #[doc(hidden)]
    pub fn open_column_chooser(&mut self) {
        self.panels.runs_table.show_column_chooser = true;
    }

    /// Time from opening the store to the first rows.
    #[doc(hidden)]
    pub fn time_to_first_rows(&self) -> Option<Duration> {
        self.data.runs.time_to_first_rows
    }

    /// Recent frame times (UI thread, ms).
    #[doc(hidden)]
    pub fn frame_times_ms(&self) -> &[f32] {
        &self.perf.frame_ms
    }

    /// How the change feed learns of changes, once it knows.
    #[doc(hidden)]
    pub fn live_mode(&self) -> Option<FeedMode> {
        self.live_mode
    }

    /// Turns live refresh on or off.
    #[doc(hidden)]
    pub fn set_live_refresh(&mut self, on: bool) {
        self.data.persisted.live_refresh = on;
    }
}

/// Whether `MLSCOPE_VIEWER_TIMINGS` asks for timing logs on stderr (read once).
fn timings_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("MLSCOPE_VIEWER_TIMINGS").is_some_and(|v| !v.is_empty()))
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        App::ui(self, ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, &self.data.persisted);
    }
}
