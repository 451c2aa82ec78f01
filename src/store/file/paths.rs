//! Names and paths of the `mlruns` layout, and the `file:` URIs MLflow stores in it.

use std::path::{Path, PathBuf};

/// Folder of the root holding deleted experiments.
pub(crate) const TRASH_DIR: &str = ".trash";
/// Metadata file of experiments, runs, datasets and inputs.
pub(crate) const META_FILE: &str = "meta.yaml";
/// Run sub-folder of metric files.
pub(crate) const METRICS_DIR: &str = "metrics";
/// Run sub-folder of param files.
pub(crate) const PARAMS_DIR: &str = "params";
/// Run (and experiment) sub-folder of tag files.
pub(crate) const TAGS_DIR: &str = "tags";
/// Run sub-folder of artifacts.
pub(crate) const ARTIFACTS_DIR: &str = "artifacts";
/// Run sub-folder of dataset/model input records.
pub(crate) const INPUTS_DIR: &str = "inputs";
/// Experiment sub-folder of dataset records.
pub(crate) const DATASETS_DIR: &str = "datasets";

/// Experiment sub-folders that are never runs (`FileStore.RESERVED_EXPERIMENT_FOLDERS`).
pub(crate) const RESERVED_EXPERIMENT_FOLDERS: [&str; 4] = ["tags", "datasets", "traces", "models"];
/// Root sub-folders that are never experiments: the trash and the model registry.
pub(crate) const NON_EXPERIMENT_ROOT_FOLDERS: [&str; 2] = [TRASH_DIR, "models"];

/// Prefix of the temporary files and folders mlscope creates while writing; readers skip them.
pub(crate) const TEMP_PREFIX: &str = ".mlscope-tmp-";

/// Longest explicit experiment artifact location (`MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH`).
pub(crate) const MAX_ARTIFACT_LOCATION_LENGTH: usize = 2048;

/// A fresh, unique temporary name for a file or folder in `dir`.
pub(crate) fn temp_path(dir: &Path) -> PathBuf {
    dir.join(format!("{TEMP_PREFIX}{}", uuid::Uuid::new_v4().simple()))
}

/// Whether a directory entry name is one of mlscope's temporary files.
pub(crate) fn is_temp_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX)
}

/// Names that operating systems and file managers drop into folders on their own.
pub(crate) fn is_os_junk_name(name: &str) -> bool {
    matches!(
        name,
        ".DS_Store" | "Thumbs.db" | "desktop.ini" | ".directory"
    ) || name.starts_with("._")
}

/// The file of a (validated) metric/param/tag key under `base`: `a/b` is `base/a/b`.
pub(crate) fn key_path(base: &Path, key: &str) -> PathBuf {
    let mut path = base.to_path_buf();
    path.extend(key.split('/'));
    path
}

/// Makes `path` absolute against the current directory without touching the file system
/// (Python's `os.path.abspath`, minus the `..` folding).
pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `pathlib.Path(abs).as_uri()`: `file://` plus the path with every byte outside
/// `A-Za-z0-9_.-~/` percent-encoded; on Windows `file:///C:/…` (see
/// [`crate::store::uri::path_to_file_uri`]).
pub(crate) fn path_to_file_uri(path: &Path) -> String {
    crate::store::uri::path_to_file_uri(path)
}

/// MLflow's `append_to_uri_path`: appends `/`-joined parts to the path of `uri`, keeping a
/// query string or fragment at the end.
pub(crate) fn append_to_uri_path(uri: &str, parts: &[&str]) -> String {
    let split_at = if uri.contains("://") || uri.starts_with("file:") {
        uri.find(['?', '#']).unwrap_or(uri.len())
    } else {
        uri.len()
    };
    let (base, tail) = uri.split_at(split_at);
    let mut out = base.trim_end_matches('/').to_string();
    for part in parts {
        let part = part.trim_matches('/');
        if part.is_empty() {
            continue;
        }
        out.push('/');
        out.push_str(part);
    }
    out.push_str(tail);
    out
}

