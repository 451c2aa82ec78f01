//! `TrackingStore::newest_runs` (what the viewer reads to find the experiment active last):
//! the same runs, in the same order, as the first page of a search ordered by start time, on
//! file stores (with and without the persistent index) and SQLite; and a file store reads only
//! the newest runs' files for it, not every run of the experiments (issue 18: that search
//! decoded every run of a 10,000-run store, ~80 MB, to pick 200).

use std::path::Path;
use std::time::Duration;

use mlscope::store::SqliteStore;
use mlscope::store::index::IndexOptions;
use mlscope::{CreateRun, FileStore, Metric, Param, RunQuery, TrackingStore, ViewType};

/// Longer than the index's "racy" window (files changed in the last two seconds are not kept).
const SETTLE: Duration = Duration::from_millis(2100);

const RUNS: usize = 45;

/// Three experiments; start times in groups of three equal ones (ties), every seventh run
/// deleted, every fifth without metrics. Returns the experiment ids.
fn fill(store: &dyn TrackingStore) -> Vec<String> {
    let experiments: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|name| {
            store
                .create_experiment(name, None, &[])
                .expect("experiment")
        })
        .collect();
    for i in 0..RUNS {
        let run = store
            .create_run(CreateRun {
                experiment_id: experiments[i % 3].clone(),
                user_id: "tester".into(),
                start_time: Some(1_700_000_000_000 + (i / 3) as i64),
                run_name: Some(format!("run-{i}")),
                ..CreateRun::default()
            })
            .expect("run");
        let id = run.info.run_id;
        let metrics: Vec<Metric> = if i % 5 == 0 {
            Vec::new()
        } else {
            vec![Metric::new("loss", 1.0 / (1.0 + i as f64), 1000, 0)]
        };
        store
            .log_batch(&id, &metrics, &[Param::new("i", i.to_string())], &[])
            .expect("log");
        if i % 7 == 0 {
            store.delete_run(&id).expect("delete");
        }
    }
    experiments
}

fn ids(runs: &[mlscope::Run]) -> Vec<String> {
    runs.iter().map(|r| r.info.run_id.clone()).collect()
}

/// The first page of the search `newest_runs` stands for.
fn first_page(store: &dyn TrackingStore, experiments: &[String], n: usize) -> Vec<String> {
    let mut query = RunQuery::new(experiments.iter().cloned());
    query.max_results = n;
    query.order_by = vec!["attributes.start_time DESC".into()];
    query.view_type = ViewType::ActiveOnly;
    ids(&store.search_runs(&query).expect("search").items)
}

fn indexed(root: &Path, index: &Path) -> FileStore {
    FileStore::open(root)
        .expect("open")
        .with_index(Some(IndexOptions {
            dir: index.to_path_buf(),
            min_runs: 0,
        }))
}

#[test]
fn a_file_store_reads_only_the_newest_runs_and_finds_the_first_page_of_the_search() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().join("mlruns");
    let experiments = fill(&FileStore::open(&root).expect("open"));
    for n in [1, 4, 5, 12, RUNS, 100] {
        let expected = first_page(&FileStore::open(&root).expect("open"), &experiments, n);
        // A new store each time, as a new process: nothing kept in memory.
        let store = FileStore::open(&root).expect("open");
        let newest = store.newest_runs(&experiments, n).expect("newest");
        assert_eq!(ids(&newest), expected, "n = {n}");
        if n <= 5 {
            // The newest n active runs, the rest of their start time's group and the deleted
            // ones among them; not the 45.
            assert!(
                store.runs_read() <= n as u64 + 4,
                "n = {n}: {} runs read",
                store.runs_read()
            );
        }
    }
    // Only some experiments; one that does not exist is no error.
    let some = vec![experiments[1].clone(), "404".to_string()];
    let expected = first_page(
        &FileStore::open(&root).expect("open"),
        &experiments[1..2],
        3,
    );
    let store = FileStore::open(&root).expect("open");
    assert_eq!(ids(&store.newest_runs(&some, 3).expect("newest")), expected);
    assert!(store.newest_runs(&experiments, 0).expect("none").is_empty());
}

