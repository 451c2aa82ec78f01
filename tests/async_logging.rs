//! Asynchronous logging: many points from several threads all reach the store, the queue is
//! bounded, end_run / guard drop / flush wait for the queue, and every failed write reaches the
//! caller (from flush, end_run, or the next asynchronous call), with exact accounting.
//!
//! Size of the main test: `MLSCOPE_ASYNC_TEST_POINTS` points, default 1,000,000 (about 5 s in
//! a debug build on 2 cores with the file store in a temp dir).
//!
//! The fluent API keeps process-wide state and some tests set environment variables, so every
//! test takes `LOCK`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mlscope::store::{CreateRun, ExperimentQuery, Page, RunQuery};
use mlscope::tracking::async_logging::{DEFAULT_QUEUE_CAPACITY, THREAD_NAME};
use mlscope::{
    DatasetInput, Error, ErrorCode, Experiment, FileStore, Metric, Param, Run, RunInfo, RunOptions,
    RunStatus, RunTag, TrackingClient, TrackingStore,
};

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
        Fixture { _guard: guard, dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("mlruns")
    }

    fn client(&self) -> TrackingClient {
        mlscope::tracking::fluent::client().unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        mlscope::tracking::fluent::reset_for_tests();
    }
}

/// Sets an environment variable for the scope; safe because every test holds `LOCK`.
struct EnvVar(&'static str);

impl EnvVar {
    fn set(name: &'static str, value: &str) -> EnvVar {
        // SAFETY: every test of this binary holds LOCK, so no other thread reads the
        // environment meanwhile.
        unsafe { std::env::set_var(name, value) };
        EnvVar(name)
    }
}

impl Drop for EnvVar {
    fn drop(&mut self) {
        // SAFETY: as in `set`.
        unsafe { std::env::remove_var(self.0) };
    }
}

fn thread_names() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("comm")).ok())
        .map(|s| s.trim().to_string())
        .collect()
}

