//! Writing: the statements MLflow's `SqlAlchemyStore` issues, with its encodings. Every
//! function runs inside the caller's `BEGIN IMMEDIATE` transaction and may be re-run when the
//! transaction is retried, so none has effects outside the database. Input is validated by the
//! caller before the transaction starts.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Transaction};

use super::connection::{TxResult, is_unique_violation};
use super::read::Reader;
use crate::error::{DatabaseErrorKind, Error};
use crate::model::{
    DatasetInput, LifecycleStage, Metric, Param, Run, RunInfo, RunStatus, RunTag, tags,
};

/// `1.7976931348623157e308`: what MLflow stores for +inf (and its negation for -inf).
pub const MAX_DOUBLE: f64 = f64::MAX;

/// MLflow's `sanitize_metric_value`: NaN → `(true, 0.0)`, ±inf → `(false, ±max double)`.
pub fn sanitize_metric_value(value: f64) -> (bool, f64) {
    if value.is_nan() {
        (true, 0.0)
    } else if value == f64::INFINITY {
        (false, MAX_DOUBLE)
    } else if value == f64::NEG_INFINITY {
        (false, -MAX_DOUBLE)
    } else {
        (false, value)
    }
}

/// A `latest_metrics` row as stored (value already sanitised).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Latest {
    value: f64,
    timestamp: i64,
    step: i64,
    is_nan: bool,
}

impl Latest {
    /// MLflow's `_compare_metrics`: `(step, timestamp, value)` strictly greater, on stored values.
    fn is_newer_than(&self, other: &Latest) -> bool {
        (self.step, self.timestamp) > (other.step, other.timestamp)
            || ((self.step, self.timestamp) == (other.step, other.timestamp)
                && self.value > other.value)
    }
}

/// Python's `repr` of a string, for error messages that quote MLflow's.
fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Parses an experiment id as MLflow's SQL store does (`int(experiment_id)`).
pub fn parse_experiment_id(experiment_id: &str) -> Result<i64, Error> {
    experiment_id.trim().parse::<i64>().map_err(|_| {
        Error::InvalidParameter(format!(
            "Invalid experiment ID '{experiment_id}'. Experiment ID must be a valid integer."
        ))
    })
}

/// MLflow's `append_to_uri_path(uri, parts…)`: joins POSIX parts onto the path of a URI (or of
/// a plain path), keeping any query string or fragment at the end.
pub fn append_to_uri_path(uri: &str, parts: &[&str]) -> String {
    let scheme_len = uri
        .find(':')
        .filter(|&i| {
            i > 1
                && uri[..i]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        })
        .map(|i| i + 1);
    let join = |base: &str| -> String {
        let mut out = base.to_string();
        for part in parts {
            let part = part.trim_start_matches('/');
            if out.is_empty() {
                out.push_str(part);
            } else {
                if !out.ends_with('/') {
                    out.push('/');
                }
                out.push_str(part);
            }
        }
        out
    };
    let Some(scheme_len) = scheme_len else {
        return join(uri);
    };
    let (head, rest) = uri.split_at(scheme_len);
    let tail_at = rest.find(['?', '#']).unwrap_or(rest.len());
    let (path_part, tail) = rest.split_at(tail_at);
    // `scheme://netloc/path`: the netloc is not part of the path.
    let (netloc, path) = match path_part.strip_prefix("//") {
        Some(after) => {
            let slash = after.find('/').unwrap_or(after.len());
            (&path_part[..2 + slash], &after[slash..])
        }
        None => ("", path_part),
    };
    let mut joined = join(path);
    if !netloc.is_empty() && !joined.starts_with('/') {
        joined.insert(0, '/');
    }
    format!("{head}{netloc}{joined}{tail}")
}

/// Context of the write functions.
pub struct Writer<'a> {
    /// For re-reading what was written.
    pub reader: Reader<'a>,
    /// Default artifact root of new experiments.
    pub artifact_root: &'a str,
}

/// The parts of a `runs` row the write paths check.
struct RunRow {
    experiment_id: i64,
    lifecycle_stage: String,
}

