//! Reading experiments, runs and metric histories. Every function takes an open transaction,
//! so a multi-statement read sees one snapshot.
//!
//! Rows are decoded tolerantly: a run or experiment row that cannot be decoded (a bogus status,
//! a NULL where MLflow never writes one) is skipped and reported as a [`StoreWarning`]; a bad
//! metric, param or tag row is skipped the same way, keeping the rest of its run.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rusqlite::Transaction;
use rusqlite::types::{Value, ValueRef};

use super::connection::TxResult;
use super::schema::SchemaInfo;
use crate::error::{DatabaseErrorKind, Error, StoreWarning};
use crate::model::{
    Dataset, DatasetInput, Experiment, InputTag, LifecycleStage, Metric, Run, RunData, RunInfo,
    RunInputs, RunStatus, ViewType,
};

/// Context shared by the read functions: the file (for messages) and its schema.
pub struct Reader<'a> {
    /// Database file, named in warnings.
    pub path: &'a Path,
    /// What the schema has.
    pub schema: &'a SchemaInfo,
}

/// Rows read, plus the ones skipped.
pub struct Loaded<T> {
    /// Decoded entities.
    pub items: Vec<T>,
    /// What was skipped and why.
    pub warnings: Vec<StoreWarning>,
}

// ----- value decoding ------------------------------------------------------------------------

fn as_i64(v: ValueRef<'_>) -> Option<i64> {
    match v {
        ValueRef::Integer(i) => Some(i),
        ValueRef::Real(f) if f.fract() == 0.0 && f.is_finite() => Some(f as i64),
        ValueRef::Text(t) => std::str::from_utf8(t).ok()?.trim().parse().ok(),
        _ => None,
    }
}

fn as_f64(v: ValueRef<'_>) -> Option<f64> {
    match v {
        ValueRef::Real(f) => Some(f),
        ValueRef::Integer(i) => Some(i as f64),
        ValueRef::Text(t) => std::str::from_utf8(t).ok()?.trim().parse().ok(),
        _ => None,
    }
}

fn as_string(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        _ => None,
    }
}

/// Position of the run whose id is `v` in a load's run index, without allocating the id (the
/// param, tag and metric rows of 10,000 runs are ~350,000 look-ups).
fn run_position(index: &HashMap<String, usize>, v: ValueRef<'_>) -> Option<usize> {
    match v {
        ValueRef::Text(t) => match std::str::from_utf8(t) {
            Ok(id) => index.get(id).copied(),
            Err(_) => index.get(&String::from_utf8_lossy(t).into_owned()).copied(),
        },
        other => index.get(&as_string(other)?).copied(),
    }
}

/// MLflow's `is_nan` column: a boolean stored as 0/1.
fn as_bool(v: ValueRef<'_>) -> Option<bool> {
    as_i64(v).map(|i| i != 0)
}

/// A metric value as MLflow reads it: NaN when `is_nan`, else the stored double (±inf were
/// clamped to ±max-double when written and stay that way).
fn metric_value(value: ValueRef<'_>, is_nan: ValueRef<'_>) -> Option<f64> {
    if as_bool(is_nan)? {
        Some(f64::NAN)
    } else {
        as_f64(value)
    }
}

/// The SQL stages for a view type.
pub fn stages(view: ViewType) -> &'static [&'static str] {
    match view {
        ViewType::ActiveOnly => &["active"],
        ViewType::DeletedOnly => &["deleted"],
        ViewType::All => &["active", "deleted"],
    }
}

/// `?,?,…` with `n` placeholders (at least one, so `IN ()` is never produced).
pub fn placeholders(n: usize) -> String {
    vec!["?"; n.max(1)].join(",")
}

