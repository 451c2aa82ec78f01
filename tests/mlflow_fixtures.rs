//! mlscope reads the stores real MLflow wrote (tests/fixtures/, made by scripts/gen-fixtures.sh)
//! exactly as MLflow itself reads them (`expected.json`, from scripts/mlflow_read_check.py), and
//! survives damaged copies of them. No Python needed.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mlscope::{ExperimentQuery, RunQuery, StoreWarning, TrackingStore, ViewType};
use serde_json::Value;
use support::*;

// ---------------------------------------------------------------------------------------------
// Fixture == expected.json
// ---------------------------------------------------------------------------------------------

fn check_fixture(name: &str) {
    let fx = Fixture::named(name);
    let copy = fx.copy();
    let mut expected = fx.expected();
    let notes = strip_not_compared(&mut expected);
    report_not_compared(name, &notes);
    let store = mlscope::open_store(&copy.uri())
        .unwrap_or_else(|e| panic!("open_store({}) failed: {e}", copy.uri()));
    let ours = read_canonical(store.as_ref(), CanonOptions::default())
        .unwrap_or_else(|e| panic!("reading fixture {name}: {e}"));
    assert!(
        ours.warnings.is_empty(),
        "{name}: mlscope reported warnings on a store MLflow reads cleanly: {:#?}",
        ours.warnings
    );
    assert_json_eq(
        &ours.doc,
        &expected,
        &format!(
            "{name}: mlscope reading vs MLflow {} reading (expected.json)",
            fx.version.as_str()
        ),
    );
}

#[test]
fn mlflow_3_17_2_file_store_reads_like_mlflow() {
    check_fixture("mlflow-3.17.2-file");
}

#[test]
fn mlflow_3_17_2_sqlite_reads_like_mlflow() {
    check_fixture("mlflow-3.17.2-sqlite");
}

#[test]
fn mlflow_2_22_5_file_store_reads_like_mlflow() {
    check_fixture("mlflow-2.22.5-file");
}

#[test]
fn mlflow_2_22_5_sqlite_reads_like_mlflow() {
    check_fixture("mlflow-2.22.5-sqlite");
}

