//! MLflow's SQLite tracking database (`mlflow.db`, MLflow's `SqlAlchemyStore` on SQLite):
//! reading and writing it at MLflow's own schema, so that Python MLflow and mlscope can share
//! one database file.
//!
//! [`SqliteStore::open`] creates a missing file with MLflow 3.17's complete schema (the DDL
//! MLflow 3.17.2 produces, executed verbatim; alembic revision `dc11669786a5`, the `default`
//! workspace row and experiment `0` `Default`), or opens an existing MLflow database.
//!
//! # Compatibility
//!
//! * **Never migrated.** mlscope never alters, upgrades or downgrades a schema, and never
//!   writes to a database it only reads. Opening a file reads `sqlite_master` and
//!   `alembic_version` only; connection pragmas are per-connection and change nothing on disk.
//! * **Reads** work at any MLflow 2.x/3.x revision whose core tracking tables exist
//!   (`experiments`, `runs`, `metrics`, `latest_metrics`, `params`, `tags`, `experiment_tags`;
//!   `datasets`/`inputs`/`input_tags` when present). Only columns that exist since 2.x are read;
//!   `experiments.workspace`, logged models, traces and every other table are ignored.
//! * **Writes** happen only at the released heads in [`schema::KNOWN_HEADS`] (MLflow 2.20–3.17),
//!   whose write-relevant columns are identical apart from `experiments.workspace` and
//!   `inputs.step`, both detected per file. At any other revision (older, intermediate or newer
//!   than mlscope), and for a read-only file, the store opens **read-only** and every write
//!   returns an error that names the revision and what to do ([`SqliteStore::read_only_reason`]).
//! * A file that is not SQLite, or an SQLite file without MLflow's tables, is refused with an
//!   error and left untouched. An SQLite file with no tables at all (e.g. zero bytes) is
//!   initialised like a missing one, as MLflow does.
//! * Encodings are MLflow's: status and lifecycle names, `source_type = 'UNKNOWN'`, empty legacy
//!   source columns, NaN stored as `0` with `is_nan = 1`, ±inf clamped to ±`f64::MAX`, run name in
//!   `runs.name` and tag `mlflow.runName`, `latest_metrics` maintained with the
//!   `(step, timestamp, value)` rule, exact duplicate metric rows ignored, new experiment ids
//!   allocated as max + 1 (SQLite's rowid rule), artifact locations `<root>/<experiment id>` and
//!   `<experiment location>/<run id>/artifacts`.
//! * Differences from MLflow's SQL store: experiment `0` is not re-inserted into an existing
//!   database that lacks it (opening never writes); [`TrackingStore::get_metric_history`] of a
//!   run that does not exist is `RESOURCE_DOES_NOT_EXIST` (MLflow answers an empty list); renaming
//!   to a taken name is `RESOURCE_ALREADY_EXISTS` (MLflow: a `BAD_REQUEST` integrity error).
//!
//! # Locking
//!
//! The journal mode is left as the file has it (MLflow configures none, so normally the
//! rollback journal). Switching to WAL would be a persistent, file-level change made behind
//! the user's back, and WAL does not work on network file systems or for readers without write
//! access to the directory, so mlscope does not do it.
//!
//! Each store holds one writer connection behind a mutex and a small pool of read-only reader
//! connections, so [`SqliteStore`] is `Send + Sync`. Every write API call is **one**
//! `BEGIN IMMEDIATE` transaction (a whole `log_batch` included), so it is atomic and
//! concurrent writers in other threads or processes serialise on SQLite's file lock instead of
//! failing halfway. Every connection waits up to 20 s for a lock (`PRAGMA busy_timeout`, as
//! MLflow); if the database is still busy, the transaction is rolled back and retried with
//! exponential backoff, up to 8 attempts. Reads run in short deferred transactions (one
//! snapshot per API call) on read-only connections that can never modify the file.
//!
//! # Performance
//!
//! Statements are prepared once per connection (`prepare_cached`). Metric logging costs one
//! transaction, i.e. one journal commit with SQLite's default `synchronous = FULL` (durable
//! across power loss); batching metrics with `log_batch` amortises it over up to 1000 values.
//! Loading runs costs a fixed number of queries (runs, params, tags, latest metrics, inputs)
//! however many runs are loaded.
//!
//! `search_runs` and `search_experiments` are pushed down to SQL: the filter, `order_by` and
//! page are compiled to one parameterised statement ([`crate::search::sql`]) that selects the
//! ids of the requested page only, using MLflow's `(key, run_uuid)` indexes for every
//! metric/param/tag predicate and sort key; then just those runs are loaded (ids bound once as a
//! JSON array read with `json_each`, so the same fixed number of statements for any page size).
//! A run row of the page that cannot be decoded is left out with a warning; rows outside the
//! page are never read. Two fallbacks evaluate in memory, on schemas too old for the SQL: a
//! `datasets.*` filter on a pre-2.4 schema (no dataset tables) and experiment search on a
//! pre-2.2 schema (no experiment times).

