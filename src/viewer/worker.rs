//! The worker: a named thread that owns the store and does every read and write.
//!
//! The UI sends [`Request`]s over a bounded channel and never waits; the worker answers each with
//! a [`Reply`] (one variant per request, carrying that request's own `Result`) wrapped in an
//! [`Answer`] with the generation it was sent with, then asks egui for a repaint. Requests that a
//! newer one of the same [`RequestKey`] (derived from the request) makes useless (typing a filter
//! sends one search per keystroke) are skipped. A panic inside the store is caught and reported
//! as an error of that one request.
//!
//! The worker sees the store only as a `dyn TrackingStore`: histories are followed through
//! [`TrackingStore::metric_history_since`] on every backend that can (byte offsets in a file
//! store's metric files, rowids in SQLite).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};

use crate::error::{ErrorCode, StoreWarning};
use crate::model::{Experiment, Run, RunTag, ViewType};
use crate::store::{ExperimentQuery, RunQuery, SEARCH_MAX_RESULTS_THRESHOLD, TrackingStore};

use super::artifact_preview::{self, ArtifactEntry, Preview};
use crate::artifacts::ArtifactRepository;

/// Capacity of the request channel.
const REQUEST_CHANNEL_CAPACITY: usize = 256;

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
    /// Read the start of an artifact for a preview.
    ReadArtifact {
        /// The run.
        root: ArtifactRoot,
        /// File relative to the root.
        path: String,
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
}

