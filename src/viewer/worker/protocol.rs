//! The worker's protocol: what the UI asks ([`Request`], whose [`RequestKey`] is derived from
//! it) and what the worker answers ([`Reply`]: one variant per request, each carrying that
//! request's own result).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::{ErrorCode, StoreWarning};
use crate::model::{Experiment, Run, RunTag, ViewType};

use super::super::artifact_preview::{ArtifactEntry, Preview, ReadLimit};

/// What the UI asks the worker to do.
#[derive(Debug, Clone)]
pub enum Request {
    /// Open the store at a path or tracking URI (replacing the current one).
    Open {
        /// Path or URI.
        uri: String,
    },
    /// List experiments.
    Experiments {
        /// Active, deleted or all.
        view: ViewType,
    },
    /// Every run of some experiments matching a filter (answered page by page).
    Runs {
        /// Experiments.
        experiment_ids: Vec<String>,
        /// MLflow filter string.
        filter: String,
        /// Active, deleted or all.
        view: ViewType,
    },
    /// Which of these experiments was active last: the experiment of the newest run that
    /// logged metrics (else of the newest run), for the first view.
    LatestActive {
        /// Experiments.
        experiment_ids: Vec<String>,
    },
    /// Count the active runs of each experiment.
    RunCounts {
        /// Experiments.
        experiment_ids: Vec<String>,
    },
    /// Read some runs again (after a change).
    GetRuns {
        /// Runs.
        run_ids: Vec<String>,
    },
    /// Read some runs again because live refresh saw them change (a run that cannot be read
    /// went away, or is being written).
    LiveRuns {
        /// Runs.
        run_ids: Vec<String>,
    },
    /// Full histories of some metrics of a run.
    Histories {
        /// Run.
        run_id: String,
        /// Metric keys.
        keys: Vec<String>,
    },
    /// A change to the store.
    Write(WriteOp),
    /// List one folder of a run's artifacts.
    ListArtifacts {
        /// The run.
        root: ArtifactRoot,
        /// Folder relative to the root ("" for the root).
        path: String,
    },
    /// Read an artifact for a preview: its start, more of it, or all of it.
    ReadArtifact {
        /// The run.
        root: ArtifactRoot,
        /// File relative to the root.
        path: String,
        /// How much to read.
        limit: ReadLimit,
    },
    /// A local file holding an artifact (downloaded from a server when needed), to open it
    /// outside the viewer.
    LocalCopy {
        /// The run.
        root: ArtifactRoot,
        /// File relative to the root.
        path: String,
    },
    /// What was appended to some metric files since the offsets held (live refresh).
    Tail {
        /// (run, metric key, byte offset held).
        items: Vec<(String, String, u64)>,
    },
    /// Write bytes to a file the user chose (chart exports).
    SaveFile {
        /// Destination.
        path: PathBuf,
        /// Contents.
        bytes: Vec<u8>,
    },
}

/// The run whose artifacts a request is about. The worker opens the run's repository with
/// [`crate::artifacts::open_run_artifacts`]: a local folder (found relative to the store when
/// the store was copied from another machine) or a tracking server's proxied artifacts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ArtifactRoot {
    /// The run.
    pub run_id: String,
    /// Its experiment.
    pub experiment_id: String,
    /// The run's recorded `artifact_uri`.
    pub artifact_uri: String,
}

/// A change to the store, written by the worker.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    /// Set (add or replace) a run tag.
    SetTag {
        /// Run.
        run_id: String,
        /// Tag.
        tag: RunTag,
    },
    /// Delete a run tag.
    DeleteTag {
        /// Run.
        run_id: String,
        /// Key.
        key: String,
    },
    /// Rename a run.
    Rename {
        /// Run.
        run_id: String,
        /// New name.
        name: String,
    },
    /// Soft-delete runs.
    DeleteRuns {
        /// Runs.
        run_ids: Vec<String>,
    },
    /// Restore soft-deleted runs.
    RestoreRuns {
        /// Runs.
        run_ids: Vec<String>,
    },
    /// One tag on several runs at once (the runs table's bulk tag, and its undo).
    TagRuns {
        /// The tag's key.
        key: String,
        /// Each run's change: the value to set (`None`: delete the tag) and the value it had
        /// (`None`: none), so that [`WriteOp::undo_of_tags`] can put it back.
        changes: Vec<TagChange>,
    },
}

