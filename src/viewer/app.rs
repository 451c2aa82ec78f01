//! The app: state, the frame (drain worker answers under a time budget, draw the panes), and
//! applying the commands the views emitted.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use crate::error::{ErrorCode, StoreWarning};
use crate::model::{Experiment, Run, ViewType};
use crate::store::TrackingStore;

use super::artifact_preview::{ArtifactEntry, Preview};
use super::cache::{Cache, Entry};
use super::commands::{Command, SelectMode, Tab};
use super::filter_bar::{self, FilterError};
use super::runs_model::{
    ColumnId, ColumnPrefs, MetricAgg, Row, RunSet, SortKey, SortValue, build_rows, sort_value,
};
use super::worker::{
    Answer, Failure, Payload, Request, RequestKey, Series, TailAnswer, Worker, WriteOp,
};
use super::{artifacts_panel, charts, compare, experiments_panel, run_details, runs_table, theme};
use crate::watch::{Change, ChangeFeed, FeedEvent, FeedMode};

/// Key under which the UI state is persisted.
const STORAGE_KEY: &str = "mlscope-viewer";
/// Time spent draining worker answers per frame before asking for another frame.
const ANSWER_BUDGET: Duration = Duration::from_millis(8);
/// Most live changes applied per frame (the rest wait for the next frame).
const MAX_LIVE_EVENTS_PER_FRAME: usize = 256;
/// Most recent stores remembered.
const MAX_RECENT: usize = 10;

/// UI state kept between sessions (through eframe's storage).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Persisted {
    /// Recently opened stores, newest first.
    pub recent_stores: Vec<String>,
    /// Dark theme?
    pub dark: bool,
    /// Column choices.
    pub columns: ColumnPrefs,
    /// Chart options.
    pub charts: charts::ChartOptions,
    /// The bottom pane's tab.
    pub tab: Tab,
    /// Experiments last shown, per store.
    pub last_experiments: BTreeMap<String, Vec<String>>,
    /// Follow changes of the store as it is written (file events, or polling).
    pub live_refresh: bool,
}

impl Default for Persisted {
    fn default() -> Self {
        Persisted {
            recent_stores: Vec::new(),
            dark: true,
            columns: ColumnPrefs::default(),
            charts: charts::ChartOptions::default(),
            tab: Tab::Charts,
            last_experiments: BTreeMap::new(),
            live_refresh: true,
        }
    }
}

/// Options of a viewer session.
#[derive(Debug, Clone, Default)]
pub struct ViewerOptions {
    /// Store to open at start (path or tracking URI).
    pub store: Option<String>,
    /// Disable every edit control.
    pub read_only: bool,
}

/// A message shown in the window (errors of writes, exports…).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The text.
    pub text: String,
    /// Whether it is an error.
    pub is_error: bool,
}

/// The runs of the shown experiments, as loaded.
#[derive(Debug)]
pub struct RunsState {
    /// The runs (kept while a new search is running, and while the filter is invalid).
    pub entry: Entry<RunSet>,
    /// Generation of the search in progress (answers of older searches are dropped).
    pub generation: u64,
    /// Pages received so far of the search in progress.
    pub partial: Vec<Arc<Run>>,
    /// Whether the search in progress has more pages to come.
    pub loading: bool,
    /// Whether no page of the search in progress has arrived yet.
    pub awaiting_first_page: bool,
    /// Runs that could not be read, with the reason.
    pub warnings: Vec<StoreWarning>,
    /// When the search in progress was sent.
    pub started: Instant,
    /// Time from opening the store to the first rows.
    pub time_to_first_rows: Option<Duration>,
}

/// The shown rows and columns, memoised on their inputs.
#[derive(Debug, Default)]
pub struct RowsMemo {
    key: Option<(u64, String, Vec<SortKey>, u64, u64)>,
    /// The rows.
    pub rows: Vec<Row>,
}

/// Frame time statistics (logged with `MLSCOPE_VIEWER_TIMINGS=1`).
#[derive(Debug, Default)]
pub struct Perf {
    /// Recent frame times (UI thread, ms).
    pub frame_ms: Vec<f32>,
    last_log: Option<Instant>,
    /// Opening time of the store.
    pub opened_at: Option<Instant>,
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
    pub fn summary(&self) -> (f32, f32, f32) {
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
    Save {
        path: PathBuf,
        bytes: Vec<u8>,
    },
    Png {
        file_name: String,
        bytes: Result<Vec<u8>, String>,
    },
}

/// A confirmation the user must give before a change.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    /// The question.
    pub text: String,
    /// What happens on yes.
    pub op: WriteOp,
}