impl WriteOp {
    /// The runs this change touches.
    pub fn run_ids(&self) -> Vec<String> {
        match self {
            WriteOp::SetTag { run_id, .. }
            | WriteOp::DeleteTag { run_id, .. }
            | WriteOp::Rename { run_id, .. } => vec![run_id.clone()],
            WriteOp::DeleteRuns { run_ids } | WriteOp::RestoreRuns { run_ids } => run_ids.clone(),
        }
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
    fn supersedes(&self) -> bool {
        matches!(
            self,
            RequestKey::Runs | RequestKey::Experiments | RequestKey::RunCounts
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
            Request::GetRuns { .. } => RequestKey::GetRuns,
            Request::LiveRuns { .. } => RequestKey::LiveRuns,
            Request::Histories { run_id, .. } => RequestKey::Histories(run_id.clone()),
            Request::Write(_) => RequestKey::Write,
            Request::ListArtifacts { root, path } => {
                RequestKey::ArtifactList(root.artifact_uri.clone(), path.clone())
            }
            Request::ReadArtifact { root, path } => {
                RequestKey::ArtifactPreview(root.artifact_uri.clone(), path.clone())
            }
            Request::LocalCopy { .. } => RequestKey::LocalCopy,
            Request::Tail { .. } => RequestKey::Tail,
            Request::SaveFile { .. } => RequestKey::Save,
        }
    }

    /// The reply saying this request failed (the worker thread is gone, or it panicked).
    fn failed(self, failure: Failure) -> Reply {
        match self {
            Request::Open { .. } => Reply::Opened(Err(failure)),
            Request::Experiments { .. } => Reply::Experiments(Err(failure)),
            Request::Runs { .. } => Reply::Runs(Err(failure)),
            Request::RunCounts { .. } => Reply::RunCounts(Err(failure)),
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
            Request::ReadArtifact { root, path } => Reply::ArtifactPreview {
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
    Opened(Result<Opened, Failure>),
    /// [`Request::Experiments`].
    Experiments(Result<ExperimentList, Failure>),
    /// [`Request::Runs`], one page at a time.
    Runs(Result<RunsPage, Failure>),
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
    fn internal(message: impl Into<String>) -> Self {
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

/// One answer of the worker.
#[derive(Debug)]
pub struct Answer {
    /// The generation the request was sent with (answers of superseded searches are dropped).
    pub generation: u64,
    /// What the request produced.
    pub reply: Reply,
    /// Whether this is the request's last answer (pages of runs come in several).
    last: bool,
}

struct Envelope {
    generation: u64,
    request: Request,
}

impl Envelope {
    fn key(&self) -> RequestKey {
        self.request.key()
    }
}

/// The UI's handle on the worker thread.
pub struct Worker {
    requests: SyncSender<Envelope>,
    answers: Receiver<Answer>,
    repaint: Arc<Mutex<Option<egui::Context>>>,
    outbox: VecDeque<Envelope>,
    in_flight: usize,
}

impl Worker {
    /// Starts the worker thread, optionally with an already open store.
    pub fn spawn(store: Option<Arc<dyn TrackingStore>>) -> Worker {
        let (req_tx, req_rx) = std::sync::mpsc::sync_channel::<Envelope>(REQUEST_CHANNEL_CAPACITY);
        let (ans_tx, ans_rx) = std::sync::mpsc::channel::<Answer>();
        let repaint: Arc<Mutex<Option<egui::Context>>> = Arc::new(Mutex::new(None));
        let repaint_thread = Arc::clone(&repaint);
        let spawned = std::thread::Builder::new()
            .name("mlscope-viewer-worker".into())
            .spawn(move || {
                WorkerThread {
                    store,
                    artifact_repos: HashMap::new(),
                    requests: req_rx,
                    answers: ans_tx,
                    repaint: repaint_thread,
                    queue: VecDeque::new(),
                }
                .run()
            });
        if let Err(e) = spawned {
            // Without a thread nothing can load; the UI shows the error on the first request.
            eprintln!("mlscope: cannot start the viewer's worker thread: {e}");
        }
        Worker {
            requests: req_tx,
            answers: ans_rx,
            repaint,
            outbox: VecDeque::new(),
            in_flight: 0,
        }
    }

    /// Gives the worker the context to wake when an answer is ready.
    pub fn set_repaint_context(&self, ctx: &egui::Context) {
        if let Ok(mut slot) = self.repaint.lock()
            && slot.is_none()
        {
            *slot = Some(ctx.clone());
        }
    }

    /// Queues a request; never blocks (a full channel keeps it in an outbox, sent next frame).
    pub fn send(&mut self, generation: u64, request: Request) {
        if trace_enabled() {
            eprintln!("mlscope-viewer: request {:?}", request.key());
        }
        self.in_flight += 1;
        self.outbox.push_back(Envelope {
            generation,
            request,
        });
        self.flush();
    }

    /// Sends what the outbox holds, as far as the channel takes it.
    pub fn flush(&mut self) {
        while let Some(env) = self.outbox.pop_front() {
            match self.requests.try_send(env) {
                Ok(()) => {}
                Err(TrySendError::Full(env)) => {
                    self.outbox.push_front(env);
                    break;
                }
                Err(TrySendError::Disconnected(env)) => {
                    // The worker is gone: answer locally so the UI shows an error.
                    self.outbox.push_front(env);
                    break;
                }
            }
        }
    }

    /// Takes one answer, if any arrived.
    pub fn try_recv(&mut self) -> Option<Answer> {
        match self.answers.try_recv() {
            Ok(answer) => {
                if answer.last {
                    self.in_flight = self.in_flight.saturating_sub(1);
                }
                Some(answer)
            }
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                // The worker thread died: fail what was waiting.
                let env = self.outbox.pop_front()?;
                self.in_flight = self.in_flight.saturating_sub(1);
                Some(Answer {
                    generation: env.generation,
                    reply: env
                        .request
                        .failed(Failure::internal("the worker thread stopped")),
                    last: true,
                })
            }
        }
    }

    /// Whether nothing is waiting to be sent or answered.
    pub fn is_idle(&self) -> bool {
        self.in_flight == 0 && self.outbox.is_empty()
    }
}

struct WorkerThread {
    store: Option<Arc<dyn TrackingStore>>,
    /// Artifact repositories of the runs browsed since the store was opened.
    artifact_repos: HashMap<ArtifactRoot, Arc<dyn ArtifactRepository>>,
    requests: Receiver<Envelope>,
    answers: Sender<Answer>,
    repaint: Arc<Mutex<Option<egui::Context>>>,
    queue: VecDeque<Envelope>,
}

impl WorkerThread {
    fn run(mut self) {
        loop {
            if self.queue.is_empty() {
                match self.requests.recv() {
                    Ok(env) => self.queue.push_back(env),
                    Err(_) => return, // the UI is gone
                }
            }
            // Take everything that is waiting, so superseded requests can be skipped.
            while let Ok(env) = self.requests.try_recv() {
                self.queue.push_back(env);
            }
            let Some(env) = self.next() else { continue };
            let key = env.key();
            let superseded = key.supersedes() && self.queue.iter().any(|later| later.key() == key);
            if superseded {
                self.answer(env.generation, Reply::Skipped, true);
                continue;
            }
            self.handle(env);
        }
    }

    /// The next request: interactive ones first, run counts (slow, background) last.
    fn next(&mut self) -> Option<Envelope> {
        let pos = self
            .queue
            .iter()
            .position(|e| !matches!(e.request, Request::RunCounts { .. }))
            .unwrap_or(0);
        self.queue.remove(pos)
    }

    fn answer(&self, generation: u64, reply: Reply, last: bool) {
        let _ = self.answers.send(Answer {
            generation,
            reply,
            last,
        });
        if let Ok(slot) = self.repaint.lock()
            && let Some(ctx) = slot.as_ref()
        {
            ctx.request_repaint();
        }
    }

    fn handle(&mut self, env: Envelope) {
        let Envelope {
            generation,
            request,
        } = env;
        if let Request::Runs {
            experiment_ids,
            filter,
            view,
        } = &request
        {
            self.search_runs_paged(generation, experiment_ids, filter, *view);
            return;
        }
        let reply = self.execute(request);
        self.answer(generation, reply, true);
    }

    /// Runs `f`, turning a panic of the store into an error.
    fn guarded<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self))) {
            Ok(result) => result,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown error".into());
                Err(Failure::internal(format!(
                    "the store failed unexpectedly ({what}); this is a bug in mlscope"
                )))
            }
        }
    }

