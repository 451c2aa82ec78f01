//! Connections to one database file: MLflow's per-connection pragmas, one writer connection
//! behind a mutex, a small pool of read-only reader connections, short transactions, and
//! retries when another process holds the lock.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode as SqliteCode, OpenFlags, Transaction, TransactionBehavior};

use crate::env;
use crate::error::{DatabaseErrorKind, Error};

/// How long one SQLite statement waits for a lock (SQLite's busy handler), as MLflow configures
/// it (`PRAGMA busy_timeout = 20000`).
pub const BUSY_TIMEOUT: Duration = Duration::from_millis(20_000);

/// How long a transaction keeps retrying while other connections hold the lock: long enough
/// for several writer processes on a slow disk to all get their turn (six of MLflow's busy
/// timeouts).
pub const WRITE_TIMEOUT: Duration = Duration::from_millis(120_000);

/// The busy timeout in use: [`BUSY_TIMEOUT`], or `MLSCOPE_SQLITE_BUSY_TIMEOUT_MS` when set.
pub fn busy_timeout() -> Duration {
    Duration::from_millis(env::parse_or(
        env::MLSCOPE_SQLITE_BUSY_TIMEOUT_MS,
        BUSY_TIMEOUT.as_millis() as u64,
    ))
}

/// The write timeout in use: `MLSCOPE_SQLITE_WRITE_TIMEOUT_MS` when set; otherwise
/// [`WRITE_TIMEOUT`], or the busy timeout when that was set lower (a caller that asked to fail
/// fast on a locked database is not kept waiting by the retries).
pub fn write_timeout() -> Duration {
    if let Ok(Some(ms)) = env::parse_var::<u64>(env::MLSCOPE_SQLITE_WRITE_TIMEOUT_MS) {
        return Duration::from_millis(ms);
    }
    match env::parse_var::<u64>(env::MLSCOPE_SQLITE_BUSY_TIMEOUT_MS) {
        Ok(Some(ms)) => WRITE_TIMEOUT.min(Duration::from_millis(ms)),
        _ => WRITE_TIMEOUT,
    }
}

/// Idle reader connections kept open.
const MAX_IDLE_READERS: usize = 4;
/// Prepared statements cached per connection.
const STATEMENT_CACHE_CAPACITY: usize = 64;

/// An error inside a transaction: either SQLite's (possibly retryable) or the store's own.
#[derive(Debug)]
pub enum TxError {
    /// A SQLite error; retried when it is BUSY or LOCKED.
    Sqlite(rusqlite::Error),
    /// A store error (validation, not found…); never retried.
    Store(Error),
}

impl From<rusqlite::Error> for TxError {
    fn from(e: rusqlite::Error) -> Self {
        TxError::Sqlite(e)
    }
}

impl From<Error> for TxError {
    fn from(e: Error) -> Self {
        TxError::Store(e)
    }
}

/// Result of the code run inside a transaction.
pub type TxResult<T> = std::result::Result<T, TxError>;

/// Whether SQLite says another connection holds a conflicting lock.
pub fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(SqliteCode::DatabaseBusy | SqliteCode::DatabaseLocked)
    )
}

/// Whether `e` is a UNIQUE/PRIMARY KEY constraint violation.
pub fn is_unique_violation(e: &rusqlite::Error) -> bool {
    match e {
        rusqlite::Error::SqliteFailure(err, _) => {
            err.code == SqliteCode::ConstraintViolation
                && (err.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || err.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
        }
        _ => false,
    }
}

/// Translates a SQLite error into a store error that names the database file.
pub fn map_sqlite_error(e: rusqlite::Error, path: &Path) -> Error {
    let (kind, message) = match e.sqlite_error_code() {
        Some(SqliteCode::NotADatabase) => {
            return Error::corrupt(
                "the file is not an SQLite database (wrong header or encrypted); it was left \
                 untouched",
                path,
            );
        }
        Some(SqliteCode::DatabaseCorrupt) => {
            return Error::corrupt(format!("the SQLite database is damaged: {e}"), path);
        }
        Some(SqliteCode::DatabaseBusy | SqliteCode::DatabaseLocked) => (
            DatabaseErrorKind::Locked,
            format!(
                "the database is locked by another connection ({e}); nothing was written: {}",
                path.display()
            ),
        ),
        Some(SqliteCode::ReadOnly | SqliteCode::CannotOpen | SqliteCode::PermissionDenied) => (
            DatabaseErrorKind::ReadOnly,
            format!(
                "cannot write: the database file or its directory is read-only ({e}): {}",
                path.display()
            ),
        ),
        _ => (DatabaseErrorKind::Other, format!("{e}: {}", path.display())),
    };
    Error::Database {
        kind,
        message,
        source: Some(Box::new(e)),
    }
}

/// The error of a transaction that found the database locked until the write timeout ran out.
fn locked_error(e: rusqlite::Error, path: &Path, waited: Duration, attempts: u32) -> Error {
    Error::Database {
        kind: DatabaseErrorKind::Locked,
        message: format!(
            "the database stayed locked by other connections for {:.1} s ({attempts} attempts; \
             the limit is {:.1} s, set with {}); nothing was written: {}",
            waited.as_secs_f64(),
            write_timeout().as_secs_f64(),
            env::MLSCOPE_SQLITE_WRITE_TIMEOUT_MS,
            path.display()
        ),
        source: Some(Box::new(e)),
    }
}

fn map_tx_error(e: TxError, path: &Path) -> Error {
    match e {
        TxError::Sqlite(e) => map_sqlite_error(e, path),
        TxError::Store(e) => e,
    }
}

/// Applies MLflow's session pragmas (`foreign_keys`, `busy_timeout`, `case_sensitive_like`).
/// All are per-connection: nothing is written to the file.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(busy_timeout())?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "case_sensitive_like", "true")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    Ok(())
}

