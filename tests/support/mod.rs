//! Shared helpers of the integration tests (`mod support;` in each test crate).
//!
//! * [`read_canonical`]: reads any [`TrackingStore`] into the canonical JSON that
//!   `scripts/mlflow_read_check.py` prints with `--no-artifacts` (same keys, same sorting, NaN and
//!   ±inf as strings), so our reading of a store compares 1:1 with MLflow's.
//! * [`normalize_doc`]: a port of the script's `--normalize` (ids masked by name), to compare a
//!   store we wrote with the store MLflow wrote from the same calls.
//! * [`strip_not_compared`]: removes from an MLflow JSON what mlscope cannot produce yet; every
//!   dropped field is listed in [`NOT_COMPARED`] with its reason and reported by the tests.
//! * [`assert_json_eq`] / [`Checks`]: JSON comparison that names the first differing path.
//! * [`Fixture`]: the MLflow-made stores in `tests/fixtures/` (copied to a temp dir to be read).
//! * [`MlflowVersion`], [`require_mlflow`], [`read_with_mlflow`], [`apply_ops_with_mlflow`],
//!   [`check_store_against_mlflow`]: running real Python MLflow (venvs from
//!   `scripts/mlflow-venv.sh`).
#![allow(dead_code)] // every test crate uses a different subset

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use mlscope::{ExperimentQuery, Run, RunQuery, StoreWarning, TrackingStore, ViewType};
use serde_json::{Map, Value, json};

// =============================================================================================
// Canonical JSON (port of scripts/mlflow_read_check.py)
// =============================================================================================

/// What [`read_canonical`] reads.
#[derive(Debug, Clone, Copy)]
pub struct CanonOptions {
    /// Read every metric's full history (`metric_history`), like the script without
    /// `--no-histories`.
    pub histories: bool,
    /// Apply [`normalize_experiments`] (the script's `--normalize`).
    pub normalize: bool,
}

impl Default for CanonOptions {
    fn default() -> Self {
        CanonOptions {
            histories: true,
            normalize: false,
        }
    }
}

/// A store read into canonical JSON, plus the warnings the store reported on the way.
#[derive(Debug)]
pub struct Canonical {
    /// `{"experiments": [...], "counts": {...}}`, shaped like `mlflow_read_check.py --no-artifacts`.
    pub doc: Value,
    /// Every `Page::warnings` entry met while searching experiments and runs.
    pub warnings: Vec<StoreWarning>,
}

/// Fields of `mlflow_read_check.py`'s JSON that mlscope does not produce (yet), with the reason.
/// [`read_canonical`] emits them empty (`logged_models`, `model_outputs`: `[]`) or not at all
/// (`artifacts`; `counts.artifact_files` is then 0, as with `--no-artifacts`), and
/// [`strip_not_compared`] does the same to MLflow's JSON before comparing.
pub const NOT_COMPARED: &[(&str, &str)] = &[
    (
        "experiments[*].runs[*].artifacts",
        "artifacts are not part of TrackingStore; tests/fixture_artifacts.rs compares every run's \
         listing with expected.json through the artifact API",
    ),
    (
        "counts.artifact_files",
        "counts the artifacts above; 0 on both sides (as with --no-artifacts)",
    ),
    (
        "experiments[*].logged_models",
        "MLflow 3 logged models (<exp>/models/, table logged_models) are not read by mlscope",
    ),
    (
        "experiments[*].runs[*].model_outputs",
        "mlscope's Run has no outputs (MLflow 3 <run>/outputs/<model_id>, inputs rows \
         RUN_OUTPUT -> MODEL_OUTPUT); only the 3.17.2 fixtures' model-run has one",
    ),
];

