//! System metrics: MLflow's keys and step numbering on this machine, the sampler stops with the
//! run, resumed runs continue the steps, settings and environment variables, and real MLflow
//! reads what was logged.
//!
//! The fluent API keeps process-wide state, so every test takes `LOCK` and resets it.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use mlscope::system_metrics::{self, Sampler, SystemMetricsMonitor, SystemMetricsOptions};
use mlscope::{RunOptions, RunStatus, TrackingClient};
use support::{MlflowVersion, require_mlflow, try_read_with_mlflow};

/// The keys MLflow 3.17.2 logs on a machine without GPU (checked by running its
/// `SystemMetricsMonitor` with psutil 7.2.2 on this machine).
const MLFLOW_KEYS: [&str; 8] = [
    "system/cpu_utilization_percentage",
    "system/disk_available_megabytes",
    "system/disk_usage_megabytes",
    "system/disk_usage_percentage",
    "system/network_receive_megabytes",
    "system/network_transmit_megabytes",
    "system/system_memory_usage_megabytes",
    "system/system_memory_usage_percentage",
];

static LOCK: Mutex<()> = Mutex::new(());

struct Fixture {
    _guard: MutexGuard<'static, ()>,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
        mlscope::tracking::fluent::reset_for_tests();
        let dir = tempfile::tempdir().unwrap();
        mlscope::set_tracking_uri(dir.path().join("mlruns").to_string_lossy().into_owned());
        mlscope::set_system_metrics_sampling_interval(Some(0.2));
        mlscope::set_system_metrics_samples_before_logging(None);
        mlscope::set_system_metrics_node_id(None);
        Fixture { _guard: guard, dir }
    }

    fn uri(&self) -> String {
        self.dir
            .path()
            .join("mlruns")
            .to_string_lossy()
            .into_owned()
    }

    fn client(&self) -> TrackingClient {
        mlscope::tracking::fluent::client().unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        mlscope::tracking::fluent::reset_for_tests();
        mlscope::set_system_metrics_sampling_interval(None);
        mlscope::set_system_metrics_samples_before_logging(None);
        mlscope::set_system_metrics_node_id(None);
    }
}

/// Names (`comm`, 15 bytes at most) of this process's threads.
fn thread_names() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("comm")).ok())
        .map(|s| s.trim().to_string())
        .collect()
}

fn sampler_threads() -> usize {
    thread_names()
        .iter()
        .filter(|n| system_metrics::THREAD_NAME.starts_with(n.as_str()) && n.len() >= 14)
        .count()
}

