//! What views see: [`ViewData`], the data the app holds for them (filled by worker answers and
//! commands), and [`ViewCtx`], a frame's read-only borrow of it plus the one way for a view to
//! change anything: [`ViewCtx::send`] a [`Command`], applied by the app after the frame.
//!
//! Panels are structs that own their own state (text boxes, expanded folders, chart caches) and
//! draw with `show(&mut self, ui, ctx: &ViewCtx)`; they never see the app. Tests build a
//! [`ViewData`] by hand and draw a panel on its context, with no worker thread.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::StoreWarning;
use crate::model::{Experiment, Run, ViewType};

use super::artifact_preview::{ArtifactEntry, Preview};
use super::cache::{Cache, Entry};
use super::commands::Command;
use super::filter_bar::FilterError;
use super::runs_model::{MetricAgg, Row, RunSet, SortKey};
use super::settings::Persisted;
use super::worker::Series;

/// Metric histories by (run, key).
pub type Histories = Cache<(String, String), Series>;

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
    /// Runs read and in all of the search in progress, when the store says (progress bar).
    pub progress: Option<(usize, usize)>,
    /// Runs that could not be read, with the reason.
    pub warnings: Vec<StoreWarning>,
    /// When the search in progress was sent.
    pub started: Instant,
    /// Time from opening the store to the first rows.
    pub time_to_first_rows: Option<Duration>,
}

impl Default for RunsState {
    fn default() -> Self {
        RunsState {
            entry: Entry::Loading,
            generation: 0,
            partial: Vec::new(),
            loading: false,
            awaiting_first_page: false,
            progress: None,
            warnings: Vec::new(),
            started: Instant::now(),
            time_to_first_rows: None,
        }
    }
}

/// The shown rows, memoised on their inputs.
#[derive(Debug, Default)]
pub struct RowsMemo {
    /// (run set version, name query, sort, collapsed version, histories version when sorting
    /// by a metric) the rows were built for.
    pub(crate) key: Option<(u64, String, Vec<SortKey>, u64, u64)>,
    /// The rows.
    pub rows: Vec<Row>,
}

/// The run filters: MLflow's filter string, the name quick filter, the run view.
#[derive(Debug, Default)]
pub struct FilterState {
    /// The MLflow filter string being typed.
    pub text: String,
    /// The filter last sent to the store.
    pub applied: String,
    /// The filter's error, shown under the bar.
    pub error: Option<FilterError>,
    /// Recent valid filters (Up/Down in the filter bar), newest last.
    pub history: Vec<String>,
    /// Run-name quick filter.
    pub name_query: String,
    /// Active, deleted or all runs.
    pub run_view: ViewType,
}

/// The data views read, owned by the app (or by a test).
#[derive(Debug)]
pub struct ViewData {
    /// Persisted UI state (theme, columns, chart options, tab).
    pub persisted: Persisted,
    /// Edit controls disabled.
    pub read_only: bool,
    /// The experiments.
    pub experiments: Entry<Vec<Experiment>>,
    /// Active-run counts per experiment.
    pub run_counts: BTreeMap<String, usize>,
    /// Experiments whose runs are shown.
    pub selected_experiments: BTreeSet<String>,
    /// Whether the experiments list shows deleted ones.
    pub show_deleted_experiments: bool,
    /// The runs.
    pub runs: RunsState,
    /// The run filters.
    pub filter: FilterState,
    /// Sort keys of the table (first is primary).
    pub sort: Vec<SortKey>,
    /// Parent runs whose children are hidden.
    pub collapsed: HashSet<String>,
    /// Selected run ids.
    pub selection: BTreeSet<String>,
    /// The focused run (keyboard cursor, Run tab).
    pub focus: Option<String>,
    /// Shown rows, memoised.
    pub rows: RowsMemo,
    /// Metric histories by (run, key).
    pub histories: Histories,
    /// Changes whenever a history arrives or goes (memoisation key of charts and summaries).
    pub histories_version: u64,
    /// Artifact folder listings by (artifact URI, folder).
    pub(crate) artifact_lists: Cache<(String, String), Vec<ArtifactEntry>>,
    /// Artifact previews by (artifact URI, file).
    pub(crate) artifact_previews: Cache<(String, String), Preview>,
    /// The run under the pointer in the runs table.
    pub hovered_run: Option<String>,
    /// Runs hidden from the charts by the runs table's eye (still selected).
    pub hidden_from_charts: HashSet<String>,
    /// The open store as the user asked for it (path or URI; the chart layouts' key).
    pub store_key: Option<String>,
    /// The second store opened to compare with, if any (its ids carry
    /// [`super::worker::router::SECOND_STORE_SUFFIX`]).
    pub second_store: Option<super::worker::router::SecondStore>,
}

