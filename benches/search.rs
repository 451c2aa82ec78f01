//! Filtered and ordered `search_runs` over a 5,000-run store, on both backends.
//!
//! ```sh
//! cargo bench --bench search                        # 5,000 runs
//! MLSCOPE_BENCH_RUNS=20000 cargo bench --bench search
//! scripts/search_bench_mlflow.sh                    # the same, then real MLflow on the same stores
//! ```
//!
//! The store is written once with mlscope's own writer, on both backends, in experiment
//! `perf-large` (the shape of `gen_mlflow_fixtures.py --scale large`): per run 20 params (`p0` =
//! the index, `p1` cycling `x y z w`, the rest random), 10 metrics of `MLSCOPE_BENCH_STEPS`
//! (default 3) steps each, `m0` ending at a value uniform in [0, 1), every 17th run FAILED. It is
//! cached under `$MLSCOPE_BENCH_DIR` (default `target/mlscope-bench`) in a directory named after
//! its size, so later runs only search. Then, on each backend, with a freshly opened store per
//! repetition:
//!
//! * `first page`: `metrics.m0 > 0.5 and params.p1 = 'x'`, order by `metrics.m0 DESC`,
//!   `max_results = 100`;
//! * `all pages`: the same query, following page tokens to the end (pages of 100).
//!
//! Prints the median and best of `MLSCOPE_BENCH_REPS` (default 5) repetitions, and writes them
//! with the store paths to `<cache dir>/results.json` (read by `scripts/search_bench_mlflow.sh`).
//! Both backends must return the same runs (checked).
//!
//! Without `--bench` (i.e. under `cargo test --all-targets`, as in CI) it is a quick smoke test
//! instead: 60 runs in a temporary directory, pages of 5, one repetition, nothing cached or
//! written.

mod common;
use common::{Rng, env_usize};

use std::path::{Path, PathBuf};
use std::time::Instant;

use mlscope::store::SqliteStore;
use mlscope::{
    CreateRun, FileStore, Metric, Param, RunQuery, RunStatus, RunTag, TrackingStore, ViewType,
};

const FILTER: &str = "metrics.m0 > 0.5 and params.p1 = 'x'";
const ORDER: &str = "metrics.m0 DESC";
const EXPERIMENT: &str = "perf-large";
/// Page size of the benchmark (`cargo test` smoke runs use pages of 5 over 60 runs).
const PAGE: usize = 100;
const SMOKE_PAGE: usize = 5;
const SMOKE_RUNS: usize = 60;
const T0: i64 = 1_700_000_000_000 + 10 * 24 * 3600 * 1000;

struct Shape {
    runs: usize,
    params: usize,
    metrics: usize,
    steps: usize,
}

impl Shape {
    fn key(&self) -> String {
        format!(
            "search-{}r-{}p-{}m-{}s",
            self.runs, self.params, self.metrics, self.steps
        )
    }
}