mod connection;
mod read;
pub mod schema;
mod watch;
mod write;

#[cfg(test)]
mod tests;

pub use watch::SqliteChangeCheck;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use rusqlite::Transaction;
use rusqlite::types::Value;

use self::connection::{
    Db, TxError, TxResult, map_sqlite_error, open_connection, retry_while_locked,
};
use self::read::Reader;
use self::schema::{InspectError, SchemaInfo};
use self::write::{Writer, parse_experiment_id};
use super::uri::absolute;
use super::{CreateRun, ExperimentQuery, MetricTail, Page, RunQuery, TrackingStore};
use crate::error::StoreWarning;
use crate::error::{Error, Result};
use crate::model::validation::{self, KeyKind, MAX_TAG_VAL_LENGTH};
use crate::model::{
    DatasetInput, Experiment, Metric, Param, Run, RunInfo, RunStatus, RunTag, ViewType, now_ms,
    tags,
};
use crate::search::sql::{
    SqlOptions, SqlSearch, SqlValue, compile_experiment_search, compile_run_search,
};
use crate::search::{
    FilterSyntax, RunPredicate, parse_experiment_filter, parse_run_filter,
    search_experiments_in_memory, search_runs_in_memory,
};

/// Env var MLflow's server sets to pass its artifact root to stores created in its process.
pub const SERVER_ARTIFACT_ROOT_ENV: &str = crate::env::MLFLOW_SERVER_ARTIFACT_ROOT;

/// Longest experiment artifact location (`MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH`, default 2048).
fn max_artifact_location_length() -> usize {
    crate::env::parse_or(crate::env::MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH, 2048)
}

/// MLflow's `resolve_uri_if_local`: a relative local path is made absolute against the current
/// directory (plain path, `/` separators, `.` components dropped); URIs and absolute paths are
/// kept as they are.
pub fn resolve_uri_if_local(uri: &str) -> String {
    let has_scheme = uri.find(':').is_some_and(|i| {
        i > 1
            && uri[..i]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if has_scheme || Path::new(uri).is_absolute() {
        return uri.to_string();
    }
    let joined = absolute(Path::new(uri));
    let normal: PathBuf = joined
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    crate::store::uri::local_path_as_recorded(&normal.to_string_lossy().replace('\\', "/"))
}

/// The default artifact root of MLflow's Python client for a `sqlite:` tracking URI:
/// `$_MLFLOW_SERVER_ARTIFACT_ROOT` if set, else `./mlruns`, made absolute (a plain path,
/// no `file://`).
pub fn default_artifact_root() -> String {
    let raw = std::env::var(SERVER_ARTIFACT_ROOT_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "./mlruns".to_string());
    resolve_uri_if_local(&raw)
}

/// An MLflow SQLite tracking database.
///
/// See the [module docs](self) for compatibility, locking and performance.
pub struct SqliteStore {
    db: Db,
    /// The schema found in the file; unset while the database has no tables (a missing or
    /// empty file, which the first write initialises).
    schema: OnceLock<SchemaInfo>,
    artifact_root: String,
    read_only_reason: Option<String>,
}

/// What an uninitialised database (no tables yet) is read as: nothing at all.
static NO_SCHEMA: SchemaInfo = SchemaInfo {
    revision: None,
    has_workspace: false,
    has_experiment_times: false,
    has_deleted_time: false,
    has_inputs: false,
    inputs_has_step: false,
    has_assessments: false,
    write_refusal: None,
};

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.db.path())
            .field("revision", &self.revision())
            .field("read_only_reason", &self.read_only_reason)
            .finish()
    }
}

