//! [`RestConfig`]: where a tracking server is and how to talk to it, read from MLflow's
//! environment variables the way MLflow's Python client reads them
//! (`mlflow/utils/credentials.py`, `mlflow/utils/rest_utils.py`, `mlflow/environment_variables.py`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::percent_decode;
use crate::env;
use crate::error::{Error, Result};

/// `MLFLOW_HTTP_REQUEST_TIMEOUT`'s default: 120 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// `MLFLOW_HTTP_REQUEST_MAX_RETRIES`'s default: 7.
pub const DEFAULT_MAX_RETRIES: u32 = 7;
/// `MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR`'s default: 2 (seconds).
pub const DEFAULT_BACKOFF_FACTOR: f64 = 2.0;
/// `MLFLOW_HTTP_REQUEST_BACKOFF_JITTER`'s default: 1.0 (seconds).
pub const DEFAULT_BACKOFF_JITTER: f64 = 1.0;
/// Largest accepted `max_retries` (`_MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT`'s default).
pub const MAX_RETRIES_LIMIT: u32 = 10;
/// Largest accepted `backoff_factor` (`_MLFLOW_HTTP_REQUEST_MAX_BACKOFF_FACTOR_LIMIT`'s default).
pub const MAX_BACKOFF_FACTOR_LIMIT: f64 = 120.0;
/// Longest single backoff sleep (urllib3's `Retry.DEFAULT_BACKOFF_MAX`).
pub const MAX_BACKOFF: Duration = Duration::from_secs(120);

/// Credentials sent with every request.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Auth {
    /// No `Authorization` header.
    #[default]
    None,
    /// `Authorization: Basic …` (`MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD`).
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// `Authorization: Bearer …` (`MLFLOW_TRACKING_TOKEN`).
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    /// Never prints secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { username, .. } => write!(f, "Basic {{ username: {username:?}, .. }}"),
            Auth::Bearer(_) => f.write_str("Bearer(..)"),
        }
    }
}

impl Auth {
    /// The `Authorization` header value, if any.
    pub(crate) fn header_value(&self) -> Option<String> {
        use base64::Engine as _;
        match self {
            Auth::None => None,
            Auth::Basic { username, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            )),
            Auth::Bearer(token) => Some(format!("Bearer {token}")),
        }
    }

    /// Where these credentials came from, for error messages.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Auth::None => "no credentials were sent",
            Auth::Basic { .. } => {
                "basic credentials (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD) were sent"
            }
            Auth::Bearer(_) => "a bearer token (MLFLOW_TRACKING_TOKEN) was sent",
        }
    }
}

/// How to reach an MLflow tracking server: its URL, credentials, TLS settings, timeouts and
/// retry policy.
///
/// [`RestConfig::from_env`] reads MLflow's variables:
///
/// | variable | field | default |
/// |---|---|---|
/// | `MLFLOW_TRACKING_USERNAME`, `MLFLOW_TRACKING_PASSWORD` (else `~/.mlflow/credentials`) | [`auth`](Self::auth) basic | — |
/// | `MLFLOW_TRACKING_TOKEN` | [`auth`](Self::auth) bearer (basic wins when both are set, as in MLflow) | — |
/// | `MLFLOW_TRACKING_INSECURE_TLS` | [`insecure_tls`](Self::insecure_tls) | `false` |
/// | `MLFLOW_TRACKING_SERVER_CERT_PATH` | [`server_cert_path`](Self::server_cert_path) (PEM CA bundle) | webpki roots |
/// | `MLFLOW_TRACKING_CLIENT_CERT_PATH` | [`client_cert_path`](Self::client_cert_path) (PEM certificate + key) | — |
/// | `MLFLOW_HTTP_REQUEST_TIMEOUT` | [`timeout`](Self::timeout) (seconds) | 120 |
/// | `MLFLOW_HTTP_REQUEST_MAX_RETRIES` | [`max_retries`](Self::max_retries) (0..=10) | 7 |
/// | `MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR` | [`backoff_factor`](Self::backoff_factor) (0..=120) | 2 |
/// | `MLFLOW_HTTP_REQUEST_BACKOFF_JITTER` | [`backoff_jitter`](Self::backoff_jitter) | 1.0 |
/// | `MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER` | [`respect_retry_after`](Self::respect_retry_after) | `true` |
///
/// User information in the URL (`http://user:pass@host`) is used as basic credentials when no
/// variable gives any.
#[derive(Debug, Clone)]
pub struct RestConfig {
    /// Base URL without credentials or trailing slash, e.g. `https://mlflow.example.com/prefix`.
    pub base_url: String,
    /// Credentials.
    pub auth: Auth,
    /// Skip TLS certificate verification (`MLFLOW_TRACKING_INSECURE_TLS`).
    pub insecure_tls: bool,
    /// PEM bundle of CA certificates to trust instead of the built-in roots.
    pub server_cert_path: Option<PathBuf>,
    /// PEM file with a client certificate chain and its private key (mutual TLS).
    pub client_cert_path: Option<PathBuf>,
    /// Connect timeout, and the longest wait for any single read or write (as `requests`'
    /// `timeout`): a request whose server stays silent that long fails (and may be retried).
    pub timeout: Duration,
    /// Retries after a connection error, a timeout or a 408/429/500/502/503/504 response.
    pub max_retries: u32,
    /// Backoff before retry `n` (n ≥ 2) is `backoff_factor × 2^(n-1)` seconds (urllib3's rule;
    /// the first retry is immediate), capped at 120 s.
    pub backoff_factor: f64,
    /// Up to this many seconds of random jitter are added to each backoff.
    pub backoff_jitter: f64,
    /// Honour `Retry-After` on 413/429/503 responses (capped at 120 s).
    pub respect_retry_after: bool,
}