/// Writes the benchmark experiment into `store`.
fn populate(store: &dyn TrackingStore, shape: &Shape) {
    let exp = store
        .create_experiment(
            EXPERIMENT,
            None,
            &[(
                "mlflow.note.content".to_string(),
                format!(
                    "{} runs x {} params x {} metrics x {} steps (mlscope benches/search.rs)",
                    shape.runs, shape.params, shape.metrics, shape.steps
                ),
            )],
        )
        .expect("create experiment");
    let mut rng = Rng(0x5EED_0000_0000_0001);
    let p1 = ["x", "y", "z", "w"];
    let started = Instant::now();
    for i in 0..shape.runs {
        let start = T0 + 60_000 * i as i64;
        let run = store
            .create_run(CreateRun {
                experiment_id: exp.clone(),
                user_id: "bench".into(),
                start_time: Some(start),
                tags: vec![
                    RunTag::new("perf.index", i.to_string()),
                    RunTag::new("perf.group", format!("g{}", i % 10)),
                ],
                run_name: Some(format!("perf-{i:05}")),
            })
            .expect("create run");
        let id = &run.info.run_id;
        let mut params = vec![Param::new("p0", i.to_string()), Param::new("p1", p1[i % 4])];
        for j in 2..shape.params {
            params.push(Param::new(
                format!("p{j}"),
                format!("v{j}_{}", rng.next() % 1000),
            ));
        }
        let m0_final = rng.unit();
        let mut metrics = Vec::with_capacity(shape.metrics * shape.steps);
        for k in 0..shape.metrics {
            for s in 0..shape.steps {
                let value = if k == 0 {
                    // Linear from m0_final + 0.5 down to exactly m0_final.
                    let left = (shape.steps - 1 - s) as f64 / (shape.steps.max(2) - 1) as f64;
                    m0_final + 0.5 * left
                } else {
                    (-(s as f64) / (10.0 + k as f64)).exp() + 0.01 * rng.unit()
                };
                let ts = start + 1000 + (s * shape.metrics + k) as i64;
                metrics.push(Metric::new(format!("m{k}"), value, ts, s as i64));
            }
        }
        for chunk in metrics.chunks(1000) {
            store.log_batch(id, chunk, &[], &[]).expect("log metrics");
        }
        store.log_batch(id, &[], &params, &[]).expect("log params");
        let status = if i % 17 == 0 {
            RunStatus::Failed
        } else {
            RunStatus::Finished
        };
        let end = start + 1000 + (shape.metrics * shape.steps) as i64 + 50;
        store
            .update_run_info(id, Some(status), Some(end), None)
            .expect("terminate run");
        if (i + 1) % 1000 == 0 {
            eprintln!(
                "  {} runs written in {:.1} s",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
}

/// The cached store directory for `shape` under `base`, built (both backends) when missing.
fn ensure_stores(base: &Path, shape: &Shape) -> PathBuf {
    let dir = base.join(shape.key());
    if dir.join("complete").exists() {
        return dir;
    }
    let staging = base.join(format!("{}.building-{}", shape.key(), std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).expect("create bench dir");
    for backend in ["file", "sqlite"] {
        eprintln!(
            "writing the {backend} store ({} runs) into {} …",
            shape.runs,
            staging.display()
        );
        let t = Instant::now();
        let store: Box<dyn TrackingStore> = if backend == "file" {
            Box::new(FileStore::open(&staging.join("file/mlruns")).expect("file store"))
        } else {
            let root = staging.join("sqlite/artifacts");
            Box::new(
                SqliteStore::open_with_artifact_root(
                    &staging.join("sqlite/mlflow.db"),
                    &root.to_string_lossy(),
                )
                .expect("sqlite store"),
            )
        };
        populate(store.as_ref(), shape);
        eprintln!("  done in {:.1} s", t.elapsed().as_secs_f64());
    }
    std::fs::write(staging.join("complete"), b"").expect("mark complete");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&staging, &dir).expect("move bench store into place");
    dir
}

fn open(backend: &str, dir: &Path) -> Box<dyn TrackingStore> {
    if backend == "file" {
        Box::new(FileStore::open(&dir.join("file/mlruns")).expect("open file store"))
    } else {
        Box::new(SqliteStore::open_read_only(&dir.join("sqlite/mlflow.db")).expect("open db"))
    }
}

fn query(experiment_id: &str, page_token: Option<String>, page: usize) -> RunQuery {
    RunQuery {
        experiment_ids: vec![experiment_id.to_string()],
        filter: FILTER.into(),
        view_type: ViewType::ActiveOnly,
        max_results: page,
        order_by: vec![ORDER.into()],
        page_token,
    }
}

/// One timed search: (seconds, rows returned, first run name).
fn first_page(dir: &Path, backend: &str, page: usize) -> (f64, usize, String) {
    let t = Instant::now();
    let store = open(backend, dir);
    let exp = store
        .get_experiment_by_name(EXPERIMENT)
        .expect("experiment")
        .expect("perf-large exists");
    let page = store
        .search_runs(&query(&exp.experiment_id, None, page))
        .expect("search");
    let secs = t.elapsed().as_secs_f64();
    assert!(page.warnings.is_empty(), "{:?}", page.warnings);
    let first = page
        .items
        .first()
        .map(|r| r.info.run_name.clone())
        .unwrap_or_default();
    (secs, page.items.len(), first)
}

fn all_pages(dir: &Path, backend: &str, page: usize) -> (f64, usize, String) {
    let t = Instant::now();
    let store = open(backend, dir);
    let exp = store
        .get_experiment_by_name(EXPERIMENT)
        .expect("experiment")
        .expect("perf-large exists");
    let mut token = None;
    let mut rows = 0;
    let mut last = String::new();
    loop {
        let page = store
            .search_runs(&query(&exp.experiment_id, token, page))
            .expect("search");
        rows += page.items.len();
        if let Some(r) = page.items.last() {
            last = r.info.run_name.clone();
        }
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    (t.elapsed().as_secs_f64(), rows, last)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this without it.
    let bench = std::env::args().any(|a| a == "--bench");
    let shape = Shape {
        runs: if bench {
            env_usize("MLSCOPE_BENCH_RUNS", 5000)
        } else {
            SMOKE_RUNS
        },
        params: env_usize("MLSCOPE_BENCH_PARAMS", 20).max(2),
        metrics: env_usize("MLSCOPE_BENCH_METRICS", 10).max(1),
        steps: env_usize("MLSCOPE_BENCH_STEPS", 3).max(1),
    };
    let reps = if bench {
        env_usize("MLSCOPE_BENCH_REPS", 5).max(1)
    } else {
        1
    };
    let smoke_dir = (!bench).then(|| tempfile::tempdir().expect("temp dir"));
    let base = match &smoke_dir {
        Some(tmp) => tmp.path().to_path_buf(),
        None => std::env::var_os("MLSCOPE_BENCH_DIR")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("CARGO_TARGET_DIR").map(|t| Path::new(&t).join("mlscope-bench"))
            })
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/mlscope-bench")),
    };
    let page = if bench { PAGE } else { SMOKE_PAGE };
    let dir = ensure_stores(&base, &shape);
    println!(
        "search_runs over {} runs ({} params, {} metrics x {} steps), store {}",
        shape.runs,
        shape.params,
        shape.metrics,
        shape.steps,
        dir.display()
    );
    println!(
        "filter: {FILTER}   order_by: {ORDER}   pages of {page}   (median / best of {reps}, store opened each time)"
    );
    let mut results = Vec::new();
    for backend in ["file", "sqlite"] {
        for (name, f) in [
            (
                "first_page",
                first_page as fn(&Path, &str, usize) -> (f64, usize, String),
            ),
            ("all_pages", all_pages),
        ] {
            let mut times = Vec::new();
            let mut rows = 0;
            let mut marker = String::new();
            for _ in 0..reps {
                let (secs, n, m) = f(&dir, backend, page);
                times.push(secs);
                rows = n;
                marker = m;
            }
            let best = times.iter().copied().fold(f64::MAX, f64::min);
            let med = median(times);
            println!(
                "{backend:>7} {name:<11} {:>9.1} ms  (best {:>8.1} ms)  {rows} runs, edge run {marker}",
                med * 1e3,
                best * 1e3
            );
            results.push(serde_json::json!({
                "backend": backend, "case": name, "median_s": med, "best_s": best,
                "rows": rows, "edge_run": marker,
            }));
        }
    }
    for case in ["first_page", "all_pages"] {
        let rows = |backend: &str| {
            results
                .iter()
                .find(|r| r["backend"] == backend && r["case"] == case)
                .map(|r| (r["rows"].clone(), r["edge_run"].clone()))
        };
        assert_eq!(
            rows("file"),
            rows("sqlite"),
            "{case}: the backends disagree"
        );
    }
    if !bench {
        println!("(smoke test: run `cargo bench --bench search` for the benchmark)");
        return;
    }
    let out = serde_json::json!({
        "runs": shape.runs,
        "filter": FILTER,
        "order_by": ORDER,
        "page_size": page,
        "file_store": dir.join("file/mlruns"),
        "sqlite_db": dir.join("sqlite/mlflow.db"),
        "results": results,
    });
    std::fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(&out).expect("json"),
    )
    .expect("write results.json");
    println!("results: {}", dir.join("results.json").display());
}
