//! Scale of the data layer (issue 7): opening large stores and listing every run, filtered
//! search, a 1M-point history, with the peak memory of each measurement.
//!
//! ```sh
//! cargo bench --bench scale                                   # 1k, 5k and 10k runs
//! MLSCOPE_SCALE_SIZES=5000 cargo bench --bench scale          # one size
//! MLSCOPE_SCALE_DIR=/tmp/mlscope-scale cargo bench --bench scale
//! scripts/scale_bench_mlflow.sh                               # the same, then real MLflow
//! ```
//!
//! Stores are written once with mlscope's own writer, on both backends, and cached under
//! `$MLSCOPE_SCALE_DIR` (default `target/mlscope-scale`) in folders named after their shape:
//! experiment `scale`, per run 20 params (`p0` = the index, `p1` cycling `x y z w`, the rest
//! random), 5 tags, 10 metrics of 100 steps (`MLSCOPE_SCALE_STEPS`), every 17th run FAILED. One
//! more store per backend holds a single run with a 1,000,000-point metric `loss`
//! (`MLSCOPE_SCALE_POINTS`).
//!
//! Every measurement runs in a child process of its own (this binary again, with
//! `MLSCOPE_SCALE_CHILD` set), so that its peak memory (`VmHWM` of `/proc/self/status`) is its own
//! and no cache is shared between measurements (the OS page cache is: the stores are "warm" on
//! disk, as after any previous use):
//!
//! * `list`: open the store, list every active run of the experiment with its params, tags and
//!   latest metrics through `search_runs` pages of 1,000 (MLflow's default and the page size of
//!   `mlflow.search_runs`); the first page and all pages are timed, then all pages again on the
//!   same open store (what paging back and forth or a refresh costs);
//! * `filter`: open, `metrics.m0 > 0.5 and params.p1 = 'x'` ordered by `metrics.m0 DESC`, all
//!   pages of 1,000;
//! * `history`: open, `get_metric_history` of the 1M-point metric;
//! * `index` (issue 18, file stores): the `list` measurement through the persistent run index
//!   (`store::index`, kept in `$MLSCOPE_SCALE_DIR/index`): once with no index (it is written:
//!   "cold"), then with it ("warm", the median of the repetitions);
//! * `cli`: the `mlscope runs <store> --experiment-name scale --format csv` full listing (every
//!   run with all its params, tags and latest metrics) written to `/dev/null`, with and without
//!   the index (the binary of `$MLSCOPE_BIN`, default `target/release/mlscope`; skipped when
//!   missing: `cargo build --release` first).
//!
//! `MLSCOPE_SCALE_KINDS` (comma-separated, default `list,filter,index,cli`) picks measurements;
//! `MLSCOPE_SCALE_BACKENDS` (comma-separated, default `file,sqlite`) picks the stores (a
//! 100,000-run file store and its SQLite twin do not fit on a small disk at once).
//! `MLSCOPE_SCALE_SQLITE_WRITER=bulk` writes SQLite stores with bulk INSERTs into MLflow's schema
//! (100,000 runs: 100 million metric rows) instead of mlscope's writer, after checking on a
//! 40-run store written both ways that the rows are the same (kept in `bulk-check/`).
//!
//! Prints one markdown table and writes `results.json` (store paths and timings, read by
//! `scripts/scale_bench_mlflow.sh`). Without `--bench` (under `cargo test --all-targets`) it
//! returns at once.

mod common;
use common::{Rng, env_usize};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use mlscope::store::SqliteStore;
use mlscope::store::index::IndexOptions;
use mlscope::{
    CreateRun, FileStore, Metric, Param, RunQuery, RunStatus, RunTag, TrackingStore, ViewType,
};

const EXPERIMENT: &str = "scale";
const HISTORY_EXPERIMENT: &str = "scale-history";
const FILTER: &str = "metrics.m0 > 0.5 and params.p1 = 'x'";
const ORDER: &str = "metrics.m0 DESC";
const PAGE: usize = 1000;
const PARAMS: usize = 20;
const METRICS: usize = 10;
const T0: i64 = 1_700_000_000_000;

#[derive(Clone, Copy, PartialEq)]
enum Backend {
    File,
    Sqlite,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::File => "file",
            Backend::Sqlite => "sqlite",
        }
    }
    fn parse(s: &str) -> Backend {
        if s == "sqlite" {
            Backend::Sqlite
        } else {
            Backend::File
        }
    }
}

