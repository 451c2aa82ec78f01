//! A cheap check of whether a SQLite store changed, for live views.
//!
//! [`SqliteChangeCheck`] keeps its own read-only connection and compares SQLite's
//! `PRAGMA data_version`, which changes whenever another connection (of this process or any
//! other) commits to the database. One check is a single pragma: cheap enough to poll every
//! few hundred milliseconds.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::connection::map_sqlite_error;
use crate::error::Result;

/// Tells whether a SQLite database was committed to since the last check.
#[derive(Debug)]
pub struct SqliteChangeCheck {
    path: PathBuf,
    conn: Connection,
    last: i64,
}

impl SqliteChangeCheck {
    /// Opens a dedicated read-only connection on the database at `path`.
    pub fn open(path: &Path) -> Result<SqliteChangeCheck> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn =
            Connection::open_with_flags(path, flags).map_err(|e| map_sqlite_error(e, path))?;
        let mut check = SqliteChangeCheck {
            path: path.to_path_buf(),
            conn,
            last: 0,
        };
        check.last = check.data_version()?;
        Ok(check)
    }

    fn data_version(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA data_version", [], |row| row.get(0))
            .map_err(|e| map_sqlite_error(e, &self.path))
    }

    /// Whether another connection committed since the last call (or since opening).
    pub fn changed(&mut self) -> Result<bool> {
        let now = self.data_version()?;
        let changed = now != self.last;
        self.last = now;
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SqliteStore, TrackingStore};

    #[test]
    fn a_commit_of_another_connection_is_seen_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("mlflow.db");
        let store = SqliteStore::open_with_artifact_root(&db, "/tmp/a").unwrap();
        store.initialise().unwrap();
        let mut check = SqliteChangeCheck::open(&db).unwrap();
        assert!(!check.changed().unwrap());
        store.create_experiment("live", None, &[]).unwrap();
        assert!(check.changed().unwrap());
        assert!(!check.changed().unwrap());
    }
}
