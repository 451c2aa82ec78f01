//! [`HttpArtifactRepository`]: run artifacts served by an MLflow tracking server's artifact proxy
//! (`mlflow server --serve-artifacts`), MLflow's `MlflowArtifactsRepository` /
//! `HttpArtifactRepository`.
//!
//! | operation | request |
//! |---|---|
//! | [`list`](ArtifactRepository::list) | `GET /api/2.0/mlflow-artifacts/artifacts?path=<root>/<dir>` |
//! | [`open`](ArtifactRepository::open), [`download`](ArtifactRepository::download) | `GET /api/2.0/mlflow-artifacts/artifacts/<root>/<path>`, streamed |
//! | [`read_range`](ArtifactRepository::read_range) | the same with `Range: bytes=…` |
//! | [`write_stream`](ArtifactRepository::write_stream), [`log_file`](ArtifactRepository::log_file) | `PUT /api/2.0/mlflow-artifacts/artifacts/<root>/<path>`, streamed |
//!
//! Everything streams through one 1 MiB buffer at most: memory does not grow with file sizes.
//! Credentials, TLS, timeouts and retries are the tracking server's ([`RestConfig::from_env`]).
//! File uploads (`log_file`, `log_dir`) are retried like other requests (the file is sent
//! again); `write_stream` reads its source once and is not retried. The server stores an
//! upload only once it has received all of it.
//!
//! Artifact URIs: `mlflow-artifacts:/<exp>/<run>/artifacts` (the tracking server's host),
//! `mlflow-artifacts://host:port/<path>` (another host, same scheme and path prefix as the
//! tracking URI), and `http(s)://host[/prefix]/api/2.0/mlflow-artifacts/artifacts/<path>`.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::path::{ArtifactPath, TEMP_ARTIFACT_PREFIX};
use super::{ArtifactRepository, FileInfo, download_listed, require_download_dir};
use crate::error::{Error, ErrorCode, Result};
use crate::http::{
    Body, HttpClient, Method, Request, RestConfig, percent_decode, read_json_body, redact_url,
};

/// The artifact proxy's path on a tracking server.
pub const ARTIFACTS_SERVICE: &str = "/api/2.0/mlflow-artifacts/artifacts";

/// Buffer of streamed copies (MLflow's `ARTIFACT_STREAM_CHUNK_SIZE`).
const CHUNK: usize = 1 << 20;

/// Run artifacts behind a tracking server's artifact proxy (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct HttpArtifactRepository {
    artifact_uri: String,
    /// Path of the root under [`ARTIFACTS_SERVICE`], without leading or trailing `/`.
    root: String,
    client: Arc<HttpClient>,
}

impl HttpArtifactRepository {
    /// The repository of `artifact_uri` (`mlflow-artifacts:` or `http(s)://`), reached through
    /// the tracking server at `tracking_uri` (needed for `mlflow-artifacts:` URIs without a host;
    /// ignored for `http(s)://` ones), configured from MLflow's variables.
    pub fn new(artifact_uri: &str, tracking_uri: &str) -> Result<HttpArtifactRepository> {
        let (base, root) = resolve(artifact_uri, tracking_uri)?;
        let config = RestConfig::from_env(&base)?;
        HttpArtifactRepository::with_config(artifact_uri, root, config)
    }

    /// The repository of the artifacts under `root` (a path below [`ARTIFACTS_SERVICE`]) on
    /// the server `config` describes; `artifact_uri` is what [`ArtifactRepository::artifact_uri`]
    /// reports.
    pub fn with_config(
        artifact_uri: &str,
        root: String,
        config: RestConfig,
    ) -> Result<HttpArtifactRepository> {
        Ok(HttpArtifactRepository {
            artifact_uri: artifact_uri.to_string(),
            root: root.trim_matches('/').to_string(),
            client: Arc::new(HttpClient::new(config)?),
        })
    }

    /// The URL this repository resolves to, e.g.
    /// `http://host:5000/api/2.0/mlflow-artifacts/artifacts/1/<run>/artifacts`.
    pub fn resolved_url(&self) -> String {
        format!(
            "{}{}",
            self.client.config().base_url,
            self.endpoint_for(&ArtifactPath::root())
        )
    }

