//! MLflow's tracking entities, one to one: experiments, runs, metrics, params, tags, datasets.
//!
//! Times are epoch milliseconds (`*_time` fields), as everywhere in MLflow.

pub mod json;
mod names;
pub mod validation;

pub use names::random_run_name;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Id of the experiment every store has: `0`, named `Default`.
pub const DEFAULT_EXPERIMENT_ID: &str = "0";
/// Name of experiment `0`.
pub const DEFAULT_EXPERIMENT_NAME: &str = "Default";

/// A run's status. The file store keeps it as an integer, SQL and REST as the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum RunStatus {
    /// The run is in progress.
    #[default]
    Running,
    /// The run is scheduled but has not started.
    Scheduled,
    /// The run completed normally.
    Finished,
    /// The run failed.
    Failed,
    /// The run was killed.
    Killed,
}

impl RunStatus {
    /// All statuses, in MLflow's numeric order.
    pub const ALL: [RunStatus; 5] = [
        RunStatus::Running,
        RunStatus::Scheduled,
        RunStatus::Finished,
        RunStatus::Failed,
        RunStatus::Killed,
    ];

    /// MLflow's name, e.g. `FINISHED`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    /// MLflow's integer (`RUNNING`=1 … `KILLED`=5), as the file store writes it.
    pub fn to_int(self) -> i64 {
        match self {
            RunStatus::Running => 1,
            RunStatus::Scheduled => 2,
            RunStatus::Finished => 3,
            RunStatus::Failed => 4,
            RunStatus::Killed => 5,
        }
    }

    /// The status for MLflow's integer, if it is one.
    pub fn from_int(value: i64) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|s| s.to_int() == value)
    }

    /// Whether the status is final (FINISHED, FAILED or KILLED).
    pub fn is_terminated(self) -> bool {
        matches!(
            self,
            RunStatus::Finished | RunStatus::Failed | RunStatus::Killed
        )
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        RunStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                Error::InvalidParameter(format!(
                    "invalid run status '{s}': expected one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED"
                ))
            })
    }
}

/// Whether an experiment or run is active or deleted (soft-deleted, restorable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum LifecycleStage {
    /// Visible in default searches.
    #[default]
    Active,
    /// Soft-deleted: hidden from default searches, restorable.
    Deleted,
}

impl LifecycleStage {
    /// MLflow's spelling: `active` or `deleted`.
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStage::Active => "active",
            LifecycleStage::Deleted => "deleted",
        }
    }

    /// Whether an entity in this stage is shown for `view`.
    pub fn matches(self, view: ViewType) -> bool {
        match view {
            ViewType::ActiveOnly => self == LifecycleStage::Active,
            ViewType::DeletedOnly => self == LifecycleStage::Deleted,
            ViewType::All => true,
        }
    }
}

impl fmt::Display for LifecycleStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LifecycleStage {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "active" => Ok(LifecycleStage::Active),
            "deleted" => Ok(LifecycleStage::Deleted),
            other => Err(Error::InvalidParameter(format!(
                "invalid lifecycle stage '{other}': expected 'active' or 'deleted'"
            ))),
        }
    }
}

/// Which lifecycle stages a search returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ViewType {
    /// Only active entities (the default).
    #[default]
    ActiveOnly,
    /// Only deleted entities.
    DeletedOnly,
    /// Both.
    All,
}

impl ViewType {
    /// MLflow's name: `ACTIVE_ONLY`, `DELETED_ONLY` or `ALL`.
    pub fn as_str(self) -> &'static str {
        match self {
            ViewType::ActiveOnly => "ACTIVE_ONLY",
            ViewType::DeletedOnly => "DELETED_ONLY",
            ViewType::All => "ALL",
        }
    }
}

impl FromStr for ViewType {
    type Err = Error;
    /// Accepts MLflow's names and the CLI's short forms `active`, `deleted`, `all`.
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "active_only" | "active" => Ok(ViewType::ActiveOnly),
            "deleted_only" | "deleted" => Ok(ViewType::DeletedOnly),
            "all" => Ok(ViewType::All),
            _ => Err(Error::InvalidParameter(format!(
                "invalid view type '{s}': expected active, deleted or all"
            ))),
        }
    }
}

/// An experiment: a named group of runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    /// Decimal id string (`0` is the Default experiment).
    pub experiment_id: String,
    /// Unique name.
    pub name: String,
    /// Root URI under which runs' artifacts are stored.
    pub artifact_location: String,
    /// Active or deleted.
    pub lifecycle_stage: LifecycleStage,
    /// Experiment tags, sorted by key.
    pub tags: BTreeMap<String, String>,
    /// Creation time, epoch ms (absent in very old stores).
    pub creation_time: Option<i64>,
    /// Last rename/delete/restore time, epoch ms.
    pub last_update_time: Option<i64>,
}

/// One value of a metric: the value at a step, logged at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Metric key, e.g. `train/loss`.
    pub key: String,
    /// The value; NaN and ±inf are allowed.
    pub value: f64,
    /// When it was logged, epoch ms.
    pub timestamp: i64,
    /// Training step (0 when not given).
    pub step: i64,
}

impl Metric {
    /// Creates a metric value.
    pub fn new(key: impl Into<String>, value: f64, timestamp: i64, step: i64) -> Self {
        Metric {
            key: key.into(),
            value,
            timestamp,
            step,
        }
    }

    /// Whether `self` replaces `current` as the latest value: MLflow's rule, the greatest
    /// `(step, timestamp, value)` tuple wins (a NaN value never compares greater).
    pub fn is_newer_than(&self, current: &Metric) -> bool {
        (self.step, self.timestamp) > (current.step, current.timestamp)
            || ((self.step, self.timestamp) == (current.step, current.timestamp)
                && self.value > current.value)
    }
}