/// Reads every experiment (active and deleted), every run (all view types), and optionally every
/// metric history of `store` into the canonical JSON of `mlflow_read_check.py`.
pub fn read_canonical(store: &dyn TrackingStore, opts: CanonOptions) -> mlscope::Result<Canonical> {
    let mut warnings = Vec::new();
    let mut experiments = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..100_000 {
        let page = store.search_experiments(&ExperimentQuery {
            view_type: ViewType::All,
            page_token: token.take(),
            ..ExperimentQuery::default()
        })?;
        warnings.extend(page.warnings);
        experiments.extend(page.items);
        match page.next_page_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    let mut exps = Vec::new();
    for e in &experiments {
        let mut runs = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..100_000 {
            let page = store.search_runs(&RunQuery {
                experiment_ids: vec![e.experiment_id.clone()],
                view_type: ViewType::All,
                page_token: token.take(),
                ..RunQuery::default()
            })?;
            warnings.extend(page.warnings);
            runs.extend(page.items);
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        let mut runs_json = Vec::new();
        for r in &runs {
            let hist = if opts.histories {
                let keys: Vec<String> = r.data.metrics.keys().cloned().collect();
                Some(store.get_metric_histories(&r.info.run_id, &keys)?)
            } else {
                None
            };
            runs_json.push(run_json(r, hist.as_ref()));
        }
        exps.push(json!({
            "experiment_id": e.experiment_id,
            "name": e.name,
            "lifecycle_stage": e.lifecycle_stage.as_str(),
            "artifact_location": e.artifact_location,
            "creation_time": e.creation_time,
            "last_update_time": e.last_update_time,
            "tags": string_map(&e.tags),
            "runs": runs_json,
            "logged_models": [],
        }));
    }
    Ok(Canonical {
        doc: build_doc(exps, opts.normalize),
        warnings,
    })
}

/// Opens `uri` with [`mlscope::open_store`] and reads it with [`read_canonical`]; panics on error.
pub fn read_canonical_uri(uri: &str, opts: CanonOptions) -> Canonical {
    let store = mlscope::open_store(uri).unwrap_or_else(|e| panic!("open_store({uri}): {e}"));
    read_canonical(store.as_ref(), opts).unwrap_or_else(|e| panic!("reading {uri}: {e}"))
}

fn string_map(m: &BTreeMap<String, String>) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

fn run_json(r: &Run, hist: Option<&BTreeMap<String, Vec<mlscope::Metric>>>) -> Value {
    let info = &r.info;
    let metrics: Map<String, Value> = r
        .data
        .metrics
        .iter()
        .map(|(k, m)| (k.clone(), canon_float(m.value)))
        .collect();
    let mut datasets: Vec<Value> = r
        .inputs
        .dataset_inputs
        .iter()
        .map(|di| {
            let d = &di.dataset;
            let mut tags: Vec<(String, String)> = di
                .tags
                .iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect();
            tags.sort();
            json!({
                "dataset": {
                    "name": d.name,
                    "digest": d.digest,
                    "source_type": d.source_type,
                    "source": d.source,
                    "schema": d.schema,
                    "profile": d.profile,
                },
                "tags": tags.into_iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
            })
        })
        .collect();
    datasets.sort_by_cached_key(py_json_dumps);
    let mut model_inputs = r.inputs.model_inputs.clone();
    model_inputs.sort();
    let mut run = json!({
        "run_id": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "user_id": info.user_id,
        "status": info.status.as_str(),
        "start_time": info.start_time,
        "end_time": info.end_time,
        "lifecycle_stage": info.lifecycle_stage.as_str(),
        "artifact_uri": info.artifact_uri,
        "params": string_map(&r.data.params),
        "tags": string_map(&r.data.tags),
        "metrics": metrics,
        "dataset_inputs": datasets,
        "model_inputs": model_inputs,
        "model_outputs": [], // see NOT_COMPARED
    });
    if let Some(hist) = hist {
        let mut h = Map::new();
        for key in r.data.metrics.keys() {
            let mut rows: Vec<(i64, i64, Value)> = hist
                .get(key)
                .map(|pts| {
                    pts.iter()
                        .map(|m| (m.step, m.timestamp, canon_float(m.value)))
                        .collect()
                })
                .unwrap_or_default();
            rows.sort_by(|a, b| {
                (a.0, a.1)
                    .cmp(&(b.0, b.1))
                    .then_with(|| float_sort_cmp(&a.2, &b.2))
            });
            h.insert(
                key.clone(),
                Value::Array(rows.into_iter().map(|(s, t, v)| json!([s, t, v])).collect()),
            );
        }
        run["metric_history"] = Value::Object(h);
    }
    run
}

/// `canon_float`: finite floats as JSON numbers, NaN as `"NaN"`, ±inf as `"Infinity"` / `"-Infinity"`.
pub fn canon_float(v: f64) -> Value {
    if v.is_nan() {
        Value::String("NaN".into())
    } else if v.is_infinite() {
        Value::String(if v > 0.0 { "Infinity" } else { "-Infinity" }.into())
    } else {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

/// `float_sort_key`: numbers (by value) before the strings NaN/Infinity/-Infinity (by text).
fn float_sort_cmp(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::String(_), _) => Ordering::Greater,
        (_, Value::String(_)) => Ordering::Less,
        _ => {
            let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
    }
}

/// `{"experiments": sort_all(exps), "counts": ...}`, normalizing first when asked.
pub fn build_doc(exps: Vec<Value>, normalize: bool) -> Value {
    let mut exps = if normalize {
        normalize_experiments(exps)
    } else {
        exps
    };
    sort_all(&mut exps);
    let counts = counts(&exps);
    json!({ "experiments": exps, "counts": counts })
}

/// The script's `--normalize` applied to a whole document (ours, `expected.json`, or MLflow's).
pub fn normalize_doc(doc: &Value) -> Value {
    let exps = doc["experiments"].as_array().cloned().unwrap_or_default();
    build_doc(exps, true)
}

fn counts(exps: &[Value]) -> Value {
    let runs = || exps.iter().flat_map(|e| arr(&e["runs"]).iter());
    let metric_points: usize = runs()
        .map(|r| match &r["metric_history"] {
            Value::Object(h) => h.values().map(|v| arr(v).len()).sum(),
            _ => 0,
        })
        .sum();
    let artifact_files = runs()
        .flat_map(|r| arr(&r["artifacts"]).iter())
        .filter(|a| a["is_dir"] != Value::Bool(true))
        .count();
    json!({
        "experiments": exps.len(),
        "runs": runs().count(),
        "metric_points": metric_points,
        "artifact_files": artifact_files,
    })
}

fn arr(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// Python's `str()` of a JSON scalar (the run sort key uses `str(start_time)`).
fn py_str(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(x) => x.clone(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.to_string(),
            (_, Some(u)) => u.to_string(),
            _ => py_float_repr(n.as_f64().unwrap_or(0.0)),
        },
        other => py_json_dumps(other),
    }
}

/// `sort_all`: runs by `(run_name or "", str(start_time), run_id)`, logged models by
/// `(name or "", model_id)`, experiments by `(name, experiment_id)`.
fn sort_all(exps: &mut [Value]) {
    for e in exps.iter_mut() {
        if let Some(runs) = e["runs"].as_array_mut() {
            runs.sort_by_cached_key(|r| {
                (
                    s(&r["run_name"]).to_string(),
                    py_str(&r["start_time"]),
                    s(&r["run_id"]).to_string(),
                )
            });
        }
        if let Some(models) = e["logged_models"].as_array_mut() {
            models
                .sort_by_cached_key(|m| (s(&m["name"]).to_string(), s(&m["model_id"]).to_string()));
        }
    }
    exps.sort_by_cached_key(|e| {
        (
            s(&e["name"]).to_string(),
            s(&e["experiment_id"]).to_string(),
        )
    });
}

/// Run tags dropped by `--normalize` (git details of the machine that wrote the store).
pub const GIT_TAGS: &[&str] = &[
    "mlflow.source.git.commit",
    "mlflow.source.git.branch",
    "mlflow.source.git.repoURL",
    "mlflow.gitRepoURL",
    "mlflow.source.git.dirty",
];

/// Port of `normalize()`: run ids -> `<run:NAME>` (`<run:NAME#n>` for repeated names), logged
/// model ids -> `<model:NAME>` (wherever they occur, keys included), experiment ids ->
/// `<exp:NAME>` (only in `experiment_id` fields), experiment artifact_location and times
/// dropped, run artifact_uri made relative to the experiment's artifact_location, git tags
/// dropped, start/end times masked for runs tagged `fixture.volatile_times=true`, image-step
/// artifact uuids masked.
pub fn normalize_experiments(exps: Vec<Value>) -> Vec<Value> {
    let exp_map: HashMap<String, String> = exps
        .iter()
        .map(|e| {
            (
                s(&e["experiment_id"]).to_string(),
                format!("<exp:{}>", s(&e["name"])),
            )
        })
        .collect();
    // insertion-ordered id map (a Python dict): later assignments overwrite in place
    let mut id_map: Vec<(String, String)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut set = |k: String, v: String, id_map: &mut Vec<(String, String)>| match index.get(&k) {
        Some(&i) => id_map[i].1 = v,
        None => {
            index.insert(k.clone(), id_map.len());
            id_map.push((k, v));
        }
    };
    for e in &exps {
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut runs: Vec<&Value> = arr(&e["runs"]).iter().collect();
        runs.sort_by_cached_key(|r| {
            (
                s(&r["run_name"]).to_string(),
                r["start_time"].as_i64().unwrap_or(0),
                s(&r["run_id"]).to_string(),
            )
        });
        for r in runs {
            let base = s(&r["run_name"]).to_string();
            let n = seen.get(&base).copied().unwrap_or(0);
            seen.insert(base.clone(), n + 1);
            let v = if n == 0 {
                format!("<run:{base}>")
            } else {
                format!("<run:{base}#{n}>")
            };
            set(s(&r["run_id"]).to_string(), v, &mut id_map);
        }
        for m in arr(&e["logged_models"]) {
            set(
                s(&m["model_id"]).to_string(),
                format!("<model:{}>", s(&m["name"])),
                &mut id_map,
            );
        }
    }
    // longest first (stable), like sorted(id_map, key=len, reverse=True)
    id_map.retain(|(k, _)| !k.is_empty());
    id_map.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));

    let mut out = Vec::new();
    for e in exps {
        let mut e = e;
        let loc = s(&e["artifact_location"]).trim_end_matches('/').to_string();
        let eid = s(&e["experiment_id"]).to_string();
        e["experiment_id"] = Value::String(exp_map[&eid].clone());
        e["artifact_location"] = Value::Null;
        e["creation_time"] = Value::Null;
        e["last_update_time"] = Value::Null;
        if let Some(runs) = e["runs"].as_array_mut() {
            for r in runs.iter_mut() {
                let reid = s(&r["experiment_id"]).to_string();
                if let Some(m) = exp_map.get(&reid) {
                    r["experiment_id"] = Value::String(m.clone());
                }
                let uri = s(&r["artifact_uri"]).to_string();
                let prefix = format!("{loc}/");
                r["artifact_uri"] = Value::String(if !loc.is_empty() && uri.starts_with(&prefix) {
                    uri[prefix.len()..].to_string()
                } else {
                    uri
                });
                if let Some(tags) = r["tags"].as_object_mut() {
                    tags.retain(|k, _| !GIT_TAGS.contains(&k.as_str()));
                }
                if r["tags"]["fixture.volatile_times"] == Value::String("true".into()) {
                    r["start_time"] = Value::String("<volatile>".into());
                    if !r["end_time"].is_null() {
                        r["end_time"] = Value::String("<volatile>".into());
                    }
                }
                if let Some(arts) = r.get_mut("artifacts").and_then(Value::as_array_mut) {
                    for a in arts.iter_mut() {
                        let p = mask_image_uuids(s(&a["path"]));
                        a["path"] = Value::String(p);
                    }
                    arts.sort_by_cached_key(|a| (s(&a["path"]).to_string(), py_json_dumps(a)));
                }
            }
        }
        if let Some(models) = e["logged_models"].as_array_mut() {
            for m in models.iter_mut() {
                if let Some(tags) = m["tags"].as_object_mut() {
                    tags.retain(|k, _| !GIT_TAGS.contains(&k.as_str()));
                }
            }
        }
        out.push(walk_replace(&e, &id_map));
    }
    out
}

fn walk_replace(v: &Value, ids: &[(String, String)]) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (replace_ids(k, ids), walk_replace(v, ids)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| walk_replace(x, ids)).collect()),
        Value::String(x) => Value::String(replace_ids(x, ids)),
        other => other.clone(),
    }
}