    /// The run's artifact repository, opened once per run while the store is open.
    fn artifact_repo(
        &mut self,
        root: &ArtifactRoot,
    ) -> Result<Arc<dyn ArtifactRepository>, Failure> {
        if let Some(repo) = self.artifact_repos.get(root) {
            return Ok(Arc::clone(repo));
        }
        let tracking_uri = self.store()?.tracking_uri();
        let (_, repo) = crate::artifacts::open_run_artifacts(
            &root.artifact_uri,
            crate::artifacts::RunLocator {
                tracking_uri: &tracking_uri,
                experiment_id: &root.experiment_id,
                run_id: &root.run_id,
            },
        )?;
        self.artifact_repos.insert(root.clone(), Arc::clone(&repo));
        Ok(repo)
    }

    fn store(&self) -> Result<Arc<dyn TrackingStore>, Failure> {
        self.store
            .clone()
            .ok_or_else(|| Failure::internal("no store is open"))
    }

    fn search_runs_paged(
        &mut self,
        generation: u64,
        experiment_ids: &[String],
        filter: &str,
        view: ViewType,
    ) {
        let mut query = RunQuery {
            experiment_ids: experiment_ids.to_vec(),
            filter: filter.to_string(),
            view_type: view,
            max_results: SEARCH_MAX_RESULTS_THRESHOLD,
            order_by: Vec::new(),
            page_token: None,
        };
        if experiment_ids.is_empty() {
            let empty = RunsPage {
                runs: Vec::new(),
                warnings: Vec::new(),
                done: true,
            };
            self.answer(generation, Reply::Runs(Ok(empty)), true);
            return;
        }
        loop {
            let page = self.guarded(|this| Ok(this.store()?.search_runs(&query)?));
            match page {
                Ok(page) => {
                    let done = page.next_page_token.is_none();
                    let runs = RunsPage {
                        runs: page.items,
                        warnings: page.warnings,
                        done,
                    };
                    self.answer(generation, Reply::Runs(Ok(runs)), done);
                    if done {
                        return;
                    }
                    query.page_token = page.next_page_token;
                    // A newer search makes the rest of this one useless.
                    while let Ok(env) = self.requests.try_recv() {
                        self.queue.push_back(env);
                    }
                    if self
                        .queue
                        .iter()
                        .any(|e| matches!(e.request, Request::Runs { .. }))
                    {
                        self.answer(generation, Reply::Skipped, true);
                        return;
                    }
                }
                Err(failure) => {
                    self.answer(generation, Reply::Runs(Err(failure)), true);
                    return;
                }
            }
        }
    }

