//! MLflow's `mlruns` folder (the FileStore): reading and writing it so that MLflow 2.x and 3.x
//! read what mlscope writes, and mlscope reads what MLflow writes.
//!
//! ## Layout
//!
//! ```text
//! <root>/
//!   .trash/<exp_id>/…                 deleted experiments, moved here whole
//!   <exp_id>/meta.yaml                experiment metadata (sorted YAML keys)
//!   <exp_id>/tags/<key>               experiment tags, one file per key
//!   <exp_id>/datasets/<md5>/meta.yaml dataset records
//!   <exp_id>/<run_id>/meta.yaml       run metadata
//!   <exp_id>/<run_id>/metrics/<key>   one line per value: `<ts_ms> <value> <step>`
//!   <exp_id>/<run_id>/params/<key>    the value, no trailing newline
//!   <exp_id>/<run_id>/tags/<key>      the value, no trailing newline
//!   <exp_id>/<run_id>/artifacts/      the run's artifacts
//!   <exp_id>/<run_id>/inputs/<md5>/meta.yaml   dataset/model inputs
//! ```
//! Keys with `/` are nested folders.
//!
//! ## Concurrency
//!
//! Several processes may write one folder at once. There are no locks: whole files are replaced
//! atomically (temporary file + rename), create-once files are linked into place, and metric
//! lines are appended with one `write` each (the `files` module has the details). State held in
//! memory — run locations, runs read for listings, a search's result for its next pages — is
//! checked against the disk (or this store's own writes) before use (`snapshot` module).
//!
//! ## Tolerance
//!
//! Listings skip what they cannot read — a damaged `meta.yaml`, a bad metric line, a stray file —
//! and report it in [`Page::warnings`](crate::store::Page::warnings); everything else is returned.
//! MLflow, by contrast, fails the whole run on one bad metric line.
//!
//! ## Modules
//!
//! | module | job |
//! |---|---|
//! | `paths` | names of the layout, `file:` URIs |
//! | `yaml` | the YAML emitter and tolerant field readers |
//! | `meta` | the records in `meta.yaml` files |
//! | `metrics` | metric lines and Python's float `repr` |
//! | `files` | atomic writes, appends, key-folder walks |
//! | `reader` | locating and reading experiments and runs |
//! | `experiments`, `runs`, `logging`, `inputs` | the store operations |
//! | `tail` | reading what was appended to a metric file since an offset (live views) |
//! | `snapshot` | runs kept between listings (validated by file stamps), next pages of a search |

mod experiments;
mod files;
mod inputs;
mod logging;
mod meta;
mod metrics;
mod paths;
mod reader;
mod runs;
mod snapshot;
mod tail;
mod yaml;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result, StoreWarning};
use crate::model::{
    DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, DatasetInput, Experiment, Metric, Param, Run,
    RunInfo, RunStatus, RunTag,
};
use crate::store::{CreateRun, ExperimentQuery, Page, RunQuery, TrackingStore};

pub use crate::store::MetricTail;
use reader::ExperimentDir;

/// File in the store root that serialises experiment creation by name (MLflow lists only
/// folders there, so it ignores it).
pub(crate) const EXPERIMENT_NAMES_LOCK: &str = ".mlscope-experiment-names.lock";

/// The held experiment-name lock; released on drop (the OS releases it if the process dies).
pub(crate) struct NamesLock {
    _file: std::fs::File,
}

/// An MLflow `mlruns` folder, read and written in MLflow's FileStore format.
///
/// Cheap to share between threads (`Send + Sync`); any number of processes may use the same
/// folder at once.
#[derive(Debug)]
pub struct FileStore {
    /// The absolute root folder.
    root: PathBuf,
    /// Run id → the experiment folder last seen holding it (verified before each use).
    run_locations: Mutex<HashMap<String, ExperimentDir>>,
    /// Runs read for listings, checked against their files' stamps before reuse.
    run_cache: snapshot::RunCache,
    /// Results of recent searches, for their next pages.
    listings: snapshot::Listings,
    /// Writes through this store so far (a search's next pages are read again after one).
    writes: AtomicU64,
    /// Runs whose files listings read (not taken from a kept copy) so far.
    runs_read: AtomicU64,
}