/// `re.sub("|".join(ids longest first), ...)`: leftmost match, first (longest) alternative.
fn replace_ids(s: &str, ids: &[(String, String)]) -> String {
    if ids.is_empty() {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    'outer: while i < s.len() {
        let rest = &s[i..];
        for (id, rep) in ids {
            if rest.starts_with(id.as_str()) {
                out.push_str(rep);
                i += id.len();
                continue 'outer;
            }
        }
        let c = rest.chars().next().expect("non-empty");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// `IMAGE_UUID_RE.sub(r"\1<uuid>")`: the uuid after `+timestamp+<ms>+` or `%timestamp%<ms>%`.
pub fn mask_image_uuids(path: &str) -> String {
    fn prefix_len(rest: &str) -> Option<usize> {
        for (open, close) in [("+timestamp+", '+'), ("%timestamp%", '%')] {
            if let Some(after) = rest.strip_prefix(open) {
                let b = after.as_bytes();
                let mut j = usize::from(b.first() == Some(&b'-'));
                let digits_start = j;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                if j > digits_start && b.get(j) == Some(&(close as u8)) {
                    return Some(open.len() + j + 1);
                }
            }
        }
        None
    }
    fn is_uuid(s: &str) -> bool {
        let b = s.as_bytes();
        b.len() >= 36
            && (0..36).all(|i| match i {
                8 | 13 | 18 | 23 => b[i] == b'-',
                _ => b[i].is_ascii_hexdigit(),
            })
    }
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    'outer: while i < path.len() {
        let rest = &path[i..];
        if let Some(n) = prefix_len(rest)
            && is_uuid(&rest[n..])
        {
            out.push_str(&rest[..n]);
            out.push_str("<uuid>");
            i += n + 36;
            continue 'outer;
        }
        let c = rest.chars().next().expect("non-empty");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// Python's `json.dumps(v, sort_keys=True)` (default separators, `ensure_ascii=True`), used as a
/// sort key by the script.
pub fn py_json_dumps(v: &Value) -> String {
    let mut out = String::new();
    dump(v, &mut out);
    out
}

fn dump(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => write!(out, "{i}").unwrap(),
            (_, Some(u)) => write!(out, "{u}").unwrap(),
            _ => out.push_str(&py_float_repr(n.as_f64().unwrap_or(0.0))),
        },
        Value::String(x) => {
            out.push('"');
            for c in x.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '\u{8}' => out.push_str("\\b"),
                    '\u{c}' => out.push_str("\\f"),
                    c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                        let mut buf = [0u16; 2];
                        for u in c.encode_utf16(&mut buf) {
                            write!(out, "\\u{u:04x}").unwrap();
                        }
                    }
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                dump(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                dump(&Value::String(k.clone()), out);
                out.push_str(": ");
                dump(&m[k], out);
            }
            out.push('}');
        }
    }
}

