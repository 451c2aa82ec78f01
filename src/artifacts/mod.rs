//! Run artifacts: the [`ArtifactRepository`] trait, the local implementation
//! ([`LocalArtifactRepository`], for `file:` URIs and plain paths), and the formats MLflow's
//! artifact helpers write: image-step file names ([`images`]), `log_table` JSON ([`table`]),
//! `log_dict` JSON/YAML ([`pyfmt`]) and figures ([`figure`]).
//!
//! ## Artifact URIs
//!
//! | recorded `artifact_uri` | written by | handled |
//! |---|---|---|
//! | `file:///abs/mlruns/<exp>/<run>/artifacts` | file store | yes |
//! | `/abs/mlruns/<exp>/<run>/artifacts` | SQLite store via the Python client | yes |
//! | `mlflow-artifacts:/<exp>/<run>/artifacts` | tracking server | yes, through the server ([`HttpArtifactRepository`]) |
//! | `http(s)://…/api/2.0/mlflow-artifacts/artifacts/…` | tracking server | yes, likewise |
//! | `s3://bucket/…` | `--default-artifact-root s3://…`, `artifact_location` | yes, directly ([`ObjectStoreArtifactRepository`], feature `s3`; configured like MLflow: [`s3`]) |
//! | `gs://bucket/…` | likewise | yes, directly (feature `gcs`; configured like MLflow: [`gcs`]) |
//! | `wasbs://container@account.blob.core.windows.net/…`, `abfss://…` | likewise | yes, directly (feature `azure`; configured like MLflow: [`azure`]) |
//! | `dbfs:/…`, `hdfs://…`, … | other remote artifact stores | no (clear error) |
//!
//! ## Stores copied between machines
//!
//! An `mlruns` folder or `mlflow.db` rsynced off a cluster records artifact roots that do not
//! exist here. [`resolve_artifact_root`] then looks for the run's artifacts relative to the
//! store (`<root>/<exp>/<run>/artifacts` for file stores) and says so in
//! [`ResolvedArtifactRoot::resolution`], so the CLI and viewer can tell the user. MLflow
//! itself fails in that case.
//!
//! ## Safety
//!
//! Every path given to a repository is relative to its root; `..`, absolute paths and symbolic
//! links that lead out of the root are rejected with `INVALID_PARAMETER_VALUE` and nothing
//! outside the root is read or written ([`ArtifactPath`]).

#[cfg(feature = "azure")]
pub mod azure;
pub mod figure;
#[cfg(feature = "gcs")]
pub mod gcs;
pub mod http;
pub mod images;
mod local;
#[cfg(feature = "s3")]
pub mod object_store;
mod path;
pub mod pyfmt;
#[cfg(feature = "s3")]
pub mod s3;
pub mod table;

#[cfg(feature = "s3")]
pub use self::object_store::ObjectStoreArtifactRepository;
pub use http::HttpArtifactRepository;
pub use local::LocalArtifactRepository;
pub use path::{ArtifactPath, TEMP_ARTIFACT_PREFIX};

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::store::{StoreLocation, parse_tracking_uri};

/// One entry of an artifact listing, like MLflow's `FileInfo`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileInfo {
    /// Run-relative POSIX path, e.g. `plots/loss.png`.
    pub path: String,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Size in bytes (`None` for directories, as in MLflow).
    pub file_size: Option<u64>,
}

/// A place where a run's artifacts live: MLflow's `ArtifactRepository`, object-safe and
/// shareable across threads.
///
/// Paths are run-relative POSIX paths (`""` is the root) and are validated with
/// [`ArtifactPath::parse`]. The methods map one to one onto MLflow's proxied artifact HTTP
/// API (`mlflow-artifacts:`), so a remote implementation can follow: `list` is
/// `GET …/artifacts?path=`, `open`/`read_range` are a (ranged) `GET` of one file, `write_stream`
/// and `log_file` are `PUT`s.
pub trait ArtifactRepository: Send + Sync + std::fmt::Debug {
    /// The artifact root URI this repository serves.
    fn artifact_uri(&self) -> String;