impl RestConfig {
    /// A configuration with MLflow's defaults and no credentials. `url` must be `http(s)://…`;
    /// credentials in it become basic auth.
    pub fn new(url: &str) -> Result<RestConfig> {
        let (base_url, auth) = split_url(url)?;
        Ok(RestConfig {
            base_url,
            auth,
            insecure_tls: false,
            server_cert_path: None,
            client_cert_path: None,
            timeout: DEFAULT_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            backoff_factor: DEFAULT_BACKOFF_FACTOR,
            backoff_jitter: DEFAULT_BACKOFF_JITTER,
            respect_retry_after: true,
        })
    }

    /// A configuration for `url` from MLflow's environment variables (see the type's docs).
    pub fn from_env(url: &str) -> Result<RestConfig> {
        Self::from_lookup(
            url,
            &|name| std::env::var(name).ok(),
            credentials_file().as_deref(),
        )
    }

    /// [`RestConfig::from_env`] with an explicit variable lookup and credentials file (tests).
    pub(crate) fn from_lookup(
        url: &str,
        var: &dyn Fn(&str) -> Option<String>,
        credentials_file: Option<&Path>,
    ) -> Result<RestConfig> {
        let mut cfg = RestConfig::new(url)?;
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        let (file_user, file_password) = credentials_file
            .map(read_credentials_file)
            .unwrap_or((None, None));
        let username = var(env::MLFLOW_TRACKING_USERNAME).or(file_user);
        let password = var(env::MLFLOW_TRACKING_PASSWORD).or(file_password);
        if let (Some(username), Some(password)) = (username, password) {
            cfg.auth = Auth::Basic { username, password };
        } else if let Some(token) = var(env::MLFLOW_TRACKING_TOKEN) {
            cfg.auth = Auth::Bearer(token);
        }
        if let Some(v) = var(env::MLFLOW_TRACKING_INSECURE_TLS) {
            cfg.insecure_tls = parse_bool(env::MLFLOW_TRACKING_INSECURE_TLS, &v)?;
        }
        cfg.server_cert_path = var(env::MLFLOW_TRACKING_SERVER_CERT_PATH).map(PathBuf::from);
        cfg.client_cert_path = var(env::MLFLOW_TRACKING_CLIENT_CERT_PATH).map(PathBuf::from);
        if let Some(v) = var(env::MLFLOW_HTTP_REQUEST_TIMEOUT) {
            let secs = parse_f64(env::MLFLOW_HTTP_REQUEST_TIMEOUT, &v)?;
            if !(secs > 0.0 && secs <= 1e9) {
                return Err(Error::InvalidParameter(format!(
                    "MLFLOW_HTTP_REQUEST_TIMEOUT must be a positive number of seconds, got '{v}'"
                )));
            }
            cfg.timeout = Duration::from_secs_f64(secs);
        }
        if let Some(v) = var(env::MLFLOW_HTTP_REQUEST_MAX_RETRIES) {
            cfg.max_retries = v.trim().parse().map_err(|_| {
                Error::InvalidParameter(format!(
                    "MLFLOW_HTTP_REQUEST_MAX_RETRIES must be an integer from 0 to \
                     {MAX_RETRIES_LIMIT}, got '{v}'"
                ))
            })?;
        }
        if let Some(v) = var(env::MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR) {
            cfg.backoff_factor = parse_f64(env::MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR, &v)?;
        }
        if let Some(v) = var(env::MLFLOW_HTTP_REQUEST_BACKOFF_JITTER) {
            cfg.backoff_jitter = parse_f64(env::MLFLOW_HTTP_REQUEST_BACKOFF_JITTER, &v)?;
        }
        if let Some(v) = var(env::MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER) {
            cfg.respect_retry_after = parse_bool(env::MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER, &v)?;
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks the settings as MLflow does (retry and backoff limits, TLS options that exclude
    /// each other).
    pub fn validate(&self) -> Result<()> {
        if self.max_retries > MAX_RETRIES_LIMIT {
            return Err(Error::InvalidParameter(format!(
                "The configured max_retries value ({}) is in excess of the maximum allowable \
                 retries ({MAX_RETRIES_LIMIT}) (MLFLOW_HTTP_REQUEST_MAX_RETRIES)",
                self.max_retries
            )));
        }
        if !(0.0..=MAX_BACKOFF_FACTOR_LIMIT).contains(&self.backoff_factor) {
            return Err(Error::InvalidParameter(format!(
                "The backoff_factor value must be from 0 to {MAX_BACKOFF_FACTOR_LIMIT}, got {} \
                 (MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR)",
                self.backoff_factor
            )));
        }
        if !(0.0..=MAX_BACKOFF.as_secs_f64()).contains(&self.backoff_jitter) {
            return Err(Error::InvalidParameter(format!(
                "The backoff jitter must be from 0 to 120 seconds, got {} \
                 (MLFLOW_HTTP_REQUEST_BACKOFF_JITTER)",
                self.backoff_jitter
            )));
        }
        if self.timeout.is_zero() {
            return Err(Error::InvalidParameter(
                "the request timeout must be positive (MLFLOW_HTTP_REQUEST_TIMEOUT)".into(),
            ));
        }
        if self.insecure_tls && self.server_cert_path.is_some() {
            return Err(Error::InvalidParameter(
                "When 'ignore_tls_verification' is true then 'server_cert_path' must not be set! \
                 This error may have occurred because the 'MLFLOW_TRACKING_INSECURE_TLS' and \
                 'MLFLOW_TRACKING_SERVER_CERT_PATH' environment variables are both set - only \
                 one of these environment variables may be set."
                    .into(),
            ));
        }
        Ok(())
    }

    /// The base URL for messages (it never holds credentials).
    pub fn display_url(&self) -> &str {
        &self.base_url
    }
}

/// Splits `http(s)://[user[:password]@]host[:port][/path]` into the URL without credentials
/// (and without a trailing slash) and the credentials as basic auth.
fn split_url(url: &str) -> Result<(String, Auth)> {
    let url = url.trim();
    let (scheme, rest) = if let Some(r) = url.strip_prefix("http://") {
        ("http://", r)
    } else if let Some(r) = url.strip_prefix("https://") {
        ("https://", r)
    } else {
        return Err(Error::InvalidParameter(format!(
            "a tracking server URI must start with http:// or https://, got '{url}'"
        )));
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let (userinfo, host) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    if host.is_empty() {
        return Err(Error::InvalidParameter(format!(
            "the tracking server URI names no host: '{}'",
            redact(url)
        )));
    }
    let path = path.split(['?', '#']).next().unwrap_or("");
    let base_url = format!("{scheme}{host}{}", path.trim_end_matches('/'));
    let auth = match userinfo {
        Some(info) => {
            let (user, password) = info.split_once(':').unwrap_or((info, ""));
            Auth::Basic {
                username: percent_decode(user),
                password: percent_decode(password),
            }
        }
        None => Auth::None,
    };
    Ok((base_url, auth))
}

/// `url` with any password replaced by `***`, for messages.
pub(crate) fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or("");
            format!("{}{user}:***@{}", &url[..scheme_end + 3], &rest[at + 1..])
        }
        None => url.to_string(),
    }
}

/// MLflow's boolean variables: `true`/`1` or `false`/`0`, any case.
fn parse_bool(name: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Error::InvalidParameter(format!(
            "{name} value must be one of ['true', 'false', '1', '0'] (case-insensitive), but \
             got '{value}'"
        ))),
    }
}

