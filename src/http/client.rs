//! The HTTP layer shared by [`crate::store::RestStore`] and the proxied artifact repository: one
//! connection pool, MLflow's retry policy, and MLflow's errors from responses.
//!
//! Mirrors `mlflow/utils/rest_utils.py` + urllib3's `Retry`: connection errors, timeouts and
//! 408/429/500/502/503/504 responses are retried up to `max_retries` times for every method,
//! with no wait before the first retry and `backoff_factor × 2^(n-1)` seconds (+ jitter, at most
//! 120 s) before retry `n ≥ 2`; `Retry-After` is honoured on 413/429/503. One exception: a 500
//! whose JSON body carries `INVALID_STATE` (MLflow maps that code to 500) is final, since
//! repeating the request cannot change the answer.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use ureq::http::Response;

use super::config::{MAX_BACKOFF, RestConfig, redact};
use crate::error::{Error, ErrorCode, Result};

/// Largest JSON response read (a page of 50,000 runs fits many times over).
const MAX_JSON_RESPONSE: u64 = 1 << 30;
/// Longest response-body excerpt quoted in an error message.
const MAX_BODY_EXCERPT: usize = 500;
/// HTTP statuses retried (MLflow's `_TRANSIENT_FAILURE_RESPONSE_CODES`).
const RETRY_STATUSES: [u16; 6] = [408, 429, 500, 502, 503, 504];
/// Statuses whose `Retry-After` header is honoured (urllib3's `RETRY_AFTER_STATUS_CODES`).
const RETRY_AFTER_STATUSES: [u16; 3] = [413, 429, 503];

/// HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Put,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
        }
    }
}

/// A request body.
pub(crate) enum Body<'a> {
    /// No body.
    Empty,
    /// A JSON document (already serialized).
    Json(Vec<u8>),
    /// A local file, reopened for each attempt (so it can be retried), sent with its length.
    File(&'a Path),
    /// A one-shot stream (chunked; never retried once sending started).
    Reader(&'a mut dyn Read),
}

impl Body<'_> {
    fn replayable(&self) -> bool {
        !matches!(self, Body::Reader(_))
    }
}

/// One request: `endpoint` is the path after the base URL, e.g. `/api/2.0/mlflow/runs/get`.
pub(crate) struct Request<'a> {
    pub method: Method,
    pub endpoint: String,
    pub query: Vec<(String, String)>,
    pub body: Body<'a>,
    pub headers: Vec<(&'static str, String)>,
    /// Overrides the configured number of retries.
    pub max_retries: Option<u32>,
}

impl<'a> Request<'a> {
    pub fn new(method: Method, endpoint: impl Into<String>) -> Request<'a> {
        Request {
            method,
            endpoint: endpoint.into(),
            query: Vec::new(),
            body: Body::Empty,
            headers: Vec::new(),
            max_retries: None,
        }
    }
}

/// Why a request failed, and whether trying again later may succeed.
#[derive(Debug)]
pub(crate) struct Failure {
    pub error: Error,
    /// A connection error, a timeout or a retryable status: the server may answer later.
    pub transient: bool,
    /// The server's `Retry-After`, when it sent one on the last response.
    pub retry_after: Option<Duration>,
    /// The HTTP status of the last response, when there was one.
    pub status: Option<u16>,
}

impl From<Failure> for Error {
    fn from(f: Failure) -> Error {
        f.error
    }
}

/// What one attempt gave.
enum Attempt {
    Done(Response<ureq::Body>),
    Failed(Failure),
}