impl FileStore {
    /// Opens the store at `root`. Opening writes nothing: when `root` does not exist, the first
    /// write creates it with the `Default` experiment `0` and `.trash/` (MLflow's layout of a new
    /// store), and until then the store reads as empty. `.trash/` of an existing store is created
    /// by the first experiment deletion.
    pub fn open(root: &Path) -> Result<FileStore> {
        let root = paths::absolute(root);
        let store = FileStore {
            root: root.clone(),
            run_locations: Mutex::new(HashMap::new()),
            run_cache: snapshot::RunCache::default(),
            listings: snapshot::Listings::default(),
            writes: AtomicU64::new(0),
            runs_read: AtomicU64::new(0),
        };
        if root.exists() && !root.is_dir() {
            return Err(Error::InvalidParameter(format!(
                "The file store root is not a folder: {}",
                root.display()
            )));
        }
        Ok(store)
    }

    /// Keeps a persistent index of this store's runs (issue 18) in `options.dir`, or none
    /// (`None`, the default of [`FileStore::open`]): listings then only `stat` the files of runs
    /// read before, by this process or an earlier one, and read what changed. Results are the
    /// same with or without it (`store::index` says how changes are detected).
    pub fn with_index(self, options: Option<crate::store::index::IndexOptions>) -> FileStore {
        self.run_cache.set_index(options);
        self
    }

    /// How many runs listings have taken from kept copies (the in-memory cache or the persistent
    /// index) instead of reading them, so far. For tests and benchmarks.
    #[doc(hidden)]
    pub fn runs_reused(&self) -> u64 {
        self.run_cache.reused()
    }

    /// How many runs listings (and [`TrackingStore::newest_runs`]) have read from their files
    /// so far, params, tags and metrics included. For tests and benchmarks.
    #[doc(hidden)]
    pub fn runs_read(&self) -> u64 {
        self.runs_read.load(Ordering::Relaxed)
    }

    /// Creates the store on its first write when its root does not exist yet: the root with the
    /// `Default` experiment `0` and `.trash/`, as MLflow creates a new store. The new store is
    /// built in a temporary sibling folder and renamed into place, so other processes see no
    /// root or a complete one; when several create it at once, one rename wins and the others
    /// discard theirs.
    pub(crate) fn create_store_if_missing(&self) -> Result<()> {
        if self.root.exists() {
            return Ok(());
        }
        let parent = self.root.parent().unwrap_or(Path::new("."));
        files::create_dir_all(parent, "folder of the store root")?;
        let name = self
            .root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let staging = parent.join(format!(
            ".{name}.creating-{}",
            uuid::Uuid::new_v4().simple()
        ));
        files::create_dir_all(&staging, "new store")?;
        let built = self
            .create_experiment_in(
                &staging,
                DEFAULT_EXPERIMENT_ID,
                DEFAULT_EXPERIMENT_NAME,
                None,
                &[],
            )
            .and_then(|_| files::create_dir_all(&staging.join(paths::TRASH_DIR), "trash"));
        let placed = built.and_then(|()| match std::fs::rename(&staging, &self.root) {
            Ok(()) => Ok(()),
            // Another process created the store first.
            Err(_) if self.root.is_dir() => Ok(()),
            Err(e) => Err(Error::io("cannot create the store root", &self.root, e)),
        });
        if staging.exists() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        placed
    }

    /// Holds the store's experiment-name lock (`<root>/.mlscope-experiment-names.lock`) until
    /// dropped: creating and renaming experiments check the name and write it while holding
    /// it, so two processes never both create the same name. It is an OS file lock, released
    /// when the holder exits, even when killed.
    pub(crate) fn lock_experiment_names(&self) -> Result<NamesLock> {
        let path = self.root.join(EXPERIMENT_NAMES_LOCK);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("cannot open the experiment-name lock", &path, e))?;
        file.lock()
            .map_err(|e| Error::io("cannot lock the experiment-name lock", &path, e))?;
        Ok(NamesLock { _file: file })
    }

    /// The root folder (absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Like [`TrackingStore::get_run`], also returning the problems met while reading the run's
    /// data files (bad metric lines, stray files), which `get_run` leaves out.
    pub fn get_run_with_warnings(&self, run_id: &str) -> Result<(Run, Vec<StoreWarning>)> {
        self.get_run_impl(run_id)
    }

    /// Like [`TrackingStore::get_metric_history`], also returning a warning when malformed lines
    /// were skipped.
    pub fn get_metric_history_with_warnings(
        &self,
        run_id: &str,
        key: &str,
    ) -> Result<(Vec<Metric>, Vec<StoreWarning>)> {
        self.metric_history_impl(run_id, key)
    }

    /// Counts a write, so that kept search results are not served after it.
    fn wrote(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }

    fn write_count(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    fn cached_run_experiment(&self, run_id: &str) -> Option<ExperimentDir> {
        self.run_locations
            .lock()
            .ok()
            .and_then(|cache| cache.get(run_id).cloned())
    }

    fn remember_run(&self, run_id: &str, experiment: &ExperimentDir) {
        if let Ok(mut cache) = self.run_locations.lock() {
            cache.insert(run_id.to_string(), experiment.clone());
        }
    }

    fn forget_run(&self, run_id: &str) {
        if let Ok(mut cache) = self.run_locations.lock() {
            cache.remove(run_id);
        }
    }

    /// Drops cached locations under an experiment folder that moved.
    fn forget_runs_of(&self, experiment_path: &Path) {
        if let Ok(mut cache) = self.run_locations.lock() {
            cache.retain(|_, experiment| experiment.path != experiment_path);
        }
    }
}

