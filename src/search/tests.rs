//! Cross-module tests: the grammar against real MLflow's answers (`testdata/mlflow_fixtures.json`,
//! produced by `testdata/gen_fixtures.py` with MLflow 3.17.2), in-memory evaluation vs compiled
//! SQL on SQLite, printing round trips, and fuzzing.

use std::collections::BTreeMap;

use rusqlite::Connection;
use serde_json::Value;

use super::sql::{
    LikeStrategy, SqlOptions, SqlValue, compile_experiment_search, compile_run_search,
};
use super::*;
use crate::model::{
    Dataset, DatasetInput, Experiment, InputTag, LifecycleStage, Metric, RunData, RunInfo,
    RunInputs, ViewType,
};

const FIXTURES: &str = include_str!("testdata/mlflow_fixtures.json");
/// MLflow's full schema, the one the SQLite store creates (no separate subset to keep in step).
const SCHEMA: &str = include_str!("../../assets/schema/mlflow-3.17-dc11669786a5.sql");

fn fixtures() -> Value {
    serde_json::from_str(FIXTURES).expect("fixtures parse")
}

fn str_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn metric_value(v: &Value) -> f64 {
    match v {
        Value::String(s) if s == "NaN" => f64::NAN,
        other => other.as_f64().expect("metric value"),
    }
}

fn runs_from(fx: &Value) -> Vec<Run> {
    fx["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| Run {
            info: RunInfo {
                run_id: r["run_id"].as_str().unwrap().into(),
                run_name: r["run_name"].as_str().unwrap().into(),
                experiment_id: r["experiment_id"].as_str().unwrap().into(),
                user_id: r["user_id"].as_str().unwrap().into(),
                status: r["status"].as_str().unwrap().parse().unwrap(),
                start_time: r["start_time"].as_i64(),
                end_time: r["end_time"].as_i64(),
                artifact_uri: r["artifact_uri"].as_str().unwrap().into(),
                lifecycle_stage: r["lifecycle_stage"].as_str().unwrap().parse().unwrap(),
            },
            data: RunData {
                metrics: r["metrics"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), Metric::new(k.clone(), metric_value(v), 0, 0)))
                    .collect(),
                params: str_map(&r["params"]),
                tags: str_map(&r["tags"]),
            },
            inputs: RunInputs {
                dataset_inputs: r["datasets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| DatasetInput {
                        dataset: Dataset {
                            name: d["name"].as_str().unwrap().into(),
                            digest: d["digest"].as_str().unwrap().into(),
                            source_type: d["source_type"].as_str().unwrap().into(),
                            source: d["source"].as_str().unwrap().into(),
                            schema: None,
                            profile: None,
                        },
                        tags: str_map(&d["tags"])
                            .into_iter()
                            .map(|(key, value)| InputTag { key, value })
                            .collect(),
                    })
                    .collect(),
                model_inputs: Vec::new(),
            },
        })
        .collect()
}

fn experiments_from(fx: &Value) -> Vec<Experiment> {
    fx["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| Experiment {
            experiment_id: e["experiment_id"].as_str().unwrap().into(),
            name: e["name"].as_str().unwrap().into(),
            artifact_location: e["artifact_location"].as_str().unwrap().into(),
            lifecycle_stage: e["lifecycle_stage"].as_str().unwrap().parse().unwrap(),
            tags: str_map(&e["tags"]),
            creation_time: e["creation_time"].as_i64(),
            last_update_time: e["last_update_time"].as_i64(),
        })
        .collect()
}

/// What a search answered: ids and next-page token, or an error.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Ok(Vec<String>, Option<String>),
    Err(String),
}

fn outcome(v: &Value) -> Outcome {
    match v.get("error") {
        Some(e) => Outcome::Err(e.as_str().unwrap_or_default().to_string()),
        None => Outcome::Ok(
            v["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string())
                .collect(),
            v["token"].as_str().map(String::from),
        ),
    }
}

fn same_kind(a: &Outcome, b: &Outcome) -> bool {
    match (a, b) {
        (Outcome::Err(_), Outcome::Err(_)) => true,
        _ => a == b,
    }
}

/// Cases where mlscope deliberately follows MLflow's FileStore rather than its SQL store (or
/// vice versa); everything else must match both.
enum Expect {
    /// In memory and SQL: error if MLflow's SQL store errs, else FileStore's answer.
    Default,
    /// In memory as FileStore (Unicode case folding), SQL as SQL store (ASCII `LOWER`).
    FileInMemorySqlInSql,
    /// Both as FileStore (MLflow's SQL store overflows on the huge integer literal).
    File,
}

fn expectation_kind(filter: &str) -> Expect {
    if filter.contains("99999999999999999999999") {
        Expect::File
    } else if filter.contains("ILIKE 'ünïcode'") || filter.contains("ILIKE 'ÜNÏCODE'") {
        Expect::FileInMemorySqlInSql
    } else {
        Expect::Default
    }
}

fn expected(case: &Value, in_memory: bool) -> Outcome {
    let sql = outcome(&case["sql"]);
    let file = outcome(&case["file"]);
    match expectation_kind(case["filter"].as_str().unwrap_or_default()) {
        Expect::File => file,
        Expect::FileInMemorySqlInSql => {
            if in_memory {
                file
            } else {
                sql
            }
        }
        Expect::Default => {
            if matches!(sql, Outcome::Err(_)) {
                sql
            } else {
                file
            }
        }
    }
}

fn case_query(case: &Value) -> (String, Vec<String>, usize, Option<String>) {
    (
        case["filter"].as_str().unwrap().to_string(),
        case["order_by"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect(),
        case["max_results"].as_u64().unwrap() as usize,
        case["page_token"].as_str().map(String::from),
    )
}

fn run_query(case: &Value) -> RunQuery {
    let (filter, order_by, max_results, page_token) = case_query(case);
    RunQuery {
        experiment_ids: vec!["1".into()],
        filter,
        view_type: ViewType::All,
        max_results,
        order_by,
        page_token,
    }
}

fn experiment_query(case: &Value) -> ExperimentQuery {
    let (filter, order_by, max_results, page_token) = case_query(case);
    ExperimentQuery {
        filter,
        view_type: ViewType::All,
        max_results,
        order_by,
        page_token,
    }
}

/// Whether MLflow-only parsing fails because of `OR`/`NOT`/parentheses.
fn uses_extension(filter: &str) -> bool {
    let ext = |m: &str| m.contains("mlscope extension");
    parse_run_filter(filter, FilterSyntax::Mlflow).is_err_and(|e| ext(&e.message))
        || parse_experiment_filter(filter, FilterSyntax::Mlflow).is_err_and(|e| ext(&e.message))
}

// ----- SQLite ---------------------------------------------------------------------------------

fn open_db(runs: &[Run], experiments: &[Experiment], case_sensitive_like: bool) -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(SCHEMA).unwrap();
    if case_sensitive_like {
        conn.execute_batch("PRAGMA case_sensitive_like = true;")
            .unwrap();
    }
    for e in experiments {
        conn.execute(
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![
                e.experiment_id.parse::<i64>().unwrap(),
                e.name,
                e.artifact_location,
                e.lifecycle_stage.as_str(),
                e.creation_time,
                e.last_update_time
            ],
        )
        .unwrap();
        for (k, v) in &e.tags {
            conn.execute(
                "INSERT INTO experiment_tags (key, value, experiment_id) VALUES (?1, ?2, ?3)",
                rusqlite::params![k, v, e.experiment_id.parse::<i64>().unwrap()],
            )
            .unwrap();
        }
    }
    for r in runs {
        let i = &r.info;
        conn.execute(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id) VALUES (?1, ?2, 'UNKNOWN', '', '', ?3, ?4, ?5, ?6, '', ?7, ?8, ?9)",
            rusqlite::params![
                i.run_id,
                i.run_name,
                i.user_id,
                i.status.as_str(),
                i.start_time,
                i.end_time,
                i.lifecycle_stage.as_str(),
                i.artifact_uri,
                i.experiment_id.parse::<i64>().unwrap()
            ],
        )
        .unwrap();
        for (k, m) in &r.data.metrics {
            let nan = m.value.is_nan();
            conn.execute(
                "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?1, ?2, 0, 0, ?3, ?4)",
                rusqlite::params![k, if nan { 0.0 } else { m.value }, nan, i.run_id],
            )
            .unwrap();
        }
        for (k, v) in &r.data.params {
            conn.execute(
                "INSERT INTO params (key, value, run_uuid) VALUES (?1, ?2, ?3)",
                rusqlite::params![k, v, i.run_id],
            )
            .unwrap();
        }
        for (k, v) in &r.data.tags {
            conn.execute(
                "INSERT INTO tags (key, value, run_uuid) VALUES (?1, ?2, ?3)",
                rusqlite::params![k, v, i.run_id],
            )
            .unwrap();
        }
        for (n, d) in r.inputs.dataset_inputs.iter().enumerate() {
            let ds_uuid = format!("ds-{}-{}", d.dataset.name, d.dataset.digest);
            conn.execute(
                "INSERT OR IGNORE INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type, dataset_source) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                rusqlite::params![
                    ds_uuid,
                    i.experiment_id.parse::<i64>().unwrap(),
                    d.dataset.name,
                    d.dataset.digest,
                    d.dataset.source_type,
                    d.dataset.source
                ],
            )
            .unwrap();
            let input_uuid = format!("in-{}-{n}", i.run_id);
            conn.execute(
                "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id) VALUES (?1, 'DATASET', ?2, 'RUN', ?3)",
                rusqlite::params![input_uuid, ds_uuid, i.run_id],
            )
            .unwrap();
            for t in &d.tags {
                conn.execute(
                    "INSERT INTO input_tags (input_uuid, name, value) VALUES (?1, ?2, ?3)",
                    rusqlite::params![input_uuid, t.key, t.value],
                )
                .unwrap();
            }
        }
        // A model input row must not be mistaken for a dataset.
        conn.execute(
            "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id) VALUES (?1, 'RUN_INPUT', ?2, 'MODEL_INPUT', 'm-1')",
            rusqlite::params![format!("mi-{}", i.run_id), i.run_id],
        )
        .unwrap();
    }
    conn
}

