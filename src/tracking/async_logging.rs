//! Asynchronous logging, like MLflow's `synchronous=False`: a call validates its keys, queues its
//! values and returns; one named thread per store (`mlscope-async-logging`) merges what is
//! queued into `log_batch` requests within MLflow's limits (1000 metrics, 100 params, 100 tags
//! per request) and writes them.
//!
//! * **Which calls.** [`log_metric_async`], [`log_metrics_async`], [`log_param_async`],
//!   [`log_params_async`], [`set_tag_async`], [`set_tags_async`], [`log_batch_async`],
//!   [`log_artifact_async`], [`log_artifacts_async`] (fluent, to the active run), and the
//!   `TrackingClient::*_async` methods (explicit run id). MLflow's `synchronous=False` is the
//!   `_async` variant; `synchronous=None` is the plain fluent call, which is asynchronous when
//!   `MLFLOW_ENABLE_ASYNC_LOGGING` is `true` (or `1`); `synchronous=True` is the plain call
//!   without that variable, or any plain [`TrackingClient`] method (those always write before
//!   they return).
//! * **Back-pressure.** At most [`DEFAULT_QUEUE_CAPACITY`] values (metrics, params and tags;
//!   an artifact counts one) are queued or being written per store
//!   (`MLSCOPE_ASYNC_LOGGING_QUEUE_SIZE` changes it); a call that would exceed it waits for room,
//!   so memory stays bounded however fast a program logs.
//! * **Waiting.** [`flush`] (all stores of the fluent API) and
//!   [`TrackingClient::flush_async_logging`] return once everything queued before the call is
//!   written. Ending a run (`end_run`, [`ActiveRun`](crate::ActiveRun)'s drop,
//!   `ActiveRun::end`, `TrackingClient::set_terminated`) flushes first, as MLflow does. Dropping
//!   the last clone of a client writes what it still holds.
//! * **Errors are never lost.** A write that fails is remembered. The next `flush`, run end or
//!   asynchronous call of that store returns it (an asynchronous call that returns it did not
//!   queue its own values). The error carries the first failure's MLflow code, how many
//!   requests and values were lost, and the first messages. Only a client dropped with
//!   unreported failures prints them on stderr, having nobody to return them to.
//! * **Order.** Values of one run are written in the order they were queued (per metric key,
//!   per param, per tag); an asynchronous and a synchronous call are not ordered with each other.
//! * **Artifacts** queued with `log_artifact(s)_async` are copied when the thread reaches them:
//!   keep the local files until the next `flush` or the end of the run.
//! * **Exit.** As in MLflow, a process that exits without ending its runs (or calling `flush`)
//!   loses what is still queued; `with_run` and [`ActiveRun`](crate::ActiveRun) end their run.

use std::collections::{HashMap, VecDeque};
use std::fmt::Display;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::error::{Error, ErrorCode, Result};
use crate::model::validation::{
    KeyKind, MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH, validate_key, validate_metric,
    validate_run_id,
};
use crate::model::{Metric, Param, RunTag, now_ms};
use crate::store::TrackingStore;
use crate::tracking::client::TrackingClient;
use crate::tracking::fluent;

/// Name of the thread that writes queued values.
pub const THREAD_NAME: &str = "mlscope-async-logging";
/// Default number of values (metrics, params, tags; one per artifact) queued or being written
/// per store before asynchronous calls wait.
pub const DEFAULT_QUEUE_CAPACITY: usize = 100_000;

const ENV_ENABLE: &str = "MLFLOW_ENABLE_ASYNC_LOGGING";
const ENV_CAPACITY: &str = "MLSCOPE_ASYNC_LOGGING_QUEUE_SIZE";
/// Failure messages kept for the error (the counts cover every failure).
const MAX_MESSAGES: usize = 5;

/// Whether plain fluent logging calls are asynchronous: `MLFLOW_ENABLE_ASYNC_LOGGING` (`true`,
/// `false`, `1`, `0`; off when unset). Another value is an error, as in MLflow.
pub fn async_logging_enabled() -> Result<bool> {
    Ok(crate::system_metrics::env_bool(ENV_ENABLE)?.unwrap_or(false))
}

// ----- the queue -------------------------------------------------------------------------------

/// One queued call.
enum Op {
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
    shared: Arc<Shared>,
}