/// Opens a connection. `create` allows creating a missing file; `read_only` opens with
/// `SQLITE_OPEN_READ_ONLY`, so the connection can never modify the file.
pub fn open_connection(path: &Path, read_only: bool, create: bool) -> rusqlite::Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_EXRESCODE;
    if read_only {
        flags |= OpenFlags::SQLITE_OPEN_READ_ONLY;
    } else {
        flags |= OpenFlags::SQLITE_OPEN_READ_WRITE;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
    }
    let conn = Connection::open_with_flags(path, flags)?;
    configure(&conn)?;
    Ok(conn)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves a connection whose transaction was rolled back on
    // drop: still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Backoff before retry `attempt` (1-based): a random time between half and all of 5 ms
/// doubling, capped at 320 ms. The randomness keeps writers that met the lock at the same
/// moment from retrying at the same moment again; the cap keeps a waiting writer polling often
/// enough to get its turn among many.
fn backoff(attempt: u32) -> Duration {
    let ceiling = 5u64 << attempt.saturating_sub(1).min(6);
    let random = u64::from(u16::from_le_bytes([
        uuid::Uuid::new_v4().as_bytes()[0],
        uuid::Uuid::new_v4().as_bytes()[1],
    ]));
    Duration::from_millis(ceiling / 2 + random % (ceiling / 2 + 1))
}

/// Runs `attempt` until it succeeds, fails with something else than a lock conflict, or the
/// write timeout runs out; sleeps a jittered backoff between attempts.
pub fn retry_while_locked<T>(
    path: &Path,
    mut attempt: impl FnMut() -> TxResult<T>,
) -> std::result::Result<T, Error> {
    let started = Instant::now();
    let timeout = write_timeout();
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        match attempt() {
            Err(TxError::Sqlite(e)) if is_busy(&e) => {
                let waited = started.elapsed();
                if waited >= timeout {
                    return Err(locked_error(e, path, waited, attempts));
                }
                std::thread::sleep(backoff(attempts).min(timeout - waited));
            }
            other => return other.map_err(|e| map_tx_error(e, path)),
        }
    }
}

/// The connections of one store.
pub struct Db {
    path: PathBuf,
    /// `None`: the store is read-only. `Some(None)`: writable, but the file does not exist yet;
    /// the first write creates it (opening a store never creates a file).
    writer: Option<Mutex<Option<Connection>>>,
    readers: Mutex<Vec<Connection>>,
}

impl Db {
    /// Wraps an open writer connection (or none, for a read-only store).
    pub fn new(path: PathBuf, writer: Option<Connection>) -> Db {
        Db {
            path,
            writer: writer.map(|c| Mutex::new(Some(c))),
            readers: Mutex::new(Vec::new()),
        }
    }

