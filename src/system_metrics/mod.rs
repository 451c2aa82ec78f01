//! System metrics of a run, like MLflow's `mlflow.system_metrics`: a named background thread
//! samples CPU, memory, disk and network use (and NVIDIA GPUs with the `nvml` feature) and logs
//! them to the run under MLflow's own keys, so MLflow's UI shows them in its "System metrics" tab.
//!
//! | key (after `system/`, or `system/<node id>/`) | what | aggregated over the samples of a step |
//! |---|---|---|
//! | `cpu_utilization_percentage` | busy share of all CPUs since the previous sample | mean, 1 decimal |
//! | `system_memory_usage_megabytes` | total − available memory, MB (10⁶ bytes) | mean, 1 decimal |
//! | `system_memory_usage_percentage` | the same, % of total | mean, 1 decimal |
//! | `disk_usage_percentage` | used / (used + available to users) of `/` | mean, 1 decimal |
//! | `disk_usage_megabytes` | used space of `/`, MB | mean, 1 decimal |
//! | `disk_available_megabytes` | space of `/` available to users, MB | mean, 1 decimal |
//! | `network_receive_megabytes` | bytes received on all interfaces since the monitor started, MB | last sample |
//! | `network_transmit_megabytes` | bytes sent, likewise | last sample |
//! | `gpu_<i>_memory_usage_percentage`, `gpu_<i>_memory_usage_megabytes`, `gpu_<i>_utilization_percentage`, `gpu_<i>_power_usage_watts`, `gpu_<i>_power_usage_percentage` | NVIDIA GPU `i` (feature `nvml`) | mean, 1 decimal |
//!
//! As in MLflow, the monitor takes a sample every *sampling interval* (default 10 s) and logs
//! the aggregate of every *samples before logging* samples (default 1) as one step: steps count
//! 0, 1, 2, … from the start of the run, or continue after the last `system/` step when a run is
//! resumed. A step whose samples are not complete when the run ends is not logged.
//!
//! Turning it on: [`RunOptions::log_system_metrics`](crate::RunOptions::log_system_metrics) for
//! one run; otherwise [`enable_system_metrics_logging`] / [`disable_system_metrics_logging`], else
//! the environment variable `MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING` (`true`/`false`/`1`/`0`).
//! `MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL` (seconds), `MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING`
//! and `MLFLOW_SYSTEM_METRICS_NODE_ID` are honoured; the `set_system_metrics_*` functions override
//! them for this process (MLflow's setters write the environment variables; mlscope does not
//! modify its process environment). The fluent API stops a run's monitor when the run ends (its registry of monitors is
//! `crate::tracking::system_monitor`).

#[cfg(feature = "nvml")]
mod gpu;
mod sampler;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::model::{Metric, now_ms};
use crate::store::TrackingStore;

pub use sampler::Sampler;

/// Python's `round(x, 1)`: correctly rounded to one decimal, ties to even.
pub(crate) fn round1(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    format!("{x:.1}").parse().unwrap_or(x)
}

/// Prefix of every system metric key.
pub const SYSTEM_METRICS_PREFIX: &str = "system/";
/// Default seconds between two samples (MLflow's default).
pub const DEFAULT_SAMPLING_INTERVAL_SECS: f64 = 10.0;
/// Default number of samples aggregated into one logged step (MLflow's default).
pub const DEFAULT_SAMPLES_BEFORE_LOGGING: u32 = 1;
/// Name of the sampling thread.
pub const THREAD_NAME: &str = "mlscope-system-metrics";

use crate::env::{
    MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING as ENV_ENABLE,
    MLFLOW_SYSTEM_METRICS_NODE_ID as ENV_NODE_ID,
    MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING as ENV_SAMPLES,
    MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL as ENV_INTERVAL, bool_var as env_bool,
    parse_var as env_parse,
};

// ----- process-wide settings -------------------------------------------------------------------

const UNSET: u8 = 0;
const OFF: u8 = 1;
const ON: u8 = 2;

static ENABLED: AtomicU8 = AtomicU8::new(UNSET);

#[derive(Default)]
struct Overrides {
    interval: Option<f64>,
    samples: Option<u32>,
    node_id: Option<String>,
}

static OVERRIDES: LazyLock<Mutex<Overrides>> = LazyLock::new(Mutex::default);

fn overrides() -> MutexGuard<'static, Overrides> {
    OVERRIDES.lock().unwrap_or_else(|p| p.into_inner())
}

