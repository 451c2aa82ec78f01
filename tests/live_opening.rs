//! Live refresh while a store opens (issue 18): the viewer watches a file store's run folders only
//! once its rows are in; a run created and a value logged while the rows are being read must
//! still show. And the file feed's watch budget: runs past it are said, not silently dropped.

#![cfg(feature = "viewer")]

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use mlscope::store::{MetricTail, RunBatch};
use mlscope::viewer::App;
use mlscope::watch::{Change, ChangeFeed, FeedEvent, FeedMode, FileFeedOptions};
use mlscope::{
    CreateRun, DatasetInput, ExperimentQuery, FileStore, Metric, Param, RunQuery, RunStatus,
    RunTag, TrackingStore,
};

/// A file store whose first run listing is read at once but handed over only when the test
/// opens the gate: what is logged meanwhile is not in the rows.
struct HeldListing {
    inner: FileStore,
    /// (listing read and waiting, gate open)
    state: Mutex<(bool, bool)>,
    changed: Condvar,
}

impl HeldListing {
    fn wait_until_read(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut state = self.state.lock().unwrap();
        while !state.0 {
            assert!(Instant::now() < deadline, "the listing never started");
            state = self
                .changed
                .wait_timeout(state, Duration::from_millis(50))
                .unwrap()
                .0;
        }
    }

    fn open_gate(&self) {
        self.state.lock().unwrap().1 = true;
        self.changed.notify_all();
    }
}

impl TrackingStore for HeldListing {
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
    fn get_experiment(&self, experiment_id: &str) -> mlscope::Result<mlscope::Experiment> {
        self.inner.get_experiment(experiment_id)
    }
    fn get_experiment_by_name(&self, name: &str) -> mlscope::Result<Option<mlscope::Experiment>> {
        self.inner.get_experiment_by_name(name)
    }
    fn search_experiments(
        &self,
        query: &ExperimentQuery,
    ) -> mlscope::Result<mlscope::Page<mlscope::Experiment>> {
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
    fn create_run(&self, request: CreateRun) -> mlscope::Result<mlscope::Run> {
        self.inner.create_run(request)
    }
    fn get_run(&self, run_id: &str) -> mlscope::Result<mlscope::Run> {
        self.inner.get_run(run_id)
    }
    fn update_run_info(
        &self,
        run_id: &str,
        status: Option<RunStatus>,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> mlscope::Result<mlscope::RunInfo> {
        self.inner
            .update_run_info(run_id, status, end_time, run_name)
    }
    fn delete_run(&self, run_id: &str) -> mlscope::Result<()> {
        self.inner.delete_run(run_id)
    }
    fn restore_run(&self, run_id: &str) -> mlscope::Result<()> {
        self.inner.restore_run(run_id)
    }
    fn search_runs(&self, query: &RunQuery) -> mlscope::Result<mlscope::Page<mlscope::Run>> {
        self.inner.search_runs(query)
    }
    fn stream_runs(
        &self,
        query: &RunQuery,
        sink: &mut dyn FnMut(RunBatch) -> bool,
    ) -> mlscope::Result<()> {
        let mut batches = Vec::new();
        self.inner.stream_runs(query, &mut |b| {
            batches.push(b);
            true
        })?;
        {
            let mut state = self.state.lock().unwrap();
            state.0 = true;
            self.changed.notify_all();
            while !state.1 {
                state = self.changed.wait(state).unwrap();
            }
        }
        for b in batches {
            if !sink(b) {
                break;
            }
        }
        Ok(())
    }
    fn count_runs(&self, experiment_id: &str, view: mlscope::ViewType) -> mlscope::Result<usize> {
        self.inner.count_runs(experiment_id, view)
    }
    fn newest_runs(
        &self,
        experiment_ids: &[String],
        n: usize,
    ) -> mlscope::Result<Vec<mlscope::Run>> {
        self.inner.newest_runs(experiment_ids, n)
    }
    fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[RunTag],
    ) -> mlscope::Result<()> {
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
    fn metric_history_since(
        &self,
        run_id: &str,
        key: &str,
        cursor: u64,
    ) -> mlscope::Result<Option<MetricTail>> {
        self.inner.metric_history_since(run_id, key, cursor)
    }
    fn get_metric_histories(
        &self,
        run_id: &str,
        keys: &[String],
    ) -> mlscope::Result<BTreeMap<String, Vec<Metric>>> {
        self.inner.get_metric_histories(run_id, keys)
    }
}

fn new_run(store: &FileStore, experiment_id: &str, name: &str) -> String {
    store
        .create_run(CreateRun {
            experiment_id: experiment_id.to_string(),
            run_name: Some(name.to_string()),
            ..CreateRun::default()
        })
        .unwrap()
        .info
        .run_id
}

#[test]
fn a_run_logged_while_the_store_opens_shows() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let writer = FileStore::open(&root).unwrap();
    let exp = writer.create_experiment("live", None, &[]).unwrap();
    let running = new_run(&writer, &exp, "running");
    writer
        .log_batch(&running, &[Metric::new("loss", 1.0, 1, 0)], &[], &[])
        .unwrap();
    let store = Arc::new(HeldListing {
        inner: FileStore::open(&root).unwrap(),
        state: Mutex::new((false, false)),
        changed: Condvar::new(),
    });
    let app = App::new_with_store(store.clone(), true);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1200.0, 800.0))
        .build_ui_state(|ui, app: &mut App| app.ui(ui), app);
    let step_until = |h: &mut Harness<'_, App>, what: &str, done: &dyn Fn(&App) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(h.state()) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            h.step();
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    step_until(&mut h, "the watch", &|app| app.live_mode().is_some());
    store.wait_until_read();

    // While the rows read above are held: a new run, and a value logged to the running run.
    let logged_meanwhile = new_run(&writer, &exp, "logged meanwhile");
    writer
        .log_batch(&running, &[Metric::new("loss", 0.5, 2, 1)], &[], &[])
        .unwrap();
    // Let the feed report what it saw while the rows are still held.
    let until = Instant::now() + Duration::from_millis(600);
    while Instant::now() < until {
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    store.open_gate();

    step_until(&mut h, "the run logged meanwhile", &|app| {
        app.run_set()
            .is_some_and(|s| s.index.contains_key(&logged_meanwhile))
    });
    step_until(&mut h, "the value logged meanwhile", &|app| {
        app.run_set().is_some_and(|s| {
            s.index.get(&running).is_some_and(|&i| {
                s.runs[i]
                    .data
                    .metrics
                    .get("loss")
                    .is_some_and(|m| m.step == 1)
            })
        })
    });
}