fn parse_f64(name: &str, value: &str) -> Result<f64> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| Error::InvalidParameter(format!("{name} must be a number, got '{value}'")))
}

/// `~/.mlflow/credentials`.
fn credentials_file() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".mlflow").join("credentials"))
}

/// Reads `mlflow_tracking_username` / `mlflow_tracking_password` from the `[mlflow]` section
/// of an INI file (MLflow's `~/.mlflow/credentials`); a missing or unreadable file gives none.
fn read_credentials_file(path: &Path) -> (Option<String>, Option<String>) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return (None, None);
    };
    let mut in_section = false;
    let (mut user, mut password) = (None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') && line.ends_with(']') {
            in_section = line[1..line.len() - 1].trim() == "mlflow";
            continue;
        }
        if !in_section || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let Some((k, v)) = line.split_once('=').or_else(|| line.split_once(':')) else {
            continue;
        };
        let value = Some(v.trim().to_string()).filter(|v| !v.is_empty());
        match k.trim().to_ascii_lowercase().as_str() {
            "mlflow_tracking_username" => user = value,
            "mlflow_tracking_password" => password = value,
            _ => {}
        }
    }
    (user, password)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)], file: Option<&Path>) -> Result<RestConfig> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RestConfig::from_lookup("http://127.0.0.1:5000/", &|n| map.get(n).cloned(), file)
    }

    #[test]
    fn defaults_match_mlflow() {
        let c = cfg(&[], None).unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:5000");
        assert_eq!(c.auth, Auth::None);
        assert_eq!(c.timeout, Duration::from_secs(120));
        assert_eq!(c.max_retries, 7);
        assert_eq!(c.backoff_factor, 2.0);
        assert!(c.respect_retry_after);
    }

    #[test]
    fn credentials_and_precedence() {
        let c = cfg(&[("MLFLOW_TRACKING_TOKEN", "tok")], None).unwrap();
        assert_eq!(c.auth.header_value().unwrap(), "Bearer tok");
        let c = cfg(
            &[
                ("MLFLOW_TRACKING_TOKEN", "tok"),
                ("MLFLOW_TRACKING_USERNAME", "alice"),
                ("MLFLOW_TRACKING_PASSWORD", "secret"),
            ],
            None,
        )
        .unwrap();
        // base64("alice:secret")
        assert_eq!(c.auth.header_value().unwrap(), "Basic YWxpY2U6c2VjcmV0");
        assert!(!format!("{c:?}").contains("secret"));

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("credentials");
        std::fs::write(
            &file,
            "[other]\nmlflow_tracking_username = x\n[mlflow]\nmlflow_tracking_username = bob\n\
             mlflow_tracking_password = pw\n",
        )
        .unwrap();
        let c = cfg(&[], Some(&file)).unwrap();
        assert_eq!(
            c.auth,
            Auth::Basic {
                username: "bob".into(),
                password: "pw".into()
            }
        );
        // The environment wins over the file, field by field.
        let c = cfg(&[("MLFLOW_TRACKING_USERNAME", "carol")], Some(&file)).unwrap();
        assert_eq!(
            c.auth,
            Auth::Basic {
                username: "carol".into(),
                password: "pw".into()
            }
        );
    }

    #[test]
    fn url_credentials_and_paths() {
        let c = RestConfig::new("https://u%40x:p%3Aw@host:8443/mlflow/?q=1").unwrap();
        assert_eq!(c.base_url, "https://host:8443/mlflow");
        assert_eq!(
            c.auth,
            Auth::Basic {
                username: "u@x".into(),
                password: "p:w".into()
            }
        );
        assert_eq!(
            redact("https://u:pw@host/x"),
            "https://u:***@host/x".to_string()
        );
        assert!(RestConfig::new("ftp://host").is_err());
        assert!(RestConfig::new("http://").is_err());
    }

    #[test]
    fn invalid_values_are_clear_errors() {
        for (k, v) in [
            ("MLFLOW_HTTP_REQUEST_TIMEOUT", "soon"),
            ("MLFLOW_HTTP_REQUEST_TIMEOUT", "0"),
            ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "11"),
            ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "-1"),
            ("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "500"),
            ("MLFLOW_TRACKING_INSECURE_TLS", "maybe"),
        ] {
            let err = cfg(&[(k, v)], None).unwrap_err();
            assert!(err.to_string().contains(k), "{k}={v}: {err}");
        }
        let err = cfg(
            &[
                ("MLFLOW_TRACKING_INSECURE_TLS", "true"),
                ("MLFLOW_TRACKING_SERVER_CERT_PATH", "/x.pem"),
            ],
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("only one"), "{err}");
        let c = cfg(
            &[
                ("MLFLOW_HTTP_REQUEST_TIMEOUT", "2"),
                ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0"),
                ("MLFLOW_TRACKING_INSECURE_TLS", "TRUE"),
            ],
            None,
        )
        .unwrap();
        assert_eq!(c.timeout, Duration::from_secs(2));
        assert_eq!(c.max_retries, 0);
        assert!(c.insecure_tls);
    }
}
