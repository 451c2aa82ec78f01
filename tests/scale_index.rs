//! The persistent run index of file stores (issue 18): listings with and without it are the
//! same on stores changed underneath (runs added, deleted, tags edited in place, metrics
//! appended), including a same-size in-place rewrite whose modification time is set back, and
//! a damaged index is rebuilt.
//!
//! Each listing opens a new `FileStore` (as a new process would), so the index is read from its
//! file, not from the previous store's memory. Files changed in the last two seconds are never
//! trusted by the index (see `store::index`), so the tests wait that long where they need the
//! index to be used for a run, and check through `FileStore::runs_reused` that it was.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mlscope::store::index::IndexOptions;
use mlscope::{
    CreateRun, FileStore, Metric, Param, Run, RunQuery, RunTag, TrackingStore, ViewType,
};

/// Longer than the index's "racy" window.
const SETTLE: Duration = Duration::from_millis(2100);

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    index_dir: PathBuf,
    experiment: String,
}

impl Fixture {
    fn new(runs: usize) -> Fixture {
        let tmp = tempfile::tempdir().expect("temp dir");
        let root = tmp.path().join("mlruns");
        let index_dir = tmp.path().join("index");
        let store = FileStore::open(&root).expect("open");
        let experiment = store
            .create_experiment("scale-index", None, &[])
            .expect("experiment");
        let f = Fixture {
            _tmp: tmp,
            root,
            index_dir,
            experiment,
        };
        for i in 0..runs {
            f.add_run(&store, i);
        }
        f
    }

    fn add_run(&self, store: &FileStore, i: usize) -> String {
        let run = store
            .create_run(CreateRun {
                experiment_id: self.experiment.clone(),
                user_id: "tester".into(),
                start_time: Some(1_700_000_000_000 + i as i64),
                tags: vec![RunTag::new("color", "red"), RunTag::new("i", i.to_string())],
                run_name: Some(format!("run-{i}")),
            })
            .expect("create run");
        let id = run.info.run_id;
        let metrics: Vec<Metric> = (0..5)
            .map(|s| Metric::new("loss", 1.0 / (1.0 + s as f64), 1000 + s, s))
            .collect();
        store
            .log_batch(&id, &metrics, &[Param::new("lr", format!("0.{i}"))], &[])
            .expect("log");
        id
    }

    fn plain(&self) -> FileStore {
        FileStore::open(&self.root).expect("open")
    }

    fn indexed(&self) -> FileStore {
        FileStore::open(&self.root)
            .expect("open")
            .with_index(Some(IndexOptions {
                dir: self.index_dir.clone(),
                min_runs: 0,
            }))
    }

    fn run_dir(&self, id: &str) -> PathBuf {
        self.root.join(&self.experiment).join(id)
    }

