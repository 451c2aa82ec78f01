//! `gs://bucket/prefix` artifact URIs (Google Cloud Storage), configured the way MLflow's
//! `google-cloud-storage` client is, read and written by [`ObjectStoreArtifactRepository`].
//!
//! | variable | meaning (as for MLflow) |
//! |---|---|
//! | [`GOOGLE_APPLICATION_CREDENTIALS`] | a service-account key file or an `authorized_user` file |
//! | (none) | `~/.config/gcloud/application_default_credentials.json`, written by `gcloud auth application-default login` |
//! | (none) | on Google Compute Engine, GKE, Cloud Run…: the metadata server's service account |
//! | [`STORAGE_EMULATOR_HOST`] | an emulator such as fake-gcs-server, e.g. `http://127.0.0.1:4443`; requests are anonymous, as in `google-cloud-storage` |
//!
//! When no credentials can be had (no key file, no gcloud login, not on Google Cloud) the
//! repository is not created and the error names [`GOOGLE_APPLICATION_CREDENTIALS`]: no request
//! is made and nothing waits on a metadata server that is not there.
//!
//! Reads (listings, `HEAD`, ranged `GET`s) go to GCS's XML API through `object_store`. Uploads
//! go to the JSON API as `google-cloud-storage` sends them: one `uploadType=media` request up to
//! 8 MiB, above that a resumable upload in 8 MiB chunks (the object appears only once the last
//! chunk is in). Emulators (fake-gcs-server) serve the JSON API uploads but not the XML API's
//! plain `PUT` and multipart uploads; fake-gcs-server serves the XML API's reads only to its
//! public host, so start it with `-public-host <host>:<port>` matching `STORAGE_EMULATOR_HOST`. Retries and timeouts of the reads are those of every
//! object store ([`super::object_store`]).

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ::object_store::StaticCredentialProvider;
use ::object_store::gcp::{GcpCredential, GoogleCloudStorage, GoogleCloudStorageBuilder};

use super::object_store::{
    ObjectStoreArtifactRepository, PART_SIZE, StoreContext, Uploader, block_on, cached_in,
    client_options, env_var, error_chain, install_crypto_provider, retry_config, split_bucket_uri,
};
use crate::error::{Error, ErrorCode, Result};

/// GCS's own endpoint (XML and JSON APIs).
const GCS_BASE_URL: &str = "https://storage.googleapis.com";

/// The credentials file of Google's client libraries (MLflow's too).
pub const GOOGLE_APPLICATION_CREDENTIALS: &str = "GOOGLE_APPLICATION_CREDENTIALS";
/// A GCS emulator's URL (`google-cloud-storage`'s variable; `http://` assumed without a scheme).
pub const STORAGE_EMULATOR_HOST: &str = "STORAGE_EMULATOR_HOST";

const CREDENTIALS_HINT: &str = "set GOOGLE_APPLICATION_CREDENTIALS to a service-account key \
     file (or run `gcloud auth application-default login`)";

/// A `gs://` URI split into bucket and object-name prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcsLocation {
    /// The bucket.
    pub bucket: String,
    /// Object-name prefix of the artifact root, without leading or trailing `/`.
    pub prefix: String,
}

/// Parses `gs://bucket[/prefix]` as MLflow's `GCSArtifactRepository.parse_gcs_uri` does.
pub fn parse_gcs_uri(uri: &str) -> Result<GcsLocation> {
    let (bucket, prefix) = split_bucket_uri(uri, &["gs://"], "a gs://", "GCS")?;
    Ok(GcsLocation { bucket, prefix })
}

/// Where requests go and how they are authorised, read once by [`GcsConfig::from_env`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcsConfig {
    /// [`STORAGE_EMULATOR_HOST`]: an emulator, reached without credentials.
    pub emulator_host: Option<String>,
    /// [`GOOGLE_APPLICATION_CREDENTIALS`]: the credentials file.
    pub credentials_file: Option<PathBuf>,
    /// gcloud's application-default credentials file, when it exists
    /// (`$CLOUDSDK_CONFIG` or `~/.config/gcloud`, `application_default_credentials.json`).
    pub gcloud_credentials: Option<PathBuf>,
    /// This machine runs on Google Cloud: the metadata server may be asked for a token.
    pub metadata_server: bool,
}

