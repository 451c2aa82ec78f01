//! Live refresh: the change feed on an `mlruns` folder and incremental metric reads
//! (`FileStore::read_metric_since`), without a window; and the viewer seeing a new point.

#![cfg(feature = "viewer")]

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mlscope::store::FileStore;
use mlscope::watch::{Change, ChangeFeed, FeedEvent, FeedMode};
use mlscope::{CreateRun, Metric, TrackingStore};

fn quiet() -> mlscope::watch::Waker {
    Arc::new(|| {})
}

fn new_run(store: &FileStore, experiment_id: &str) -> String {
    store
        .create_run(CreateRun {
            experiment_id: experiment_id.to_string(),
            ..CreateRun::default()
        })
        .unwrap()
        .info
        .run_id
}

fn metric_path(root: &Path, experiment_id: &str, run_id: &str, key: &str) -> PathBuf {
    root.join(experiment_id)
        .join(run_id)
        .join("metrics")
        .join(key)
}

/// Waits for the feed to say how it works.
fn wait_mode(feed: &ChangeFeed) -> FeedMode {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(FeedEvent::Mode(m)) = feed.next_timeout(Duration::from_millis(50)) {
            return m;
        }
    }
    panic!("the feed did not start");
}

/// Follows metric files as the viewer's worker does: one incremental read per reported change.
#[derive(Default)]
struct Follower {
    offsets: HashMap<(String, String), u64>,
    points: HashMap<(String, String), Vec<Metric>>,
    reads: usize,
}

impl Follower {
    fn apply(&mut self, store: &FileStore, changes: &[Change]) {
        for c in changes {
            let targets: Vec<(String, String)> = match c {
                Change::Metric { run_id, key, .. } => vec![(run_id.clone(), key.clone())],
                Change::Everything => self.offsets.keys().cloned().collect(),
                _ => Vec::new(),
            };
            for k in targets {
                let from = self.offsets.get(&k).copied().unwrap_or(0);
                let Ok(tail) = store.read_metric_since(&k.0, &k.1, from) else {
                    continue;
                };
                self.reads += 1;
                let held = self.points.entry(k.clone()).or_default();
                if tail.restarted {
                    held.clear();
                }
                held.extend(tail.metrics);
                self.offsets.insert(k, tail.next_offset);
            }
        }
    }
}

#[test]
fn appended_points_arrive_exactly_once_even_across_a_torn_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let store = FileStore::open(&root).unwrap();
    let run_id = new_run(&store, "0");
    let feed = ChangeFeed::file_store(&root, quiet());
    assert_eq!(wait_mode(&feed), FeedMode::Events);

    const N: i64 = 60;
    let path = metric_path(&root, "0", &run_id, "loss");
    let writer = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        for step in 0..N {
            let line = format!("{} {}.5 {step}\n", 1_700_000_000_000 + step, step);
            if step % 10 == 3 {
                // A torn line: the first half is seen (and must be kept) before the rest comes.
                let (a, b) = line.split_at(line.len() / 2);
                f.write_all(a.as_bytes()).unwrap();
                f.flush().unwrap();
                std::thread::sleep(Duration::from_millis(400));
                f.write_all(b.as_bytes()).unwrap();
            } else {
                f.write_all(line.as_bytes()).unwrap();
            }
            std::thread::sleep(Duration::from_millis(15));
        }
    });

    let mut follower = Follower::default();
    let key = (run_id.clone(), "loss".to_string());
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(FeedEvent::Changes(c)) = feed.next_timeout(Duration::from_millis(50)) {
            follower.apply(&store, &c);
        }
        if writer.is_finished() && follower.points.get(&key).map_or(0, Vec::len) >= N as usize {
            break;
        }
    }
    writer.join().unwrap();
    // Give late events a chance to (wrongly) duplicate something.
    let settle = Instant::now() + Duration::from_millis(600);
    while Instant::now() < settle {
        if let Some(FeedEvent::Changes(c)) = feed.next_timeout(Duration::from_millis(50)) {
            follower.apply(&store, &c);
        }
    }
    let got = follower.points.get(&key).cloned().unwrap_or_default();
    let steps: Vec<i64> = got.iter().map(|m| m.step).collect();
    assert_eq!(
        steps,
        (0..N).collect::<Vec<_>>(),
        "every point once, in order"
    );
    for m in &got {
        assert_eq!(m.value, m.step as f64 + 0.5, "torn lines are read whole");
    }
    // Incremental: far fewer bytes were read than re-reading the file on every change would.
    assert!(follower.reads >= 2);
}