    fn index_files(&self) -> Vec<PathBuf> {
        fs::read_dir(&self.index_dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "sqlite"))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Every run of the experiment for `view`, all pages, sorted by id, with the warnings.
fn listing(store: &FileStore, experiment: &str, view: ViewType) -> (Vec<Run>, Vec<String>) {
    let mut query = RunQuery::new([experiment.to_string()]);
    query.view_type = view;
    query.max_results = 7;
    let mut runs = Vec::new();
    let mut warnings = Vec::new();
    loop {
        let page = store.search_runs(&query).expect("search");
        runs.extend(page.items);
        warnings.extend(page.warnings.into_iter().map(|w| format!("{w:?}")));
        match page.next_page_token {
            Some(t) => query.page_token = Some(t),
            None => break,
        }
    }
    runs.sort_by(|a, b| a.info.run_id.cmp(&b.info.run_id));
    (runs, warnings)
}

/// Every run of the experiment for `view` through `stream_runs` (the viewer's way), sorted by
/// id, with the warnings; checks that no run comes twice.
fn streamed(store: &FileStore, experiment: &str, view: ViewType) -> (Vec<Run>, Vec<String>) {
    let mut query = RunQuery::new([experiment.to_string()]);
    query.view_type = view;
    let mut runs = Vec::new();
    let mut warnings = Vec::new();
    let mut last_progress = 0;
    store
        .stream_runs(&query, &mut |batch| {
            runs.extend(batch.runs);
            warnings.extend(batch.warnings.into_iter().map(|w| format!("{w:?}")));
            if let Some((read, total)) = batch.progress {
                assert!(read >= last_progress && read <= total);
                last_progress = read;
            }
            true
        })
        .expect("stream");
    runs.sort_by(|a, b| a.info.run_id.cmp(&b.info.run_id));
    let before = runs.len();
    runs.dedup_by(|a, b| a.info.run_id == b.info.run_id);
    assert_eq!(runs.len(), before, "a run came twice");
    (runs, warnings)
}

/// Lists with the index (a new store, as a new process) and without, by pages and streamed,
/// asserts they all agree and returns the indexed store (for `runs_reused`) and the runs.
fn same_both_ways(f: &Fixture) -> (FileStore, Vec<Run>) {
    let indexed = f.indexed();
    for view in [ViewType::ActiveOnly, ViewType::All, ViewType::DeletedOnly] {
        let with = listing(&indexed, &f.experiment, view);
        let without = listing(&f.plain(), &f.experiment, view);
        assert_eq!(with, without, "listing of {view:?} differs with the index");
        let streamed_with = streamed(&f.indexed(), &f.experiment, view);
        assert_eq!(
            streamed_with, without,
            "streamed {view:?} differs with the index"
        );
        let streamed_without = streamed(&f.plain(), &f.experiment, view);
        assert_eq!(streamed_without, without, "streamed {view:?} differs");
    }
    let runs = listing(&indexed, &f.experiment, ViewType::All).0;
    (indexed, runs)
}

fn tag<'a>(runs: &'a [Run], id: &str, key: &str) -> Option<&'a str> {
    runs.iter()
        .find(|r| r.info.run_id == id)
        .and_then(|r| r.data.tags.get(key))
        .map(String::as_str)
}

/// Rewrites a file in place (same inode, `O_TRUNC` like MLflow's writers) and, when
/// `restore_mtime`, sets its modification time back to what it was.
fn rewrite_in_place(path: &Path, content: &str, restore_mtime: bool) {
    let before = fs::metadata(path).expect("stat").modified().expect("mtime");
    let mut file = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .expect("open for writing");
    file.write_all(content.as_bytes()).expect("write");
    if restore_mtime {
        file.set_modified(before).expect("set mtime");
    }
    drop(file);
    if restore_mtime {
        assert_eq!(
            fs::metadata(path).expect("stat").modified().ok(),
            Some(before)
        );
    }
}

#[test]
fn a_settled_store_is_listed_from_the_index_with_the_same_result() {
    let f = Fixture::new(12);
    std::thread::sleep(SETTLE);
    let (first, runs) = same_both_ways(&f);
    assert_eq!(runs.len(), 12);
    assert_eq!(f.index_files().len(), 1, "the index file was written");
    // Nothing inside the store mentions the index.
    assert!(!f.root.join("index").exists());
    drop(first);
    let (second, _) = same_both_ways(&f);
    assert!(
        second.runs_reused() >= 12,
        "a new store reused {} runs from the index",
        second.runs_reused()
    );
}

#[test]
fn same_size_tag_rewrite_with_restored_mtime_shows() {
    let f = Fixture::new(6);
    std::thread::sleep(SETTLE);
    let (_, runs) = same_both_ways(&f);
    let id = runs[2].info.run_id.clone();
    assert_eq!(tag(&runs, &id, "color"), Some("red"));
    // Same size, same inode, same modification time: only the status-change time differs.
    rewrite_in_place(&f.run_dir(&id).join("tags/color"), "tan", true);
    let (_, runs) = same_both_ways(&f);
    assert_eq!(tag(&runs, &id, "color"), Some("tan"));
    // And once the change has settled, the index keeps the new value.
    std::thread::sleep(SETTLE);
    let (store, runs) = same_both_ways(&f);
    assert_eq!(tag(&runs, &id, "color"), Some("tan"));
    assert!(store.runs_reused() >= 6);
}