fn to_sqlite(params: &[SqlValue]) -> Vec<rusqlite::types::Value> {
    params
        .iter()
        .map(|p| match p {
            SqlValue::Text(s) => rusqlite::types::Value::Text(s.clone()),
            SqlValue::Integer(i) => rusqlite::types::Value::Integer(*i),
            SqlValue::Real(f) => rusqlite::types::Value::Real(*f),
        })
        .collect()
}

fn query_ids(conn: &Connection, sql: &str, params: &[SqlValue]) -> Vec<String> {
    let mut stmt = conn
        .prepare(sql)
        .unwrap_or_else(|e| panic!("prepare {sql}: {e}"));
    stmt.query_map(rusqlite::params_from_iter(to_sqlite(params)), |row| {
        let v: rusqlite::types::Value = row.get(0)?;
        Ok(match v {
            rusqlite::types::Value::Text(s) => s,
            rusqlite::types::Value::Integer(i) => i.to_string(),
            other => format!("{other:?}"),
        })
    })
    .unwrap()
    .collect::<rusqlite::Result<Vec<_>>>()
    .unwrap()
}

fn sql_run_outcome(conn: &Connection, query: &RunQuery, options: &SqlOptions) -> Outcome {
    match compile_run_search(query, options) {
        Err(e) => Outcome::Err(e.to_string()),
        Ok(s) => {
            let mut ids = query_ids(conn, &s.sql, &s.params);
            let token = s.next_page_token(ids.len());
            ids.truncate(s.max_results);
            Outcome::Ok(ids, token)
        }
    }
}

fn sql_experiment_outcome(
    conn: &Connection,
    query: &ExperimentQuery,
    options: &SqlOptions,
) -> Outcome {
    match compile_experiment_search(query, options) {
        Err(e) => Outcome::Err(e.to_string()),
        Ok(s) => {
            let mut ids = query_ids(conn, &s.sql, &s.params);
            let token = s.next_page_token(ids.len());
            ids.truncate(s.max_results);
            Outcome::Ok(ids, token)
        }
    }
}

fn mem_run_outcome(runs: &[Run], query: &RunQuery) -> Outcome {
    match search_runs_in_memory(runs.to_vec(), query) {
        Ok((page, token)) => Outcome::Ok(page.into_iter().map(|r| r.info.run_id).collect(), token),
        Err(e) => Outcome::Err(e.to_string()),
    }
}

fn mem_experiment_outcome(experiments: &[Experiment], query: &ExperimentQuery) -> Outcome {
    match search_experiments_in_memory(experiments.to_vec(), query) {
        Ok((page, token)) => {
            Outcome::Ok(page.into_iter().map(|e| e.experiment_id).collect(), token)
        }
        Err(e) => Outcome::Err(e.to_string()),
    }
}

fn sql_variants(
    runs: &[Run],
    experiments: &[Experiment],
) -> Vec<(Connection, SqlOptions, &'static str)> {
    vec![
        (
            open_db(runs, experiments, true),
            SqlOptions::default(),
            "LIKE + pragma",
        ),
        (
            open_db(runs, experiments, false),
            SqlOptions {
                like: LikeStrategy::Glob,
                ..SqlOptions::default()
            },
            "GLOB, no pragma",
        ),
    ]
}