/// One run's change of a [`WriteOp::TagRuns`].
#[derive(Debug, Clone, PartialEq)]
pub struct TagChange {
    /// The run.
    pub run_id: String,
    /// The value to set; `None` deletes the tag.
    pub new: Option<String>,
    /// The value before; `None` when the run had no such tag.
    pub old: Option<String>,
}

impl WriteOp {
    /// The runs this change touches.
    pub fn run_ids(&self) -> Vec<String> {
        match self {
            WriteOp::SetTag { run_id, .. }
            | WriteOp::DeleteTag { run_id, .. }
            | WriteOp::Rename { run_id, .. } => vec![run_id.clone()],
            WriteOp::DeleteRuns { run_ids } | WriteOp::RestoreRuns { run_ids } => run_ids.clone(),
            WriteOp::TagRuns { changes, .. } => changes.iter().map(|c| c.run_id.clone()).collect(),
        }
    }

    /// The change that puts back what a [`WriteOp::TagRuns`] changed (`None` for other ops).
    pub fn undo_of_tags(&self) -> Option<WriteOp> {
        let WriteOp::TagRuns { key, changes } = self else {
            return None;
        };
        Some(WriteOp::TagRuns {
            key: key.clone(),
            changes: changes
                .iter()
                .map(|c| TagChange {
                    run_id: c.run_id.clone(),
                    new: c.old.clone(),
                    old: c.new.clone(),
                })
                .collect(),
        })
    }
}

/// What a request is about, derived from it ([`Request::key`]): a newer request with the same
/// key can make an older one useless, and traces name requests by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RequestKey {
    /// [`Request::Open`].
    Open,
    /// [`Request::Experiments`].
    Experiments,
    /// [`Request::Runs`].
    Runs,
    /// [`Request::RunCounts`].
    RunCounts,
    /// [`Request::LatestActive`].
    LatestActive,
    /// [`Request::GetRuns`].
    GetRuns,
    /// [`Request::LiveRuns`].
    LiveRuns,
    /// [`Request::Histories`] of a run.
    Histories(String),
    /// [`Request::Write`].
    Write,
    /// [`Request::ListArtifacts`] (artifact URI, folder).
    ArtifactList(String, String),
    /// [`Request::ReadArtifact`] (artifact URI, file).
    ArtifactPreview(String, String),
    /// [`Request::LocalCopy`].
    LocalCopy,
    /// [`Request::Tail`].
    Tail,
    /// [`Request::SaveFile`].
    Save,
}

impl RequestKey {
    /// Whether a newer request with the same key makes an older one useless.
    pub(super) fn supersedes(&self) -> bool {
        matches!(
            self,
            RequestKey::Runs
                | RequestKey::Experiments
                | RequestKey::RunCounts
                | RequestKey::LatestActive
        )
    }
}

impl Request {
    /// What the request is about.
    pub fn key(&self) -> RequestKey {
        match self {
            Request::Open { .. } => RequestKey::Open,
            Request::Experiments { .. } => RequestKey::Experiments,
            Request::Runs { .. } => RequestKey::Runs,
            Request::RunCounts { .. } => RequestKey::RunCounts,
            Request::LatestActive { .. } => RequestKey::LatestActive,
            Request::GetRuns { .. } => RequestKey::GetRuns,
            Request::LiveRuns { .. } => RequestKey::LiveRuns,
            Request::Histories { run_id, .. } => RequestKey::Histories(run_id.clone()),
            Request::Write(_) => RequestKey::Write,
            Request::ListArtifacts { root, path } => {
                RequestKey::ArtifactList(root.artifact_uri.clone(), path.clone())
            }
            Request::ReadArtifact { root, path, .. } => {
                RequestKey::ArtifactPreview(root.artifact_uri.clone(), path.clone())
            }
            Request::LocalCopy { .. } => RequestKey::LocalCopy,
            Request::Tail { .. } => RequestKey::Tail,
            Request::SaveFile { .. } => RequestKey::Save,
        }
    }