impl TrackingStore for FileStore {
    fn tracking_uri(&self) -> String {
        paths::path_to_file_uri(&self.root)
    }

    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<String> {
        let result = self.create_experiment_impl(name, artifact_location, tags);
        self.wrote();
        result
    }

    fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        self.get_experiment_impl(experiment_id)
    }

    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        self.get_experiment_by_name_impl(name)
    }

    fn search_experiments(&self, query: &ExperimentQuery) -> Result<Page<Experiment>> {
        self.search_experiments_impl(query)
    }

    fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        let result = self
            .create_store_if_missing()
            .and_then(|()| self.rename_experiment_impl(experiment_id, new_name));
        self.wrote();
        result
    }

    fn delete_experiment(&self, experiment_id: &str) -> Result<()> {
        let result = self
            .create_store_if_missing()
            .and_then(|()| self.delete_experiment_impl(experiment_id));
        self.wrote();
        // The experiment's runs moved to another folder.
        self.run_cache.clear();
        result
    }

    fn restore_experiment(&self, experiment_id: &str) -> Result<()> {
        let result = self
            .create_store_if_missing()
            .and_then(|()| self.restore_experiment_impl(experiment_id));
        self.wrote();
        self.run_cache.clear();
        result
    }

    fn set_experiment_tag(&self, experiment_id: &str, key: &str, value: &str) -> Result<()> {
        let result = self
            .create_store_if_missing()
            .and_then(|()| self.set_experiment_tag_impl(experiment_id, key, value));
        self.wrote();
        result
    }

    fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()> {
        let result = self
            .create_store_if_missing()
            .and_then(|()| self.delete_experiment_tag_impl(experiment_id, key));
        self.wrote();
        result
    }

    fn create_run(&self, request: CreateRun) -> Result<Run> {
        let result = self.create_run_impl(request);
        self.wrote();
        result
    }

    fn get_run(&self, run_id: &str) -> Result<Run> {
        self.get_run_impl(run_id).map(|(run, _)| run)
    }

    fn update_run_info(
        &self,
        run_id: &str,
        status: Option<RunStatus>,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> Result<RunInfo> {
        let result = self.update_run_info_impl(run_id, status, end_time, run_name);
        self.wrote();
        result
    }

    fn delete_run(&self, run_id: &str) -> Result<()> {
        let result = self.delete_run_impl(run_id);
        self.wrote();
        result
    }

    fn restore_run(&self, run_id: &str) -> Result<()> {
        let result = self.restore_run_impl(run_id);
        self.wrote();
        result
    }

    fn search_runs(&self, query: &RunQuery) -> Result<Page<Run>> {
        self.search_runs_impl(query)
    }

    fn stream_runs(
        &self,
        query: &RunQuery,
        sink: &mut dyn FnMut(crate::store::RunBatch) -> bool,
    ) -> Result<()> {
        self.stream_runs_impl(query, sink)
    }

    fn newest_runs(&self, experiment_ids: &[String], n: usize) -> Result<Vec<Run>> {
        self.newest_runs_impl(experiment_ids, n)
    }

    fn count_runs(&self, experiment_id: &str, view: crate::model::ViewType) -> Result<usize> {
        self.count_runs_impl(experiment_id, view)
    }

    fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[RunTag],
    ) -> Result<()> {
        let result = self.log_batch_impl(run_id, metrics, params, tags);
        self.wrote();
        result
    }

    fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        self.metric_history_impl(run_id, key)
            .map(|(history, _)| history)
    }

    fn metric_history_since(
        &self,
        run_id: &str,
        key: &str,
        cursor: u64,
    ) -> Result<Option<MetricTail>> {
        self.read_metric_since(run_id, key, cursor).map(Some)
    }

    fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        let result = self.delete_tag_impl(run_id, key);
        self.wrote();
        result
    }

    fn log_inputs(&self, run_id: &str, datasets: &[DatasetInput]) -> Result<()> {
        let result = self.log_inputs_impl(run_id, datasets);
        self.wrote();
        result
    }
}