impl ViewData {
    /// Nothing loaded yet.
    pub fn new(persisted: Persisted, read_only: bool) -> ViewData {
        ViewData {
            persisted,
            read_only,
            experiments: Entry::Loading,
            run_counts: BTreeMap::new(),
            selected_experiments: BTreeSet::new(),
            show_deleted_experiments: false,
            runs: RunsState::default(),
            filter: FilterState::default(),
            sort: Vec::new(),
            collapsed: HashSet::new(),
            selection: BTreeSet::new(),
            focus: None,
            rows: RowsMemo::default(),
            histories: Cache::new(200_000),
            histories_version: 0,
            artifact_lists: Cache::new(2_000),
            // Many: the Images tab shows one per visible run (memory is bounded by weight, see
            // `image_grid::PREVIEW_BUDGET_BYTES`).
            artifact_previews: Cache::new(1024),
            hovered_run: None,
            hidden_from_charts: HashSet::new(),
            store_key: None,
            second_store: None,
        }
    }

    /// This frame's context for the views.
    pub fn ctx(&self) -> ViewCtx<'_> {
        ViewCtx {
            data: self,
            scroll_to_row: None,
            commands: RefCell::new(Vec::new()),
        }
    }
}

/// A frame's view of the app: read-only data, and a command sink.
pub struct ViewCtx<'a> {
    data: &'a ViewData,
    /// Scroll the runs table to this row in this frame.
    pub scroll_to_row: Option<usize>,
    commands: RefCell<Vec<Command>>,
}

impl<'a> ViewCtx<'a> {
    /// Asks the app to do something after the frame.
    pub fn send(&self, command: Command) {
        self.commands.borrow_mut().push(command);
    }

    /// The commands sent during the frame, in order.
    pub fn into_commands(self) -> Vec<Command> {
        self.commands.into_inner()
    }