/// A run parameter: immutable once logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Key.
    pub key: String,
    /// Value (MLflow stores every param as a string).
    pub value: String,
}

impl Param {
    /// Creates a param.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Param {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// A run tag (mutable key/value metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunTag {
    /// Key, e.g. `mlflow.runName`.
    pub key: String,
    /// Value.
    pub value: String,
}

impl RunTag {
    /// Creates a tag.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        RunTag {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// Metadata of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// 32 lowercase hex chars for runs created by MLflow or mlscope.
    pub run_id: String,
    /// Display name (mirrors the `mlflow.runName` tag).
    pub run_name: String,
    /// The experiment holding the run.
    pub experiment_id: String,
    /// Who created the run (`unknown` if nobody was known).
    pub user_id: String,
    /// Status.
    pub status: RunStatus,
    /// Start time, epoch ms.
    pub start_time: Option<i64>,
    /// End time, epoch ms; `None` while running.
    pub end_time: Option<i64>,
    /// Root URI of the run's artifacts.
    pub artifact_uri: String,
    /// Active or deleted.
    pub lifecycle_stage: LifecycleStage,
}

/// A run's params, tags and latest metric values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunData {
    /// Latest value of each metric (by MLflow's `(step, timestamp, value)` rule), by key.
    pub metrics: BTreeMap<String, Metric>,
    /// Params by key.
    pub params: BTreeMap<String, String>,
    /// Tags by key.
    pub tags: BTreeMap<String, String>,
}

/// A dataset as recorded by `log_input`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// Dataset name (≤500 chars).
    pub name: String,
    /// Content digest (≤36 chars).
    pub digest: String,
    /// Kind of source, e.g. `local`, `http`, `code`.
    pub source_type: String,
    /// Source description (JSON text).
    pub source: String,
    /// Schema (JSON text), if known.
    pub schema: Option<String>,
    /// Profile (JSON text), if known.
    pub profile: Option<String>,
}

/// A key/value tag on a dataset input, e.g. `mlflow.data.context=training`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputTag {
    /// Key (≤255 chars).
    pub key: String,
    /// Value (≤500 chars).
    pub value: String,
}

/// A dataset used by a run, with the input's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetInput {
    /// The dataset.
    pub dataset: Dataset,
    /// Tags of this use (e.g. the context).
    pub tags: Vec<InputTag>,
}

/// Tag key holding the context (`training`, `eval`…) of a dataset input.
pub const DATASET_CONTEXT_TAG: &str = "mlflow.data.context";

impl DatasetInput {
    /// The `mlflow.data.context` tag, if set.
    pub fn context(&self) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == DATASET_CONTEXT_TAG)
            .map(|t| t.value.as_str())
    }
}

/// A run's inputs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunInputs {
    /// Datasets, in the order they were logged.
    pub dataset_inputs: Vec<DatasetInput>,
    /// Ids of logged models used as inputs (MLflow 3).
    pub model_inputs: Vec<String>,
}

/// A run: its metadata, data and inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Metadata.
    pub info: RunInfo,
    /// Params, tags and latest metrics.
    pub data: RunData,
    /// Datasets and models used.
    pub inputs: RunInputs,
}

/// Well-known system tag keys (`mlflow/utils/mlflow_tags.py`).
pub mod tags {
    /// Run name.
    pub const RUN_NAME: &str = "mlflow.runName";
    /// Who created the run.
    pub const USER: &str = "mlflow.user";
    /// Entry point (program) that created the run.
    pub const SOURCE_NAME: &str = "mlflow.source.name";
    /// `LOCAL`, `NOTEBOOK`, `JOB`, `PROJECT` or `UNKNOWN`.
    pub const SOURCE_TYPE: &str = "mlflow.source.type";
    /// Git commit of the source.
    pub const GIT_COMMIT: &str = "mlflow.source.git.commit";
    /// Parent run id of a nested run.
    pub const PARENT_RUN_ID: &str = "mlflow.parentRunId";
    /// Markdown description of a run or experiment.
    pub const NOTE_CONTENT: &str = "mlflow.note.content";
    /// Set to `True` once images were logged with a key and step.
    pub const LOGGED_IMAGES: &str = "mlflow.loggedImages";
    /// JSON list of logged tables.
    pub const LOGGED_ARTIFACTS: &str = "mlflow.loggedArtifacts";
}

/// Current time in epoch milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A fresh run id: `uuid4().hex`, 32 lowercase hex chars.
pub fn new_run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_through_int_and_name() {
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::from_int(s.to_int()), Some(s));
            assert_eq!(s.as_str().parse::<RunStatus>().unwrap(), s);
        }
        assert_eq!(RunStatus::from_int(9), None);
        assert!("finished".parse::<RunStatus>().is_err());
    }

    #[test]
    fn latest_metric_rule_is_step_then_timestamp_then_value() {
        let cur = Metric::new("m", 1.0, 100, 5);
        assert!(Metric::new("m", 0.0, 0, 6).is_newer_than(&cur));
        assert!(!Metric::new("m", 9.0, 99, 5).is_newer_than(&cur));
        assert!(Metric::new("m", 0.0, 101, 5).is_newer_than(&cur));
        assert!(Metric::new("m", 2.0, 100, 5).is_newer_than(&cur));
        assert!(!Metric::new("m", f64::NAN, 100, 5).is_newer_than(&cur));
        let nan = Metric::new("m", f64::NAN, 100, 5);
        assert!(!Metric::new("m", 2.0, 100, 5).is_newer_than(&nan));
    }

    #[test]
    fn run_ids_are_32_hex() {
        let id = new_run_id();
        assert_eq!(id.len(), 32);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
}