impl Reader<'_> {
    fn warn(&self, what: impl std::fmt::Display, message: impl Into<String>) -> StoreWarning {
        StoreWarning::new(format!("{} ({what})", self.path.display()), message)
    }

    // ----- experiments -----------------------------------------------------------------------

    /// Experiments matching `where_sql` (a condition on `experiments`), with their tags.
    pub fn load_experiments(
        &self,
        tx: &Transaction<'_>,
        where_sql: &str,
        params: &[Value],
    ) -> TxResult<Loaded<Experiment>> {
        let times = if self.schema.has_experiment_times {
            "creation_time, last_update_time"
        } else {
            "NULL, NULL"
        };
        let sql = format!(
            "SELECT experiment_id, name, artifact_location, lifecycle_stage, {times} \
             FROM experiments WHERE {where_sql} ORDER BY experiment_id"
        );
        let mut warnings = Vec::new();
        let mut experiments = Vec::new();
        {
            let mut stmt = tx.prepare_cached(&sql)?;
            let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
            while let Some(row) = rows.next()? {
                let id = as_string(row.get_ref(0)?);
                let name = as_string(row.get_ref(1)?);
                let stage = as_string(row.get_ref(3)?);
                let (Some(id), Some(name)) = (id, name) else {
                    warnings.push(self.warn(
                        "experiments",
                        "skipped an experiment row with a NULL id or name",
                    ));
                    continue;
                };
                let stage = match stage.as_deref().map(str::parse::<LifecycleStage>) {
                    Some(Ok(stage)) => stage,
                    _ => {
                        warnings.push(self.warn(
                            format_args!("experiments.experiment_id={id}"),
                            format!(
                                "skipped experiment '{name}': invalid lifecycle_stage {stage:?}"
                            ),
                        ));
                        continue;
                    }
                };
                experiments.push(Experiment {
                    experiment_id: id,
                    name,
                    artifact_location: as_string(row.get_ref(2)?).unwrap_or_default(),
                    lifecycle_stage: stage,
                    tags: BTreeMap::new(),
                    creation_time: as_i64(row.get_ref(4)?),
                    last_update_time: as_i64(row.get_ref(5)?),
                });
            }
        }
        if !experiments.is_empty() {
            let sql = format!(
                "SELECT experiment_id, \"key\", value FROM experiment_tags WHERE experiment_id IN \
                 (SELECT experiment_id FROM experiments WHERE {where_sql})"
            );
            let index: HashMap<String, usize> = experiments
                .iter()
                .enumerate()
                .map(|(i, e)| (e.experiment_id.clone(), i))
                .collect();
            let mut stmt = tx.prepare_cached(&sql)?;
            let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
            while let Some(row) = rows.next()? {
                let (Some(id), Some(key)) =
                    (as_string(row.get_ref(0)?), as_string(row.get_ref(1)?))
                else {
                    continue;
                };
                if let Some(&i) = index.get(&id) {
                    let value = as_string(row.get_ref(2)?).unwrap_or_default();
                    experiments[i].tags.insert(key, value);
                }
            }
        }
        Ok(Loaded {
            items: experiments,
            warnings,
        })
    }

    /// One experiment by numeric id.
    pub fn experiment(&self, tx: &Transaction<'_>, id: i64) -> TxResult<Option<Experiment>> {
        let loaded = self.load_experiments(tx, "experiment_id = ?", &[Value::Integer(id)])?;
        if let Some(w) = loaded.warnings.into_iter().next() {
            return Err(Error::corrupt(w.message, self.path).into());
        }
        Ok(loaded.items.into_iter().next())
    }

    /// The experiments with the given ids, in the order of `ids` (see [`Self::runs_by_ids`]).
    pub fn experiments_by_ids(
        &self,
        tx: &Transaction<'_>,
        ids: &[i64],
    ) -> TxResult<Loaded<Experiment>> {
        if ids.is_empty() {
            return Ok(Loaded {
                items: Vec::new(),
                warnings: Vec::new(),
            });
        }
        let json = serde_json::to_string(ids)
            .map_err(|e| Error::database(DatabaseErrorKind::Other, e.to_string()))?;
        let mut loaded = self.load_experiments(
            tx,
            "experiment_id IN (SELECT value FROM json_each(?))",
            &[Value::Text(json)],
        )?;
        let position: HashMap<String, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.to_string(), i))
            .collect();
        loaded
            .items
            .sort_by_key(|e| position.get(&e.experiment_id).copied());
        Ok(loaded)
    }

    /// Experiments of a view type.
    pub fn experiments_in_view(
        &self,
        tx: &Transaction<'_>,
        view: ViewType,
    ) -> TxResult<Loaded<Experiment>> {
        let st = stages(view);
        let params: Vec<Value> = st.iter().map(|s| Value::Text(s.to_string())).collect();
        self.load_experiments(
            tx,
            &format!("lifecycle_stage IN ({})", placeholders(st.len())),
            &params,
        )
    }

    // ----- runs ------------------------------------------------------------------------------

    /// Runs matching `where_sql` (a condition on `runs`), with params, tags, latest metrics and
    /// inputs, in `runs` row order.
    pub fn load_runs(
        &self,
        tx: &Transaction<'_>,
        where_sql: &str,
        params: &[Value],
    ) -> TxResult<Loaded<Run>> {
        let sql = format!(
            "SELECT run_uuid, name, experiment_id, user_id, status, start_time, end_time, \
             artifact_uri, lifecycle_stage FROM runs WHERE {where_sql}"
        );
        let p = || rusqlite::params_from_iter(params);
        let mut warnings = Vec::new();
        let mut runs: Vec<Run> = Vec::new();
        {
            let mut stmt = tx.prepare_cached(&sql)?;
            let mut rows = stmt.query(p())?;
            while let Some(row) = rows.next()? {
                let Some(run_id) = as_string(row.get_ref(0)?) else {
                    warnings.push(self.warn("runs", "skipped a run row with a NULL run_uuid"));
                    continue;
                };
                let loc = || format!("runs.run_uuid={run_id}");
                let status_text = as_string(row.get_ref(4)?);
                let Some(Ok(status)) = status_text.as_deref().map(str::parse::<RunStatus>) else {
                    warnings.push(self.warn(
                        loc(),
                        format!("skipped run {run_id}: invalid status {status_text:?}"),
                    ));
                    continue;
                };
                let stage_text = as_string(row.get_ref(8)?);
                let Some(Ok(stage)) = stage_text.as_deref().map(str::parse::<LifecycleStage>)
                else {
                    warnings.push(self.warn(
                        loc(),
                        format!("skipped run {run_id}: invalid lifecycle_stage {stage_text:?}"),
                    ));
                    continue;
                };
                let Some(experiment_id) = as_string(row.get_ref(2)?) else {
                    warnings.push(
                        self.warn(loc(), format!("skipped run {run_id}: NULL experiment_id")),
                    );
                    continue;
                };
                runs.push(Run {
                    info: RunInfo {
                        run_name: as_string(row.get_ref(1)?).unwrap_or_default(),
                        experiment_id,
                        user_id: as_string(row.get_ref(3)?).unwrap_or_default(),
                        status,
                        start_time: as_i64(row.get_ref(5)?),
                        end_time: as_i64(row.get_ref(6)?),
                        artifact_uri: as_string(row.get_ref(7)?).unwrap_or_default(),
                        lifecycle_stage: stage,
                        run_id,
                    },
                    data: RunData::default(),
                    inputs: RunInputs::default(),
                });
            }
        }
        if runs.is_empty() {
            return Ok(Loaded {
                items: runs,
                warnings,
            });
        }
        let index: HashMap<String, usize> = runs
            .iter()
            .enumerate()
            .map(|(i, r)| (r.info.run_id.clone(), i))
            .collect();
        let subquery = format!("SELECT run_uuid FROM runs WHERE {where_sql}");

        // Params.
        {
            let sql = format!(
                "SELECT run_uuid, \"key\", value FROM params WHERE run_uuid IN ({subquery})"
            );
            let mut stmt = tx.prepare_cached(&sql)?;
            let mut rows = stmt.query(p())?;
            // Gathered per run, then each map built at once: full B-tree nodes (see
            // `index::decode_run`).
            let mut params: Vec<Vec<(String, String)>> = vec![Vec::new(); runs.len()];
            while let Some(row) = rows.next()? {
                let Some(i) = run_position(&index, row.get_ref(0)?) else {
                    continue;
                };
                if let Some(key) = as_string(row.get_ref(1)?) {
                    let value = as_string(row.get_ref(2)?).unwrap_or_default();
                    params[i].push((key, value));
                }
            }
            // (Each run's maps are still empty here: built from the `runs` row alone.)
            for (run, params) in runs.iter_mut().zip(params) {
                run.data.params = params.into_iter().collect();
            }
        }
        // Tags.
        {
            let sql =
                format!("SELECT run_uuid, \"key\", value FROM tags WHERE run_uuid IN ({subquery})");
            let mut stmt = tx.prepare_cached(&sql)?;
            let mut rows = stmt.query(p())?;
            let mut tags: Vec<Vec<(String, String)>> = vec![Vec::new(); runs.len()];
            while let Some(row) = rows.next()? {
                let Some(i) = run_position(&index, row.get_ref(0)?) else {
                    continue;
                };
                if let Some(key) = as_string(row.get_ref(1)?) {
                    let value = as_string(row.get_ref(2)?).unwrap_or_default();
                    tags[i].push((key, value));
                }
            }
            for (run, tags) in runs.iter_mut().zip(tags) {
                run.data.tags = tags.into_iter().collect();
            }
        }
        // Latest metrics.
        {
            let sql = format!(
                "SELECT run_uuid, \"key\", value, timestamp, step, is_nan FROM latest_metrics \
                 WHERE run_uuid IN ({subquery})"
            );
            let mut stmt = tx.prepare_cached(&sql)?;
            let mut rows = stmt.query(p())?;
            while let Some(row) = rows.next()? {
                let Some(i) = run_position(&index, row.get_ref(0)?) else {
                    continue;
                };
                let Some(key) = as_string(row.get_ref(1)?) else {
                    continue;
                };
                let run = &runs[i].info.run_id;
                let value = metric_value(row.get_ref(2)?, row.get_ref(5)?);
                let step = as_i64(row.get_ref(4)?);
                let (Some(value), Some(step)) = (value, step) else {
                    warnings.push(self.warn(
                        format_args!("latest_metrics run_uuid={run} key={key}"),
                        format!("skipped metric '{key}' of run {run}: undecodable value or step"),
                    ));
                    continue;
                };
                let timestamp = as_i64(row.get_ref(3)?).unwrap_or(0);
                runs[i]
                    .data
                    .metrics
                    .insert(key.clone(), Metric::new(key, value, timestamp, step));
            }
        }
        // Run name fallback: pre-1.29 runs have an empty `runs.name`.
        for run in &mut runs {
            if run.info.run_name.is_empty()
                && let Some(name) = run.data.tags.get(crate::model::tags::RUN_NAME)
            {
                run.info.run_name = name.clone();
            }
        }
        if self.schema.has_inputs {
            self.load_inputs(tx, &subquery, params, &index, &mut runs, &mut warnings)?;
        }
        Ok(Loaded {
            items: runs,
            warnings,
        })
    }

    /// Dataset inputs (with tags) and model inputs of the runs selected by `subquery`.
    fn load_inputs(
        &self,
        tx: &Transaction<'_>,
        subquery: &str,
        params: &[Value],
        index: &HashMap<String, usize>,
        runs: &mut [Run],
        warnings: &mut Vec<StoreWarning>,
    ) -> TxResult<()> {
        let p = || rusqlite::params_from_iter(params);
        // input_uuid -> (run index, position in dataset_inputs)
        let mut by_input: HashMap<String, (usize, usize)> = HashMap::new();
        {
            let sql = format!(
                "SELECT i.destination_id, i.input_uuid, d.name, d.digest, d.dataset_source_type, \
                 d.dataset_source, d.dataset_schema, d.dataset_profile \
                 FROM inputs i JOIN datasets d ON i.source_id = d.dataset_uuid \
                 WHERE i.destination_type = 'RUN' AND i.destination_id IN ({subquery}) \
                 ORDER BY i.rowid"
            );
            let mut stmt = tx.prepare_cached(&sql)?;
            let mut rows = stmt.query(p())?;
            while let Some(row) = rows.next()? {
                let (Some(run), Some(input_uuid)) =
                    (as_string(row.get_ref(0)?), as_string(row.get_ref(1)?))
                else {
                    continue;
                };
                let Some(&i) = index.get(&run) else { continue };
                let (Some(name), Some(digest)) =
                    (as_string(row.get_ref(2)?), as_string(row.get_ref(3)?))
                else {
                    warnings.push(self.warn(
                        format_args!("inputs.input_uuid={input_uuid}"),
                        format!("skipped a dataset input of run {run}: NULL name or digest"),
                    ));
                    continue;
                };
                let dataset = Dataset {
                    name,
                    digest,
                    source_type: as_string(row.get_ref(4)?).unwrap_or_default(),
                    source: as_string(row.get_ref(5)?).unwrap_or_default(),
                    schema: as_string(row.get_ref(6)?),
                    profile: as_string(row.get_ref(7)?),
                };
                let inputs = &mut runs[i].inputs.dataset_inputs;
                inputs.push(DatasetInput {
                    dataset,
                    tags: Vec::new(),
                });
                by_input.insert(input_uuid, (i, inputs.len() - 1));
            }
        }
        if !by_input.is_empty() {
            let sql = format!(
                "SELECT t.input_uuid, t.name, t.value FROM input_tags t WHERE t.input_uuid IN \
                 (SELECT input_uuid FROM inputs WHERE destination_type = 'RUN' \
                 AND destination_id IN ({subquery})) ORDER BY t.rowid"
            );
            let mut stmt = tx.prepare_cached(&sql)?;
            let mut rows = stmt.query(p())?;
            while let Some(row) = rows.next()? {
                let (Some(input), Some(key)) =
                    (as_string(row.get_ref(0)?), as_string(row.get_ref(1)?))
                else {
                    continue;
                };
                if let Some(&(r, d)) = by_input.get(&input) {
                    let value = as_string(row.get_ref(2)?).unwrap_or_default();
                    runs[r].inputs.dataset_inputs[d]
                        .tags
                        .push(InputTag { key, value });
                }
            }
        }
        {
            let sql = format!(
                "SELECT source_id, destination_id FROM inputs WHERE source_type = 'RUN_INPUT' \
                 AND destination_type = 'MODEL_INPUT' AND source_id IN ({subquery}) ORDER BY rowid"
            );
            let mut stmt = tx.prepare_cached(&sql)?;
            let mut rows = stmt.query(p())?;
            while let Some(row) = rows.next()? {
                let (Some(run), Some(model)) =
                    (as_string(row.get_ref(0)?), as_string(row.get_ref(1)?))
                else {
                    continue;
                };
                if let Some(&i) = index.get(&run) {
                    runs[i].inputs.model_inputs.push(model);
                }
            }
        }
        Ok(())
    }

    /// One run by id; a row that cannot be decoded is an error here.
    pub fn run(&self, tx: &Transaction<'_>, run_id: &str) -> TxResult<Option<Run>> {
        let loaded = self.load_runs(tx, "run_uuid = ?", &[Value::Text(run_id.to_string())])?;
        if loaded.items.is_empty()
            && let Some(w) = loaded.warnings.into_iter().next()
        {
            return Err(Error::corrupt(w.message, self.path).into());
        }
        Ok(loaded.items.into_iter().next())
    }

    /// The runs with the given ids, in the order of `ids` (ids without a decodable row are
    /// left out, with a warning for an undecodable one). A fixed number of statements whatever
    /// the number of ids: the ids are bound once, as a JSON array read with `json_each`.
    pub fn runs_by_ids(&self, tx: &Transaction<'_>, ids: &[String]) -> TxResult<Loaded<Run>> {
        if ids.is_empty() {
            return Ok(Loaded {
                items: Vec::new(),
                warnings: Vec::new(),
            });
        }
        let json = serde_json::to_string(ids)
            .map_err(|e| Error::database(DatabaseErrorKind::Other, e.to_string()))?;
        let mut loaded = self.load_runs(
            tx,
            "run_uuid IN (SELECT value FROM json_each(?))",
            &[Value::Text(json)],
        )?;
        let position: HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        loaded
            .items
            .sort_by_key(|r| position.get(r.info.run_id.as_str()).copied());
        Ok(loaded)
    }

    /// The candidate runs of a search: every run of `experiment_ids` in the view.
    pub fn runs_in_experiments(
        &self,
        tx: &Transaction<'_>,
        experiment_ids: &[i64],
        view: ViewType,
    ) -> TxResult<Loaded<Run>> {
        let st = stages(view);
        let mut params: Vec<Value> = experiment_ids.iter().map(|&i| Value::Integer(i)).collect();
        params.extend(st.iter().map(|s| Value::Text(s.to_string())));
        let where_sql = format!(
            "experiment_id IN ({}) AND lifecycle_stage IN ({})",
            placeholders(experiment_ids.len()),
            placeholders(st.len())
        );
        if experiment_ids.is_empty() {
            return Ok(Loaded {
                items: Vec::new(),
                warnings: Vec::new(),
            });
        }
        self.load_runs(tx, &where_sql, &params)
    }

    // ----- metric histories ------------------------------------------------------------------

    /// Every value of `key` logged to `run_id`, ordered as MLflow orders them:
    /// `(timestamp, step, value)`.
    pub fn metric_history(
        &self,
        tx: &Transaction<'_>,
        run_id: &str,
        key: &str,
    ) -> TxResult<Vec<Metric>> {
        let mut stmt = tx.prepare_cached(
            "SELECT value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ?1 AND \"key\" = ?2 \
             ORDER BY timestamp, step, value",
        )?;
        let mut rows = stmt.query(rusqlite::params![run_id, key])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let value = metric_value(row.get_ref(0)?, row.get_ref(3)?);
            let (Some(value), Some(timestamp), Some(step)) =
                (value, as_i64(row.get_ref(1)?), as_i64(row.get_ref(2)?))
            else {
                continue;
            };
            out.push(Metric::new(key, value, timestamp, step));
        }
        Ok(out)
    }

    /// The values of `key` logged to `run_id` in rows after rowid `after`, in insertion order,
    /// and the cursor to continue from: the table's largest rowid now, so that rows of other
    /// metrics are not looked at again. The rowid range is scanned (the `+` keeps SQLite from
    /// walking the run's index instead): a few rows since the last look, however long the
    /// history.
    pub fn metric_rows_since(
        &self,
        tx: &Transaction<'_>,
        run_id: &str,
        key: &str,
        after: i64,
    ) -> TxResult<(Vec<Metric>, i64)> {
        let mut stmt = tx.prepare_cached(
            "SELECT value, timestamp, step, is_nan FROM metrics WHERE rowid > ?3 \
             AND +run_uuid = ?1 AND +\"key\" = ?2 ORDER BY rowid",
        )?;
        let mut rows = stmt.query(rusqlite::params![run_id, key, after])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let value = metric_value(row.get_ref(0)?, row.get_ref(3)?);
            let (Some(value), Some(timestamp), Some(step)) =
                (value, as_i64(row.get_ref(1)?), as_i64(row.get_ref(2)?))
            else {
                continue;
            };
            out.push(Metric::new(key, value, timestamp, step));
        }
        Ok((out, self.max_metric_rowid(tx)?.max(after)))
    }

    /// The largest rowid of the metrics table (0 when empty): every row logged later has a
    /// larger one (SQLite gives a new row the largest rowid plus one).
    pub fn max_metric_rowid(&self, tx: &Transaction<'_>) -> TxResult<i64> {
        let mut stmt = tx.prepare_cached("SELECT max(rowid) FROM metrics")?;
        Ok(stmt
            .query_row([], |row| row.get::<_, Option<i64>>(0))?
            .unwrap_or(0))
    }

    /// Whether a run row exists.
    pub fn run_exists(&self, tx: &Transaction<'_>, run_id: &str) -> TxResult<bool> {
        let mut stmt = tx.prepare_cached("SELECT 1 FROM runs WHERE run_uuid = ?1")?;
        Ok(stmt.exists([run_id])?)
    }
}