/// Whether this machine is a Google Cloud VM (where the metadata server answers).
fn on_google_cloud() -> bool {
    env_var("GCE_METADATA_HOST").is_some()
        || std::fs::read_to_string("/sys/class/dmi/id/product_name")
            .is_ok_and(|t| t.trim().starts_with("Google"))
}

impl GcsConfig {
    /// Reads the settings the way `google-cloud-storage` does (see the [module docs](self)).
    pub fn from_env() -> GcsConfig {
        let gcloud = env_var("CLOUDSDK_CONFIG")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|h| !h.is_empty())
                    .map(|h| PathBuf::from(h).join(".config/gcloud"))
            })
            .map(|d| d.join("application_default_credentials.json"));
        GcsConfig {
            emulator_host: env_var(STORAGE_EMULATOR_HOST),
            credentials_file: env_var(GOOGLE_APPLICATION_CREDENTIALS).map(PathBuf::from),
            gcloud_credentials: gcloud.filter(|p| p.is_file()),
            metadata_server: on_google_cloud(),
        }
    }

    /// The emulator's base URL (`http://` added when the variable has no scheme).
    fn emulator_url(&self) -> Option<String> {
        self.emulator_host.as_ref().map(|h| {
            let h = h.trim_end_matches('/');
            if h.contains("://") {
                h.to_string()
            } else {
                format!("http://{h}")
            }
        })
    }

    fn build(&self, uri: &str, bucket: &str) -> Result<GoogleCloudStorage> {
        install_crypto_provider();
        let emulator = self.emulator_url();
        let mut builder = GoogleCloudStorageBuilder::new()
            .with_bucket_name(bucket)
            .with_client_options(
                client_options(false)
                    .with_allow_http(emulator.as_ref().is_some_and(|e| e.starts_with("http://"))),
            )
            .with_retry(retry_config());
        if let Some(url) = &emulator {
            // As google-cloud-storage does with STORAGE_EMULATOR_HOST: anonymous requests (an
            // empty token; object_store's skip_signature is not honoured by its uploads).
            builder = builder.with_base_url(url).with_credentials(Arc::new(
                StaticCredentialProvider::new(GcpCredential {
                    bearer: String::new(),
                }),
            ));
        } else if let Some(file) = self
            .credentials_file
            .as_ref()
            .or(self.gcloud_credentials.as_ref())
        {
            builder = builder.with_application_credentials(file.to_string_lossy());
        }
        let store = builder.build().map_err(|e| {
            Error::InvalidParameter(format!(
                "cannot configure GCS access for {uri}: {e} (check {GOOGLE_APPLICATION_CREDENTIALS}{})",
                if emulator.is_some() {
                    format!(" and {STORAGE_EMULATOR_HOST}")
                } else {
                    String::new()
                }
            ))
        })?;
        Ok(store)
    }
}

/// Uploads through GCS's JSON API (see the [module docs](self)), authorised by the store's
/// credentials.
#[derive(Debug)]
struct JsonApiUploader {
    store: Arc<GoogleCloudStorage>,
    http: reqwest::Client,
    /// `https://storage.googleapis.com` or the emulator's URL.
    base_url: String,
    bucket: String,
    context: StoreContext,
}