#[test]
fn runs_match_mlflow() {
    let fx = fixtures();
    let runs = runs_from(&fx);
    let experiments = experiments_from(&fx);
    let dbs = sql_variants(&runs, &experiments);
    let mut failures = Vec::new();
    let cases = fx["run_cases"].as_array().unwrap();
    for case in cases {
        let q = run_query(case);
        if uses_extension(&q.filter) {
            // MLflow rejects OR/NOT/parentheses; mlscope's extended syntax accepts them.
            assert_eq!(
                mem_run_outcome(&runs, &q),
                sql_run_outcome(&dbs[0].0, &q, &dbs[0].1)
            );
            assert!(matches!(outcome(&case["sql"]), Outcome::Err(_)));
            continue;
        }
        let want_mem = expected(case, true);
        let got = mem_run_outcome(&runs, &q);
        if !same_kind(&got, &want_mem) {
            failures.push(format!(
                "in-memory {:?} {:?} max={} token={:?}:\n  got  {got:?}\n  want {want_mem:?}",
                q.filter, q.order_by, q.max_results, q.page_token
            ));
        }
        let want_sql = expected(case, false);
        for (conn, opts, label) in &dbs {
            let got = sql_run_outcome(conn, &q, opts);
            if !same_kind(&got, &want_sql) {
                failures.push(format!(
                    "SQL ({label}) {:?} {:?} max={}:\n  got  {got:?}\n  want {want_sql:?}",
                    q.filter, q.order_by, q.max_results
                ));
            }
        }
    }
    assert!(cases.len() > 150);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn experiments_match_mlflow() {
    let fx = fixtures();
    let runs = runs_from(&fx);
    let experiments = experiments_from(&fx);
    let dbs = sql_variants(&runs, &experiments);
    let mut failures = Vec::new();
    let cases = fx["experiment_cases"].as_array().unwrap();
    for case in cases {
        let q = experiment_query(case);
        if uses_extension(&q.filter) {
            let got = mem_experiment_outcome(&experiments, &q);
            assert_eq!(got, sql_experiment_outcome(&dbs[0].0, &q, &dbs[0].1));
            assert!(matches!(got, Outcome::Ok(..)));
            continue;
        }
        let want = expected(case, true);
        let got = mem_experiment_outcome(&experiments, &q);
        if !same_kind(&got, &want) {
            failures.push(format!(
                "in-memory {:?} {:?}:\n  got  {got:?}\n  want {want:?}",
                q.filter, q.order_by
            ));
        }
        let want = expected(case, false);
        for (conn, opts, label) in &dbs {
            let got = sql_experiment_outcome(conn, &q, opts);
            if !same_kind(&got, &want) {
                failures.push(format!(
                    "SQL ({label}) {:?} {:?}:\n  got  {got:?}\n  want {want:?}",
                    q.filter, q.order_by
                ));
            }
        }
    }
    assert!(cases.len() > 40);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Filters using the extension (OR, NOT, parentheses) and orderings: in-memory evaluation and
/// the compiled SQL must return the same runs in the same order.
#[test]
fn extended_filters_agree_between_memory_and_sql() {
    let fx = fixtures();
    let runs = runs_from(&fx);
    let experiments = experiments_from(&fx);
    let dbs = sql_variants(&runs, &experiments);
    let filters = [
        "metrics.loss > 1 OR metrics.acc > 0.9",
        "NOT metrics.loss > 0.4",
        "NOT metrics.missing = 1",
        "NOT params.opt LIKE 'a%'",
        "NOT (params.opt IS NULL)",
        "(status = 'FINISHED' OR status = 'RUNNING') AND metrics.acc >= 0.8",
        "status = 'FINISHED' OR status = 'RUNNING' AND metrics.acc >= 0.8",
        "NOT status = 'FINISHED' AND NOT end_time > 1000",
        "NOT end_time > 1000",
        "NOT end_time != 2000",
        "NOT datasets.name = 'train_ds'",
        "NOT (datasets.context = 'training' OR datasets.context = 'eval')",
        "tags.team ILIKE 'ML%' OR run_name LIKE '%a'",
        "NOT NOT metrics.loss = 0.5",
        "((metrics.loss < 1))",
        "run_id IN ('x') OR user_id = 'bob'",
        "NOT run_name LIKE '%_%' OR params.note LIKE '%\\%'",
        "metrics.loss != 0.5 OR metrics.loss = 0.5",
        "NOT (metrics.loss != 0.5 OR metrics.loss = 0.5)",
        "start_time > 1499.5 AND NOT start_time > 2000.0",
        "start_time > 1e3 OR end_time < 1e3",
        "tags.`mlflow.runName` != 'x' AND NOT tags.note IS NOT NULL",
    ];
    let orders: [&[&str]; 5] = [
        &[],
        &["metrics.loss DESC"],
        &["params.lr", "metrics.acc"],
        &["tags.note DESC", "run_name"],
        &["end_time", "status DESC"],
    ];
    let mut failures = Vec::new();
    let mut matched_any = 0;
    for f in filters {
        for o in orders {
            let q = RunQuery {
                experiment_ids: vec!["1".into()],
                filter: f.into(),
                view_type: ViewType::All,
                max_results: 1000,
                order_by: o.iter().map(|s| s.to_string()).collect(),
                page_token: None,
            };
            let mem = mem_run_outcome(&runs, &q);
            if matches!(&mem, Outcome::Ok(ids, _) if !ids.is_empty()) {
                matched_any += 1;
            }
            if matches!(mem, Outcome::Err(_)) {
                failures.push(format!("{f:?} failed in memory: {mem:?}"));
            }
            for (conn, opts, label) in &dbs {
                let got = sql_run_outcome(conn, &q, opts);
                if got != mem {
                    failures.push(format!(
                        "{f:?} {o:?} ({label}):\n  sql {got:?}\n  mem {mem:?}"
                    ));
                }
            }
            // MLflow-only syntax rejects these.
            assert!(
                parse_run_filter(f, FilterSyntax::Mlflow).is_err()
                    || parse_run_filter(f, FilterSyntax::Mlflow)
                        .unwrap()
                        .expr
                        .unwrap()
                        .is_mlflow_compatible()
            );
        }
    }
    assert!(matched_any > 50);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn paging_walks_every_run_once() {
    let fx = fixtures();
    let runs = runs_from(&fx);
    let experiments = experiments_from(&fx);
    let dbs = sql_variants(&runs, &experiments);
    for page_size in 1..=9 {
        let mut q = RunQuery {
            experiment_ids: vec!["1".into()],
            filter: String::new(),
            view_type: ViewType::All,
            max_results: page_size,
            order_by: vec!["metrics.acc DESC".into()],
            page_token: None,
        };
        let mut seen = Vec::new();
        loop {
            let mem = mem_run_outcome(&runs, &q);
            for (conn, opts, _) in &dbs {
                assert_eq!(sql_run_outcome(conn, &q, opts), mem);
            }
            let Outcome::Ok(ids, token) = mem else {
                panic!("{mem:?}")
            };
            assert!(ids.len() <= page_size);
            seen.extend(ids);
            match token {
                Some(t) => q.page_token = Some(t),
                None => break,
            }
        }
        let mut all: Vec<String> = runs.iter().map(|r| r.info.run_id.clone()).collect();
        assert_eq!(seen.len(), all.len());
        seen.sort();
        all.sort();
        assert_eq!(seen, all);
    }
}

#[test]
fn lifecycle_and_experiment_ids_in_sql() {
    let fx = fixtures();
    let mut runs = runs_from(&fx);
    runs[0].info.lifecycle_stage = LifecycleStage::Deleted;
    let experiments = experiments_from(&fx);
    let conn = open_db(&runs, &experiments, true);
    let mut q = RunQuery::new(["1"]);
    let Outcome::Ok(ids, _) = sql_run_outcome(&conn, &q, &SqlOptions::default()) else {
        panic!()
    };
    assert_eq!(ids.len(), runs.len() - 1);
    q.view_type = ViewType::DeletedOnly;
    let Outcome::Ok(ids, _) = sql_run_outcome(&conn, &q, &SqlOptions::default()) else {
        panic!()
    };
    assert_eq!(ids, vec![runs[0].info.run_id.clone()]);
    q.experiment_ids = vec!["2".into()];
    assert_eq!(
        sql_run_outcome(&conn, &q, &SqlOptions::default()),
        Outcome::Ok(vec![], None)
    );
    q.experiment_ids = vec!["abc".into()];
    assert!(matches!(
        sql_run_outcome(&conn, &q, &SqlOptions::default()),
        Outcome::Err(e) if e.contains("Invalid experiment ID 'abc'")
    ));
}

// ----- parser: valid and invalid filters ------------------------------------------------------

fn canon(filter: &str, syntax: FilterSyntax) -> String {
    match parse_run_filter(filter, syntax) {
        Ok(f) => f.to_string(),
        Err(e) => panic!("{filter:?} should parse: {e}"),
    }
}

#[track_caller]
fn err_at(filter: &str, syntax: FilterSyntax, offset: usize, needle: &str) {
    match parse_run_filter(filter, syntax) {
        Ok(f) => panic!("{filter:?} should fail, parsed as {f:?}"),
        Err(e) => {
            assert_eq!(e.offset, offset, "{filter:?}: {e}");
            assert!(
                e.to_string().contains(needle),
                "{filter:?}: {e} (wanted {needle:?})"
            );
            let full: Error = e.into();
            assert!(matches!(full, Error::InvalidParameter(_)));
        }
    }
}

#[test]
fn valid_filters_and_canonical_form() {
    use FilterSyntax::*;
    let cases = [
        (
            "metrics.x > 1 and params.p = 'a'",
            "metrics.x > 1 AND params.p = 'a'",
        ),
        ("metric.x>=-1.5", "metrics.x >= -1.5"),
        ("metrics.x > 1e3", "metrics.x > 1e3"),
        ("metrics.x != .5", "metrics.x != .5"),
        ("metrics.`f1 score` < 1", "metrics.`f1 score` < 1"),
        ("metrics.\"f1 score\" < 1", "metrics.`f1 score` < 1"),
        ("metrics.'f1 score' < 1", "metrics.`f1 score` < 1"),
        ("`metrics`.x = 1", "metrics.x = 1"),
        ("params.a.b = 'c'", "params.a.b = 'c'"),
        ("params.`a.b` = 'c'", "params.a.b = 'c'"),
        ("params.`a-b` = \"c\"", "params.`a-b` = 'c'"),
        ("params.p = 'it''s'", "params.p = 'it''s'"),
        ("params.p = \"it's\"", "params.p = \"it's\""),
        (r"params.p = 'C:\'", r"params.p = 'C:\'"),
        ("param.p like '%a_'", "params.p LIKE '%a_'"),
        ("parameters.p ILIKE 'A'", "params.p ILIKE 'A'"),
        ("params.p is null", "params.p IS NULL"),
        ("tags.t Is Not Null", "tags.t IS NOT NULL"),
        ("tags.mlflow.runName = 'x'", "tags.mlflow.runName = 'x'"),
        ("tag.`mlflow.runName` != 'x'", "tags.mlflow.runName != 'x'"),
        ("run_id IN ('a', 'b')", "run_id IN ('a', 'b')"),
        ("run_id in ('a',)", "run_id IN ('a')"),
        ("run_id not in (\"a\")", "run_id NOT IN ('a')"),
        ("attributes.run_id = 'a'", "run_id = 'a'"),
        ("attr.status = 'FINISHED'", "status = 'FINISHED'"),
        ("run.user_id LIKE 'a%'", "user_id LIKE 'a%'"),
        ("`run name` = 'x'", "run_name = 'x'"),
        ("\"Run Name\" = 'x'", "run_name = 'x'"),
        ("attribute.`Run name` ILIKE 'x'", "run_name ILIKE 'x'"),
        ("artifact_uri LIKE '%x'", "artifact_uri LIKE '%x'"),
        ("created > 5", "start_time > 5"),
        ("Created <= 5.5", "start_time <= 5.5"),
        ("end_time != 0", "end_time != 0"),
        ("dataset.name = 'd'", "datasets.name = 'd'"),
        (
            "datasets.digest IN ('a','b')",
            "datasets.digest IN ('a', 'b')",
        ),
        (
            "datasets.context NOT IN ('x')",
            "datasets.context NOT IN ('x')",
        ),
        ("metrics.x > 1 AND", "metrics.x > 1"),
        ("AND metrics.x > 1", "metrics.x > 1"),
        (
            "metrics.x > 1 and and metrics.y < 2",
            "metrics.x > 1 AND metrics.y < 2",
        ),
        (
            "metrics.x > 1 metrics.y < 2",
            "metrics.x > 1 AND metrics.y < 2",
        ),
        ("metrics.é > 1", "metrics.é > 1"),
        ("params.p = 'é'", "params.p = 'é'"),
        ("metrics.1x > 1", "metrics.1x > 1"),
        ("metrics.select > 1", "metrics.select > 1"),
        ("params.and = 'a'", "params.and = 'a'"),
        ("metrics.x\t>\n1", "metrics.x > 1"),
        ("metrics.`` > 1", "metrics.`` > 1"),
        ("metrics.`a``b` > 1", "metrics.`a``b` > 1"),
    ];
    for (input, want) in cases {
        assert_eq!(canon(input, Mlflow), want, "{input}");
        assert_eq!(canon(input, Extended), want, "{input}");
    }
    for empty in ["", "   ", "and", "AND AND", "\n"] {
        assert!(
            parse_run_filter(empty, Mlflow).unwrap().is_empty(),
            "{empty:?}"
        );
    }
}

#[test]
fn ast_shape() {
    let f = parse_run_filter("created > 5 AND run_id IN ('a')", FilterSyntax::Mlflow).unwrap();
    let Some(Expr::And(items)) = f.expr else {
        panic!()
    };
    assert_eq!(
        items[0],
        Expr::Pred(RunPredicate::NumericAttribute {
            attr: RunAttribute::StartTime,
            op: CompareOp::Gt,
            value: Number::parse("5").unwrap()
        })
    );
    assert_eq!(
        items[1],
        Expr::Pred(RunPredicate::StringAttribute {
            attr: RunAttribute::RunId,
            test: StringTest::In(vec!["a".into()])
        })
    );
    let f = parse_run_filter(
        "metrics.x > 1 OR NOT (a.run_id = 'x')",
        FilterSyntax::Extended,
    );
    assert!(f.is_err(), "unknown entity 'a'");
    let f = parse_run_filter(
        "metrics.x > 1 OR NOT params.p = 'a' AND tags.t = 'b'",
        FilterSyntax::Extended,
    )
    .unwrap();
    let Some(Expr::Or(items)) = f.expr else {
        panic!("{f:?}")
    };
    assert!(matches!(&items[1], Expr::And(a) if matches!(a[0], Expr::Not(_))));
}

#[test]
fn invalid_filters() {
    use FilterSyntax::*;
    // (filter, offset, message fragment)
    let cases: &[(&str, usize, &str)] = &[
        ("metrics.x >> 1", 11, "unexpected '>' at byte 11"),
        (
            "metrics.x > '1'",
            12,
            "Expected numeric value type for metric. Found '1'",
        ),
        (
            "metrics.x = \"1\"",
            12,
            "Expected numeric value type for metric",
        ),
        ("metrics.x > 1x", 12, "Found 1x"),
        ("metrics.x > 1e+3", 14, "unexpected '+'"),
        ("metrics.x > - 1", 12, "unexpected '-'"),
        (
            "metrics.x = NaN",
            12,
            "Expected numeric value type for metric. Found NaN",
        ),
        (
            "metrics.x IS NULL",
            10,
            "only supported for tags and params, not for 'metric' 'x'",
        ),
        ("metrics.x LIKE 1", 10, "Invalid comparator 'LIKE'"),
        ("metrics.x <> 1", 10, "invalid comparator '<>'"),
        ("metrics.x == 1", 10, "invalid comparator '=='"),
        (
            "metrics.x IN (1)",
            13,
            "Expected numeric value type for metric. Found (1)",
        ),
        (
            "metrics.x IN ('a')",
            13,
            "Expected numeric value type for metric. Found ('a')",
        ),
        (
            "run_id IN ('a', b)",
            16,
            "expected string value, punctuation, or whitespace, but got 'b'",
        ),
        ("datasets.name IN ('a', 1)", 23, "but got '1'"),
        (
            "metrics.x",
            9,
            "expected a comparison operator after 'metrics.x'",
        ),
        ("metrics.x >", 11, "expected a value after '>'"),
        ("metrics.", 8, "expected a key after '.'"),
        ("metrics.$x > 1", 8, "expected a key after '.'"),
        (
            "params.p = 1",
            11,
            "Expected a quoted string value for parameter",
        ),
        (
            "params.p = a",
            11,
            "Expected a quoted string value for parameter",
        ),
        (
            "params.p = `a`",
            11,
            "Expected a quoted string value for parameter",
        ),
        ("params.p > 'a'", 9, "Invalid comparator '>'"),
        (
            "params.p IN ('a')",
            12,
            "Expected a quoted string value for parameter",
        ),
        ("params.p NOT LIKE 'a'", 9, "invalid comparator 'NOT LIKE'"),
        ("params.p IS 'a'", 12, "unexpected ''a''"),
        ("params.p IS NOT 'a'", 16, "unexpected ''a''"),
        ("params.p = 'a", 11, "unterminated string"),
        ("tags.t = \"a", 9, "unterminated quoted name"),
        ("tags.t >= 'a'", 7, "Invalid comparator '>='"),
        (
            "run_name IN ('a')",
            12,
            "Only ['run_id'] attributes support comparison with a list",
        ),
        ("status NOT IN ('a')", 14, "Only ['run_id']"),
        (
            "status = 1",
            9,
            "Expected a quoted string value for attributes",
        ),
        ("status > 'a'", 7, "Invalid comparator '>'"),
        ("run_id IN ()", 10, "expected a non-empty list"),
        ("run_id IN (1, 2)", 11, "expected string value"),
        ("run_id IN ('a' 'b')", 15, "expected ',' or ')'"),
        ("run_id IN 'a'", 10, "expected a parenthesised list"),
        ("run_id IN ('a'", 14, "unclosed list"),
        ("run_id = ('a')", 9, "unexpected '('"),
        (
            "start_time > '1'",
            13,
            "Expected numeric value type for numeric attribute: start_time",
        ),
        ("start_time IS NULL", 11, "not for 'attribute' 'start_time'"),
        ("start_time LIKE 1", 11, "Invalid comparator 'LIKE'"),
        (
            "end_time IN (1)",
            12,
            "Expected numeric value type for numeric attribute: end_time. Found (1)",
        ),
        ("dataset.name IS NULL", 13, "not for 'dataset' 'name'"),
        ("dataset.foo = 'x'", 0, "Invalid dataset key 'foo'"),
        (
            "dataset.name = 1",
            15,
            "Expected a quoted string value for dataset attributes",
        ),
        ("foo = 'a'", 0, "Invalid attribute key 'foo' specified"),
        (
            "experiment_id = '1'",
            0,
            "Invalid attribute key 'experiment_id'",
        ),
        (
            "lifecycle_stage = 'active'",
            0,
            "Invalid attribute key 'lifecycle_stage'",
        ),
        ("metricz.x > 1", 0, "Invalid entity type 'metricz'"),
        ("METRICS.x > 1", 0, "Invalid entity type 'METRICS'"),
        ("`metrics.x` > 1", 0, "Invalid attribute key 'metrics.x'"),
        ("\"metrics\".x > 1", 0, "Invalid entity type '\"metrics\"'"),
        ("metrics.`a`.b > 1", 0, "quote the whole key"),
        ("metrics.x > 1; metrics.y > 2", 13, "unexpected ';'"),
        ("metrics.x > 1 -- c", 14, "unexpected '-'"),
        ("metrics.x-y > 1", 9, "unexpected '-'"),
        ("'run name' = 'x'", 0, "expected an identifier"),
        ("= 1", 0, "expected an identifier"),
        (
            "metrics.x > 1 metrics.y",
            23,
            "expected a comparison operator",
        ),
        (
            "metrics.x > 1.5.5",
            15,
            "expected an identifier (e.g. metrics.loss, params.lr, tags.t, status) but found '.5'",
        ),
        ("é", 2, "expected a comparison operator after 'é'"),
        ("metrics.x > 1 ✓", 14, "unexpected '✓'"),
    ];
    for (f, off, msg) in cases {
        err_at(f, Mlflow, *off, msg);
        err_at(f, Extended, *off, msg);
    }
}

#[test]
fn extension_rejected_in_mlflow_mode() {
    use FilterSyntax::*;
    err_at(
        "metrics.x > 1 OR metrics.y > 1",
        Mlflow,
        14,
        "'OR' is not supported by MLflow",
    );
    err_at("NOT metrics.x > 1", Mlflow, 0, "'NOT' is not supported");
    err_at(
        "(metrics.x > 1)",
        Mlflow,
        0,
        "a parenthesis is not supported",
    );
    err_at(
        "metrics.x > 1 AND (metrics.y > 1)",
        Mlflow,
        18,
        "parenthesis",
    );
    // and their errors in extended mode
    err_at(
        "(metrics.x > 1",
        Extended,
        14,
        "unclosed '(' opened at byte 0",
    );
    err_at("metrics.x > 1)", Extended, 13, "unexpected ')'");
    err_at("()", Extended, 1, "unexpected ')'");
    err_at("metrics.x > 1 OR", Extended, 16, "unexpected end of filter");
    err_at("OR metrics.x > 1", Extended, 0, "unexpected 'OR'");
    err_at("NOT", Extended, 3, "unexpected end of filter");
    err_at(
        "(metrics.x > 1 metrics.y",
        Extended,
        24,
        "expected a comparison operator",
    );
    let deep = format!("{}metrics.x > 1{}", "(".repeat(500), ")".repeat(500));
    err_at(&deep, Extended, 200, "nested too deeply");
    let nots = format!("{}metrics.x > 1", "NOT ".repeat(1000));
    assert!(parse_run_filter(&nots, Extended).is_err());
}

#[test]
fn experiment_filters() {
    use FilterSyntax::*;
    let ok = [
        ("name = 'a'", "name = 'a'"),
        ("attribute.name LIKE 'a%'", "name LIKE 'a%'"),
        ("`name` ILIKE 'A'", "name ILIKE 'A'"),
        ("creation_time > 5", "creation_time > 5"),
        ("last_update_time <= -1", "last_update_time <= -1"),
        ("experiment_id = '1'", "experiment_id = '1'"),
        (
            "experiment_id IN ('1', \"2\")",
            "experiment_id IN ('1', '2')",
        ),
        ("experiment_id NOT IN ('1')", "experiment_id NOT IN ('1')"),
        ("tags.t = 'x'", "tags.t = 'x'"),
        ("tag.`a b` IS NULL", "tags.`a b` IS NULL"),
        (
            "tags.t is not null and name != 'x'",
            "tags.t IS NOT NULL AND name != 'x'",
        ),
    ];
    for (input, want) in ok {
        assert_eq!(
            parse_experiment_filter(input, Mlflow).unwrap().to_string(),
            want
        );
    }
    let bad = [
        ("name IN ('a')", "Only ['experiment_id']"),
        ("name IS NULL", "only supported for tags"),
        ("name > 'a'", "Invalid comparator for string attribute: >"),
        ("name = 1", "Expected a quoted string value for attributes"),
        ("creation_time > '1'", "Expected numeric value type"),
        (
            "creation_time > 1.5",
            "Invalid value for numeric attribute 'creation_time': '1.5'",
        ),
        ("creation_time > 1e3", "Invalid value for numeric attribute"),
        (
            "creation_time > 99999999999999999999",
            "Invalid value for numeric attribute",
        ),
        (
            "creation_time LIKE 1",
            "Invalid comparator for numeric attribute: LIKE",
        ),
        (
            "experiment_id = 1",
            "Expected a quoted string value for attributes",
        ),
        (
            "experiment_id > '1'",
            "Invalid comparator for experiment_id: >",
        ),
        (
            "experiment_id LIKE '1%'",
            "Invalid comparator for experiment_id: LIKE",
        ),
        ("experiment_id = 'abc'", "Invalid experiment ID 'abc'"),
        ("experiment_id IN ('1', 'x')", "Invalid experiment ID 'x'"),
        (
            "tags.t IN ('a')",
            "Expected a quoted string value for tag (e.g. 'my-value'). Got value ('a')",
        ),
        ("tags.t > 'a'", "Invalid comparator for tag: >"),
        (
            "params.p = 'a'",
            "Invalid entity type 'params'. Valid entity types are ('attribute', 'tag', 'tags')",
        ),
        ("attributes.name = 'a'", "Invalid entity type 'attributes'"),
        (
            "lifecycle_stage = 'active'",
            "Invalid attribute key 'lifecycle_stage'",
        ),
        ("name = 'a' OR name = 'b'", "'OR' is not supported"),
    ];
    for (input, msg) in bad {
        let e = parse_experiment_filter(input, Mlflow).unwrap_err();
        assert!(e.to_string().contains(msg), "{input}: {e}");
    }
    let f = parse_experiment_filter("name = 'a' OR NOT tags.t IS NULL", Extended).unwrap();
    assert_eq!(f.to_string(), "name = 'a' OR NOT tags.t IS NULL");
}

#[test]
fn order_by_parsing() {
    let ok = [
        ("metrics.x", "metrics.x ASC"),
        ("metrics.x desc", "metrics.x DESC"),
        ("metrics.x Asc", "metrics.x ASC"),
        ("metrics.`x y` DESC", "metrics.`x y` DESC"),
        ("metrics.'x y' DESC", "metrics.`x y` DESC"),
        ("`metrics`.x", "metrics.x ASC"),
        ("tags.mlflow.runName desc", "tags.mlflow.runName DESC"),
        ("param.p", "params.p ASC"),
        ("created", "start_time ASC"),
        ("Created DESC", "start_time DESC"),
        ("attribute.end_time", "end_time ASC"),
        ("run_name", "run_name ASC"),
        ("  metrics.x   DESC  ", "metrics.x DESC"),
    ];
    for (input, want) in ok {
        let o = parse_run_order_by(&[input.to_string()]).unwrap();
        assert_eq!(o[0].to_string(), want, "{input}");
    }
    let bad = [
        ("metrics.x DESCENDING", "Invalid ordering key 'DESCENDING'"),
        ("metrics.x DESC ASC", "unexpected 'ASC'"),
        ("metrics.x, metrics.y", "Invalid ordering key ','"),
        ("metrics.x NULLS LAST", "Invalid ordering key 'NULLS'"),
        ("", "unexpected end"),
        ("run name", "Invalid ordering key 'name'"),
        ("`run name`", "Invalid attribute key 'run name'"),
        ("experiment_id", "Invalid attribute key 'experiment_id'"),
        ("dataset.name", "Invalid order_by entity type 'dataset'"),
        ("foo", "Invalid attribute key 'foo'"),
        ("metrics.x > 1", "Invalid ordering key '>'"),
    ];
    for (input, msg) in bad {
        let e = parse_run_order_by(&[input.to_string()])
            .unwrap_err()
            .to_string();
        assert!(e.contains(msg), "{input}: {e}");
        assert!(e.contains("Invalid order_by clause"), "{input}: {e}");
    }
    let dup = parse_run_order_by(&["start_time".into(), "created DESC".into()]).unwrap_err();
    assert!(
        dup.to_string()
            .contains("`order_by` contains duplicate fields")
    );
    assert!(parse_run_order_by(&["metrics.x".into(), "params.x".into()]).is_ok());

    let e = parse_experiment_order_by(&[]).unwrap();
    assert_eq!(
        e.iter().map(|o| o.to_string()).collect::<Vec<_>>(),
        ["creation_time DESC", "experiment_id ASC"]
    );
    assert!(parse_experiment_order_by(&["tags.t".into()]).is_err());
    assert!(parse_experiment_order_by(&["attr.name".into()]).is_err());
    assert!(parse_experiment_order_by(&["attribute.name DESC".into()]).is_ok());
}

// ----- ordering semantics ---------------------------------------------------------------------

fn run_with(id: &str, start: Option<i64>, metric: Option<f64>, param: Option<&str>) -> Run {
    let mut r = Run {
        info: RunInfo {
            run_id: id.into(),
            run_name: id.into(),
            experiment_id: "1".into(),
            user_id: "u".into(),
            status: crate::model::RunStatus::Finished,
            start_time: start,
            end_time: None,
            artifact_uri: String::new(),
            lifecycle_stage: LifecycleStage::Active,
        },
        data: RunData::default(),
        inputs: RunInputs::default(),
    };
    if let Some(v) = metric {
        r.data.metrics.insert("m".into(), Metric::new("m", v, 0, 0));
    }
    if let Some(p) = param {
        r.data.params.insert("p".into(), p.into());
    }
    r
}

fn order_ids(runs: &[Run], order: &[&str]) -> Vec<String> {
    let q = RunQuery {
        order_by: order.iter().map(|s| s.to_string()).collect(),
        ..RunQuery::new(["1"])
    };
    search_runs_in_memory(runs.to_vec(), &q)
        .unwrap()
        .0
        .into_iter()
        .map(|r| r.info.run_id)
        .collect()
}

#[test]
fn nan_and_missing_sort_last_both_ways() {
    let runs = vec![
        run_with("a", Some(1), Some(2.0), Some("b")),
        run_with("b", Some(2), None, None),
        run_with("c", Some(3), Some(f64::NAN), Some("a")),
        run_with("d", Some(4), Some(-1.0), None),
        run_with("e", Some(5), Some(f64::INFINITY), Some("c")),
        run_with("f", None, Some(2.0), Some("b")),
    ];
    assert_eq!(
        order_ids(&runs, &["metrics.m"]),
        ["d", "a", "f", "e", "c", "b"]
    );
    assert_eq!(
        order_ids(&runs, &["metrics.m DESC"]),
        ["e", "a", "f", "d", "c", "b"]
    );
    assert_eq!(
        order_ids(&runs, &["params.p"]),
        ["c", "a", "f", "e", "d", "b"]
    );
    assert_eq!(
        order_ids(&runs, &["params.p DESC"]),
        ["e", "a", "f", "c", "d", "b"]
    );
    // Default: start_time DESC (missing last), then run_id.
    assert_eq!(order_ids(&runs, &[]), ["e", "d", "c", "b", "a", "f"]);
    assert_eq!(
        order_ids(&runs, &["start_time"]),
        ["a", "b", "c", "d", "e", "f"]
    );
    // Ties fall back to start_time DESC then run_id ASC.
    assert_eq!(
        order_ids(&runs, &["params.p", "start_time"])[1..3],
        ["a", "f"]
    );
}

#[test]
fn experiments_sort_like_the_file_store() {
    let e = |id: &str, name: &str, ct: Option<i64>| Experiment {
        experiment_id: id.into(),
        name: name.into(),
        artifact_location: String::new(),
        lifecycle_stage: LifecycleStage::Active,
        tags: BTreeMap::new(),
        creation_time: ct,
        last_update_time: None,
    };
    let exps = vec![
        e("1", "b", Some(5)),
        e("2", "a", None),
        e("10", "c", Some(5)),
    ];
    let ids = |order: &[&str]| -> Vec<String> {
        let q = ExperimentQuery {
            order_by: order.iter().map(|s| s.to_string()).collect(),
            ..ExperimentQuery::default()
        };
        search_experiments_in_memory(exps.clone(), &q)
            .unwrap()
            .0
            .into_iter()
            .map(|e| e.experiment_id)
            .collect()
    };
    // Default: creation_time DESC (missing last), experiment_id ASC as strings.
    assert_eq!(ids(&[]), ["1", "10", "2"]);
    assert_eq!(ids(&["creation_time"]), ["10", "1", "2"]);
    assert_eq!(ids(&["name DESC"]), ["10", "1", "2"]);
    assert_eq!(ids(&["experiment_id"]), ["1", "10", "2"]);
}

// ----- round trips and fuzzing ----------------------------------------------------------------

/// Small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Whether a string in the filter ends with a backslash: such a value can only be written at
/// the very end of a filter (MLflow's quoting rule), so printing may not round-trip.
fn has_trailing_backslash(f: &RunFilter) -> bool {
    let test_has = |t: &StringTest| match t {
        StringTest::Eq(v) | StringTest::Ne(v) | StringTest::Like(v) | StringTest::ILike(v) => {
            v.ends_with('\\')
        }
        StringTest::In(vs) | StringTest::NotIn(vs) => vs.iter().any(|v| v.ends_with('\\')),
        _ => false,
    };
    f.expr.as_ref().is_some_and(|e| {
        e.predicates().iter().any(|p| match p {
            RunPredicate::Metric { key, .. } => key.ends_with('\\'),
            RunPredicate::Param { key, test } | RunPredicate::Tag { key, test } => {
                key.ends_with('\\') || test_has(test)
            }
            RunPredicate::StringAttribute { test, .. } | RunPredicate::Dataset { test, .. } => {
                test_has(test)
            }
            RunPredicate::NumericAttribute { .. } => false,
        })
    })
}

#[track_caller]
fn assert_round_trip_run(input: &str, syntax: FilterSyntax) {
    if let Ok(f) = parse_run_filter(input, syntax)
        && !has_trailing_backslash(&f)
    {
        let printed = f.to_string();
        let again = parse_run_filter(&printed, syntax)
            .unwrap_or_else(|e| panic!("{input:?} printed as {printed:?} which fails: {e}"));
        assert_eq!(again, f, "{input:?} → {printed:?}");
        assert_eq!(again.to_string(), printed);
        if f.expr.as_ref().is_none_or(|e| e.is_mlflow_compatible()) {
            assert!(parse_run_filter(&printed, FilterSyntax::Mlflow).is_ok());
        }
    }
}

/// [`has_trailing_backslash`] for experiment filters.
fn experiment_has_trailing_backslash(f: &ExperimentFilter) -> bool {
    let test_has = |t: &StringTest| match t {
        StringTest::Eq(v) | StringTest::Ne(v) | StringTest::Like(v) | StringTest::ILike(v) => {
            v.ends_with('\\')
        }
        StringTest::In(vs) | StringTest::NotIn(vs) => vs.iter().any(|v| v.ends_with('\\')),
        _ => false,
    };
    f.expr.as_ref().is_some_and(|e| {
        e.predicates().iter().any(|p| match p {
            ExperimentPredicate::Name(t) | ExperimentPredicate::ExperimentId(t) => test_has(t),
            ExperimentPredicate::Tag { key, test } => key.ends_with('\\') || test_has(test),
            ExperimentPredicate::Time { .. } => false,
        })
    })
}

#[track_caller]
fn assert_round_trip_experiment(input: &str, syntax: FilterSyntax) {
    if let Ok(f) = parse_experiment_filter(input, syntax)
        && !experiment_has_trailing_backslash(&f)
    {
        let printed = f.to_string();
        let again = parse_experiment_filter(&printed, syntax)
            .unwrap_or_else(|e| panic!("{input:?} printed as {printed:?} which fails: {e}"));
        assert_eq!(again, f, "{input:?} → {printed:?}");
        assert_eq!(again.to_string(), printed);
    }
}

/// Every filter of the MLflow search corpus (`tests/search_corpus/cases.json`, with unicode,
/// quoted and dotted keys, newlines in values…) survives print → parse unchanged.
#[test]
fn round_trip_corpus_filters() {
    let corpus: Value = serde_json::from_str(include_str!("../../tests/search_corpus/cases.json"))
        .expect("corpus JSON");
    let mut parsed = 0;
    for case in corpus["runs"].as_array().unwrap() {
        let f = case["filter"].as_str().unwrap();
        for syntax in [FilterSyntax::Mlflow, FilterSyntax::Extended] {
            assert_round_trip_run(f, syntax);
            check_no_panic(f);
        }
        parsed += usize::from(parse_run_filter(f, FilterSyntax::Mlflow).is_ok());
        for o in case["order_by"].as_array().into_iter().flatten() {
            let clause = o.as_str().unwrap().to_string();
            if let Ok(order) = parse_run_order_by(std::slice::from_ref(&clause)) {
                let printed: Vec<String> = order.iter().map(|o| o.to_string()).collect();
                assert_eq!(parse_run_order_by(&printed).unwrap(), order, "{clause}");
            }
        }
    }
    for case in corpus["experiments"].as_array().unwrap() {
        let f = case["filter"].as_str().unwrap();
        assert_round_trip_experiment(f, FilterSyntax::Mlflow);
        assert_round_trip_experiment(f, FilterSyntax::Extended);
    }
    assert!(parsed >= 200, "{parsed}");
}

#[test]
fn round_trip_fixture_filters() {
    let fx = fixtures();
    let mut n = 0;
    for case in fx["run_cases"].as_array().unwrap() {
        let f = case["filter"].as_str().unwrap();
        assert_round_trip_run(f, FilterSyntax::Mlflow);
        assert_round_trip_run(f, FilterSyntax::Extended);
        n += 1;
    }
    for case in fx["experiment_cases"].as_array().unwrap() {
        let f = case["filter"].as_str().unwrap();
        if let Ok(p) = parse_experiment_filter(f, FilterSyntax::Extended) {
            let printed = p.to_string();
            assert_eq!(
                parse_experiment_filter(&printed, FilterSyntax::Extended).unwrap(),
                p
            );
        }
    }
    assert!(n > 100);
}

const KEY_CHARS: &[&str] = &[
    "a", "b", "Z", "_", "1", ".", " ", "-", "/", "'", "\"", "`", "é", "λ", "✓", "%", "\\", ":",
];
const VALUE_CHARS: &[&str] = &[
    "a", "B", "0", " ", "%", "_", "'", "\"", "`", "\\", "é", "\n", "''", "λ", ".",
];

fn random_text(rng: &mut Rng, pool: &[&str], max: usize) -> String {
    (0..rng.below(max + 1)).map(|_| *rng.pick(pool)).collect()
}

fn random_key(rng: &mut Rng) -> String {
    loop {
        let k = random_text(rng, KEY_CHARS, 6);
        if display::is_bare_key(&k) || ['`', '"', '\''].iter().any(|q| display::quoted_ok(&k, *q)) {
            return k;
        }
    }
}

fn random_value(rng: &mut Rng) -> String {
    loop {
        let v = random_text(rng, VALUE_CHARS, 6);
        if display::quoted_ok(&v, '\'') || display::quoted_ok(&v, '"') {
            return v;
        }
    }
}

fn random_number(rng: &mut Rng) -> Number {
    let texts = [
        "0",
        "1",
        "-1",
        "0.5",
        "-.5",
        ".25",
        "1e3",
        "1.5E-3",
        "007",
        "1.",
        "12345678901234567890",
        "1e400",
    ];
    let text = texts[rng.below(texts.len())];
    Number::parse(text).unwrap()
}

fn random_test(rng: &mut Rng, allow_null: bool, allow_list: bool) -> StringTest {
    loop {
        let t = match rng.below(8) {
            0 => StringTest::Eq(random_value(rng)),
            1 => StringTest::Ne(random_value(rng)),
            2 => StringTest::Like(random_value(rng)),
            3 => StringTest::ILike(random_value(rng)),
            4 if allow_list => {
                StringTest::In((0..=rng.below(3)).map(|_| random_value(rng)).collect())
            }
            5 if allow_list => {
                StringTest::NotIn((0..=rng.below(3)).map(|_| random_value(rng)).collect())
            }
            6 if allow_null => StringTest::IsNull,
            7 if allow_null => StringTest::IsNotNull,
            _ => continue,
        };
        return t;
    }
}

fn random_predicate(rng: &mut Rng) -> RunPredicate {
    let ops = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];
    match rng.below(6) {
        0 => RunPredicate::Metric {
            key: random_key(rng),
            op: *rng.pick(&ops),
            value: random_number(rng),
        },
        1 => RunPredicate::Param {
            key: random_key(rng),
            test: random_test(rng, true, false),
        },
        2 => RunPredicate::Tag {
            key: random_key(rng),
            test: random_test(rng, true, false),
        },
        3 => {
            let attr = *rng.pick(&[
                RunAttribute::RunId,
                RunAttribute::RunName,
                RunAttribute::Status,
                RunAttribute::UserId,
                RunAttribute::ArtifactUri,
            ]);
            RunPredicate::StringAttribute {
                attr,
                test: random_test(rng, false, attr == RunAttribute::RunId),
            }
        }
        4 => RunPredicate::NumericAttribute {
            attr: *rng.pick(&[RunAttribute::StartTime, RunAttribute::EndTime]),
            op: *rng.pick(&ops),
            value: random_number(rng),
        },
        _ => RunPredicate::Dataset {
            field: *rng.pick(&[
                DatasetField::Name,
                DatasetField::Digest,
                DatasetField::Context,
            ]),
            test: random_test(rng, false, true),
        },
    }
}

fn random_expr(rng: &mut Rng, depth: usize) -> Expr<RunPredicate> {
    if depth == 0 || rng.below(3) == 0 {
        return Expr::Pred(random_predicate(rng));
    }
    match rng.below(3) {
        0 => Expr::And(
            (0..2 + rng.below(2))
                .map(|_| random_expr(rng, depth - 1))
                .collect(),
        ),
        1 => Expr::Or(
            (0..2 + rng.below(2))
                .map(|_| random_expr(rng, depth - 1))
                .collect(),
        ),
        _ => Expr::Not(Box::new(random_expr(rng, depth - 1))),
    }
}

/// Property: for random trees, print → parse gives the same tree back.
#[test]
fn print_parse_round_trip_random_trees() {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    for _ in 0..3000 {
        let f = RunFilter {
            expr: Some(random_expr(&mut rng, 3)),
        };
        let printed = f.to_string();
        let parsed = parse_run_filter(&printed, FilterSyntax::Extended)
            .unwrap_or_else(|e| panic!("{f:?} printed as {printed:?} fails: {e}"));
        assert_eq!(parsed, f, "{printed}");
        if f.expr.as_ref().unwrap().is_mlflow_compatible() {
            assert_eq!(parse_run_filter(&printed, FilterSyntax::Mlflow).unwrap(), f);
        }
    }
}

const FUZZ_FRAGMENTS: &[&str] = &[
    "metrics",
    "params",
    "tags",
    "attribute",
    "dataset",
    "run_id",
    "start_time",
    "status",
    "run_name",
    "name",
    "creation_time",
    "experiment_id",
    ".",
    "x",
    "`k y`",
    "\"q\"",
    "'v'",
    "'it''s'",
    " ",
    "  ",
    "=",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "==",
    "<>",
    "LIKE",
    "ilike",
    "IN",
    "NOT",
    "IS",
    "NULL",
    "AND",
    "or",
    "(",
    ")",
    ",",
    "1",
    "-1",
    "1.5",
    ".5",
    "1e3",
    "1e",
    "-",
    "é",
    "✓",
    "'",
    "\"",
    "`",
    "\\",
    ";",
    "%",
    "_",
    "\u{1F600}",
    "\u{0301}",
    "\t",
    "\n",
    "ASC",
    "desc",
];

fn check_no_panic(input: &str) {
    for syntax in [FilterSyntax::Mlflow, FilterSyntax::Extended] {
        match parse_run_filter(input, syntax) {
            Ok(_) => assert_round_trip_run(input, syntax),
            Err(e) => {
                assert!(e.offset <= input.len(), "{input:?}: {e}");
                assert!(input.is_char_boundary(e.offset), "{input:?}: {e}");
                let _ = e.to_string();
            }
        }
        match parse_experiment_filter(input, syntax) {
            Ok(_) => assert_round_trip_experiment(input, syntax),
            Err(e) => assert!(input.is_char_boundary(e.offset), "{input:?}: {e}"),
        }
    }
    let _ = parse_run_order_by(&[input.to_string()]);
    let _ = parse_experiment_order_by(&[input.to_string()]);
    let _ = decode_page_token(Some(input));
}

/// Thousands of random and mutated strings never panic the parser, errors point at char
/// boundaries, and whatever parses survives a print/parse round trip.
#[test]
fn fuzz_parser_never_panics() {
    let mut rng = Rng(0xF00D_CAFE_0BAD_BEEF);
    let fx = fixtures();
    let seeds: Vec<String> = fx["run_cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["filter"].as_str().unwrap().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let mut parsed_ok = 0;
    for i in 0..6000 {
        let input = if i % 2 == 0 {
            // random token soup
            (0..rng.below(12))
                .map(|_| *rng.pick(FUZZ_FRAGMENTS))
                .collect::<String>()
        } else {
            // mutate a real filter at char boundaries
            let mut chars: Vec<char> = rng.pick(&seeds).chars().collect();
            for _ in 0..1 + rng.below(3) {
                let pos = rng.below(chars.len() + 1);
                match rng.below(3) {
                    0 if pos < chars.len() => {
                        chars.remove(pos);
                    }
                    1 => {
                        for c in rng.pick(FUZZ_FRAGMENTS).chars().rev() {
                            chars.insert(pos, c);
                        }
                    }
                    _ if pos < chars.len() => {
                        chars[pos] = rng.pick(FUZZ_FRAGMENTS).chars().next().unwrap_or('x');
                    }
                    _ => {}
                }
            }
            chars.into_iter().collect()
        };
        if parse_run_filter(&input, FilterSyntax::Extended).is_ok() {
            parsed_ok += 1;
        }
        check_no_panic(&input);
    }
    assert!(parsed_ok > 300, "only {parsed_ok} fuzz inputs parsed");
}

/// Random Unicode text (all planes, control characters, quotes) never panics anything.
#[test]
fn fuzz_random_unicode() {
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    for _ in 0..4000 {
        let len = rng.below(24);
        let s: String = (0..len)
            .map(|_| match rng.below(4) {
                0 => char::from_u32(rng.below(0x80) as u32).unwrap_or('x'),
                1 => *rng.pick(&['\'', '"', '`', '(', ')', '.', ',', '%', '_', ' ', '\\']),
                2 => char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('\u{FFFD}'),
                _ => *rng.pick(&['é', 'λ', '✓', '\u{1F600}', '\u{0301}', '\u{200B}', 'İ']),
            })
            .collect();
        check_no_panic(&s);
        let mut run = run_with("r", Some(1), Some(1.0), Some(&s));
        run.data.tags.insert(s.clone(), s.clone());
        // LIKE matching with arbitrary patterns and values.
        assert!(eval::like_match(&s, &s, false), "{s:?}");
        assert!(eval::like_match(&s, &s, true), "{s:?}");
        let q = RunQuery {
            filter: format!("params.p LIKE '{}'", s.replace('\'', "")),
            ..RunQuery::new(["1"])
        };
        let _ = search_runs_in_memory(vec![run], &q);
    }
}

#[test]
fn in_memory_search_checks_arguments() {
    let q = RunQuery {
        max_results: 0,
        ..RunQuery::new(["1"])
    };
    assert!(search_runs_in_memory(vec![], &q).is_err());
    let q = RunQuery {
        filter: "metrics.x >> 1".into(),
        ..RunQuery::new(["1"])
    };
    // Errors even with no runs to evaluate (MLflow's FileStore only errs when a run exists).
    let e = search_runs_in_memory(vec![], &q).unwrap_err();
    assert_eq!(
        e.to_string(),
        "INVALID_PARAMETER_VALUE: Invalid filter 'metrics.x >> 1': unexpected '>' at byte 11"
    );
    let q = ExperimentQuery {
        page_token: Some("eyJvZmZzZXQiOiAwfQ==".into()),
        ..ExperimentQuery::default()
    };
    assert!(search_experiments_in_memory(vec![], &q).is_err());
}

/// Diagnostic: prints mlscope's and MLflow's error messages side by side
/// (`cargo test --lib print_error_messages -- --ignored --nocapture`).
#[test]
#[ignore]
fn print_error_messages() {
    let q = RunQuery {
        filter: "metrics.loss < 1 AND (run_name LIKE 'a%' OR NOT datasets.context = 'eval')".into(),
        order_by: vec!["metrics.loss DESC".into(), "params.lr".into()],
        max_results: 10,
        ..RunQuery::new(["1", "2"])
    };
    let s = compile_run_search(&q, &SqlOptions::default()).unwrap();
    println!("{}\n{:?}", s.sql, s.params);
    let fx = fixtures();
    for case in fx["run_cases"].as_array().unwrap() {
        let q = run_query(case);
        if let Outcome::Err(e) = mem_run_outcome(&runs_from(&fx), &q) {
            println!(
                "{:?} {:?}\n   ours:   {e}\n   mlflow: {:?}",
                q.filter,
                q.order_by,
                case["sql"]["error"]
                    .as_str()
                    .or(case["file"]["error"].as_str())
            );
        }
    }
    for case in fx["experiment_cases"].as_array().unwrap() {
        let q = experiment_query(case);
        if let Outcome::Err(e) = mem_experiment_outcome(&experiments_from(&fx), &q) {
            println!(
                "{:?} {:?}\n   ours:   {e}\n   mlflow: {:?}",
                q.filter,
                q.order_by,
                case["sql"]["error"].as_str()
            );
        }
    }
}

/// Differential test: the in-memory LIKE/ILIKE agree with SQLite's LIKE (with MLflow's pragma),
/// with the GLOB translation, and with `LOWER(x) LIKE LOWER(p)` on ASCII text.
#[test]
fn like_agrees_with_sqlite() {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("PRAGMA case_sensitive_like = true;")
        .unwrap();
    let mut stmt = conn
        .prepare("SELECT ?1 LIKE ?2, ?1 GLOB ?3, LOWER(?1) LIKE LOWER(?2)")
        .unwrap();
    let mut rng = Rng(0xABCD_EF01_2345_6789);
    let pool = [
        "a", "A", "b", "%", "_", "*", "?", "[", "]", "\\", "é", "É", "\n", "ab", ".",
    ];
    let mut matches = 0;
    for _ in 0..5000 {
        let v = random_text(&mut rng, &pool, 6);
        let p = random_text(&mut rng, &pool, 5);
        let (like, glob, ilike): (bool, bool, bool) = stmt
            .query_row(rusqlite::params![v, p, sql::like_to_glob(&p)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        let mine = eval::like_match(&v, &p, false);
        assert_eq!(mine, like, "{v:?} LIKE {p:?}");
        assert_eq!(mine, glob, "{v:?} GLOB {:?}", sql::like_to_glob(&p));
        if v.is_ascii() && p.is_ascii() {
            assert_eq!(eval::like_match(&v, &p, true), ilike, "{v:?} ILIKE {p:?}");
        }
        matches += usize::from(mine);
    }
    assert!(matches > 150, "{matches}");
}

fn vocab_test(rng: &mut Rng, values: &[&str], allow_null: bool, allow_list: bool) -> StringTest {
    let v = |rng: &mut Rng| rng.pick(values).to_string();
    loop {
        return match rng.below(8) {
            0 => StringTest::Eq(v(rng)),
            1 => StringTest::Ne(v(rng)),
            2 => StringTest::Like(v(rng)),
            3 => StringTest::ILike(v(rng)),
            4 if allow_list => StringTest::In((0..=rng.below(3)).map(|_| v(rng)).collect()),
            5 if allow_list => StringTest::NotIn((0..=rng.below(3)).map(|_| v(rng)).collect()),
            6 if allow_null => StringTest::IsNull,
            7 if allow_null => StringTest::IsNotNull,
            _ => continue,
        };
    }
}

fn vocab_predicate(rng: &mut Rng, run_ids: &[&str]) -> RunPredicate {
    const STRS: &[&str] = &[
        "0.01", "0.1", "", "adam", "ADAM", "a%", "%a%", "0._1", "ml%", "ml-core", "ML-%", "%core",
        "ml_core", "x", "100%", "%", "_", "it's", "alpha", "beta", "eta", "%a", "FINISHED",
        "RUNNING", "F%", "alice", "bob", "%o%", "train_ds", "eval_ds", "d_", "training", "eval",
        "%ing", "line1%", "%line2", "e%", "zeta%_",
    ];
    let ops = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];
    let nums = [
        "0", "0.5", "-1", "1", "0.9", "1e20", "-0", "2", "0.25", "1500", "2000", "1499.5", "4000",
        "1e400",
    ];
    let num = |rng: &mut Rng| Number::parse(nums[rng.below(nums.len())]).unwrap();
    match rng.below(6) {
        0 => RunPredicate::Metric {
            key: rng
                .pick(&["loss", "acc", "big", "neg", "x", "f1 score", "missing"])
                .to_string(),
            op: *rng.pick(&ops),
            value: num(rng),
        },
        1 => RunPredicate::Param {
            key: rng
                .pick(&["lr", "opt", "note", "a.b", "missing"])
                .to_string(),
            test: vocab_test(rng, STRS, true, false),
        },
        2 => RunPredicate::Tag {
            key: rng
                .pick(&["team", "note", "mlflow.runName", "missing"])
                .to_string(),
            test: vocab_test(rng, STRS, true, false),
        },
        3 => {
            let attr = *rng.pick(&[
                RunAttribute::RunId,
                RunAttribute::RunName,
                RunAttribute::Status,
                RunAttribute::UserId,
                RunAttribute::ArtifactUri,
            ]);
            let test = if attr == RunAttribute::RunId && rng.below(2) == 0 {
                vocab_test(rng, run_ids, false, true)
            } else {
                vocab_test(rng, STRS, false, false)
            };
            RunPredicate::StringAttribute { attr, test }
        }
        4 => RunPredicate::NumericAttribute {
            attr: *rng.pick(&[RunAttribute::StartTime, RunAttribute::EndTime]),
            op: *rng.pick(&ops),
            value: num(rng),
        },
        _ => RunPredicate::Dataset {
            field: *rng.pick(&[
                DatasetField::Name,
                DatasetField::Digest,
                DatasetField::Context,
            ]),
            test: vocab_test(rng, STRS, false, true),
        },
    }
}

fn vocab_expr(rng: &mut Rng, depth: usize, run_ids: &[&str]) -> Expr<RunPredicate> {
    if depth == 0 || rng.below(3) == 0 {
        return Expr::Pred(vocab_predicate(rng, run_ids));
    }
    match rng.below(3) {
        0 => Expr::And(
            (0..2 + rng.below(2))
                .map(|_| vocab_expr(rng, depth - 1, run_ids))
                .collect(),
        ),
        1 => Expr::Or(
            (0..2 + rng.below(2))
                .map(|_| vocab_expr(rng, depth - 1, run_ids))
                .collect(),
        ),
        _ => Expr::Not(Box::new(vocab_expr(rng, depth - 1, run_ids))),
    }
}

/// Differential test: random filters and orderings over the fixture runs give the same pages in
/// memory and in SQLite (both LIKE strategies).
#[test]
fn random_filters_agree_between_memory_and_sql() {
    let fx = fixtures();
    let runs = runs_from(&fx);
    let experiments = experiments_from(&fx);
    let dbs = sql_variants(&runs, &experiments);
    let ids: Vec<String> = runs.iter().map(|r| r.info.run_id.clone()).collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let order_keys = [
        "metrics.loss",
        "metrics.acc",
        "metrics.missing",
        "params.lr",
        "params.opt",
        "tags.team",
        "tags.note",
        "start_time",
        "end_time",
        "status",
        "run_name",
        "user_id",
        "run_id",
        "artifact_uri",
        "metrics.neg",
        "params.missing",
    ];
    let mut rng = Rng(0xD1FF_0000_1234_5678);
    let (mut nonempty, mut partial) = (0, 0);
    for _ in 0..1500 {
        let f = RunFilter {
            expr: Some(vocab_expr(&mut rng, 3, &id_refs)),
        };
        let mut order: Vec<String> = Vec::new();
        for _ in 0..rng.below(3) {
            let k = rng.pick(&order_keys).to_string();
            if !order.iter().any(|o| o.starts_with(&k)) {
                order.push(format!(
                    "{k} {}",
                    if rng.below(2) == 0 { "ASC" } else { "DESC" }
                ));
            }
        }
        let q = RunQuery {
            experiment_ids: vec!["1".into()],
            filter: f.to_string(),
            view_type: ViewType::All,
            max_results: 1 + rng.below(9),
            order_by: order,
            page_token: None,
        };
        let mem = mem_run_outcome(&runs, &q);
        let Outcome::Ok(ref page, _) = mem else {
            panic!("{q:?}: {mem:?}")
        };
        nonempty += usize::from(!page.is_empty());
        partial += usize::from(!page.is_empty() && page.len() < runs.len());
        for (conn, opts, label) in &dbs {
            let got = sql_run_outcome(conn, &q, opts);
            assert_eq!(got, mem, "{label}: {} {:?}", q.filter, q.order_by);
        }
    }
    assert!(nonempty > 500 && partial > 300, "{nonempty} {partial}");
}

/// Long inputs parse in linear-ish time (no quadratic rescans of quoted strings).
#[test]
fn long_inputs_are_fast() {
    let start = std::time::Instant::now();
    let many = "params.p = 'x' AND tags.`a b` != \"y\" AND ".repeat(5000);
    let f = parse_run_filter(&many, FilterSyntax::Mlflow).unwrap();
    assert_eq!(f.expr.unwrap().predicates().len(), 10_000);
    let escapes = format!("params.p = '{}'", "\\'".repeat(50_000));
    assert!(parse_run_filter(&escapes, FilterSyntax::Mlflow).is_ok());
    let unterminated = format!("params.p = '{}", "a''".repeat(50_000));
    assert!(parse_run_filter(&unterminated, FilterSyntax::Mlflow).is_err());
    let quotes = "'".repeat(20_001);
    assert!(parse_run_filter(&quotes, FilterSyntax::Extended).is_err());
    assert!(
        start.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

/// The documented corner cases where mlscope and MLflow differ stay as documented.
#[test]
fn documented_differences() {
    use FilterSyntax::Mlflow;
    for accepted in [
        "  ",
        "params.p IS NOT  NULL",
        "metrics.123 > 1",
        "tags.in = 'x'",
    ] {
        assert!(parse_run_filter(accepted, Mlflow).is_ok(), "{accepted:?}");
    }
    assert!(parse_run_order_by(&[" metrics.x  DESC ".into()]).is_ok());
    for rejected in [
        "metrics.`a`.b > 1",
        "run_id = ('a')",
        "metrics. > 1",
        "metrics.x > 1.e3",
    ] {
        assert!(parse_run_filter(rejected, Mlflow).is_err(), "{rejected:?}");
    }
    // List items are verbatim (MLflow would process Python escapes).
    let f = parse_run_filter(r"run_id IN ('a\nb')", Mlflow).unwrap();
    assert_eq!(f.to_string(), r"run_id IN ('a\nb')");
}

/// A long flat `AND`/`OR` chain compiles to SQL SQLite accepts (a balanced tree: SQLite
/// refuses expression trees deeper than 1000) and answers like the in-memory evaluation; so
/// does an IN list longer than SQLite's bound-parameter limit.
#[test]
fn long_chains_and_lists_compile_to_sql_sqlite_accepts() {
    let fx = fixtures();
    let runs = runs_from(&fx);
    let experiments = experiments_from(&fx);
    let conn = open_db(&runs, &experiments, true);
    let ids: Vec<String> = runs
        .iter()
        .map(|r| format!("'{}'", r.info.run_id))
        .collect();
    let many_ids: Vec<String> = (0..40_000)
        .map(|i| format!("'{i:032x}'"))
        .chain(ids.iter().take(2).cloned())
        .collect();
    for filter in [
        vec!["attributes.status != 'NONE'"; 3000].join(" AND "),
        vec!["attributes.status = 'NONE'"; 3000].join(" OR ") + " OR attributes.run_name != ''",
        format!("attributes.run_id IN ({})", many_ids.join(", ")),
    ] {
        let q = RunQuery {
            filter,
            ..RunQuery::new(["1", "2"])
        };
        let sql = sql_run_outcome(&conn, &q, &SqlOptions::default());
        assert!(
            matches!(&sql, Outcome::Ok(ids, _) if !ids.is_empty()),
            "{sql:?}"
        );
        assert_eq!(sql, mem_run_outcome(&runs, &q));
    }
}