    /// Does one request (runs are searched page by page in [`Self::search_runs_paged`]).
    fn execute(&mut self, request: Request) -> Reply {
        match request {
            Request::Open { uri } => Reply::Opened(self.guarded(|this| this.open(uri))),
            Request::Experiments { view } => {
                Reply::Experiments(self.guarded(|this| experiments(this.store()?.as_ref(), view)))
            }
            Request::Runs { .. } => {
                Reply::Runs(Err(Failure::internal("runs are searched page by page")))
            }
            Request::RunCounts { experiment_ids } => Reply::RunCounts(
                self.guarded(|this| run_counts(this.store()?.as_ref(), experiment_ids)),
            ),
            Request::GetRuns { run_ids } => {
                Reply::Refreshed(self.guarded(|this| Ok(get_runs(this.store()?.as_ref(), run_ids))))
            }
            Request::LiveRuns { run_ids } => Reply::LiveRefreshed(
                self.guarded(|this| Ok(get_runs(this.store()?.as_ref(), run_ids))),
            ),
            Request::Histories { run_id, keys } => {
                let result =
                    self.guarded(|this| Ok(histories(this.store()?.as_ref(), &run_id, keys)));
                Reply::Histories { run_id, result }
            }
            Request::Write(op) => Reply::Written(self.guarded(|this| {
                let errors = write(this.store()?.as_ref(), &op)?;
                Ok(Written { op, errors })
            })),
            Request::ListArtifacts { root, path } => {
                let result = self.guarded(|this| {
                    let repo = this.artifact_repo(&root)?;
                    artifact_preview::list(repo.as_ref(), &path).map_err(Failure::internal)
                });
                Reply::ArtifactList {
                    root: root.artifact_uri,
                    path,
                    result,
                }
            }
            Request::ReadArtifact { root, path } => {
                let result = self.guarded(|this| {
                    let repo = this.artifact_repo(&root)?;
                    artifact_preview::preview(repo.as_ref(), &path).map_err(Failure::internal)
                });
                Reply::ArtifactPreview {
                    root: root.artifact_uri,
                    path,
                    result,
                }
            }
            Request::LocalCopy { root, path } => Reply::LocalCopy(self.guarded(|this| {
                let repo = this.artifact_repo(&root)?;
                local_copy(repo.as_ref(), &root, &path)
            })),
            Request::Tail { items } => {
                Reply::Tails(self.guarded(|this| Ok(tails(this.store()?.as_ref(), items))))
            }
            Request::SaveFile { path, bytes } => Reply::Saved(
                std::fs::write(&path, bytes)
                    .map(|()| path.clone())
                    .map_err(|e| {
                        Failure::internal(format!("cannot write {}: {e}", path.display()))
                    }),
            ),
        }
    }

    /// Opens the store at `uri`, replacing the current one.
    fn open(&mut self, uri: String) -> Result<Opened, Failure> {
        // A dropped or chosen path: a .db file is a SQLite store (checked here, off the UI
        // thread).
        let uri = if uri.contains("://") || uri.starts_with("file:") || uri.starts_with("sqlite:") {
            uri
        } else {
            uri_for_path(Path::new(&uri))
        };
        let store = open_existing(&uri)?;
        let writable = is_writable(&uri);
        let uri = store.tracking_uri();
        self.store = Some(store);
        self.artifact_repos.clear();
        Ok(Opened { uri, writable })
    }
}

/// Every experiment of `view`, page after page.
fn experiments(store: &dyn TrackingStore, view: ViewType) -> Result<ExperimentList, Failure> {
    let mut query = ExperimentQuery {
        view_type: view,
        max_results: SEARCH_MAX_RESULTS_THRESHOLD,
        ..ExperimentQuery::default()
    };
    let mut experiments = Vec::new();
    let mut warnings = Vec::new();
    loop {
        let page = store.search_experiments(&query)?;
        experiments.extend(page.items);
        warnings.extend(page.warnings);
        match page.next_page_token {
            Some(t) => query.page_token = Some(t),
            None => break,
        }
    }
    Ok(ExperimentList {
        experiments,
        warnings,
    })
}