impl SqliteStore {
    /// Opens the database at `path` for reading and writing, with MLflow's default artifact root
    /// for new experiments ([`default_artifact_root`]). Opening writes nothing: a missing file is
    /// created, and a database without tables (e.g. zero bytes) gets MLflow's schema, only by the
    /// first write; until then the store reads as empty.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        Self::open_inner(path, default_artifact_root(), false)
    }

    /// Like [`open`](Self::open), with `artifact_root` as the root of new experiments'
    /// artifact locations (a relative local path is made absolute).
    pub fn open_with_artifact_root(path: &Path, artifact_root: &str) -> Result<SqliteStore> {
        Self::open_inner(path, resolve_uri_if_local(artifact_root), false)
    }

    /// Opens an existing database for reading only: the file is opened with
    /// `SQLITE_OPEN_READONLY` and every write API returns an error. A missing file is
    /// `RESOURCE_DOES_NOT_EXIST`; a file without tables (e.g. zero bytes) is refused as empty,
    /// not an MLflow database.
    pub fn open_read_only(path: &Path) -> Result<SqliteStore> {
        Self::open_inner(path, default_artifact_root(), true)
    }

    fn open_inner(path: &Path, artifact_root: String, read_only: bool) -> Result<SqliteStore> {
        let path = absolute(path);
        let mut reason: Option<String> = read_only.then(|| "it was opened read-only".to_string());
        if !path.exists() {
            if read_only {
                return Err(Error::NotFound(format!(
                    "no MLflow database at {}",
                    path.display()
                )));
            }
            // Created by the first write, not now: opening never writes.
            return Ok(SqliteStore {
                db: Db::not_created_yet(path),
                schema: OnceLock::new(),
                artifact_root,
                read_only_reason: None,
            });
        }
        if path.is_dir() {
            return Err(Error::InvalidParameter(format!(
                "expected an SQLite database file, found a directory: {}",
                path.display()
            )));
        }
        let writer = if read_only {
            None
        } else {
            match open_connection(&path, false, false) {
                Ok(conn) => {
                    if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
                        reason = Some("the database file is read-only".to_string());
                        None
                    } else {
                        Some(conn)
                    }
                }
                Err(e) => {
                    // Typically a read-only file: fall back to reading.
                    reason = Some(format!("it cannot be opened for writing ({e})"));
                    None
                }
            }
        };
        let info = {
            let reader_conn;
            let conn = match &writer {
                Some(conn) => conn,
                None => {
                    reader_conn = open_connection(&path, true, false)
                        .map_err(|e| map_sqlite_error(e, &path))?;
                    &reader_conn
                }
            };
            if is_empty(conn, &path)? {
                if writer.is_none() {
                    return Err(Error::InvalidParameter(format!(
                        "the file is empty, not an MLflow database (it has no tables, and it \
                         cannot be initialised because {}): {}",
                        reason.as_deref().unwrap_or("it is read-only"),
                        path.display()
                    )));
                }
                None
            } else {
                Some(inspect(conn, &path)?)
            }
        };
        let writer = match (info.as_ref().and_then(|i| i.write_refusal.as_ref()), writer) {
            (Some(refusal), Some(_)) => {
                reason = Some(refusal.clone());
                None
            }
            (Some(refusal), None) if !read_only => {
                reason = Some(format!("{}; also, {refusal}", reason.unwrap_or_default()));
                None
            }
            (_, w) => w,
        };
        let schema = OnceLock::new();
        if let Some(info) = info {
            let _ = schema.set(info);
        }
        Ok(SqliteStore {
            db: Db::new(path, writer),
            schema,
            artifact_root,
            read_only_reason: reason,
        })
    }

    /// The schema, when the database has MLflow's tables: found at open, or found now (another
    /// process may have initialised the file since), or `None` while it has no tables.
    fn schema(&self) -> Result<Option<&SchemaInfo>> {
        if let Some(info) = self.schema.get() {
            return Ok(Some(info));
        }
        let path = self.db.path();
        if !path.exists() {
            return Ok(None);
        }
        let conn = open_connection(path, true, false).map_err(|e| map_sqlite_error(e, path))?;
        if is_empty(&conn, path)? {
            return Ok(None);
        }
        let info = inspect(&conn, path)?;
        Ok(Some(self.schema.get_or_init(|| info)))
    }

    /// Whether the database has MLflow's tables yet (a store opened on a missing or empty file
    /// has none until its first write).
    pub fn is_initialised(&self) -> Result<bool> {
        Ok(self.schema()?.is_some())
    }

    /// Creates MLflow's schema now when the database has none (a missing or empty file), as the
    /// first write would; nothing happens to a database that has its tables.
    pub fn initialise(&self) -> Result<()> {
        if !self.db.is_writable() {
            return Err(self.refusal());
        }
        self.schema_for_writing().map(|_| ())
    }

    /// The schema for a write: MLflow's schema is created first when the database has no tables
    /// (the first write to a new or empty file), in one transaction that a concurrent writer
    /// waits for.
    fn schema_for_writing(&self) -> Result<&SchemaInfo> {
        if let Some(info) = self.schema.get() {
            return Ok(info);
        }
        let path = self.db.path();
        let info = self.db.with_writer(
            || self.refusal(),
            |conn| {
                initialize_if_empty(conn, path, &self.artifact_root)?;
                inspect(conn, path)
            },
        )?;
        Ok(self.schema.get_or_init(|| info))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        self.db.path()
    }

    /// The alembic revision of the database (`None` if `alembic_version` is empty, or while the
    /// database has no tables yet).
    pub fn revision(&self) -> Option<&str> {
        self.schema_info().revision.as_deref()
    }

    /// What was found in the schema (all `false` while the database has no tables yet).
    pub fn schema_info(&self) -> &SchemaInfo {
        match self.schema() {
            Ok(Some(info)) => info,
            _ => &NO_SCHEMA,
        }
    }

    /// Root of new experiments' artifact locations.
    pub fn artifact_root(&self) -> &str {
        &self.artifact_root
    }

    /// Whether writes are possible (see [`read_only_reason`](Self::read_only_reason)).
    pub fn is_writable(&self) -> bool {
        self.db.is_writable()
    }

    /// Why the store is read-only, or `None` when it can write.
    pub fn read_only_reason(&self) -> Option<&str> {
        self.read_only_reason.as_deref()
    }

    /// The reader of the schema in use (every read and write has found or created it first).
    fn reader(&self) -> Reader<'_> {
        Reader {
            path: self.db.path(),
            schema: self.schema.get().unwrap_or(&NO_SCHEMA),
        }
    }

    fn writer(&self) -> Writer<'_> {
        Writer {
            reader: self.reader(),
            artifact_root: &self.artifact_root,
        }
    }

    /// The `Default` experiment `0` of a database without MLflow's tables yet, read as if it were
    /// there: the first write creates it with the schema (MLflow creates both when it opens the
    /// database; mlscope never writes when opening).
    fn default_of_new_database(&self) -> Experiment {
        Experiment {
            experiment_id: "0".to_string(),
            name: "Default".to_string(),
            artifact_location: write::append_to_uri_path(&self.artifact_root, &["0"]),
            lifecycle_stage: crate::model::LifecycleStage::Active,
            tags: BTreeMap::new(),
            creation_time: None,
            last_update_time: None,
        }
    }

    /// A run's absence from a database that has no MLflow tables yet.
    fn run_not_found(&self, run_id: &str) -> Error {
        Error::NotFound(format!(
            "Run with id={run_id} not found (the database has no MLflow tables yet): {}",
            self.db.path().display()
        ))
    }

    fn refusal(&self) -> Error {
        Error::InvalidState(format!(
            "cannot write to {}: {}",
            self.db.path().display(),
            self.read_only_reason
                .as_deref()
                .unwrap_or("the store is read-only")
        ))
    }

    fn write<T>(&self, f: impl FnMut(&Transaction<'_>) -> TxResult<T>) -> Result<T> {
        if !self.db.is_writable() {
            return Err(self.refusal());
        }
        let schema = self.schema_for_writing()?;
        if let Some(refusal) = &schema.write_refusal {
            return Err(Error::InvalidState(format!(
                "cannot write to {}: {refusal}",
                self.db.path().display()
            )));
        }
        self.db.write(|| self.refusal(), f)
    }

    /// Follows a metric's history: with `cursor` 0, every value of `key` logged to `run_id` (in
    /// MLflow's order, as [`TrackingStore::get_metric_history`]); otherwise the values logged
    /// since the read that returned `cursor` (in logging order). Each value is returned once;
    /// [`MetricTail::next_offset`] is the cursor for the next call (a metrics-table rowid).
    ///
    /// Rowids only grow while rows are added; a permanently deleted run (`mlflow gc`) whose rows
    /// held the largest rowids could make SQLite reuse them, which this does not notice.
    pub fn read_metric_since(&self, run_id: &str, key: &str, cursor: u64) -> Result<MetricTail> {
        let after = i64::try_from(cursor).unwrap_or(i64::MAX);
        if !self.is_initialised()? {
            return Err(self.run_not_found(run_id));
        }
        self.db.read(|tx| {
            let reader = self.reader();
            if !reader.run_exists(tx, run_id)? {
                return Err(Error::NotFound(format!("Run with id={run_id} not found")).into());
            }
            let (metrics, next) = if after == 0 {
                // One transaction: the history and the rowid it goes up to are one snapshot.
                let history = reader.metric_history(tx, run_id, key)?;
                (history, reader.max_metric_rowid(tx)?)
            } else {
                reader.metric_rows_since(tx, run_id, key, after)?
            };
            Ok(MetricTail {
                metrics,
                next_offset: u64::try_from(next).unwrap_or(0),
                restarted: false,
                bad_lines: 0,
            })
        })
    }

    fn log_batch_impl(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        run_tags: &[RunTag],
        single_param: bool,
    ) -> Result<()> {
        let batch = validation::check_log_batch(run_id, metrics, params, run_tags)?;
        let (params, run_tags) = (batch.params, batch.tags);
        self.write(|tx| {
            self.writer()
                .log_batch(tx, run_id, metrics, &params, &run_tags, single_param)
        })
    }
}

