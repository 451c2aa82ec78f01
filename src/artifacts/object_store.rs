//! [`ObjectStoreArtifactRepository`]: run artifacts in an object store (S3 and S3-compatible
//! services such as MinIO), through the `object_store` crate.
//!
//! | operation | requests |
//! |---|---|
//! | [`list`](ArtifactRepository::list) | one delimited listing of `<root>/<dir>/` (MLflow's `list_objects_v2` with `Delimiter='/'`) |
//! | [`list_recursive`](ArtifactRepository::list_recursive), [`download`](ArtifactRepository::download) of a folder | one flat listing of `<root>/<dir>/`, then one streamed `GET` per file |
//! | [`stat`](ArtifactRepository::stat) | `HEAD` of the key, else a delimited listing (a "directory" is a key prefix) |
//! | [`open`](ArtifactRepository::open) | `GET`, streamed chunk by chunk |
//! | [`read_range`](ArtifactRepository::read_range) | `HEAD`, then a ranged `GET` of exactly the bytes asked for |
//! | [`write_stream`](ArtifactRepository::write_stream), [`log_file`](ArtifactRepository::log_file) | one `PUT` up to 8 MiB, a multipart upload above (the object appears only once complete) |
//!
//! ## The async runtime stays here
//!
//! `object_store` is async. Its futures are driven by one process-wide current-thread tokio
//! runtime owned by this module (`block_on`); every method of the repository blocks, like
//! the local and HTTP repositories, and nothing async leaks into the public API. The HTTP
//! connections of a store belong to that runtime, which is why stores are cached per
//! configuration and never moved to another runtime. Called from inside someone else's tokio
//! runtime, the work runs on a scoped helper thread instead of panicking.
//!
//! Keys are the artifact paths as given (no percent-encoding of `#`, `%`, spaces…), so what
//! MLflow's boto3 client writes and what mlscope writes name the same objects.

use std::collections::HashMap;
use std::fs::{self, File};
use std::future::Future;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ::object_store::path::Path as ObjectPath;
use ::object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
    WriteMultipart,
};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use super::path::{ArtifactPath, TEMP_ARTIFACT_PREFIX};
use super::{ArtifactRepository, FileInfo, download_listed, require_download_dir};
use crate::error::{Error, ErrorCode, Result};

/// Uploads up to this size are one `PUT`; larger ones are multipart uploads of parts this size.
pub(crate) const PART_SIZE: usize = 8 << 20;

/// Parts of a multipart upload in flight at once.
const UPLOAD_CONCURRENCY: usize = 4;

/// The runtime every object-store future runs on (see the [module docs](self)).
fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> =
        OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .thread_name("mlscope-object-store")
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::InvalidState(format!("cannot start the object-store runtime: {e}")))
}

/// Runs a closure with the artifact layer's runtime as the current one (for calls that spawn).
trait EnterAnd {
    fn enter_and<T>(&self, f: impl FnOnce() -> T) -> T;
}

impl EnterAnd for tokio::runtime::Runtime {
    fn enter_and<T>(&self, f: impl FnOnce() -> T) -> T {
        let _guard = self.enter();
        f()
    }
}

/// Runs `future` to completion on the artifact layer's runtime, blocking the calling thread.
pub(crate) fn block_on<F>(future: F) -> Result<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = runtime()?;
    if tokio::runtime::Handle::try_current().is_ok() {
        // Blocking inside a caller's runtime would panic: use a helper thread.
        return std::thread::scope(|s| {
            s.spawn(|| rt.block_on(future))
                .join()
                .map_err(|_| Error::InvalidState("an object-store request panicked".into()))
        });
    }
    Ok(rt.block_on(future))
}