    /// The direct children of directory `path`, sorted by path. A missing directory, or a path
    /// that is a file, lists as empty (as in MLflow).
    fn list(&self, path: &str) -> Result<Vec<FileInfo>>;

    /// Information on one file or directory (`RESOURCE_DOES_NOT_EXIST` when absent).
    fn stat(&self, path: &str) -> Result<FileInfo>;

    /// Opens a file for sequential reading, without loading it.
    fn open(&self, path: &str) -> Result<Box<dyn Read + Send>>;

    /// Reads at most `max_len` bytes of a file starting at byte `offset` (fewer at the end of
    /// the file; none past it). This is how a viewer previews part of a large file.
    fn read_range(&self, path: &str, offset: u64, max_len: usize) -> Result<Vec<u8>>;

    /// Writes everything `reader` yields to the file `artifact_file` (replacing it atomically
    /// once complete; on error the previous content is untouched). Returns the bytes written.
    fn write_stream(&self, artifact_file: &str, reader: &mut dyn Read) -> Result<u64>;

    /// Copies a local file into directory `artifact_dir` (root when `None`), keeping its name
    /// (MLflow's `log_artifact`). Streams: memory use does not grow with the file size.
    fn log_file(&self, local_file: &Path, artifact_dir: Option<&str>) -> Result<()>;

    /// Copies the contents of a local directory into `artifact_dir` (MLflow's
    /// `log_artifacts`). Every source file is checked readable before anything is written.
    fn log_dir(&self, local_dir: &Path, artifact_dir: Option<&str>) -> Result<()>;

    /// Copies a file or directory (`""`: everything) to `dst_dir/<path>`; returns that local
    /// path. `dst_dir` must exist.
    fn download(&self, path: &str, dst_dir: &Path) -> Result<PathBuf>;

    /// The local file-system path of an existing artifact, for repositories on this machine.
    fn local_path(&self, _path: &str) -> Result<Option<PathBuf>> {
        Ok(None)
    }

