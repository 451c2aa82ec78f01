//! The [`TrackingStore`] trait and its backends, chosen at runtime from a tracking URI.
//!
//! | URI | backend |
//! |---|---|
//! | `file:///abs/mlruns`, `./mlruns`, `/abs/mlruns` | [`FileStore`] (MLflow's `mlruns` folder) |
//! | `sqlite:///relative.db`, `sqlite:////abs/path.db` | [`SqliteStore`] (MLflow's SQL schema) |
//! | `http://host:port`, `https://host/prefix` | [`RestStore`] (an MLflow tracking server) |

pub mod file;
pub mod index;
pub mod locate;
pub mod rest;
pub mod sqlite;
pub(crate) mod uri;

pub use crate::search::query::{
    ExperimentQuery, RunQuery, SEARCH_MAX_RESULTS_DEFAULT, SEARCH_MAX_RESULTS_THRESHOLD,
};
pub use file::FileStore;
pub use locate::{Located, locate_store};
pub use rest::RestStore;
pub use sqlite::SqliteStore;
pub use uri::{
    StoreLocation, default_tracking_uri, open_store, parse_tracking_uri, path_to_file_uri,
};

use std::collections::BTreeMap;

use crate::error::{Result, StoreWarning};
use crate::model::{DatasetInput, Experiment, Metric, Param, Run, RunInfo, RunStatus, RunTag};

/// Runs handed over by [`TrackingStore::stream_runs`].
#[derive(Debug, Clone, Default)]
pub struct RunBatch {
    /// Runs of this batch.
    pub runs: Vec<Run>,
    /// Runs or experiments that could not be read.
    pub warnings: Vec<StoreWarning>,
    /// Whether the batches come in the query's order (else the caller orders them).
    pub ordered: bool,
    /// Runs looked at so far and in all, when the store knows (for a progress bar).
    pub progress: Option<(usize, usize)>,
}

/// [`TrackingStore::stream_runs`] by paging through [`TrackingStore::search_runs`]: one batch
/// per page, in the query's order.
pub fn stream_by_pages(
    store: &(impl TrackingStore + ?Sized),
    query: &RunQuery,
    sink: &mut dyn FnMut(RunBatch) -> bool,
) -> Result<()> {
    let mut query = query.clone();
    loop {
        let page = store.search_runs(&query)?;
        let last = page.next_page_token.is_none();
        let batch = RunBatch {
            runs: page.items,
            warnings: page.warnings,
            ordered: true,
            progress: None,
        };
        if !sink(batch) || last {
            return Ok(());
        }
        query.page_token = page.next_page_token;
    }
}

/// What to create in [`TrackingStore::create_run`].
#[derive(Debug, Clone, Default)]
pub struct CreateRun {
    /// Experiment to create the run in.
    pub experiment_id: String,
    /// `user_id` of the run (`unknown` when empty, as MLflow does).
    pub user_id: String,
    /// Start time, epoch ms; now when `None`.
    pub start_time: Option<i64>,
    /// Initial tags (system tags included).
    pub tags: Vec<RunTag>,
    /// Run name; taken from the `mlflow.runName` tag, else random, when `None`.
    pub run_name: Option<String>,
}

/// What a backend found of a metric's history past a cursor ([`TrackingStore::metric_history_since`],
/// [`FileStore::read_metric_since`], [`SqliteStore::read_metric_since`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricTail {
    /// The complete, well-formed lines appended since the offset, in file order.
    pub metrics: Vec<Metric>,
    /// The cursor to pass next time (a file store: just after the last complete line).
    pub next_offset: u64,
    /// The file was shorter than the offset (replaced or truncated): `metrics` is the whole file
    /// and what the caller held for this metric is stale.
    pub restarted: bool,
    /// Complete lines that could not be parsed (skipped, never returned again).
    pub bad_lines: usize,
}

/// One page of search results, with the problems met while reading it.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The results, in the requested order.
    pub items: Vec<T>,
    /// Token for the next page, when more results exist.
    pub next_page_token: Option<String>,
    /// Entities that could not be read and were skipped.
    pub warnings: Vec<StoreWarning>,
}

impl<T> Page<T> {
    /// A page with no token and no warnings.
    pub fn complete(items: Vec<T>) -> Self {
        Page {
            items,
            next_page_token: None,
            warnings: Vec::new(),
        }
    }
}

/// A tracking backend: MLflow's `AbstractStore`, object-safe and shareable across threads.
///
/// Every method validates its input as MLflow does and returns errors carrying MLflow's codes
/// ([`crate::Error::error_code`]). Reading is tolerant: a damaged run or experiment is left out of
/// listings and reported in [`Page::warnings`].
pub trait TrackingStore: Send + Sync {
    /// The tracking URI this store was opened from.
    fn tracking_uri(&self) -> String;

    // ----- experiments ---------------------------------------------------------------------

    /// Creates an experiment and returns its id. Names are unique among active and deleted
    /// experiments.
    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<String>;
    /// Gets an experiment (active or deleted) by id.
    fn get_experiment(&self, experiment_id: &str) -> Result<Experiment>;
    /// Gets an experiment (active or deleted) by name; `None` when there is none.
    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>>;
    /// Searches experiments.
    fn search_experiments(&self, query: &ExperimentQuery) -> Result<Page<Experiment>>;
    /// Renames an active experiment.
    fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()>;
    /// Soft-deletes an experiment and its active runs (not allowed for experiment `0`).
    fn delete_experiment(&self, experiment_id: &str) -> Result<()>;
    /// Restores a deleted experiment and its deleted runs.
    fn restore_experiment(&self, experiment_id: &str) -> Result<()>;
    /// Sets an experiment tag.
    fn set_experiment_tag(&self, experiment_id: &str, key: &str, value: &str) -> Result<()>;
    /// Deletes an experiment tag (error when absent).
    fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()>;