/// A trimmed, non-empty environment variable (through `crate::env`, like every setting).
pub(crate) fn env_var(name: &str) -> Option<String> {
    crate::env::var(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// HTTP settings of every store: a connection attempt gives up after 5 s (an unreachable
/// endpoint is reported in seconds), a stalled read after 60 s, and no overall limit (large
/// downloads stream for as long as they need).
pub(crate) fn client_options(allow_invalid_certificates: bool) -> ClientOptions {
    let options = ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout_disabled()
        .with_read_timeout(Duration::from_secs(60));
    if allow_invalid_certificates {
        options.with_allow_invalid_certificates(true)
    } else {
        options
    }
}

/// Retries of every store: twice at most, within 20 s.
pub(crate) fn retry_config() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            base: 2.0,
        },
        max_retries: 2,
        retry_timeout: Duration::from_secs(20),
    }
}

/// The store built for configuration `key` (which names its kind, e.g. `s3\0…`), built by
/// `build` the first time: a store's HTTP connections belong to the artifact layer's runtime
/// and are reused by every run's repository.
pub(crate) fn cached_store(
    key: String,
    build: impl FnOnce() -> Result<Arc<dyn ObjectStore>>,
) -> Result<Arc<dyn ObjectStore>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<dyn ObjectStore>>>> = OnceLock::new();
    cached_in(&CACHE, key, build, "object-store")
}

/// The value of `key` in `cache`, built by `build` the first time (outside the lock: building
/// may connect). `what` names the cache in the error if a panic poisoned it.
pub(crate) fn cached_in<T: Clone>(
    cache: &OnceLock<Mutex<HashMap<String, T>>>,
    key: String,
    build: impl FnOnce() -> Result<T>,
    what: &str,
) -> Result<T> {
    let cache = cache.get_or_init(|| Mutex::new(HashMap::new()));
    let poisoned = || Error::InvalidState(format!("the {what} cache is poisoned"));
    let cached = cache.lock().map_err(|_| poisoned())?.get(&key).cloned();
    if let Some(value) = cached {
        return Ok(value);
    }
    let value = build()?;
    cache
        .lock()
        .map_err(|_| poisoned())?
        .insert(key, value.clone());
    Ok(value)
}

/// Splits `<scheme>bucket/prefix` (any of `schemes`) into the bucket and the prefix without
/// its slashes; `uri_kind` (e.g. "an s3://") and `store` (e.g. "S3") word the errors.
pub(crate) fn split_bucket_uri(
    uri: &str,
    schemes: &[&str],
    uri_kind: &str,
    store: &str,
) -> Result<(String, String)> {
    let rest = schemes
        .iter()
        .find_map(|s| uri.trim().strip_prefix(s))
        .ok_or_else(|| Error::InvalidParameter(format!("not {uri_kind} URI: {uri}")))?;
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(Error::InvalidParameter(format!(
            "the {store} URI {uri} names no bucket (expected {}bucket/path)",
            schemes[0]
        )));
    }
    Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
}

/// Installs ring as rustls' crypto provider: reqwest is built without one of its own (like
/// ureq, the REST client).
pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Describes a store for error messages: its URI scheme and where its settings come from.
#[derive(Debug, Clone)]
pub(crate) struct StoreContext {
    /// `S3`, `GCS`, …
    pub kind: &'static str,
    /// The endpoint requests go to, e.g. `http://127.0.0.1:9000` (empty: the service default).
    pub endpoint: String,
    /// Variable naming the endpoint, e.g. `MLFLOW_S3_ENDPOINT_URL`.
    pub endpoint_var: &'static str,
    /// What to set when the service refuses the credentials.
    pub credentials_hint: &'static str,
}

impl StoreContext {
    /// Maps an `object_store` error on `what` (`'<path>'` or a listing) to mlscope's error with
    /// the variable to check.
    pub(crate) fn error(&self, what: &str, uri: &str, e: ::object_store::Error) -> Error {
        use ::object_store::Error as E;
        match e {
            E::NotFound { .. } => Error::NotFound(format!("No such artifact: {what} in {uri}")),
            E::Unauthenticated { .. } => Error::Mlflow {
                code: ErrorCode::Unauthenticated,
                message: format!(
                    "{} refused the credentials for {what} in {uri}: {}. {e}",
                    self.kind, self.credentials_hint
                ),
            },
            E::PermissionDenied { .. } => Error::Mlflow {
                code: ErrorCode::PermissionDenied,
                message: format!(
                    "{} denied access to {what} in {uri}: {}. {e}",
                    self.kind, self.credentials_hint
                ),
            },
            other => self.request_failed(what, uri, &error_chain(&other)),
        }
    }