/// Waits for the feed's first message of the given kind.
fn next_matching(feed: &ChangeFeed, want: impl Fn(&FeedEvent) -> bool) -> FeedEvent {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(e) = feed.next_timeout(Duration::from_millis(50))
            && want(&e)
        {
            return e;
        }
    }
    panic!("the feed did not send what was waited for");
}

/// Linux only: elsewhere the root is watched whole (FSEvents, ReadDirectoryChangesW), no budget.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn runs_past_the_watch_budget_are_counted_and_said() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let store = FileStore::open(&root).unwrap();
    let ids: Vec<String> = (0..6)
        .map(|i| new_run(&store, "0", &format!("r{i}")))
        .collect();
    let feed = ChangeFeed::file_store_with(
        &root,
        Arc::new(|| {}),
        FileFeedOptions {
            staged: true,
            // The root, experiment 0, and 4 run folders.
            watch_budget: Some(6),
            deep_runs: 0,
        },
    );
    assert!(matches!(
        next_matching(&feed, |e| matches!(e, FeedEvent::Mode(_))),
        FeedEvent::Mode(FeedMode::Events)
    ));
    feed.follow_runs(ids.iter().map(|id| ("0".to_string(), id.clone())).collect());
    let FeedEvent::Following(coverage) =
        next_matching(&feed, |e| matches!(e, FeedEvent::Following(_)))
    else {
        unreachable!()
    };
    assert_eq!(coverage.runs_watched, 4);
    assert_eq!(coverage.runs_unwatched, 2);
    assert_eq!(coverage.runs_deep, 0);
    assert!(
        coverage
            .note
            .as_deref()
            .is_some_and(|n| n.contains("budget")),
        "{coverage:?}"
    );
    // A followed run's status change is still seen (its folder is watched).
    store
        .update_run_info(&ids[0], Some(RunStatus::Finished), Some(2), None)
        .unwrap();
    let FeedEvent::Changes(changes) = next_matching(&feed, |e| matches!(e, FeedEvent::Changes(_)))
    else {
        unreachable!()
    };
    assert!(
        changes.iter().any(
            |c| matches!(c, Change::Run { run_id, .. } if *run_id == ids[0])
                || *c == Change::Everything
        ),
        "{changes:?}"
    );
}
