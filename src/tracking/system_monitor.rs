//! The system metrics monitors of runs started by the fluent API (and stopped when a run ends
//! through [`TrackingClient::set_terminated`]): one [`SystemMetricsMonitor`] per run id.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, MutexGuard};

use crate::error::Result;
use crate::system_metrics::{
    MonitorReport, SystemMetricsMonitor, SystemMetricsOptions, system_metrics_logging_enabled,
};
use crate::tracking::client::TrackingClient;

static MONITORS: LazyLock<Mutex<HashMap<String, SystemMetricsMonitor>>> =
    LazyLock::new(Mutex::default);

fn monitors() -> MutexGuard<'static, HashMap<String, SystemMetricsMonitor>> {
    MONITORS.lock().unwrap_or_else(|p| p.into_inner())
}

/// The monitor settings for a new fluent run: `None` when it logs no system metrics
/// (`explicit`, else [`system_metrics_logging_enabled`]). Fails on invalid settings.
pub(crate) fn options_for_run(explicit: Option<bool>) -> Result<Option<SystemMetricsOptions>> {
    let enabled = match explicit {
        Some(enabled) => enabled,
        None => system_metrics_logging_enabled()?,
    };
    if enabled {
        SystemMetricsOptions::from_settings().map(Some)
    } else {
        Ok(None)
    }
}

/// Starts the monitor of a fluent run (a failure to start is reported on stderr and does not
/// fail the run, as in MLflow).
pub(crate) fn start_for_run(client: &TrackingClient, run_id: &str, options: SystemMetricsOptions) {
    match SystemMetricsMonitor::start(client.store().clone(), run_id, options) {
        Ok(monitor) => {
            let old = monitors().insert(run_id.to_string(), monitor);
            if let Some(old) = old {
                old.finish();
            }
        }
        Err(e) => eprintln!("mlscope: failed to start system metrics monitoring: {e}"),
    }
}

/// Stops the monitor of a run, if one runs; returns its report.
pub(crate) fn stop_for_run(run_id: &str) -> Option<MonitorReport> {
    let monitor = monitors().remove(run_id)?;
    Some(monitor.finish())
}

/// Whether a monitor started by the fluent API is running for `run_id`.
pub fn is_monitoring(run_id: &str) -> bool {
    monitors().contains_key(run_id)
}