/// Turns system metrics logging on for every run started afterwards (unless the run says
/// otherwise with [`RunOptions::log_system_metrics`](crate::RunOptions::log_system_metrics)).
pub fn enable_system_metrics_logging() {
    ENABLED.store(ON, Ordering::SeqCst);
}

/// Turns system metrics logging off for every run started afterwards (a run can still opt in).
pub fn disable_system_metrics_logging() {
    ENABLED.store(OFF, Ordering::SeqCst);
}

/// Sets the seconds between two samples for monitors started afterwards; `None` goes back to
/// `MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL`, else 10.
pub fn set_system_metrics_sampling_interval(seconds: Option<f64>) {
    overrides().interval = seconds;
}

/// Sets how many samples are aggregated into one logged step; `None` goes back to
/// `MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING`, else 1.
pub fn set_system_metrics_samples_before_logging(samples: Option<u32>) {
    overrides().samples = samples;
}

/// Sets the node id inserted in the keys (`system/<node id>/cpu_utilization_percentage`), for
/// runs spanning several machines; `None` goes back to `MLFLOW_SYSTEM_METRICS_NODE_ID`.
pub fn set_system_metrics_node_id(node_id: Option<&str>) {
    overrides().node_id = node_id.map(str::to_string);
}

/// Whether runs log system metrics when they do not say: the last of
/// [`enable_system_metrics_logging`] / [`disable_system_metrics_logging`], else
/// `MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING`, else off. An invalid value of the variable is an
/// error.
pub fn system_metrics_logging_enabled() -> Result<bool> {
    match ENABLED.load(Ordering::SeqCst) {
        ON => Ok(true),
        OFF => Ok(false),
        _ => Ok(env_bool(ENV_ENABLE)?.unwrap_or(false)),
    }
}

/// How a monitor samples and logs.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemMetricsOptions {
    /// Time between two samples.
    pub sampling_interval: Duration,
    /// Samples aggregated into one logged step (at least 1).
    pub samples_before_logging: u32,
    /// Node id inserted after `system/` in the keys.
    pub node_id: Option<String>,
    /// Continue the step numbering after the run's last `system/` step (a resumed run) instead
    /// of starting at 0.
    pub resume: bool,
}

impl Default for SystemMetricsOptions {
    fn default() -> Self {
        SystemMetricsOptions {
            sampling_interval: Duration::from_secs_f64(DEFAULT_SAMPLING_INTERVAL_SECS),
            samples_before_logging: DEFAULT_SAMPLES_BEFORE_LOGGING,
            node_id: None,
            resume: false,
        }
    }
}

impl SystemMetricsOptions {
    /// The settings in force: the `set_system_metrics_*` overrides, else the environment
    /// variables, else MLflow's defaults (10 s, 1 sample, no node id).
    pub fn from_settings() -> Result<Self> {
        let o = overrides();
        let interval = match o.interval {
            Some(s) => Some(s),
            None => env_parse::<f64>(ENV_INTERVAL)?,
        }
        .unwrap_or(DEFAULT_SAMPLING_INTERVAL_SECS);
        if !(interval.is_finite() && interval > 0.0) {
            return Err(Error::InvalidParameter(format!(
                "the system metrics sampling interval must be a positive number of seconds, got {interval}"
            )));
        }
        let samples = match o.samples {
            Some(n) => Some(n),
            None => env_parse::<u32>(ENV_SAMPLES)?,
        }
        .unwrap_or(DEFAULT_SAMPLES_BEFORE_LOGGING)
        .max(1);
        let node_id = o
            .node_id
            .clone()
            .or_else(|| std::env::var(ENV_NODE_ID).ok().filter(|s| !s.is_empty()));
        Ok(SystemMetricsOptions {
            sampling_interval: Duration::from_secs_f64(interval),
            samples_before_logging: samples,
            node_id,
            resume: false,
        })
    }

    /// The key prefix: `system/` or `system/<node id>/`.
    pub fn prefix(&self) -> String {
        match &self.node_id {
            Some(node) => format!("{SYSTEM_METRICS_PREFIX}{node}/"),
            None => SYSTEM_METRICS_PREFIX.to_string(),
        }
    }
}

// ----- the monitor -----------------------------------------------------------------------------

/// Stop flag shared with the sampling thread.
#[derive(Default)]
struct StopSignal {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl StopSignal {
    fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.wake.notify_all();
    }