/// Python's `repr(float)`: shortest round-trip digits, exponent form below 1e-4 and from 1e16.
pub fn py_float_repr(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let sci = format!("{v:e}"); // e.g. "-1.2345e-7", "5e0"
    let (mant, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("integer exponent");
    let (neg, mant) = mant.strip_prefix('-').map_or((false, mant), |m| (true, m));
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let sign = if neg { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let body = if exp < 0 {
            format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
        } else if exp + 1 >= n {
            format!("{}{}.0", digits, "0".repeat((exp + 1 - n) as usize))
        } else {
            let (a, b) = digits.split_at((exp + 1) as usize);
            format!("{a}.{b}")
        };
        format!("{sign}{body}")
    } else {
        let m = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        format!(
            "{sign}{m}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    }
}

/// Makes MLflow's JSON (e.g. a fixture's `expected.json`) comparable with [`read_canonical`]:
/// drops everything listed in [`NOT_COMPARED`]. Returns one line per kind of data actually
/// dropped (with counts), for the test log.
pub fn strip_not_compared(doc: &mut Value) -> Vec<String> {
    let (mut artifacts, mut runs_with_artifacts, mut models, mut outputs) = (0, 0, 0, 0);
    if let Some(exps) = doc["experiments"].as_array_mut() {
        for e in exps {
            models += arr(&e["logged_models"]).len();
            e["logged_models"] = json!([]);
            if let Some(runs) = e["runs"].as_array_mut() {
                for r in runs {
                    if let Some(a) = r.as_object_mut().and_then(|o| o.remove("artifacts")) {
                        artifacts += arr(&a).len();
                        runs_with_artifacts += 1;
                    }
                    outputs += arr(&r["model_outputs"]).len();
                    r["model_outputs"] = json!([]);
                }
            }
        }
    }
    let mut files = 0;
    if let Some(c) = doc.get_mut("counts") {
        files = c["artifact_files"].as_u64().unwrap_or(0);
        c["artifact_files"] = json!(0);
    }
    let mut notes = Vec::new();
    if runs_with_artifacts > 0 {
        notes.push(format!(
            "not compared: artifacts ({artifacts} entries, {files} files, in {runs_with_artifacts} runs)"
        ));
    }
    if models > 0 {
        notes.push(format!("not compared: {models} logged model(s)"));
    }
    if outputs > 0 {
        notes.push(format!("not compared: {outputs} run model output(s)"));
    }
    notes
}

/// Removes every run's `artifacts` and zeroes `counts.artifact_files`: turns a full
/// `mlflow_read_check.py` JSON into what `--no-artifacts` prints.
pub fn strip_artifacts(doc: &mut Value) {
    if let Some(exps) = doc["experiments"].as_array_mut() {
        for e in exps {
            if let Some(runs) = e["runs"].as_array_mut() {
                for r in runs {
                    if let Some(o) = r.as_object_mut() {
                        o.remove("artifacts");
                    }
                }
            }
        }
    }
    if let Some(c) = doc.get_mut("counts") {
        c["artifact_files"] = json!(0);
    }
}

/// Prints the [`NOT_COMPARED`] table and the given notes to stderr (shown with `--nocapture` or
/// on failure).
pub fn report_not_compared(what: &str, notes: &[String]) {
    eprintln!("{what}: fields not compared (mlscope does not produce them yet):");
    for (field, reason) in NOT_COMPARED {
        eprintln!("  - {field}: {reason}");
    }
    for n in notes {
        eprintln!("  * {n}");
    }
}

// =============================================================================================
// Exact JSON parsing
// =============================================================================================

/// Parses JSON with correctly rounded floats. `serde_json::from_str` without its
/// `float_roundtrip` feature (not enabled in this crate) may be 1 ULP off for 17-digit floats,
/// which would make bit-exact comparisons with MLflow's output fail (or hide real 1-ULP errors).
/// Integers stay integers (`i64`/`u64`), everything with `.`/`e` becomes `f64` via `str::parse`.
pub fn parse_json_exact(text: &str) -> Result<Value, String> {
    let mut p = JsonParser {
        s: text.as_bytes(),
        text,
        i: 0,
    };
    let v = p.value()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("trailing characters at byte {}", p.i));
    }
    Ok(v)
}

struct JsonParser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\n' | b'\r' | b'\t') {
            self.i += 1;
        }
    }
    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("JSON: {what} at byte {}", self.i))
    }
    fn eat(&mut self, lit: &str) -> Result<(), String> {
        if self.s[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            Ok(())
        } else {
            self.err(&format!("expected {lit}"))
        }
    }
    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        match self.s.get(self.i) {
            None => self.err("unexpected end"),
            Some(b'{') => {
                self.i += 1;
                let mut m = Map::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Value::Object(m));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.ws();
                    self.eat(":")?;
                    let v = self.value()?;
                    m.insert(k, v);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Value::Object(m));
                        }
                        _ => return self.err("expected , or }"),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Value::Array(a));
                }
                loop {
                    a.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::Array(a));
                        }
                        _ => return self.err("expected , or ]"),
                    }
                }
            }
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.eat("true").map(|_| Value::Bool(true)),
            Some(b'f') => self.eat("false").map(|_| Value::Bool(false)),
            Some(b'n') => self.eat("null").map(|_| Value::Null),
            Some(_) => self.number(),
        }
    }
    fn number(&mut self) -> Result<Value, String> {
        let start = self.i;
        while self.i < self.s.len()
            && matches!(
                self.s[self.i],
                b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
            )
        {
            self.i += 1;
        }
        let t = &self.text[start..self.i];
        if t.is_empty() {
            return self.err("unexpected character");
        }
        if !t.contains(['.', 'e', 'E']) {
            if let Ok(i) = t.parse::<i64>() {
                return Ok(Value::from(i));
            }
            if let Ok(u) = t.parse::<u64>() {
                return Ok(Value::from(u));
            }
        }
        let f: f64 = t
            .parse()
            .map_err(|e| format!("JSON: bad number {t:?}: {e}"))?;
        serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| format!("JSON: non-finite number {t:?}"))
    }
    fn hex4(&mut self) -> Result<u32, String> {
        let h = self
            .text
            .get(self.i..self.i + 4)
            .ok_or("JSON: short \\u escape")?;
        self.i += 4;
        u32::from_str_radix(h, 16).map_err(|e| format!("JSON: bad \\u escape {h:?}: {e}"))
    }
    fn string(&mut self) -> Result<String, String> {
        self.eat("\"")?;
        let mut out = String::new();
        loop {
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i] != b'"' && self.s[self.i] != b'\\' {
                self.i += 1;
            }
            out.push_str(&self.text[start..self.i]);
            match self.s.get(self.i) {
                None => return self.err("unterminated string"),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(_) => {
                    self.i += 1;
                    let c = self.s.get(self.i).copied();
                    self.i += 1;
                    match c {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp)
                                && self.s[self.i..].starts_with(b"\\u")
                            {
                                self.i += 2;
                                let lo = self.hex4()?;
                                cp = if (0xDC00..0xE000).contains(&lo) {
                                    0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                                } else {
                                    0xFFFD
                                };
                            }
                            out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
                        }
                        _ => return self.err("bad escape"),
                    }
                }
            }
        }
    }
}

// =============================================================================================
// JSON comparison with readable diffs
// =============================================================================================

/// Differences between `actual` and `expected`, as `path: actual ≠ expected` lines (at most
/// `limit`). Arrays of experiments / runs / models are matched by id, so one missing run is one
/// line, not a cascade. Numbers compare exactly (bitwise for floats; int ≠ float).
pub fn json_diffs(actual: &Value, expected: &Value, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    diff_rec("$", actual, expected, &mut out, limit);
    out
}

fn short(v: &Value) -> String {
    let t = v.to_string();
    if t.chars().count() > 160 {
        let cut: String = t.chars().take(150).collect();
        format!("{cut}… ({} chars)", t.len())
    } else {
        t
    }
}

fn identity(v: &Value) -> Option<(&'static str, String)> {
    for key in ["run_id", "model_id", "experiment_id"] {
        if let Some(id) = v.get(key).and_then(Value::as_str) {
            // runs carry experiment_id too; run_id/model_id take precedence
            return Some((key, id.to_string()));
        }
    }
    None
}

fn label(v: &Value) -> String {
    for key in ["run_name", "name"] {
        if let Some(n) = v.get(key).and_then(Value::as_str) {
            return format!("{{{key}={n:?}}}");
        }
    }
    String::new()
}

fn num_eq(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    if a.is_f64() != b.is_f64() {
        return false;
    }
    if a.is_f64() {
        a.as_f64().map(f64::to_bits) == b.as_f64().map(f64::to_bits)
    } else {
        a == b
    }
}

