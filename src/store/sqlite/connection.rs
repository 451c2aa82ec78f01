//! Connections to one database file: MLflow's per-connection pragmas, one writer connection
//! behind a mutex, a small pool of read-only reader connections, short transactions, and
//! retries when another process holds the lock.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode as SqliteCode, OpenFlags, Transaction, TransactionBehavior};

use crate::error::Error;

/// How long SQLite's busy handler waits for a lock before giving up, as MLflow configures it.
pub const BUSY_TIMEOUT: Duration = Duration::from_millis(20_000);

/// The busy timeout in use: [`BUSY_TIMEOUT`], or `MLSCOPE_SQLITE_BUSY_TIMEOUT_MS` when set (for
/// callers that would rather fail fast than wait for a long-held lock).
pub fn busy_timeout() -> Duration {
    std::env::var("MLSCOPE_SQLITE_BUSY_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(BUSY_TIMEOUT)
}
/// How many times a transaction is retried when SQLite still reports the database busy or locked
/// after [`BUSY_TIMEOUT`] (or immediately, for a busy snapshot).
const MAX_ATTEMPTS: u32 = 8;
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
    match e.sqlite_error_code() {
        Some(SqliteCode::NotADatabase) => Error::corrupt(
            "the file is not an SQLite database (wrong header or encrypted); it was left untouched",
            path,
        ),
        Some(SqliteCode::DatabaseCorrupt) => {
            Error::corrupt(format!("the SQLite database is damaged: {e}"), path)
        }
        Some(SqliteCode::DatabaseBusy | SqliteCode::DatabaseLocked) => Error::Database(format!(
            "the database stayed locked by another connection for more than {:.1} s over \
             {MAX_ATTEMPTS} attempts ({e}); nothing was written: {}",
            busy_timeout().as_secs_f64(),
            path.display()
        )),
        Some(SqliteCode::ReadOnly | SqliteCode::CannotOpen | SqliteCode::PermissionDenied) => {
            Error::Database(format!(
                "cannot write: the database file or its directory is read-only ({e}): {}",
                path.display()
            ))
        }
        _ => Error::Database(format!("{e}: {}", path.display())),
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

/// Backoff before retry `attempt` (1-based): 25 ms doubling, capped at 1.6 s, plus jitter.
fn backoff(attempt: u32) -> Duration {
    let base = 25u64 << attempt.min(6);
    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % (base / 2 + 1);
    Duration::from_millis(base + jitter)
}

/// The connections of one store.
pub struct Db {
    path: PathBuf,
    writer: Option<Mutex<Connection>>,
    readers: Mutex<Vec<Connection>>,
}

impl Db {
    /// Wraps an open writer connection (or none, for a read-only store).
    pub fn new(path: PathBuf, writer: Option<Connection>) -> Db {
        Db {
            path,
            writer: writer.map(Mutex::new),
            readers: Mutex::new(Vec::new()),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a writer connection exists.
    pub fn is_writable(&self) -> bool {
        self.writer.is_some()
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction on the writer connection and commits; on
    /// SQLITE_BUSY/LOCKED the whole transaction is rolled back and retried with backoff.
    /// `f` may run several times, so it must not have side effects outside the transaction.
    pub fn write<T>(
        &self,
        refusal: impl FnOnce() -> Error,
        mut f: impl FnMut(&Transaction<'_>) -> TxResult<T>,
    ) -> Result<T, Error> {
        let Some(writer) = &self.writer else {
            return Err(refusal());
        };
        let mut conn = lock(writer);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = (|| -> TxResult<T> {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let value = f(&tx)?;
                tx.commit()?;
                Ok(value)
            })();
            match result {
                Err(TxError::Sqlite(e)) if is_busy(&e) && attempt < MAX_ATTEMPTS => {
                    std::thread::sleep(backoff(attempt));
                }
                other => return other.map_err(|e| map_tx_error(e, &self.path)),
            }
        }
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
        let result = read_with_retry(&mut conn, &mut f);
        let mut idle = lock(&self.readers);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        drop(idle);
        let result = match (result, &self.writer) {
            (Err(TxError::Sqlite(e)), Some(writer)) if is_hot_journal(&e) => {
                read_with_retry(&mut lock(writer), &mut f)
            }
            (result, _) => result,
        };
        result.map_err(|e| map_tx_error(e, &self.path))
    }
}

/// Whether a read-only connection met a hot journal it may not roll back.
fn is_hot_journal(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(err, _)
        if err.extended_code == rusqlite::ffi::SQLITE_READONLY_ROLLBACK)
}

fn read_with_retry<T>(
    conn: &mut Connection,
    f: &mut impl FnMut(&Transaction<'_>) -> TxResult<T>,
) -> TxResult<T> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = (|| -> TxResult<T> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })();
        match result {
            Err(TxError::Sqlite(e)) if is_busy(&e) && attempt < MAX_ATTEMPTS => {
                std::thread::sleep(backoff(attempt));
            }
            other => return other,
        }
    }
}