#[test]
fn same_size_tag_rewrite_within_the_same_second_shows() {
    let f = Fixture::new(6);
    std::thread::sleep(SETTLE);
    let (_, runs) = same_both_ways(&f);
    let id = runs[0].info.run_id.clone();
    // Two rewrites right after each other, with a listing between: within one second and
    // within the file system's timestamp granularity.
    rewrite_in_place(&f.run_dir(&id).join("tags/color"), "tan", false);
    let (_, runs) = same_both_ways(&f);
    assert_eq!(tag(&runs, &id, "color"), Some("tan"));
    rewrite_in_place(&f.run_dir(&id).join("tags/color"), "sky", false);
    let (_, runs) = same_both_ways(&f);
    assert_eq!(tag(&runs, &id, "color"), Some("sky"));
    std::thread::sleep(SETTLE);
    let (_, runs) = same_both_ways(&f);
    assert_eq!(tag(&runs, &id, "color"), Some("sky"));
}

#[test]
fn runs_added_deleted_and_metrics_appended_underneath() {
    let f = Fixture::new(10);
    std::thread::sleep(SETTLE);
    let (_, runs) = same_both_ways(&f);
    let writer = f.plain();
    // Added.
    let new_id = f.add_run(&writer, 100);
    // Soft-deleted (meta.yaml rewritten) and removed outright (folder gone).
    writer.delete_run(&runs[1].info.run_id).expect("delete");
    fs::remove_dir_all(f.run_dir(&runs[2].info.run_id)).expect("remove run folder");
    // A metric appended by another writer (a line at the end of the file).
    writer
        .log_batch(
            &runs[3].info.run_id,
            &[Metric::new("loss", 0.01, 9_000, 99)],
            &[],
            &[],
        )
        .expect("append");
    // A tag added.
    writer
        .set_tag(&runs[4].info.run_id, &RunTag::new("late", "yes"))
        .expect("tag");
    let (_, now) = same_both_ways(&f);
    assert!(now.iter().any(|r| r.info.run_id == new_id));
    assert_eq!(
        now.len(),
        10,
        "10 - 1 removed + 1 added (the deleted one is listed in All)"
    );
    assert!(!now.iter().any(|r| r.info.run_id == runs[2].info.run_id));
    let appended = now
        .iter()
        .find(|r| r.info.run_id == runs[3].info.run_id)
        .expect("run 3");
    assert_eq!(appended.data.metrics["loss"].step, 99);
    assert_eq!(tag(&now, &runs[4].info.run_id, "late"), Some("yes"));
    // Again once everything has settled (now from the index).
    std::thread::sleep(SETTLE);
    let (store, again) = same_both_ways(&f);
    assert_eq!(again, now);
    assert!(store.runs_reused() >= 10);
}

#[test]
fn a_damaged_index_is_rebuilt_and_never_changes_results() {
    let f = Fixture::new(8);
    std::thread::sleep(SETTLE);
    let (_, expected) = same_both_ways(&f);
    let files = f.index_files();
    assert_eq!(files.len(), 1);
    // Garbage in place of the database.
    fs::write(
        &files[0],
        b"this is not a database at all, not even close........",
    )
    .expect("damage");
    for suffix in ["-wal", "-shm"] {
        let _ = fs::remove_file(format!("{}{suffix}", files[0].display()));
    }
    let (_, runs) = same_both_ways(&f);
    assert_eq!(runs, expected);
    // Rebuilt: the next store uses it again.
    let (store, runs) = same_both_ways(&f);
    assert_eq!(runs, expected);
    assert!(store.runs_reused() >= 8, "reused {}", store.runs_reused());
}

#[test]
fn a_damaged_entry_is_ignored() {
    let f = Fixture::new(5);
    std::thread::sleep(SETTLE);
    let (_, expected) = same_both_ways(&f);
    let files = f.index_files();
    {
        let conn = rusqlite::Connection::open(&files[0]).expect("open index");
        // Change one byte of every stored run (a run id's first letter), keeping checksums.
        let changed = conn
            .execute(
                "UPDATE runs SET run = CAST(substr(run, 1, 4) || 'Z' || substr(run, 6) AS BLOB)",
                [],
            )
            .expect("damage entries");
        assert_eq!(changed, 5);
    }
    let store = f.indexed();
    assert_eq!(listing(&store, &f.experiment, ViewType::All).0, expected);
    assert_eq!(
        store.runs_reused(),
        0,
        "the damaged entries were read again"
    );
    let (_, runs) = same_both_ways(&f);
    assert_eq!(runs, expected);
}