/// The number of active runs of each experiment.
fn run_counts(
    store: &dyn TrackingStore,
    experiment_ids: Vec<String>,
) -> Result<BTreeMap<String, usize>, Failure> {
    let mut counts = BTreeMap::new();
    for id in experiment_ids {
        let mut query = RunQuery::new([id.clone()]);
        query.max_results = SEARCH_MAX_RESULTS_THRESHOLD;
        let mut n = 0;
        loop {
            let page = store.search_runs(&query)?;
            n += page.items.len();
            match page.next_page_token {
                Some(t) => query.page_token = Some(t),
                None => break,
            }
        }
        counts.insert(id, n);
    }
    Ok(counts)
}

/// Reads runs again; those that cannot be read are listed with the reason.
fn get_runs(store: &dyn TrackingStore, run_ids: Vec<String>) -> Refreshed {
    let mut runs = Vec::new();
    let mut errors = Vec::new();
    for id in run_ids {
        match store.get_run(&id) {
            Ok(run) => runs.push(run),
            Err(e) => errors.push((id, Failure::from(e).message)),
        }
    }
    Refreshed { runs, errors }
}

/// Full histories of `keys`: followed from where they stop when the store can
/// ([`histories_followed`]), else read whole (and read again whole on change).
fn histories(store: &dyn TrackingStore, run_id: &str, keys: Vec<String>) -> Histories {
    if let Some(followed) = histories_followed(store, run_id, &keys) {
        return followed;
    }
    let mut series = BTreeMap::new();
    let mut errors = BTreeMap::new();
    match store.get_metric_histories(run_id, &keys) {
        Ok(all) => {
            for (k, metrics) in all {
                series.insert(k, to_series(&metrics));
            }
        }
        Err(_) => {
            // Ask key by key so one bad metric file does not hide the others.
            for k in keys {
                match store.get_metric_history(run_id, &k) {
                    Ok(m) => {
                        series.insert(k, to_series(&m));
                    }
                    Err(e) => {
                        errors.insert(k, Failure::from(e).message);
                    }
                }
            }
        }
    }
    Histories { series, errors }
}

/// What was appended to each followed history since the cursor the UI holds.
fn tails(store: &dyn TrackingStore, items: Vec<(String, String, u64)>) -> Vec<TailAnswer> {
    items
        .into_iter()
        .map(|(run_id, key, from)| {
            let result = store
                .metric_history_since(&run_id, &key, from)
                .and_then(|tail| {
                    tail.ok_or_else(|| {
                        crate::Error::InvalidState(
                            "this store cannot follow metric histories".into(),
                        )
                    })
                })
                .map_err(|e| Failure::from(e).message);
            TailAnswer {
                run_id,
                key,
                from,
                result,
            }
        })
        .collect()
}

/// Applies one change; for several runs, goes on after a failure and lists the failures.
fn write(store: &dyn TrackingStore, op: &WriteOp) -> Result<Vec<String>, Failure> {
    match op {
        WriteOp::SetTag { run_id, tag } => store.set_tag(run_id, tag)?,
        WriteOp::DeleteTag { run_id, key } => store.delete_tag(run_id, key)?,
        WriteOp::Rename { run_id, name } => {
            store.update_run_info(run_id, None, None, Some(name))?;
        }
        WriteOp::DeleteRuns { run_ids } | WriteOp::RestoreRuns { run_ids } => {
            let delete = matches!(op, WriteOp::DeleteRuns { .. });
            let mut errors = Vec::new();
            for id in run_ids {
                let r = if delete {
                    store.delete_run(id)
                } else {
                    store.restore_run(id)
                };
                if let Err(e) = r {
                    errors.push(format!("{id}: {}", Failure::from(e).message));
                }
            }
            if errors.len() == run_ids.len() && !errors.is_empty() {
                return Err(Failure::internal(errors.join("; ")));
            }
            return Ok(errors);
        }
    }
    Ok(Vec::new())
}

fn to_series(metrics: &[crate::model::Metric]) -> Series {
    let mut series = Series::default();
    series.extend(metrics);
    series
}