    /// `<root>/<path>` as the server names it.
    fn server_path(&self, path: &ArtifactPath) -> String {
        match (self.root.is_empty(), path.is_root()) {
            (true, _) => path.to_string(),
            (false, true) => self.root.clone(),
            (false, false) => format!("{}/{path}", self.root),
        }
    }

    /// The endpoint of one file or directory.
    fn endpoint_for(&self, path: &ArtifactPath) -> String {
        let server_path = self.server_path(path);
        let mut out = ARTIFACTS_SERVICE.to_string();
        for seg in server_path.split('/').filter(|s| !s.is_empty()) {
            out.push('/');
            out.push_str(&encode_segment(seg));
        }
        out
    }

    fn get_file(&self, path: &ArtifactPath, range: Option<(u64, u64)>) -> Result<FileResponse> {
        let mut req = Request::new(Method::Get, self.endpoint_for(path));
        if let Some((from, to)) = range {
            req.headers.push(("Range", format!("bytes={from}-{to}")));
        }
        match self.client.send(req) {
            Ok(resp) => Ok(FileResponse::Body(resp)),
            Err(f) if f.status == Some(416) => Ok(FileResponse::RangeNotSatisfiable),
            Err(f) if f.status == Some(404) => Err(not_found(path, f.error)),
            Err(f) => Err(f.error),
        }
    }

    fn put(&self, path: &ArtifactPath, body: Body<'_>) -> Result<()> {
        let mut req = Request::new(Method::Put, self.endpoint_for(path));
        req.headers
            .push(("Content-Type", "application/octet-stream".into()));
        req.body = body;
        let endpoint = req.endpoint.clone();
        let resp = self.client.send(req)?;
        read_json_body(resp, &endpoint).map(drop)
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

    fn download_file(&self, path: &ArtifactPath, dst: &Path) -> Result<()> {
        if let Some(parent) = dst.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| Error::io("cannot create download directory", parent, e))?;
        }
        let mut reader = self.open(&path.to_string())?;
        let mut out =
            File::create(dst).map_err(|e| Error::io("cannot download artifact", dst, e))?;
        copy_chunked(&mut reader, &mut out)
            .map_err(|e| Error::io("cannot download artifact", dst, e))?;
        Ok(())
    }
}

enum FileResponse {
    Body(ureq::http::Response<ureq::Body>),
    RangeNotSatisfiable,
}

fn not_found(path: &ArtifactPath, cause: Error) -> Error {
    Error::NotFound(format!("No such artifact: '{path}' ({cause})"))
}

impl ArtifactRepository for HttpArtifactRepository {
    fn artifact_uri(&self) -> String {
        self.artifact_uri.clone()
    }