    /// Persisted UI state.
    pub fn persisted(&self) -> &'a Persisted {
        &self.data.persisted
    }

    /// Dark theme?
    pub fn dark(&self) -> bool {
        self.data.persisted.dark
    }

    /// Edit controls disabled?
    pub fn read_only(&self) -> bool {
        self.data.read_only
    }

    /// The experiments.
    pub fn experiments(&self) -> &'a Entry<Vec<Experiment>> {
        &self.data.experiments
    }

    /// Active-run counts per experiment.
    pub fn run_counts(&self) -> &'a BTreeMap<String, usize> {
        &self.data.run_counts
    }

    /// Experiments whose runs are shown.
    pub fn selected_experiments(&self) -> &'a BTreeSet<String> {
        &self.data.selected_experiments
    }

    /// Whether the experiments list shows deleted ones.
    pub fn show_deleted_experiments(&self) -> bool {
        self.data.show_deleted_experiments
    }

    /// The runs as loaded (loading, failed or ready).
    pub fn runs(&self) -> &'a Entry<RunSet> {
        &self.data.runs.entry
    }

    /// Whether a runs search is still reading pages.
    pub fn runs_loading(&self) -> bool {
        self.data.runs.loading
    }

    /// The loaded runs, if any.
    pub fn run_set(&self) -> Option<&'a Arc<RunSet>> {
        self.data.runs.entry.ready()
    }

    /// The run filters.
    pub fn filter(&self) -> &'a FilterState {
        &self.data.filter
    }

    /// Sort keys of the table.
    pub fn sort(&self) -> &'a [SortKey] {
        &self.data.sort
    }

    /// Parent runs whose children are hidden.
    pub fn collapsed(&self) -> &'a HashSet<String> {
        &self.data.collapsed
    }

    /// The shown rows.
    pub fn rows(&self) -> &'a [Row] {
        &self.data.rows.rows
    }

    /// Selected run ids.
    pub fn selection(&self) -> &'a BTreeSet<String> {
        &self.data.selection
    }

    /// Metric histories.
    pub fn histories(&self) -> &'a Histories {
        &self.data.histories
    }

    /// Changes whenever a history arrives or goes.
    pub fn histories_version(&self) -> u64 {
        self.data.histories_version
    }

    /// Artifact folder listings by (artifact URI, folder).
    pub(crate) fn artifact_lists(&self) -> &'a Cache<(String, String), Vec<ArtifactEntry>> {
        &self.data.artifact_lists
    }

    /// Artifact previews by (artifact URI, file).
    pub(crate) fn artifact_previews(&self) -> &'a Cache<(String, String), Preview> {
        &self.data.artifact_previews
    }

    /// The run under the pointer in the runs table.
    pub fn hovered_run(&self) -> Option<&'a String> {
        self.data.hovered_run.as_ref()
    }

    /// Runs hidden from the charts by the runs table's eye (still selected).
    pub fn hidden_from_charts(&self) -> &'a HashSet<String> {
        &self.data.hidden_from_charts
    }

    /// The open store as the user asked for it (path or URI), if any.
    pub fn store_key(&self) -> Option<&'a str> {
        self.data.store_key.as_deref()
    }

    /// The second store opened to compare with, if any.
    pub fn second_store(&self) -> Option<&'a super::worker::router::SecondStore> {
        self.data.second_store.as_ref()
    }

    /// A short name of the store a run or experiment id belongs to (the Store column, the
    /// experiments panel's headers): the end of its path or its server's address; the same
    /// store opened twice is told apart by "(2)".
    pub fn store_label(&self, id: &str) -> String {
        use super::worker::router::{Slot, slot_of};
        let first = short_store_name(self.data.store_key.as_deref().unwrap_or("store"));
        match slot_of(id) {
            Slot::Primary => first,
            Slot::Second => {
                use super::worker::router::SecondState;
                // The store found inside a chosen folder names it better than the folder.
                let second =
                    short_store_name(self.data.second_store.as_ref().map_or("second store", |s| {
                        match &s.state {
                            SecondState::Ready { uri, .. } => uri.as_str(),
                            _ => s.request.as_str(),
                        }
                    }));
                if second == first {
                    format!("{second} (2)")
                } else {
                    second
                }
            }
        }
    }

    /// The experiment name of an id (the id until the experiments are read).
    pub fn experiment_name(&self, id: &str) -> String {
        self.data
            .experiments
            .ready()
            .and_then(|e| e.iter().find(|e| e.experiment_id == id))
            .map_or_else(|| id.to_string(), |e| e.name.clone())
    }

    /// How a metric column summarises.
    pub fn metric_agg(&self, key: &str) -> MetricAgg {
        self.data
            .persisted
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
                    .data
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

    /// The selected runs in row order (then any selected run not shown).
    pub fn selected_runs(&self) -> Vec<Arc<Run>> {
        let Some(set) = self.run_set() else {
            return Vec::new();
        };
        let mut out: Vec<Arc<Run>> = Vec::new();
        let mut seen = HashSet::new();
        for r in &self.data.rows.rows {
            let run = &set.runs[r.run];
            if self.data.selection.contains(&run.info.run_id) {
                seen.insert(run.info.run_id.clone());
                out.push(Arc::clone(run));
            }
        }
        for id in &self.data.selection {
            if !seen.contains(id)
                && let Some(r) = set.get(id)
            {
                out.push(Arc::clone(r));
            }
        }
        out
    }

    /// The focused run (or the first selected one).
    pub fn focused_run(&self) -> Option<Arc<Run>> {
        let set = self.run_set()?;
        let id = self
            .data
            .focus
            .as_ref()
            .filter(|f| self.data.selection.contains(*f))
            .or_else(|| self.data.selection.iter().next())?;
        set.get(id).cloned()
    }
}

/// The last two parts of a store's path (`project/mlruns`, `runs/mlflow.db`), or its
/// server's address (`localhost:5000`): enough to tell two stores apart in a narrow column.
pub fn short_store_name(uri: &str) -> String {
    let uri = uri.trim().trim_end_matches(['/', '\\']);
    if let Some(rest) = uri
        .strip_prefix("http://")
        .or_else(|| uri.strip_prefix("https://"))
    {
        return rest.to_string();
    }
    let path = uri
        .strip_prefix("sqlite:///")
        .or_else(|| uri.strip_prefix("file://"))
        .unwrap_or(uri);
    let parts: Vec<&str> = path.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [] => uri.to_string(),
        [one] => (*one).to_string(),
        [.., parent, last] => format!("{parent}/{last}"),
    }
}
