//! Background metric delivery for [`super::RestStore`] (MLflow's `synchronous=False`): a bounded
//! queue drained by one named thread into `runs/log-batch` requests.
//!
//! * `log_metric` returns as soon as the value is queued; consecutive values of one run go out
//!   together (up to [`AsyncLogging::batch_size`] per request), so a fast loop costs one request
//!   per batch instead of one per value.
//! * The queue holds at most [`AsyncLogging::max_queued`] values: when it is full (the server is
//!   slower than the loop, or down) `log_metric` blocks until there is room — memory is
//!   bounded and nothing is dropped.
//! * A batch that fails because the server is unreachable, times out or answers 429/5xx is sent
//!   again, with backoff, until it is accepted; one line on stderr says when delivery stalls
//!   and when it resumes. A batch the server rejects (e.g. the run was deleted) is given up and
//!   the error is reported by the store's next call and by [`super::RestStore::flush`].

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::json;
use crate::error::{Error, Result};
use crate::http::{HttpClient, Method, map_message};
use crate::model::Metric;
use crate::model::validation::MAX_METRICS_PER_BATCH;

/// Options of background metric logging ([`super::RestStore::with_async_logging`]).
#[derive(Debug, Clone)]
pub struct AsyncLogging {
    /// Most metric values per `log-batch` request (1..=1000; default 1000).
    pub batch_size: usize,
    /// Most values waiting for delivery; `log_metric` blocks while the queue is full (default
    /// 100,000, a few MB).
    pub max_queued: usize,
    /// Longest wait between two delivery attempts while the server is unreachable (default 5 s;
    /// the first retries come sooner).
    pub max_retry_interval: Duration,
    /// How long dropping the store keeps trying to deliver what is still queued while the
    /// server is unreachable, before giving up with a message on stderr (default 10 minutes).
    /// [`super::RestStore::flush`] (and ending a run) waits without limit.
    pub shutdown_timeout: Duration,
}

impl Default for AsyncLogging {
    fn default() -> Self {
        AsyncLogging {
            batch_size: MAX_METRICS_PER_BATCH,
            max_queued: 100_000,
            max_retry_interval: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(600),
        }
    }
}

struct Item {
    run_id: Arc<str>,
    metric: Metric,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Item>,
    /// Values taken by the worker and not yet settled.
    in_flight: usize,
    /// Values ever queued.
    queued_total: u64,
    /// Values delivered or given up.
    settled_total: u64,
    /// Delivery failures not reported yet.
    failures: Vec<Error>,
    /// The store is being dropped: drain and stop.
    shutdown: bool,
    /// The run id of the last queued value (shared by consecutive values).
    last_run_id: Option<Arc<str>>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled on every change of `state`.
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent counters; keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed.wait(guard).unwrap_or_else(|p| p.into_inner())
    }

    fn wait_timeout<'a>(&self, guard: MutexGuard<'a, State>, d: Duration) -> MutexGuard<'a, State> {
        self.changed
            .wait_timeout(guard, d)
            .map(|(g, _)| g)
            .unwrap_or_else(|p| p.into_inner().0)
    }
}

/// The queue and its delivery thread.
pub(crate) struct BackgroundLogger {
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
    options: AsyncLogging,
}

impl std::fmt::Debug for BackgroundLogger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundLogger")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl BackgroundLogger {
    /// Starts the delivery thread (`mlscope-rest-log`).
    pub fn start(client: Arc<HttpClient>, mut options: AsyncLogging) -> Result<BackgroundLogger> {
        options.batch_size = options.batch_size.clamp(1, MAX_METRICS_PER_BATCH);
        options.max_queued = options.max_queued.max(options.batch_size);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let worker = {
            let shared = Arc::clone(&shared);
            let options = options.clone();
            std::thread::Builder::new()
                .name("mlscope-rest-log".into())
                .spawn(move || deliver(&shared, &client, &options))
                .map_err(|e| {
                    Error::io(
                        "cannot start the background logging thread",
                        "mlscope-rest-log",
                        e,
                    )
                })?
        };
        Ok(BackgroundLogger {
            shared,
            worker: Some(worker),
            options,
        })
    }

    /// The options in force.
    pub fn options(&self) -> &AsyncLogging {
        &self.options
    }

    /// Queues one value, waiting while the queue is full.
    pub fn log(&self, run_id: &str, metric: Metric) {
        let mut st = self.shared.lock();
        while st.queue.len() + st.in_flight >= self.options.max_queued && !st.shutdown {
            st = self.shared.wait(st);
        }
        let run_id = match &st.last_run_id {
            Some(r) if &**r == run_id => Arc::clone(r),
            _ => {
                let r: Arc<str> = Arc::from(run_id);
                st.last_run_id = Some(Arc::clone(&r));
                r
            }
        };
        st.queue.push_back(Item { run_id, metric });
        st.queued_total += 1;
        drop(st);
        self.shared.changed.notify_all();
    }

    /// Waits until everything queued so far is delivered (or given up), then reports failures.
    pub fn flush(&self) -> Result<()> {
        let mut st = self.shared.lock();
        let target = st.queued_total;
        while st.settled_total < target {
            st = self.shared.wait(st);
        }
        take_failures(&mut st)
    }

    /// Reports failures met so far, without waiting.
    pub fn take_failures(&self) -> Result<()> {
        take_failures(&mut self.shared.lock())
    }

    /// Values queued or in flight.
    pub fn pending(&self) -> usize {
        let st = self.shared.lock();
        st.queue.len() + st.in_flight
    }
}