/// `text` percent-encoded for a URL query value or path segment (RFC 3986 unreserved kept).
fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl JsonApiUploader {
    fn new(store: Arc<GoogleCloudStorage>, config: &GcsConfig, bucket: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(60))
            // A resumable upload's "308 Resume Incomplete" is an answer, not a redirect.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                Error::InvalidState(format!("cannot create the GCS upload client: {e}"))
            })?;
        let context = gcs_context(config);
        Ok(JsonApiUploader {
            store,
            http,
            base_url: config
                .emulator_url()
                .unwrap_or_else(|| GCS_BASE_URL.to_string()),
            bucket: bucket.to_string(),
            context,
        })
    }

    /// A request with the store's bearer token (none for an emulator).
    async fn authorised(
        &self,
        request: reqwest::RequestBuilder,
    ) -> std::result::Result<reqwest::RequestBuilder, ::object_store::Error> {
        let credential = self.store.credentials().get_credential().await?;
        Ok(if credential.bearer.is_empty() {
            request
        } else {
            request.bearer_auth(&credential.bearer)
        })
    }

    /// Sends `request`; a response outside 2xx (and 308 when `resume_ok`) is an error.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        resume_ok: bool,
        what: &str,
        uri: &str,
    ) -> Result<reqwest::Response> {
        let request = self
            .authorised(request)
            .await
            .map_err(|e| self.context.error(what, uri, e))?;
        let response = request
            .send()
            .await
            .map_err(|e| self.context.request_failed(what, uri, &error_chain(&e)))?;
        let status = response.status();
        if status.is_success() || (resume_ok && status.as_u16() == 308) {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        let body: String = body.chars().take(500).collect();
        let (code, message) = match status.as_u16() {
            401 => (
                ErrorCode::Unauthenticated,
                format!(
                    "GCS refused the credentials for {what} in {uri}: {}. {body}",
                    self.context.credentials_hint
                ),
            ),
            403 => (
                ErrorCode::PermissionDenied,
                format!(
                    "GCS denied access to {what} in {uri}: {}. {body}",
                    self.context.credentials_hint
                ),
            ),
            404 => (
                ErrorCode::ResourceDoesNotExist,
                format!(
                    "cannot upload {what} to {uri}: bucket '{}' not found. {body}",
                    self.bucket
                ),
            ),
            _ => (
                ErrorCode::InternalError,
                format!("GCS upload of {what} to {uri} failed: HTTP {status}: {body}"),
            ),
        };
        Err(Error::Mlflow { code, message })
    }

    fn upload_url(&self, upload_type: &str, key: &str) -> String {
        format!(
            "{}/upload/storage/v1/b/{}/o?uploadType={upload_type}&name={}",
            self.base_url,
            url_encode(&self.bucket),
            url_encode(key)
        )
    }
}

/// Fills `buf` from `reader` as far as it goes; the number of bytes read.
fn read_full(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl Uploader for JsonApiUploader {
    fn upload(&self, key: &str, reader: &mut dyn Read, what: &str, uri: &str) -> Result<u64> {
        let read_err = |e: io::Error| Error::io("cannot read the data to upload to", what, e);
        // One byte more than a chunk tells whether a single request is enough.
        let mut chunk = vec![0u8; PART_SIZE + 1];
        let mut filled = read_full(reader, &mut chunk).map_err(read_err)?;
        if filled <= PART_SIZE {
            chunk.truncate(filled);
            let request = self
                .http
                .post(self.upload_url("media", key))
                .header("content-type", "application/octet-stream")
                .body(chunk);
            block_on(self.send(request, false, what, uri))??;
            return Ok(filled as u64);
        }
        let start = self
            .http
            .post(self.upload_url("resumable", key))
            .header("content-type", "application/json")
            .body("{}");
        let response = block_on(self.send(start, false, what, uri))??;
        let session = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| Error::Mlflow {
                code: ErrorCode::InternalError,
                message: format!(
                    "GCS started no resumable upload for {what} in {uri} (no Location header)"
                ),
            })?;
        // Chunks of PART_SIZE (a multiple of 256 KiB, as GCS requires) while more follows; the
        // byte carried over is the start of the next chunk.
        let mut offset: u64 = 0;
        loop {
            let last = filled <= PART_SIZE;
            let len = filled.min(PART_SIZE);
            let body = chunk[..len].to_vec();
            let range = match (last, len) {
                (true, 0) => format!("bytes */{offset}"),
                (true, _) => format!(
                    "bytes {offset}-{}/{}",
                    offset + len as u64 - 1,
                    offset + len as u64
                ),
                (false, _) => format!("bytes {offset}-{}/*", offset + len as u64 - 1),
            };
            let put = self
                .http
                .put(&session)
                .header("content-range", range)
                .body(body);
            block_on(self.send(put, !last, what, uri))??;
            offset += len as u64;
            if last {
                return Ok(offset);
            }
            chunk.copy_within(PART_SIZE..filled, 0);
            let carried = filled - PART_SIZE;
            filled = carried + read_full(reader, &mut chunk[carried..]).map_err(read_err)?;
        }
    }
}

/// How errors of a GCS repository name its settings.
fn gcs_context(config: &GcsConfig) -> StoreContext {
    StoreContext {
        kind: "GCS",
        endpoint: config.emulator_url().unwrap_or_default(),
        endpoint_var: STORAGE_EMULATOR_HOST,
        credentials_hint: CREDENTIALS_HINT,
    }
}

