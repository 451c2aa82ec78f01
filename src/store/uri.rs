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

/// Makes `path` absolute against the current directory, without touching the file system
/// (`std::path::absolute`: on Windows also `/` to `\\` and a drive for root-relative paths).
pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Where the path of a `file:` URI came from, which decides what a remote host means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileUriUse {
    /// A tracking URI: a remote host is a UNC share on Windows and an error elsewhere.
    Tracking,
    /// A recorded artifact location: on Linux/macOS a remote host (a Windows store on a UNC
    /// share) becomes a path that does not exist here, so the store-relative lookup of
    /// copied stores finds the artifacts.
    Artifact,
}

/// The local path a `file:` URI names. Reads what MLflow writes on every platform:
/// `file:///abs`, `file:/abs`, `file://localhost/abs`, `file:rel`, Windows drives with or
/// without the colon percent-encoded (`file:///C:/x`, `file:///C%3A/x`, also `file:C:/x`),
/// and UNC shares (`file://server/share/x`, MLflow's `local_file_uri_to_path`).
fn file_uri_to_path(uri: &str, usage: FileUriUse) -> Result<PathBuf> {
    let Some(rest) = uri.strip_prefix("file:") else {
        return Err(Error::InvalidParameter(format!("not a file: URI: {uri}")));
    };
    // A query or fragment is not part of the path.
    let rest = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    let (host, path) = match rest.strip_prefix("//") {
        Some(after) => match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        },
        None => ("", rest),
    };
    let path = percent_decode(path);
    if !host.is_empty() && !host.eq_ignore_ascii_case("localhost") {
        let host = percent_decode(host);
        // `file://C:/x` and `file://C%3A%5Cx` (a Windows path pasted after `file://`, or
        // encoded whole): the "host" is a drive, not a server.
        if is_drive_start(&host) {
            let drive_path = format!("{host}{path}");
            if cfg!(windows) {
                return Ok(absolute(Path::new(&drive_path)));
            }
            return match (usage, foreign_windows_path(&drive_path)) {
                (FileUriUse::Artifact, Some(foreign)) => Ok(foreign),
                _ => Err(Error::InvalidParameter(format!(
                    "file URI {uri} names a Windows drive path ({drive_path}), which does not exist here"
                ))),
            };
        }
        if path.is_empty() {
            return Err(Error::InvalidParameter(format!(
                "file URI {uri} names no path"
            )));
        }
        if cfg!(windows) {
            return Ok(PathBuf::from(format!(
                r"\\{host}{}",
                path.replace('/', "\\")
            )));
        }
        return match usage {
            FileUriUse::Artifact => Ok(PathBuf::from(format!("//{host}{path}"))),
            FileUriUse::Tracking => Err(Error::InvalidParameter(format!(
                "file URIs with a remote host are not supported: {uri}"
            ))),
        };
    }
    if path.is_empty() {
        return Err(Error::InvalidParameter(format!(
            "file URI {uri} names no path"
        )));
    }
    Ok(absolute(Path::new(
        without_slash_before_drive(&path).as_ref(),
    )))
}

/// Whether `text` is a drive letter and colon, alone or followed by a separator (`C:`, `C:\\x`,
/// `C:/x`).
fn is_drive_start(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphabetic()
        && b[1] == b':'
        && (b.len() == 2 || matches!(b[2], b'\\' | b'/'))
}

/// On Windows, `/C:/x` (and the old `/C|/x`) is the drive path `C:/x`; elsewhere (and for any
/// other path) `path` as it is.
fn without_slash_before_drive(path: &str) -> std::borrow::Cow<'_, str> {
    let b = path.as_bytes();
    if cfg!(windows)
        && b.len() >= 3
        && b[0] == b'/'
        && b[1].is_ascii_alphabetic()
        && matches!(b[2], b':' | b'|')
    {
        std::borrow::Cow::Owned(format!("{}:{}", &path[1..2], &path[3..]))
    } else {
        std::borrow::Cow::Borrowed(path)
    }
}