    /// Every file and directory under `path`, depth first, sorted by path.
    fn list_recursive(&self, path: &str) -> Result<Vec<FileInfo>> {
        let mut out = Vec::new();
        let mut stack = vec![(path.to_string(), 0usize)];
        while let Some((dir, depth)) = stack.pop() {
            // Guards against directory cycles a remote store could present.
            if depth > 256 {
                continue;
            }
            for info in self.list(&dir)? {
                if info.is_dir {
                    stack.push((info.path.clone(), depth + 1));
                }
                out.push(info);
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Whether a file or directory exists at `path`.
    fn exists(&self, path: &str) -> Result<bool> {
        match self.stat(path) {
            Ok(_) => Ok(true),
            Err(Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Reads a whole file, refusing files larger than `limit` bytes.
    fn read_all(&self, path: &str, limit: u64) -> Result<Vec<u8>> {
        let info = self.stat(path)?;
        if info.is_dir {
            return Err(Error::InvalidParameter(format!(
                "artifact '{path}' is a directory, not a file"
            )));
        }
        let size = info.file_size.unwrap_or(0);
        if size > limit {
            return Err(Error::InvalidParameter(format!(
                "artifact '{path}' has {size} bytes, more than the {limit} bytes allowed here"
            )));
        }
        let mut buf = Vec::with_capacity(size as usize);
        self.open(path)?
            .take(limit.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|e| Error::io("cannot read artifact", path, e))?;
        if buf.len() as u64 > limit {
            return Err(Error::InvalidParameter(format!(
                "artifact '{path}' grew past the {limit} bytes allowed here while being read"
            )));
        }
        Ok(buf)
    }

    /// Writes `bytes` to the file `artifact_file` (atomically replacing it).
    fn write_bytes(&self, artifact_file: &str, bytes: &[u8]) -> Result<()> {
        let mut reader = bytes;
        self.write_stream(artifact_file, &mut reader).map(|_| ())
    }
}

/// Where an artifact URI points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactLocation {
    /// A directory on this machine (`file:` URI or plain path).
    Local(PathBuf),
    /// An MLflow tracking server's proxied artifact store (`mlflow-artifacts:` or an
    /// `http(s)://` URL of the proxy), read through [`HttpArtifactRepository`].
    MlflowArtifacts(String),
    /// An object store read and written directly (`s3://bucket/prefix`; feature `s3`).
    ObjectStore(String),
}

/// URI prefixes of the object stores (each opened only when its feature is built).
const OBJECT_STORE_SCHEMES: [&str; 8] = [
    "s3://", "s3a://", "s3n://", "gs://", "wasbs://", "wasb://", "abfss://", "abfs://",
];

/// Parses an artifact URI: `file:` URIs and plain paths are local, `mlflow-artifacts:` and
/// `http(s)://` are a tracking server's artifact proxy, `s3://` (also `s3a://`, `s3n://`),
/// `gs://`, `wasbs://` and `abfss://` an object store; anything else (`gs:`, `dbfs:` …) is an error.
pub fn parse_artifact_uri(uri: &str) -> Result<ArtifactLocation> {
    let trimmed = uri.trim();
    if trimmed.is_empty() {
        return Err(Error::InvalidParameter(
            "the run has no artifact URI recorded".into(),
        ));
    }
    if trimmed.starts_with("mlflow-artifacts:")
        || trimmed.starts_with("http://")
        || trimmed.starts_with("https://")
    {
        return Ok(ArtifactLocation::MlflowArtifacts(trimmed.to_string()));
    }
    if OBJECT_STORE_SCHEMES.iter().any(|p| trimmed.starts_with(p)) {
        return Ok(ArtifactLocation::ObjectStore(trimmed.to_string()));
    }
    if trimmed.starts_with("file:") {
        return crate::store::uri::artifact_file_uri_to_path(trimmed).map(ArtifactLocation::Local);
    }
    // A plain Windows path recorded on Windows, read on Linux/macOS (a copied store).
    if let Some(foreign) = crate::store::uri::foreign_windows_path(trimmed) {
        return Ok(ArtifactLocation::Local(foreign));
    }
    if let Some(i) = trimmed.find(':') {
        let scheme = &trimmed[..i];
        // One letter is a Windows drive ("C:\…"), not a scheme.
        if scheme.len() > 1
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            return Err(Error::InvalidParameter(format!(
                "artifact URIs with scheme '{scheme}:' are not supported by mlscope (only local \
                 `file:` URIs and paths, a tracking server's `mlflow-artifacts:`, `s3://`, `gs://`, \
                 `wasbs://` and `abfss://`): \
                 {trimmed}"
            )));
        }
    }
    Ok(ArtifactLocation::Local(path::lexical_absolute(Path::new(
        trimmed,
    ))))
}

fn server_uri_needs_tracking_server(uri: &str) -> Error {
    Error::InvalidParameter(format!(
        "artifacts served by an MLflow tracking server (mlflow-artifacts: URIs) are read through \
         that server: use open_run_artifacts (or open_artifact_repository with \
         MLFLOW_TRACKING_URI set to the server) for {uri}"
    ))
}

/// Checks that downloads can go to `dst_dir`, with MLflow's messages: it must be an existing
/// directory.
pub(crate) fn require_download_dir(dst_dir: &Path) -> Result<()> {
    match std::fs::metadata(dst_dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::InvalidParameter(format!(
            "The destination path for downloaded artifacts must be a directory! \
             Destination path: {}",
            dst_dir.display()
        ))),
        Err(_) => Err(Error::NotFound(format!(
            "The destination path for downloaded artifacts does not exist! Destination \
             path: {}",
            dst_dir.display()
        ))),
    }
}

/// Lays out a downloaded folder under `dst_dir` as MLflow does: the folder `target`, every
/// listed directory, and each listed file written by `fetch(its artifact path, local file)`.
pub(crate) fn download_listed(
    entries: Vec<FileInfo>,
    dst_dir: &Path,
    target: PathBuf,
    mut fetch: impl FnMut(&ArtifactPath, &Path) -> Result<()>,
) -> Result<PathBuf> {
    std::fs::create_dir_all(&target)
        .map_err(|e| Error::io("cannot create download directory", target.clone(), e))?;
    for entry in entries {
        let rel = ArtifactPath::parse(&entry.path)?;
        let local = rel.to_local(dst_dir);
        if entry.is_dir {
            std::fs::create_dir_all(&local)
                .map_err(|e| Error::io("cannot create download directory", local, e))?;
        } else {
            fetch(&rel, &local)?;
        }
    }
    Ok(target)
}

/// Opens the repository for an artifact URI as recorded, with no relocation. A
/// `mlflow-artifacts:` URI without a host is reached through the server named by
/// `MLFLOW_TRACKING_URI` (as MLflow does).
pub fn open_artifact_repository(uri: &str) -> Result<Arc<dyn ArtifactRepository>> {
    match parse_artifact_uri(uri)? {
        ArtifactLocation::Local(path) => Ok(Arc::new(LocalArtifactRepository::new(path))),
        ArtifactLocation::MlflowArtifacts(u) => {
            let tracking = std::env::var(crate::env::MLFLOW_TRACKING_URI).unwrap_or_default();
            Ok(Arc::new(HttpArtifactRepository::new(&u, &tracking)?))
        }
        ArtifactLocation::ObjectStore(u) => open_object_store(&u),
    }
}

/// The repository of an object-store URI (`s3://…`, `gs://…`, `wasbs://…`, `abfss://…`).
#[cfg(feature = "s3")]
fn open_object_store(uri: &str) -> Result<Arc<dyn ArtifactRepository>> {
    let scheme = uri.trim().split("://").next().unwrap_or_default();
    match scheme {
        #[cfg(feature = "gcs")]
        "gs" => Ok(Arc::new(gcs::open_gcs_repository(uri)?)),
        #[cfg(feature = "azure")]
        "wasbs" | "wasb" | "abfss" | "abfs" => Ok(Arc::new(azure::open_azure_repository(uri)?)),
        "s3" | "s3a" | "s3n" => Ok(Arc::new(s3::open_s3_repository(uri)?)),
        _ => Err(Error::InvalidParameter(format!(
            "this build of mlscope has no '{scheme}://' support (cargo features `gcs` for gs://, \
             `azure` for wasbs:// and abfss://): cannot open {uri}"
        ))),
    }
}

/// Without the `s3` feature object-store URIs are an error that says how to get them.
#[cfg(not(feature = "s3"))]
fn open_object_store(uri: &str) -> Result<Arc<dyn ArtifactRepository>> {
    Err(Error::InvalidParameter(format!(
        "this build of mlscope has no object-store support (cargo features `s3`, `gcs`, \
         `azure`): cannot open {uri}"
    )))
}

/// A run's artifact repository and how its root was found: local roots through
/// [`resolve_artifact_root`], server-proxied ones (`mlflow-artifacts:`, `http(s)://`) through
/// the tracking server `run.tracking_uri` ([`RootResolution::Remote`]).
pub fn open_run_artifacts(
    artifact_uri: &str,
    run: RunLocator<'_>,
) -> Result<(ResolvedArtifactRoot, Arc<dyn ArtifactRepository>)> {
    if let ArtifactLocation::MlflowArtifacts(u) = parse_artifact_uri(artifact_uri)? {
        let repo = HttpArtifactRepository::new(&u, run.tracking_uri)?;
        let root = ResolvedArtifactRoot {
            recorded_uri: artifact_uri.to_string(),
            local_root: PathBuf::new(),
            resolution: RootResolution::Remote,
        };
        return Ok((root, Arc::new(repo)));
    }
    if let ArtifactLocation::ObjectStore(u) = parse_artifact_uri(artifact_uri)? {
        let repo = open_object_store(&u)?;
        let root = ResolvedArtifactRoot {
            recorded_uri: artifact_uri.to_string(),
            local_root: PathBuf::new(),
            resolution: RootResolution::Remote,
        };
        return Ok((root, repo));
    }
    let root = resolve_artifact_root(artifact_uri, run)?;
    let repo: Arc<dyn ArtifactRepository> = Arc::new(root.repository());
    Ok((root, repo))
}

/// How the local directory of a run's artifacts was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootResolution {
    /// The recorded `artifact_uri` exists here and is used.
    AsRecorded,
    /// The recorded location does not exist on this machine (a store copied from elsewhere);
    /// the artifacts were found relative to the store instead.
    Relocated {
        /// The recorded location that does not exist here.
        recorded_path: PathBuf,
    },
    /// Neither the recorded location nor a store-relative one exists yet: the run has no
    /// artifacts so far. The recorded location is used (and created by the first write).
    NotCreatedYet,
    /// The artifacts are on a tracking server (`mlflow-artifacts:`) or in an object store
    /// (`s3://`), not on this machine: `local_root` is empty and [`open_run_artifacts`] gives
    /// the remote repository.
    Remote,
}

/// A run's artifact root on this machine, and how it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedArtifactRoot {
    /// The `artifact_uri` recorded for the run.
    pub recorded_uri: String,
    /// The directory used.
    pub local_root: PathBuf,
    /// How it was found.
    pub resolution: RootResolution,
}

impl ResolvedArtifactRoot {
    /// A sentence for the user when the location was not the recorded one, e.g. for the CLI's
    /// stderr or a viewer banner.
    pub fn note(&self) -> Option<String> {
        match &self.resolution {
            RootResolution::Relocated { recorded_path } => Some(format!(
                "the run's recorded artifact location {} does not exist on this machine; using \
                 {} (found relative to the tracking store, which looks copied from elsewhere)",
                recorded_path.display(),
                self.local_root.display()
            )),
            _ => None,
        }
    }