#[test]
fn no_index_without_options() {
    let f = Fixture::new(3);
    std::thread::sleep(SETTLE);
    let plain = f.plain();
    let _ = listing(&plain, &f.experiment, ViewType::All);
    assert!(f.index_files().is_empty());
    // A small store under the default minimum is not indexed either.
    let small = FileStore::open(&f.root)
        .expect("open")
        .with_index(Some(IndexOptions {
            dir: f.index_dir.clone(),
            min_runs: 4,
        }));
    let _ = listing(&small, &f.experiment, ViewType::All);
    assert!(f.index_files().is_empty());
}

#[test]
fn streaming_hands_over_the_newest_runs_first_from_the_index() {
    let f = Fixture::new(300);
    std::thread::sleep(SETTLE);
    let (_, all) = same_both_ways(&f);
    let mut newest: Vec<(Option<i64>, String)> = all
        .iter()
        .map(|r| (r.info.start_time, r.info.run_id.clone()))
        .collect();
    newest.sort_by(|a, b| b.cmp(a));
    let store = f.indexed();
    let mut batches = Vec::new();
    store
        .stream_runs(&RunQuery::new([f.experiment.clone()]), &mut |batch| {
            batches.push(batch);
            true
        })
        .expect("stream");
    assert!(batches.len() >= 2, "{} batches", batches.len());
    let first: std::collections::BTreeSet<&str> = batches[0]
        .runs
        .iter()
        .map(|r| r.info.run_id.as_str())
        .collect();
    let expected: std::collections::BTreeSet<&str> = newest[..batches[0].runs.len()]
        .iter()
        .map(|(_, id)| id.as_str())
        .collect();
    assert_eq!(first, expected, "the first batch holds the newest runs");
    assert_eq!(batches.last().and_then(|b| b.progress), Some((300, 300)));
}

#[test]
fn sqlite_streams_the_same_runs_in_the_same_order_as_its_pages() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let db = tmp.path().join("mlflow.db");
    let store = mlscope::store::SqliteStore::open(&db).expect("open");
    let exp = store.create_experiment("s", None, &[]).expect("experiment");
    for i in 0..600 {
        let run = store
            .create_run(CreateRun {
                experiment_id: exp.clone(),
                user_id: "u".into(),
                // Ties on purpose: the order falls back to the run id.
                start_time: Some(1_700_000_000_000 + (i / 3) as i64),
                tags: vec![RunTag::new("i", i.to_string())],
                run_name: None,
            })
            .expect("run");
        store
            .log_batch(
                &run.info.run_id,
                &[Metric::new("m", i as f64, 1, 0)],
                &[Param::new("p", i.to_string())],
                &[],
            )
            .expect("log");
    }
    for filter in ["", "metrics.m < 100", "params.p = '7'"] {
        let mut query = RunQuery::new([exp.clone()]);
        query.filter = filter.into();
        query.max_results = 50;
        let mut paged = Vec::new();
        loop {
            let page = store.search_runs(&query).expect("search");
            paged.extend(page.items);
            match page.next_page_token {
                Some(t) => query.page_token = Some(t),
                None => break,
            }
        }
        let mut streamed = Vec::new();
        let mut batches = 0;
        query.page_token = None;
        store
            .stream_runs(&query, &mut |batch| {
                assert!(batch.ordered);
                batches += 1;
                streamed.extend(batch.runs);
                true
            })
            .expect("stream");
        assert_eq!(streamed, paged, "filter {filter:?}");
        if filter.is_empty() {
            assert!(batches >= 2, "600 runs in {batches} batches");
        }
    }
}

/// Entries of the index file (`SELECT count(*) FROM runs`).
fn index_entries(f: &Fixture) -> i64 {
    let files = f.index_files();
    assert_eq!(files.len(), 1, "one index file");
    let conn = rusqlite::Connection::open(&files[0]).expect("open index");
    conn.query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
        .expect("count")
}