    /// Waits up to `timeout`; true when stopped.
    fn wait(&self, timeout: Duration) -> bool {
        let guard = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        let (guard, _) = self
            .wake
            .wait_timeout_while(guard, timeout, |stopped| !*stopped)
            .unwrap_or_else(|p| p.into_inner());
        *guard
    }
}

/// What the sampling thread did, returned by [`SystemMetricsMonitor::finish`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitorReport {
    /// Steps logged.
    pub steps_logged: u64,
    /// Why the thread stopped early, if it did (e.g. the run was deleted).
    pub error: Option<String>,
}

/// A running system metrics sampler for one run (MLflow's `SystemMetricsMonitor`). Stops when
/// [`finish`](Self::finish)ed or dropped.
pub struct SystemMetricsMonitor {
    run_id: String,
    stop: Arc<StopSignal>,
    thread: Option<JoinHandle<MonitorReport>>,
}

impl std::fmt::Debug for SystemMetricsMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemMetricsMonitor")
            .field("run_id", &self.run_id)
            .field("running", &self.thread.is_some())
            .finish()
    }
}

impl SystemMetricsMonitor {
    /// Starts sampling for `run_id` on a thread named [`THREAD_NAME`]; metrics are logged
    /// to `store`.
    pub fn start(
        store: Arc<dyn TrackingStore>,
        run_id: &str,
        options: SystemMetricsOptions,
    ) -> Result<Self> {
        let first_step = if options.resume {
            next_system_step(store.as_ref(), run_id)
        } else {
            0
        };
        let sampler = Sampler::new();
        let stop = Arc::new(StopSignal::default());
        let thread_stop = stop.clone();
        let thread_run = run_id.to_string();
        let thread = std::thread::Builder::new()
            .name(THREAD_NAME.to_string())
            .spawn(move || {
                monitor_loop(
                    store.as_ref(),
                    &thread_run,
                    options,
                    sampler,
                    first_step,
                    &thread_stop,
                )
            })
            .map_err(|e| Error::io("cannot start the system metrics thread", "", e))?;
        Ok(SystemMetricsMonitor {
            run_id: run_id.to_string(),
            stop,
            thread: Some(thread),
        })
    }

    /// The run being monitored.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Stops sampling and waits for the thread (at most the time of one `log_batch`); samples
    /// of an incomplete step are dropped, as in MLflow.
    pub fn finish(mut self) -> MonitorReport {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> MonitorReport {
        self.stop.stop();
        match self.thread.take() {
            Some(handle) => handle.join().unwrap_or_else(|_| MonitorReport {
                steps_logged: 0,
                error: Some("the system metrics thread panicked".into()),
            }),
            None => MonitorReport::default(),
        }
    }
}

impl Drop for SystemMetricsMonitor {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop_and_join();
        }
    }
}

/// The step after the run's last `system/` metric step (0 when it has none), as MLflow's
/// `resume_logging`.
fn next_system_step(store: &dyn TrackingStore, run_id: &str) -> i64 {
    match store.get_run(run_id) {
        Ok(run) => run
            .data
            .metrics
            .values()
            .filter(|m| m.key.starts_with(SYSTEM_METRICS_PREFIX))
            .map(|m| m.step + 1)
            .max()
            .unwrap_or(0),
        Err(_) => 0,
    }
}

fn monitor_loop(
    store: &dyn TrackingStore,
    run_id: &str,
    options: SystemMetricsOptions,
    mut sampler: Sampler,
    first_step: i64,
    stop: &StopSignal,
) -> MonitorReport {
    let prefix = options.prefix();
    let mut report = MonitorReport::default();
    let mut step = first_step;
    loop {
        for _ in 0..options.samples_before_logging {
            sampler.collect();
            if stop.wait(options.sampling_interval) {
                return report;
            }
        }
        let timestamp = now_ms();
        let metrics: Vec<Metric> = sampler
            .aggregate()
            .into_iter()
            .map(|(key, value)| Metric::new(format!("{prefix}{key}"), value, timestamp, step))
            .collect();
        sampler.clear();
        if let Err(e) = store.log_batch(run_id, &metrics, &[], &[]) {
            let message = format!("logging system metrics to run {run_id} failed: {e}");
            eprintln!("mlscope: {message}; system metrics monitoring stopped");
            report.error = Some(message);
            return report;
        }
        report.steps_logged += 1;
        step += 1;
    }
}