    /// The reply saying this request failed (the worker thread is gone, or it panicked).
    pub(super) fn failed(self, failure: Failure) -> Reply {
        match self {
            Request::Open { .. } => Reply::Opened(Err(failure)),
            Request::Experiments { .. } => Reply::Experiments(Err(failure)),
            Request::Runs { .. } => Reply::Runs(Err(failure)),
            Request::RunCounts { .. } => Reply::RunCounts(Err(failure)),
            Request::LatestActive { .. } => Reply::LatestActive(Err(failure)),
            Request::GetRuns { .. } => Reply::Refreshed(Err(failure)),
            Request::LiveRuns { .. } => Reply::LiveRefreshed(Err(failure)),
            Request::Histories { run_id, .. } => Reply::Histories {
                run_id,
                result: Err(failure),
            },
            Request::Write(_) => Reply::Written(Err(failure)),
            Request::ListArtifacts { root, path } => Reply::ArtifactList {
                root: root.artifact_uri,
                path,
                result: Err(failure),
            },
            Request::ReadArtifact { root, path, .. } => Reply::ArtifactPreview {
                root: root.artifact_uri,
                path,
                result: Err(failure),
            },
            Request::LocalCopy { .. } => Reply::LocalCopy(Err(failure)),
            Request::Tail { .. } => Reply::Tails(Err(failure)),
            Request::SaveFile { .. } => Reply::Saved(Err(failure)),
        }
    }
}

/// A time series of one metric of one run, in logging order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// Steps.
    pub steps: Vec<i64>,
    /// Timestamps, epoch ms.
    pub timestamps: Vec<i64>,
    /// Values.
    pub values: Vec<f64>,
    /// Where the history was read up to: bytes of the metric file (file stores), a rowid
    /// (SQLite); `None` when the history cannot be followed incrementally and is read again
    /// whole.
    pub offset: Option<u64>,
}

impl Series {
    /// Appends points in logging order.
    pub fn extend(&mut self, metrics: &[crate::model::Metric]) {
        self.steps.extend(metrics.iter().map(|m| m.step));
        self.timestamps.extend(metrics.iter().map(|m| m.timestamp));
        self.values.extend(metrics.iter().map(|m| m.value));
    }
}

/// What [`Request::Tail`] found for one metric.
#[derive(Debug)]
pub struct TailAnswer {
    /// Run.
    pub run_id: String,
    /// Metric key.
    pub key: String,
    /// The offset the read started from (the one the UI held).
    pub from: u64,
    /// The new points and offset, or why they could not be read.
    pub result: Result<crate::store::file::MetricTail, String>,
}

/// An open store.
#[derive(Debug)]
pub struct Opened {
    /// Its tracking URI.
    pub uri: String,
    /// Whether its files can be written (false on read-only media or permissions).
    pub writable: bool,
    /// What was found inside the folder the user chose (`mlruns/` or `mlflow.db`), when the
    /// store is not the chosen path itself.
    pub found_inside: Option<String>,
}

/// What opening a chosen path gave.
#[derive(Debug)]
pub enum OpenOutcome {
    /// The store is open.
    Opened(Opened),
    /// The chosen folder holds both an `mlruns/` folder and an `mlflow.db`: the user picks one
    /// (nothing was opened; the previous store stays).
    Choose {
        /// The chosen folder.
        folder: String,
        /// The `mlruns` folder's path and the database's `sqlite:` URI.
        candidates: Vec<String>,
    },
}

/// Every experiment of a listing.
#[derive(Debug)]
pub struct ExperimentList {
    /// The experiments.
    pub experiments: Vec<Experiment>,
    /// Experiments that could not be read.
    pub warnings: Vec<StoreWarning>,
}