    // ----- runs ----------------------------------------------------------------------------

    /// Creates a run in an active experiment, status RUNNING.
    fn create_run(&self, request: CreateRun) -> Result<Run>;
    /// Gets a run (active or deleted) by id.
    fn get_run(&self, run_id: &str) -> Result<Run>;
    /// Updates status, end time and/or name of a run; returns the new info.
    fn update_run_info(
        &self,
        run_id: &str,
        status: Option<RunStatus>,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> Result<RunInfo>;
    /// Soft-deletes a run.
    fn delete_run(&self, run_id: &str) -> Result<()>;
    /// Restores a deleted run.
    fn restore_run(&self, run_id: &str) -> Result<()>;
    /// Searches runs of the given experiments.
    fn search_runs(&self, query: &RunQuery) -> Result<Page<Run>>;
    /// Every run `query` matches (its filter and view; order, page size and token are
    /// ignored), handed to `sink` in batches as they are read, so that a caller can show the
    /// first ones before the last are read. Together the batches hold the runs and warnings
    /// that paging through [`Self::search_runs`] would, each run once; each batch says
    /// whether the batches come in the query's order ([`RunBatch::ordered`]). `sink` returns
    /// `false` to stop. By default: pages of [`Self::search_runs`], in order; a file store
    /// hands over its newest runs first, before reading the rest.
    fn stream_runs(&self, query: &RunQuery, sink: &mut dyn FnMut(RunBatch) -> bool) -> Result<()> {
        stream_by_pages(self, query, sink)
    }
    /// How many runs of `experiment_id` match `view`: as many as paging through
    /// [`Self::search_runs`] (no filter) lists. By default the runs are streamed
    /// ([`Self::stream_runs`]) and counted batch by batch; a file store reads only each run's
    /// `meta.yaml`, SQLite counts in SQL.
    fn count_runs(&self, experiment_id: &str, view: crate::model::ViewType) -> Result<usize> {
        let mut query = RunQuery::new([experiment_id]);
        query.view_type = view;
        let mut n = 0;
        self.stream_runs(&query, &mut |batch| {
            n += batch.runs.len();
            true
        })?;
        Ok(n)
    }
    /// The `n` newest active runs of `experiment_ids`: the first page of [`Self::search_runs`]
    /// ordered by `attributes.start_time DESC` with `max_results` `n` (the same runs, in the same
    /// order; at most [`SEARCH_MAX_RESULTS_THRESHOLD`]), without keeping its next pages. What a
    /// viewer looks at to find the experiment active last. By default that page; a file store
    /// reads only the newest runs' files instead of every run of the experiments (it orders
    /// them by the start times it kept, or by their `meta.yaml` alone).
    fn newest_runs(&self, experiment_ids: &[String], n: usize) -> Result<Vec<Run>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut query = RunQuery::new(experiment_ids.iter().cloned());
        query.max_results = n.min(SEARCH_MAX_RESULTS_THRESHOLD);
        query.order_by = vec!["attributes.start_time DESC".to_string()];
        Ok(self.search_runs(&query)?.items)
    }

    // ----- metrics, params, tags -----------------------------------------------------------

    /// Logs metrics, params and tags to an active run in one request (MLflow's limits apply:
    /// ≤1000 metrics, ≤100 params, ≤100 tags). Params are immutable; long values are truncated.
    fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[RunTag],
    ) -> Result<()>;
    /// Every logged value of a metric, in logging order.
    fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>>;
    /// Deletes a run tag (error when absent).
    fn delete_tag(&self, run_id: &str, key: &str) -> Result<()>;
    /// Records datasets used by a run.
    fn log_inputs(&self, run_id: &str, datasets: &[DatasetInput]) -> Result<()>;

    /// Logs one metric value.
    fn log_metric(&self, run_id: &str, metric: &Metric) -> Result<()> {
        self.log_batch(run_id, std::slice::from_ref(metric), &[], &[])
    }
    /// Logs one param.
    fn log_param(&self, run_id: &str, param: &Param) -> Result<()> {
        self.log_batch(run_id, &[], std::slice::from_ref(param), &[])
    }
    /// Sets one run tag.
    fn set_tag(&self, run_id: &str, tag: &RunTag) -> Result<()> {
        self.log_batch(run_id, &[], &[], std::slice::from_ref(tag))
    }

    /// Follows a metric's history for live views: with `cursor` 0 the whole history, otherwise
    /// only the values logged since the call that returned `cursor`
    /// ([`MetricTail::next_offset`]), each value once. `None` when the backend cannot follow
    /// histories (the default; read them whole with [`Self::get_metric_history`]). The cursor is
    /// the backend's own: a byte offset in a file store ([`FileStore::read_metric_since`]), a
    /// rowid in SQLite ([`SqliteStore::read_metric_since`]).
    fn metric_history_since(
        &self,
        run_id: &str,
        key: &str,
        cursor: u64,
    ) -> Result<Option<MetricTail>> {
        let _ = (run_id, key, cursor);
        Ok(None)
    }

    /// Histories of several metrics of a run at once (a backend may do this in one pass).
    fn get_metric_histories(
        &self,
        run_id: &str,
        keys: &[String],
    ) -> Result<BTreeMap<String, Vec<Metric>>> {
        keys.iter()
            .map(|k| Ok((k.clone(), self.get_metric_history(run_id, k)?)))
            .collect()
    }
}