    fn list(&self, path: &str) -> Result<Vec<FileInfo>> {
        let dir = ArtifactPath::parse(path)?;
        let body = serde_json::json!({ "path": self.server_path(&dir) });
        let resp = self.client.call(Method::Get, ARTIFACTS_SERVICE, &body)?;
        let mut out = Vec::new();
        for f in resp
            .get("files")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            let Some(name) = f.get("path").and_then(Value::as_str) else {
                continue;
            };
            // The server sends base names; anything that is not one is left out.
            let Ok(child) = dir.join(name) else { continue };
            if name.contains('/') || child.parts().len() != dir.parts().len() + 1 {
                continue;
            }
            let is_dir = f.get("is_dir").and_then(Value::as_bool).unwrap_or(false);
            let file_size = if is_dir {
                None
            } else {
                Some(
                    f.get("file_size")
                        .and_then(crate::store::rest::json_int64)
                        .map_or(0, |n| n.max(0) as u64),
                )
            };
            out.push(FileInfo {
                path: child.to_string(),
                is_dir,
                file_size,
            });
        }
        // A path naming a file lists as that one file: MLflow returns no entries then.
        if !dir.is_root()
            && out.len() == 1
            && !out[0].is_dir
            && dir
                .file_name()
                .is_some_and(|n| out[0].path == format!("{dir}/{n}"))
        {
            return Ok(Vec::new());
        }
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
        self.list(&p.parent().to_string())?
            .into_iter()
            .find(|f| f.path == p.to_string())
            .ok_or_else(|| Error::NotFound(format!("No such artifact: '{p}'")))
    }

    fn open(&self, path: &str) -> Result<Box<dyn Read + Send>> {
        let p = ArtifactPath::parse(path)?;
        if p.is_root() {
            return Err(Error::InvalidParameter(
                "artifact '' is a directory, not a file".into(),
            ));
        }
        match self.get_file(&p, None)? {
            FileResponse::Body(resp) => Ok(Box::new(resp.into_body().into_reader())),
            FileResponse::RangeNotSatisfiable => Err(Error::Mlflow {
                code: ErrorCode::InternalError,
                message: format!("the server refused to send artifact '{p}' (HTTP 416)"),
            }),
        }
    }

    fn read_range(&self, path: &str, offset: u64, max_len: usize) -> Result<Vec<u8>> {
        let p = ArtifactPath::parse(path)?;
        if max_len == 0 {
            self.stat(path)?;
            return Ok(Vec::new());
        }
        let last = offset.saturating_add(max_len as u64 - 1);
        let resp = match self.get_file(&p, Some((offset, last)))? {
            FileResponse::Body(resp) => resp,
            FileResponse::RangeNotSatisfiable => return Ok(Vec::new()),
        };
        let partial = resp.status().as_u16() == 206;
        let mut reader = resp.into_body().into_reader();
        if !partial {
            // The server ignored the range: skip to the offset (streamed, not buffered).
            let skipped = io::copy(&mut (&mut reader).take(offset), &mut io::sink())
                .map_err(|e| Error::io("cannot read artifact", path, e))?;
            if skipped < offset {
                return Ok(Vec::new());
            }
        }
        let mut buf = Vec::with_capacity(max_len.min(CHUNK));
        reader
            .take(max_len as u64)
            .read_to_end(&mut buf)
            .map_err(|e| Error::io("cannot read artifact", path, e))?;
        Ok(buf)
    }

    fn write_stream(&self, artifact_file: &str, reader: &mut dyn Read) -> Result<u64> {
        let dest = Self::file_path(artifact_file)?;
        let mut counting = CountingReader {
            inner: reader,
            count: 0,
        };
        self.put(&dest, Body::Reader(&mut counting))?;
        Ok(counting.count)
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
        File::open(local_file).map_err(|e| Error::io("cannot read file to log", local_file, e))?;
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
        self.put(&dest, Body::File(local_file))
    }

    fn log_dir(&self, local_dir: &Path, artifact_dir: Option<&str>) -> Result<()> {
        for (dest, src) in super::local::files_to_send(local_dir, artifact_dir)? {
            let dest = Self::file_path(&dest.to_string())?;
            self.put(&dest, Body::File(&src))?;
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

/// Splits an artifact URI into the server's base URL and the root path below
/// [`ARTIFACTS_SERVICE`] (MLflow's `MlflowArtifactsRepository.resolve_uri`).
pub fn resolve(artifact_uri: &str, tracking_uri: &str) -> Result<(String, String)> {
    let uri = artifact_uri.trim();
    if uri.starts_with("http://") || uri.starts_with("https://") {
        let Some(i) = uri.find(ARTIFACTS_SERVICE) else {
            return Err(Error::InvalidParameter(format!(
                "http(s) artifact URIs must point into a tracking server's artifact proxy \
                 ({ARTIFACTS_SERVICE}/…): {}",
                redact_url(uri)
            )));
        };
        let root = uri[i + ARTIFACTS_SERVICE.len()..]
            .split(['?', '#'])
            .next()
            .unwrap_or("");
        return Ok((uri[..i].to_string(), percent_decode(root.trim_matches('/'))));
    }
    let Some(rest) = uri.strip_prefix("mlflow-artifacts:") else {
        return Err(Error::InvalidParameter(format!(
            "not a tracking server artifact URI: {uri}"
        )));
    };
    let tracking = tracking_uri.trim();
    let tracking_rest = tracking
        .strip_prefix("http://")
        .map(|r| ("http://", r))
        .or_else(|| tracking.strip_prefix("https://").map(|r| ("https://", r)));
    let Some((scheme, tracking_rest)) = tracking_rest else {
        return Err(Error::InvalidParameter(format!(
            "When an mlflow-artifacts URI was supplied, the tracking URI must be a valid http or \
             https URI, but it was currently set to {}. Set MLFLOW_TRACKING_URI to the MLflow \
             server (e.g. http://localhost:5000) to read {uri}",
            redact_url(tracking)
        )));
    };
    let split = tracking_rest
        .find(['/', '?', '#'])
        .unwrap_or(tracking_rest.len());
    let (tracking_host, tracking_path) = tracking_rest.split_at(split);
    let tracking_path = tracking_path
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .trim_end_matches('/');
    let (host, path) = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find('/').unwrap_or(after.len());
            let (netloc, path) = after.split_at(end);
            if !netloc.is_empty() && netloc.parse::<f64>().is_ok() {
                return Err(Error::InvalidParameter(format!(
                    "The mlflow-artifacts uri was supplied with a port number: {netloc}, but no \
                     host was defined."
                )));
            }
            let host = if netloc.is_empty() {
                tracking_host
            } else {
                netloc
            };
            (host, path)
        }
        None => (tracking_host, rest),
    };
    let mut root = path.trim_matches('/');
    if let Some(stripped) = root.strip_prefix(ARTIFACTS_SERVICE.trim_start_matches('/')) {
        root = stripped.trim_matches('/');
    }
    Ok((
        format!("{scheme}{host}{tracking_path}"),
        percent_decode(root),
    ))
}