    /// A failed request on `what` whose error chain is `text`: an unreachable service names the
    /// variable of its URL.
    pub(crate) fn request_failed(&self, what: &str, uri: &str, text: &str) -> Error {
        let lower = text.to_ascii_lowercase();
        let unreachable = [
            "error sending request",
            "connect",
            "dns error",
            "timed out",
            "connection refused",
        ]
        .iter()
        .any(|s| lower.contains(s));
        let message = if unreachable {
            let endpoint = if self.endpoint.is_empty() {
                format!("the default {} endpoint", self.kind)
            } else {
                self.endpoint.clone()
            };
            format!(
                "cannot reach {} at {endpoint} for {what} in {uri}: {text}. Check {} \
                 (the service's URL) and the network",
                self.kind, self.endpoint_var
            )
        } else {
            format!("{} request for {what} in {uri} failed: {text}", self.kind)
        };
        Error::Mlflow {
            code: ErrorCode::InternalError,
            message,
        }
    }
}

/// An error and all its sources, `: `-joined (reqwest's top-level message alone says little).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// Uploads done another way than through the store's own `put` (GCS: its JSON API, which
/// emulators serve and MLflow's client uses, see `gcs.rs`).
pub(crate) trait Uploader: Send + Sync + std::fmt::Debug {
    /// Uploads everything `reader` yields to object `key` in streamed parts (nothing appears
    /// unless complete); returns the bytes written. Errors name `what` and `uri`.
    fn upload(&self, key: &str, reader: &mut dyn Read, what: &str, uri: &str) -> Result<u64>;
}

/// Run artifacts under a key prefix of an object store (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct ObjectStoreArtifactRepository {
    artifact_uri: String,
    store: Arc<dyn ObjectStore>,
    /// Key prefix of the root (no leading or trailing `/`; empty for a bucket's root).
    prefix: String,
    context: StoreContext,
    /// Replaces the store's `put` for uploads when set.
    uploader: Option<Arc<dyn Uploader>>,
}

impl ObjectStoreArtifactRepository {
    /// The repository of the artifacts under `prefix` in `store`; `artifact_uri` is what
    /// [`ArtifactRepository::artifact_uri`] reports.
    pub(crate) fn new(
        artifact_uri: &str,
        store: Arc<dyn ObjectStore>,
        prefix: &str,
        context: StoreContext,
    ) -> ObjectStoreArtifactRepository {
        ObjectStoreArtifactRepository {
            artifact_uri: artifact_uri.to_string(),
            store,
            prefix: prefix.trim_matches('/').to_string(),
            context,
            uploader: None,
        }
    }

    /// Uploads through `uploader` instead of the store's `put`.
    #[cfg_attr(not(feature = "gcs"), allow(dead_code))]
    pub(crate) fn with_uploader(mut self, uploader: Arc<dyn Uploader>) -> Self {
        self.uploader = Some(uploader);
        self
    }

    /// The object key of `path` (the root's prefix itself for the root).
    fn key(&self, path: &ArtifactPath) -> Result<ObjectPath> {
        let key = match (self.prefix.is_empty(), path.is_root()) {
            (true, _) => path.to_string(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}/{path}", self.prefix),
        };
        ObjectPath::parse(&key).map_err(|e| {
            Error::InvalidParameter(format!(
                "artifact path '{path}' cannot be an object key in {}: {e}",
                self.artifact_uri
            ))
        })
    }