    /// The repository for this root (local roots only: for [`RootResolution::Remote`] use
    /// the repository [`open_run_artifacts`] returns).
    pub fn repository(&self) -> LocalArtifactRepository {
        LocalArtifactRepository::with_uri(self.local_root.clone(), self.recorded_uri.clone())
    }
}

/// What is known about the run whose artifact root is resolved.
#[derive(Debug, Clone, Copy)]
pub struct RunLocator<'a> {
    /// The tracking URI of the store holding the run (to look for copied artifacts).
    pub tracking_uri: &'a str,
    /// The run's experiment.
    pub experiment_id: &'a str,
    /// The run.
    pub run_id: &'a str,
}

/// Finds the local directory of a run's artifacts from its recorded `artifact_uri`.
///
/// When the recorded directory does not exist, candidates relative to the store are tried:
/// for a file store `<root>/<exp>/<run>/artifacts` (also under `.trash/`); for any local store,
/// the trailing components of the recorded path (from the run id on, then longer tails) under
/// the store's folder. The first that exists wins and is reported as
/// [`RootResolution::Relocated`].
pub fn resolve_artifact_root(
    artifact_uri: &str,
    run: RunLocator<'_>,
) -> Result<ResolvedArtifactRoot> {
    let recorded = match parse_artifact_uri(artifact_uri)? {
        ArtifactLocation::Local(p) => p,
        ArtifactLocation::MlflowArtifacts(u) => return Err(server_uri_needs_tracking_server(&u)),
        ArtifactLocation::ObjectStore(u) => {
            return Err(Error::InvalidParameter(format!(
                "{u} is in an object store, not on this machine: use open_run_artifacts or \
                 open_artifact_repository"
            )));
        }
    };
    let done = |local_root: PathBuf, resolution| ResolvedArtifactRoot {
        recorded_uri: artifact_uri.to_string(),
        local_root,
        resolution,
    };
    if recorded.is_dir() {
        return Ok(done(recorded, RootResolution::AsRecorded));
    }
    // The recorded path has the default file-store layout `…/<exp>/<run>/artifacts`: its run
    // folder is the store's own, wherever the store was copied from.
    let default_layout = {
        let tail: Vec<_> = recorded.iter().rev().take(3).collect();
        tail.len() == 3
            && tail[0] == "artifacts"
            && tail[1] == run.run_id
            && tail[2] == run.experiment_id
    };
    for candidate in relocation_candidates(&recorded, run) {
        // An empty folder only counts for the default layout: a run whose experiment has its
        // own (not yet created) artifact location must not be redirected to the store's
        // empty `<run>/artifacts` folder.
        if candidate != recorded
            && candidate.is_dir()
            && (default_layout || dir_has_entries(&candidate))
        {
            return Ok(done(
                candidate,
                RootResolution::Relocated {
                    recorded_path: recorded.clone(),
                },
            ));
        }
    }
    // A file-store run folder without its artifacts/ (deleted, or not copied): write there
    // rather than to a location that belongs to another machine.
    if default_layout && let Ok(StoreLocation::File(root)) = parse_tracking_uri(run.tracking_uri) {
        let run_dir = root.join(run.experiment_id).join(run.run_id);
        let recorded_parent_exists = recorded.parent().is_some_and(Path::is_dir);
        if run_dir.join("meta.yaml").is_file() && !recorded_parent_exists {
            return Ok(done(
                run_dir.join("artifacts"),
                RootResolution::Relocated {
                    recorded_path: recorded,
                },
            ));
        }
    }
    Ok(done(recorded, RootResolution::NotCreatedYet))
}