/// Percent-encodes one path segment (RFC 3986 unreserved characters and a few safe ones kept).
fn encode_segment(seg: &str) -> String {
    let mut out = String::with_capacity(seg.len());
    for b in seg.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

struct CountingReader<'a> {
    inner: &'a mut dyn Read,
    count: u64,
}

impl Read for CountingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

fn copy_chunked(reader: &mut dyn Read, out: &mut dyn Write) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.write_all(&buf[..n])?;
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_mlflow() {
        let r = |a: &str, t: &str| resolve(a, t).unwrap();
        assert_eq!(
            r("mlflow-artifacts:/1/abc/artifacts", "http://127.0.0.1:5000"),
            ("http://127.0.0.1:5000".into(), "1/abc/artifacts".into())
        );
        assert_eq!(
            r(
                "mlflow-artifacts:/0/r/artifacts",
                "https://u:p@host/mlflow/"
            ),
            ("https://u:p@host/mlflow".into(), "0/r/artifacts".into())
        );
        assert_eq!(
            r("mlflow-artifacts://other:8080/x/y", "https://host/prefix"),
            ("https://other:8080/prefix".into(), "x/y".into())
        );
        assert_eq!(
            r(
                "http://h:1/api/2.0/mlflow-artifacts/artifacts/2/r%20x/artifacts/",
                "ignored"
            ),
            ("http://h:1".into(), "2/r x/artifacts".into())
        );
        let err = resolve("mlflow-artifacts:/1/x", "sqlite:///m.db").unwrap_err();
        assert!(err.to_string().contains("MLFLOW_TRACKING_URI"), "{err}");
        assert!(resolve("mlflow-artifacts://5000/x", "http://h").is_err());
        assert!(resolve("http://h/other/path", "http://h").is_err());
    }

    #[test]
    fn endpoints_are_encoded() {
        let repo = HttpArtifactRepository::with_config(
            "mlflow-artifacts:/1/r/artifacts",
            "1/r/artifacts".into(),
            RestConfig::new("http://127.0.0.1:1").unwrap(),
        )
        .unwrap();
        let p = ArtifactPath::parse("dir/a b#é.txt").unwrap();
        assert_eq!(
            repo.endpoint_for(&p),
            "/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/dir/a%20b%23%C3%A9.txt"
        );
        assert_eq!(
            repo.resolved_url(),
            "http://127.0.0.1:1/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts"
        );
        assert!(repo.write_bytes("", b"x").is_err());
        assert!(repo.write_bytes(".artifact.uploading.x", b"x").is_err());
        assert!(repo.list("../x").is_err());
    }
}