/// Histories read with [`TrackingStore::metric_history_since`] from the start (file stores,
/// SQLite), with the cursor to follow them from; `None` when the store cannot follow histories.
fn histories_followed(
    store: &dyn TrackingStore,
    run_id: &str,
    keys: &[String],
) -> Option<Histories> {
    let mut series = BTreeMap::new();
    let mut errors = BTreeMap::new();
    for k in keys {
        match store.metric_history_since(run_id, k, 0) {
            Ok(Some(tail)) => {
                let mut s = to_series(&tail.metrics);
                s.offset = Some(tail.next_offset);
                series.insert(k.clone(), s);
            }
            Ok(None) => return None,
            Err(e) => {
                errors.insert(k.clone(), Failure::from(e).message);
            }
        }
    }
    Some(Histories { series, errors })
}

/// Turns a dropped or chosen path into a tracking URI: `.db`/`.sqlite` files are SQLite.
pub fn uri_for_path(path: &Path) -> String {
    let is_db = path.is_file()
        && path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
            matches!(e.to_ascii_lowercase().as_str(), "db" | "sqlite" | "sqlite3")
        });
    if is_db {
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        format!("sqlite:///{}", abs.display())
    } else {
        path.display().to_string()
    }
}

/// Whether `MLSCOPE_VIEWER_TRACE` asks for every request on stderr (read once).
fn trace_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("MLSCOPE_VIEWER_TRACE").is_some_and(|v| !v.is_empty()))
}

/// The artifact as a file on this machine: where it is, or a download of it (a tracking
/// server's artifacts) under the system's temporary folder.
fn local_copy(
    repo: &dyn ArtifactRepository,
    root: &ArtifactRoot,
    path: &str,
) -> Result<PathBuf, Failure> {
    if let Some(local) = repo.local_path(path)? {
        return Ok(local);
    }
    let dir = std::env::temp_dir()
        .join("mlscope-artifacts")
        .join(crate::artifacts::ArtifactPath::parse(&root.run_id)?.to_string());
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::internal(format!("cannot create {}: {e}", dir.display())))?;
    Ok(repo.download(path, &dir)?)
}

/// Whether the store's folder or database file may be written.
fn is_writable(uri: &str) -> bool {
    use crate::store::{StoreLocation, parse_tracking_uri};
    match parse_tracking_uri(uri) {
        Ok(StoreLocation::File(p) | StoreLocation::Sqlite(p)) => std::fs::metadata(&p)
            .map(|m| !m.permissions().readonly())
            .unwrap_or(false),
        _ => true,
    }
}

/// Opens a store that must already exist (opening a missing folder would create a store).
fn open_existing(uri: &str) -> Result<Arc<dyn TrackingStore>, Failure> {
    use crate::store::{StoreLocation, parse_tracking_uri};
    let location = parse_tracking_uri(uri)?;
    let missing = match &location {
        StoreLocation::File(p) | StoreLocation::Sqlite(p) => (!p.exists()).then(|| p.clone()),
        StoreLocation::Http(_) => None,
    };
    if let Some(p) = missing {
        return Err(Failure {
            code: ErrorCode::ResourceDoesNotExist,
            message: format!("nothing to open: {} does not exist", p.display()),
        });
    }
    if let StoreLocation::File(p) = &location
        && !p.is_dir()
    {
        return Err(Failure {
            code: ErrorCode::InvalidParameterValue,
            message: format!(
                "{} is a file, not an mlruns folder (open a .db file as a database)",
                p.display()
            ),
        });
    }
    if let StoreLocation::Http(url) = &location {
        return open_server(url);
    }
    Ok(crate::store::open_store(uri)?)
}

/// Opens a tracking server with a viewer's patience and checks it answers, so that an
/// unreachable server or refused credentials show at once, in words.
///
/// MLflow's client defaults (7 retries with exponential backoff, 120 s timeouts) suit a training
/// job that must not lose data, but would keep a window waiting minutes before saying a server is
/// down: unless `MLFLOW_HTTP_REQUEST_MAX_RETRIES` / `MLFLOW_HTTP_REQUEST_TIMEOUT` are set, the
/// viewer retries [`VIEWER_HTTP_RETRIES`] times and waits at most [`VIEWER_HTTP_TIMEOUT`].
fn open_server(url: &str) -> Result<Arc<dyn TrackingStore>, Failure> {
    let mut config = crate::store::rest::RestConfig::from_env(url)?;
    let unset = |name: &str| std::env::var(name).map_or(true, |v| v.trim().is_empty());
    if unset("MLFLOW_HTTP_REQUEST_MAX_RETRIES") {
        config.max_retries = VIEWER_HTTP_RETRIES;
    }
    if unset("MLFLOW_HTTP_REQUEST_TIMEOUT") {
        config.timeout = VIEWER_HTTP_TIMEOUT;
    }
    let store = crate::store::RestStore::with_config(config)?;
    let probe = crate::ExperimentQuery {
        max_results: 1,
        ..Default::default()
    };
    store.search_experiments(&probe).map_err(|e| {
        let code = e.error_code();
        let hint = match code {
            ErrorCode::Unauthenticated | ErrorCode::PermissionDenied => {
                " Set the credentials in the environment before starting mlscope."
            }
            _ => "",
        };
        Failure {
            code,
            message: format!("cannot open {url}: {e}{hint}"),
        }
    })?;
    Ok(Arc::new(store))
}