/// The viewer application.
pub struct App {
    pub(crate) worker: Worker,
    generation: u64,
    /// Persisted UI state.
    pub persisted: Persisted,
    /// Edit controls disabled.
    pub read_only: bool,
    /// The store: loading (opening), ready (its URI) or failed (why).
    pub store: Option<Entry<String>>,
    /// What the user asked to open.
    pub store_request: Option<String>,
    /// The experiments.
    pub experiments: Entry<Vec<Experiment>>,
    experiments_generation: u64,
    /// Experiments that could not be read.
    pub experiment_warnings: Vec<StoreWarning>,
    /// Active-run counts per experiment.
    pub run_counts: BTreeMap<String, usize>,
    /// Experiments whose runs are shown.
    pub selected_experiments: BTreeSet<String>,
    /// Whether the experiments list shows deleted ones.
    pub show_deleted_experiments: bool,
    /// The shown experiment was picked by the app, not the user (it may move to one with runs).
    auto_selected: bool,
    /// The experiments list's search box.
    pub experiment_search: String,
    /// The runs.
    pub runs: RunsState,
    /// The MLflow filter string being typed.
    pub filter_text: String,
    /// The filter last sent to the store.
    pub applied_filter: String,
    /// The filter's error, shown under the bar.
    pub filter_error: Option<FilterError>,
    /// Recent valid filters (Up/Down in the filter bar), newest last.
    pub filter_history: Vec<String>,
    /// Run-name quick filter.
    pub name_query: String,
    /// Active, deleted or all runs.
    pub run_view: ViewType,
    /// Sort keys of the table (first is primary).
    pub sort: Vec<SortKey>,
    /// Parent runs whose children are hidden.
    pub collapsed: HashSet<String>,
    collapsed_version: u64,
    /// Selected run ids.
    pub selection: BTreeSet<String>,
    /// The focused run (keyboard cursor, Run tab).
    pub focus: Option<String>,
    anchor: Option<String>,
    /// Scroll the table to this row on the next frame.
    pub scroll_to_row: Option<usize>,
    /// Shown rows, memoised.
    pub rows: RowsMemo,
    /// Metric histories by (run, key).
    pub histories: Cache<(String, String), Series>,
    /// Changes whenever a history arrives (memoisation key of charts and summaries).
    pub histories_version: u64,
    /// Chart view state (memoised reductions, key filter, export…).
    pub charts: charts::ChartsState,
    /// Run tab state (edit buffers).
    pub details: run_details::DetailsState,
    /// Artifacts tab state.
    pub artifacts: artifacts_panel::ArtifactsState,
    /// Artifact folder listings by (root, folder).
    pub artifact_lists: Cache<(String, String), Vec<ArtifactEntry>>,
    /// Artifact previews by (root, file).
    pub artifact_previews: Cache<(String, String), Preview>,
    /// Compare tab state.
    pub compare: compare::CompareState,
    /// A pending confirmation.
    pub confirm: Option<Confirm>,
    /// Messages shown in the window.
    pub messages: Vec<Message>,
    /// Commands emitted during this frame.
    pub commands: Vec<Command>,
    /// Whether the damaged-items window is open.
    pub show_warnings: bool,
    /// Whether the keyboard help window is open.
    pub show_keyboard_help: bool,
    /// Whether the column chooser is open.
    pub show_column_chooser: bool,
    /// The column chooser's search box.
    pub column_search: String,
    /// Ask the filter bar to take the keyboard focus.
    pub focus_filter: bool,
    /// Frame timings.
    pub perf: Perf,
    /// The store's change feed (live refresh), while one is open.
    live: Option<ChangeFeed>,
    /// How the feed learns of changes (shown in the status bar).
    pub live_mode: Option<FeedMode>,
    /// Metric histories being read incrementally, and those changed again meanwhile.
    tails_in_flight: HashSet<(String, String)>,
    tails_again: HashSet<(String, String)>,
    /// Wakes the UI when the feed has news.
    live_waker: Arc<std::sync::Mutex<Option<egui::Context>>>,
    dialogs: (Sender<DialogResult>, Receiver<DialogResult>),
    theme_applied: Option<bool>,
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
            worker,
            generation: 0,
            persisted,
            read_only,
            store: None,
            store_request: None,
            experiments: Entry::Loading,
            experiments_generation: 0,
            experiment_warnings: Vec::new(),
            run_counts: BTreeMap::new(),
            selected_experiments: BTreeSet::new(),
            show_deleted_experiments: false,
            auto_selected: false,
            experiment_search: String::new(),
            runs: RunsState {
                entry: Entry::Loading,
                generation: 0,
                partial: Vec::new(),
                loading: false,
                awaiting_first_page: false,
                warnings: Vec::new(),
                started: Instant::now(),
                time_to_first_rows: None,
            },
            filter_text: String::new(),
            applied_filter: String::new(),
            filter_error: None,
            filter_history: Vec::new(),
            name_query: String::new(),
            run_view: ViewType::ActiveOnly,
            sort: Vec::new(),
            collapsed: HashSet::new(),
            collapsed_version: 0,
            selection: BTreeSet::new(),
            focus: None,
            anchor: None,
            scroll_to_row: None,
            rows: RowsMemo::default(),
            histories: Cache::new(200_000),
            histories_version: 0,
            charts: charts::ChartsState::default(),
            details: run_details::DetailsState::default(),
            artifacts: artifacts_panel::ArtifactsState::default(),
            artifact_lists: Cache::new(2_000),
            artifact_previews: Cache::new(64),
            compare: compare::CompareState::default(),
            confirm: None,
            messages: Vec::new(),
            commands: Vec::new(),
            show_warnings: false,
            show_keyboard_help: false,
            show_column_chooser: false,
            column_search: String::new(),
            focus_filter: false,
            perf: Perf::default(),
            live: None,
            live_mode: None,
            tails_in_flight: HashSet::new(),
            tails_again: HashSet::new(),
            live_waker: Arc::new(std::sync::Mutex::new(None)),
            dialogs: std::sync::mpsc::channel(),
            theme_applied: None,
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
        self.runs.entry.ready()
    }

    /// Names of the shown rows, in order (tests).
    pub fn shown_run_names(&self) -> Vec<String> {
        let Some(set) = self.run_set() else {
            return Vec::new();
        };
        self.rows
            .rows
            .iter()
            .map(|r| set.runs[r.run].info.run_name.clone())
            .collect()
    }

    fn next_generation(&mut self) -> u64 {
        self.generation += 1;
        self.generation
    }

    // ----- requests ----------------------------------------------------------------------------

    fn open_store(&mut self, uri: String) {
        let g = self.next_generation();
        self.store = Some(Entry::Loading);
        self.store_request = Some(uri.clone());
        self.stop_live();
        self.experiments = Entry::Loading;
        self.experiment_warnings.clear();
        self.run_counts.clear();
        self.selected_experiments.clear();
        self.runs.entry = Entry::Loading;
        self.runs.partial.clear();
        self.runs.warnings.clear();
        self.runs.time_to_first_rows = None;
        self.selection.clear();
        self.focus = None;
        self.histories.clear();
        self.artifact_lists.clear();
        self.artifact_previews.clear();
        self.filter_error = None;
        self.perf.opened_at = Some(Instant::now());
        self.worker.send(RequestKey::Open, g, Request::Open { uri });
    }

    fn request_experiments(&mut self) {
        let g = self.next_generation();
        self.experiments_generation = g;
        let view = if self.show_deleted_experiments {
            ViewType::All
        } else {
            ViewType::ActiveOnly
        };
        self.worker
            .send(RequestKey::Experiments, g, Request::Experiments { view });
    }

    /// Sends a new runs search for the selected experiments, filter and view.
    fn request_runs(&mut self) {
        let g = self.next_generation();
        self.runs.generation = g;
        self.runs.partial.clear();
        self.runs.loading = true;
        self.runs.awaiting_first_page = true;
        self.runs.started = Instant::now();
        if !matches!(self.runs.entry, Entry::Ready(_)) {
            self.runs.entry = Entry::Loading;
        }
        self.applied_filter = self.filter_text.clone();
        self.worker.send(
            RequestKey::Runs,
            g,
            Request::Runs {
                experiment_ids: self.selected_experiments.iter().cloned().collect(),
                filter: self.filter_text.trim().to_string(),
                view: self.run_view,
            },
        );
    }

    fn request_run_counts(&mut self, ids: Vec<String>) {
        if ids.is_empty() {
            return;
        }
        let g = self.next_generation();
        self.worker.send(
            RequestKey::RunCounts,
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
            .filter(|k| !self.histories.contains(&(run_id.to_string(), (*k).clone())))
            .cloned()
            .collect();
        if missing.is_empty() {
            return;
        }
        for k in &missing {
            self.histories.set_loading((run_id.to_string(), k.clone()));
        }
        let g = self.next_generation();
        self.worker.send(
            RequestKey::Histories(run_id.to_string()),
            g,
            Request::Histories {
                run_id: run_id.to_string(),
                keys: missing,
            },
        );
    }

    // ----- answers -------------------------------------------------------------------------------

    /// Applies worker answers until the time budget is spent (then asks for another frame).
    fn receive_answers(&mut self, ctx: &egui::Context) {
        let start = Instant::now();
        while let Some(answer) = self.worker.try_recv() {
            self.apply_answer(answer);
            if start.elapsed() > ANSWER_BUDGET {
                ctx.request_repaint();
                break;
            }
        }
    }

    fn apply_answer(&mut self, answer: Answer) {
        let Answer {
            key,
            generation,
            result,
            ..
        } = answer;
        if matches!(result, Ok(Payload::Skipped)) {
            return;
        }
        match key {
            RequestKey::Open => match result {
                Ok(Payload::Opened { uri, writable }) => {
                    if !writable && !self.read_only {
                        self.read_only = true;
                        self.info("the store cannot be written here: opened read-only");
                    }
                    self.start_live(&uri);
                    let shown = self.store_request.clone().unwrap_or(uri);
                    self.store = Some(Entry::Ready(Arc::new(shown.clone())));
                    self.remember_store(shown);
                    self.request_experiments();
                }
                Ok(_) => {}
                Err(f) => self.store = Some(Entry::Failed(f.message)),
            },
            RequestKey::Experiments => {
                if generation != self.experiments_generation {
                    return;
                }
                match result {
                    Ok(Payload::Experiments {
                        experiments,
                        warnings,
                    }) => self.set_experiments(experiments, warnings),
                    Ok(_) => {}
                    Err(f) => self.experiments = Entry::Failed(f.message),
                }
            }
            RequestKey::Runs => {
                if generation != self.runs.generation {
                    return;
                }
                match result {
                    Ok(Payload::Runs {
                        runs,
                        warnings,
                        done,
                    }) => self.add_runs_page(runs, warnings, done),
                    Ok(_) => {}
                    Err(f) => self.runs_failed(f),
                }
            }
            RequestKey::RunCounts => {
                if let Ok(Payload::RunCounts(counts)) = result {
                    self.run_counts.extend(counts);
                    self.move_off_empty_experiment();
                }
            }
            RequestKey::GetRuns => match result {
                Ok(Payload::RunsRefreshed { runs, errors }) => {
                    self.patch_runs(runs);
                    for (id, e) in errors {
                        self.error(format!("cannot read run {id} again: {e}"));
                    }
                }
                Ok(_) => {}
                Err(f) => self.error(f.message),
            },
            RequestKey::Histories(run_id) => match result {
                Ok(Payload::Histories {
                    run_id,
                    series,
                    errors,
                }) => {
                    for (k, s) in series {
                        self.histories.set_ready((run_id.clone(), k), s);
                    }
                    for (k, e) in errors {
                        self.histories.set_failed((run_id.clone(), k), e);
                    }
                    self.histories_version += 1;
                }
                Ok(_) => {}
                Err(f) => {
                    let id = run_id.clone();
                    self.histories.remove_where(|(r, _)| *r == id);
                    self.error(format!(
                        "cannot read metric histories of {run_id}: {}",
                        f.message
                    ));
                }
            },
            RequestKey::Write => match result {
                Ok(Payload::Written { op, errors }) => {
                    for e in &errors {
                        self.error(e.clone());
                    }
                    self.after_write(op);
                }
                Ok(_) => {}
                Err(f) => {
                    self.error(format!("the change was not saved: {}", f.message));
                    // Show the store's real state.
                    self.refresh_runs(self.selection.iter().cloned().collect());
                }
            },
            RequestKey::ArtifactList(root, path) => match result {
                Ok(Payload::ArtifactList(entries)) => {
                    self.artifact_lists.set_ready((root, path), entries)
                }
                Ok(_) => {}
                Err(f) => self.artifact_lists.set_failed((root, path), f.message),
            },
            RequestKey::ArtifactPreview(root, path) => match result {
                Ok(Payload::ArtifactPreview(p)) => {
                    self.artifact_previews.set_ready((root, path), p)
                }
                Ok(_) => {}
                Err(f) => self.artifact_previews.set_failed((root, path), f.message),
            },
            RequestKey::Tail => {
                if let Ok(Payload::Tails(tails)) = result {
                    self.apply_tails(tails);
                } else {
                    self.tails_in_flight.clear();
                }
            }
            RequestKey::LiveRuns => {
                if let Ok(Payload::RunsRefreshed { runs, errors }) = result {
                    self.patch_runs(runs);
                    // Runs that went away (or are being written): drop them; an event brings
                    // them back.
                    let gone: HashSet<String> = errors.into_iter().map(|(id, _)| id).collect();
                    self.drop_runs(&gone);
                }
            }
            RequestKey::LocalCopy => match result {
                Ok(Payload::LocalCopy(path)) => {
                    std::thread::Builder::new()
                        .name("mlscope-open".into())
                        .spawn(move || open_externally(&path))
                        .ok();
                }
                Ok(_) => {}
                Err(f) => self.error(f.message),
            },
            RequestKey::Save => match result {
                Ok(Payload::Saved(path)) => self.info(format!("saved {}", path.display())),
                Ok(_) => {}
                Err(f) => self.error(f.message),
            },
        }
    }

    /// When the app picked an experiment that turns out empty, shows the newest one with runs.
    fn move_off_empty_experiment(&mut self) {
        if !self.auto_selected {
            return;
        }
        let empty = self
            .selected_experiments
            .iter()
            .all(|id| self.run_counts.get(id) == Some(&0));
        let Some(exps) = self.experiments.ready().cloned() else {
            return;
        };
        let all_counted = exps
            .iter()
            .all(|e| self.run_counts.contains_key(&e.experiment_id));
        if !empty || !all_counted {
            return;
        }
        self.auto_selected = false;
        let with_runs = exps.iter().find(|e| {
            e.lifecycle_stage == crate::model::LifecycleStage::Active
                && self
                    .run_counts
                    .get(&e.experiment_id)
                    .is_some_and(|n| *n > 0)
        });
        if let Some(e) = with_runs {
            self.selected_experiments = [e.experiment_id.clone()].into();
            self.request_runs();
        }
    }

    fn set_experiments(&mut self, experiments: Vec<Experiment>, warnings: Vec<StoreWarning>) {
        self.experiment_warnings = warnings;
        let ids: BTreeSet<String> = experiments
            .iter()
            .map(|e| e.experiment_id.clone())
            .collect();
        self.selected_experiments.retain(|id| ids.contains(id));
        let first_load = self.selected_experiments.is_empty();
        if first_load {
            // The experiments shown last time in this store, else the newest active one other
            // than Default (search order is newest first), else Default.
            let remembered = self
                .store_request
                .as_ref()
                .and_then(|s| self.persisted.last_experiments.get(s))
                .map(|last| {
                    last.iter()
                        .filter(|id| ids.contains(*id))
                        .cloned()
                        .collect::<BTreeSet<String>>()
                })
                .unwrap_or_default();
            if !remembered.is_empty() {
                self.selected_experiments = remembered;
            } else {
                let active =
                    |e: &&Experiment| e.lifecycle_stage == crate::model::LifecycleStage::Active;
                let pick = experiments
                    .iter()
                    .filter(active)
                    .find(|e| e.experiment_id != crate::model::DEFAULT_EXPERIMENT_ID)
                    .or_else(|| experiments.iter().find(active));
                if let Some(e) = pick {
                    self.selected_experiments.insert(e.experiment_id.clone());
                    self.auto_selected = true;
                }
            }
        }
        let others: Vec<String> = experiments
            .iter()
            .filter(|e| !self.run_counts.contains_key(&e.experiment_id))
            .map(|e| e.experiment_id.clone())
            .collect();
        self.experiments = Entry::Ready(Arc::new(experiments));
        self.request_runs();
        self.request_run_counts(others);
    }

    fn add_runs_page(&mut self, runs: Vec<Run>, warnings: Vec<StoreWarning>, done: bool) {
        self.filter_error = None;
        if std::mem::take(&mut self.runs.awaiting_first_page) {
            // The previous search's warnings stay shown until the new ones are known.
            self.runs.warnings.clear();
        }
        self.runs.warnings.extend(warnings);
        self.runs.partial.extend(runs.into_iter().map(Arc::new));
        let first = !matches!(self.runs.entry, Entry::Ready(_)) || done;
        if first || self.runs.partial.len() % 5_000 < 50 || done {
            let set = RunSet::new(self.runs.partial.clone(), self.generation);
            let visible: HashSet<&String> = set.index.keys().collect();
            self.selection.retain(|id| visible.contains(id));
            if self.focus.as_ref().is_some_and(|f| !visible.contains(f)) {
                self.focus = None;
            }
            self.runs.entry = Entry::Ready(Arc::new(set));
            if self.runs.time_to_first_rows.is_none()
                && let Some(t) = self.perf.opened_at
            {
                let elapsed = t.elapsed();
                self.runs.time_to_first_rows = Some(elapsed);
                if timings_enabled() {
                    eprintln!(
                        "mlscope-viewer: first rows after {:.1} ms ({} runs)",
                        elapsed.as_secs_f64() * 1e3,
                        self.runs.partial.len()
                    );
                }
            }
        }
        if done {
            self.runs.loading = false;
            if !self.applied_filter.trim().is_empty()
                && self.filter_history.last() != Some(&self.applied_filter)
            {
                self.filter_history.push(self.applied_filter.clone());
            }
            // Counts of the shown experiments come for free.
            if self.run_view == ViewType::ActiveOnly && self.applied_filter.trim().is_empty() {
                let mut counts: BTreeMap<String, usize> = self
                    .selected_experiments
                    .iter()
                    .map(|id| (id.clone(), 0))
                    .collect();
                for r in &self.runs.partial {
                    *counts.entry(r.info.experiment_id.clone()).or_default() += 1;
                }
                self.run_counts.extend(counts);
                self.move_off_empty_experiment();
            }
            self.runs.partial.clear();
        }
    }

    fn runs_failed(&mut self, f: Failure) {
        self.runs.loading = false;
        self.runs.partial.clear();
        if f.code == ErrorCode::InvalidParameterValue && !self.applied_filter.trim().is_empty() {
            // Keep the last good rows; say what is wrong with the filter.
            self.filter_error = Some(filter_bar::error_from_message(&f.message));
            if !matches!(self.runs.entry, Entry::Ready(_)) {
                self.runs.entry = Entry::Ready(Arc::new(RunSet::default()));
            }
        } else {
            self.runs.entry = Entry::Failed(f.message);
        }
    }

    fn patch_runs(&mut self, fresh: Vec<Run>) {
        // A run not listed yet joins only where no filter decides what is listed: an answer
        // to a read asked before the filter changed must not bring back runs it excludes.
        let unfiltered = self.applied_filter.trim().is_empty();
        let Some(set) = self.run_set() else { return };
        let mut runs: Vec<Arc<Run>> = set.runs.clone();
        let mut changed = false;
        for run in fresh {
            let keep = run.info.lifecycle_stage.matches(self.run_view)
                && unfiltered
                && self.selected_experiments.contains(&run.info.experiment_id);
            match set.index.get(&run.info.run_id) {
                Some(&i) => {
                    runs[i] = Arc::new(run);
                    changed = true;
                }
                None if keep => {
                    runs.push(Arc::new(run));
                    changed = true;
                }
                None => {}
            }
        }
        let view = self.run_view;
        runs.retain(|r| r.info.lifecycle_stage.matches(view));
        if changed || runs.len() != set.runs.len() {
            let g = self.next_generation();
            let new = RunSet::new(runs, g);
            self.selection.retain(|id| new.index.contains_key(id));
            self.runs.entry = Entry::Ready(Arc::new(new));
        }
    }

    fn refresh_runs(&mut self, run_ids: Vec<String>) {
        if run_ids.is_empty() {
            return;
        }
        let g = self.next_generation();
        self.worker
            .send(RequestKey::GetRuns, g, Request::GetRuns { run_ids });
    }

    fn after_write(&mut self, op: WriteOp) {
        match &op {
            WriteOp::DeleteRuns { run_ids } => {
                let n = run_ids.len();
                self.info(format!(
                    "deleted {n} run{} (restore them from the Deleted view)",
                    if n == 1 { "" } else { "s" }
                ));
                self.run_counts.clear();
            }
            WriteOp::RestoreRuns { run_ids } => {
                let n = run_ids.len();
                self.info(format!("restored {n} run{}", if n == 1 { "" } else { "s" }));
                self.run_counts.clear();
            }
            _ => {}
        }
        self.refresh_runs(op.run_ids());
        if self.run_counts.is_empty()
            && let Some(exps) = self.experiments.ready()
        {
            let ids = exps.iter().map(|e| e.experiment_id.clone()).collect();
            self.request_run_counts(ids);
        }
    }

    fn remember_store(&mut self, uri: String) {
        let recent = &mut self.persisted.recent_stores;
        recent.retain(|u| *u != uri);
        recent.insert(0, uri);
        recent.truncate(MAX_RECENT);
    }

    /// Shows an error message in the window.
    pub fn error(&mut self, text: impl Into<String>) {
        self.messages.push(Message {
            text: text.into(),
            is_error: true,
        });
    }

    /// Shows an information message in the window.
    pub fn info(&mut self, text: impl Into<String>) {
        self.messages.push(Message {
            text: text.into(),
            is_error: false,
        });
    }

    // ----- derived data ----------------------------------------------------------------------------

    /// The experiment name of an id.
    pub fn experiment_name(&self, id: &str) -> String {
        self.experiments
            .ready()
            .and_then(|e| e.iter().find(|e| e.experiment_id == id))
            .map_or_else(|| id.to_string(), |e| e.name.clone())
    }

    /// How a metric column summarises.
    pub fn metric_agg(&self, key: &str) -> MetricAgg {
        self.persisted
            .columns
            .metric_agg
            .get(key)
            .copied()
            .unwrap_or_default()
    }

    /// The value of a metric of a run for a summary: last from the run, min/max from the
    /// history (None until it is loaded).
    pub fn metric_value(&self, run: &Run, key: &str, agg: MetricAgg) -> Option<f64> {
        match agg {
            MetricAgg::Last => run.data.metrics.get(key).map(|m| m.value),
            MetricAgg::Min | MetricAgg::Max => {
                let s = self
                    .histories
                    .get(&(run.info.run_id.clone(), key.to_string()))?
                    .ready()?;
                let vals = s.values.iter().copied().filter(|v| !v.is_nan());
                if agg == MetricAgg::Min {
                    vals.reduce(f64::min)
                } else {
                    vals.reduce(f64::max)
                }
            }
        }
    }

    /// Rebuilds the shown rows when their inputs changed.
    pub fn update_rows(&mut self) {
        let Some(set) = self.run_set().cloned() else {
            self.rows.rows.clear();
            return;
        };
        let key = (
            set.version,
            self.name_query.clone(),
            self.sort.clone(),
            self.collapsed_version,
            if self
                .sort
                .iter()
                .any(|s| matches!(s.column, ColumnId::Metric(_)))
            {
                self.histories_version
            } else {
                0
            },
        );
        if self.rows.key.as_ref() == Some(&key) {
            return;
        }
        let names: HashMap<String, String> = self
            .experiments
            .ready()
            .map(|e| {
                e.iter()
                    .map(|e| (e.experiment_id.clone(), e.name.to_lowercase()))
                    .collect()
            })
            .unwrap_or_default();
        let exp_name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
        let metric = |r: &Run, k: &str| self.metric_value(r, k, self.metric_agg(k));
        let value_of =
            |r: &Run, c: &ColumnId| -> SortValue { sort_value(r, c, &exp_name, &metric) };
        self.rows.rows = build_rows(
            &set,
            &self.name_query,
            &self.collapsed,
            &value_of,
            &self.sort,
        );
        self.rows.key = Some(key);
    }

    /// The selected runs in row order (then any selected run not shown).
    pub fn selected_runs(&self) -> Vec<Arc<Run>> {
        let Some(set) = self.run_set() else {
            return Vec::new();
        };
        let mut out: Vec<Arc<Run>> = Vec::new();
        let mut seen = HashSet::new();
        for r in &self.rows.rows {
            let run = &set.runs[r.run];
            if self.selection.contains(&run.info.run_id) {
                seen.insert(run.info.run_id.clone());
                out.push(Arc::clone(run));
            }
        }
        for id in &self.selection {
            if !seen.contains(id)
                && let Some(r) = set.get(id)
            {
                out.push(Arc::clone(r));
            }
        }
        out
    }

    /// The focused run (or the only selected one).
    pub fn focused_run(&self) -> Option<Arc<Run>> {
        let set = self.run_set()?;
        let id = self
            .focus
            .as_ref()
            .filter(|f| self.selection.contains(*f))
            .or_else(|| self.selection.iter().next())?;
        set.get(id).cloned()
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
        if self.theme_applied != Some(self.persisted.dark) {
            theme::apply(&ctx, self.persisted.dark);
            self.theme_applied = Some(self.persisted.dark);
        }
        self.receive_answers(&ctx);
        self.receive_dialogs();
        self.handle_window_input(&ctx);
        self.update_rows();

        egui::Panel::top("menu_bar").show(ui, |ui| self.menu_bar_ui(ui));
        egui::Panel::bottom("status_bar").show(ui, |ui| self.status_bar_ui(ui));
        let open = matches!(self.store, Some(Entry::Ready(_)));
        if open {
            egui::Panel::left("experiments")
                .resizable(true)
                .default_size(theme::EXPERIMENTS_PANEL_WIDTH)
                .show(ui, |ui| experiments_panel::experiments_ui(ui, self));
            let height = ui.available_height();
            egui::Panel::bottom("selection")
                .resizable(true)
                .default_size((height * 0.5).max(200.0))
                .min_size(120.0)
                .show(ui, |ui| self.bottom_pane_ui(ui));
            egui::CentralPanel::default().show(ui, |ui| {
                super::filter_bar::filter_bar_ui(ui, self);
                runs_table::runs_table_ui(ui, self);
            });
        } else {
            egui::CentralPanel::default().show(ui, |ui| self.empty_state_ui(ui));
        }
        self.windows_ui(&ctx);
        self.apply_commands(&ctx);
        // Memory follows what is shown: histories no view read lately go above a budget.
        charts::trim_memory(self);
        self.poll_live();
        self.worker.flush();
        if self.runs.loading || !self.worker.is_idle() {
            // Keep the progress indicator moving; answers wake us up anyway.
            ctx.request_repaint_after(Duration::from_millis(250));
        }
        self.perf.record(frame_start.elapsed().as_secs_f32() * 1e3);
    }

    // ----- live refresh -------------------------------------------------------------------------

    /// Starts following the store at `uri` (its change feed runs on its own thread).
    fn start_live(&mut self, uri: &str) {
        use crate::store::{StoreLocation, parse_tracking_uri};
        self.stop_live();
        let slot = Arc::clone(&self.live_waker);
        let wake: crate::watch::Waker = Arc::new(move || {
            if let Ok(slot) = slot.lock()
                && let Some(ctx) = slot.as_ref()
            {
                ctx.request_repaint();
            }
        });
        self.live = match parse_tracking_uri(uri) {
            Ok(StoreLocation::File(root)) => Some(ChangeFeed::file_store(&root, wake)),
            Ok(StoreLocation::Sqlite(path)) => Some(ChangeFeed::sqlite(&path, wake)),
            Ok(StoreLocation::Http(_)) => Some(ChangeFeed::polling(server_poll_interval(), wake)),
            Err(_) => None,
        };
    }

    fn stop_live(&mut self) {
        self.live = None;
        self.live_mode = None;
        self.tails_in_flight.clear();
        self.tails_again.clear();
    }

    /// Applies what the change feed reported since the last frame (never touches the disk: the
    /// reads are the worker's).
    fn poll_live(&mut self) {
        let Some(feed) = &self.live else { return };
        let mut changes = BTreeSet::new();
        let mut failed = None;
        for _ in 0..MAX_LIVE_EVENTS_PER_FRAME {
            match feed.try_next() {
                Some(FeedEvent::Mode(mode)) => self.live_mode = Some(mode),
                Some(FeedEvent::Changes(c)) => changes.extend(c),
                Some(FeedEvent::Failed(why)) => failed = Some(why),
                None => break,
            }
        }
        if let Some(why) = failed {
            self.error(format!("live refresh: {why}"));
        }
        if self.persisted.live_refresh
            && !changes.is_empty()
            && matches!(self.store, Some(Entry::Ready(_)))
        {
            self.apply_changes(changes);
        }
    }

    /// Turns changes into the narrowest reads: a metric's new lines, a run read again, the
    /// experiments and runs listed again.
    pub fn apply_changes(&mut self, changes: BTreeSet<Change>) {
        let set = self.run_set().cloned();
        let known = |id: &str| set.as_ref().is_some_and(|s| s.index.contains_key(id));
        let mut relist = false;
        let mut reread: BTreeSet<String> = BTreeSet::new();
        let mut tails: Vec<(String, String)> = Vec::new();
        for change in changes {
            match change {
                Change::Everything | Change::Experiment { .. } => relist = true,
                Change::Run {
                    experiment_id,
                    run_id,
                } => {
                    if !self.selected_experiments.contains(&experiment_id) {
                        continue;
                    }
                    if known(&run_id) || self.applied_filter.trim().is_empty() {
                        reread.insert(run_id);
                    } else {
                        // A new run under a filter: the store decides whether it matches.
                        relist = true;
                    }
                }
                Change::Metric {
                    experiment_id,
                    run_id,
                    key,
                } => {
                    let followed = matches!(
                        self.histories.get(&(run_id.clone(), key.clone())),
                        Some(Entry::Ready(s)) if s.offset.is_some()
                    );
                    if followed {
                        tails.push((run_id, key));
                    } else if self.selected_experiments.contains(&experiment_id) {
                        // The table's latest value (a run's first metric line also lands here).
                        reread.insert(run_id);
                    }
                }
            }
        }
        if relist {
            self.request_experiments();
            // Every followed history: read what was appended; the others of running runs again.
            let mut stale = Vec::new();
            for ((run, key), entry) in self.histories.iter() {
                match entry {
                    Entry::Ready(s) if s.offset.is_some() => tails.push((run.clone(), key.clone())),
                    Entry::Ready(_)
                        if set.as_ref().is_some_and(|set| {
                            set.index.get(run).is_some_and(|&i| {
                                set.runs[i].info.status == crate::model::RunStatus::Running
                            })
                        }) =>
                    {
                        stale.push((run.clone(), key.clone()))
                    }
                    _ => {}
                }
            }
            if !stale.is_empty() {
                self.histories.remove_where(|k| stale.contains(k));
                self.histories_version += 1;
            }
        }
        if !reread.is_empty() {
            let g = self.next_generation();
            self.worker.send(
                RequestKey::LiveRuns,
                g,
                Request::GetRuns {
                    run_ids: reread.into_iter().collect(),
                },
            );
        }
        self.request_tails(tails);
    }

    /// Asks the worker for what was appended to these followed histories.
    fn request_tails(&mut self, tails: Vec<(String, String)>) {
        let mut items = Vec::new();
        for k in tails {
            if self.tails_in_flight.contains(&k) {
                self.tails_again.insert(k);
                continue;
            }
            if let Some(Entry::Ready(s)) = self.histories.get(&k)
                && let Some(offset) = s.offset
            {
                self.tails_in_flight.insert(k.clone());
                items.push((k.0, k.1, offset));
            }
        }
        if !items.is_empty() {
            let g = self.next_generation();
            self.worker
                .send(RequestKey::Tail, g, Request::Tail { items });
        }
    }

    /// Appends new points to the histories (each exactly once: only when read from the offset
    /// held) and moves the runs' latest values.
    fn apply_tails(&mut self, tails: Vec<TailAnswer>) {
        let mut latest: Vec<(String, crate::model::Metric)> = Vec::new();
        for t in tails {
            let k = (t.run_id.clone(), t.key.clone());
            self.tails_in_flight.remove(&k);
            let Ok(tail) = t.result else {
                // The run or file went away: read it whole when a chart asks again.
                self.histories.remove_where(|x| *x == k);
                continue;
            };
            let Some(held) = self.histories.ready_mut(&k) else {
                continue;
            };
            if held.offset != Some(t.from) {
                continue;
            }
            if tail.metrics.is_empty() && !tail.restarted && tail.next_offset == t.from {
                continue;
            }
            let s = Arc::make_mut(held);
            if tail.restarted {
                *s = Series::default();
            }
            s.extend(&tail.metrics);
            s.offset = Some(tail.next_offset);
            if let Some(newest) =
                tail.metrics
                    .iter()
                    .fold(None::<&crate::model::Metric>, |best, m| match best {
                        Some(b) if !m.is_newer_than(b) => Some(b),
                        _ => Some(m),
                    })
            {
                latest.push((t.run_id.clone(), newest.clone()));
            }
            self.histories_version += 1;
        }
        self.patch_latest(latest);
        let again: Vec<_> = self.tails_again.drain().collect();
        self.request_tails(again);
    }

    /// Moves the latest values of runs' metrics forward (the table's columns).
    fn patch_latest(&mut self, latest: Vec<(String, crate::model::Metric)>) {
        let Some(set) = self.run_set().cloned() else {
            return;
        };
        let mut fresh = Vec::new();
        for (run_id, m) in latest {
            let Some(&i) = set.index.get(&run_id) else {
                continue;
            };
            let mut run = (*set.runs[i]).clone();
            let newer = run
                .data
                .metrics
                .get(&m.key)
                .is_none_or(|cur| m.is_newer_than(cur));
            if newer {
                run.data.metrics.insert(m.key.clone(), m);
                fresh.push(run);
            }
        }
        if !fresh.is_empty() {
            self.patch_runs(fresh);
        }
    }

    /// Removes runs from the shown set.
    fn drop_runs(&mut self, gone: &HashSet<String>) {
        let Some(set) = self.run_set() else { return };
        if gone.is_empty() || !gone.iter().any(|id| set.index.contains_key(id)) {
            return;
        }
        let runs: Vec<Arc<Run>> = set
            .runs
            .iter()
            .filter(|r| !gone.contains(&r.info.run_id))
            .cloned()
            .collect();
        let g = self.next_generation();
        let new = RunSet::new(runs, g);
        self.selection.retain(|id| new.index.contains_key(id));
        if self
            .focus
            .as_ref()
            .is_some_and(|f| !new.index.contains_key(f))
        {
            self.focus = None;
        }
        self.runs.entry = Entry::Ready(Arc::new(new));
    }

    fn menu_bar_ui(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("Open folder…").clicked() {
                    self.commands.push(Command::OpenFolderDialog);
                }
                if ui.button("Open database…").clicked() {
                    self.commands.push(Command::OpenDatabaseDialog);
                }
                ui.menu_button("Open recent", |ui| {
                    if self.persisted.recent_stores.is_empty() {
                        ui.weak("Nothing opened yet");
                    }
                    for uri in self.persisted.recent_stores.clone() {
                        if ui.button(&uri).clicked() {
                            self.commands.push(Command::OpenStore(uri));
                        }
                    }
                });
                ui.separator();
                if ui.button("Reload (F5)").clicked() {
                    self.commands.push(Command::Reload);
                }
            });
            ui.menu_button("View", |ui| {
                let mut dark = self.persisted.dark;
                if ui.checkbox(&mut dark, "Dark theme").changed() {
                    self.commands.push(Command::SetDark(dark));
                }
                let mut ro = self.read_only;
                if ui.checkbox(&mut ro, "Read-only").changed() {
                    self.commands.push(Command::SetReadOnly(ro));
                }
                ui.checkbox(&mut self.persisted.live_refresh, "Live refresh")
                    .on_hover_text(
                        "Show new runs, statuses and metric points as they are written (F5 reloads everything)",
                    );
                if ui.button("Columns…").clicked() {
                    self.show_column_chooser = true;
                }
                if ui.button("Damaged runs and experiments…").clicked() {
                    self.show_warnings = true;
                }
            });
            ui.menu_button("Help", |ui| {
                if ui.button("Keyboard shortcuts…").clicked() {
                    self.show_keyboard_help = true;
                }
            });
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let label = if self.persisted.dark {
                    "☀ light"
                } else {
                    "dark"
                };
                if ui
                    .button(label)
                    .on_hover_text("Switch between dark and light theme")
                    .clicked()
                {
                    self.commands.push(Command::SetDark(!self.persisted.dark));
                }
                let mut ro = self.read_only;
                if ui
                    .toggle_value(&mut ro, "🔒 read-only")
                    .on_hover_text("Disable every edit control")
                    .changed()
                {
                    self.commands.push(Command::SetReadOnly(ro));
                }
            });
        });
    }

    fn status_bar_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            match &self.store {
                None => {
                    ui.weak("No store open");
                }
                Some(Entry::Loading) => {
                    ui.spinner();
                    ui.label(format!(
                        "Opening {}…",
                        self.store_request.as_deref().unwrap_or("")
                    ));
                }
                Some(Entry::Failed(_)) => {
                    ui.colored_label(
                        theme::error_color(self.persisted.dark),
                        "Cannot open the store",
                    );
                }
                Some(Entry::Ready(uri)) => {
                    ui.label(format!("Store: {uri}"));
                }
            }
            if let Some(set) = self.run_set() {
                ui.separator();
                let n = set.runs.len();
                if self.runs.loading {
                    ui.spinner();
                    ui.label(format!("{} runs read…", n.max(self.runs.partial.len())));
                } else {
                    ui.label(format!("{n} runs read"));
                }
            }
            let damaged = self.runs.warnings.len() + self.experiment_warnings.len();
            if damaged > 0 {
                ui.separator();
                let text = egui::RichText::new(format!("⚠ {damaged} could not be read"))
                    .color(theme::warning_color(self.persisted.dark));
                if ui
                    .link(text)
                    .on_hover_text("Show the damaged runs and experiments with reasons")
                    .clicked()
                {
                    self.show_warnings = true;
                }
            }
            if self.read_only {
                ui.separator();
                ui.label("🔒 read-only");
            }
            if self.persisted.live_refresh
                && let Some(mode) = self.live_mode
            {
                ui.separator();
                let (text, hover) = match mode {
                    FeedMode::Events => (
                        "⟳ live".to_string(),
                        "Following the store's file events; View → Live refresh turns it off",
                    ),
                    FeedMode::Polling(every) => (
                        format!("⟳ live (polling every {:.1} s)", every.as_secs_f64()),
                        "No file events here (a database, or a network file system): the store is checked at this interval; View → Live refresh turns it off",
                    ),
                };
                ui.label(text).on_hover_text(hover);
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if let Some(t) = self.runs.time_to_first_rows {
                    let (p50, _, max) = self.perf.summary();
                    ui.weak(format!(
                        "first rows {:.0} ms · frame {p50:.1}/{max:.1} ms",
                        t.as_secs_f64() * 1e3
                    ))
                    .on_hover_text("Time from opening to the first rows; median/max UI frame time");
                }
                if !self.worker.is_idle() {
                    ui.spinner();
                }
            });
        });
    }

    fn empty_state_ui(&mut self, ui: &mut egui::Ui) {
        ui.vertical_centered(|ui| {
            ui.add_space(ui.available_height() * 0.3);
            match &self.store {
                Some(Entry::Loading) => {
                    ui.spinner();
                    ui.label("Opening…");
                }
                Some(Entry::Failed(e)) => {
                    ui.heading("This store cannot be opened");
                    ui.colored_label(theme::error_color(self.persisted.dark), e.as_str());
                    ui.add_space(12.0);
                    ui.label("Open an mlruns folder or mlflow.db — Ctrl+O, or drop it here");
                }
                _ => {
                    ui.heading("mlscope");
                    ui.label("Open an mlruns folder or mlflow.db — Ctrl+O, or drop it here");
                }
            }
            ui.add_space(12.0);
            ui.horizontal(|ui| {
                let w = 260.0;
                ui.add_space(((ui.available_width() - w) / 2.0).max(0.0));
                if ui.button("Open folder…").clicked() {
                    self.commands.push(Command::OpenFolderDialog);
                }
                if ui.button("Open database…").clicked() {
                    self.commands.push(Command::OpenDatabaseDialog);
                }
            });
            if !self.persisted.recent_stores.is_empty() {
                ui.add_space(16.0);
                ui.label(egui::RichText::new("Recent").strong());
                for uri in self.persisted.recent_stores.clone() {
                    if ui.link(&uri).clicked() {
                        self.commands.push(Command::OpenStore(uri));
                    }
                }
            }
        });
    }

    fn bottom_pane_ui(&mut self, ui: &mut egui::Ui) {
        // Fill the panel, so that its size stays what the user made it.
        ui.set_min_height(ui.max_rect().height());
        ui.horizontal(|ui| {
            for (i, tab) in Tab::ALL.into_iter().enumerate() {
                let r = ui
                    .selectable_label(self.persisted.tab == tab, tab.title())
                    .on_hover_text(format!("Ctrl+{}", i + 1));
                if r.clicked() {
                    self.commands.push(Command::SetTab(tab));
                }
            }
            ui.separator();
            let n = self.selection.len();
            ui.weak(match n {
                0 => "No run selected".to_string(),
                1 => "1 run selected".to_string(),
                n => format!("{n} runs selected"),
            });
            if self.persisted.tab == Tab::Charts {
                charts::chart_options_ui(ui, self);
            }
        });
        ui.separator();
        match self.persisted.tab {
            Tab::Charts => charts::charts_ui(ui, self),
            Tab::Compare => compare::compare_ui(ui, self),
            Tab::Run => run_details::run_details_ui(ui, self),
            Tab::Artifacts => artifacts_panel::artifacts_ui(ui, self),
        }
    }

    fn windows_ui(&mut self, ctx: &egui::Context) {
        let dark = self.persisted.dark;
        // Messages (dismissable).
        if !self.messages.is_empty() {
            let mut dismiss = None;
            egui::Area::new(egui::Id::unique("messages"))
                .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-12.0, -36.0))
                .show(ctx, |ui| {
                    for (i, m) in self.messages.iter().enumerate().rev().take(5) {
                        egui::Frame::popup(ui.style()).show(ui, |ui| {
                            ui.set_max_width(420.0);
                            ui.horizontal(|ui| {
                                let color = if m.is_error {
                                    theme::error_color(dark)
                                } else {
                                    ui.visuals().text_color()
                                };
                                if ui.small_button("✖").on_hover_text("Dismiss").clicked() {
                                    dismiss = Some(i);
                                }
                                ui.add(
                                    egui::Label::new(egui::RichText::new(&m.text).color(color))
                                        .wrap(),
                                );
                            });
                        });
                    }
                });
            if let Some(i) = dismiss {
                self.messages.remove(i);
            }
        }
        if self.show_warnings {
            let mut open = true;
            egui::Window::new("Damaged runs and experiments")
                .open(&mut open)
                .default_size([640.0, 320.0])
                .show(ctx, |ui| {
                    if self.runs.warnings.is_empty() && self.experiment_warnings.is_empty() {
                        ui.label("Everything was read");
                    }
                    egui::ScrollArea::vertical().show(ui, |ui| {
                        for w in self.experiment_warnings.iter().chain(&self.runs.warnings) {
                            ui.label(egui::RichText::new(&w.message).strong());
                            ui.weak(&w.location);
                            ui.add_space(4.0);
                        }
                    });
                });
            self.show_warnings = open;
        }
        if self.show_keyboard_help {
            let mut open = true;
            egui::Window::new("Keyboard")
                .open(&mut open)
                .resizable(false)
                .show(ctx, |ui| {
                    egui::Grid::new("keys").striped(true).show(ui, |ui| {
                        for (k, what) in KEYS {
                            ui.monospace(*k);
                            ui.label(*what);
                            ui.end_row();
                        }
                    });
                });
            self.show_keyboard_help = open;
        }
        if self.show_column_chooser {
            runs_table::column_chooser_window(ctx, self);
        }
        if let Some(confirm) = self.confirm.clone() {
            let modal = egui::Modal::new(egui::Id::unique("confirm")).show(ctx, |ui| {
                ui.set_width(360.0);
                ui.heading("Confirm");
                ui.label(&confirm.text);
                ui.add_space(8.0);
                let mut answer = None;
                ui.horizontal(|ui| {
                    if ui.button("Delete").clicked() {
                        answer = Some(true);
                    }
                    if ui.button("Cancel").clicked() {
                        answer = Some(false);
                    }
                });
                answer
            });
            let cancel = modal.should_close();
            match modal.inner {
                Some(true) => {
                    self.commands.push(Command::Write(confirm.op));
                    self.confirm = None;
                }
                Some(false) => self.confirm = None,
                None if cancel => self.confirm = None,
                None => {}
            }
        }
    }

    // ----- input -------------------------------------------------------------------------------

    fn handle_window_input(&mut self, ctx: &egui::Context) {
        // Dropped folders or .db files open as stores.
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if let Some(p) = dropped.into_iter().next() {
            // The worker tells a folder from a .db file (no disk access here).
            self.commands
                .push(Command::OpenStore(p.display().to_string()));
        }
        self.handle_keyboard(ctx);
    }

    fn handle_keyboard(&mut self, ctx: &egui::Context) {
        use egui::{Key, Modifiers};
        let typing = ctx.memory(|m| m.focused().is_some()) && ctx.egui_wants_keyboard_input();
        let modal_open = self.confirm.is_some();
        let mut cmds = Vec::new();
        ctx.input_mut(|i| {
            if i.consume_key(Modifiers::COMMAND, Key::O) {
                cmds.push(Command::OpenFolderDialog);
            }
            if i.consume_key(Modifiers::NONE, Key::F5) {
                cmds.push(Command::Reload);
            }
            for (n, key) in [Key::Num1, Key::Num2, Key::Num3, Key::Num4]
                .into_iter()
                .enumerate()
            {
                if i.consume_key(Modifiers::COMMAND, key) {
                    cmds.push(Command::SetTab(Tab::ALL[n]));
                }
            }
            if typing || modal_open {
                return;
            }
            if i.consume_key(Modifiers::NONE, Key::Slash) {
                i.events
                    .retain(|e| !matches!(e, egui::Event::Text(t) if t == "/"));
                self.focus_filter = true;
            }
            if i.consume_key(Modifiers::COMMAND, Key::F) {
                self.charts.focus_key_filter = true;
                cmds.push(Command::SetTab(Tab::Charts));
            }
            if i.consume_key(Modifiers::SHIFT, Key::ArrowDown) {
                cmds.push(Command::MoveFocus {
                    delta: 1,
                    extend: true,
                });
            }
            if i.consume_key(Modifiers::SHIFT, Key::ArrowUp) {
                cmds.push(Command::MoveFocus {
                    delta: -1,
                    extend: true,
                });
            }
            if i.consume_key(Modifiers::NONE, Key::ArrowDown) {
                cmds.push(Command::MoveFocus {
                    delta: 1,
                    extend: false,
                });
            }
            if i.consume_key(Modifiers::NONE, Key::ArrowUp) {
                cmds.push(Command::MoveFocus {
                    delta: -1,
                    extend: false,
                });
            }
            if i.consume_key(Modifiers::NONE, Key::PageDown) {
                cmds.push(Command::MoveFocus {
                    delta: 20,
                    extend: false,
                });
            }
            if i.consume_key(Modifiers::NONE, Key::PageUp) {
                cmds.push(Command::MoveFocus {
                    delta: -20,
                    extend: false,
                });
            }
            if i.consume_key(Modifiers::NONE, Key::Space)
                && let Some(f) = self.focus.clone()
            {
                cmds.push(Command::SelectRun {
                    run_id: f,
                    mode: SelectMode::Toggle,
                });
            }
            if i.consume_key(Modifiers::COMMAND, Key::A) {
                cmds.push(Command::SelectRuns(Vec::new()));
            }
            if i.consume_key(Modifiers::NONE, Key::Enter) {
                cmds.push(Command::SetTab(Tab::Run));
            }
            if i.consume_key(Modifiers::NONE, Key::Delete) {
                cmds.push(Command::AskDeleteSelected);
            }
        });
        // Ctrl+A selects every shown run.
        for c in cmds {
            if c == Command::SelectRuns(Vec::new()) {
                let ids = self.shown_run_ids();
                self.commands.push(Command::SelectRuns(ids));
            } else {
                self.commands.push(c);
            }
        }
    }

    fn shown_run_ids(&self) -> Vec<String> {
        let Some(set) = self.run_set() else {
            return Vec::new();
        };
        self.rows
            .rows
            .iter()
            .map(|r| set.runs[r.run].info.run_id.clone())
            .collect()
    }

    // ----- commands ------------------------------------------------------------------------------

    fn apply_commands(&mut self, ctx: &egui::Context) {
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
            Command::Reload => {
                if let Some(Entry::Failed(_)) = &self.store
                    && let Some(uri) = self.store_request.clone()
                {
                    self.open_store(uri);
                    return;
                }
                self.histories.clear();
                self.histories_version += 1;
                self.artifact_lists.clear();
                self.artifact_previews.clear();
                self.runs.warnings.clear();
                self.run_counts.clear();
                self.request_experiments();
            }
            Command::SelectExperiments(ids) => {
                self.auto_selected = false;
                if ids != self.selected_experiments {
                    if let Some(s) = self.store_request.clone() {
                        let list = ids.iter().cloned().collect();
                        self.persisted.last_experiments.insert(s, list);
                    }
                    self.selected_experiments = ids;
                    self.runs.warnings.clear();
                    self.request_runs();
                }
            }
            Command::ShowDeletedExperiments(on) => {
                self.show_deleted_experiments = on;
                self.request_experiments();
            }
            Command::SetFilter(text) => {
                self.filter_text = text;
                match filter_bar::check_filter(&self.filter_text) {
                    Err(e) => self.filter_error = Some(e),
                    Ok(()) => {
                        self.filter_error = None;
                        if self.filter_text.trim() != self.applied_filter.trim()
                            || self.runs.loading
                        {
                            self.runs.warnings.clear();
                            self.request_runs();
                        }
                    }
                }
            }
            Command::SetRunView(view) => {
                if view != self.run_view {
                    self.run_view = view;
                    self.runs.warnings.clear();
                    self.request_runs();
                }
            }
            Command::SelectRun { run_id, mode } => self.select(run_id, mode),
            Command::SelectRuns(ids) => {
                self.selection = ids.iter().cloned().collect();
                self.focus = ids.first().cloned();
                self.anchor = self.focus.clone();
            }
            Command::MoveFocus { delta, extend } => self.move_focus(delta, extend),
            Command::ToggleExpanded(id) => {
                if !self.collapsed.remove(&id) {
                    self.collapsed.insert(id);
                }
                self.collapsed_version += 1;
            }
            Command::SetTab(tab) => self.persisted.tab = tab,
            Command::Write(op) => {
                if self.read_only {
                    self.error("the viewer is read-only: switch read-only off to change the store");
                    return;
                }
                let g = self.next_generation();
                self.worker.send(RequestKey::Write, g, Request::Write(op));
            }
            Command::AskDeleteSelected => {
                if self.read_only {
                    self.error("the viewer is read-only: switch read-only off to delete runs");
                    return;
                }
                let runs = self.selected_runs();
                let ids: Vec<String> = runs
                    .iter()
                    .filter(|r| r.info.lifecycle_stage == crate::model::LifecycleStage::Active)
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
                if !self.artifact_lists.contains(&key) {
                    self.artifact_lists.set_loading(key.clone());
                    let g = self.next_generation();
                    self.worker.send(
                        RequestKey::ArtifactList(key.0, key.1),
                        g,
                        Request::ListArtifacts { root, path },
                    );
                }
            }
            Command::PreviewArtifact { root, path } => {
                let key = (root.artifact_uri.clone(), path.clone());
                if !self.artifact_previews.contains(&key) {
                    self.artifact_previews.set_loading(key.clone());
                    let g = self.next_generation();
                    self.worker.send(
                        RequestKey::ArtifactPreview(key.0, key.1),
                        g,
                        Request::ReadArtifact { root, path },
                    );
                }
            }
            Command::OpenArtifact { root, path } => {
                let g = self.next_generation();
                self.worker
                    .send(RequestKey::LocalCopy, g, Request::LocalCopy { root, path });
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
            Command::SetDark(dark) => self.persisted.dark = dark,
            Command::SetReadOnly(ro) => self.read_only = ro,
            Command::Notify(text) => self.info(text),
        }
    }

    fn select(&mut self, run_id: String, mode: SelectMode) {
        match mode {
            SelectMode::Replace => {
                self.selection.clear();
                self.selection.insert(run_id.clone());
                self.anchor = Some(run_id.clone());
            }
            SelectMode::Toggle => {
                if !self.selection.remove(&run_id) {
                    self.selection.insert(run_id.clone());
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
                    self.selection = ids[lo..=hi].iter().cloned().collect();
                } else {
                    self.selection.insert(run_id.clone());
                }
            }
        }
        self.focus = Some(run_id);
    }

    fn move_focus(&mut self, delta: i64, extend: bool) {
        let ids = self.shown_run_ids();
        if ids.is_empty() {
            return;
        }
        let cur = self
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
                        .set_title("Open an mlruns folder")
                        .pick_folder()
                };
                if let Some(p) = picked {
                    let _ = tx.send(DialogResult::Open(p));
                    ctx.request_repaint();
                }
            });
        if spawned.is_err() {
            self.error("cannot show the open dialog");
        }
    }

    fn receive_dialogs(&mut self) {
        while let Ok(result) = self.dialogs.1.try_recv() {
            match result {
                DialogResult::Open(p) => self.open_store(p.display().to_string()),
                DialogResult::Save { path, bytes } => {
                    let g = self.next_generation();
                    self.worker
                        .send(RequestKey::Save, g, Request::SaveFile { path, bytes });
                }
                DialogResult::Png { file_name, bytes } => match bytes {
                    Ok(bytes) => self.commands.push(Command::SaveAs { file_name, bytes }),
                    Err(e) => self.error(e),
                },
            }
        }
    }
}