fn diff_rec(path: &str, a: &Value, e: &Value, out: &mut Vec<String>, limit: usize) {
    if out.len() >= limit {
        return;
    }
    match (a, e) {
        (Value::Object(ma), Value::Object(me)) => {
            let keys: std::collections::BTreeSet<&String> = ma.keys().chain(me.keys()).collect();
            for k in keys {
                let p = format!("{path}.{}", path_key(k));
                match (ma.get(k), me.get(k)) {
                    (Some(x), Some(y)) => diff_rec(&p, x, y, out, limit),
                    (Some(x), None) => out.push(format!("{p}: unexpected (ours has {})", short(x))),
                    (None, Some(y)) => out.push(format!("{p}: missing (expected {})", short(y))),
                    (None, None) => {}
                }
                if out.len() >= limit {
                    return;
                }
            }
        }
        (Value::Array(xa), Value::Array(xe)) => {
            let ids_a: Option<Vec<_>> = xa.iter().map(identity).collect();
            let ids_e: Option<Vec<_>> = xe.iter().map(identity).collect();
            match (ids_a, ids_e) {
                (Some(ia), Some(ie)) if !ia.is_empty() || !ie.is_empty() => {
                    for (j, id) in ie.iter().enumerate() {
                        match ia.iter().position(|x| x == id) {
                            Some(i) => {
                                let p = format!("{path}[{i}]{}", label(&xe[j]));
                                diff_rec(&p, &xa[i], &xe[j], out, limit);
                                if i != j && out.len() < limit {
                                    out.push(format!(
                                        "{path}: {}={} is at index {i}, expected at {j} (sort order)",
                                        id.0, id.1
                                    ));
                                }
                            }
                            None => out.push(format!(
                                "{path}: missing {}={}{} (expected element {j})",
                                id.0,
                                id.1,
                                label(&xe[j])
                            )),
                        }
                        if out.len() >= limit {
                            return;
                        }
                    }
                    for (i, id) in ia.iter().enumerate() {
                        if !ie.contains(id) && out.len() < limit {
                            out.push(format!(
                                "{path}: unexpected {}={}{} (our element {i})",
                                id.0,
                                id.1,
                                label(&xa[i])
                            ));
                        }
                    }
                }
                _ => {
                    if xa.len() != xe.len() {
                        out.push(format!(
                            "{path}: array length {} ≠ expected {}",
                            xa.len(),
                            xe.len()
                        ));
                    }
                    for (i, (x, y)) in xa.iter().zip(xe).enumerate() {
                        diff_rec(&format!("{path}[{i}]"), x, y, out, limit);
                        if out.len() >= limit {
                            return;
                        }
                    }
                }
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            if !num_eq(x, y) {
                out.push(format!("{path}: {x} ≠ expected {y}"));
            }
        }
        _ => {
            if a != e {
                out.push(format!("{path}: {} ≠ expected {}", short(a), short(e)));
            }
        }
    }
}

fn path_key(k: &str) -> String {
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        k.to_string()
    } else {
        format!("[{k:?}]")
    }
}

/// Writes both documents under `CARGO_TARGET_TMPDIR/json-diff/` for inspection; returns the paths.
fn dump_pair(what: &str, actual: &Value, expected: &Value) -> (PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("json-diff");
    let _ = std::fs::create_dir_all(&dir);
    let slug: String = what
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let pa = dir.join(format!("{slug}.actual.json"));
    let pe = dir.join(format!("{slug}.expected.json"));
    let _ = std::fs::write(
        &pa,
        serde_json::to_string_pretty(actual).unwrap_or_default(),
    );
    let _ = std::fs::write(
        &pe,
        serde_json::to_string_pretty(expected).unwrap_or_default(),
    );
    (pa, pe)
}

/// `Some(report)` when the documents differ: the first differing path, up to 40 differences, and
/// where both documents were written.
pub fn json_mismatch(actual: &Value, expected: &Value, what: &str) -> Option<String> {
    let diffs = json_diffs(actual, expected, 40);
    if diffs.is_empty() {
        return None;
    }
    let (pa, pe) = dump_pair(what, actual, expected);
    let mut msg = format!(
        "{what}: JSON differs; first difference at {}\n",
        diffs[0].split(": ").next().unwrap_or("?")
    );
    for d in &diffs {
        let _ = writeln!(msg, "  {d}");
    }
    if diffs.len() == 40 {
        msg.push_str("  … (more differences not shown)\n");
    }
    let _ = writeln!(
        msg,
        "  (ours: {}, expected: {}; `diff` them)",
        pa.display(),
        pe.display()
    );
    Some(msg)
}

/// Panics with a readable report (first differing JSON path first) when the documents differ.
#[track_caller]
pub fn assert_json_eq(actual: &Value, expected: &Value, what: &str) {
    if let Some(msg) = json_mismatch(actual, expected, what) {
        panic!("{msg}");
    }
}

/// Soft assertions: collects every failed check, panics once at [`Checks::finish`].
#[derive(Default)]
pub struct Checks {
    failures: Vec<String>,
}

impl Checks {
    /// Records a JSON mismatch, if any.
    pub fn json(&mut self, actual: &Value, expected: &Value, what: &str) {
        if let Some(msg) = json_mismatch(actual, expected, what) {
            eprintln!("{msg}");
            self.failures.push(msg);
        } else {
            eprintln!("ok: {what}");
        }
    }
    /// Records a failure unless `ok`.
    pub fn check(&mut self, ok: bool, msg: impl Into<String>) {
        if !ok {
            let m = msg.into();
            eprintln!("FAILED: {m}");
            self.failures.push(m);
        }
    }
    /// Records a failure.
    pub fn fail(&mut self, msg: impl Into<String>) {
        self.check(false, msg);
    }
    /// Panics listing every failure.
    #[track_caller]
    pub fn finish(self) {
        if !self.failures.is_empty() {
            panic!(
                "{} check(s) failed:\n\n{}",
                self.failures.len(),
                self.failures.join("\n")
            );
        }
    }
}

// =============================================================================================
// Stores on disk: fixtures and temp stores
// =============================================================================================

/// Storage backend of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `mlruns` folder.
    File,
    /// `mlflow.db` (SQLite).
    Sqlite,
}

impl Backend {
    /// Both backends.
    pub const ALL: [Backend; 2] = [Backend::File, Backend::Sqlite];

    /// Store entry inside a store dir: `mlruns` or `mlflow.db`.
    pub fn entry(self) -> &'static str {
        match self {
            Backend::File => "mlruns",
            Backend::Sqlite => "mlflow.db",
        }
    }

    /// Tracking URI of the store in `dir`.
    pub fn uri(self, dir: &Path) -> String {
        let p = dir.join(self.entry());
        match self {
            Backend::File => file_uri(&p),
            Backend::Sqlite => format!("sqlite:///{}", p.display()), // sqlite:////abs; sqlite:///C:\abs on Windows
        }
    }

    /// `file` or `sqlite`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::File => "file",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// `file:` URI of an absolute path, as the library (and pathlib) writes it: `file:///abs` with
/// spaces, `%` and non-ASCII percent-encoded; `file:///C:/…` on Windows.
pub fn file_uri(p: &Path) -> String {
    mlscope::store::path_to_file_uri(p)
}

/// A store in a temporary directory `dir` (`dir/mlruns` or `dir/mlflow.db` + `dir/artifacts`),
/// deleted on drop.
pub struct TempStore {
    /// The directory holding the store.
    pub dir: tempfile::TempDir,
    /// Backend.
    pub backend: Backend,
}