impl Drop for BackgroundLogger {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.changed.notify_all();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
        if let Err(e) = take_failures(&mut self.shared.lock()) {
            eprintln!("mlscope: background metric logging: {e}");
        }
    }
}

fn take_failures(st: &mut State) -> Result<()> {
    if st.failures.is_empty() {
        return Ok(());
    }
    let mut failures = std::mem::take(&mut st.failures);
    let first = failures.remove(0);
    if failures.is_empty() {
        Err(first)
    } else {
        let more = failures.len();
        Err(map_message(first, |m| {
            format!("{m} (and {more} more failed background deliveries)")
        }))
    }
}

/// The delivery loop of the background thread.
fn deliver(shared: &Shared, client: &HttpClient, options: &AsyncLogging) {
    let base = client.config().display_url().to_string();
    let mut shutdown_deadline: Option<Instant> = None;
    loop {
        // Take the next batch: consecutive values of one run.
        let (run_id, batch) = {
            let mut st = shared.lock();
            while st.queue.is_empty() && !st.shutdown {
                st = shared.wait(st);
            }
            let Some(first) = st.queue.front() else {
                return; // shut down and drained
            };
            let run_id = Arc::clone(&first.run_id);
            let mut batch = Vec::with_capacity(options.batch_size.min(st.queue.len()));
            while batch.len() < options.batch_size
                && st.queue.front().is_some_and(|i| i.run_id == run_id)
            {
                if let Some(item) = st.queue.pop_front() {
                    batch.push(item.metric);
                }
            }
            st.in_flight = batch.len();
            (run_id, batch)
        };
        let body = json::log_batch_json(&run_id, &batch, &[], &[]);
        let mut attempt = 0u32;
        let mut stalled = false;
        let outcome = loop {
            match client.call_with(Method::Post, super::LOG_BATCH, &body, Some(0)) {
                Ok(_) => break Ok(()),
                Err(f) if !f.transient => break Err(f.error),
                Err(f) => {
                    attempt += 1;
                    let shutting_down = shared.lock().shutdown;
                    if shutting_down {
                        let deadline = *shutdown_deadline
                            .get_or_insert_with(|| Instant::now() + options.shutdown_timeout);
                        if Instant::now() >= deadline {
                            break Err(map_message(f.error, |m| {
                                format!(
                                    "{m}; the store was dropped and the server did not answer \
                                     within {} s",
                                    options.shutdown_timeout.as_secs()
                                )
                            }));
                        }
                    }
                    if !stalled {
                        stalled = true;
                        let waiting = shared.lock().queue.len() + batch.len();
                        eprintln!(
                            "mlscope: background metric logging to {base} stalled ({}); {waiting} \
                             values queued, retrying until the server answers",
                            f.error
                        );
                    }
                    let pause = f.retry_after.unwrap_or_else(|| {
                        let exp = Duration::from_millis(100).saturating_mul(1 << attempt.min(16));
                        exp.min(options.max_retry_interval)
                    });
                    // Sleep (new values arriving do not cut the pause short); on shutdown,
                    // at most half a second at a time.
                    let until = Instant::now() + pause;
                    let mut st = shared.lock();
                    loop {
                        let now = Instant::now();
                        if now >= until {
                            break;
                        }
                        if st.shutdown {
                            drop(st);
                            std::thread::sleep((until - now).min(Duration::from_millis(500)));
                            break;
                        }
                        st = shared.wait_timeout(st, until - now);
                    }
                }
            }
        };
        if stalled && outcome.is_ok() {
            eprintln!("mlscope: background metric logging to {base} resumed");
        }
        let mut st = shared.lock();
        st.in_flight = 0;
        st.settled_total += batch.len() as u64;
        if let Err(e) = outcome {
            let mut n = batch.len();
            let gave_up = shutdown_deadline.is_some_and(|d| Instant::now() >= d);
            if gave_up {
                // Dropped while the server stays away: everything still queued is lost too.
                let rest = st.queue.len();
                st.queue.clear();
                st.settled_total += rest as u64;
                n += rest;
            }
            st.failures.push(map_message(e, |m| {
                format!("background logging of {n} metric value(s) to run {run_id} failed: {m}")
            }));
        }
        drop(st);
        shared.changed.notify_all();
    }
}
