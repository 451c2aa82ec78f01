//! The engine of asynchronous logging (see [`crate::tracking::async_logging`] for the behaviour):
//! one bounded queue per store and the named thread that merges what is queued into MLflow-sized
//! `log_batch` requests and writes them. It knows only the store; artifacts are copied through
//! a writer the client hands over, so the queue sits below [`TrackingClient`](super::TrackingClient).

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::error::{Error, ErrorCode, Result};
use crate::model::validation::{
    KeyKind, MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH, validate_key, validate_metric,
    validate_run_id,
};
use crate::model::{Metric, Param, RunTag};
use crate::store::TrackingStore;

/// Copies a queued artifact: `(run_id, local_path, artifact_path, contents_only)`; with
/// `contents_only` the contents of the directory `local_path` are copied, else the file or
/// directory itself.
pub(crate) type ArtifactWriter =
    Box<dyn Fn(&str, &Path, Option<&str>, bool) -> Result<()> + Send + Sync>;

/// Name of the thread that writes queued values.
pub const THREAD_NAME: &str = "mlscope-async-logging";
/// Default number of values (metrics, params, tags; one per artifact) queued or being written
/// per store before asynchronous calls wait.
pub const DEFAULT_QUEUE_CAPACITY: usize = 100_000;

/// Failure messages kept for the error (the counts cover every failure).
const MAX_MESSAGES: usize = 5;

/// Whether plain fluent logging calls are asynchronous: `MLFLOW_ENABLE_ASYNC_LOGGING` (`true`,
/// `false`, `1`, `0`; off when unset). Another value is an error, as in MLflow.
pub fn async_logging_enabled() -> Result<bool> {
    Ok(crate::env::bool_var(crate::env::MLFLOW_ENABLE_ASYNC_LOGGING)?.unwrap_or(false))
}

// ----- the queue -------------------------------------------------------------------------------

/// One queued call.
pub(crate) enum Op {
    Batch {
        run_id: String,
        metrics: Vec<Metric>,
        params: Vec<Param>,
        tags: Vec<RunTag>,
    },
    Artifact {
        run_id: String,
        local_path: PathBuf,
        artifact_path: Option<String>,
        contents_only: bool,
    },
}

impl Op {
    /// The values it holds (its weight in the queue).
    fn items(&self) -> usize {
        match self {
            Op::Batch {
                metrics,
                params,
                tags,
                ..
            } => (metrics.len() + params.len() + tags.len()).max(1),
            Op::Artifact { .. } => 1,
        }
    }
}

/// Failed writes not yet reported.
#[derive(Default)]
struct Failures {
    requests: usize,
    values: usize,
    code: Option<ErrorCode>,
    messages: Vec<String>,
}

impl Failures {
    fn record(&mut self, values: usize, what: &str, error: &Error) {
        self.requests += 1;
        self.values += values;
        self.code.get_or_insert(error.error_code());
        if self.messages.len() < MAX_MESSAGES {
            self.messages.push(format!("{what}: {error}"));
        }
    }

    fn merge(&mut self, other: Failures) {
        self.requests += other.requests;
        self.values += other.values;
        if self.code.is_none() {
            self.code = other.code;
        }
        for m in other.messages {
            if self.messages.len() < MAX_MESSAGES {
                self.messages.push(m);
            }
        }
    }

    /// Takes the failures as one error (`None` when there were none).
    fn take(&mut self, note: &str) -> Option<Error> {
        if self.requests == 0 {
            return None;
        }
        let f = std::mem::take(self);
        let more = if f.requests > f.messages.len() {
            format!("; and {} more", f.requests - f.messages.len())
        } else {
            String::new()
        };
        Some(Error::Mlflow {
            code: f.code.unwrap_or(ErrorCode::InternalError),
            message: format!(
                "asynchronous logging failed: {} request(s) with {} value(s) could not be stored{note}: {}{more}",
                f.requests,
                f.values,
                f.messages.join("; ")
            ),
        })
    }
}

struct State {
    queue: VecDeque<Op>,
    /// Values queued or being written.
    in_flight: usize,
    submitted: u64,
    completed: u64,
    failures: Failures,
    worker: Option<JoinHandle<()>>,
    closing: bool,
}