impl TempStore {
    /// An empty directory for a new store (the store itself does not exist yet).
    pub fn new(backend: Backend) -> TempStore {
        TempStore {
            dir: tempfile::Builder::new()
                .prefix("mlscope-test-")
                .tempdir()
                .expect("temp dir"),
            backend,
        }
    }

    /// Tracking URI.
    pub fn uri(&self) -> String {
        self.backend.uri(self.dir.path())
    }

    /// `dir/mlruns` or `dir/mlflow.db`.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join(self.backend.entry())
    }

    /// A full copy (e.g. for MLflow, which may write while reading: `.trash/`, schema upgrades).
    pub fn copy(&self) -> TempStore {
        let t = TempStore::new(self.backend);
        copy_dir_all(self.dir.path(), t.dir.path());
        t
    }
}

/// Copies a directory tree (files and directories; empty directories included).
pub fn copy_dir_all(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap_or_else(|e| panic!("mkdir {}: {e}", dst.display()));
    let entries =
        std::fs::read_dir(src).unwrap_or_else(|e| panic!("read_dir {}: {e}", src.display()));
    for entry in entries {
        let entry = entry.expect("dir entry");
        let ty = entry.file_type().expect("file type");
        let to = dst.join(entry.file_name());
        if ty.is_dir() {
            copy_dir_all(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to)
                .unwrap_or_else(|e| panic!("copy {}: {e}", entry.path().display()));
        }
    }
}

/// Directory of the committed fixtures.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A store written by real MLflow (`scripts/gen-fixtures.sh`), committed in `tests/fixtures/<name>`.
#[derive(Debug, Clone, Copy)]
pub struct Fixture {
    /// Directory name, e.g. `mlflow-3.17.2-file`.
    pub name: &'static str,
    /// The MLflow that wrote (and read, for `expected.json`) it.
    pub version: MlflowVersion,
    /// Backend.
    pub backend: Backend,
}

/// Every committed fixture.
pub const FIXTURES: [Fixture; 4] = [
    Fixture {
        name: "mlflow-3.17.2-file",
        version: MlflowVersion::V3_17_2,
        backend: Backend::File,
    },
    Fixture {
        name: "mlflow-3.17.2-sqlite",
        version: MlflowVersion::V3_17_2,
        backend: Backend::Sqlite,
    },
    Fixture {
        name: "mlflow-2.22.5-file",
        version: MlflowVersion::V2_22_5,
        backend: Backend::File,
    },
    Fixture {
        name: "mlflow-2.22.5-sqlite",
        version: MlflowVersion::V2_22_5,
        backend: Backend::Sqlite,
    },
];

impl Fixture {
    /// The fixture by name.
    pub fn named(name: &str) -> Fixture {
        *FIXTURES
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no fixture {name}"))
    }

    /// `tests/fixtures/<name>`.
    pub fn dir(&self) -> PathBuf {
        fixtures_dir().join(self.name)
    }

    /// MLflow's canonical JSON of the store (`expected.json`, not normalized).
    pub fn expected(&self) -> Value {
        let p = self.dir().join("expected.json");
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (regenerate with scripts/gen-fixtures.sh)",
                p.display()
            )
        });
        parse_json_exact(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// The path MLflow generated the fixture at (`/tmp/mlscope-fixtures/<name>`): every absolute
    /// path inside the store and `expected.json` starts with it.
    pub fn generated_at(&self) -> String {
        format!("/tmp/mlscope-fixtures/{}", self.name)
    }

    /// A fresh copy in a temp dir, with the empty directories git cannot keep recreated from
    /// `empty_dirs.txt` (MLflow 3.8+ ignores a run lacking `metrics/`, `params/` or `artifacts/`).
    /// Reading a copy keeps the checkout pristine whatever a reader writes.
    pub fn copy(&self) -> TempStore {
        let t = TempStore::new(self.backend);
        copy_dir_all(&self.dir(), t.dir.path());
        let list = self.dir().join("empty_dirs.txt");
        let text =
            std::fs::read_to_string(&list).unwrap_or_else(|e| panic!("{}: {e}", list.display()));
        for rel in text.lines().filter(|l| !l.trim().is_empty()) {
            let d = t.dir.path().join(rel);
            std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
        }
        t
    }
}

/// Finds the directory of run `run_id` in a file store (`<root>/<exp>/<run>` or
/// `<root>/.trash/<exp>/<run>`).
pub fn find_run_dir(root: &Path, run_id: &str) -> PathBuf {
    for base in [root.to_path_buf(), root.join(".trash")] {
        if let Ok(rd) = std::fs::read_dir(&base) {
            for e in rd.flatten() {
                let cand = e.path().join(run_id);
                if cand.join("meta.yaml").is_file() {
                    return cand;
                }
            }
        }
    }
    panic!("run {run_id} not found under {}", root.display())
}

/// Every run of a canonical document as `(experiment_id, run_id, run_name)`.
pub fn runs_of(doc: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for e in arr(&doc["experiments"]) {
        for r in arr(&e["runs"]) {
            out.push((
                s(&e["experiment_id"]).to_string(),
                s(&r["run_id"]).to_string(),
                s(&r["run_name"]).to_string(),
            ));
        }
    }
    out
}

/// The run named `name` in a canonical document.
pub fn run_named<'a>(doc: &'a Value, name: &str) -> &'a Value {
    arr(&doc["experiments"])
        .iter()
        .flat_map(|e| arr(&e["runs"]).iter())
        .find(|r| s(&r["run_name"]) == name)
        .unwrap_or_else(|| panic!("no run named {name}"))
}

/// Deterministic pseudo-random bytes (xorshift64*), for fuzz-style tests without a rand crate.
pub struct XorShift(pub u64);

impl XorShift {
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

// =============================================================================================
// Real MLflow (Python)
// =============================================================================================

/// The MLflow versions the project checks against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MlflowVersion {
    /// mlflow 3.17.2 (current).
    V3_17_2,
    /// mlflow-skinny 2.22.5 (last 2.x; older file/SQL formats).
    V2_22_5,
}

impl MlflowVersion {
    /// Both.
    pub const ALL: [MlflowVersion; 2] = [MlflowVersion::V3_17_2, MlflowVersion::V2_22_5];