/// The fixtures hold what the tests rely on (guards against a regeneration that silently lost a
/// feature), and every absolute path in them names the fixed generation directory.
#[test]
fn fixtures_are_complete_and_self_consistent() {
    for fx in FIXTURES {
        let doc = fx.expected();
        let counts = &doc["counts"];
        assert_eq!(counts["experiments"], 5, "{}: experiments", fx.name);
        assert_eq!(counts["runs"], 19, "{}: runs", fx.name);
        assert!(
            counts["metric_points"].as_u64().unwrap() > 10_000,
            "{}: the 10k-step metric is missing",
            fx.name
        );
        assert_eq!(counts["artifact_files"], 31, "{}: artifact files", fx.name);
        let edge = run_named(&doc, "edge-cases");
        assert_eq!(
            edge["metric_history"]["long/10k_steps"]
                .as_array()
                .unwrap()
                .len(),
            10_000
        );
        assert_eq!(
            edge["params"]["max_len_value"].as_str().unwrap().len(),
            6000
        );
        assert_eq!(run_named(&doc, "deleted-run")["lifecycle_stage"], "deleted");
        let child = run_named(&doc, "grid-lr0.1-bs64");
        assert_eq!(child["status"], "FAILED");
        assert_eq!(
            child["tags"]["mlflow.parentRunId"],
            run_named(&doc, "grid-search")["run_id"]
        );
        let ds = run_named(&doc, "artifacts-showcase")["dataset_inputs"]
            .as_array()
            .unwrap();
        assert_eq!(ds.len(), 2, "{}: dataset inputs", fx.name);
        let models: usize = doc["experiments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["logged_models"].as_array().unwrap().len())
            .sum();
        let want_models = usize::from(fx.version == MlflowVersion::V3_17_2);
        assert_eq!(models, want_models, "{}: logged models", fx.name);

        // absolute paths: all under the generation dir, in the JSON and in the store
        let prefix = fx.generated_at();
        for e in doc["experiments"].as_array().unwrap() {
            let loc = e["artifact_location"].as_str().unwrap();
            assert!(
                loc.trim_start_matches("file://").starts_with(&prefix),
                "{}: artifact_location {loc} not under {prefix}",
                fx.name
            );
            for r in e["runs"].as_array().unwrap() {
                let uri = r["artifact_uri"].as_str().unwrap();
                assert!(
                    uri.trim_start_matches("file://").starts_with(&prefix),
                    "{uri}"
                );
            }
        }
        let manifest: Value = serde_json::from_str(
            &std::fs::read_to_string(fx.dir().join("fixture_manifest.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(manifest["mlflow_version"], fx.version.as_str());
        assert_eq!(manifest["backend"], fx.backend.as_str());
        assert!(manifest["tracking_uri"].as_str().unwrap().contains(&prefix));
        // the store entry exists (empty dirs are recreated by Fixture::copy)
        assert!(fx.dir().join(fx.backend.entry()).exists(), "{}", fx.name);
        assert!(fx.dir().join("empty_dirs.txt").is_file(), "{}", fx.name);
    }
}

// ---------------------------------------------------------------------------------------------
// Damaged copies of a file-store fixture
// ---------------------------------------------------------------------------------------------

const DAMAGE_FIXTURE: &str = "mlflow-3.17.2-file";

/// Everything a tolerant reader returns for a whole store: experiments (all), runs (all, one
/// query over every experiment, paged), and every warning.
struct Listing {
    experiments: Vec<String>,
    runs: Vec<mlscope::Run>,
    warnings: Vec<StoreWarning>,
}

fn list_everything(store: &dyn TrackingStore) -> Listing {
    let mut warnings = Vec::new();
    let mut experiments = Vec::new();
    let mut token = None;
    loop {
        let page = store
            .search_experiments(&ExperimentQuery {
                view_type: ViewType::All,
                page_token: token.take(),
                ..ExperimentQuery::default()
            })
            .expect("search_experiments must not fail on a partly damaged store");
        warnings.extend(page.warnings);
        experiments.extend(page.items.into_iter().map(|e| e.experiment_id));
        match page.next_page_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    let mut runs = Vec::new();
    let mut token = None;
    loop {
        let page = store
            .search_runs(&RunQuery {
                experiment_ids: experiments.clone(),
                view_type: ViewType::All,
                page_token: token.take(),
                ..RunQuery::default()
            })
            .expect("search_runs must not fail on a partly damaged store");
        warnings.extend(page.warnings);
        runs.extend(page.items);
        match page.next_page_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    Listing {
        experiments,
        runs,
        warnings,
    }
}

struct Damaged {
    store: TempStore,
    expected: Value,
    root: PathBuf,
}

impl Damaged {
    fn new() -> Damaged {
        let fx = Fixture::named(DAMAGE_FIXTURE);
        let store = fx.copy();
        let root = store.root();
        Damaged {
            store,
            expected: fx.expected(),
            root,
        }
    }
    fn run_id(&self, name: &str) -> String {
        run_named(&self.expected, name)["run_id"]
            .as_str()
            .unwrap()
            .to_string()
    }
    fn run_dir(&self, name: &str) -> PathBuf {
        find_run_dir(&self.root, &self.run_id(name))
    }
    fn open(&self) -> Arc<dyn TrackingStore> {
        mlscope::open_store(&self.store.uri()).expect("open_store on a damaged copy")
    }
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Some warning's location contains `dir`, and its location or message mentions each of `words`.
fn warned(ws: &[StoreWarning], dir: &Path, words: &[&str]) -> bool {
    let dir = path_str(dir);
    ws.iter().any(|w| {
        // Locations are native paths: `metrics\train\loss` on Windows is the key `train/loss`.
        let text = format!("{} {}", w.location, w.message).replace(std::path::MAIN_SEPARATOR, "/");
        w.location.contains(&dir) && words.iter().all(|x| text.contains(x))
    })
}

/// Every run of `expected` except `damaged` is listed, with the data MLflow reads.
fn assert_healthy_runs_listed(l: &Listing, expected: &Value, damaged: &[String], what: &str) {
    let ours: std::collections::HashMap<&str, &mlscope::Run> =
        l.runs.iter().map(|r| (r.info.run_id.as_str(), r)).collect();
    for (_exp, run_id, name) in runs_of(expected) {
        if damaged.contains(&run_id) {
            continue;
        }
        let r = ours
            .get(run_id.as_str())
            .unwrap_or_else(|| panic!("{what}: healthy run {name} ({run_id}) is not listed"));
        let exp = run_named(expected, &name);
        // Windows refuses keys with ':' (MLflow there too, and NTFS cannot store them): the
        // Linux-made fixture's `eval:split` and `eval:auc` are skipped with a warning there.
        let readable = |k: &&String| !(cfg!(windows) && k.contains(':'));
        let params: Vec<&String> = r.data.params.keys().collect();
        let want: Vec<&String> = exp["params"]
            .as_object()
            .unwrap()
            .keys()
            .filter(readable)
            .collect();
        assert_eq!(params, want, "{what}: params of healthy run {name}");
        let metrics: Vec<&String> = r.data.metrics.keys().collect();
        let want: Vec<&String> = exp["metrics"]
            .as_object()
            .unwrap()
            .keys()
            .filter(readable)
            .collect();
        assert_eq!(metrics, want, "{what}: metric keys of healthy run {name}");
    }
    assert_eq!(l.experiments.len(), 5, "{what}: every experiment is listed");
}

#[test]
fn damaged_truncated_run_meta() {
    let d = Damaged::new();
    let empty = d.run_dir("killed-run");
    std::fs::write(empty.join("meta.yaml"), b"").unwrap();
    let l = list_everything(d.open().as_ref());
    let id = d.run_id("killed-run");
    assert_healthy_runs_listed(
        &l,
        &d.expected,
        std::slice::from_ref(&id),
        "empty meta.yaml",
    );
    assert!(
        !l.runs.iter().any(|r| r.info.run_id == id),
        "a run whose meta.yaml is empty cannot be listed"
    );
    assert!(
        warned(&l.warnings, &empty, &[]),
        "no warning names {} (empty meta.yaml); warnings: {:#?}",
        empty.display(),
        l.warnings
    );
}

#[test]
fn damaged_run_meta_cut_in_the_middle() {
    let d = Damaged::new();
    let dir = d.run_dir("failed-run");
    let meta = std::fs::read(dir.join("meta.yaml")).unwrap();
    std::fs::write(dir.join("meta.yaml"), &meta[..meta.len() * 2 / 5]).unwrap();
    let l = list_everything(d.open().as_ref());
    let id = d.run_id("failed-run");
    assert_healthy_runs_listed(&l, &d.expected, std::slice::from_ref(&id), "cut meta.yaml");
    // The keys left (artifact_uri, end_time, …) do not make a run: MLflow needs run_id and
    // experiment_id. Either the run is reported, or it is listed with its directory's identity.
    let listed = l.runs.iter().any(|r| r.info.run_id == id);
    assert!(
        listed || warned(&l.warnings, &dir, &[]),
        "run with a cut meta.yaml is neither listed nor reported; warnings: {:#?}",
        l.warnings
    );
}

#[test]
fn damaged_bad_metric_line() {
    let d = Damaged::new();
    let dir = d.run_dir("grid-lr0.01-bs32");
    let file = dir.join("metrics/train/loss");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("this is not a metric line\n");
    std::fs::write(&file, text).unwrap();
    let l = list_everything(d.open().as_ref());
    let id = d.run_id("grid-lr0.01-bs32");
    assert_healthy_runs_listed(
        &l,
        &d.expected,
        std::slice::from_ref(&id),
        "bad metric line",
    );
    assert!(
        warned(&l.warnings, &dir, &["train/loss"]),
        "no warning names {} (bad metric line); warnings: {:#?}",
        file.display(),
        l.warnings
    );
}

#[test]
fn damaged_stray_ds_store_files() {
    let d = Damaged::new();
    let dir = d.run_dir("grid-lr0.001-bs32");
    std::fs::write(
        dir.join("metrics/.DS_Store"),
        b"\x00\x00\x00\x01Bud1\x00\x00\x10\x00",
    )
    .unwrap();
    let exp_dir = dir.parent().unwrap().to_path_buf();
    std::fs::write(exp_dir.join(".DS_Store"), b"\x00\x00\x00\x01Bud1\x00").unwrap();
    std::fs::write(d.root.join(".DS_Store"), b"\x00\x00\x00\x01Bud1\x00").unwrap();
    let l = list_everything(d.open().as_ref());
    // Nothing is really damaged: every run is listed, .DS_Store is not a metric.
    assert_healthy_runs_listed(&l, &d.expected, &[], ".DS_Store files");
    // MLflow itself fails on this run ("Metric '.DS_Store' is malformed"), so the stray file
    // under metrics/ must be reported. The experiment- and root-level ones are ignored by MLflow
    // too (it only looks at directories there), so a warning for them is allowed, not required.
    assert!(
        warned(&l.warnings, &dir, &[".DS_Store"]),
        "no warning names {}/metrics/.DS_Store; warnings: {:#?}",
        dir.display(),
        l.warnings
    );
}

#[test]
fn damaged_empty_metric_file() {
    let d = Damaged::new();
    let dir = d.run_dir("grid-lr0.1-bs32");
    let file = dir.join("metrics/val/acc");
    std::fs::write(&file, b"").unwrap();
    let l = list_everything(d.open().as_ref());
    let id = d.run_id("grid-lr0.1-bs32");
    assert_healthy_runs_listed(
        &l,
        &d.expected,
        std::slice::from_ref(&id),
        "empty metric file",
    );
    assert!(
        warned(&l.warnings, &dir, &["val/acc"]),
        "no warning names {} (empty metric file); warnings: {:#?}",
        file.display(),
        l.warnings
    );
}

/// All of the above at once, in different runs.
#[test]
fn damaged_all_at_once() {
    let d = Damaged::new();
    let names = [
        "killed-run",
        "grid-lr0.01-bs32",
        "grid-lr0.001-bs32",
        "grid-lr0.1-bs32",
    ];
    let dirs: Vec<PathBuf> = names.iter().map(|n| d.run_dir(n)).collect();
    std::fs::write(dirs[0].join("meta.yaml"), b"").unwrap();
    let f = dirs[1].join("metrics/train/loss");
    let mut text = std::fs::read_to_string(&f).unwrap();
    text.push_str("1700000000000 not-a-number 0\n");
    std::fs::write(&f, text).unwrap();
    std::fs::write(dirs[2].join("metrics/.DS_Store"), b"Bud1").unwrap();
    std::fs::write(dirs[2].parent().unwrap().join(".DS_Store"), b"Bud1").unwrap();
    std::fs::write(dirs[3].join("metrics/val/acc"), b"").unwrap();
    let l = list_everything(d.open().as_ref());
    let damaged = vec![d.run_id(names[0]), d.run_id(names[1]), d.run_id(names[3])];
    assert_healthy_runs_listed(&l, &d.expected, &damaged, "all damages");
    assert!(
        warned(&l.warnings, &dirs[0], &[]),
        "empty meta.yaml not reported"
    );
    assert!(
        warned(&l.warnings, &dirs[1], &["train/loss"]),
        "bad metric line not reported"
    );
    assert!(
        warned(&l.warnings, &dirs[2], &[".DS_Store"]),
        "metrics/.DS_Store not reported"
    );
    assert!(
        warned(&l.warnings, &dirs[3], &["val/acc"]),
        "empty metric file not reported"
    );
}

/// Random bytes (and YAML-looking garbage) replace each meta.yaml in turn: reading may fail or
/// warn, never panic.
#[test]
fn random_meta_yaml_never_panics() {
    let mut rng = XorShift(0x5eed_1234_abcd_0042);
    let mut panics = Vec::new();
    let mut attempts = 0;
    for name in ["mlflow-3.17.2-file", "mlflow-2.22.5-file"] {
        let store = Fixture::named(name).copy();
        let mut metas = Vec::new();
        collect_named(&store.root(), "meta.yaml", &mut metas);
        metas.sort();
        assert!(
            metas.len() >= 24,
            "{name}: only {} meta.yaml files",
            metas.len()
        );
        for meta in &metas {
            let original = std::fs::read(meta).unwrap();
            for variant in 0..2 {
                let garbage = if variant == 0 {
                    let n = rng.below(700);
                    rng.bytes(n)
                } else {
                    yamlish_garbage(&mut rng, &original)
                };
                std::fs::write(meta, &garbage).unwrap();
                attempts += 1;
                let uri = store.uri();
                let result = std::panic::catch_unwind(|| exercise_store(&uri));
                if let Err(p) = result {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    panics.push(format!(
                        "{} (variant {variant}, {} bytes): {msg}",
                        meta.display(),
                        garbage.len()
                    ));
                }
            }
            std::fs::write(meta, &original).unwrap();
        }
    }
    eprintln!("{attempts} damaged stores read");
    assert!(attempts >= 48, "only {attempts} attempts");
    assert!(
        panics.is_empty(),
        "{} panic(s) while reading stores with a garbage meta.yaml:\n{}",
        panics.len(),
        panics.join("\n")
    );
}

fn collect_named(dir: &Path, file_name: &str, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            // artifacts are user files, not store metadata
            if e.file_name() != "artifacts" {
                collect_named(&p, file_name, out);
            }
        } else if e.file_name() == file_name {
            out.push(p);
        }
    }
}

/// The original YAML with random lines mangled: wrong types, odd scalars, cut lines.
fn yamlish_garbage(rng: &mut XorShift, original: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(original);
    let junk = [
        "~",
        "null",
        "[]",
        "{}",
        "-1",
        "99999999999999999999999",
        "1e400",
        ".nan",
        "'",
        "\"",
        "!!binary AAAA",
        "&a *a",
        "- - -",
        "on",
        "0x1F",
        ": :",
        "\t",
        "ü\u{0}",
        "*undefined",
    ];
    let mut out = String::new();
    for line in text.lines() {
        match rng.below(4) {
            0 => {
                let key = line.split(':').next().unwrap_or("");
                out.push_str(&format!("{key}: {}\n", junk[rng.below(junk.len())]));
            }
            1 => out.push_str(&line[..line.len() / 2]),
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out.into_bytes()
}

/// Every read a viewer does: list, get, histories. Errors are fine.
fn exercise_store(uri: &str) {
    let Ok(store) = mlscope::open_store(uri) else {
        return;
    };
    let Ok(page) = store.search_experiments(&ExperimentQuery {
        view_type: ViewType::All,
        max_results: 50_000,
        ..ExperimentQuery::default()
    }) else {
        return;
    };
    let ids: Vec<String> = page.items.iter().map(|e| e.experiment_id.clone()).collect();
    for id in &ids {
        let _ = store.get_experiment(id);
    }
    if ids.is_empty() {
        return;
    }
    let Ok(runs) = store.search_runs(&RunQuery {
        experiment_ids: ids,
        view_type: ViewType::All,
        max_results: 50_000,
        ..RunQuery::default()
    }) else {
        return;
    };
    for r in &runs.items {
        let _ = store.get_run(&r.info.run_id);
        let keys: Vec<String> = r.data.metrics.keys().cloned().collect();
        let _ = store.get_metric_histories(&r.info.run_id, &keys);
    }
}

// ---------------------------------------------------------------------------------------------
// The harness itself
// ---------------------------------------------------------------------------------------------

#[test]
fn support_python_compatible_helpers() {
    assert_eq!(py_float_repr(0.5), "0.5");
    assert_eq!(py_float_repr(42.0), "42.0");
    assert_eq!(py_float_repr(1e-300), "1e-300");
    assert_eq!(py_float_repr(0.0001), "0.0001");
    assert_eq!(py_float_repr(0.00001), "1e-05");
    assert_eq!(py_float_repr(1e16), "1e+16");
    assert_eq!(py_float_repr(123456789.12345679), "123456789.12345679");
    assert_eq!(py_float_repr(-0.0), "-0.0");
    assert_eq!(
        py_float_repr(1.7976931348623157e308),
        "1.7976931348623157e+308"
    );
    assert_eq!(
        py_json_dumps(&serde_json::json!({"b": [1, 2.5, null], "a": "ü\"\n✓😀"})),
        r#"{"a": "\u00fc\"\n\u2713\ud83d\ude00", "b": [1, 2.5, null]}"#
    );
    assert_eq!(
        mask_image_uuids(
            "images/samples%train+step+0+timestamp+1700005000000+0123abcd-0000-4000-8000-00000000beef.png"
        ),
        "images/samples%train+step+0+timestamp+1700005000000+<uuid>.png"
    );
    assert_eq!(
        mask_image_uuids("images/k%step%1%timestamp%-5%0123ABCD-0000-4000-8000-00000000beef.webp"),
        "images/k%step%1%timestamp%-5%<uuid>.webp"
    );
    assert_eq!(mask_image_uuids("plain/file.png"), "plain/file.png");
    // exact float parsing (serde_json's default parser can be 1 ULP off)
    let text = r#"{"a": [1.9934258027301823, 5e-324, -0.0, 1.7976931348623157e+308, 12, -5, 18446744073709551615],
                   "s": "q\"\\\n\u00fc\ud83d\ude00✓", "t": true, "n": null, "o": {}}"#;
    let v = parse_json_exact(text).unwrap();
    let a = v["a"].as_array().unwrap();
    assert_eq!(
        a[0].as_f64().unwrap().to_bits(),
        "1.9934258027301823".parse::<f64>().unwrap().to_bits()
    );
    assert_eq!(a[1].as_f64().unwrap(), 5e-324);
    assert!(a[2].as_f64().unwrap().is_sign_negative());
    assert_eq!(a[3].as_f64().unwrap(), f64::MAX);
    assert_eq!(
        (a[4].as_i64(), a[5].as_i64(), a[6].as_u64()),
        (Some(12), Some(-5), Some(u64::MAX))
    );
    assert_eq!(v["s"], "q\"\\\nü😀✓");
    assert_eq!(
        v,
        serde_json::from_str::<Value>(&text.replace("1.9934258027301823", "1.5"))
            .map(|mut x| {
                x["a"][0] = v["a"][0].clone();
                x
            })
            .unwrap()
    );
    // the diff names the first differing path, matching runs by id
    let a = serde_json::json!({"experiments": [{"experiment_id": "1", "name": "e", "runs": [
        {"run_id": "r1", "run_name": "x", "metrics": {"m": 1.0}}]}]});
    let mut b = a.clone();
    b["experiments"][0]["runs"][0]["metrics"]["m"] = serde_json::json!(2.0);
    let d = json_diffs(&a, &b, 10);
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(
        d[0].starts_with("$.experiments[0]{name=\"e\"}.runs[0]{run_name=\"x\"}.metrics.m"),
        "{d:?}"
    );
    let mut c = a.clone();
    c["experiments"][0]["runs"][0]["metrics"]["m"] = serde_json::json!(1);
    assert_eq!(
        json_diffs(&a, &c, 10).len(),
        1,
        "1.0 and 1 differ (Python prints floats as 1.0)"
    );
}

/// Rust `normalize_doc` gives what the script's `--normalize` documents, on a real fixture: ids
/// replaced everywhere (parent tags, model ids), no absolute paths left.
#[test]
fn support_normalize_masks_ids() {
    let fx = Fixture::named("mlflow-3.17.2-file");
    let raw = fx.expected();
    let norm = normalize_doc(&raw);
    let text = norm.to_string();
    for (exp, run, _) in runs_of(&raw) {
        assert!(!text.contains(&run), "run id {run} survived normalization");
        if exp.len() > 3 {
            assert!(
                !text.contains(&format!("\"{exp}\"")),
                "experiment id {exp} survived"
            );
        }
    }
    assert!(
        !text.contains("/tmp/mlscope-fixtures/mlflow-"),
        "absolute store path survived"
    );
    let child = run_named(&norm, "grid-lr0.1-bs64");
    assert_eq!(child["tags"]["mlflow.parentRunId"], "<run:grid-search>");
    assert_eq!(child["artifact_uri"], "<run:grid-lr0.1-bs64>/artifacts");
    assert_eq!(child["experiment_id"], "<exp:fixtures/classification>");
    assert_eq!(run_named(&norm, "fluent-run")["start_time"], "<volatile>");
    assert_eq!(norm["counts"], raw["counts"]);
}