/// Retries of a request to a tracking server from the viewer, unless
/// `MLFLOW_HTTP_REQUEST_MAX_RETRIES` is set (MLflow's default of 7 with backoff would keep a
/// window waiting minutes before it says a server is down).
pub const VIEWER_HTTP_RETRIES: u32 = 2;
/// Longest wait for a tracking server's answer in the viewer, unless
/// `MLFLOW_HTTP_REQUEST_TIMEOUT` is set.
pub const VIEWER_HTTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn failures_keep_the_code_apart_from_the_message() {
        let f = Failure::from(crate::Error::InvalidParameter("bad filter at 3".into()));
        assert_eq!(f.code, ErrorCode::InvalidParameterValue);
        assert_eq!(f.message, "bad filter at 3");
    }

    #[test]
    fn db_files_become_sqlite_uris() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("mlflow.db");
        std::fs::write(&db, b"").unwrap();
        assert!(uri_for_path(&db).starts_with("sqlite:////"));
        assert_eq!(uri_for_path(dir.path()), dir.path().display().to_string());
    }

    #[test]
    fn opening_a_missing_folder_fails_without_creating_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = open_existing(&missing.display().to_string()).err().unwrap();
        assert_eq!(err.code, ErrorCode::ResourceDoesNotExist);
        assert!(!missing.exists());
    }

    /// Waits for the worker's next answer.
    fn answer(worker: &mut Worker) -> Answer {
        let started = Instant::now();
        loop {
            if let Some(a) = worker.try_recv() {
                return a;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "no answer");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn sqlite_histories_are_followed_with_each_new_row_once() {
        use crate::model::Metric;
        use crate::store::SqliteStore;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("mlflow.db");
        let writer = SqliteStore::open_with_artifact_root(&db, "/tmp/a").unwrap();
        let exp = writer.create_experiment("live", None, &[]).unwrap();
        let run = writer
            .create_run(crate::store::CreateRun {
                experiment_id: exp,
                ..Default::default()
            })
            .unwrap();
        let id = run.info.run_id;
        writer
            .log_batch(&id, &[Metric::new("loss", 1.0, 1, 0)], &[], &[])
            .unwrap();
        let store: Arc<dyn TrackingStore> = Arc::new(SqliteStore::open(&db).unwrap());
        let mut worker = Worker::spawn(Some(store));
        worker.send(
            1,
            Request::Histories {
                run_id: id.clone(),
                keys: vec!["loss".into()],
            },
        );
        let Reply::Histories {
            result: Ok(Histories { series, .. }),
            ..
        } = answer(&mut worker).reply
        else {
            panic!("no histories");
        };
        let mut held = series["loss"].clone();
        assert_eq!(held.steps, [0]);
        // Another process logs; each tail returns only what is new.
        for step in 1..4 {
            writer
                .log_batch(&id, &[Metric::new("loss", 1.0, 1 + step, step)], &[], &[])
                .unwrap();
            let from = held.offset.expect("followed");
            worker.send(
                1 + step as u64,
                Request::Tail {
                    items: vec![(id.clone(), "loss".into(), from)],
                },
            );
            let Reply::Tails(Ok(tails)) = answer(&mut worker).reply else {
                panic!("no tails");
            };
            let tail = tails[0].result.as_ref().unwrap();
            held.extend(&tail.metrics);
            held.offset = Some(tail.next_offset);
        }
        assert_eq!(held.steps, [0, 1, 2, 3]);
    }
}
