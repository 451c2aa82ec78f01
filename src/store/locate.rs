//! Finding the MLflow store a user meant when they chose a path: the `mlruns` folder itself, a
//! database file, or the project folder that *contains* `mlruns/` or `mlflow.db`. Only reads
//! (directory listings, a file's first bytes); never creates or changes anything.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::store::{StoreLocation, parse_tracking_uri};

/// The first 16 bytes of every SQLite 3 database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// What a chosen path holds, as far as opening an MLflow store goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// Open this tracking URI as it is: the path is a store itself (an `mlruns` folder, a
    /// database file), or not a local path (a server, a `sqlite:` URI), or missing (opening
    /// says so).
    Store(String),
    /// The chosen folder holds a store: open `uri`, found as `found` (`mlruns/` or
    /// `mlflow.db`) inside `folder`.
    Inside {
        /// The tracking URI of what was found.
        uri: String,
        /// The chosen folder.
        folder: PathBuf,
        /// What was found in it: `mlruns/` or `mlflow.db`.
        found: &'static str,
    },
    /// The chosen folder holds both an `mlruns/` folder and an `mlflow.db`: the user chooses.
    Both {
        /// The chosen folder.
        folder: PathBuf,
        /// Its `mlruns` folder.
        mlruns: PathBuf,
        /// Its `mlflow.db`, as a `sqlite:` URI.
        database: String,
    },
    /// Not an MLflow store.
    NotAStore {
        /// The chosen path.
        path: PathBuf,
        /// Why not, in words.
        reason: String,
    },
}

impl Located {
    /// The text to show when this is [`Located::NotAStore`]: `not an MLflow store: <path>: <why>`.
    pub fn not_a_store_message(path: &Path, reason: &str) -> String {
        format!("not an MLflow store: {}: {reason}", path.display())
    }
}

/// Finds the store a user meant by `uri` (a path or tracking URI). Paths and `file:` URIs are
/// looked at; other URIs are returned as they are.
pub fn locate_store(uri: &str) -> Located {
    let trimmed = uri.trim();
    let path = match parse_tracking_uri(trimmed) {
        Ok(StoreLocation::File(p)) => p,
        // sqlite: and http(s): URIs name their store; a bad URI fails when opened, with why.
        Ok(_) | Err(_) => return Located::Store(trimmed.to_string()),
    };
    let Ok(meta) = std::fs::metadata(&path) else {
        return Located::Store(trimmed.to_string());
    };
    if meta.is_file() {
        return if is_database_file(&path) {
            Located::Store(sqlite_uri(&path))
        } else {
            Located::NotAStore {
                reason: "this file is neither an mlruns folder nor an MLflow SQLite database"
                    .into(),
                path,
            }
        };
    }
    if is_mlruns_folder(&path) {
        return Located::Store(trimmed.to_string());
    }
    let mlruns = path.join("mlruns");
    let database = path.join("mlflow.db");
    let has_mlruns = mlruns.is_dir();
    let has_database = database.is_file();
    match (has_mlruns, has_database) {
        (true, true) => Located::Both {
            mlruns,
            database: sqlite_uri(&database),
            folder: path,
        },
        (true, false) => Located::Inside {
            uri: mlruns.display().to_string(),
            folder: path,
            found: "mlruns/",
        },
        (false, true) => Located::Inside {
            uri: sqlite_uri(&database),
            folder: path,
            found: "mlflow.db",
        },
        (false, false) => {
            let empty = std::fs::read_dir(&path)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
            let reason = if empty {
                "the folder is empty".to_string()
            } else {
                "the folder holds no mlruns/ folder, no mlflow.db and no experiment folders \
                 (numbered folders with a meta.yaml)"
                    .to_string()
            };
            Located::NotAStore { path, reason }
        }
    }
}