/// Whether `MLSCOPE_VIEWER_TIMINGS` asks for timing logs on stderr (read once).
fn timings_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("MLSCOPE_VIEWER_TIMINGS").is_some_and(|v| !v.is_empty()))
}

/// Keyboard shortcuts, as listed in Help → Keyboard.
const KEYS: &[(&str, &str)] = &[
    ("Ctrl+O", "Open an mlruns folder"),
    ("/", "Focus the filter"),
    ("Esc", "Leave the filter"),
    ("↑ ↓", "Move the selection"),
    ("Shift+↑ ↓", "Extend the selection"),
    ("Space", "Add or remove the focused run"),
    ("Ctrl+A", "Select every shown run"),
    ("Enter", "Open the Run tab"),
    ("Delete", "Delete the selected runs"),
    ("F5", "Reload"),
    ("Ctrl+1…4", "Charts, Compare, Run, Artifacts"),
    ("Ctrl+F", "Chart key filter"),
];

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

/// How often a tracking server is polled: `MLSCOPE_SERVER_POLL_SECS` (at least 1 s), else
/// [`crate::watch::SERVER_POLL`].
fn server_poll_interval() -> Duration {
    std::env::var("MLSCOPE_SERVER_POLL_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 1.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(crate::watch::SERVER_POLL)
}

fn open_externally(path: &std::path::Path) {
    let program = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(target_os = "windows") {
        "explorer"
    } else {
        "xdg-open"
    };
    let _ = std::process::Command::new(program).arg(path).spawn();
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        App::ui(self, ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, &self.persisted);
    }
}