    /// The listing prefix of directory `dir` (`None` for a bucket's root).
    fn dir_prefix(&self, dir: &ArtifactPath) -> Result<Option<ObjectPath>> {
        if self.prefix.is_empty() && dir.is_root() {
            return Ok(None);
        }
        self.key(dir).map(Some)
    }

    /// The run-relative path of an object key under the root, or `None` when the key is not
    /// strictly below it (the root's own "directory marker" included).
    fn relative(&self, key: &ObjectPath) -> Option<String> {
        let key = key.as_ref();
        let rel = if self.prefix.is_empty() {
            key
        } else {
            key.strip_prefix(self.prefix.as_str())?.strip_prefix('/')?
        };
        let rel = rel.trim_end_matches('/');
        (!rel.is_empty()).then(|| rel.to_string())
    }

    fn err(&self, what: &str, e: ::object_store::Error) -> Error {
        self.context.error(what, &self.artifact_uri, e)
    }

    /// Checks a destination file path as the local repository does.
    fn file_path(artifact_file: &str) -> Result<ArtifactPath> {
        let path = ArtifactPath::parse(artifact_file)?;
        let Some(name) = path.file_name() else {
            return Err(Error::InvalidParameter(
                "Invalid artifact path '': a file name is required".into(),
            ));
        };
        if name.starts_with(TEMP_ARTIFACT_PREFIX) {
            return Err(Error::InvalidParameter(format!(
                "Invalid artifact file name: '{name}'. Artifact names starting with \
                 '{TEMP_ARTIFACT_PREFIX}' are reserved."
            )));
        }
        Ok(path)
    }

    /// Uploads everything `reader` yields to `key`: one `PUT` when it fits in [`PART_SIZE`],
    /// else a multipart upload (aborted on error, so no partial object appears).
    fn upload(&self, dest: &ArtifactPath, reader: &mut dyn Read) -> Result<u64> {
        let key = self.key(dest)?;
        let what = format!("'{dest}'");
        if let Some(uploader) = &self.uploader {
            return uploader.upload(key.as_ref(), reader, &what, &self.artifact_uri);
        }
        let read_err =
            |e: io::Error| Error::io("cannot read the data to upload to", dest.to_string(), e);
        let mut first = Vec::new();
        reader
            .take(PART_SIZE as u64 + 1)
            .read_to_end(&mut first)
            .map_err(read_err)?;
        if first.len() <= PART_SIZE {
            let len = first.len() as u64;
            let store = self.store.clone();
            block_on(async move { store.put(&key, PutPayload::from(first)).await })?
                .map_err(|e| self.err(&what, e))?;
            return Ok(len);
        }
        let store = self.store.clone();
        let upload = block_on(async move { store.put_multipart(&key).await })?
            .map_err(|e| self.err(&what, e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        // `write` spawns each full part's upload onto the current runtime: ours (the tasks run
        // while the next block_on waits).
        let rt = runtime()?;
        let mut total = first.len() as u64;
        rt.enter_and(|| writer.write(&first));
        drop(first);
        let mut buf = vec![0u8; PART_SIZE];
        let outcome: Result<()> = loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(read_err(e)),
            };
            // Bounded memory: wait until fewer than UPLOAD_CONCURRENCY parts are in flight.
            match block_on(writer.wait_for_capacity(UPLOAD_CONCURRENCY)) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => break Err(self.err(&what, e)),
                Err(e) => break Err(e),
            }
            rt.enter_and(|| writer.write(&buf[..n]));
            total += n as u64;
        };
        match outcome {
            Ok(()) => {
                block_on(writer.finish())?.map_err(|e| self.err(&what, e))?;
                Ok(total)
            }
            Err(e) => {
                // Best effort: the upload is abandoned either way and never becomes visible.
                let _ = block_on(writer.abort());
                Err(e)
            }
        }
    }

    fn download_file(&self, path: &ArtifactPath, dst: &Path) -> Result<()> {
        if let Some(parent) = dst.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| Error::io("cannot create download directory", parent, e))?;
        }
        let mut reader = self.open(&path.to_string())?;
        let mut out =
            File::create(dst).map_err(|e| Error::io("cannot download artifact", dst, e))?;
        io::copy(&mut reader, &mut out)
            .map_err(|e| Error::io("cannot download artifact", dst, e))?;
        out.flush()
            .map_err(|e| Error::io("cannot download artifact", dst, e))?;
        Ok(())
    }
}