/// Where a store of `runs` runs lives (file: the `mlruns` folder; SQLite: the `.db` file).
fn store_path(dir: &Path, backend: Backend, runs: usize, steps: usize) -> PathBuf {
    let base = dir.join(format!("scale-{runs}r-{PARAMS}p-{METRICS}m-{steps}s"));
    match backend {
        Backend::File => base.join("mlruns"),
        Backend::Sqlite => base.join("mlflow.db"),
    }
}

fn history_path(dir: &Path, backend: Backend, points: usize) -> PathBuf {
    let base = dir.join(format!("history-{points}"));
    match backend {
        Backend::File => base.join("mlruns"),
        Backend::Sqlite => base.join("mlflow.db"),
    }
}

/// The bench's index folder (`$MLSCOPE_SCALE_DIR/index`), passed to children.
fn index_options() -> Option<IndexOptions> {
    std::env::var_os("MLSCOPE_SCALE_INDEX").map(|dir| IndexOptions {
        dir: PathBuf::from(dir),
        min_runs: mlscope::store::index::DEFAULT_MIN_RUNS,
    })
}

fn open(backend: Backend, path: &Path) -> Box<dyn TrackingStore> {
    match backend {
        Backend::File => Box::new(
            FileStore::open(path)
                .expect("open file store")
                .with_index(index_options()),
        ),
        Backend::Sqlite => {
            let artifacts = path.with_file_name("artifacts");
            Box::new(
                SqliteStore::open_with_artifact_root(path, &artifacts.display().to_string())
                    .expect("open SQLite store"),
            )
        }
    }
}

fn experiment_id(store: &dyn TrackingStore, name: &str) -> String {
    store
        .get_experiment_by_name(name)
        .expect("find experiment")
        .expect("experiment exists")
        .experiment_id
}

/// One run of a scale store: the same content whichever writer writes it.
struct RunContent {
    name: String,
    start: i64,
    tags: Vec<RunTag>,
    params: Vec<Param>,
    metrics: Vec<Metric>,
    status: RunStatus,
    end: i64,
}

/// The content of run `i` (`rng` is shared by the runs of a store, in order).
fn run_content(i: usize, steps: usize, rng: &mut Rng) -> RunContent {
    let p1 = ["x", "y", "z", "w"];
    let start = T0 + 60_000 * i as i64;
    let tags = vec![
        RunTag::new("scale.index", i.to_string()),
        RunTag::new("scale.group", format!("g{}", i % 10)),
        RunTag::new("mlflow.source.name", "train.py"),
        RunTag::new("mlflow.source.type", "LOCAL"),
    ];
    let mut params = vec![Param::new("p0", i.to_string()), Param::new("p1", p1[i % 4])];
    for j in 2..PARAMS {
        params.push(Param::new(
            format!("p{j}"),
            format!("v{j}_{}", rng.next() % 1000),
        ));
    }
    let m0_final = rng.unit();
    let mut metrics = Vec::with_capacity(METRICS * steps);
    for s in 0..steps {
        for k in 0..METRICS {
            let value = if k == 0 {
                let left = (steps - 1 - s) as f64 / (steps.max(2) - 1) as f64;
                m0_final + 0.5 * left
            } else {
                (-(s as f64) / (10.0 + k as f64)).exp() + 0.01 * rng.unit()
            };
            let ts = start + 1000 + (s * METRICS + k) as i64;
            metrics.push(Metric::new(format!("m{k}"), value, ts, s as i64));
        }
    }
    let status = if i.is_multiple_of(17) {
        RunStatus::Failed
    } else {
        RunStatus::Finished
    };
    RunContent {
        name: format!("scale-{i:05}"),
        start,
        tags,
        params,
        metrics,
        status,
        end: start + 50_000,
    }
}

/// Which writer makes SQLite stores: mlscope's own (`TrackingStore` calls, one transaction per
/// call, as a training script would) or, with `MLSCOPE_SCALE_SQLITE_WRITER=bulk`, bulk INSERTs
/// into MLflow's schema in transactions of 1,000 runs (for 100,000-run stores: the library
/// writes ~1,000 metric rows a run in its own durable transaction).
fn sqlite_bulk_writer() -> bool {
    std::env::var("MLSCOPE_SCALE_SQLITE_WRITER").is_ok_and(|w| w == "bulk")
}