impl Writer<'_> {
    fn run_row(&self, tx: &Transaction<'_>, run_id: &str) -> TxResult<RunRow> {
        let mut stmt = tx.prepare_cached(
            "SELECT experiment_id, lifecycle_stage FROM runs WHERE run_uuid = ?1",
        )?;
        let row = stmt
            .query_row([run_id], |r| {
                Ok(RunRow {
                    experiment_id: r.get::<_, Option<i64>>(0)?.unwrap_or(-1),
                    lifecycle_stage: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                })
            })
            .optional()?;
        row.ok_or_else(|| Error::NotFound(format!("Run with id={run_id} not found")).into())
    }

    /// MLflow's `_check_run_is_active`.
    fn active_run(&self, tx: &Transaction<'_>, run_id: &str) -> TxResult<RunRow> {
        let row = self.run_row(tx, run_id)?;
        if row.lifecycle_stage != LifecycleStage::Active.as_str() {
            return Err(Error::InvalidParameter(format!(
                "The run {run_id} must be in the 'active' state. Current state is {}.",
                row.lifecycle_stage
            ))
            .into());
        }
        Ok(row)
    }

    /// `(lifecycle_stage, artifact_location)` of an experiment, or NotFound.
    fn experiment_row(&self, tx: &Transaction<'_>, id: i64) -> TxResult<(String, String)> {
        let mut stmt = tx.prepare_cached(
            "SELECT lifecycle_stage, artifact_location FROM experiments WHERE experiment_id = ?1",
        )?;
        let row = stmt
            .query_row([id], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                    r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                ))
            })
            .optional()?;
        row.ok_or_else(|| Error::NotFound(format!("No Experiment with id={id} exists")).into())
    }

    /// MLflow's `_check_experiment_is_active`.
    fn active_experiment(&self, tx: &Transaction<'_>, id: i64) -> TxResult<String> {
        let (stage, location) = self.experiment_row(tx, id)?;
        if stage != LifecycleStage::Active.as_str() {
            return Err(Error::InvalidParameter(format!(
                "The experiment {id} must be in the 'active' state. Current state is {stage}."
            ))
            .into());
        }
        Ok(location)
    }

    // ----- experiments -----------------------------------------------------------------------

    /// Inserts an experiment (id = max+1, SQLite's rowid rule) with its tags.
    pub fn create_experiment(
        &self,
        tx: &Transaction<'_>,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[(String, String)],
        now: i64,
    ) -> TxResult<String> {
        let exists = tx
            .prepare_cached("SELECT 1 FROM experiments WHERE name = ?1")?
            .exists([name])?;
        let already = || Error::AlreadyExists(format!("Experiment(name={name}) already exists."));
        if exists {
            return Err(already().into());
        }
        let sql = if self.reader.schema.has_workspace {
            "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, \
             last_update_time, workspace) VALUES (?1, ?2, 'active', ?3, ?3, 'default')"
        } else {
            "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, \
             last_update_time) VALUES (?1, ?2, 'active', ?3, ?3)"
        };
        match tx
            .prepare_cached(sql)?
            .execute(rusqlite::params![name, artifact_location, now])
        {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(already().into()),
            Err(e) => return Err(e.into()),
        }
        let id = tx.last_insert_rowid();
        if artifact_location.is_none() {
            let location = append_to_uri_path(self.artifact_root, &[&id.to_string()]);
            tx.prepare_cached(
                "UPDATE experiments SET artifact_location = ?1 WHERE experiment_id = ?2",
            )?
            .execute(rusqlite::params![location, id])?;
        }
        let mut insert = tx.prepare_cached(
            "INSERT INTO experiment_tags (\"key\", value, experiment_id) VALUES (?1, ?2, ?3) \
             ON CONFLICT (\"key\", experiment_id) DO UPDATE SET value = excluded.value",
        )?;
        for (key, value) in tags {
            insert.execute(rusqlite::params![key, value, id])?;
        }
        Ok(id.to_string())
    }

    /// Renames an active experiment and bumps `last_update_time`.
    pub fn rename_experiment(
        &self,
        tx: &Transaction<'_>,
        id: i64,
        new_name: &str,
        now: i64,
    ) -> TxResult<()> {
        let (stage, _) = self.experiment_row(tx, id)?;
        if stage != LifecycleStage::Active.as_str() {
            return Err(
                Error::InvalidState("Cannot rename a non-active experiment.".into()).into(),
            );
        }
        let taken = tx
            .prepare_cached("SELECT 1 FROM experiments WHERE name = ?1 AND experiment_id != ?2")?
            .exists(rusqlite::params![new_name, id])?;
        let already =
            || Error::AlreadyExists(format!("Experiment(name={new_name}) already exists."));
        if taken {
            return Err(already().into());
        }
        match tx
            .prepare_cached(
                "UPDATE experiments SET name = ?1, last_update_time = ?2 WHERE experiment_id = ?3",
            )?
            .execute(rusqlite::params![new_name, now, id])
        {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(already().into()),
            Err(e) => Err(e.into()),
        }
    }

    /// MLflow's `delete_experiment`: the (active) experiment becomes deleted and **every** run
    /// in it is marked deleted with `deleted_time` = now (already-deleted runs included, as
    /// MLflow's SQL store does).
    pub fn delete_experiment(&self, tx: &Transaction<'_>, id: i64, now: i64) -> TxResult<()> {
        let (stage, _) = self.experiment_row(tx, id)?;
        if stage != LifecycleStage::Active.as_str() {
            return Err(Error::NotFound(format!("No Experiment with id={id} exists")).into());
        }
        tx.prepare_cached(
            "UPDATE experiments SET lifecycle_stage = 'deleted', last_update_time = ?1 \
             WHERE experiment_id = ?2",
        )?
        .execute(rusqlite::params![now, id])?;
        let run_ids: Vec<String> = tx
            .prepare_cached("SELECT run_uuid FROM runs WHERE experiment_id = ?1")?
            .query_map([id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for run_id in run_ids {
            self.mark_run_deleted(tx, &run_id, now)?;
        }
        Ok(())
    }

    /// MLflow's `restore_experiment`: the (deleted) experiment and all its runs become active.
    pub fn restore_experiment(&self, tx: &Transaction<'_>, id: i64, now: i64) -> TxResult<()> {
        let (stage, _) = self.experiment_row(tx, id)?;
        if stage != LifecycleStage::Deleted.as_str() {
            return Err(Error::NotFound(format!("No Experiment with id={id} exists")).into());
        }
        tx.prepare_cached(
            "UPDATE experiments SET lifecycle_stage = 'active', last_update_time = ?1 \
             WHERE experiment_id = ?2",
        )?
        .execute(rusqlite::params![now, id])?;
        self.mark_runs_active(tx, "experiment_id = ?1", &id)?;
        Ok(())
    }

    /// Sets (inserts or overwrites) an experiment tag of an active experiment.
    pub fn set_experiment_tag(
        &self,
        tx: &Transaction<'_>,
        id: i64,
        key: &str,
        value: &str,
    ) -> TxResult<()> {
        self.active_experiment(tx, id)?;
        tx.prepare_cached(
            "INSERT INTO experiment_tags (\"key\", value, experiment_id) VALUES (?1, ?2, ?3) \
             ON CONFLICT (\"key\", experiment_id) DO UPDATE SET value = excluded.value",
        )?
        .execute(rusqlite::params![key, value, id])?;
        Ok(())
    }

    /// Deletes an experiment tag of an active experiment; NotFound when absent.
    pub fn delete_experiment_tag(&self, tx: &Transaction<'_>, id: i64, key: &str) -> TxResult<()> {
        self.active_experiment(tx, id)?;
        let n = tx
            .prepare_cached(
                "DELETE FROM experiment_tags WHERE experiment_id = ?1 AND \"key\" = ?2",
            )?
            .execute(rusqlite::params![id, key])?;
        if n == 0 {
            return Err(Error::NotFound(format!(
                "No tag with name: {key} in experiment with id {id}"
            ))
            .into());
        }
        Ok(())
    }

    // ----- runs ------------------------------------------------------------------------------

    /// MLflow's `create_run`: status RUNNING, source_type `UNKNOWN`, empty legacy source
    /// columns, name in `runs.name` and tag `mlflow.runName`.
    #[allow(clippy::too_many_arguments)]
    pub fn create_run(
        &self,
        tx: &Transaction<'_>,
        run_id: &str,
        experiment_id: i64,
        user_id: &str,
        start_time: i64,
        run_name: &str,
        run_tags: &[RunTag],
    ) -> TxResult<Run> {
        let location = self.active_experiment(tx, experiment_id)?;
        let artifact_uri = append_to_uri_path(&location, &[run_id, "artifacts"]);
        tx.prepare_cached(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, \
             status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, \
             experiment_id, deleted_time) VALUES (?1, ?2, 'UNKNOWN', '', '', ?3, 'RUNNING', ?4, \
             NULL, '', 'active', ?5, ?6, NULL)",
        )?
        .execute(rusqlite::params![
            run_id,
            run_name,
            user_id,
            start_time,
            artifact_uri,
            experiment_id
        ])?;
        let mut upsert = tx.prepare_cached(
            "INSERT INTO tags (\"key\", value, run_uuid) VALUES (?1, ?2, ?3) \
             ON CONFLICT (\"key\", run_uuid) DO UPDATE SET value = excluded.value",
        )?;
        for tag in run_tags {
            upsert.execute(rusqlite::params![tag.key, tag.value, run_id])?;
        }
        drop(upsert);
        self.reader.run(tx, run_id)?.ok_or_else(|| {
            Error::database(
                DatabaseErrorKind::Other,
                format!("run {run_id} vanished after insert"),
            )
            .into()
        })
    }

    /// MLflow's `update_run_info` (active runs only). A non-empty `run_name` renames the run
    /// in `runs.name` and tag `mlflow.runName`.
    pub fn update_run_info(
        &self,
        tx: &Transaction<'_>,
        run_id: &str,
        status: Option<RunStatus>,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> TxResult<RunInfo> {
        self.active_run(tx, run_id)?;
        if let Some(status) = status {
            tx.prepare_cached("UPDATE runs SET status = ?1 WHERE run_uuid = ?2")?
                .execute(rusqlite::params![status.as_str(), run_id])?;
        }
        if let Some(end_time) = end_time {
            tx.prepare_cached("UPDATE runs SET end_time = ?1 WHERE run_uuid = ?2")?
                .execute(rusqlite::params![end_time, run_id])?;
        }
        if let Some(name) = run_name.filter(|n| !n.is_empty()) {
            self.rename_run(tx, run_id, name)?;
        }
        let run = self
            .reader
            .run(tx, run_id)?
            .ok_or_else(|| Error::NotFound(format!("Run with id={run_id} not found")))?;
        Ok(run.info)
    }

    fn rename_run(&self, tx: &Transaction<'_>, run_id: &str, name: &str) -> TxResult<()> {
        tx.prepare_cached("UPDATE runs SET name = ?1 WHERE run_uuid = ?2")?
            .execute(rusqlite::params![name, run_id])?;
        self.upsert_tag(tx, run_id, tags::RUN_NAME, name)
    }

    fn upsert_tag(
        &self,
        tx: &Transaction<'_>,
        run_id: &str,
        key: &str,
        value: &str,
    ) -> TxResult<()> {
        tx.prepare_cached(
            "INSERT INTO tags (\"key\", value, run_uuid) VALUES (?1, ?2, ?3) \
             ON CONFLICT (\"key\", run_uuid) DO UPDATE SET value = excluded.value",
        )?
        .execute(rusqlite::params![key, value, run_id])?;
        Ok(())
    }

    /// MLflow's `_mark_run_deleted`: lifecycle `deleted`, `deleted_time` = now, and (3.2+
    /// schemas) the assessments whose metadata names the run as their source are removed.
    fn mark_run_deleted(&self, tx: &Transaction<'_>, run_id: &str, now: i64) -> TxResult<()> {
        if self.reader.schema.has_assessments {
            let pattern = format!("\"mlflow.assessment.sourceRunId\": \"{run_id}\"");
            tx.prepare_cached("DELETE FROM assessments WHERE instr(assessment_metadata, ?1) > 0")?
                .execute([pattern])?;
        }
        tx.prepare_cached(
            "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ?1 WHERE run_uuid = ?2",
        )?
        .execute(rusqlite::params![now, run_id])?;
        Ok(())
    }

    fn mark_runs_active(
        &self,
        tx: &Transaction<'_>,
        where_sql: &str,
        param: &dyn rusqlite::ToSql,
    ) -> TxResult<()> {
        tx.prepare_cached(&format!(
            "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE {where_sql}"
        ))?
        .execute([param])?;
        Ok(())
    }

    /// Soft-deletes a run (any state, as MLflow).
    pub fn delete_run(&self, tx: &Transaction<'_>, run_id: &str, now: i64) -> TxResult<()> {
        self.run_row(tx, run_id)?;
        self.mark_run_deleted(tx, run_id, now)
    }

    /// Restores a run (any state, as MLflow); clears `deleted_time`.
    pub fn restore_run(&self, tx: &Transaction<'_>, run_id: &str) -> TxResult<()> {
        self.run_row(tx, run_id)?;
        self.mark_runs_active(tx, "run_uuid = ?1", &run_id)
    }

    /// Deletes a run tag of an active run; NotFound when absent.
    pub fn delete_tag(&self, tx: &Transaction<'_>, run_id: &str, key: &str) -> TxResult<()> {
        self.active_run(tx, run_id)?;
        let n = tx
            .prepare_cached("DELETE FROM tags WHERE run_uuid = ?1 AND \"key\" = ?2")?
            .execute(rusqlite::params![run_id, key])?;
        if n == 0 {
            return Err(Error::NotFound(format!(
                "No tag with name: {key} in run with id {run_id}"
            ))
            .into());
        }
        Ok(())
    }

    // ----- log_batch -------------------------------------------------------------------------

    /// MLflow's `log_batch` on validated input, in one transaction: params (immutable), then
    /// metrics (+ `latest_metrics`), then tags. `single_param` selects MLflow's `log_param`
    /// wording for a changed param.
    pub fn log_batch(
        &self,
        tx: &Transaction<'_>,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        run_tags: &[RunTag],
        single_param: bool,
    ) -> TxResult<()> {
        self.active_run(tx, run_id)?;
        if !params.is_empty() {
            self.log_params(tx, run_id, params, single_param)?;
        }
        if !metrics.is_empty() {
            self.log_metrics(tx, run_id, metrics)?;
        }
        for tag in run_tags {
            if tag.key == tags::RUN_NAME {
                // MLflow routes this through update_run_info, which ignores an empty name.
                if !tag.value.is_empty() {
                    self.rename_run(tx, run_id, &tag.value)?;
                }
            } else {
                self.upsert_tag(tx, run_id, &tag.key, &tag.value)?;
            }
        }
        Ok(())
    }

    fn log_params(
        &self,
        tx: &Transaction<'_>,
        run_id: &str,
        params: &[Param],
        single_param: bool,
    ) -> TxResult<()> {
        let mut lookup =
            tx.prepare_cached("SELECT value FROM params WHERE run_uuid = ?1 AND \"key\" = ?2")?;
        let mut conflicts = Vec::new();
        let mut new_params = Vec::new();
        for p in params {
            let existing: Option<Option<String>> = lookup
                .query_row(rusqlite::params![run_id, p.key], |r| r.get(0))
                .optional()?;
            match existing {
                Some(old) => {
                    let old = old.unwrap_or_default();
                    if old != p.value {
                        conflicts.push((p, old));
                    }
                }
                None => new_params.push(p),
            }
        }
        drop(lookup);
        if !conflicts.is_empty() {
            let message = if single_param && conflicts.len() == 1 {
                let (p, old) = &conflicts[0];
                format!(
                    "Changing param values is not allowed. Param with key='{}' was already logged \
                     with value='{}' for run ID='{run_id}'. Attempted logging new value '{}'.",
                    p.key, old, p.value
                )
            } else {
                let list = conflicts
                    .iter()
                    .map(|(p, old)| {
                        format!(
                            "{{'key': {}, 'old_value': {}, 'new_value': {}}}",
                            py_repr(&p.key),
                            py_repr(old),
                            py_repr(&p.value)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "Changing param values is not allowed. Params were already logged='[{list}]' \
                     for run ID='{run_id}'."
                )
            };
            return Err(Error::InvalidParameter(message).into());
        }
        let mut insert =
            tx.prepare_cached("INSERT INTO params (\"key\", value, run_uuid) VALUES (?1, ?2, ?3)")?;
        for p in new_params {
            insert.execute(rusqlite::params![p.key, p.value, run_id])?;
        }
        Ok(())
    }

    /// Inserts metric rows (exact duplicates of the full primary key are ignored, as MLflow
    /// does) and maintains `latest_metrics` with MLflow's `(step, timestamp, value)` rule,
    /// also between entries of the same batch.
    fn log_metrics(&self, tx: &Transaction<'_>, run_id: &str, metrics: &[Metric]) -> TxResult<()> {
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO metrics (\"key\", value, timestamp, run_uuid, step, is_nan) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut latest_lookup = tx.prepare_cached(
            "SELECT value, timestamp, step, is_nan FROM latest_metrics \
             WHERE run_uuid = ?1 AND \"key\" = ?2",
        )?;
        // key -> (row in DB?, current latest, changed?)
        let mut latest: HashMap<&str, (bool, Latest, bool)> = HashMap::new();
        for m in metrics {
            let (is_nan, value) = sanitize_metric_value(m.value);
            insert.execute(rusqlite::params![
                m.key,
                value,
                m.timestamp,
                run_id,
                m.step,
                is_nan
            ])?;
            let candidate = Latest {
                value,
                timestamp: m.timestamp,
                step: m.step,
                is_nan,
            };
            if !latest.contains_key(m.key.as_str()) {
                let stored = latest_lookup
                    .query_row(rusqlite::params![run_id, m.key], |r| {
                        Ok(Latest {
                            value: r.get::<_, Option<f64>>(0)?.unwrap_or(0.0),
                            timestamp: r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                            step: r.get::<_, Option<i64>>(2)?.unwrap_or(0),
                            is_nan: r.get::<_, Option<i64>>(3)?.unwrap_or(0) != 0,
                        })
                    })
                    .optional()?;
                match stored {
                    Some(row) => latest.insert(&m.key, (true, row, false)),
                    None => latest.insert(&m.key, (false, candidate, true)),
                };
                if stored.is_none() {
                    continue;
                }
            }
            if let Some(entry) = latest.get_mut(m.key.as_str())
                && candidate.is_newer_than(&entry.1)
            {
                entry.1 = candidate;
                entry.2 = true;
            }
        }
        drop(insert);
        drop(latest_lookup);
        let mut update = tx.prepare_cached(
            "UPDATE latest_metrics SET value = ?1, timestamp = ?2, step = ?3, is_nan = ?4 \
             WHERE run_uuid = ?5 AND \"key\" = ?6",
        )?;
        let mut insert_latest = tx.prepare_cached(
            "INSERT INTO latest_metrics (\"key\", value, timestamp, step, is_nan, run_uuid) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut keys: Vec<&&str> = latest.keys().collect();
        keys.sort();
        for key in keys {
            let (in_db, l, changed) = latest[*key];
            if !changed {
                continue;
            }
            if in_db {
                update.execute(rusqlite::params![
                    l.value,
                    l.timestamp,
                    l.step,
                    l.is_nan,
                    run_id,
                    key
                ])?;
            } else {
                insert_latest.execute(rusqlite::params![
                    key,
                    l.value,
                    l.timestamp,
                    l.step,
                    l.is_nan,
                    run_id
                ])?;
            }
        }
        Ok(())
    }

    // ----- inputs ----------------------------------------------------------------------------

    /// MLflow's `log_inputs` for datasets: datasets are reused by `(experiment, name, digest)`
    /// (`dataset_uuid` = new uuid4 hex otherwise); an input row (`DATASET` → `RUN`) and its tags
    /// are added unless the run already has that dataset. Duplicate datasets in one call keep
    /// the first.
    pub fn log_inputs(
        &self,
        tx: &Transaction<'_>,
        run_id: &str,
        datasets: &[DatasetInput],
    ) -> TxResult<()> {
        let run = self.active_run(tx, run_id)?;
        if datasets.is_empty() {
            return Ok(());
        }
        if !self.reader.schema.has_inputs {
            return Err(Error::InvalidState(
                "this database predates dataset inputs (no datasets/inputs tables)".into(),
            )
            .into());
        }
        let mut seen = std::collections::HashSet::new();
        let mut find_dataset = tx.prepare_cached(
            "SELECT dataset_uuid FROM datasets WHERE experiment_id = ?1 AND name = ?2 AND digest = ?3",
        )?;
        let mut insert_dataset = tx.prepare_cached(
            "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type, \
             dataset_source, dataset_schema, dataset_profile) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let mut find_input = tx.prepare_cached(
            "SELECT 1 FROM inputs WHERE source_type = 'DATASET' AND source_id = ?1 \
             AND destination_type = 'RUN' AND destination_id = ?2",
        )?;
        let insert_input_sql = if self.reader.schema.inputs_has_step {
            "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, \
             destination_id, step) VALUES (?1, 'DATASET', ?2, 'RUN', ?3, 0)"
        } else {
            "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, \
             destination_id) VALUES (?1, 'DATASET', ?2, 'RUN', ?3)"
        };
        let mut insert_input = tx.prepare_cached(insert_input_sql)?;
        let mut insert_tag = tx.prepare_cached(
            "INSERT INTO input_tags (input_uuid, name, value) VALUES (?1, ?2, ?3) \
             ON CONFLICT (input_uuid, name) DO UPDATE SET value = excluded.value",
        )?;
        for input in datasets {
            let d = &input.dataset;
            if !seen.insert((d.name.as_str(), d.digest.as_str())) {
                continue;
            }
            let existing: Option<String> = find_dataset
                .query_row(
                    rusqlite::params![run.experiment_id, d.name, d.digest],
                    |r| r.get(0),
                )
                .optional()?;
            let dataset_uuid = match existing {
                Some(uuid) => uuid,
                None => {
                    let uuid = uuid::Uuid::new_v4().simple().to_string();
                    insert_dataset.execute(rusqlite::params![
                        uuid,
                        run.experiment_id,
                        d.name,
                        d.digest,
                        d.source_type,
                        d.source,
                        d.schema,
                        d.profile
                    ])?;
                    uuid
                }
            };
            if find_input.exists(rusqlite::params![dataset_uuid, run_id])? {
                continue;
            }
            let input_uuid = uuid::Uuid::new_v4().simple().to_string();
            insert_input.execute(rusqlite::params![input_uuid, dataset_uuid, run_id])?;
            for tag in &input.tags {
                insert_tag.execute(rusqlite::params![input_uuid, tag.key, tag.value])?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn sanitizes_like_mlflow() {
        assert_eq!(sanitize_metric_value(f64::NAN), (true, 0.0));
        assert_eq!(
            sanitize_metric_value(f64::INFINITY),
            (false, 1.7976931348623157e308)
        );
        assert_eq!(
            sanitize_metric_value(f64::NEG_INFINITY),
            (false, -1.7976931348623157e308)
        );
        assert_eq!(sanitize_metric_value(0.25), (false, 0.25));
    }

    #[test]
    fn appends_to_paths_and_uris() {
        assert_eq!(append_to_uri_path("/a/mlruns", &["1"]), "/a/mlruns/1");
        assert_eq!(append_to_uri_path("/a/mlruns/", &["1"]), "/a/mlruns/1");
        assert_eq!(
            append_to_uri_path("/a/1", &["abc", "artifacts"]),
            "/a/1/abc/artifacts"
        );
        assert_eq!(
            append_to_uri_path("mlflow-artifacts:/1", &["r", "artifacts"]),
            "mlflow-artifacts:/1/r/artifacts"
        );
        assert_eq!(
            append_to_uri_path("s3://bucket/base?x=y", &["1"]),
            "s3://bucket/base/1?x=y"
        );
        assert_eq!(append_to_uri_path("s3://bucket", &["1"]), "s3://bucket/1");
        assert_eq!(
            append_to_uri_path("file:///tmp/m", &["2"]),
            "file:///tmp/m/2"
        );
        assert_eq!(append_to_uri_path("rel", &["/x"]), "rel/x");
    }

    #[test]
    fn python_repr_quotes() {
        assert_eq!(py_repr("a"), "'a'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a\nb"), "'a\\nb'");
    }

    #[test]
    fn latest_rule_uses_stored_values() {
        let a = Latest {
            value: 0.0,
            timestamp: 5,
            step: 1,
            is_nan: true,
        };
        let b = Latest {
            value: 1.0,
            timestamp: 5,
            step: 1,
            is_nan: false,
        };
        assert!(b.is_newer_than(&a));
        assert!(!a.is_newer_than(&b));
        assert!(!a.is_newer_than(&a));
    }
}
