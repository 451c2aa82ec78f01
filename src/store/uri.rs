//! Tracking-URI resolution: which backend a URI names, and MLflow 3.7+'s default URI.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::store::{FileStore, TrackingStore};

/// Where a tracking URI points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An `mlruns` folder.
    File(PathBuf),
    /// An MLflow SQLite database file.
    Sqlite(PathBuf),
    /// An MLflow tracking server.
    Http(String),
}

/// Decodes `%XX` escapes of a URI part (the HTTP transport's, shared).
pub(crate) use crate::http::percent_decode;

/// Makes `path` absolute against the current directory, without touching the file system.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    }
}

/// Parses a tracking URI: `file:` URIs and plain paths are file stores, `sqlite:///rel.db` and
/// `sqlite:////abs.db` are SQLite databases, `http(s)://` are servers.
pub fn parse_tracking_uri(uri: &str) -> Result<StoreLocation> {
    let uri = uri.trim();
    if uri.is_empty() {
        return Err(Error::InvalidParameter("empty tracking URI".into()));
    }
    if let Some(rest) = uri.strip_prefix("file:") {
        // file:///abs, file:/abs, file://localhost/abs
        let path = if let Some(after) = rest.strip_prefix("//") {
            match after.find('/') {
                Some(0) => after.to_string(),
                Some(i) if &after[..i] == "localhost" => after[i..].to_string(),
                Some(_) | None => {
                    return Err(Error::InvalidParameter(format!(
                        "file URIs with a remote host are not supported: {uri}"
                    )));
                }
            }
        } else {
            rest.to_string()
        };
        return Ok(StoreLocation::File(absolute(Path::new(&percent_decode(
            &path,
        )))));
    }
    if let Some(rest) = uri.strip_prefix("sqlite://") {
        // SQLAlchemy: sqlite:///relative.db, sqlite:////absolute.db, sqlite:///:memory: not supported
        let Some(path) = rest.strip_prefix('/') else {
            return Err(Error::InvalidParameter(format!(
                "invalid SQLite URI {uri}: expected sqlite:///relative.db or sqlite:////absolute/path.db"
            )));
        };
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() || path == ":memory:" {
            return Err(Error::InvalidParameter(format!(
                "SQLite URI {uri} names no database file"
            )));
        }
        return Ok(StoreLocation::Sqlite(absolute(Path::new(&percent_decode(
            path,
        )))));
    }
    if uri.starts_with("http://") || uri.starts_with("https://") {
        return Ok(StoreLocation::Http(uri.trim_end_matches('/').to_string()));
    }
    let scheme_end = uri.find(':');
    if let Some(i) = scheme_end {
        let scheme = &uri[..i];
        // A one-letter "scheme" is a Windows drive letter, not a URI scheme.
        if scheme.len() > 1
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            return Err(Error::InvalidParameter(format!(
                "unsupported tracking URI scheme '{scheme}' in {uri}: use a path, file:, sqlite: or http(s):"
            )));
        }
    }
    Ok(StoreLocation::File(absolute(Path::new(uri))))
}

/// MLflow 3.7+'s default tracking URI: `MLFLOW_TRACKING_URI` if set, else `./mlruns` when it
/// already holds experiment data (a subfolder with an all-digit name and a `meta.yaml`), else
/// `sqlite:///mlflow.db`.
pub fn default_tracking_uri() -> String {
    if let Ok(uri) = std::env::var(crate::env::MLFLOW_TRACKING_URI)
        && !uri.trim().is_empty()
    {
        return uri;
    }
    if mlruns_has_experiments(Path::new("mlruns")) {
        let abs = absolute(Path::new("mlruns"));
        return format!("file://{}", abs.display());
    }
    "sqlite:///mlflow.db".to_string()
}

fn mlruns_has_experiments(root: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(root) else {
        return false;
    };
    entries.flatten().any(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_digit())
            && e.path().join("meta.yaml").is_file()
    })
}

/// Opens the store a tracking URI names.
pub fn open_store(uri: &str) -> Result<Arc<dyn TrackingStore>> {
    match parse_tracking_uri(uri)? {
        StoreLocation::File(root) => Ok(Arc::new(FileStore::open(&root)?)),
        StoreLocation::Sqlite(path) => Ok(Arc::new(crate::store::SqliteStore::open(&path)?)),
        StoreLocation::Http(url) => Ok(Arc::new(crate::store::RestStore::open(&url)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_and_sqlite_uris() {
        assert_eq!(
            parse_tracking_uri("file:///tmp/mlruns").unwrap(),
            StoreLocation::File("/tmp/mlruns".into())
        );
        assert_eq!(
            parse_tracking_uri("file:/tmp/a%20b").unwrap(),
            StoreLocation::File("/tmp/a b".into())
        );
        assert_eq!(
            parse_tracking_uri("/tmp/mlruns").unwrap(),
            StoreLocation::File("/tmp/mlruns".into())
        );
        assert_eq!(
            parse_tracking_uri("sqlite:////tmp/x.db").unwrap(),
            StoreLocation::Sqlite("/tmp/x.db".into())
        );
        let rel = parse_tracking_uri("sqlite:///x.db").unwrap();
        assert_eq!(
            rel,
            StoreLocation::Sqlite(std::env::current_dir().unwrap().join("x.db"))
        );
        assert!(parse_tracking_uri("databricks://x").is_err());
        assert!(parse_tracking_uri("sqlite://x.db").is_err());
        assert!(parse_tracking_uri("file://host/x").is_err());
    }
}