/// The store and uploader of one bucket and configuration, built once: their HTTP connections
/// belong to the artifact layer's runtime and are reused by every run's repository.
fn cached_uploader(
    key: String,
    build: impl FnOnce() -> Result<Arc<JsonApiUploader>>,
) -> Result<Arc<JsonApiUploader>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<JsonApiUploader>>>> = OnceLock::new();
    cached_in(&CACHE, key, build, "GCS store")
}

/// The repository of a `gs://` artifact URI, configured from the variables Google's client
/// libraries read (see the [module docs](self)).
pub fn open_gcs_repository(uri: &str) -> Result<ObjectStoreArtifactRepository> {
    open_gcs_repository_with(uri, &GcsConfig::from_env())
}

/// The repository of a `gs://` artifact URI with explicit settings. Fails at once, without a
/// request, when no credentials can be had.
pub fn open_gcs_repository_with(
    uri: &str,
    config: &GcsConfig,
) -> Result<ObjectStoreArtifactRepository> {
    let loc = parse_gcs_uri(uri)?;
    if config.emulator_host.is_none() {
        match &config.credentials_file {
            Some(file) if !file.is_file() => {
                return Err(Error::InvalidParameter(format!(
                    "{GOOGLE_APPLICATION_CREDENTIALS} is '{}', which is not a readable file \
                     (needed for {uri}): point it at a service-account key file",
                    file.display()
                )));
            }
            Some(_) => {}
            None if config.gcloud_credentials.is_some() || config.metadata_server => {}
            None => {
                return Err(Error::InvalidParameter(format!(
                    "no Google Cloud credentials found for {uri}: {CREDENTIALS_HINT}; for a \
                     GCS emulator set {STORAGE_EMULATOR_HOST}"
                )));
            }
        }
    }
    let key = format!(
        "{}\u{0}{:?}\u{0}{:?}\u{0}{:?}",
        loc.bucket, config.emulator_host, config.credentials_file, config.gcloud_credentials
    );
    let uploader = cached_uploader(key, || {
        let store = Arc::new(config.build(uri, &loc.bucket)?);
        Ok(Arc::new(JsonApiUploader::new(store, config, &loc.bucket)?))
    })?;
    Ok(ObjectStoreArtifactRepository::new(
        uri.trim(),
        uploader.store.clone(),
        &loc.prefix,
        gcs_context(config),
    )
    .with_uploader(uploader))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::ArtifactRepository as _;

    #[test]
    fn parses_gcs_uris() {
        assert_eq!(
            parse_gcs_uri("gs://bkt/a/1/run/artifacts/").unwrap(),
            GcsLocation {
                bucket: "bkt".into(),
                prefix: "a/1/run/artifacts".into()
            }
        );
        assert_eq!(parse_gcs_uri("gs://bkt").unwrap().prefix, "");
        assert!(parse_gcs_uri("gs:///x").is_err());
        assert!(parse_gcs_uri("s3://b/x").is_err());
    }

    #[test]
    fn missing_credentials_fail_at_once_naming_the_variables() {
        let err = open_gcs_repository_with("gs://bkt/x", &GcsConfig::default()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(GOOGLE_APPLICATION_CREDENTIALS), "{text}");
        assert!(text.contains(STORAGE_EMULATOR_HOST), "{text}");

        let config = GcsConfig {
            credentials_file: Some(PathBuf::from("/nonexistent/key.json")),
            ..GcsConfig::default()
        };
        let text = open_gcs_repository_with("gs://bkt/x", &config)
            .unwrap_err()
            .to_string();
        assert!(text.contains("/nonexistent/key.json"), "{text}");
        assert!(text.contains(GOOGLE_APPLICATION_CREDENTIALS), "{text}");
    }

    #[test]
    fn unreachable_emulator_is_reported_naming_the_variable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let config = GcsConfig {
            emulator_host: Some(format!("127.0.0.1:{port}")),
            ..GcsConfig::default()
        };
        let repo = open_gcs_repository_with("gs://bkt/x", &config).unwrap();
        let err = repo.list("").unwrap_err().to_string();
        assert!(err.contains(STORAGE_EMULATOR_HOST), "{err}");
        assert!(err.contains(&format!("http://127.0.0.1:{port}")), "{err}");
        let err = repo.read_range("a.txt", 0, 10).unwrap_err().to_string();
        assert!(err.contains("cannot reach GCS"), "{err}");
    }
}