/// A streamed `GET`: each `read` that finds its buffer empty waits for the next chunk.
struct ObjectReader {
    stream: BoxStream<'static, ::object_store::Result<bytes::Bytes>>,
    chunk: bytes::Bytes,
    pos: usize,
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.chunk.len() {
            let next = block_on(self.stream.next()).map_err(io::Error::other)?;
            match next {
                None => return Ok(0),
                Some(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Some(Err(e)) => return Err(io::Error::other(error_chain(&e))),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl ArtifactRepository for ObjectStoreArtifactRepository {
    fn artifact_uri(&self) -> String {
        self.artifact_uri.clone()
    }

    fn list(&self, path: &str) -> Result<Vec<FileInfo>> {
        let dir = ArtifactPath::parse(path)?;
        let prefix = self.dir_prefix(&dir)?;
        let store = self.store.clone();
        let listing = block_on(async move { store.list_with_delimiter(prefix.as_ref()).await })?
            .map_err(|e| self.err(&format!("the listing of '{dir}'"), e))?;
        let depth = dir.parts().len() + 1;
        let direct = |rel: &str| rel.split('/').count() == depth;
        let mut out = Vec::new();
        for p in &listing.common_prefixes {
            if let Some(rel) = self.relative(p).filter(|r| direct(r)) {
                out.push(FileInfo {
                    path: rel,
                    is_dir: true,
                    file_size: None,
                });
            }
        }
        for o in &listing.objects {
            if let Some(rel) = self.relative(&o.location).filter(|r| direct(r)) {
                out.push(FileInfo {
                    path: rel,
                    is_dir: false,
                    file_size: Some(o.size),
                });
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out.dedup_by(|a, b| a.path == b.path);
        Ok(out)
    }

    fn list_recursive(&self, path: &str) -> Result<Vec<FileInfo>> {
        // One flat listing instead of one request per directory.
        let dir = ArtifactPath::parse(path)?;
        let prefix = self.dir_prefix(&dir)?;
        let store = self.store.clone();
        let objects = block_on(async move {
            store
                .list(prefix.as_ref())
                .collect::<Vec<::object_store::Result<::object_store::ObjectMeta>>>()
                .await
        })?;
        let below = dir.parts().len();
        let mut dirs = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for o in objects {
            let o = o.map_err(|e| self.err(&format!("the listing of '{dir}'"), e))?;
            let Some(rel) = self.relative(&o.location) else {
                continue;
            };
            let parts: Vec<&str> = rel.split('/').collect();
            if parts.len() <= below {
                continue;
            }
            for end in below + 1..parts.len() {
                dirs.insert(parts[..end].join("/"));
            }
            out.push(FileInfo {
                path: rel,
                is_dir: false,
                file_size: Some(o.size),
            });
        }
        out.extend(dirs.into_iter().map(|path| FileInfo {
            path,
            is_dir: true,
            file_size: None,
        }));
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out.dedup_by(|a, b| a.path == b.path);
        Ok(out)
    }

    fn stat(&self, path: &str) -> Result<FileInfo> {
        let p = ArtifactPath::parse(path)?;
        if p.is_root() {
            return Ok(FileInfo {
                path: String::new(),
                is_dir: true,
                file_size: None,
            });
        }
        let key = self.key(&p)?;
        let store = self.store.clone();
        match block_on(async move { store.head(&key).await })? {
            Ok(meta) => {
                return Ok(FileInfo {
                    path: p.to_string(),
                    is_dir: false,
                    file_size: Some(meta.size),
                });
            }
            Err(::object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(self.err(&format!("'{p}'"), e)),
        }
        let prefix = self.key(&p)?;
        let store = self.store.clone();
        let listing = block_on(async move { store.list(Some(&prefix)).next().await.transpose() })?
            .map_err(|e| self.err(&format!("'{p}'"), e))?;
        match listing {
            Some(_) => Ok(FileInfo {
                path: p.to_string(),
                is_dir: true,
                file_size: None,
            }),
            None => Err(Error::NotFound(format!(
                "No such artifact: '{p}' in {}",
                self.artifact_uri
            ))),
        }
    }

    fn open(&self, path: &str) -> Result<Box<dyn Read + Send>> {
        let p = ArtifactPath::parse(path)?;
        if p.is_root() {
            return Err(Error::InvalidParameter(
                "artifact '' is a directory, not a file".into(),
            ));
        }
        let key = self.key(&p)?;
        let store = self.store.clone();
        let got = block_on(async move { store.get(&key).await })?
            .map_err(|e| self.err(&format!("'{p}'"), e))?;
        Ok(Box::new(ObjectReader {
            stream: got.into_stream(),
            chunk: Default::default(),
            pos: 0,
        }))
    }

    fn read_range(&self, path: &str, offset: u64, max_len: usize) -> Result<Vec<u8>> {
        let p = ArtifactPath::parse(path)?;
        let info = self.stat(path)?;
        if info.is_dir {
            return Err(Error::InvalidParameter(format!(
                "artifact '{p}' is a directory, not a file"
            )));
        }
        let size = info.file_size.unwrap_or(0);
        if max_len == 0 || offset >= size {
            return Ok(Vec::new());
        }
        let end = size.min(offset.saturating_add(max_len as u64));
        let key = self.key(&p)?;
        let store = self.store.clone();
        let bytes = block_on(async move { store.get_range(&key, offset..end).await })?
            .map_err(|e| self.err(&format!("'{p}'"), e))?;
        Ok(bytes.to_vec())
    }

    fn write_stream(&self, artifact_file: &str, reader: &mut dyn Read) -> Result<u64> {
        let dest = Self::file_path(artifact_file)?;
        self.upload(&dest, reader)
    }

    fn log_file(&self, local_file: &Path, artifact_dir: Option<&str>) -> Result<()> {
        let dir = ArtifactPath::parse_opt(artifact_dir)?;
        let meta = fs::metadata(local_file)
            .map_err(|e| Error::io("cannot read file to log", local_file, e))?;
        if meta.is_dir() {
            return Err(Error::InvalidParameter(format!(
                "{} is a directory; use log_artifacts to log a directory",
                local_file.display()
            )));
        }
        let mut file = File::open(local_file)
            .map_err(|e| Error::io("cannot read file to log", local_file, e))?;
        let name = local_file
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                Error::InvalidParameter(format!(
                    "cannot log {}: its file name is missing or not valid UTF-8",
                    local_file.display()
                ))
            })?;
        let dest = Self::file_path(&dir.join(name)?.to_string())?;
        self.upload(&dest, &mut file).map(drop)
    }

    fn log_dir(&self, local_dir: &Path, artifact_dir: Option<&str>) -> Result<()> {
        for (dest, src) in super::local::files_to_send(local_dir, artifact_dir)? {
            let dest = Self::file_path(&dest.to_string())?;
            let mut file =
                File::open(&src).map_err(|e| Error::io("cannot read file to log", &src, e))?;
            self.upload(&dest, &mut file)?;
        }
        Ok(())
    }

    fn download(&self, path: &str, dst_dir: &Path) -> Result<PathBuf> {
        let p = ArtifactPath::parse(path)?;
        require_download_dir(dst_dir)?;
        let target = p.to_local(dst_dir);
        let info = self.stat(path)?;
        if !info.is_dir {
            self.download_file(&p, &target)?;
            return Ok(target);
        }
        download_listed(self.list_recursive(path)?, dst_dir, target, |rel, local| {
            self.download_file(rel, local)
        })
    }
}