struct Shared {
    state: Mutex<State>,
    /// The worker waits here for work.
    work: Condvar,
    /// Callers wait here for room in the queue.
    room: Condvar,
    /// Flushes wait here for progress.
    progress: Condvar,
    capacity: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The asynchronous queue of one store, shared by the clones of a [`TrackingClient`].
pub(crate) struct AsyncLogging {
    store: Arc<dyn TrackingStore>,
    artifacts: Arc<ArtifactWriter>,
    shared: Arc<Shared>,
}

impl AsyncLogging {
    /// A queue for `store`, copying artifacts with `artifacts`; its thread starts with the
    /// first asynchronous call.
    pub(crate) fn new(store: Arc<dyn TrackingStore>, artifacts: ArtifactWriter) -> Self {
        let capacity = Some(crate::env::parse_or(
            crate::env::MLSCOPE_ASYNC_LOGGING_QUEUE_SIZE,
            DEFAULT_QUEUE_CAPACITY,
        ))
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_QUEUE_CAPACITY);
        AsyncLogging {
            store,
            artifacts: Arc::new(artifacts),
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    in_flight: 0,
                    submitted: 0,
                    completed: 0,
                    failures: Failures::default(),
                    worker: None,
                    closing: false,
                }),
                work: Condvar::new(),
                room: Condvar::new(),
                progress: Condvar::new(),
                capacity,
            }),
        }
    }

    /// Queues `op`, waiting for room; fails (without queueing) when earlier writes failed.
    pub(crate) fn submit(&self, op: Op) -> Result<()> {
        let weight = op.items();
        let shared = &self.shared;
        let mut st = shared.lock();
        loop {
            if let Some(e) = st.failures.take(" (this call was not queued)") {
                return Err(e);
            }
            if st.in_flight == 0 || st.in_flight + weight <= shared.capacity {
                break;
            }
            st = shared.room.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        if st.worker.is_none() {
            let store = self.store.clone();
            let artifacts = self.artifacts.clone();
            let worker_shared = shared.clone();
            let handle = std::thread::Builder::new()
                .name(THREAD_NAME.to_string())
                .spawn(move || worker_loop(store.as_ref(), artifacts.as_ref(), &worker_shared))
                .map_err(|e| Error::io("cannot start the asynchronous logging thread", "", e))?;
            st.worker = Some(handle);
        }
        st.queue.push_back(op);
        st.in_flight += weight;
        st.submitted += 1;
        drop(st);
        shared.work.notify_one();
        Ok(())
    }

    /// Waits until everything queued before the call is written; returns the failures not
    /// reported yet.
    pub(crate) fn flush(&self) -> Result<()> {
        let shared = &self.shared;
        let mut st = shared.lock();
        let target = st.submitted;
        while st.completed < target {
            st = shared.progress.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        match st.failures.take("") {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Values queued or being written now.
    pub(crate) fn in_flight(&self) -> usize {
        self.shared.lock().in_flight
    }
}

impl Drop for AsyncLogging {
    fn drop(&mut self) {
        let worker = {
            let mut st = self.shared.lock();
            st.closing = true;
            st.worker.take()
        };
        self.shared.work.notify_all();
        if let Some(handle) = worker {
            let _ = handle.join();
        }
        let mut st = self.shared.lock();
        if let Some(e) = st.failures.take("") {
            eprintln!("mlscope: {e}");
        }
    }
}

fn worker_loop(store: &dyn TrackingStore, artifacts: &ArtifactWriter, shared: &Shared) {
    loop {
        let ops: Vec<Op> = {
            let mut st = shared.lock();
            while st.queue.is_empty() && !st.closing {
                st = shared.work.wait(st).unwrap_or_else(|p| p.into_inner());
            }
            if st.queue.is_empty() {
                return;
            }
            st.queue.drain(..).collect()
        };
        let count = ops.len() as u64;
        let weight: usize = ops.iter().map(Op::items).sum();
        let failures =
            std::panic::catch_unwind(AssertUnwindSafe(|| deliver(store, artifacts, ops)))
                .unwrap_or_else(|_| {
                    let mut f = Failures::default();
                    f.record(
                        weight,
                        "writing queued values",
                        &Error::Mlflow {
                            code: ErrorCode::InternalError,
                            message: "the store panicked".into(),
                        },
                    );
                    f
                });
        let mut st = shared.lock();
        st.completed += count;
        st.in_flight = st.in_flight.saturating_sub(weight);
        st.failures.merge(failures);
        drop(st);
        shared.room.notify_all();
        shared.progress.notify_all();
    }
}

/// The queued values of one run, in queue order.
#[derive(Default)]
struct RunGroup {
    metrics: Vec<Metric>,
    params: Vec<Param>,
    tags: Vec<RunTag>,
}

/// Writes `ops`: values merged per run into `log_batch` requests, then artifacts in order.
fn deliver(store: &dyn TrackingStore, write_artifact: &ArtifactWriter, ops: Vec<Op>) -> Failures {
    let mut failures = Failures::default();
    let mut order: Vec<String> = Vec::new();
    let mut groups: HashMap<String, RunGroup> = HashMap::new();
    let mut artifacts = Vec::new();
    for op in ops {
        match op {
            Op::Batch {
                run_id,
                metrics,
                params,
                tags,
            } => {
                let group = match groups.get_mut(&run_id) {
                    Some(g) => g,
                    None => {
                        order.push(run_id.clone());
                        groups.entry(run_id).or_default()
                    }
                };
                group.metrics.extend(metrics);
                group.params.extend(params);
                group.tags.extend(tags);
            }
            artifact @ Op::Artifact { .. } => artifacts.push(artifact),
        }
    }
    for run_id in order {
        if let Some(group) = groups.remove(&run_id) {
            deliver_group(store, &run_id, group, &mut failures);
        }
    }
    for op in artifacts {
        if let Op::Artifact {
            run_id,
            local_path,
            artifact_path,
            contents_only,
        } = op
        {
            let result = write_artifact(
                &run_id,
                &local_path,
                artifact_path.as_deref(),
                contents_only,
            );
            if let Err(e) = result {
                let what = format!(
                    "log_artifact{} {} to run {run_id}",
                    if contents_only { "s" } else { "" },
                    local_path.display()
                );
                failures.record(1, &what, &e);
            }
        }
    }
    failures
}

fn deliver_group(store: &dyn TrackingStore, run_id: &str, group: RunGroup, f: &mut Failures) {
    for chunk in param_chunks(&group.params) {
        if let Err(e) = store.log_batch(run_id, &[], chunk, &[]) {
            if chunk.len() == 1 {
                f.record(1, &format!("log_param to run {run_id}"), &e);
                continue;
            }
            // One bad param must not take the others down: retry them one by one.
            for p in chunk {
                if let Err(e) = store.log_batch(run_id, &[], std::slice::from_ref(p), &[]) {
                    f.record(1, &format!("log_param {} to run {run_id}", p.key), &e);
                }
            }
        }
    }
    for chunk in group.tags.chunks(MAX_PARAMS_TAGS_PER_BATCH) {
        if let Err(e) = store.log_batch(run_id, &[], &[], chunk) {
            let what = format!("set_tags ({} tag(s)) on run {run_id}", chunk.len());
            f.record(chunk.len(), &what, &e);
        }
    }
    for chunk in group.metrics.chunks(MAX_METRICS_PER_BATCH) {
        if let Err(e) = store.log_batch(run_id, chunk, &[], &[]) {
            let what = format!(
                "log_batch ({} metric value(s)) to run {run_id}",
                chunk.len()
            );
            f.record(chunk.len(), &what, &e);
        }
    }
}

/// Splits params into requests of at most 100 that never hold one key with two values (MLflow
/// rejects such a request; the same value twice is fine).
fn param_chunks(params: &[Param]) -> Vec<&[Param]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for (i, p) in params.iter().enumerate() {
        let conflict = seen.get(p.key.as_str()).is_some_and(|v| *v != p.value);
        if conflict || i - start == MAX_PARAMS_TAGS_PER_BATCH {
            out.push(&params[start..i]);
            start = i;
            seen.clear();
        }
        seen.insert(&p.key, &p.value);
    }
    if start < params.len() {
        out.push(&params[start..]);
    }
    out
}

/// Checks the keys of an asynchronous batch now (values are checked by the store when written).
pub(crate) fn validate_batch(
    run_id: &str,
    metrics: &[Metric],
    params: &[Param],
    tags: &[RunTag],
) -> Result<()> {
    validate_run_id(run_id)?;
    for m in metrics {
        validate_metric(&m.key, m.timestamp)?;
    }
    for p in params {
        validate_key(KeyKind::Param, &p.key)?;
    }
    for t in tags {
        validate_key(KeyKind::Tag, &t.key)?;
    }
    Ok(())
}

impl AsyncLogging {
    /// Reports failures without waiting (an empty asynchronous call).
    pub(crate) fn flush_errors_only(&self) -> Result<()> {
        match self.shared.lock().failures.take("") {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_chunks_split_on_limit_and_conflicts() {
        let params: Vec<Param> = (0..250).map(|i| Param::new(format!("p{i}"), "v")).collect();
        let sizes: Vec<usize> = param_chunks(&params).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, vec![100, 100, 50]);
        let params = vec![
            Param::new("a", "1"),
            Param::new("a", "1"),
            Param::new("b", "1"),
            Param::new("a", "2"),
        ];
        let sizes: Vec<usize> = param_chunks(&params).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, vec![3, 1]);
    }

    #[test]
    fn failures_become_one_error_with_the_first_code() {
        let mut f = Failures::default();
        assert!(f.take("").is_none());
        for i in 0..7 {
            f.record(
                10,
                &format!("request {i}"),
                &Error::NotFound(format!("run {i}")),
            );
        }
        let e = f.take("").unwrap();
        assert_eq!(e.error_code(), ErrorCode::ResourceDoesNotExist);
        let text = e.to_string();
        assert!(text.contains("7 request(s) with 70 value(s)"), "{text}");
        assert!(text.contains("and 2 more"), "{text}");
        assert!(f.take("").is_none());
    }
}