fn points() -> usize {
    std::env::var("MLSCOPE_ASYNC_TEST_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

#[test]
fn points_from_four_threads_are_all_stored_after_end_run() {
    let fx = Fixture::new();
    let total = points();
    let per_thread = total / 4;
    let run = mlscope::start_run(RunOptions::new().run_name("many")).unwrap();
    let id = run.run_id().to_string();
    let client = fx.client();

    // Watch the queue while the threads log: it never holds more than its capacity.
    let done = Arc::new(AtomicBool::new(false));
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    let watcher = {
        let (done, max, client) = (done.clone(), max_in_flight.clone(), client.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                max.fetch_max(client.async_logging_in_flight(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let start = Instant::now();
    let workers: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let key = format!("thread_{t}");
                for i in 0..per_thread {
                    mlscope::log_metric_async(&key, i as f64 * 0.5, Some(i as i64)).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let queued_in = start.elapsed();
    // Thread names are read from /proc/self/task, which only Linux has (Windows and macOS
    // keep them elsewhere; under Wine /proc is the Linux host's, listing Wine's own threads).
    if cfg!(target_os = "linux") {
        assert!(
            thread_names()
                .iter()
                .any(|n| THREAD_NAME.starts_with(n.as_str()) && n.len() >= 14),
            "a thread named {THREAD_NAME}: {:?}",
            thread_names()
        );
    }
    run.end().unwrap(); // waits for the queue
    let total_time = start.elapsed();
    done.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    eprintln!(
        "{total} points: queued in {queued_in:?} ({:.0} calls/s), stored after {total_time:?}; \
         largest queue {} values",
        total as f64 / queued_in.as_secs_f64(),
        max_in_flight.load(Ordering::Relaxed)
    );
    assert!(max_in_flight.load(Ordering::Relaxed) <= DEFAULT_QUEUE_CAPACITY);

    let stored = client.get_run(&id).unwrap();
    assert_eq!(stored.info.status, RunStatus::Finished);
    for t in 0..4 {
        let h = client
            .get_metric_history(&id, &format!("thread_{t}"))
            .unwrap();
        assert_eq!(h.len(), per_thread, "thread_{t}");
        // In the order each thread logged them.
        for (i, m) in h.iter().enumerate() {
            assert_eq!(
                (m.step, m.value),
                (i as i64, i as f64 * 0.5),
                "thread_{t} #{i}"
            );
        }
    }
}

#[test]
fn small_queue_applies_back_pressure() {
    let _fx = Fixture::new();
    let _cap = EnvVar::set("MLSCOPE_ASYNC_LOGGING_QUEUE_SIZE", "500");
    let client = TrackingClient::new(&_fx.root().to_string_lossy()).unwrap();
    let run = client.create_run("0", None, &[], None).unwrap();
    let id = run.info.run_id;
    let mut max = 0;
    for i in 0..20_000 {
        client
            .log_metric_async(&id, "m", i as f64, Some(1), Some(i))
            .unwrap();
        max = max.max(client.async_logging_in_flight());
    }
    assert!(max <= 500, "queue held {max} values");
    client.flush_async_logging().unwrap();
    assert_eq!(client.async_logging_in_flight(), 0);
    assert_eq!(client.get_metric_history(&id, "m").unwrap().len(), 20_000);
}

#[test]
fn params_tags_and_batches_are_merged_and_stored() {
    let fx = Fixture::new();
    let run = mlscope::start_run(RunOptions::new()).unwrap();
    let id = run.run_id().to_string();
    for i in 0..250 {
        mlscope::log_param_async(&format!("p{i}"), i).unwrap();
    }
    mlscope::log_param_async("p0", 0).unwrap(); // same value again: fine
    mlscope::log_params_async(&[("lr", "0.1"), ("depth", "3")]).unwrap();
    for i in 0..150 {
        mlscope::set_tag_async(&format!("t{i}"), format!("v{i}")).unwrap();
    }
    mlscope::set_tag_async("t0", "last wins").unwrap();
    mlscope::set_tags_async(&[("a", 1), ("b", 2)]).unwrap();
    mlscope::log_metrics_async(&[("x", 1.0), ("y", 2.0)], Some(7)).unwrap();
    mlscope::log_batch_async(
        &[Metric::new("z", 3.0, 1_700_000_000_000, 2)],
        &[Param::new("batch_param", "b")],
        &[RunTag::new("batch_tag", "t")],
    )
    .unwrap();
    mlscope::flush().unwrap();
    let r = fx.client().get_run(&id).unwrap();
    assert_eq!(r.data.params.len(), 250 + 2 + 1);
    assert_eq!(r.data.params["p249"], "249");
    assert_eq!(r.data.tags["t0"], "last wins");
    assert_eq!(r.data.tags["t149"], "v149");
    assert_eq!(r.data.tags["b"], "2");
    assert_eq!(r.data.metrics["y"].step, 7);
    assert_eq!(r.data.metrics["z"].timestamp, 1_700_000_000_000);
    run.end().unwrap();
}

#[test]
fn a_bad_param_fails_alone() {
    let fx = Fixture::new();
    let run = mlscope::start_run(RunOptions::new()).unwrap();
    let id = run.run_id().to_string();
    mlscope::log_param("fixed", "1").unwrap();
    mlscope::log_param_async("a", "x").unwrap();
    mlscope::log_param_async("fixed", "2").unwrap(); // params are immutable
    let err = match mlscope::log_param_async("b", "y") {
        Ok(_) => mlscope::flush().unwrap_err(),
        // The writer failed before this call: the call reports it and queues nothing.
        Err(e) => {
            assert!(e.to_string().contains("this call was not queued"), "{e}");
            mlscope::log_param_async("b", "y").unwrap();
            mlscope::flush().unwrap();
            e
        }
    };
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
    let text = err.to_string();
    assert!(text.contains("1 request(s) with 1 value(s)"), "{text}");
    assert!(text.contains("fixed"), "{text}");
    let r = fx.client().get_run(&id).unwrap();
    assert_eq!(r.data.params["a"], "x");
    assert_eq!(r.data.params["b"], "y");
    assert_eq!(r.data.params["fixed"], "1");
    // Reported once: the run ends cleanly.
    run.end().unwrap();
}

#[test]
fn keys_are_validated_when_queued() {
    let _fx = Fixture::new();
    let run = mlscope::start_run(RunOptions::new()).unwrap();
    let err = mlscope::log_metric_async("bad//key", 1.0, None).unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
    let err = mlscope::set_tag_async("../up", 1).unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
    run.end().unwrap();
}

#[test]
fn dropping_the_guard_writes_the_queue() {
    let fx = Fixture::new();
    let id = {
        let run = mlscope::start_run(RunOptions::new()).unwrap();
        for i in 0..5_000 {
            mlscope::log_metric_async("m", i as f64, Some(i)).unwrap();
        }
        run.run_id().to_string()
    };
    let client = fx.client();
    assert_eq!(client.get_metric_history(&id, "m").unwrap().len(), 5_000);
    assert_eq!(
        client.get_run(&id).unwrap().info.status,
        RunStatus::Finished
    );
}

#[test]
fn mlflow_enable_async_logging_makes_plain_calls_queue() {
    let fx = Fixture::new();
    let run = mlscope::start_run(RunOptions::new()).unwrap();
    let id = run.run_id().to_string();
    {
        let _async = EnvVar::set("MLFLOW_ENABLE_ASYNC_LOGGING", "true");
        // A store double would show it better; here: the values are there after flush, and an
        // invalid key still fails at once.
        for i in 0..1_000 {
            mlscope::log_metric("plain", i as f64, Some(i)).unwrap();
        }
        mlscope::log_param("lr", 0.1).unwrap();
        mlscope::set_tag("k", "v").unwrap();
        mlscope::log_metrics(&[("a", 1.0)], None).unwrap();
        mlscope::flush().unwrap();
    }
    {
        let _bad = EnvVar::set("MLFLOW_ENABLE_ASYNC_LOGGING", "maybe");
        let err = mlscope::log_metric("plain", 1.0, None).unwrap_err();
        assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
    }
    let r = fx.client().get_run(&id).unwrap();
    assert_eq!(
        fx.client().get_metric_history(&id, "plain").unwrap().len(),
        1_000
    );
    assert_eq!(r.data.params["lr"], "0.1");
    assert_eq!(r.data.tags["k"], "v");
    run.end().unwrap();
}

#[test]
fn artifacts_are_copied_by_the_thread() {
    let fx = Fixture::new();
    let run = mlscope::start_run(RunOptions::new()).unwrap();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("notes.txt");
    std::fs::write(&file, "hello").unwrap();
    std::fs::create_dir(src.path().join("dir")).unwrap();
    std::fs::write(src.path().join("dir/a.txt"), "a").unwrap();
    mlscope::log_artifact_async(&file, Some("docs")).unwrap();
    mlscope::log_artifacts_async(src.path().join("dir"), Some("more")).unwrap();
    let err = mlscope::log_artifact_async(src.path().join("missing"), None).unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::InternalError);
    mlscope::flush().unwrap();
    let files: Vec<String> = mlscope::list_artifacts(None, Some("docs"))
        .unwrap()
        .into_iter()
        .chain(mlscope::list_artifacts(None, Some("more")).unwrap())
        .map(|f| f.path)
        .collect();
    assert_eq!(files, vec!["docs/notes.txt", "more/a.txt"]);
    run.end().unwrap();
    let _ = fx.root();
}

// ----- failures --------------------------------------------------------------------------------

/// A store that delegates to a file store and fails every `log_batch` after the first `ok`.
/// The operating system's "disk full" error code: ENOSPC on Linux and macOS; on Windows 28 is
/// ERROR_OUT_OF_PAPER, and a full disk is ERROR_DISK_FULL.
#[cfg(not(windows))]
const DISK_FULL: i32 = 28;
#[cfg(windows)]
const DISK_FULL: i32 = 112;

/// What the failure carries: the platform's text for [`DISK_FULL`] ("No space left on device
/// (os error 28)" on Linux).
fn disk_full_text() -> String {
    std::io::Error::from_raw_os_error(DISK_FULL).to_string()
}

struct FailingStore {
    inner: FileStore,
    ok: AtomicUsize,
    calls: AtomicUsize,
}

impl FailingStore {
    fn new(root: &Path, ok: usize) -> FailingStore {
        FailingStore {
            inner: FileStore::open(root).unwrap(),
            ok: AtomicUsize::new(ok),
            calls: AtomicUsize::new(0),
        }
    }
}

impl TrackingStore for FailingStore {
    fn tracking_uri(&self) -> String {
        self.inner.tracking_uri()
    }
    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[(String, String)],
    ) -> mlscope::Result<String> {
        self.inner.create_experiment(name, artifact_location, tags)
    }
    fn get_experiment(&self, experiment_id: &str) -> mlscope::Result<Experiment> {
        self.inner.get_experiment(experiment_id)
    }
    fn get_experiment_by_name(&self, name: &str) -> mlscope::Result<Option<Experiment>> {
        self.inner.get_experiment_by_name(name)
    }
    fn search_experiments(&self, query: &ExperimentQuery) -> mlscope::Result<Page<Experiment>> {
        self.inner.search_experiments(query)
    }
    fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> mlscope::Result<()> {
        self.inner.rename_experiment(experiment_id, new_name)
    }
    fn delete_experiment(&self, experiment_id: &str) -> mlscope::Result<()> {
        self.inner.delete_experiment(experiment_id)
    }
    fn restore_experiment(&self, experiment_id: &str) -> mlscope::Result<()> {
        self.inner.restore_experiment(experiment_id)
    }
    fn set_experiment_tag(
        &self,
        experiment_id: &str,
        key: &str,
        value: &str,
    ) -> mlscope::Result<()> {
        self.inner.set_experiment_tag(experiment_id, key, value)
    }
    fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> mlscope::Result<()> {
        self.inner.delete_experiment_tag(experiment_id, key)
    }
    fn create_run(&self, request: CreateRun) -> mlscope::Result<Run> {
        self.inner.create_run(request)
    }
    fn get_run(&self, run_id: &str) -> mlscope::Result<Run> {
        self.inner.get_run(run_id)
    }
    fn update_run_info(
        &self,
        run_id: &str,
        status: Option<RunStatus>,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> mlscope::Result<RunInfo> {
        self.inner
            .update_run_info(run_id, status, end_time, run_name)
    }
    fn delete_run(&self, run_id: &str) -> mlscope::Result<()> {
        self.inner.delete_run(run_id)
    }
    fn restore_run(&self, run_id: &str) -> mlscope::Result<()> {
        self.inner.restore_run(run_id)
    }
    fn search_runs(&self, query: &RunQuery) -> mlscope::Result<Page<Run>> {
        self.inner.search_runs(query)
    }
    fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[RunTag],
    ) -> mlscope::Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let allowed = self
            .ok
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if !allowed {
            return Err(Error::io(
                "cannot append metric",
                "/dev/full",
                std::io::Error::from_raw_os_error(DISK_FULL),
            ));
        }
        self.inner.log_batch(run_id, metrics, params, tags)
    }
    fn get_metric_history(&self, run_id: &str, key: &str) -> mlscope::Result<Vec<Metric>> {
        self.inner.get_metric_history(run_id, key)
    }
    fn delete_tag(&self, run_id: &str, key: &str) -> mlscope::Result<()> {
        self.inner.delete_tag(run_id, key)
    }
    fn log_inputs(&self, run_id: &str, datasets: &[DatasetInput]) -> mlscope::Result<()> {
        self.inner.log_inputs(run_id, datasets)
    }
}

/// Parses "N request(s) with M value(s)" out of an asynchronous logging error.
fn lost_counts(err: &Error) -> (usize, usize) {
    let text = err.to_string();
    let nums: Vec<usize> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(2)
        .map(|s| s.parse().unwrap())
        .collect();
    assert!(text.contains("request(s) with"), "{text}");
    (nums[0], nums[1])
}

#[test]
fn a_store_failing_midway_is_reported_by_flush_with_exact_counts() {
    let fx = Fixture::new();
    let store = Arc::new(FailingStore::new(&fx.root(), 5));
    let client = TrackingClient::from_store(store.clone());
    let run = client.create_run("0", Some("failing"), &[], None).unwrap();
    let id = run.info.run_id;
    let total = 50_000usize;
    let mut refused_calls = 0;
    let mut reported_lost = 0;
    for i in 0..total {
        match client.log_metric_async(&id, "m", i as f64, Some(1), Some(i as i64)) {
            Ok(()) => {}
            // An earlier failure, reported by this call: it queued nothing itself.
            Err(e) => {
                assert_eq!(e.error_code(), ErrorCode::InternalError, "{e}");
                assert!(e.to_string().contains(&disk_full_text()), "{e}");
                refused_calls += 1;
                reported_lost += lost_counts(&e).1;
            }
        }
    }
    let flushed = client.flush_async_logging();
    if let Err(e) = &flushed {
        reported_lost += lost_counts(e).1;
    }
    let stored = client.get_metric_history(&id, "m").unwrap().len();
    let queued = total - refused_calls;
    eprintln!(
        "{queued} queued ({refused_calls} calls refused), {stored} stored, {reported_lost} reported lost"
    );
    assert!(store.calls.load(Ordering::SeqCst) > 5);
    assert!(
        stored < queued,
        "the store stopped writing after 5 requests"
    );
    // Every value queued is either stored or reported lost, exactly once.
    assert_eq!(stored + reported_lost, queued);
    assert!(flushed.is_err() || refused_calls > 0);
    // Reported once: after a flush, nothing is pending.
    client.flush_async_logging().unwrap();
}

#[test]
fn a_failure_is_returned_by_the_next_call_when_not_flushed() {
    let fx = Fixture::new();
    let store = Arc::new(FailingStore::new(&fx.root(), 0));
    let client = TrackingClient::from_store(store);
    let run = client.create_run("0", None, &[], None).unwrap();
    let id = run.info.run_id;
    client.log_metric_async(&id, "m", 1.0, None, None).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.async_logging_in_flight() > 0 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    let err = client
        .log_metric_async(&id, "m", 2.0, None, None)
        .unwrap_err();
    assert_eq!(lost_counts(&err), (1, 1));
    assert!(
        err.to_string().contains("this call was not queued"),
        "{err}"
    );
    client.flush_async_logging().unwrap();
}

#[test]
fn end_run_reports_a_run_folder_deleted_midway() {
    let fx = Fixture::new();
    let run = mlscope::start_run(RunOptions::new().run_name("doomed")).unwrap();
    let id = run.run_id().to_string();
    for i in 0..2_000 {
        mlscope::log_metric_async("before", i as f64, Some(i)).unwrap();
    }
    mlscope::flush().unwrap();
    // Tests run as root, so a read-only folder would not stop the writes: take the run's
    // folder away instead.
    let run_dir = fx.root().join("0").join(&id);
    assert!(run_dir.is_dir());
    std::fs::remove_dir_all(&run_dir).unwrap();
    let mut refused = 0;
    for i in 0..2_000 {
        if mlscope::log_metric_async("after", i as f64, Some(i)).is_err() {
            refused += 1;
        }
    }
    let err = run.end().expect_err("end_run reports the lost values");
    let text = err.to_string();
    eprintln!("{refused} calls refused; end_run: {text}");
    if refused == 0 {
        let (_, lost) = lost_counts(&err);
        assert_eq!(lost, 2_000, "{text}");
        assert_eq!(err.error_code(), ErrorCode::ResourceDoesNotExist, "{text}");
    }
    assert!(
        mlscope::active_run().unwrap().is_none(),
        "the run left the stack"
    );
}