#[test]
fn a_file_store_takes_the_order_from_its_index_and_still_reads_only_the_newest() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().join("mlruns");
    let index = tmp.path().join("index");
    let experiments = fill(&FileStore::open(&root).expect("open"));
    std::thread::sleep(SETTLE);
    // A full listing writes the index.
    let lister = indexed(&root, &index);
    let mut query = RunQuery::new(experiments.iter().cloned());
    query.view_type = ViewType::All;
    lister.search_runs(&query).expect("list");
    // A run deleted since: the index still calls it active; the store must not.
    let newest_before = first_page(&FileStore::open(&root).expect("open"), &experiments, 1);
    lister.delete_run(&newest_before[0]).expect("delete");
    std::thread::sleep(SETTLE);
    for n in [1, 5, 20] {
        let expected = first_page(&FileStore::open(&root).expect("open"), &experiments, n);
        let store = indexed(&root, &index);
        let newest = store.newest_runs(&experiments, n).expect("newest");
        assert_eq!(ids(&newest), expected, "n = {n}");
        assert!(!ids(&newest).contains(&newest_before[0]));
        assert!(store.runs_reused() > 0, "n = {n}: the index was not used");
        assert!(
            // The newest n active runs, the deleted ones among them (up to 4 and the one
            // deleted above) and the rest of the last one's start time group (up to 2).
            store.runs_reused() + store.runs_read() <= n as u64 + 7,
            "n = {n}: {} reused, {} read",
            store.runs_reused(),
            store.runs_read()
        );
    }
}

#[test]
fn sqlite_answers_with_the_first_page_of_the_search() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let db = tmp.path().join("mlflow.db");
    let store =
        SqliteStore::open_with_artifact_root(&db, &tmp.path().join("a").display().to_string())
            .expect("open");
    let experiments = fill(&store);
    for n in [1, 5, 12, 100] {
        let newest = store.newest_runs(&experiments, n).expect("newest");
        assert_eq!(ids(&newest), first_page(&store, &experiments, n), "n = {n}");
    }
}

/// Every run of `experiment` in `view`, counted by paging through searches.
fn listed(store: &dyn TrackingStore, experiment: &str, view: ViewType) -> usize {
    let mut query = RunQuery::new([experiment]);
    query.view_type = view;
    query.max_results = 10;
    let mut n = 0;
    loop {
        let page = store.search_runs(&query).expect("search");
        n += page.items.len();
        match page.next_page_token {
            Some(t) => query.page_token = Some(t),
            None => return n,
        }
    }
}

#[test]
fn run_counts_are_the_listings_lengths_and_a_file_store_reads_no_run_for_them() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().join("mlruns");
    let experiments = fill(&FileStore::open(&root).expect("open"));
    let db = tmp.path().join("mlflow.db");
    let sqlite =
        SqliteStore::open_with_artifact_root(&db, &tmp.path().join("a").display().to_string())
            .expect("open");
    let sqlite_experiments = fill(&sqlite);
    for view in [ViewType::ActiveOnly, ViewType::DeletedOnly, ViewType::All] {
        for experiment in &experiments {
            let store = FileStore::open(&root).expect("open");
            let count = store.count_runs(experiment, view).expect("count");
            assert_eq!(count, listed(&store, experiment, view), "{view:?}");
            assert!(count > 0 || view == ViewType::DeletedOnly);
            // Only `meta.yaml` was read (a listing reads every run's params, tags, metrics).
            let fresh = FileStore::open(&root).expect("open");
            fresh.count_runs(experiment, view).expect("count");
            assert_eq!(fresh.runs_read(), 0, "{view:?}");
        }
        for experiment in &sqlite_experiments {
            let count = sqlite.count_runs(experiment, view).expect("count");
            assert_eq!(count, listed(&sqlite, experiment, view), "{view:?}");
        }
    }
    // An experiment that does not exist has no runs.
    let store = FileStore::open(&root).expect("open");
    assert_eq!(store.count_runs("404", ViewType::All).expect("count"), 0);
}