/// The local directory a recorded `file:` artifact URI names (see [`file_uri_to_path`]); a
/// location written on another operating system comes back as a path that does not exist
/// here, for [`crate::artifacts::resolve_artifact_root`] to relocate.
pub(crate) fn artifact_file_uri_to_path(uri: &str) -> Result<PathBuf> {
    file_uri_to_path(uri, FileUriUse::Artifact)
}

/// On Linux and macOS, a plain Windows path recorded by a store written on Windows
/// (`C:\Users\me\mlruns\1\…`, `C:/…`, `\\server\share\…`) as a path with `/` separators
/// (`/C:/Users/me/mlruns/1/…`, `//server/share/…`): it does not exist here, but its components
/// are the recorded ones, so a copied store's artifacts are found relative to the store. `None`
/// for anything else, and always on Windows, where these are native paths.
pub(crate) fn foreign_windows_path(recorded: &str) -> Option<PathBuf> {
    if cfg!(windows) {
        return None;
    }
    let b = recorded.as_bytes();
    let drive =
        b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && matches!(b[2], b'\\' | b'/');
    let unc = recorded.starts_with(r"\\");
    if !(drive || unc) {
        return None;
    }
    let posix = recorded
        .strip_prefix(r"\\?\UNC\")
        .map(|share| format!("//{share}"))
        .or_else(|| recorded.strip_prefix(r"\\?\").map(str::to_string))
        .unwrap_or_else(|| recorded.to_string())
        .replace('\\', "/");
    Some(PathBuf::from(if posix.starts_with("//") {
        posix
    } else {
        format!("/{posix}")
    }))
}

/// `pathlib.Path(abs).as_uri()` of this platform, which is what MLflow records: `file://`
/// plus the absolute path with every byte outside `A-Za-z0-9_.-~/` percent-encoded. On Windows
/// a drive path is `file:///C:/Users/…` (the drive colon as it is, never `C%3A`), a UNC path
/// `file://server/share/…`, and a long (`\\?\`) path is written as the path it names.
pub fn path_to_file_uri(path: &Path) -> String {
    let abs = absolute(path);
    let text = abs.to_string_lossy();
    if cfg!(windows) {
        windows_path_to_file_uri(&text)
    } else {
        format!("file://{}", quote_path(&text))
    }
}

/// [`path_to_file_uri`] for an absolute Windows path (pure, so it is tested on every platform).
fn windows_path_to_file_uri(path: &str) -> String {
    let plain = path
        .strip_prefix(r"\\?\UNC\")
        .map(|share| format!(r"\\{share}"))
        .or_else(|| path.strip_prefix(r"\\?\").map(str::to_string))
        .unwrap_or_else(|| path.to_string());
    let posix = plain.replace('\\', "/");
    let b = posix.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        // pathlib: 'file:///%s/%s' % (drive, quote(rest.lstrip('/')))
        let rest = posix[2..].trim_start_matches('/');
        format!("file:///{}/{}", &posix[..2], quote_path(rest))
    } else if posix.starts_with("//") {
        // A UNC share: 'file:' + quote('//server/share/…').
        format!("file:{}", quote_path(&posix))
    } else {
        format!("file://{}", quote_path(&posix))
    }
}

/// `urllib.parse.quote_from_bytes(path, safe='/')`: every byte outside `A-Za-z0-9_.-~/` as
/// `%XX`.
fn quote_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-' | b'~' | b'/') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// MLflow's `resolve_uri_if_local` result for a relative local path made absolute, `posix`
/// (`/` separators, not percent-encoded): the plain path on Linux and macOS, a `file:` URI on
/// Windows (`file:///C:/…`, `file://server/share/…` for a UNC working directory).
pub(crate) fn local_path_as_recorded(posix: &str) -> String {
    if !cfg!(windows) {
        return posix.to_string();
    }
    if posix.starts_with("//") {
        format!("file:{posix}")
    } else {
        format!("file:///{}", posix.trim_start_matches('/'))
    }
}

/// Parses a tracking URI: `file:` URIs and plain paths are file stores, `sqlite:///rel.db` and
/// `sqlite:////abs.db` are SQLite databases, `http(s)://` are servers. On Windows, plain paths
/// may be `C:\…`, `C:/…`, UNC (`\\server\share\…`) or long (`\\?\C:\…`), and `file:` URIs
/// name drives (`file:///C:/…`, also `file:///C%3A/…`) and UNC shares (`file://server/share/…`).
pub fn parse_tracking_uri(uri: &str) -> Result<StoreLocation> {
    let uri = uri.trim();
    if uri.is_empty() {
        return Err(Error::InvalidParameter("empty tracking URI".into()));
    }
    if uri.starts_with("file:") {
        return Ok(StoreLocation::File(file_uri_to_path(
            uri,
            FileUriUse::Tracking,
        )?));
    }
    if let Some(rest) = uri.strip_prefix("sqlite://") {
        // SQLAlchemy: sqlite:///relative.db, sqlite:////absolute.db, sqlite:///:memory: not
        // supported; on Windows sqlite:///C:\abs.db and sqlite:///C:/abs.db are absolute.
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
        let path = percent_decode(path);
        return Ok(StoreLocation::Sqlite(absolute(Path::new(
            without_slash_before_drive(&path).as_ref(),
        ))));
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
        return path_to_file_uri(Path::new("mlruns"));
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

/// Opens the store a tracking URI names. A file store keeps its persistent run index in the
/// cache folder (`store::index`; off with `MLSCOPE_NO_INDEX`).
pub fn open_store(uri: &str) -> Result<Arc<dyn TrackingStore>> {
    match parse_tracking_uri(uri)? {
        StoreLocation::File(root) => Ok(Arc::new(
            FileStore::open(&root)?.with_index(crate::store::index::IndexOptions::from_env()),
        )),
        StoreLocation::Sqlite(path) => Ok(Arc::new(crate::store::SqliteStore::open(&path)?)),
        StoreLocation::Http(url) => Ok(Arc::new(crate::store::RestStore::open(&url)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(windows))]
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
        assert!(parse_tracking_uri("file://").is_err());
    }

    #[test]
    fn windows_paths_become_uris_like_pathlib() {
        // pathlib.PureWindowsPath(p).as_uri() (Python 3.11) for the first four; long paths
        // are written as the path they name (pathlib gives `file://%3F/C%3A/…`, which
        // MLflow's reader cannot open).
        let cases = [
            (r"C:\Users\me\mlruns\1", "file:///C:/Users/me/mlruns/1"),
            (r"c:\a b\größe", "file:///c:/a%20b/gr%C3%B6%C3%9Fe"),
            (r"D:\", "file:///D:/"),
            (r"\\server\share\mlruns\1", "file://server/share/mlruns/1"),
            (r"\\?\C:\very\long\mlruns", "file:///C:/very/long/mlruns"),
            (r"\\?\UNC\server\share\mlruns", "file://server/share/mlruns"),
        ];
        for (path, uri) in cases {
            assert_eq!(windows_path_to_file_uri(path), uri, "{path}");
        }
    }

    #[test]
    fn file_uris_of_this_platform_round_trip() {
        let dir = std::env::temp_dir().join("mlscope uri test").join("mlruns");
        let uri = path_to_file_uri(&dir);
        assert!(uri.starts_with("file:///"), "{uri}");
        assert!(
            !uri.contains("%3A"),
            "the drive colon stays as it is: {uri}"
        );
        assert_eq!(
            parse_tracking_uri(&uri).unwrap(),
            StoreLocation::File(absolute(&dir))
        );
    }

    #[cfg(windows)]
    #[test]
    fn windows_file_uris_and_paths_are_read() {
        let drive = |uri: &str| match parse_tracking_uri(uri).unwrap() {
            StoreLocation::File(p) => p,
            other => panic!("{other:?}"),
        };
        let want = PathBuf::from(r"C:\Users\me\mlruns");
        for uri in [
            "file:///C:/Users/me/mlruns",
            "file:///C%3A/Users/me/mlruns",
            "file:///C%3a/Users/me/mlruns",
            "file://localhost/C:/Users/me/mlruns",
            "file:/C:/Users/me/mlruns",
            r"C:\Users\me\mlruns",
            "C:/Users/me/mlruns",
        ] {
            assert_eq!(drive(uri), want, "{uri}");
        }
        // A drive in the host position: a path pasted after `file://`, or encoded whole
        // (what the tests' support code once built).
        for uri in [
            "file://C:/Users/me/mlruns",
            r"file://C:\Users\me\mlruns",
            "file://C%3A%5CUsers%5Cme%5Cmlruns",
            "file://C%3A/Users/me/mlruns",
        ] {
            assert_eq!(drive(uri), want, "{uri}");
        }
        assert_eq!(
            drive("file://server/share/mlruns"),
            PathBuf::from(r"\\server\share\mlruns")
        );
        assert_eq!(
            drive(r"\\server\share\mlruns"),
            PathBuf::from(r"\\server\share\mlruns")
        );
        assert_eq!(
            drive(r"\\?\C:\Users\me\mlruns"),
            PathBuf::from(r"\\?\C:\Users\me\mlruns")
        );
        for uri in [
            "sqlite:///C:/Users/me/mlflow.db",
            r"sqlite:///C:\Users\me\mlflow.db",
            "sqlite:////C:/Users/me/mlflow.db",
        ] {
            assert_eq!(
                parse_tracking_uri(uri).unwrap(),
                StoreLocation::Sqlite(r"C:\Users\me\mlflow.db".into()),
                "{uri}"
            );
        }
        assert_eq!(local_path_as_recorded("C:/a/b"), "file:///C:/a/b");
        assert_eq!(
            local_path_as_recorded("//srv/share/b"),
            "file://srv/share/b"
        );
        assert_eq!(foreign_windows_path(r"C:\a"), None);
    }

    #[cfg(not(windows))]
    #[test]
    fn windows_locations_read_elsewhere_keep_their_components() {
        // Artifact locations a store made on Windows records, read from a copy on Linux/macOS:
        // paths that do not exist here but end in the recorded `<exp>/<run>/artifacts`.
        for uri in [
            "file:///C:/Users/me/mlruns/1/abc/artifacts",
            "file:///C%3A/Users/me/mlruns/1/abc/artifacts",
        ] {
            assert_eq!(
                artifact_file_uri_to_path(uri).unwrap(),
                PathBuf::from("/C:/Users/me/mlruns/1/abc/artifacts"),
                "{uri}"
            );
        }
        // A Windows path with its drive in the host position (`file://C:/…`, or encoded whole).
        for uri in [
            "file://C:/Users/me/mlruns/1/abc/artifacts",
            "file://C%3A%5CUsers%5Cme%5Cmlruns%5C1%5Cabc%5Cartifacts",
        ] {
            assert_eq!(
                artifact_file_uri_to_path(uri).unwrap(),
                PathBuf::from("/C:/Users/me/mlruns/1/abc/artifacts"),
                "{uri}"
            );
            let err = parse_tracking_uri(uri).unwrap_err().to_string();
            assert!(err.contains("Windows drive path"), "{uri}: {err}");
        }
        assert_eq!(
            artifact_file_uri_to_path("file://nas/team/mlruns/1/abc/artifacts").unwrap(),
            PathBuf::from("//nas/team/mlruns/1/abc/artifacts")
        );
        assert_eq!(
            foreign_windows_path(r"C:\Users\me\mlruns\1\abc\artifacts"),
            Some(PathBuf::from("/C:/Users/me/mlruns/1/abc/artifacts"))
        );
        assert_eq!(
            foreign_windows_path(r"\\nas\team\mlruns\1"),
            Some(PathBuf::from("//nas/team/mlruns/1"))
        );
        assert_eq!(
            foreign_windows_path(r"\\?\C:\long\1"),
            Some(PathBuf::from("/C:/long/1"))
        );
        assert_eq!(foreign_windows_path("/home/me/mlruns"), None);
        assert_eq!(foreign_windows_path("rel/dir"), None);
        assert_eq!(local_path_as_recorded("/a/b"), "/a/b");
    }
}