    /// e.g. `3.17.2`.
    pub fn as_str(self) -> &'static str {
        match self {
            MlflowVersion::V3_17_2 => "3.17.2",
            MlflowVersion::V2_22_5 => "2.22.5",
        }
    }

    /// Env var naming the venv python to use.
    pub fn env_var(self) -> &'static str {
        match self {
            MlflowVersion::V3_17_2 => "MLSCOPE_MLFLOW_PYTHON_317",
            MlflowVersion::V2_22_5 => "MLSCOPE_MLFLOW_PYTHON_222",
        }
    }

    /// Alembic head of the SQL schema this version creates and accepts.
    pub fn alembic_head(self) -> &'static str {
        match self {
            MlflowVersion::V3_17_2 => "dc11669786a5",
            MlflowVersion::V2_22_5 => "0584bdc529eb",
        }
    }

    /// Where the python is looked for: `$<env_var>`, else
    /// `${MLSCOPE_CACHE:-$HOME/.cache/mlscope}/venv-mlflow-<version>/bin/python`.
    pub fn python_candidate(self) -> PathBuf {
        if let Some(p) = std::env::var_os(self.env_var()).filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        let cache = std::env::var_os("MLSCOPE_CACHE")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/mlscope")
            });
        cache.join(format!("venv-mlflow-{}/bin/python", self.as_str()))
    }

    /// The verified python (it imports mlflow of exactly this version), or why not. Checked once
    /// per test process.
    pub fn python(self) -> Result<PathBuf, String> {
        static CELLS: [OnceLock<Result<PathBuf, String>>; 2] = [OnceLock::new(), OnceLock::new()];
        let idx = self as usize;
        CELLS[idx]
            .get_or_init(|| {
                let py = self.python_candidate();
                if !py.exists() {
                    return Err(format!("{} does not exist", py.display()));
                }
                let out = mlflow_command(&py)
                    .args(["-c", "import mlflow; print(mlflow.__version__)"])
                    .output()
                    .map_err(|e| format!("cannot run {}: {e}", py.display()))?;
                let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
                if !out.status.success() || v != self.as_str() {
                    return Err(format!(
                        "{} imports mlflow '{v}', expected {} ({})",
                        py.display(),
                        self.as_str(),
                        String::from_utf8_lossy(&out.stderr).trim()
                    ));
                }
                Ok(py)
            })
            .clone()
    }
}

/// Whether `MLSCOPE_REQUIRE_MLFLOW=1` (CI): missing MLflow fails instead of skipping.
pub fn mlflow_required() -> bool {
    std::env::var("MLSCOPE_REQUIRE_MLFLOW").is_ok_and(|v| v == "1")
}

/// The python of `version`, or `None` after a LOUD skip message; panics instead when
/// `MLSCOPE_REQUIRE_MLFLOW=1`. Use as `let Some(_) = require_mlflow(v, "test") else { return };`.
#[track_caller]
pub fn require_mlflow(version: MlflowVersion, test: &str) -> Option<PathBuf> {
    match version.python() {
        Ok(p) => Some(p),
        Err(why) => {
            let banner = "!".repeat(100);
            let msg = format!(
                "SKIPPED: real MLflow not found at {} ({why}); run scripts/mlflow-venv.sh \
                 (or set {}). Test: {test}",
                version.python_candidate().display(),
                version.env_var()
            );
            // Written to the stderr handle, not with eprintln!: libtest captures (and hides for a
            // passing test) only the print macros, and this must be seen.
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "\n{banner}\n{msg}\n{banner}\n");
            if mlflow_required() {
                panic!("MLSCOPE_REQUIRE_MLFLOW=1 and {msg}");
            }
            None
        }
    }
}