/// Waits (up to 5 s) until `n` sampler threads run: a new thread names itself once started.
fn expect_sampler_threads(n: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while sampler_threads() != n {
        assert!(
            std::time::Instant::now() < deadline,
            "expected {n} sampler threads: {:?}",
            thread_names()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every system metric's history: key -> [(step, value)].
fn system_histories(client: &TrackingClient, run_id: &str) -> BTreeMap<String, Vec<(i64, f64)>> {
    let run = client.get_run(run_id).unwrap();
    run.data
        .metrics
        .keys()
        .filter(|k| k.starts_with("system/"))
        .map(|k| {
            let h = client.get_metric_history(run_id, k).unwrap();
            (k.clone(), h.iter().map(|m| (m.step, m.value)).collect())
        })
        .collect()
}

fn wait_for_steps(client: &TrackingClient, run_id: &str, steps: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let h = system_histories(client, run_id);
        if h.values().all(|v| v.len() >= steps) && h.len() == MLFLOW_KEYS.len() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {steps} steps after 30 s: {h:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sampler_produces_mlflow_keys_in_mlflow_order() {
    let mut sampler = Sampler::new();
    sampler.collect();
    std::thread::sleep(Duration::from_millis(250));
    sampler.collect();
    let values = sampler.aggregate();
    let keys: Vec<&str> = values.iter().map(|(k, _)| k.as_str()).collect();
    let mut expected = vec![
        "cpu_utilization_percentage",
        "system_memory_usage_megabytes",
        "system_memory_usage_percentage",
        "disk_usage_percentage",
        "disk_usage_megabytes",
        "disk_available_megabytes",
        "network_receive_megabytes",
        "network_transmit_megabytes",
    ];
    if sampler.gpu_count() > 0 {
        expected.truncate(keys.len()); // GPU keys follow; checked by the NVML test below
    }
    assert_eq!(&keys[..expected.len()], &expected[..]);
    let get = |k: &str| values.iter().find(|(key, _)| key == k).unwrap().1;
    for k in [
        "cpu_utilization_percentage",
        "system_memory_usage_percentage",
        "disk_usage_percentage",
    ] {
        let v = get(k);
        assert!((0.0..=100.0).contains(&v), "{k} = {v}");
        // Means are rounded to one decimal, as MLflow's round(x, 1).
        assert_eq!(format!("{v:.1}").parse::<f64>().unwrap(), v, "{k} = {v}");
    }
    assert!(get("system_memory_usage_megabytes") > 0.0);
    assert!(get("disk_usage_megabytes") > 0.0);
    assert!(get("network_receive_megabytes") >= 0.0);
    sampler.clear();
    assert!(sampler.aggregate().is_empty());
}

#[test]
fn run_logs_system_metrics_with_mlflow_keys_and_steps_then_stops() {
    let fx = Fixture::new();
    let before = sampler_threads();
    let run = mlscope::start_run(RunOptions::new().log_system_metrics(true)).unwrap();
    let id = run.run_id().to_string();
    assert!(mlscope::tracking::system_monitor::is_monitoring(&id));
    expect_sampler_threads(before + 1);
    wait_for_steps(&fx.client(), &id, 3);
    run.end().unwrap();
    assert!(!mlscope::tracking::system_monitor::is_monitoring(&id));
    assert_eq!(sampler_threads(), before, "{:?}", thread_names());

    let h = system_histories(&fx.client(), &id);
    let keys: BTreeSet<&str> = h.keys().map(String::as_str).collect();
    assert_eq!(keys, MLFLOW_KEYS.into_iter().collect::<BTreeSet<_>>());
    // Steps 0, 1, 2, … with every key at every step.
    let steps: Vec<i64> = h["system/cpu_utilization_percentage"]
        .iter()
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(steps, (0..steps.len() as i64).collect::<Vec<_>>());
    for (k, v) in &h {
        assert_eq!(
            v.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            steps,
            "steps of {k}"
        );
    }
    // The first sample is taken as the monitor starts: no CPU time has passed (psutil says 0.0
    // there too), and no network traffic since the baseline can be negative.
    assert!(h["system/network_receive_megabytes"][0].1 >= 0.0);

    // Stopped: no new step appears after the end.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(system_histories(&fx.client(), &id), h);
    assert_eq!(
        fx.client().get_run(&id).unwrap().info.status,
        RunStatus::Finished
    );
}

#[test]
fn dropping_the_guard_and_end_run_stop_the_sampler() {
    let fx = Fixture::new();
    let before = sampler_threads();
    {
        let _run = mlscope::start_run(RunOptions::new().log_system_metrics(true)).unwrap();
        expect_sampler_threads(before + 1);
    }
    assert_eq!(sampler_threads(), before, "guard drop stops the sampler");

    let run = mlscope::start_run(RunOptions::new().log_system_metrics(true)).unwrap();
    let id = run.run_id().to_string();
    std::mem::forget(run); // the run stays on the stack; end_run() ends it
    mlscope::end_run(RunStatus::Killed).unwrap();
    assert!(!mlscope::tracking::system_monitor::is_monitoring(&id));
    assert_eq!(sampler_threads(), before, "end_run stops the sampler");

    // TrackingClient::set_terminated stops it too.
    let run = mlscope::start_run(RunOptions::new().log_system_metrics(true)).unwrap();
    let id = run.run_id().to_string();
    fx.client()
        .set_terminated(&id, RunStatus::Finished, None)
        .unwrap();
    assert!(!mlscope::tracking::system_monitor::is_monitoring(&id));
    drop(run);
    assert_eq!(sampler_threads(), before);
}

#[test]
fn global_switch_env_and_explicit_option() {
    let _fx = Fixture::new();
    // Default: off.
    let run = mlscope::start_run(RunOptions::new()).unwrap();
    assert!(!mlscope::tracking::system_monitor::is_monitoring(
        run.run_id()
    ));
    run.end().unwrap();

    mlscope::enable_system_metrics_logging();
    let run = mlscope::start_run(RunOptions::new()).unwrap();
    assert!(mlscope::tracking::system_monitor::is_monitoring(
        run.run_id()
    ));
    run.end().unwrap();
    // A run can opt out while logging is on globally…
    let run = mlscope::start_run(RunOptions::new().log_system_metrics(false)).unwrap();
    assert!(!mlscope::tracking::system_monitor::is_monitoring(
        run.run_id()
    ));
    run.end().unwrap();

    mlscope::disable_system_metrics_logging();
    // …and opt in while it is off.
    let run = mlscope::start_run(RunOptions::new().log_system_metrics(true)).unwrap();
    assert!(mlscope::tracking::system_monitor::is_monitoring(
        run.run_id()
    ));
    run.end().unwrap();
    let run = mlscope::start_run(RunOptions::new()).unwrap();
    assert!(!mlscope::tracking::system_monitor::is_monitoring(
        run.run_id()
    ));
    run.end().unwrap();
}

#[test]
fn samples_before_logging_and_node_id_shape_the_steps() {
    let fx = Fixture::new();
    mlscope::set_system_metrics_sampling_interval(Some(0.1));
    mlscope::set_system_metrics_samples_before_logging(Some(3));
    mlscope::set_system_metrics_node_id(Some("node_0"));
    let run = mlscope::start_run(RunOptions::new().log_system_metrics(true)).unwrap();
    let id = run.run_id().to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while system_histories(&fx.client(), &id)
        .get("system/node_0/cpu_utilization_percentage")
        .is_none_or(|v| v.len() < 2)
    {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    }
    let started = std::time::Instant::now();
    run.end().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "ending waits for one sampling interval at most"
    );
    let h = system_histories(&fx.client(), &id);
    assert!(h.keys().all(|k| k.starts_with("system/node_0/")), "{h:?}");
    assert_eq!(h.len(), MLFLOW_KEYS.len());
    let cpu = &h["system/node_0/cpu_utilization_percentage"];
    assert_eq!(cpu[0].0, 0);
    assert_eq!(cpu[1].0, 1);
}

#[test]
fn a_resumed_run_continues_the_steps() {
    let fx = Fixture::new();
    let run = mlscope::start_run(RunOptions::new().log_system_metrics(true)).unwrap();
    let id = run.run_id().to_string();
    wait_for_steps(&fx.client(), &id, 2);
    run.end().unwrap();
    let first =
        system_histories(&fx.client(), &id)["system/cpu_utilization_percentage"].len() as i64;

    let run = mlscope::start_run(RunOptions::new().run_id(&id).log_system_metrics(true)).unwrap();
    wait_for_steps(&fx.client(), &id, first as usize + 1);
    run.end().unwrap();
    let steps: Vec<i64> = system_histories(&fx.client(), &id)["system/cpu_utilization_percentage"]
        .iter()
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(steps, (0..steps.len() as i64).collect::<Vec<_>>());
    assert!(steps.len() as i64 > first);
}

#[test]
fn monitor_stops_by_itself_when_its_run_is_gone() {
    let fx = Fixture::new();
    let client = fx.client();
    let run = client
        .create_run("0", Some("vanishing"), &[], None)
        .unwrap();
    let id = run.info.run_id.clone();
    let monitor = SystemMetricsMonitor::start(
        client.store().clone(),
        &id,
        SystemMetricsOptions {
            sampling_interval: Duration::from_millis(50),
            ..SystemMetricsOptions::default()
        },
    )
    .unwrap();
    wait_for_steps(&client, &id, 1);
    client.delete_run(&id).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let report = monitor.finish();
    assert!(report.steps_logged >= 1);
    let error = report.error.expect("logging to a deleted run fails");
    assert!(error.contains(&id), "{error}");
}

/// Sets environment variables for the scope; safe because every test that reads the
/// environment holds `LOCK` (the sampler-only test reads none).
struct EnvVars(Vec<&'static str>);

impl EnvVars {
    fn set(vars: &[(&'static str, &str)]) -> EnvVars {
        for (k, v) in vars {
            // SAFETY: see the type's documentation.
            unsafe { std::env::set_var(k, v) };
        }
        EnvVars(vars.iter().map(|(k, _)| *k).collect())
    }
}

impl Drop for EnvVars {
    fn drop(&mut self) {
        for k in &self.0 {
            // SAFETY: as in `set`.
            unsafe { std::env::remove_var(k) };
        }
    }
}

#[test]
fn environment_variables_and_setters() {
    let _fx = Fixture::new();
    mlscope::set_system_metrics_sampling_interval(None);
    assert_eq!(
        SystemMetricsOptions::from_settings().unwrap(),
        SystemMetricsOptions::default(),
        "MLflow's defaults: 10 s, 1 sample, no node id"
    );
    let _env = EnvVars::set(&[
        ("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.25"),
        ("MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING", "4"),
        ("MLFLOW_SYSTEM_METRICS_NODE_ID", "worker_1"),
    ]);
    let o = SystemMetricsOptions::from_settings().unwrap();
    assert_eq!(o.sampling_interval, Duration::from_millis(250));
    assert_eq!(o.samples_before_logging, 4);
    assert_eq!(o.prefix(), "system/worker_1/");
    // The setters win over the variables; None goes back to them.
    mlscope::set_system_metrics_sampling_interval(Some(2.0));
    mlscope::set_system_metrics_samples_before_logging(Some(1));
    mlscope::set_system_metrics_node_id(Some("node_9"));
    let o = SystemMetricsOptions::from_settings().unwrap();
    assert_eq!(
        (
            o.sampling_interval,
            o.samples_before_logging,
            o.prefix().as_str()
        ),
        (Duration::from_secs(2), 1, "system/node_9/")
    );
    mlscope::set_system_metrics_node_id(None);
    assert_eq!(
        SystemMetricsOptions::from_settings().unwrap().prefix(),
        "system/worker_1/"
    );
}

#[test]
fn invalid_settings_are_errors_before_the_run_starts() {
    let _fx = Fixture::new();
    mlscope::set_system_metrics_sampling_interval(Some(0.0));
    let err = mlscope::start_run(RunOptions::new().log_system_metrics(true)).unwrap_err();
    assert_eq!(err.error_code(), mlscope::ErrorCode::InvalidParameterValue);
    assert!(
        mlscope::active_run().unwrap().is_none(),
        "no run was left active"
    );
}

#[test]
fn mlflow_reads_the_system_metrics() {
    let fx = Fixture::new();
    let run =
        mlscope::start_run(RunOptions::new().run_name("sys").log_system_metrics(true)).unwrap();
    let id = run.run_id().to_string();
    wait_for_steps(&fx.client(), &id, 2);
    run.end().unwrap();
    let ours = system_histories(&fx.client(), &id);

    let Some(_) = require_mlflow(MlflowVersion::V3_17_2, "mlflow_reads_the_system_metrics") else {
        return;
    };
    let doc = try_read_with_mlflow(&fx.uri(), MlflowVersion::V3_17_2, &[])
        .unwrap_or_else(|e| panic!("{e}"));
    let r = &doc["experiments"][0]["runs"][0];
    assert_eq!(r["run_id"], id.as_str());
    let hist = r["metric_history"].as_object().unwrap();
    let theirs: BTreeMap<String, Vec<(i64, f64)>> = hist
        .iter()
        .map(|(k, rows)| {
            let rows = rows
                .as_array()
                .unwrap()
                .iter()
                .map(|row| (row[0].as_i64().unwrap(), row[2].as_f64().unwrap()))
                .collect();
            (k.clone(), rows)
        })
        .collect();
    assert_eq!(theirs, ours);
    // MLflow's UI charts a run's `system/` metrics in its "System metrics" tab: the keys are
    // exactly those its own monitor logs.
    assert_eq!(
        theirs.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        MLFLOW_KEYS.into_iter().collect::<BTreeSet<_>>()
    );
}