/// One page of a runs search.
#[derive(Debug)]
pub struct RunsPage {
    /// This page's runs.
    pub runs: Vec<Run>,
    /// Runs of this page that could not be read.
    pub warnings: Vec<StoreWarning>,
    /// Whether this was the last page.
    pub done: bool,
    /// Whether the pages come in the store's order (newest first); else the app orders them.
    pub ordered: bool,
    /// Runs looked at so far and in all, when the store knows (the progress bar).
    pub progress: Option<(usize, usize)>,
}

/// Runs read again.
#[derive(Debug)]
pub struct Refreshed {
    /// The runs that could be read.
    pub runs: Vec<Run>,
    /// Runs that could not be read, with the reason.
    pub errors: Vec<(String, String)>,
}

/// Metric histories of a run.
#[derive(Debug)]
pub struct Histories {
    /// Series by key (keys that failed are in `errors`).
    pub series: BTreeMap<String, Series>,
    /// Keys whose history could not be read, with the reason.
    pub errors: BTreeMap<String, String>,
}

/// A write that went through (the failures of a several-run write are listed).
#[derive(Debug)]
pub struct Written {
    /// The change.
    pub op: WriteOp,
    /// Runs whose change failed, with the reason.
    pub errors: Vec<String>,
}

/// What the worker answers: one variant per [`Request`] variant, each with its own result, so
/// an answer cannot be paired with the wrong payload.
#[derive(Debug)]
pub enum Reply {
    /// [`Request::Open`].
    Opened(Result<OpenOutcome, Failure>),
    /// [`Request::Experiments`].
    Experiments(Result<ExperimentList, Failure>),
    /// [`Request::Runs`], one page at a time.
    Runs(Result<RunsPage, Failure>),
    /// [`Request::LatestActive`]: the experiment, if any has runs.
    LatestActive(Result<Option<String>, Failure>),
    /// [`Request::RunCounts`]: active runs per experiment.
    RunCounts(Result<BTreeMap<String, usize>, Failure>),
    /// [`Request::GetRuns`].
    Refreshed(Result<Refreshed, Failure>),
    /// [`Request::LiveRuns`].
    LiveRefreshed(Result<Refreshed, Failure>),
    /// [`Request::Histories`].
    Histories {
        /// The run.
        run_id: String,
        /// Its histories.
        result: Result<Histories, Failure>,
    },
    /// [`Request::Write`].
    Written(Result<Written, Failure>),
    /// [`Request::ListArtifacts`].
    ArtifactList {
        /// The run's artifact URI.
        root: String,
        /// The folder.
        path: String,
        /// Its entries.
        result: Result<Vec<ArtifactEntry>, Failure>,
    },
    /// [`Request::ReadArtifact`].
    ArtifactPreview {
        /// The run's artifact URI.
        root: String,
        /// The file.
        path: String,
        /// Its preview.
        result: Result<Preview, Failure>,
    },
    /// [`Request::LocalCopy`]: where the artifact is on this machine.
    LocalCopy(Result<PathBuf, Failure>),
    /// [`Request::Tail`]: appended metric points.
    Tails(Result<Vec<TailAnswer>, Failure>),
    /// [`Request::SaveFile`]: the file saved.
    Saved(Result<PathBuf, Failure>),
    /// The request was skipped because a newer one with the same key came.
    Skipped,
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// MLflow's error code (invalid filters are `INVALID_PARAMETER_VALUE`).
    pub code: ErrorCode,
    /// The message.
    pub message: String,
}

impl Failure {
    pub(super) fn internal(message: impl Into<String>) -> Self {
        Failure {
            code: ErrorCode::InternalError,
            message: message.into(),
        }
    }
}

impl From<crate::Error> for Failure {
    fn from(e: crate::Error) -> Self {
        let code = e.error_code();
        let text = e.to_string();
        // Drop the "CODE: " prefix of the Display form: the code is kept apart.
        let message = text
            .strip_prefix(&format!("{}: ", code.as_str()))
            .map(str::to_string)
            .unwrap_or(text);
        Failure { code, message }
    }
}