/// Creates MLflow's schema in a database without tables, in one `BEGIN IMMEDIATE` transaction
/// (a concurrent opener waits, then finds the tables and skips).
fn initialize_if_empty(
    conn: &rusqlite::Connection,
    path: &Path,
    artifact_root: &str,
) -> Result<()> {
    if !is_empty(conn, path)? {
        return Ok(());
    }
    retry_while_locked(path, || {
        let tx =
            rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
        if schema::is_empty_database(&tx)? {
            let location = write::append_to_uri_path(artifact_root, &["0"]);
            schema::create_schema(&tx, &location, now_ms())?;
        }
        tx.commit()?;
        Ok(())
    })
}

/// Whether the database has no tables, waiting for a lock like any read.
fn is_empty(conn: &rusqlite::Connection, path: &Path) -> Result<bool> {
    retry_while_locked(path, || Ok(schema::is_empty_database(conn)?))
}

/// Reads what the schema holds, waiting for a lock like any read.
fn inspect(conn: &rusqlite::Connection, path: &Path) -> Result<SchemaInfo> {
    retry_while_locked(path, || {
        schema::inspect(conn).map_err(|e| match e {
            InspectError::Sqlite(e) => TxError::Sqlite(e),
            InspectError::NotMlflow(message) => TxError::Store(Error::InvalidParameter(format!(
                "{message}; the file was left untouched: {}",
                path.display()
            ))),
        })
    })
}