#[test]
fn deleting_and_recreating_runs_under_the_watcher_does_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let store = FileStore::open(&root).unwrap();
    let exp = store.create_experiment("churn", None, &[]).unwrap();
    let feed = ChangeFeed::file_store(&root, quiet());
    assert_eq!(wait_mode(&feed), FeedMode::Events);

    let mut follower = Follower::default();
    let drain = |follower: &mut Follower, wait: Duration| {
        let until = Instant::now() + wait;
        let mut seen = Vec::new();
        while Instant::now() < until {
            match feed.next_timeout(Duration::from_millis(20)) {
                Some(FeedEvent::Changes(c)) => {
                    follower.apply(&store, &c);
                    for change in &c {
                        if let Change::Run { run_id, .. } = change {
                            // Reading a run that is half gone is an error, never a panic.
                            let _ = store.get_run(run_id);
                        }
                    }
                    seen.extend(c);
                }
                Some(FeedEvent::Failed(why)) => panic!("the feed failed: {why}"),
                _ => {}
            }
        }
        seen
    };

    for round in 0..5 {
        let ids: Vec<String> = (0..4).map(|_| new_run(&store, &exp)).collect();
        for (i, id) in ids.iter().enumerate() {
            store
                .log_batch(id, &[Metric::new("loss", i as f64, 1, round)], &[], &[])
                .unwrap();
        }
        drain(&mut follower, Duration::from_millis(50));
        // Soft-delete two, remove the folders of the others outright (as `mlflow gc` does).
        store.delete_run(&ids[0]).unwrap();
        store.delete_run(&ids[1]).unwrap();
        for id in &ids[2..] {
            std::fs::remove_dir_all(root.join(&exp).join(id)).unwrap();
        }
        // Recreate a run folder under a removed run's id, with a fresh metric file.
        let copy_from = root.join(&exp).join(&ids[0]);
        let again = root.join(&exp).join(&ids[2]);
        std::fs::create_dir_all(again.join("metrics")).unwrap();
        std::fs::copy(copy_from.join("meta.yaml"), again.join("meta.yaml")).unwrap();
        std::fs::write(again.join("metrics").join("loss"), b"1 7.0 0\n").unwrap();
        drain(&mut follower, Duration::from_millis(100));
    }
    // The whole experiment goes to the trash and back.
    store.delete_experiment(&exp).unwrap();
    store.restore_experiment(&exp).unwrap();
    drain(&mut follower, Duration::from_millis(300));

    // Still watching: a new run is reported.
    let last = new_run(&store, &exp);
    let seen = drain(&mut follower, Duration::from_millis(1500));
    assert!(
        seen.iter().any(
            |c| matches!(c, Change::Run { run_id, .. } if *run_id == last)
                || *c == Change::Everything
        ),
        "the feed kept working: {seen:?}"
    );
}

#[test]
fn a_sqlite_commit_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    let store = mlscope::store::SqliteStore::open_with_artifact_root(&db, "/tmp/live-a").unwrap();
    let feed = ChangeFeed::sqlite(&db, quiet());
    assert!(matches!(wait_mode(&feed), FeedMode::Polling(_)));
    store.create_experiment("live", None, &[]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(FeedEvent::Changes(c)) = feed.next_timeout(Duration::from_millis(50)) {
            assert_eq!(c, vec![Change::Everything]);
            return;
        }
    }
    panic!("no change reported");
}

#[test]
fn the_viewer_shows_a_point_appended_while_it_is_open() {
    use egui_kittest::Harness;
    use mlscope::viewer::App;
    use mlscope::viewer::testing::Entry;

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let store = Arc::new(FileStore::open(&root).unwrap());
    let run_id = new_run(&store, "0");
    store
        .log_batch(&run_id, &[Metric::new("loss", 1.0, 1, 0)], &[], &[])
        .unwrap();
    let app = App::new_with_store(store.clone(), false);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1200.0, 800.0))
        .build_ui_state(|ui, app: &mut App| app.ui(ui), app);
    let key = (run_id.clone(), "loss".to_string());
    let step_until = |h: &mut Harness<'_, App>, what: &str, done: &dyn Fn(&App) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done(h.state()) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            h.step();
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    step_until(&mut h, "the run", &|app| {
        app.run_set().is_some_and(|s| s.index.contains_key(&run_id))
    });
    h.state_mut()
        .ensure_histories(&run_id, &["loss".to_string()]);
    let steps_of = |app: &App| match app.histories().get(&key) {
        Some(Entry::Ready(s)) => s.steps.clone(),
        _ => Vec::new(),
    };
    step_until(&mut h, "the history", &|app| steps_of(app) == vec![0]);
    step_until(&mut h, "the watch", &|app| app.live_mode().is_some());

    store
        .log_batch(&run_id, &[Metric::new("loss", 0.5, 2, 1)], &[], &[])
        .unwrap();
    step_until(&mut h, "the new point", &|app| steps_of(app) == vec![0, 1]);
    step_until(&mut h, "the table's latest value", &|app| {
        app.run_set().is_some_and(|s| {
            s.runs[s.index[&run_id]]
                .data
                .metrics
                .get("loss")
                .is_some_and(|m| m.step == 1)
        })
    });
}

#[test]
fn reading_the_store_is_not_a_change() {
    // The viewer reads every run after each change; if its own reads counted as changes it
    // would read for ever (inotify reports opens and closes without writes too).
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let store = FileStore::open(&root).unwrap();
    let run_id = new_run(&store, "0");
    store
        .log_batch(
            &run_id,
            &[Metric::new("loss", 0.5, 1_700_000_000_000, 0)],
            &[mlscope::Param::new("lr", "0.1")],
            &[],
        )
        .unwrap();
    let feed = ChangeFeed::file_store(&root, quiet());
    assert_eq!(wait_mode(&feed), FeedMode::Events);
    // Whatever the writes above still report.
    while feed.next_timeout(Duration::from_millis(500)).is_some() {}
    for _ in 0..3 {
        let reader = FileStore::open(&root).unwrap();
        reader.search_runs(&mlscope::RunQuery::new(["0"])).unwrap();
        reader.get_metric_history(&run_id, "loss").unwrap();
        reader.read_metric_since(&run_id, "loss", 0).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        if let Some(FeedEvent::Changes(c)) = feed.next_timeout(Duration::from_millis(50)) {
            panic!("reads were reported as changes: {c:?}");
        }
    }
}