/// Whether `dir` is an `mlruns` folder: it is named `mlruns`, or holds an experiment folder
/// (an all-digit name with a `meta.yaml`) or MLflow's `.trash`.
fn is_mlruns_folder(dir: &Path) -> bool {
    if dir.file_name().is_some_and(|n| n == "mlruns") {
        return true;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let experiment = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_digit())
            && e.path().join("meta.yaml").is_file();
        experiment || (name == ".trash" && e.path().is_dir())
    })
}

/// Whether `path` is a SQLite database: its first bytes say so, or it is named like one (an
/// empty `.db` file is a database that opening will say is empty).
fn is_database_file(path: &Path) -> bool {
    let named = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "db" | "sqlite" | "sqlite3"));
    if named {
        return true;
    }
    let mut head = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head == SQLITE_HEADER)
}

/// `sqlite:///` + the absolute path, as MLflow's `path_to_local_sqlite_uri` writes it and
/// [`crate::store::SqliteStore`]'s tracking URI is: `sqlite:////abs/x.db` on Unix,
/// `sqlite:///C:/abs/x.db` on Windows (`/` separators there).
fn sqlite_uri(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let text = abs.to_string_lossy();
    if cfg!(windows) {
        format!("sqlite:///{}", text.replace('\\', "/"))
    } else {
        format!("sqlite:///{text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::write(p, b"").unwrap();
    }

    #[test]
    fn a_project_folder_with_mlruns_opens_its_mlruns() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("mlruns/0")).unwrap();
        touch(&dir.path().join("mlruns/0/meta.yaml"));
        touch(&dir.path().join("train.py"));
        let got = locate_store(&dir.path().display().to_string());
        assert_eq!(
            got,
            Located::Inside {
                uri: dir.path().join("mlruns").display().to_string(),
                folder: dir.path().to_path_buf(),
                found: "mlruns/",
            }
        );
        // The mlruns folder itself is a store.
        let inner = dir.path().join("mlruns").display().to_string();
        assert_eq!(locate_store(&inner), Located::Store(inner.clone()));
    }

    #[test]
    fn a_folder_with_mlflow_db_opens_it_and_with_both_asks() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("mlflow.db"));
        let got = locate_store(&dir.path().display().to_string());
        assert!(
            matches!(&got, Located::Inside { uri, found: "mlflow.db", .. } if uri.starts_with("sqlite:///") && uri.ends_with("mlflow.db")),
            "{got:?}"
        );
        std::fs::create_dir(dir.path().join("mlruns")).unwrap();
        let got = locate_store(&dir.path().display().to_string());
        assert!(matches!(got, Located::Both { .. }), "{got:?}");
    }

    #[test]
    fn unrelated_and_empty_folders_are_not_stores_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        match locate_store(&empty.display().to_string()) {
            Located::NotAStore { reason, .. } => assert_eq!(reason, "the folder is empty"),
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
        let project = dir.path().join("project");
        std::fs::create_dir_all(project.join("src")).unwrap();
        touch(&project.join("notes.txt"));
        match locate_store(&project.display().to_string()) {
            Located::NotAStore { reason, .. } => assert!(reason.contains("no mlruns/")),
            other => panic!("{other:?}"),
        }
        let text = project.join("notes.txt");
        assert!(matches!(
            locate_store(&text.display().to_string()),
            Located::NotAStore { .. }
        ));
    }

    #[test]
    fn uris_and_missing_paths_pass_through() {
        for uri in ["http://127.0.0.1:1", "sqlite:////nowhere/x.db"] {
            assert_eq!(locate_store(uri), Located::Store(uri.to_string()));
        }
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gone").display().to_string();
        assert_eq!(locate_store(&missing), Located::Store(missing.clone()));
        let trash_only = dir.path().join("store");
        std::fs::create_dir_all(trash_only.join(".trash")).unwrap();
        let s = trash_only.display().to_string();
        assert_eq!(locate_store(&s), Located::Store(s.clone()));
    }
}