/// A python command with a clean MLflow environment (no tracking URI from the caller, file store
/// allowed, no git probing), run in a throwaway working directory by [`run_python`].
fn mlflow_command(py: &Path) -> Command {
    let mut c = Command::new(py);
    for var in [
        "MLFLOW_TRACKING_URI",
        "MLFLOW_EXPERIMENT_ID",
        "MLFLOW_EXPERIMENT_NAME",
        "MLFLOW_RUN_ID",
        "MLFLOW_TRACKING_DIR",
    ] {
        c.env_remove(var);
    }
    c.env("MLFLOW_ALLOW_FILE_STORE", "true")
        .env("GIT_PYTHON_REFRESH", "quiet")
        .env("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    c
}

/// Runs a script of `scripts/` with the python of `version` in a throwaway working directory
/// (MLflow creates `./mlruns` in some code paths). Returns (exit code, stdout, stderr).
pub fn run_python(version: MlflowVersion, script: &str, args: &[&str]) -> (i32, String, String) {
    let py = version
        .python()
        .unwrap_or_else(|why| panic!("MLflow {} unavailable: {why}", version.as_str()));
    let cwd = tempfile::tempdir().expect("temp dir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(script);
    let out = mlflow_command(&py)
        .arg(&script)
        .args(args)
        .current_dir(cwd.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", py.display()));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// MLflow's canonical JSON of the store at `uri` (`mlflow_read_check.py URI --no-artifacts`,
/// plus `extra_args`, e.g. `--normalize`, `--no-histories`). Errors carry MLflow's stderr.
/// MLflow may write into the store while reading (FileStore creates `.trash/`, a 3.x SqlAlchemyStore
/// upgrades an older schema): give it a copy ([`TempStore::copy`]) unless that does not matter.
pub fn try_read_with_mlflow(
    uri: &str,
    version: MlflowVersion,
    extra_args: &[&str],
) -> Result<Value, String> {
    let mut args = vec![uri, "--no-artifacts"];
    args.extend_from_slice(extra_args);
    let (code, stdout, stderr) = run_python(version, "mlflow_read_check.py", &args);
    if code != 0 {
        return Err(format!(
            "MLflow {} could not read {uri} cleanly (exit {code}; 2 = MLflow raised, 3 = MLflow \
             logged warnings / skipped entries):\n{stderr}",
            version.as_str()
        ));
    }
    parse_json_exact(&stdout).map_err(|e| format!("bad JSON from mlflow_read_check.py: {e}"))
}

/// [`try_read_with_mlflow`] without extra arguments; panics with MLflow's stderr on failure.
#[track_caller]
pub fn read_with_mlflow(uri: &str, version: MlflowVersion) -> Value {
    try_read_with_mlflow(uri, version, &[]).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `scripts/mlflow_apply_ops.py` (real MLflow store classes) to create a NEW store at `uri`
/// from `ops`; returns the ids it created (`{"experiments": {name: id}, "runs": {name: id}}`).
#[track_caller]
pub fn apply_ops_with_mlflow(uri: &str, ops: &Value, version: MlflowVersion) -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let ops_path = dir.path().join("ops.json");
    std::fs::write(&ops_path, serde_json::to_vec_pretty(ops).expect("ops json"))
        .expect("write ops");
    let (code, stdout, stderr) = run_python(
        version,
        "mlflow_apply_ops.py",
        &[uri, ops_path.to_str().expect("utf-8 temp path")],
    );
    if code != 0 {
        panic!(
            "MLflow {} failed to apply the ops to {uri} (exit {code}):\n{stderr}",
            version.as_str()
        );
    }
    parse_json_exact(stdout.trim()).unwrap_or_else(|e| panic!("bad ids JSON {stdout:?}: {e}"))
}

/// The alembic revision of an SQLite database (read with the venv's python `sqlite3`), if any.
pub fn sqlite_alembic_version(db: &Path, version: MlflowVersion) -> Option<String> {
    let py = version.python().ok()?;
    let out = mlflow_command(&py)
        .args([
            "-c",
            "import sqlite3, sys\n\
             try:\n    print(sqlite3.connect(sys.argv[1]).execute('select version_num from alembic_version').fetchone()[0])\n\
             except Exception as e:\n    print('')",
        ])
        .arg(db)
        .output()
        .ok()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!v.is_empty()).then_some(v)
}

/// Whether MLflow `version` can open the database: 3.17.2 opens its own head and migrates older
/// (2.x) heads; 2.22.5 opens only its own head. Prints a NOTE when it cannot.
pub fn sqlite_readable_by(db: &Path, version: MlflowVersion) -> bool {
    let head = sqlite_alembic_version(db, version);
    let ok = match version {
        MlflowVersion::V3_17_2 => true,
        MlflowVersion::V2_22_5 => head.as_deref() == Some(version.alembic_head()),
    };
    if !ok {
        eprintln!(
            "NOTE: MLflow {} is not asked to read {}: its schema head is {:?}, MLflow {} only opens \
             {} (older MLflow never opens newer schemas)",
            version.as_str(),
            db.display(),
            head,
            version.as_str(),
            version.alembic_head()
        );
    }
    ok
}

/// Asks MLflow `version` to read (a copy of) `store` and checks its JSON equals `ours` (our
/// canonical reading of the same store). Returns MLflow's JSON, or `None` when MLflow was not
/// asked (SQLite schema too new for 2.22.5) or failed (recorded in `checks`). The caller must have
/// checked [`require_mlflow`].
pub fn check_mlflow_reads_like_us(
    store: &TempStore,
    ours: &Value,
    version: MlflowVersion,
    what: &str,
    checks: &mut Checks,
) -> Option<Value> {
    if store.backend == Backend::Sqlite && !sqlite_readable_by(&store.root(), version) {
        return None;
    }
    let copy = store.copy();
    match try_read_with_mlflow(&copy.uri(), version, &[]) {
        Ok(theirs) => {
            checks.json(
                ours,
                &theirs,
                &format!(
                    "{what}: mlscope reading vs MLflow {} reading the same store",
                    version.as_str()
                ),
            );
            Some(theirs)
        }
        Err(e) => {
            checks.fail(format!("{what}: MLflow {}: {e}", version.as_str()));
            None
        }
    }
}

/// Checks that each available MLflow version reads the store exactly as mlscope does
/// (canonical JSON, histories included, artifacts not compared), and that mlscope reports no
/// warnings on it. Each MLflow reads its own copy. For SQLite, MLflow 2.22.5 is only asked when
/// the database is at its schema head (see [`sqlite_readable_by`]); 3.17.2 migrates older schemas
/// in place (on its copy).
///
/// Meant for stores written by anything (scenarios, examples): write into a [`TempStore`], e.g.
/// run an example binary ([`example_binary`]) with `MLFLOW_TRACKING_URI=<store.uri()>`, then
/// call this and [`Checks::finish`].
pub fn check_store_against_mlflow(
    store: &TempStore,
    versions: &[MlflowVersion],
    what: &str,
    checks: &mut Checks,
) {
    let ours = read_canonical_uri(&store.uri(), CanonOptions::default());
    checks.check(
        ours.warnings.is_empty(),
        format!(
            "{what}: mlscope reported warnings on the store: {:?}",
            ours.warnings
        ),
    );
    for &v in versions {
        if require_mlflow(v, what).is_some() {
            check_mlflow_reads_like_us(store, &ours.doc, v, what, checks);
        }
    }
}

/// Runs a compiled example against the tracking `uri` in `cwd` (no experiment, run or
/// asynchronous-logging variables inherited) and panics with its output when it fails.
pub fn run_example(name: &str, uri: &str, cwd: &Path) {
    let output = Command::new(example_binary(name))
        .env("MLFLOW_TRACKING_URI", uri)
        .env_remove("MLFLOW_EXPERIMENT_NAME")
        .env_remove("MLFLOW_EXPERIMENT_ID")
        .env_remove("MLFLOW_RUN_ID")
        .env_remove("MLFLOW_ENABLE_ASYNC_LOGGING")
        .current_dir(cwd)
        .output()
        .expect("example runs");
    assert!(
        output.status.success(),
        "example {name} failed against {uri}:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs of the experiment named `experiment` (deleted ones too), by run name.
pub fn runs_by_name(client: &mlscope::TrackingClient, experiment: &str) -> BTreeMap<String, Run> {
    let exp = client
        .get_experiment_by_name(experiment)
        .unwrap()
        .unwrap_or_else(|| panic!("experiment {experiment} exists"));
    let mut query = RunQuery::new([exp.experiment_id]);
    query.view_type = ViewType::All;
    client
        .search_all_runs(&query)
        .unwrap()
        .items
        .into_iter()
        .map(|r| (r.info.run_name.clone(), r))
        .collect()
}

/// Path of a compiled example (`target/<profile>/examples/<name>`), next to this test binary.
///
/// Examples are not `CARGO_BIN_EXE_*` binaries and a test cannot `cargo run --example` (cargo
/// holds the build-directory lock while tests run). `cargo test --all-targets` (scripts/test.sh,
/// CI) builds the examples before running any test; with a narrower `cargo test --test X`, run
/// `cargo build --examples` first or the binary may be missing or stale. Panics with that advice
/// when it is missing.
pub fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current test binary");
    let profile_dir = exe
        .parent() // deps/
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps");
    let bin = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "example binary {} is missing: run `cargo build --examples` (scripts/test.sh builds them \
         via cargo test --all-targets)",
        bin.display()
    );
    bin
}

// =============================================================================================
// Wine
// =============================================================================================

/// The Wine version when this Windows test binary runs under Wine (ntdll exports
/// `wine_get_version` there and nowhere else), `None` on real Windows and on every other
/// platform. For skipping, under Wine only, a test that trips over a documented Wine limitation.
pub fn wine_version() -> Option<String> {
    #[cfg(windows)]
    {
        use std::ffi::{CStr, c_char, c_void};
        #[link(name = "kernel32")]
        unsafe extern "system" {
            fn GetModuleHandleA(name: *const c_char) -> *mut c_void;
            fn GetProcAddress(module: *mut c_void, name: *const c_char) -> *mut c_void;
        }
        // SAFETY: both names are NUL-terminated; ntdll is loaded in every Windows process and
        // stays loaded; `wine_get_version` takes nothing and returns a static C string.
        unsafe {
            let ntdll = GetModuleHandleA(c"ntdll.dll".as_ptr());
            if ntdll.is_null() {
                return None;
            }
            let f = GetProcAddress(ntdll, c"wine_get_version".as_ptr());
            if f.is_null() {
                return None;
            }
            let get: extern "C" fn() -> *const c_char = std::mem::transmute(f);
            let version = get();
            (!version.is_null()).then(|| CStr::from_ptr(version).to_string_lossy().into_owned())
        }
    }
    #[cfg(not(windows))]
    None
}

/// `true` (after a LOUD skip message naming `why`) when running under Wine: for
/// `if skip_under_wine("test", "reason") { return; }` in a test that a Wine limitation, not
/// mlscope, makes fail. Never skips on real Windows.
pub fn skip_under_wine(test: &str, why: &str) -> bool {
    match wine_version() {
        Some(version) => {
            eprintln!("SKIPPED under Wine {version}: {test}: {why}");
            true
        }
        None => false,
    }
}
