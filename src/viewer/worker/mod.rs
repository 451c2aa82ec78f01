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

mod protocol;
mod reads;
pub mod router;

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{Receiver, Sender, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};

use crate::artifacts::ArtifactRepository;
use crate::model::ViewType;
use crate::store::{RunQuery, SEARCH_MAX_RESULTS_THRESHOLD, TrackingStore};

use super::artifact_preview;
pub use protocol::*;
use reads::*;

/// Capacity of the request channel.
const REQUEST_CHANNEL_CAPACITY: usize = 256;

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

    /// The next request: interactive ones first, then the search for the experiment active
    /// last (it may read the whole store, and the first rows should not wait for it: the
    /// runs search streams its newest runs first), run counts (slow, background) last.
    fn next(&mut self) -> Option<Envelope> {
        let background = |e: &Envelope| match e.request {
            Request::RunCounts { .. } => 2,
            Request::LatestActive { .. } => 1,
            _ => 0,
        };
        let pos = (0..=2)
            .find_map(|rank| self.queue.iter().position(|e| background(e) == rank))
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
        let query = RunQuery {
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
                ordered: true,
                progress: None,
            };
            self.answer(generation, Reply::Runs(Ok(empty)), true);
            return;
        }
        // Batches as the store reads them (a file store: newest runs first), so the first rows
        // show before the whole store is read; the last answer says it is done.
        let mut superseded = false;
        let mut ordered = true;
        let result = self.guarded(|this| {
            let store = this.store()?;
            store.stream_runs(&query, &mut |batch| {
                ordered = batch.ordered;
                let page = RunsPage {
                    runs: batch.runs,
                    warnings: batch.warnings,
                    done: false,
                    ordered: batch.ordered,
                    progress: batch.progress,
                };
                this.answer(generation, Reply::Runs(Ok(page)), false);
                // A newer search makes the rest of this one useless.
                while let Ok(env) = this.requests.try_recv() {
                    this.queue.push_back(env);
                }
                superseded = this
                    .queue
                    .iter()
                    .any(|e| matches!(e.request, Request::Runs { .. }));
                !superseded
            })?;
            Ok(())
        });
        match result {
            Ok(()) if superseded => self.answer(generation, Reply::Skipped, true),
            Ok(()) => {
                let last = RunsPage {
                    runs: Vec::new(),
                    warnings: Vec::new(),
                    done: true,
                    ordered,
                    progress: None,
                };
                self.answer(generation, Reply::Runs(Ok(last)), true);
            }
            Err(failure) => self.answer(generation, Reply::Runs(Err(failure)), true),
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
            Request::LatestActive { experiment_ids } => Reply::LatestActive(
                self.guarded(|this| latest_active(this.store()?.as_ref(), experiment_ids)),
            ),
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
            Request::ReadArtifact { root, path, limit } => {
                let result = self.guarded(|this| {
                    let repo = this.artifact_repo(&root)?;
                    artifact_preview::read_preview(repo.as_ref(), &path, limit)
                        .map_err(Failure::internal)
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

    /// Opens the store at `uri`, replacing the current one. A chosen folder that holds
    /// `mlruns/` or `mlflow.db` opens that; one that holds both asks; one that holds neither is
    /// "not an MLflow store" (see [`crate::store::locate_store`]; looked at here, off the UI
    /// thread).
    fn open(&mut self, uri: String) -> Result<OpenOutcome, Failure> {
        use crate::store::{Located, locate_store};
        let (uri, found_inside) = match locate_store(&uri) {
            Located::Store(uri) => (uri, None),
            Located::Inside { uri, folder, found } => {
                (uri, Some(format!("{found} inside {}", folder.display())))
            }
            Located::Both {
                folder,
                mlruns,
                database,
            } => {
                return Ok(OpenOutcome::Choose {
                    folder: folder.display().to_string(),
                    candidates: vec![mlruns.display().to_string(), database],
                });
            }
            Located::NotAStore { path, reason } => {
                return Err(Failure {
                    code: crate::error::ErrorCode::InvalidParameterValue,
                    message: Located::not_a_store_message(&path, &reason),
                });
            }
        };
        let store = open_existing(&uri)?;
        let writable = is_writable(&uri);
        let uri = store.tracking_uri();
        self.store = Some(store);
        self.artifact_repos.clear();
        Ok(OpenOutcome::Opened(Opened {
            uri,
            writable,
            found_inside,
        }))
    }
}

/// Whether `MLSCOPE_VIEWER_TRACE` asks for every request on stderr (read once).
fn trace_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("MLSCOPE_VIEWER_TRACE").is_some_and(|v| !v.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
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
        let located = crate::store::locate_store(&db.display().to_string());
        // sqlite:/// + the absolute path with `/` separators: sqlite:////tmp/… on unix,
        // sqlite:///C:/… on Windows.
        let absolute_with_slashes = |u: &str| {
            u.strip_prefix("sqlite:///")
                .is_some_and(|p| std::path::Path::new(p).is_absolute() && !p.contains('\\'))
        };
        assert!(
            matches!(&located, crate::store::Located::Store(u) if absolute_with_slashes(u)),
            "{located:?}"
        );
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