/// Writes a `runs`-run store unless a complete one is there (a `.done` marker beside it).
fn ensure_store(dir: &Path, backend: Backend, runs: usize, steps: usize) -> PathBuf {
    let path = store_path(dir, backend, runs, steps);
    let done = path.with_extension("done");
    if done.exists() {
        return path;
    }
    let parent = path.parent().expect("store has a parent folder");
    let _ = std::fs::remove_dir_all(&path);
    let _ = std::fs::remove_file(&path);
    std::fs::create_dir_all(parent).expect("create bench folder");
    let started = Instant::now();
    if backend == Backend::Sqlite && sqlite_bulk_writer() {
        check_bulk_writer(dir);
        write_sqlite_bulk(&path, runs, steps);
    } else {
        write_with_library(backend, &path, runs, steps);
    }
    std::fs::write(&done, b"").expect("write marker");
    eprintln!(
        "wrote {} store of {runs} runs in {:.1} s: {}",
        backend.name(),
        started.elapsed().as_secs_f64(),
        path.display()
    );
    path
}

fn progress(written: usize, started: Instant) {
    if written.is_multiple_of(10_000) {
        eprintln!(
            "  {written} runs written in {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
}

/// Writes the store at `path` with mlscope's own writer (`TrackingStore` calls).
fn write_with_library(backend: Backend, path: &Path, runs: usize, steps: usize) {
    let started = Instant::now();
    let store = open(backend, path);
    let exp = store
        .create_experiment(EXPERIMENT, None, &[])
        .expect("create experiment");
    let mut rng = Rng(0x5CA1_E000_0000_0001);
    for i in 0..runs {
        let content = run_content(i, steps, &mut rng);
        let run = store
            .create_run(CreateRun {
                experiment_id: exp.clone(),
                user_id: "bench".into(),
                start_time: Some(content.start),
                tags: content.tags,
                run_name: Some(content.name),
            })
            .expect("create run");
        let id = &run.info.run_id;
        store
            .log_batch(id, &[], &content.params, &[])
            .expect("log params");
        for chunk in content.metrics.chunks(1000) {
            store.log_batch(id, chunk, &[], &[]).expect("log metrics");
        }
        store
            .update_run_info(id, Some(content.status), Some(content.end), None)
            .expect("end run");
        progress(i + 1, started);
    }
}

/// Writes the SQLite store at `path` with bulk INSERTs: the schema and the experiment through
/// mlscope's writer, then every run's rows as mlscope's (and MLflow's) `create_run`,
/// `log_batch` and `update_run_info` leave them (`check_bulk_writer` compares the two), in
/// transactions of 1,000 runs with `synchronous = OFF` (a crash leaves no `.done` marker).
fn write_sqlite_bulk(path: &Path, runs: usize, steps: usize) {
    let started = Instant::now();
    let exp = open(Backend::Sqlite, path)
        .create_experiment(EXPERIMENT, None, &[])
        .expect("create experiment");
    let exp: i64 = exp.parse().expect("SQLite experiment ids are numbers");
    let mut conn = rusqlite::Connection::open(path).expect("open SQLite store");
    conn.execute_batch(
        "PRAGMA synchronous = OFF; PRAGMA journal_mode = MEMORY; PRAGMA cache_size = -512000;",
    )
    .expect("bulk pragmas");
    let location: String = conn
        .query_row(
            "SELECT artifact_location FROM experiments WHERE experiment_id = ?1",
            [exp],
            |r| r.get(0),
        )
        .expect("experiment's artifact location");
    // The metrics table's secondary indexes (by run) are made after the rows: built by sorting
    // they take less time and less space (full pages) than grown by 100 million inserts.
    let secondary: Vec<(String, String)> = {
        let mut statement = conn
            .prepare(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' \
                 AND tbl_name = 'metrics' AND sql IS NOT NULL",
            )
            .expect("list metric indexes");
        statement
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("list metric indexes")
            .collect::<Result<_, _>>()
            .expect("read metric indexes")
    };
    for (name, _) in &secondary {
        conn.execute_batch(&format!("DROP INDEX \"{name}\""))
            .expect("drop metric index");
    }
    let mut rng = Rng(0x5CA1_E000_0000_0001);
    let mut i = 0;
    while i < runs {
        let tx = conn.transaction().expect("begin");
        {
            let mut run_row = tx
                .prepare_cached(
                    "INSERT INTO runs (run_uuid, name, source_type, source_name, \
                     entry_point_name, user_id, status, start_time, end_time, source_version, \
                     lifecycle_stage, artifact_uri, experiment_id, deleted_time) VALUES \
                     (?1, ?2, 'UNKNOWN', '', '', 'bench', ?3, ?4, ?5, '', 'active', ?6, ?7, NULL)",
                )
                .expect("prepare runs");
            let mut tag_row = tx
                .prepare_cached("INSERT INTO tags (\"key\", value, run_uuid) VALUES (?1, ?2, ?3)")
                .expect("prepare tags");
            let mut param_row = tx
                .prepare_cached("INSERT INTO params (\"key\", value, run_uuid) VALUES (?1, ?2, ?3)")
                .expect("prepare params");
            let mut metric_row = tx
                .prepare_cached(
                    "INSERT INTO metrics (\"key\", value, timestamp, run_uuid, step, is_nan) \
                     VALUES (?1, ?2, ?3, ?4, ?5, 0)",
                )
                .expect("prepare metrics");
            let mut latest_row = tx
                .prepare_cached(
                    "INSERT INTO latest_metrics (\"key\", value, timestamp, step, is_nan, \
                     run_uuid) VALUES (?1, ?2, ?3, ?4, 0, ?5)",
                )
                .expect("prepare latest metrics");
            let end = (i + 1000).min(runs);
            for n in i..end {
                let content = run_content(n, steps, &mut rng);
                let id = uuid::Uuid::new_v4().simple().to_string();
                let artifact_uri = format!("{}/{id}/artifacts", location.trim_end_matches('/'));
                run_row
                    .execute(rusqlite::params![
                        id,
                        content.name,
                        content.status.as_str(),
                        content.start,
                        content.end,
                        artifact_uri,
                        exp
                    ])
                    .expect("insert run");
                for tag in content
                    .tags
                    .iter()
                    .chain([&RunTag::new("mlflow.runName", content.name.clone())])
                {
                    tag_row
                        .execute(rusqlite::params![tag.key, tag.value, id])
                        .expect("insert tag");
                }
                for p in &content.params {
                    param_row
                        .execute(rusqlite::params![p.key, p.value, id])
                        .expect("insert param");
                }
                // MLflow's latest value: greatest (step, timestamp, value); the values here
                // are finite (no NaN/inf rewriting needed).
                let mut latest: std::collections::BTreeMap<&str, &Metric> = Default::default();
                for m in &content.metrics {
                    metric_row
                        .execute(rusqlite::params![m.key, m.value, m.timestamp, id, m.step])
                        .expect("insert metric");
                    let newer = latest.get(m.key.as_str()).is_none_or(|l| {
                        (m.step, m.timestamp) > (l.step, l.timestamp)
                            || ((m.step, m.timestamp) == (l.step, l.timestamp) && m.value > l.value)
                    });
                    if newer {
                        latest.insert(&m.key, m);
                    }
                }
                for (key, m) in latest {
                    latest_row
                        .execute(rusqlite::params![key, m.value, m.timestamp, m.step, id])
                        .expect("insert latest metric");
                }
                progress(n + 1, started);
            }
            i = end;
        }
        tx.commit().expect("commit");
    }
    for (name, sql) in &secondary {
        let indexing = Instant::now();
        conn.execute_batch(sql).expect("recreate metric index");
        eprintln!(
            "  index {name} made in {:.0} s",
            indexing.elapsed().as_secs_f64()
        );
    }
}

/// Writes a small store with both SQLite writers (`$MLSCOPE_SCALE_DIR/bulk-check/`) and panics
/// unless their rows are the same (run ids aside): the bulk writer's stores are what mlscope's
/// writer would have written. The two stores are kept for a check with real MLflow.
fn check_bulk_writer(dir: &Path) {
    let check = dir.join("bulk-check");
    let _ = std::fs::remove_dir_all(&check);
    std::fs::create_dir_all(&check).expect("create bulk-check folder");
    let (runs, steps) = (40, 5);
    let library = check.join("library.db");
    let bulk = check.join("bulk.db");
    write_with_library(Backend::Sqlite, &library, runs, steps);
    write_sqlite_bulk(&bulk, runs, steps);
    // Every row of the run tables, the run id replaced by the run's name.
    let dump = |path: &Path| -> Vec<String> {
        let conn = rusqlite::Connection::open(path).expect("open check store");
        let mut rows = Vec::new();
        for (table, sql) in [
            (
                "runs",
                "SELECT name, source_type, source_name, entry_point_name, user_id, status, \
                 start_time, end_time, source_version, lifecycle_stage, \
                 replace(artifact_uri, run_uuid, '<id>'), experiment_id, deleted_time FROM runs",
            ),
            (
                "tags",
                "SELECT r.name, t.\"key\", t.value FROM tags t JOIN runs r USING (run_uuid)",
            ),
            (
                "params",
                "SELECT r.name, p.\"key\", p.value FROM params p JOIN runs r USING (run_uuid)",
            ),
            (
                "metrics",
                "SELECT r.name, m.\"key\", m.value, m.timestamp, m.step, m.is_nan \
                 FROM metrics m JOIN runs r USING (run_uuid)",
            ),
            (
                "latest_metrics",
                "SELECT r.name, m.\"key\", m.value, m.timestamp, m.step, m.is_nan \
                 FROM latest_metrics m JOIN runs r USING (run_uuid)",
            ),
        ] {
            let mut statement = conn.prepare(sql).expect("prepare dump");
            let columns = statement.column_count();
            let mut found = statement.query([]).expect("dump");
            while let Some(row) = found.next().expect("dump row") {
                let values: Vec<rusqlite::types::Value> =
                    (0..columns).map(|c| row.get(c).expect("column")).collect();
                rows.push(format!("{table} {values:?}"));
            }
        }
        let mut schema = conn
            .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master")
            .expect("prepare schema");
        let mut found = schema.query([]).expect("schema");
        while let Some(row) = found.next().expect("schema row") {
            let values: Vec<rusqlite::types::Value> =
                (0..4).map(|c| row.get(c).expect("column")).collect();
            rows.push(format!("schema {values:?}"));
        }
        drop(found);
        drop(schema);
        let runs_with_no_row = conn
            .query_row(
                "SELECT count(*) FROM (SELECT run_uuid FROM tags UNION SELECT run_uuid FROM \
                 params UNION SELECT run_uuid FROM metrics UNION SELECT run_uuid FROM \
                 latest_metrics) WHERE run_uuid NOT IN (SELECT run_uuid FROM runs)",
                [],
                |r| r.get::<_, i64>(0),
            )
            .expect("orphan rows");
        assert_eq!(runs_with_no_row, 0, "rows of no run in {}", path.display());
        rows.sort();
        rows
    };
    let (a, b) = (dump(&library), dump(&bulk));
    let run_rows = a.iter().filter(|r| !r.starts_with("schema ")).count();
    assert_eq!(
        run_rows,
        runs * (1 + 5 + PARAMS + METRICS * steps + METRICS)
    );
    if let Some((x, y)) = a.iter().zip(&b).find(|(x, y)| x != y) {
        panic!("the bulk writer differs from mlscope's: {x} (library) vs {y} (bulk)");
    }
    assert_eq!(
        a.len(),
        b.len(),
        "the bulk writer wrote another number of rows"
    );
    eprintln!(
        "bulk SQLite writer checked against mlscope's: {} rows identical ({})",
        a.len(),
        check.display()
    );
}

fn ensure_history(dir: &Path, backend: Backend, points: usize) -> PathBuf {
    let path = history_path(dir, backend, points);
    let done = path.with_extension("done");
    if done.exists() {
        return path;
    }
    let _ = std::fs::remove_dir_all(&path);
    let _ = std::fs::remove_file(&path);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("create bench folder");
    let started = Instant::now();
    let store = open(backend, &path);
    let exp = store
        .create_experiment(HISTORY_EXPERIMENT, None, &[])
        .expect("create experiment");
    let run = store
        .create_run(CreateRun {
            experiment_id: exp,
            user_id: "bench".into(),
            start_time: Some(T0),
            tags: Vec::new(),
            run_name: Some("long".into()),
        })
        .expect("create run");
    let mut batch = Vec::with_capacity(1000);
    for s in 0..points {
        let value = 1.0 / (1.0 + s as f64 * 1e-4);
        batch.push(Metric::new("loss", value, T0 + s as i64, s as i64));
        if batch.len() == 1000 {
            store
                .log_batch(&run.info.run_id, &batch, &[], &[])
                .expect("log");
            batch.clear();
        }
    }
    if !batch.is_empty() {
        store
            .log_batch(&run.info.run_id, &batch, &[], &[])
            .expect("log");
    }
    std::fs::write(&done, b"").expect("write marker");
    eprintln!(
        "wrote {} store with a {points}-point metric in {:.1} s",
        backend.name(),
        started.elapsed().as_secs_f64()
    );
    path
}

/// Peak resident memory of this process so far, MiB (Linux; `None` elsewhere).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Pages through a query to the end; returns (first page s, all pages s, runs).
fn page_through(store: &dyn TrackingStore, mut query: RunQuery) -> (f64, f64, usize) {
    let started = Instant::now();
    let mut first = None;
    let mut n = 0;
    loop {
        let page = store.search_runs(&query).expect("search runs");
        first.get_or_insert(started.elapsed().as_secs_f64());
        n += page.items.len();
        std::hint::black_box(&page.items);
        match page.next_page_token {
            Some(t) => query.page_token = Some(t),
            None => break,
        }
    }
    (first.unwrap_or(0.0), started.elapsed().as_secs_f64(), n)
}

/// One measurement, in this (child) process; prints one JSON line.
fn child(spec: &str) {
    let parts: Vec<&str> = spec.split(':').collect();
    let (kind, backend, path) = (parts[0], Backend::parse(parts[1]), Path::new(parts[2]));
    let out = match kind {
        "list" | "filter" => {
            let started = Instant::now();
            let store = open(backend, path);
            let exp = experiment_id(store.as_ref(), EXPERIMENT);
            let mut query = RunQuery::new([exp]);
            query.max_results = PAGE;
            query.view_type = ViewType::ActiveOnly;
            if kind == "filter" {
                query.filter = FILTER.to_string();
                query.order_by = vec![ORDER.to_string()];
            }
            let opened = started.elapsed().as_secs_f64();
            let (first, all, n) = page_through(store.as_ref(), query.clone());
            let (_, again, n2) = page_through(store.as_ref(), query);
            assert_eq!(n, n2, "the second pass found other runs");
            serde_json::json!({
                "first_page_s": opened + first,
                "all_pages_s": opened + all,
                "again_s": again,
                "runs": n,
                "peak_mib": peak_rss_mib(),
            })
        }
        "history" => {
            let started = Instant::now();
            let store = open(backend, path);
            let exp = experiment_id(store.as_ref(), HISTORY_EXPERIMENT);
            let runs = store
                .search_runs(&RunQuery::new([exp]))
                .expect("search")
                .items;
            let id = &runs[0].info.run_id;
            let history = store.get_metric_history(id, "loss").expect("history");
            serde_json::json!({
                "load_s": started.elapsed().as_secs_f64(),
                "points": history.len(),
                "peak_mib": peak_rss_mib(),
            })
        }
        other => panic!("unknown measurement {other}"),
    };
    println!("{out}");
}

/// Runs one measurement in a child process and returns its JSON answer.
fn measure(kind: &str, backend: Backend, path: &Path) -> serde_json::Value {
    measure_with_index(kind, backend, path, None)
}

/// [`measure`], the child keeping its run index in `index` (none when `None`).
fn measure_with_index(
    kind: &str,
    backend: Backend,
    path: &Path,
    index: Option<&Path>,
) -> serde_json::Value {
    let exe = std::env::current_exe().expect("own path");
    let spec = format!("{kind}:{}:{}", backend.name(), path.display());
    let mut command = Command::new(exe);
    command
        .arg("--bench")
        .env("MLSCOPE_SCALE_CHILD", &spec)
        .env_remove("MLSCOPE_SCALE_INDEX");
    if let Some(index) = index {
        command.env("MLSCOPE_SCALE_INDEX", index);
    }
    let output = command.output().expect("run measurement");
    assert!(
        output.status.success(),
        "measurement {spec} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad answer {line:?}: {e}"))
}

/// The release `mlscope` binary (`$MLSCOPE_BIN`, else `target/release/mlscope` of the target
/// folder), if it is there.
fn mlscope_bin() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("MLSCOPE_BIN") {
        return Some(PathBuf::from(bin));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let bin = target.join("release").join("mlscope");
    bin.is_file().then_some(bin)
}

/// Seconds of one `mlscope runs` full listing (CSV of every run to `/dev/null`), with the run
/// index in `index` or none.
fn cli_listing(bin: &Path, uri: &str, index: Option<&PathBuf>) -> f64 {
    let mut command = Command::new(bin);
    command
        .args([
            "runs",
            uri,
            "--experiment-name",
            EXPERIMENT,
            "--format",
            "csv",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    match index {
        Some(dir) => command
            .env("MLSCOPE_INDEX_DIR", dir)
            .env_remove("MLSCOPE_NO_INDEX"),
        None => command.env("MLSCOPE_NO_INDEX", "1"),
    };
    let started = Instant::now();
    let status = command.status().expect("run mlscope");
    assert!(status.success(), "mlscope runs failed on {uri}");
    started.elapsed().as_secs_f64()
}

fn ms(v: &serde_json::Value) -> String {
    match v.as_f64() {
        Some(s) if s >= 10.0 => format!("{:.1} s", s),
        Some(s) => format!("{:.0} ms", s * 1000.0),
        None => "–".into(),
    }
}

fn mib(v: &serde_json::Value) -> String {
    v.as_f64().map_or("–".into(), |m| format!("{m:.0} MiB"))
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this without it.
    if !std::env::args().any(|a| a == "--bench") {
        println!("(run `cargo bench --bench scale` for the benchmark)");
        return;
    }
    if let Ok(spec) = std::env::var("MLSCOPE_SCALE_CHILD") {
        child(&spec);
        return;
    }
    let dir = std::env::var_os("MLSCOPE_SCALE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/mlscope-scale"));
    let dir = std::path::absolute(&dir).expect("absolute bench dir");
    let sizes: Vec<usize> = std::env::var("MLSCOPE_SCALE_SIZES")
        .unwrap_or_else(|_| "1000,5000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let steps = env_usize("MLSCOPE_SCALE_STEPS", 100);
    let points = env_usize("MLSCOPE_SCALE_POINTS", 1_000_000);
    let reps = env_usize("MLSCOPE_SCALE_REPS", 3).max(1);
    let kinds: Vec<String> = std::env::var("MLSCOPE_SCALE_KINDS")
        .unwrap_or_else(|_| "list,filter,index,cli".into())
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    let backends: Vec<Backend> = std::env::var("MLSCOPE_SCALE_BACKENDS")
        .unwrap_or_else(|_| "file,sqlite".into())
        .split(',')
        .map(|s| Backend::parse(s.trim()))
        .collect();
    let index_dir = dir.join("index");

    let mut rows = Vec::new();
    let mut results = serde_json::Map::new();
    let mut stores = Vec::new();
    for &runs in &sizes {
        for &backend in &backends {
            let path = ensure_store(&dir, backend, runs, steps);
            stores.push(serde_json::json!({
                "backend": backend.name(), "runs": runs, "path": path,
            }));
            for kind in ["list", "filter"] {
                if !kinds.iter().any(|k| k == kind) {
                    continue;
                }
                // Median of `reps` by all-pages time.
                let mut all: Vec<serde_json::Value> =
                    (0..reps).map(|_| measure(kind, backend, &path)).collect();
                all.sort_by(|a, b| {
                    a["all_pages_s"]
                        .as_f64()
                        .partial_cmp(&b["all_pages_s"].as_f64())
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
                let m = all[all.len() / 2].clone();
                rows.push(format!(
                    "| {} | {} | {runs} | {} | {} | {} | {} | {} |",
                    backend.name(),
                    if kind == "list" {
                        "list all runs"
                    } else {
                        "filtered search"
                    },
                    m["runs"],
                    ms(&m["first_page_s"]),
                    ms(&m["all_pages_s"]),
                    ms(&m["again_s"]),
                    mib(&m["peak_mib"]),
                ));
                results.insert(format!("{kind}-{}-{runs}", backend.name()), m);
            }
            if backend == Backend::File && kinds.iter().any(|k| k == "index") {
                // Cold: no index yet (this listing writes it); then warm from it.
                let _ = std::fs::remove_dir_all(&index_dir);
                let cold = measure_with_index("list", backend, &path, Some(&index_dir));
                let mut warm: Vec<serde_json::Value> = (0..reps)
                    .map(|_| measure_with_index("list", backend, &path, Some(&index_dir)))
                    .collect();
                warm.sort_by(|a, b| {
                    a["all_pages_s"]
                        .as_f64()
                        .partial_cmp(&b["all_pages_s"].as_f64())
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
                let warm = warm[warm.len() / 2].clone();
                for (what, m) in [("index cold (writes it)", &cold), ("index warm", &warm)] {
                    rows.push(format!(
                        "| file | list all runs, {what} | {runs} | {} | {} | {} | {} | {} |",
                        m["runs"],
                        ms(&m["first_page_s"]),
                        ms(&m["all_pages_s"]),
                        ms(&m["again_s"]),
                        mib(&m["peak_mib"]),
                    ));
                }
                results.insert(format!("index-cold-file-{runs}"), cold);
                results.insert(format!("index-warm-file-{runs}"), warm);
            }
            if kinds.iter().any(|k| k == "cli") {
                let Some(bin) = mlscope_bin() else {
                    eprintln!("no mlscope binary: `cargo build --release` (or set MLSCOPE_BIN)");
                    continue;
                };
                let uri = match backend {
                    Backend::File => path.display().to_string(),
                    Backend::Sqlite => format!("sqlite:///{}", path.display()),
                };
                let mut cells = Vec::new();
                for (what, index) in [("no index", None), ("index warm", Some(&index_dir))] {
                    if index.is_some() {
                        // Make sure the index exists (the first listing writes it).
                        cli_listing(&bin, &uri, index);
                    }
                    let mut times: Vec<f64> =
                        (0..reps).map(|_| cli_listing(&bin, &uri, index)).collect();
                    times.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
                    let t = times[times.len() / 2];
                    results.insert(
                        format!("cli-{}-{}-{runs}", what.replace(' ', "-"), backend.name()),
                        serde_json::json!({"all_pages_s": t}),
                    );
                    cells.push((what, t));
                }
                for (what, t) in cells {
                    rows.push(format!(
                        "| {} | CLI `mlscope runs --format csv`, {what} | {runs} | {runs} | – | {} | – | – |",
                        backend.name(),
                        ms(&serde_json::json!(t)),
                    ));
                }
            }
        }
    }
    let mut history_rows = Vec::new();
    let mut history_stores = Vec::new();
    if points > 0 {
        for backend in [Backend::File, Backend::Sqlite] {
            let path = ensure_history(&dir, backend, points);
            history_stores.push(serde_json::json!({"backend": backend.name(), "path": path}));
            let mut all: Vec<serde_json::Value> = (0..reps)
                .map(|_| measure("history", backend, &path))
                .collect();
            all.sort_by(|a, b| {
                a["load_s"]
                    .as_f64()
                    .partial_cmp(&b["load_s"].as_f64())
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            let m = all[all.len() / 2].clone();
            history_rows.push(format!(
                "| {} | 1M-point history | 1 | {} points | {} | – | – | {} |",
                backend.name(),
                m["points"],
                ms(&m["load_s"]),
                mib(&m["peak_mib"]),
            ));
            results.insert(format!("history-{}", backend.name()), m);
        }
    }

    println!(
        "\n{} params x {} metrics x {steps} steps per run, pages of {PAGE}, median of {reps}, \
         one process per measurement\n",
        PARAMS, METRICS
    );
    println!(
        "| backend | measurement | runs in store | runs returned | open + first page | open + all pages | all pages again | peak RSS |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for row in rows.iter().chain(&history_rows) {
        println!("{row}");
    }
    let json = serde_json::json!({
        "stores": stores,
        "history_stores": history_stores,
        "filter": FILTER,
        "order_by": ORDER,
        "page_size": PAGE,
        "experiment": EXPERIMENT,
        "history_experiment": HISTORY_EXPERIMENT,
        "results": results,
    });
    let path = dir.join("results.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&json).expect("json")).expect("write results");
    println!("\nresults: {}", path.display());
}