    /// A writable store whose database file does not exist yet: the first write creates it
    /// (and its directory).
    pub fn not_created_yet(path: PathBuf) -> Db {
        Db {
            path,
            writer: Some(Mutex::new(None)),
            readers: Mutex::new(Vec::new()),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether writes are possible.
    pub fn is_writable(&self) -> bool {
        self.writer.is_some()
    }

    /// Runs `f` with the writer connection, creating the database file first if it does not
    /// exist yet; `refusal` when the store is read-only.
    pub fn with_writer<T>(
        &self,
        refusal: impl FnOnce() -> Error,
        f: impl FnOnce(&mut Connection) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let Some(writer) = &self.writer else {
            return Err(refusal());
        };
        let mut slot = lock(writer);
        let conn = match &mut *slot {
            Some(conn) => conn,
            empty => {
                if let Some(parent) = self.path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        Error::io("cannot create the database directory", parent, e)
                    })?;
                }
                let conn = open_connection(&self.path, false, true)
                    .map_err(|e| map_sqlite_error(e, &self.path))?;
                empty.insert(conn)
            }
        };
        f(conn)
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction on the writer connection and commits; on
    /// SQLITE_BUSY/LOCKED the whole transaction is rolled back and retried with jittered
    /// backoff until the write timeout ([`write_timeout`]) runs out. `f` may run several times,
    /// so it must not have side effects outside the transaction.
    pub fn write<T>(
        &self,
        refusal: impl FnOnce() -> Error,
        mut f: impl FnMut(&Transaction<'_>) -> TxResult<T>,
    ) -> Result<T, Error> {
        self.with_writer(refusal, |conn| {
            retry_while_locked(&self.path, || {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let value = f(&tx)?;
                tx.commit()?;
                Ok(value)
            })
        })
    }

    /// Runs `f` in a short read transaction (one consistent snapshot) on a read-only
    /// connection from the pool.
    ///
    /// A read-only connection cannot roll back a hot journal left by a writer that crashed
    /// (`SQLITE_READONLY_ROLLBACK`); then the read runs on the writer connection, whose first
    /// transaction rolls the journal back, as SQLite requires.
    pub fn read<T>(&self, mut f: impl FnMut(&Transaction<'_>) -> TxResult<T>) -> Result<T, Error> {
        let pooled = lock(&self.readers).pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => open_connection(&self.path, true, false)
                .map_err(|e| map_sqlite_error(e, &self.path))?,
        };
        let mut hot_journal = false;
        let result = retry_while_locked(&self.path, || {
            let result = read_once(&mut conn, &mut f);
            if let Err(TxError::Sqlite(e)) = &result {
                hot_journal = is_hot_journal(e);
            }
            result
        });
        let mut idle = lock(&self.readers);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        drop(idle);
        if hot_journal && self.is_writable() {
            return self.with_writer(
                || Error::InvalidState("the store is read-only".into()),
                |conn| retry_while_locked(&self.path, || read_once(conn, &mut f)),
            );
        }
        result
    }
}

/// Whether a read-only connection met a hot journal it may not roll back.
fn is_hot_journal(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(err, _)
        if err.extended_code == rusqlite::ffi::SQLITE_READONLY_ROLLBACK)
}

/// One read transaction.
fn read_once<T>(
    conn: &mut Connection,
    f: &mut impl FnMut(&Transaction<'_>) -> TxResult<T>,
) -> TxResult<T> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
    let value = f(&tx)?;
    tx.commit()?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_error(code: std::os::raw::c_int, message: &str) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some(message.into()))
    }

    #[test]
    fn database_errors_keep_their_kind_and_sqlite_cause() {
        let path = Path::new("/data/mlflow.db");
        for (code, kind) in [
            (rusqlite::ffi::SQLITE_BUSY, DatabaseErrorKind::Locked),
            (rusqlite::ffi::SQLITE_READONLY, DatabaseErrorKind::ReadOnly),
            (rusqlite::ffi::SQLITE_FULL, DatabaseErrorKind::Other),
        ] {
            let e = map_sqlite_error(sqlite_error(code, "boom"), path);
            assert_eq!(e.database_kind(), Some(kind), "{e}");
            let source = std::error::Error::source(&e).expect("the SQLite error is kept");
            let cause = source
                .downcast_ref::<rusqlite::Error>()
                .expect("a rusqlite::Error");
            assert_eq!(cause.sqlite_error().map(|s| s.extended_code), Some(code));
            assert!(e.to_string().contains("/data/mlflow.db"), "{e}");
        }
        let locked = locked_error(
            sqlite_error(rusqlite::ffi::SQLITE_BUSY, "database is locked"),
            path,
            Duration::from_millis(1500),
            7,
        );
        assert_eq!(locked.database_kind(), Some(DatabaseErrorKind::Locked));
        let text = locked.to_string();
        assert!(text.contains("for 1.5 s (7 attempts"), "{text}");
        assert!(text.contains("MLSCOPE_SQLITE_WRITE_TIMEOUT_MS"), "{text}");
    }
}