impl AsyncLogging {
    /// A queue for `store`; its thread starts with the first asynchronous call.
    pub(crate) fn new(store: Arc<dyn TrackingStore>) -> Self {
        let capacity = std::env::var(ENV_CAPACITY)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(DEFAULT_QUEUE_CAPACITY);
        AsyncLogging {
            store,
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
    fn submit(&self, op: Op) -> Result<()> {
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
            let worker_shared = shared.clone();
            let handle = std::thread::Builder::new()
                .name(THREAD_NAME.to_string())
                .spawn(move || worker_loop(store, &worker_shared))
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

fn worker_loop(store: Arc<dyn TrackingStore>, shared: &Shared) {
    // Artifacts go through a plain client of the same store (its own queue stays unused).
    let client = TrackingClient::from_store(store.clone());
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
        let failures = std::panic::catch_unwind(AssertUnwindSafe(|| deliver(&client, ops)))
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
fn deliver(client: &TrackingClient, ops: Vec<Op>) -> Failures {
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
    let store = client.store();
    for run_id in order {
        if let Some(group) = groups.remove(&run_id) {
            deliver_group(store.as_ref(), &run_id, group, &mut failures);
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
            let result = if contents_only {
                client.log_artifacts(&run_id, &local_path, artifact_path.as_deref())
            } else {
                client.log_artifact(&run_id, &local_path, artifact_path.as_deref())
            };
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

// ----- TrackingClient --------------------------------------------------------------------------

fn validate_batch(
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

impl TrackingClient {
    /// Queues metrics, params and tags for a run (MLflow's `log_batch(..., synchronous=False)`);
    /// any number of values, merged and split into MLflow-sized requests by the logging thread.
    /// Keys are validated now; writing errors come back from
    /// [`flush_async_logging`](Self::flush_async_logging), the end of the run or a later
    /// asynchronous call.
    pub fn log_batch_async(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[RunTag],
    ) -> Result<()> {
        validate_batch(run_id, metrics, params, tags)?;
        if metrics.is_empty() && params.is_empty() && tags.is_empty() {
            return self.async_queue().flush_errors_only();
        }
        self.async_queue().submit(Op::Batch {
            run_id: run_id.to_string(),
            metrics: metrics.to_vec(),
            params: params.to_vec(),
            tags: tags.to_vec(),
        })
    }

    /// Queues one metric value (timestamp now and step 0 when `None`).
    pub fn log_metric_async(
        &self,
        run_id: &str,
        key: &str,
        value: f64,
        timestamp: Option<i64>,
        step: Option<i64>,
    ) -> Result<()> {
        let metric = Metric::new(
            key,
            value,
            timestamp.unwrap_or_else(now_ms),
            step.unwrap_or(0),
        );
        validate_run_id(run_id)?;
        validate_metric(&metric.key, metric.timestamp)?;
        self.async_queue().submit(Op::Batch {
            run_id: run_id.to_string(),
            metrics: vec![metric],
            params: Vec::new(),
            tags: Vec::new(),
        })
    }

    /// Queues a param; returns its value as converted with `Display`.
    pub fn log_param_async(&self, run_id: &str, key: &str, value: impl Display) -> Result<String> {
        let value = value.to_string();
        self.log_batch_async(run_id, &[], &[Param::new(key, value.clone())], &[])?;
        Ok(value)
    }

    /// Queues a run tag.
    pub fn set_tag_async(&self, run_id: &str, key: &str, value: impl Display) -> Result<()> {
        self.log_batch_async(run_id, &[], &[], &[RunTag::new(key, value.to_string())])
    }

    /// Queues copying a local file (or directory, as a folder of that name) into
    /// `artifact_path` of the run's artifacts. The file must stay until the next flush.
    pub fn log_artifact_async(
        &self,
        run_id: &str,
        local_path: impl AsRef<Path>,
        artifact_path: Option<&str>,
    ) -> Result<()> {
        self.queue_artifact(run_id, local_path.as_ref(), artifact_path, false)
    }

    /// Queues copying the contents of a local directory into `artifact_path`.
    pub fn log_artifacts_async(
        &self,
        run_id: &str,
        local_dir: impl AsRef<Path>,
        artifact_path: Option<&str>,
    ) -> Result<()> {
        self.queue_artifact(run_id, local_dir.as_ref(), artifact_path, true)
    }

    fn queue_artifact(
        &self,
        run_id: &str,
        local_path: &Path,
        artifact_path: Option<&str>,
        contents_only: bool,
    ) -> Result<()> {
        validate_run_id(run_id)?;
        let meta = std::fs::metadata(local_path)
            .map_err(|e| Error::io("cannot read file to log", local_path, e))?;
        if contents_only && !meta.is_dir() {
            return Err(Error::InvalidParameter(format!(
                "log_artifacts needs a directory, got the file {}",
                local_path.display()
            )));
        }
        // A relative path is resolved now: the thread may run after a change of directory.
        let local_path = std::path::absolute(local_path)
            .map_err(|e| Error::io("cannot resolve path", local_path, e))?;
        self.async_queue().submit(Op::Artifact {
            run_id: run_id.to_string(),
            local_path,
            artifact_path: artifact_path.map(str::to_string),
            contents_only,
        })
    }

    /// Waits until every value queued on this client's store before the call is written
    /// (MLflow's `flush_async_logging`); returns the writes that failed since the last report.
    pub fn flush_async_logging(&self) -> Result<()> {
        self.async_queue().flush()
    }

    /// Values (metrics, params, tags; one per artifact) queued or being written now.
    pub fn async_logging_in_flight(&self) -> usize {
        self.async_queue().in_flight()
    }
}

impl AsyncLogging {
    /// Reports failures without waiting (an empty asynchronous call).
    fn flush_errors_only(&self) -> Result<()> {
        match self.shared.lock().failures.take("") {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

// ----- fluent ----------------------------------------------------------------------------------

/// Queues a metric for the active run (step 0 when `None`, timestamp now), like
/// `mlflow.log_metric(..., synchronous=False)`. Starts a run when none is active.
pub fn log_metric_async(key: &str, value: f64, step: Option<i64>) -> Result<()> {
    let (client, run_id) = fluent::active_run_handle()?;
    client.log_metric_async(&run_id, key, value, None, step)
}

/// Queues a metric with an explicit timestamp (epoch ms) for the active run.
pub fn log_metric_at_async(key: &str, value: f64, step: Option<i64>, timestamp: i64) -> Result<()> {
    let (client, run_id) = fluent::active_run_handle()?;
    client.log_metric_async(&run_id, key, value, Some(timestamp), step)
}

/// Queues several metrics at one step and timestamp for the active run.
pub fn log_metrics_async<K: AsRef<str>>(metrics: &[(K, f64)], step: Option<i64>) -> Result<()> {
    let (client, run_id) = fluent::active_run_handle()?;
    let ts = now_ms();
    let metrics: Vec<Metric> = metrics
        .iter()
        .map(|(k, v)| Metric::new(k.as_ref(), *v, ts, step.unwrap_or(0)))
        .collect();
    client.log_batch_async(&run_id, &metrics, &[], &[])
}

/// Queues a param for the active run; returns its value as converted with `Display`.
pub fn log_param_async(key: &str, value: impl Display) -> Result<String> {
    let (client, run_id) = fluent::active_run_handle()?;
    client.log_param_async(&run_id, key, value)
}

/// Queues several params for the active run.
pub fn log_params_async<K: AsRef<str>, V: Display>(params: &[(K, V)]) -> Result<()> {
    let (client, run_id) = fluent::active_run_handle()?;
    let params: Vec<Param> = params
        .iter()
        .map(|(k, v)| Param::new(k.as_ref(), v.to_string()))
        .collect();
    client.log_batch_async(&run_id, &[], &params, &[])
}

/// Queues a tag for the active run.
pub fn set_tag_async(key: &str, value: impl Display) -> Result<()> {
    let (client, run_id) = fluent::active_run_handle()?;
    client.set_tag_async(&run_id, key, value)
}

/// Queues several tags for the active run.
pub fn set_tags_async<K: AsRef<str>, V: Display>(tags: &[(K, V)]) -> Result<()> {
    let (client, run_id) = fluent::active_run_handle()?;
    let tags: Vec<RunTag> = tags
        .iter()
        .map(|(k, v)| RunTag::new(k.as_ref(), v.to_string()))
        .collect();
    client.log_batch_async(&run_id, &[], &[], &tags)
}

/// Queues metrics, params and tags for the active run.
pub fn log_batch_async(metrics: &[Metric], params: &[Param], tags: &[RunTag]) -> Result<()> {
    let (client, run_id) = fluent::active_run_handle()?;
    client.log_batch_async(&run_id, metrics, params, tags)
}

/// Queues copying a local file (or directory) into `artifact_path` of the active run.
pub fn log_artifact_async(local_path: impl AsRef<Path>, artifact_path: Option<&str>) -> Result<()> {
    let (client, run_id) = fluent::active_run_handle()?;
    client.log_artifact_async(&run_id, local_path, artifact_path)
}

/// Queues copying the contents of a local directory into `artifact_path` of the active run.
pub fn log_artifacts_async(local_dir: impl AsRef<Path>, artifact_path: Option<&str>) -> Result<()> {
    let (client, run_id) = fluent::active_run_handle()?;
    client.log_artifacts_async(&run_id, local_dir, artifact_path)
}

/// Waits until everything queued through the fluent API (every store it has opened) is
/// written, like `mlflow.flush_async_logging()`; returns the failed writes not reported yet.
pub fn flush() -> Result<()> {
    let mut first: Option<Error> = None;
    for client in fluent::known_clients() {
        if let Err(e) = client.flush_async_logging() {
            first.get_or_insert(e);
        }
    }
    match first {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Same as [`flush`] (MLflow's name).
pub fn flush_async_logging() -> Result<()> {
    flush()
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