#[test]
fn a_stream_stopped_after_its_first_batch_leaves_the_rest_in_the_index() {
    // The index hands runs over a batch at a time: a stream stopped early took only its first
    // batch from it; a full listing on the same store afterwards still sees every run, from
    // the index, and the same as without it.
    let f = Fixture::new(300);
    std::thread::sleep(SETTLE);
    let (_, expected) = same_both_ways(&f);
    let store = f.indexed();
    let mut first = 0;
    store
        .stream_runs(&RunQuery::new([f.experiment.clone()]), &mut |batch| {
            first = batch.runs.len();
            false
        })
        .expect("stream");
    assert!(first > 0 && first < 300, "first batch of {first} runs");
    assert_eq!(store.runs_reused(), first as u64, "only the first batch");
    assert_eq!(listing(&store, &f.experiment, ViewType::All).0, expected);
    assert_eq!(store.runs_reused(), first as u64 + 300);
    assert_eq!(index_entries(&f), 300);
}

#[test]
fn runs_removed_before_they_were_taken_from_the_index_are_forgotten_by_it() {
    let f = Fixture::new(12);
    std::thread::sleep(SETTLE);
    let (_, runs) = same_both_ways(&f);
    assert_eq!(index_entries(&f), 12);
    // Removed underneath while no store had them in memory.
    for run in &runs[..3] {
        fs::remove_dir_all(f.run_dir(&run.info.run_id)).expect("remove run folder");
    }
    let (store, now) = same_both_ways(&f);
    assert_eq!(now.len(), 9);
    assert!(store.runs_reused() >= 9);
    assert_eq!(index_entries(&f), 9, "the removed runs left the index");
}

#[test]
fn a_second_experiment_is_taken_from_the_index_only_when_listed() {
    let f = Fixture::new(6);
    let writer = f.plain();
    let other = writer
        .create_experiment("scale-index-other", None, &[])
        .expect("experiment");
    let g = Fixture {
        _tmp: tempfile::tempdir().expect("unused temp dir"),
        root: f.root.clone(),
        index_dir: f.index_dir.clone(),
        experiment: other.clone(),
    };
    let added: Vec<String> = (0..4).map(|i| g.add_run(&writer, 50 + i)).collect();
    std::thread::sleep(SETTLE);
    // One listing of both experiments writes every run into the index.
    let both = f.indexed();
    let mut query = RunQuery::new([f.experiment.clone(), other.clone()]);
    query.max_results = 100;
    assert_eq!(both.search_runs(&query).expect("search").items.len(), 10);
    assert_eq!(index_entries(&f), 10);
    // A new store lists the first experiment: the other's runs stay in the index untouched.
    let store = f.indexed();
    let _ = listing(&store, &f.experiment, ViewType::All);
    assert_eq!(store.runs_reused(), 6);
    assert_eq!(index_entries(&f), 10);
    // The other experiment changes underneath, then the same store lists it.
    writer
        .set_tag(&added[0], &RunTag::new("late", "yes"))
        .expect("tag");
    fs::remove_dir_all(g.run_dir(&added[1])).expect("remove run folder");
    let (with, _) = listing(&store, &other, ViewType::All);
    let (without, _) = listing(&f.plain(), &other, ViewType::All);
    assert_eq!(with, without);
    assert_eq!(with.len(), 3);
    assert_eq!(tag(&with, &added[0], "late"), Some("yes"));
    assert_eq!(
        store.runs_reused(),
        6 + 2,
        "the two unchanged runs of the other experiment"
    );
    // The removed run left the index, and so did the one just tagged (too fresh to keep).
    assert_eq!(index_entries(&f), 8);
}

#[test]
fn an_index_damaged_past_its_first_pages_is_rebuilt() {
    // The index is not checked whole when opened (that would read all of it before the first
    // batch): damage met by a later statement deletes it, and the next listing writes it anew.
    let f = Fixture::new(60);
    std::thread::sleep(SETTLE);
    let (_, expected) = same_both_ways(&f);
    let files = f.index_files();
    assert_eq!(files.len(), 1);
    let len = fs::metadata(&files[0]).expect("stat index").len();
    assert!(len > 6 * 4096, "index of {len} bytes");
    // Its schema and meta pages stay, the runs' pages are cut off.
    let file = OpenOptions::new()
        .write(true)
        .open(&files[0])
        .expect("open index");
    file.set_len(6 * 4096).expect("truncate");
    drop(file);
    let (_, runs) = same_both_ways(&f);
    assert_eq!(runs, expected);
    let (store, runs) = same_both_ways(&f);
    assert_eq!(runs, expected);
    assert!(store.runs_reused() >= 60, "reused {}", store.runs_reused());
}