fn dir_has_entries(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut it| it.next().is_some())
}

fn relocation_candidates(recorded: &Path, run: RunLocator<'_>) -> Vec<PathBuf> {
    let mut bases: Vec<PathBuf> = Vec::new();
    let mut out = Vec::new();
    match parse_tracking_uri(run.tracking_uri) {
        Ok(StoreLocation::File(root)) => {
            out.push(
                root.join(run.experiment_id)
                    .join(run.run_id)
                    .join("artifacts"),
            );
            out.push(
                root.join(".trash")
                    .join(run.experiment_id)
                    .join(run.run_id)
                    .join("artifacts"),
            );
            if let Some(parent) = root.parent() {
                bases.push(parent.to_path_buf());
            }
            bases.insert(0, root);
        }
        Ok(StoreLocation::Sqlite(db)) => {
            if let Some(dir) = db.parent() {
                bases.push(dir.to_path_buf());
            }
        }
        _ => {}
    }
    // Tails of the recorded path that start at or before the run id component.
    let comps: Vec<&std::ffi::OsStr> = recorded
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s),
            _ => None,
        })
        .collect();
    let Some(run_pos) = comps.iter().rposition(|c| *c == run.run_id) else {
        return out;
    };
    for start in (0..=run_pos).rev() {
        let tail: PathBuf = comps[start..].iter().collect();
        for base in &bases {
            out.push(base.join(&tail));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_artifact_uris() {
        assert_eq!(
            parse_artifact_uri("file:///tmp/mlruns/1/abc/artifacts").unwrap(),
            ArtifactLocation::Local("/tmp/mlruns/1/abc/artifacts".into())
        );
        assert_eq!(
            parse_artifact_uri("/tmp/mlruns/1/abc/artifacts").unwrap(),
            ArtifactLocation::Local("/tmp/mlruns/1/abc/artifacts".into())
        );
        assert_eq!(
            parse_artifact_uri("file:/tmp/a%20b").unwrap(),
            ArtifactLocation::Local("/tmp/a b".into())
        );
        assert!(matches!(
            parse_artifact_uri("mlflow-artifacts:/1/abc/artifacts").unwrap(),
            ArtifactLocation::MlflowArtifacts(_)
        ));
        let loc = RunLocator {
            tracking_uri: "http://127.0.0.1:1",
            experiment_id: "1",
            run_id: "abc",
        };
        let (root, repo) = open_run_artifacts("mlflow-artifacts:/1/abc/artifacts", loc).unwrap();
        assert_eq!(root.resolution, RootResolution::Remote);
        assert_eq!(repo.artifact_uri(), "mlflow-artifacts:/1/abc/artifacts");
        let sqlite = RunLocator {
            tracking_uri: "sqlite:///x.db",
            ..loc
        };
        let err = open_run_artifacts("mlflow-artifacts:/1/abc/artifacts", sqlite).unwrap_err();
        assert!(err.to_string().contains("MLFLOW_TRACKING_URI"), "{err}");
        assert_eq!(
            parse_artifact_uri("s3://bucket/x").unwrap(),
            ArtifactLocation::ObjectStore("s3://bucket/x".into())
        );
        for uri in [
            "gs://bucket/x",
            "wasbs://c@a.blob.core.windows.net/x",
            "abfss://f@a.dfs.core.windows.net/x",
        ] {
            assert_eq!(
                parse_artifact_uri(uri).unwrap(),
                ArtifactLocation::ObjectStore(uri.into())
            );
        }
        let err = parse_artifact_uri("dbfs:/databricks/x").unwrap_err();
        assert!(err.to_string().contains("'dbfs:'"), "{err}");
        assert!(parse_artifact_uri("").is_err());
    }

    #[test]
    fn resolves_copied_file_store() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("mlruns");
        let run_dir = root.join("7").join("r1");
        std::fs::create_dir_all(run_dir.join("artifacts")).unwrap();
        std::fs::write(run_dir.join("meta.yaml"), "run_id: r1\n").unwrap();
        let uri = format!("file://{}", root.display());
        let loc = RunLocator {
            tracking_uri: &uri,
            experiment_id: "7",
            run_id: "r1",
        };
        // Recorded where it is: as recorded.
        let here = format!("file://{}", run_dir.join("artifacts").display());
        let r = resolve_artifact_root(&here, loc).unwrap();
        assert_eq!(r.resolution, RootResolution::AsRecorded);
        assert!(r.note().is_none());
        // Recorded on another machine: relocated, with a note.
        let r =
            resolve_artifact_root("file:///cluster/home/bob/mlruns/7/r1/artifacts", loc).unwrap();
        assert_eq!(r.local_root, run_dir.join("artifacts"));
        assert!(matches!(r.resolution, RootResolution::Relocated { .. }));
        assert!(r.note().unwrap().contains("/cluster/home/bob"));
        // Artifacts folder missing, run folder present: still the store's run folder.
        std::fs::remove_dir(run_dir.join("artifacts")).unwrap();
        let r = resolve_artifact_root("/cluster/home/bob/mlruns/7/r1/artifacts", loc).unwrap();
        assert_eq!(r.local_root, run_dir.join("artifacts"));
    }

    #[test]
    fn resolves_copied_sqlite_store_and_new_runs() {
        let dir = tempfile::tempdir().unwrap();
        let arts = dir.path().join("artifacts/classification/r2/artifacts");
        std::fs::create_dir_all(&arts).unwrap();
        std::fs::write(arts.join("a.txt"), "a").unwrap();
        let uri = format!("sqlite:///{}", dir.path().join("mlflow.db").display());
        let loc = RunLocator {
            tracking_uri: &uri,
            experiment_id: "1",
            run_id: "r2",
        };
        let r =
            resolve_artifact_root("/old/box/artifacts/classification/r2/artifacts", loc).unwrap();
        assert_eq!(r.local_root, arts);
        // A run with no artifacts yet keeps its recorded location.
        let fresh = dir.path().join("mlruns/1/r3/artifacts");
        let loc3 = RunLocator {
            run_id: "r3",
            ..loc
        };
        let r = resolve_artifact_root(&fresh.to_string_lossy(), loc3).unwrap();
        assert_eq!(r.resolution, RootResolution::NotCreatedYet);
        assert_eq!(r.local_root, fresh);
        // An experiment with its own artifact location not created yet: the store's empty
        // run folder is not used instead.
        let empty = dir.path().join("mlruns2/3/r4/artifacts");
        std::fs::create_dir_all(&empty).unwrap();
        let file_uri = format!("file://{}", dir.path().join("mlruns2").display());
        let loc4 = RunLocator {
            tracking_uri: &file_uri,
            experiment_id: "3",
            run_id: "r4",
        };
        let custom = dir.path().join("custom/r4/artifacts");
        let r = resolve_artifact_root(&custom.to_string_lossy(), loc4).unwrap();
        assert_eq!(r.resolution, RootResolution::NotCreatedYet);
        assert_eq!(r.local_root, custom);
    }
}