/// The URI scheme of `uri` (`s3`, `file`…), if it has one. A single letter is a Windows drive.
fn uri_scheme(uri: &str) -> Option<&str> {
    let colon = uri.find(':')?;
    let scheme = &uri[..colon];
    let valid = scheme.len() > 1
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

/// MLflow's `resolve_uri_if_local` for an explicit experiment artifact location: a relative
/// plain path becomes an absolute plain path, a relative `file:` URI an absolute `file://`
/// URI; anything else (absolute paths, remote URIs) is kept as given.
pub(crate) fn resolve_artifact_location(location: &str) -> String {
    match uri_scheme(location) {
        None => {
            let path = Path::new(location);
            if path.is_absolute() {
                location.to_string()
            } else {
                crate::store::uri::local_path_as_recorded(
                    &absolute(path).to_string_lossy().replace('\\', "/"),
                )
            }
        }
        Some("file") => {
            let rest = &location["file:".len()..];
            if rest.starts_with('/') {
                return location.to_string();
            }
            let (path_part, tail) = rest.split_at(rest.find(['?', '#']).unwrap_or(rest.len()));
            let abs = absolute(Path::new(path_part));
            let posix = abs.to_string_lossy().replace('\\', "/");
            // On Windows `C:/…` needs the third slash (MLflow's urlunsplit adds it).
            let sep = if posix.starts_with('/') { "" } else { "/" };
            format!("file://{sep}{posix}{tail}")
        }
        Some(_) => location.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // pathlib's PosixPath; the Windows form is store::uri's windows_paths_become_uris_like_pathlib.
    #[cfg(not(windows))]
    #[test]
    fn file_uris_are_percent_encoded_like_pathlib() {
        assert_eq!(
            path_to_file_uri(Path::new("/tmp/a b/mlruns")),
            "file:///tmp/a%20b/mlruns"
        );
        assert_eq!(
            path_to_file_uri(Path::new("/tmp/größe~x")),
            "file:///tmp/gr%C3%B6%C3%9Fe~x"
        );
    }

    #[test]
    fn uri_paths_are_appended() {
        assert_eq!(
            append_to_uri_path("file:///r/0", &["abc", "artifacts"]),
            "file:///r/0/abc/artifacts"
        );
        assert_eq!(
            append_to_uri_path("s3://b/p?x=1", &["r", "artifacts"]),
            "s3://b/p/r/artifacts?x=1"
        );
        assert_eq!(append_to_uri_path("/plain/", &["r"]), "/plain/r");
    }

    #[cfg(not(windows))]
    #[test]
    fn local_artifact_locations_are_resolved() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            resolve_artifact_location("rel/dir"),
            cwd.join("rel/dir").to_string_lossy()
        );
        assert_eq!(resolve_artifact_location("/abs/dir"), "/abs/dir");
        assert_eq!(
            resolve_artifact_location("file:rel"),
            format!("file://{}", cwd.join("rel").to_string_lossy())
        );
        assert_eq!(resolve_artifact_location("file:///abs"), "file:///abs");
        assert_eq!(resolve_artifact_location("s3://bucket/x"), "s3://bucket/x");
    }

    /// On Windows MLflow's `resolve_uri_if_local` records local paths as `file:///C:/…` URIs,
    /// and a path without a drive (`/abs`) is on the current drive.
    #[cfg(windows)]
    #[test]
    fn local_artifact_locations_are_resolved() {
        let uri_of = |p: &Path| format!("file:///{}", p.to_string_lossy().replace('\\', "/"));
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            resolve_artifact_location("rel/dir"),
            uri_of(&cwd.join("rel").join("dir"))
        );
        assert_eq!(
            resolve_artifact_location("/abs/dir"),
            uri_of(&absolute(Path::new("/abs/dir")))
        );
        assert_eq!(resolve_artifact_location(r"D:\abs\dir"), r"D:\abs\dir");
        assert_eq!(
            resolve_artifact_location("file:rel"),
            uri_of(&cwd.join("rel"))
        );
        assert_eq!(
            resolve_artifact_location("file:///C:/abs"),
            "file:///C:/abs"
        );
        assert_eq!(resolve_artifact_location("s3://bucket/x"), "s3://bucket/x");
    }

    #[test]
    fn keys_become_nested_paths() {
        assert_eq!(
            key_path(Path::new("/r/metrics"), "a/b/c"),
            PathBuf::from("/r/metrics/a/b/c")
        );
    }
}