/// Binds [`SqlValue`]s as rusqlite values.
fn sql_values(params: &[SqlValue]) -> Vec<Value> {
    params
        .iter()
        .map(|v| match v {
            SqlValue::Text(s) => Value::Text(s.clone()),
            SqlValue::Integer(i) => Value::Integer(*i),
            SqlValue::Real(f) => Value::Real(*f),
        })
        .collect()
}

/// Runs a compiled search statement: the ids of the page (`None` for a NULL id, which the
/// schema forbids but an old or damaged file may hold) and its next page token.
fn fetch_page_ids(
    tx: &Transaction<'_>,
    search: &SqlSearch,
) -> TxResult<(Vec<Option<Value>>, Option<String>)> {
    let mut stmt = tx.prepare_cached(&search.sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(sql_values(&search.params)))?;
    let mut ids = Vec::new();
    while let Some(row) = rows.next()? {
        let id: Value = row.get(0)?;
        ids.push(match id {
            Value::Null => None,
            v => Some(v),
        });
    }
    let next_page_token = search.next_page_token(ids.len());
    ids.truncate(search.max_results);
    Ok((ids, next_page_token))
}

/// Filters with more comparisons than this are evaluated in memory over the experiments' runs:
/// SQLite plans a statement with thousands of correlated subqueries in time that grows much
/// faster than the filter (minutes for 10,000), while evaluating it on each run is linear.
const MAX_SQL_FILTER_COMPARISONS: usize = 256;

/// Whether the filter cannot (or should not) run in SQL: it needs tables this (old) schema
/// lacks, or it is too long for SQLite to plan quickly.
fn needs_in_memory_run_search(schema: &SchemaInfo, query: &RunQuery) -> bool {
    // Unparsable filters are reported by the SQL path.
    parse_run_filter(&query.filter, FilterSyntax::Extended).is_ok_and(|f| {
        f.expr.is_some_and(|e| {
            let predicates = e.predicates();
            predicates.len() > MAX_SQL_FILTER_COMPARISONS
                || (!schema.has_inputs
                    && predicates
                        .iter()
                        .any(|p| matches!(p, RunPredicate::Dataset { .. })))
        })
    })
}

/// One `search_runs` page. Filtering, ordering and paging run in SQL
/// ([`compile_run_search`]); only the page's runs are then loaded, with a fixed number of
/// statements. A run row of the page that cannot be decoded is left out with a warning (the
/// page is then shorter than `max_results`; the next page token is unaffected).
///
/// A filter of more than [`MAX_SQL_FILTER_COMPARISONS`] comparisons, and on a pre-2.4 schema
/// without dataset tables a filter on `datasets.*`, is evaluated in memory over the candidate
/// runs (no run has datasets there, so the result is known to be
/// empty or, under `NOT`, everything; the in-memory path gets both right).
fn search_runs_page(
    reader: &Reader<'_>,
    tx: &Transaction<'_>,
    experiment_ids: &[i64],
    query: &RunQuery,
) -> TxResult<Page<Run>> {
    if needs_in_memory_run_search(reader.schema, query) {
        let loaded = reader.runs_in_experiments(tx, experiment_ids, query.view_type)?;
        let (items, next_page_token) = search_runs_in_memory(loaded.items, query)?;
        return Ok(Page {
            items,
            next_page_token,
            warnings: loaded.warnings,
        });
    }
    let search = compile_run_search(query, &SqlOptions::default())?;
    let (ids, next_page_token) = fetch_page_ids(tx, &search)?;
    let mut warnings = Vec::new();
    if ids.iter().any(Option::is_none) {
        warnings.push(StoreWarning::new(
            format!("{} (runs)", reader.path.display()),
            "skipped a run row with a NULL run_uuid",
        ));
    }
    let ids = id_strings(ids);
    let loaded = reader.runs_by_ids(tx, &ids)?;
    warnings.extend(loaded.warnings);
    Ok(Page {
        items: loaded.items,
        next_page_token,
        warnings,
    })
}

/// Run ids as text (a NULL id is left out).
fn id_strings(ids: Vec<Option<Value>>) -> Vec<String> {
    ids.into_iter()
        .flatten()
        .map(|v| match v {
            Value::Text(s) => s,
            Value::Integer(i) => i.to_string(),
            Value::Real(f) => f.to_string(),
            Value::Blob(b) => String::from_utf8_lossy(&b).into_owned(),
            Value::Null => String::new(),
        })
        .collect()
}