/// A blocking HTTP client for one MLflow server (cheap to share: clone the `Arc` around it).
pub(crate) struct HttpClient {
    config: RestConfig,
    agent: ureq::Agent,
    auth_header: Option<String>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("base_url", &self.config.base_url)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// Builds the client (TLS settings are checked and loaded here).
    pub fn new(config: RestConfig) -> Result<HttpClient> {
        config.validate()?;
        let tls = tls_config(&config)?;
        let agent_config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(format!("mlscope/{}", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(config.timeout))
            .timeout_per_read(Some(config.timeout))
            .timeout_per_write(Some(config.timeout))
            .tls_config(tls)
            .build();
        let agent = ureq::Agent::new_with_config(agent_config);
        let auth_header = config.auth.header_value();
        Ok(HttpClient {
            config,
            agent,
            auth_header,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RestConfig {
        &self.config
    }

    /// Sends a request, retrying as configured; returns the (2xx) response.
    pub fn send(&self, mut req: Request<'_>) -> Result<Response<ureq::Body>, Failure> {
        let max_retries = req.max_retries.unwrap_or(self.config.max_retries);
        let mut retries = 0u32;
        loop {
            let last_try = retries >= max_retries || !req.body.replayable();
            match self.attempt(&mut req) {
                Ok(Attempt::Done(resp)) => return Ok(resp),
                Ok(Attempt::Failed(failure)) | Err(failure) => {
                    if !failure.transient || last_try {
                        return Err(self.exhausted(failure, retries, &req));
                    }
                    retries += 1;
                    std::thread::sleep(self.backoff(retries, failure.retry_after));
                }
            }
        }
    }

    /// Calls a JSON endpoint of the REST API: `GET` sends the object's fields as query
    /// parameters (arrays repeated), other methods send it as the body. Returns the response
    /// object (`{}` for an empty body).
    pub fn call(&self, method: Method, endpoint: &str, body: &Value) -> Result<Value> {
        self.call_with(method, endpoint, body, None)
            .map_err(Error::from)
    }

    /// [`HttpClient::call`] with a retry override, keeping the failure's classification.
    pub fn call_with(
        &self,
        method: Method,
        endpoint: &str,
        body: &Value,
        max_retries: Option<u32>,
    ) -> Result<Value, Failure> {
        let mut req = Request::new(method, endpoint);
        req.max_retries = max_retries;
        if method == Method::Get {
            req.query = query_pairs(body);
        } else {
            req.body = Body::Json(serde_json::to_vec(body).unwrap_or_default());
        }
        let resp = self.send(req)?;
        read_json_body(resp, endpoint).map_err(|error| Failure {
            error,
            transient: false,
            retry_after: None,
            status: None,
        })
    }

    /// One attempt: `Err` for a failure that is final whatever the retry budget.
    fn attempt(&self, req: &mut Request<'_>) -> Result<Attempt, Failure> {
        let mut url = format!("{}{}", self.config.base_url, req.endpoint);
        if !req.query.is_empty() {
            url.push('?');
            url.push_str(&encode_query(&req.query));
        }
        let mut builder = ureq::http::Request::builder()
            .method(req.method.as_str())
            .uri(url.as_str());
        for (k, v) in &req.headers {
            builder = builder.header(*k, v.as_str());
        }
        if let Some(auth) = &self.auth_header {
            builder = builder.header("Authorization", auth.as_str());
        }
        let bad_request = |e: ureq::http::Error| Failure {
            error: Error::InvalidParameter(format!(
                "cannot build a request for {}: {e}",
                redact(&url)
            )),
            transient: false,
            retry_after: None,
            status: None,
        };
        let result = match &mut req.body {
            Body::Empty => self.agent.run(builder.body(()).map_err(bad_request)?),
            Body::Json(bytes) => self.agent.run(
                builder
                    .header("Content-Type", "application/json")
                    .body(&bytes[..])
                    .map_err(bad_request)?,
            ),
            Body::File(path) => {
                let file = std::fs::File::open(*path).map_err(|e| Failure {
                    error: Error::io("cannot read file to upload", *path, e),
                    transient: false,
                    retry_after: None,
                    status: None,
                })?;
                self.agent.run(builder.body(file).map_err(bad_request)?)
            }
            Body::Reader(reader) => self.agent.run(
                builder
                    .body(ureq::SendBody::from_reader(*reader))
                    .map_err(bad_request)?,
            ),
        };
        match result {
            Ok(resp) => {
                let status = resp.status().as_u16();
                if (200..300).contains(&status) {
                    return Ok(Attempt::Done(resp));
                }
                let retry_after =
                    if self.config.respect_retry_after && RETRY_AFTER_STATUSES.contains(&status) {
                        parse_retry_after(&resp)
                    } else {
                        None
                    };
                let body = read_excerpt(resp);
                let error = self.http_error(req, status, &body);
                let transient = (RETRY_STATUSES.contains(&status)
                    && !(status == 500 && error.error_code() == ErrorCode::InvalidState))
                    || retry_after.is_some();
                Ok(Attempt::Failed(Failure {
                    error,
                    transient,
                    retry_after,
                    status: Some(status),
                }))
            }
            Err(e) => {
                let transient = is_transient(&e);
                Err(Failure {
                    error: self.transport_error(req, &url, e),
                    transient,
                    retry_after: None,
                    status: None,
                })
            }
        }
    }

    /// The final error after `retries` retries.
    fn exhausted(&self, mut failure: Failure, retries: u32, req: &Request<'_>) -> Failure {
        if failure.transient && retries > 0 {
            let what = format!("{} {}", req.method.as_str(), req.endpoint);
            failure.error = map_message(failure.error, |m| {
                format!(
                    "{m} (gave up on {what} after {retries} retries; \
                     MLFLOW_HTTP_REQUEST_MAX_RETRIES sets how many)"
                )
            });
        }
        failure
    }

    /// urllib3's backoff before retry `n` (1-based): none for the first, then
    /// `factor × 2^(n-1)` plus up to `jitter` seconds, at most 120 s; a `Retry-After` wins.
    pub fn backoff(&self, n: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(d) = retry_after {
            return d.min(MAX_BACKOFF);
        }
        if n <= 1 {
            return Duration::ZERO;
        }
        let base = self.config.backoff_factor * 2f64.powi((n - 1).min(30) as i32);
        let jitter = self.config.backoff_jitter * random_unit();
        Duration::from_secs_f64((base + jitter).clamp(0.0, MAX_BACKOFF.as_secs_f64()))
    }

    /// The error for a non-2xx response.
    fn http_error(&self, req: &Request<'_>, status: u16, body: &str) -> Error {
        let base = self.config.display_url();
        let parsed: Option<(String, String)> =
            serde_json::from_str::<Value>(body).ok().and_then(|v| {
                let obj = v.as_object()?;
                let code = obj.get("error_code")?.as_str()?.to_string();
                let message = obj
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                Some((code, message))
            });
        let server_said = match &parsed {
            Some((code, message)) => format!("{code}: {message}"),
            None => excerpt(body),
        };
        match status {
            401 => Error::Mlflow {
                code: ErrorCode::Unauthenticated,
                message: format!(
                    "the tracking server {base} refused the request (HTTP 401 \
                     Unauthorized) and {}; set MLFLOW_TRACKING_USERNAME and \
                     MLFLOW_TRACKING_PASSWORD (basic auth) or MLFLOW_TRACKING_TOKEN (bearer \
                     token). Server said: {server_said}",
                    self.config.auth.describe()
                ),
            },
            403 => Error::Mlflow {
                code: ErrorCode::PermissionDenied,
                message: format!(
                    "the tracking server {base} refused {} {} (HTTP 403 \
                     Forbidden); {}. Server said: {server_said}",
                    req.method.as_str(),
                    req.endpoint,
                    self.config.auth.describe()
                ),
            },
            _ => match parsed {
                Some((code, message)) => error_from_code(&code, message),
                None => {
                    let hint = if status == 404 {
                        format!(" (is {base} an MLflow tracking server?)")
                    } else {
                        String::new()
                    };
                    let code = match status {
                        429 => ErrorCode::RequestLimitExceeded,
                        503 => ErrorCode::TemporarilyUnavailable,
                        _ => ErrorCode::InternalError,
                    };
                    Error::Mlflow {
                        code,
                        message: format!(
                            "API request to endpoint {} failed with error code {status} != 200{hint}. \
                             Response body: '{server_said}'",
                            req.endpoint
                        ),
                    }
                }
            },
        }
    }

    /// The error for a request that got no response.
    fn transport_error(&self, req: &Request<'_>, url: &str, e: ureq::Error) -> Error {
        let base = self.config.display_url();
        let what = format!("{} {}", req.method.as_str(), req.endpoint);
        let message = match &e {
            ureq::Error::Timeout(_) => format!(
                "API request to {} failed with timeout exception: no answer within {} s ({what}). \
                 To increase the timeout, set the environment variable \
                 MLFLOW_HTTP_REQUEST_TIMEOUT to a larger value.",
                redact(url),
                fmt_secs(self.config.timeout)
            ),
            ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => format!(
                "TLS with the tracking server {base} failed: {e} ({what}). To trust a private \
                 CA set MLFLOW_TRACKING_SERVER_CERT_PATH to its PEM bundle; \
                 MLFLOW_TRACKING_INSECURE_TLS=true skips verification."
            ),
            ureq::Error::HostNotFound => format!(
                "cannot reach the tracking server {base}: its host name does not resolve ({what})"
            ),
            ureq::Error::ConnectionFailed | ureq::Error::Io(_) | ureq::Error::Protocol(_) => {
                let detail = match &e {
                    ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                        "connection refused (is the server running?)".to_string()
                    }
                    ureq::Error::ConnectionFailed => {
                        "connection failed (is the server running?)".to_string()
                    }
                    other => other.to_string(),
                };
                format!("cannot reach the tracking server {base}: {detail} ({what})")
            }
            ureq::Error::BadUri(u) => {
                return Error::InvalidParameter(format!(
                    "invalid tracking server URL '{}': {u}",
                    redact(url)
                ));
            }
            other => format!(
                "API request to {} failed with exception {other}",
                redact(url)
            ),
        };
        Error::Mlflow {
            code: ErrorCode::InternalError,
            message,
        }
    }
}

/// MLflow's error code (from a JSON error body) as the matching [`Error`]: the four codes with
/// their own variant get it, every other code is an [`Error::Mlflow`] (unknown codes keep
/// their name in the message).
pub(crate) fn error_from_code(code: &str, message: String) -> Error {
    match code {
        "INVALID_PARAMETER_VALUE" => Error::InvalidParameter(message),
        "RESOURCE_DOES_NOT_EXIST" => Error::NotFound(message),
        "RESOURCE_ALREADY_EXISTS" => Error::AlreadyExists(message),
        "INVALID_STATE" => Error::InvalidState(message),
        other => {
            let parsed = ErrorCode::parse(other);
            let message = if parsed.as_str() == other {
                message
            } else {
                format!("{other}: {message}")
            };
            Error::Mlflow {
                code: parsed,
                message,
            }
        }
    }
}

/// Rewrites an error's message, keeping its kind (and MLflow code).
pub(crate) fn map_message(error: Error, f: impl FnOnce(String) -> String) -> Error {
    match error {
        Error::InvalidParameter(m) => Error::InvalidParameter(f(m)),
        Error::NotFound(m) => Error::NotFound(f(m)),
        Error::AlreadyExists(m) => Error::AlreadyExists(f(m)),
        Error::InvalidState(m) => Error::InvalidState(f(m)),
        Error::Mlflow { code, message } => Error::Mlflow {
            code,
            message: f(message),
        },
        other => {
            let code = other.error_code();
            let text = other.to_string();
            let text = text
                .strip_prefix(&format!("{}: ", code.as_str()))
                .unwrap_or(&text)
                .to_string();
            Error::Mlflow {
                code,
                message: f(text),
            }
        }
    }
}

/// Whether a transport error may go away by itself (urllib3 retries connect and read errors).
fn is_transient(e: &ureq::Error) -> bool {
    matches!(
        e,
        ureq::Error::Timeout(_)
            | ureq::Error::Io(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::HostNotFound
            | ureq::Error::Protocol(_)
    )
}

fn tls_config(config: &RestConfig) -> Result<ureq::tls::TlsConfig> {
    use ureq::tls::{ClientCert, PemItem, RootCerts, TlsConfig};
    let mut builder = TlsConfig::builder();
    if config.insecure_tls {
        builder = builder.disable_verification(true);
    }
    if let Some(path) = &config.server_cert_path {
        let pem = std::fs::read(path)
            .map_err(|e| Error::io("cannot read MLFLOW_TRACKING_SERVER_CERT_PATH", path, e))?;
        let mut certs = Vec::new();
        for item in ureq::tls::parse_pem(&pem) {
            match item {
                Ok(PemItem::Certificate(c)) => certs.push(c),
                Ok(_) => {}
                Err(e) => {
                    return Err(Error::InvalidParameter(format!(
                        "MLFLOW_TRACKING_SERVER_CERT_PATH {}: not a valid PEM file: {e}",
                        path.display()
                    )));
                }
            }
        }
        if certs.is_empty() {
            return Err(Error::InvalidParameter(format!(
                "MLFLOW_TRACKING_SERVER_CERT_PATH {} holds no PEM certificate",
                path.display()
            )));
        }
        builder = builder.root_certs(RootCerts::new_with_certs(&certs));
    }
    if let Some(path) = &config.client_cert_path {
        let pem = std::fs::read(path)
            .map_err(|e| Error::io("cannot read MLFLOW_TRACKING_CLIENT_CERT_PATH", path, e))?;
        let mut certs = Vec::new();
        let mut key = None;
        for item in ureq::tls::parse_pem(&pem) {
            match item {
                Ok(PemItem::Certificate(c)) => certs.push(c),
                Ok(PemItem::PrivateKey(k)) => key = Some(k),
                Ok(_) => {}
                Err(e) => {
                    return Err(Error::InvalidParameter(format!(
                        "MLFLOW_TRACKING_CLIENT_CERT_PATH {}: not a valid PEM file: {e}",
                        path.display()
                    )));
                }
            }
        }
        let Some(key) = key.filter(|_| !certs.is_empty()) else {
            return Err(Error::InvalidParameter(format!(
                "MLFLOW_TRACKING_CLIENT_CERT_PATH {} must hold a PEM certificate and its private \
                 key",
                path.display()
            )));
        };
        builder = builder.client_cert(Some(ClientCert::new_with_certs(&certs, key)));
    }
    Ok(builder.build())
}

/// `k=v&…` with every byte but RFC 3986's unreserved ones percent-encoded.
fn encode_query(pairs: &[(String, String)]) -> String {
    fn enc(s: &str, out: &mut String) {
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        enc(k, &mut out);
        out.push('=');
        enc(v, &mut out);
    }
    out
}

/// Query parameters for a GET request from a JSON object (arrays become repeated keys).
fn query_pairs(body: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(obj) = body.as_object() else {
        return out;
    };
    for (k, v) in obj {
        let mut push = |v: &Value| match v {
            Value::Null => {}
            Value::String(s) => out.push((k.clone(), s.clone())),
            Value::Bool(b) => out.push((k.clone(), b.to_string())),
            other => out.push((k.clone(), other.to_string())),
        };
        match v {
            Value::Array(items) => items.iter().for_each(&mut push),
            other => push(other),
        }
    }
    out
}

/// Reads a success response as a JSON object (`{}` when empty, as MLflow does).
pub(crate) fn read_json_body(resp: Response<ureq::Body>, endpoint: &str) -> Result<Value> {
    let mut bytes = Vec::new();
    resp.into_body()
        .into_reader()
        .take(MAX_JSON_RESPONSE)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Mlflow {
            code: ErrorCode::InternalError,
            message: format!(
                "API request to endpoint {endpoint}: reading the response failed: {e}"
            ),
        })?;
    let text = String::from_utf8_lossy(&bytes);
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed == "200 OK" {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_str::<Value>(trimmed) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(Error::Mlflow {
            code: ErrorCode::InternalError,
            message: format!(
                "API request to endpoint {endpoint} was successful but the response body was not \
                 in a valid JSON format. Response body: '{}'",
                excerpt(trimmed)
            ),
        }),
    }
}

/// Reads at most a few KiB of an error response.
fn read_excerpt(resp: Response<ureq::Body>) -> String {
    let mut bytes = Vec::new();
    let _ = resp
        .into_body()
        .into_reader()
        .take(64 * 1024)
        .read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).trim().to_string()
}

fn excerpt(text: &str) -> String {
    if text.chars().count() <= MAX_BODY_EXCERPT {
        text.to_string()
    } else {
        let cut: String = text.chars().take(MAX_BODY_EXCERPT).collect();
        format!("{cut}…")
    }
}

fn parse_retry_after(resp: &Response<ureq::Body>) -> Option<Duration> {
    let v = resp.headers().get("retry-after")?.to_str().ok()?.trim();
    let secs: f64 = v.parse().ok()?;
    // Clamped before converting: a huge value must not overflow `Duration`.
    (secs.is_finite() && secs >= 0.0)
        .then(|| Duration::from_secs_f64(secs.min(MAX_BACKOFF.as_secs_f64())))
}

fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}

/// A random number in [0, 1) (jitter needs no quality).
fn random_unit() -> f64 {
    (uuid::Uuid::new_v4().as_u128() >> 75) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_urllib3() {
        let mut cfg = RestConfig::new("http://127.0.0.1:1").unwrap();
        cfg.backoff_jitter = 0.0;
        let c = HttpClient::new(cfg).unwrap();
        assert_eq!(c.backoff(1, None), Duration::ZERO);
        assert_eq!(c.backoff(2, None), Duration::from_secs(4));
        assert_eq!(c.backoff(3, None), Duration::from_secs(8));
        assert_eq!(c.backoff(10, None), MAX_BACKOFF);
        assert_eq!(
            c.backoff(3, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
        let r = random_unit();
        assert!((0.0..1.0).contains(&r));
    }

    #[test]
    fn error_codes_map_to_variants() {
        assert!(matches!(
            error_from_code("RESOURCE_DOES_NOT_EXIST", "x".into()),
            Error::NotFound(_)
        ));
        assert!(matches!(
            error_from_code("INVALID_PARAMETER_VALUE", "x".into()),
            Error::InvalidParameter(_)
        ));
        let e = error_from_code("BAD_REQUEST", "y".into());
        assert_eq!(e.error_code(), ErrorCode::BadRequest);
        assert_eq!(e.to_string(), "BAD_REQUEST: y");
        let e = error_from_code("ENDPOINT_NOT_FOUND", "z".into());
        assert_eq!(e.error_code(), ErrorCode::InternalError);
        assert!(e.to_string().contains("ENDPOINT_NOT_FOUND: z"), "{e}");
    }

    #[test]
    fn query_pairs_repeat_arrays() {
        let q = query_pairs(&serde_json::json!({"a": "x y", "n": 5, "l": ["1", "2"], "z": null}));
        assert_eq!(
            encode_query(&[("k".into(), "a b/é&=".into())]),
            "k=a%20b%2F%C3%A9%26%3D"
        );
        assert!(q.contains(&("a".into(), "x y".into())));
        assert!(q.contains(&("n".into(), "5".into())));
        assert_eq!(q.iter().filter(|(k, _)| k == "l").count(), 2);
        assert!(!q.iter().any(|(k, _)| k == "z"));
    }
}