/// One `search_experiments` page, filtered, ordered and paged in SQL
/// ([`compile_experiment_search`]); in memory only on a pre-2.2 schema without experiment
/// times (the default order is by `creation_time`).
fn search_experiments_page(
    reader: &Reader<'_>,
    tx: &Transaction<'_>,
    query: &ExperimentQuery,
) -> TxResult<Page<Experiment>> {
    let long_filter =
        parse_experiment_filter(&query.filter, FilterSyntax::Extended).is_ok_and(|f| {
            f.expr
                .is_some_and(|e| e.predicates().len() > MAX_SQL_FILTER_COMPARISONS)
        });
    if !reader.schema.has_experiment_times || long_filter {
        let loaded = reader.experiments_in_view(tx, query.view_type)?;
        let (items, next_page_token) = search_experiments_in_memory(loaded.items, query)?;
        return Ok(Page {
            items,
            next_page_token,
            warnings: loaded.warnings,
        });
    }
    let search = compile_experiment_search(query, &SqlOptions::default())?;
    let (ids, next_page_token) = fetch_page_ids(tx, &search)?;
    let mut warnings = Vec::new();
    let mut numeric = Vec::with_capacity(ids.len());
    for id in ids {
        match id {
            Some(Value::Integer(i)) => numeric.push(i),
            other => warnings.push(StoreWarning::new(
                format!("{} (experiments)", reader.path.display()),
                format!("skipped an experiment row with a non-integer id {other:?}"),
            )),
        }
    }
    let loaded = reader.experiments_by_ids(tx, &numeric)?;
    warnings.extend(loaded.warnings);
    Ok(Page {
        items: loaded.items,
        next_page_token,
        warnings,
    })
}

impl TrackingStore for SqliteStore {
    fn tracking_uri(&self) -> String {
        // sqlite:////abs/x.db on unix, sqlite:///C:/x.db on Windows (MLflow's
        // path_to_local_sqlite_uri); a fourth slash before a drive names no file there.
        let path = self.db.path().to_string_lossy().replace('\\', "/");
        format!("sqlite:///{path}")
    }

    // ----- experiments -----------------------------------------------------------------------

    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<String> {
        validation::validate_experiment_name(name)?;
        let location = artifact_location
            .filter(|l| !l.is_empty())
            .map(resolve_uri_if_local);
        if let Some(l) = &location {
            let max = max_artifact_location_length();
            if l.chars().count() > max {
                return Err(Error::InvalidParameter(format!(
                    "Invalid artifact path length. The length of the artifact path cannot be \
                     greater than {max} characters. To configure this limit, please set the \
                     MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH environment variable."
                )));
            }
        }
        for (k, v) in tags {
            validation::validate_key(KeyKind::ExperimentTag, k)?;
            validation::validate_experiment_tag_value(k, v)?;
        }
        let now = now_ms();
        self.write(|tx| {
            self.writer()
                .create_experiment(tx, name, location.as_deref(), tags, now)
        })
    }

    fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        let id = parse_experiment_id(experiment_id)?;
        if !self.is_initialised()? {
            if id == 0 {
                return Ok(self.default_of_new_database());
            }
            return Err(Error::NotFound(format!(
                "No Experiment with id={id} exists (the database has no MLflow tables yet): {}",
                self.db.path().display()
            )));
        }
        self.db
            .read(|tx| self.reader().experiment(tx, id))?
            .ok_or_else(|| Error::NotFound(format!("No Experiment with id={id} exists")))
    }

    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        let Some(schema) = self.schema()? else {
            let default = self.default_of_new_database();
            return Ok((default.name == name).then_some(default));
        };
        let order = if schema.has_workspace {
            " ORDER BY workspace = 'default' DESC"
        } else {
            ""
        };
        let where_sql = format!(
            "experiment_id = (SELECT experiment_id FROM experiments WHERE name = ?{order} LIMIT 1)"
        );
        let loaded = self.db.read(|tx| {
            self.reader()
                .load_experiments(tx, &where_sql, &[Value::Text(name.to_string())])
        })?;
        if let Some(w) = loaded.warnings.into_iter().next() {
            return Err(Error::corrupt(w.message, self.db.path()));
        }
        Ok(loaded.items.into_iter().next())
    }

    fn search_experiments(&self, query: &ExperimentQuery) -> Result<Page<Experiment>> {
        if !self.is_initialised()? {
            let default = match query.view_type {
                ViewType::DeletedOnly => Vec::new(),
                _ => vec![self.default_of_new_database()],
            };
            let (items, next_page_token) = search_experiments_in_memory(default, query)?;
            return Ok(Page {
                items,
                next_page_token,
                warnings: Vec::new(),
            });
        }
        self.db
            .read(|tx| search_experiments_page(&self.reader(), tx, query))
    }

    fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        validation::validate_experiment_name(new_name)?;
        let id = parse_experiment_id(experiment_id)?;
        let now = now_ms();
        self.write(|tx| self.writer().rename_experiment(tx, id, new_name, now))
    }

    fn delete_experiment(&self, experiment_id: &str) -> Result<()> {
        let id = parse_experiment_id(experiment_id)?;
        // MLflow's SQL store allows this, its file store does not; mlscope refuses it on every
        // backend because runs without an experiment fall back to `0`.
        if id == 0 {
            return Err(Error::InvalidParameter(
                "Cannot delete the default experiment '0'. This is an internally reserved experiment."
                    .into(),
            ));
        }
        let now = now_ms();
        self.write(|tx| self.writer().delete_experiment(tx, id, now))
    }

    fn restore_experiment(&self, experiment_id: &str) -> Result<()> {
        let id = parse_experiment_id(experiment_id)?;
        let now = now_ms();
        self.write(|tx| self.writer().restore_experiment(tx, id, now))
    }

    fn set_experiment_tag(&self, experiment_id: &str, key: &str, value: &str) -> Result<()> {
        validation::validate_key(KeyKind::ExperimentTag, key)?;
        validation::validate_experiment_tag_value(key, value)?;
        let id = parse_experiment_id(experiment_id)?;
        self.write(|tx| self.writer().set_experiment_tag(tx, id, key, value))
    }

    fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()> {
        let id = parse_experiment_id(experiment_id)?;
        self.write(|tx| self.writer().delete_experiment_tag(tx, id, key))
    }

    // ----- runs ------------------------------------------------------------------------------

    fn create_run(&self, request: CreateRun) -> Result<Run> {
        let experiment_id = parse_experiment_id(&request.experiment_id)?;
        let mut run_tags = validation::check_tags(&request.tags)?;
        let tag_name = run_tags
            .iter()
            .rev()
            .find(|t| t.key == tags::RUN_NAME)
            .map(|t| t.value.clone())
            .filter(|v| !v.is_empty());
        let given = request.run_name.filter(|n| !n.is_empty());
        if let (Some(given), Some(tag)) = (&given, &tag_name)
            && given != tag
        {
            return Err(Error::InvalidParameter(format!(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with \
                 different values (run_name='{given}', mlflow.runName='{tag}')."
            )));
        }
        let run_name = given
            .or(tag_name.clone())
            .unwrap_or_else(crate::model::random_run_name);
        if tag_name.is_none() {
            run_tags.retain(|t| t.key != tags::RUN_NAME);
            run_tags.push(RunTag::new(tags::RUN_NAME, run_name.clone()));
        }
        let user_id = if request.user_id.is_empty() {
            "unknown".to_string()
        } else {
            request.user_id
        };
        let start_time = request.start_time.unwrap_or_else(now_ms);
        let run_id = crate::model::new_run_id();
        self.write(|tx| {
            self.writer().create_run(
                tx,
                &run_id,
                experiment_id,
                &user_id,
                start_time,
                &run_name,
                &run_tags,
            )
        })
    }

    fn get_run(&self, run_id: &str) -> Result<Run> {
        if !self.is_initialised()? {
            return Err(self.run_not_found(run_id));
        }
        self.db
            .read(|tx| self.reader().run(tx, run_id))?
            .ok_or_else(|| Error::NotFound(format!("Run with id={run_id} not found")))
    }

    fn update_run_info(
        &self,
        run_id: &str,
        status: Option<RunStatus>,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> Result<RunInfo> {
        // The name is also the `mlflow.runName` tag: same length rule as any tag value.
        let run_name = match run_name {
            Some(name) => {
                let mut v = name.to_string();
                validation::limit_value(KeyKind::Tag, tags::RUN_NAME, &mut v, MAX_TAG_VAL_LENGTH)?;
                Some(v)
            }
            None => None,
        };
        self.write(|tx| {
            self.writer()
                .update_run_info(tx, run_id, status, end_time, run_name.as_deref())
        })
    }

    fn delete_run(&self, run_id: &str) -> Result<()> {
        let now = now_ms();
        self.write(|tx| self.writer().delete_run(tx, run_id, now))
    }

    fn restore_run(&self, run_id: &str) -> Result<()> {
        self.write(|tx| self.writer().restore_run(tx, run_id))
    }

    fn search_runs(&self, query: &RunQuery) -> Result<Page<Run>> {
        let ids = query
            .experiment_ids
            .iter()
            .map(|id| parse_experiment_id(id))
            .collect::<Result<Vec<i64>>>()?;
        if !self.is_initialised()? {
            let (items, next_page_token) = search_runs_in_memory(Vec::new(), query)?;
            return Ok(Page {
                items,
                next_page_token,
                warnings: Vec::new(),
            });
        }
        self.db
            .read(|tx| search_runs_page(&self.reader(), tx, &ids, query))
    }

    /// One `COUNT(*)` (rows without a run id, which a search skips, left out).
    fn count_runs(&self, experiment_id: &str, view: crate::model::ViewType) -> Result<usize> {
        let id = parse_experiment_id(experiment_id)?;
        if !self.is_initialised()? {
            return Ok(0);
        }
        let stages = self::read::stages(view);
        let sql = format!(
            "SELECT COUNT(*) FROM runs WHERE experiment_id = ? AND run_uuid IS NOT NULL \
             AND lifecycle_stage IN ({})",
            self::read::placeholders(stages.len())
        );
        let mut params = vec![Value::Integer(id)];
        params.extend(stages.iter().map(|s| Value::Text(s.to_string())));
        self.db.read(|tx| {
            let n: i64 = tx.query_row(&sql, rusqlite::params_from_iter(params.iter()), |row| {
                row.get(0)
            })?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    /// The ids of up to 50,000 matching runs in the query's order in one statement (no
    /// params, tags or metrics), then the runs loaded by id in batches that grow from 256: the
    /// first rows arrive after a few milliseconds, and no page re-reads what an `OFFSET`
    /// skipped before.
    fn stream_runs(
        &self,
        query: &RunQuery,
        sink: &mut dyn FnMut(crate::store::RunBatch) -> bool,
    ) -> Result<()> {
        let ids = query
            .experiment_ids
            .iter()
            .map(|id| parse_experiment_id(id))
            .collect::<Result<Vec<i64>>>()?;
        let mut query = query.clone();
        query.max_results = crate::store::SEARCH_MAX_RESULTS_THRESHOLD;
        query.page_token = None;
        if ids.is_empty()
            || !self.is_initialised()?
            || needs_in_memory_run_search(self.reader().schema, &query)
        {
            return crate::store::stream_by_pages(self, &query, sink);
        }
        let mut done = 0;
        loop {
            let (page, next) = self.db.read(|tx| {
                let search = compile_run_search(&query, &SqlOptions::default())?;
                fetch_page_ids(tx, &search)
            })?;
            let mut warnings = Vec::new();
            if page.iter().any(Option::is_none) {
                warnings.push(StoreWarning::new(
                    format!("{} (runs)", self.reader().path.display()),
                    "skipped a run row with a NULL run_uuid",
                ));
            }
            let page = id_strings(page);
            let total = done + page.len() + usize::from(next.is_some());
            let mut start = 0;
            let mut size = 256;
            while start < page.len() || !warnings.is_empty() {
                let chunk = &page[start..(start + size).min(page.len())];
                let loaded = self.db.read(|tx| self.reader().runs_by_ids(tx, chunk))?;
                start += chunk.len();
                done += chunk.len();
                warnings.extend(loaded.warnings);
                let batch = crate::store::RunBatch {
                    runs: loaded.items,
                    warnings: std::mem::take(&mut warnings),
                    ordered: true,
                    progress: Some((done, total.max(done))),
                };
                if !sink(batch) {
                    return Ok(());
                }
                size = (size * 2).min(4096);
            }
            match next {
                Some(token) => query.page_token = Some(token),
                None => return Ok(()),
            }
        }
    }

    // ----- metrics, params, tags -------------------------------------------------------------

    fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[RunTag],
    ) -> Result<()> {
        self.log_batch_impl(run_id, metrics, params, tags, false)
    }

    fn log_param(&self, run_id: &str, param: &Param) -> Result<()> {
        self.log_batch_impl(run_id, &[], std::slice::from_ref(param), &[], true)
    }

    fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        if !self.is_initialised()? {
            return Err(self.run_not_found(run_id));
        }
        self.db.read(|tx| {
            let reader = self.reader();
            if !reader.run_exists(tx, run_id)? {
                return Err(Error::NotFound(format!("Run with id={run_id} not found")).into());
            }
            reader.metric_history(tx, run_id, key)
        })
    }

    fn get_metric_histories(
        &self,
        run_id: &str,
        keys: &[String],
    ) -> Result<BTreeMap<String, Vec<Metric>>> {
        if !self.is_initialised()? {
            return Err(self.run_not_found(run_id));
        }
        self.db.read(|tx| {
            let reader = self.reader();
            if !reader.run_exists(tx, run_id)? {
                return Err(Error::NotFound(format!("Run with id={run_id} not found")).into());
            }
            keys.iter()
                .map(|k| Ok((k.clone(), reader.metric_history(tx, run_id, k)?)))
                .collect()
        })
    }

    fn metric_history_since(
        &self,
        run_id: &str,
        key: &str,
        cursor: u64,
    ) -> Result<Option<MetricTail>> {
        self.read_metric_since(run_id, key, cursor).map(Some)
    }

    fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        self.write(|tx| self.writer().delete_tag(tx, run_id, key))
    }

    fn log_inputs(&self, run_id: &str, datasets: &[DatasetInput]) -> Result<()> {
        validation::validate_run_id(run_id)?;
        validation::check_dataset_inputs(datasets)?;
        self.write(|tx| self.writer().log_inputs(tx, run_id, datasets))
    }
}
