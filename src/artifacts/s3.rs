//! `s3://bucket/prefix` artifact URIs (Amazon S3 and S3-compatible services such as MinIO),
//! configured the way MLflow's boto3 client is, read and written by
//! [`ObjectStoreArtifactRepository`].
//!
//! | variable | meaning (as for MLflow) |
//! |---|---|
//! | [`MLFLOW_S3_ENDPOINT_URL`] | the S3-compatible service, e.g. `http://minio:9000` (path-style requests; `http://` allowed) |
//! | [`MLFLOW_S3_IGNORE_TLS`] | `true`: do not verify the endpoint's TLS certificate |
//! | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` | static credentials |
//! | `AWS_PROFILE` (`AWS_DEFAULT_PROFILE`) | profile of `~/.aws/credentials` and `~/.aws/config` (default: `default`) |
//! | `AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE` | other locations of those files |
//! | `AWS_DEFAULT_REGION` (`AWS_REGION`) | the region, else the profile's, else `us-east-1` |
//! | `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`, `AWS_CONTAINER_CREDENTIALS_*` | role credentials (EKS, ECS) |
//!
//! Credentials are looked up in boto3's order: environment, shared credentials file, config
//! file, web identity / container roles, and the EC2 instance metadata service only on an EC2
//! machine. When none is found the repository is not created and the error names the variables
//! to set: no request is made and nothing waits on a metadata service that is not there.
//! Requests are retried twice at most and a connection attempt gives up after 5 s, so an
//! unreachable endpoint is reported in seconds.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use ::object_store::ObjectStore;
use ::object_store::aws::AmazonS3Builder;

use super::object_store::{
    ObjectStoreArtifactRepository, StoreContext, cached_store, client_options,
    install_crypto_provider, retry_config, split_bucket_uri,
};
use crate::error::{Error, Result};

/// The S3-compatible service artifacts go to (MLflow's variable), e.g. `http://127.0.0.1:9000`.
pub const MLFLOW_S3_ENDPOINT_URL: &str = "MLFLOW_S3_ENDPOINT_URL";
/// `true`: the endpoint's TLS certificate is not verified (MLflow's variable).
pub const MLFLOW_S3_IGNORE_TLS: &str = "MLFLOW_S3_IGNORE_TLS";

const CREDENTIALS_HINT: &str = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and \
     AWS_SESSION_TOKEN for temporary credentials), or AWS_PROFILE naming a profile of \
     ~/.aws/credentials";

/// An `s3://` URI split into bucket and key prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket.
    pub bucket: String,
    /// Key prefix of the artifact root, without leading or trailing `/`.
    pub prefix: String,
}

/// Parses `s3://bucket[/prefix]` (also `s3a://`, `s3n://`, which some Hadoop-era stores record).
pub fn parse_s3_uri(uri: &str) -> Result<S3Location> {
    let (bucket, prefix) = split_bucket_uri(uri, &["s3://", "s3a://", "s3n://"], "an s3://", "S3")?;
    Ok(S3Location { bucket, prefix })
}

/// Static credentials and a region, from the environment or a profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct AwsSettings {
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    session_token: Option<String>,
    region: Option<String>,
}

fn env(name: &str) -> Option<String> {
    super::object_store::env_var(name)
}

fn home_file(var: &str, default: &str) -> Option<PathBuf> {
    if let Some(p) = env(var) {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(default))
}

/// The `key = value` lines of section `section` of an INI file (`None`: no such section).
fn ini_section(text: &str, section: &str) -> Option<HashMap<String, String>> {
    let mut found: Option<HashMap<String, String>> = None;
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.trim() == section;
            if inside {
                found.get_or_insert_with(HashMap::new);
            }
            continue;
        }
        if inside && let Some((k, v)) = line.split_once('=') {
            found
                .get_or_insert_with(HashMap::new)
                .insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    found
}

/// Credentials and region as boto3 finds them (environment first, then the profile).
fn aws_settings() -> Result<AwsSettings> {
    let mut s = AwsSettings {
        access_key_id: env("AWS_ACCESS_KEY_ID"),
        secret_access_key: env("AWS_SECRET_ACCESS_KEY"),
        session_token: env("AWS_SESSION_TOKEN"),
        region: env("AWS_DEFAULT_REGION").or_else(|| env("AWS_REGION")),
    };
    let explicit_profile = env("AWS_PROFILE").or_else(|| env("AWS_DEFAULT_PROFILE"));
    let profile = explicit_profile.clone().unwrap_or_else(|| "default".into());
    let read = |var: &str, default: &str| {
        home_file(var, default).and_then(|p| std::fs::read_to_string(p).ok())
    };
    let credentials = read("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials")
        .and_then(|t| ini_section(&t, &profile));
    let config_section = if profile == "default" {
        "default".to_string()
    } else {
        format!("profile {profile}")
    };
    let config =
        read("AWS_CONFIG_FILE", ".aws/config").and_then(|t| ini_section(&t, &config_section));
    if let Some(p) = &explicit_profile
        && credentials.is_none()
        && config.is_none()
    {
        return Err(Error::InvalidParameter(format!(
            "AWS_PROFILE is '{p}', but neither ~/.aws/credentials (AWS_SHARED_CREDENTIALS_FILE) \
             nor ~/.aws/config (AWS_CONFIG_FILE) has that profile"
        )));
    }
    if s.access_key_id.is_none() || s.secret_access_key.is_none() {
        for section in [credentials.as_ref(), config.as_ref()]
            .into_iter()
            .flatten()
        {
            if let (Some(id), Some(secret)) = (
                section.get("aws_access_key_id"),
                section.get("aws_secret_access_key"),
            ) {
                s.access_key_id = Some(id.clone());
                s.secret_access_key = Some(secret.clone());
                s.session_token = section.get("aws_session_token").cloned();
                break;
            }
        }
    }
    if s.region.is_none() {
        s.region = config.as_ref().and_then(|c| c.get("region").cloned());
    }
    Ok(s)
}

/// Whether this machine is an EC2 instance (where the instance metadata service answers).
fn on_ec2() -> bool {
    [
        "/sys/devices/virtual/dmi/id/board_asset_tag",
        "/sys/hypervisor/uuid",
    ]
    .iter()
    .any(|f| {
        std::fs::read_to_string(f)
            .is_ok_and(|t| t.trim().starts_with("i-") || t.trim().starts_with("ec2"))
    })
}

/// Everything that decides how `s3://` URIs are reached: MLflow's and AWS's settings, read
/// once by [`S3Config::from_env`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Config {
    /// [`MLFLOW_S3_ENDPOINT_URL`]: an S3-compatible service (`None`: AWS).
    pub endpoint: Option<String>,
    /// [`MLFLOW_S3_IGNORE_TLS`]: do not verify the endpoint's certificate.
    pub ignore_tls: bool,
    /// `AWS_ACCESS_KEY_ID` (or the profile's).
    pub access_key_id: Option<String>,
    /// `AWS_SECRET_ACCESS_KEY` (or the profile's).
    pub secret_access_key: Option<String>,
    /// `AWS_SESSION_TOKEN` (or the profile's).
    pub session_token: Option<String>,
    /// The region (`us-east-1` when `None`).
    pub region: Option<String>,
    /// Role credentials are configured (web identity or container variables): object_store
    /// reads them from the environment.
    pub role_credentials: bool,
    /// The EC2 instance metadata service may be asked for credentials.
    pub instance_metadata: bool,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("ignore_tls", &self.ignore_tls)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "***"),
            )
            .field("session_token", &self.session_token.as_ref().map(|_| "***"))
            .field("region", &self.region)
            .field("role_credentials", &self.role_credentials)
            .field("instance_metadata", &self.instance_metadata)
            .finish()
    }
}

impl S3Config {
    /// Reads the settings the way MLflow's boto3 client does (see the [module docs](self)).
    pub fn from_env() -> Result<S3Config> {
        let settings = aws_settings()?;
        Ok(S3Config {
            endpoint: env(MLFLOW_S3_ENDPOINT_URL).map(|e| e.trim_end_matches('/').to_string()),
            ignore_tls: crate::env::bool_var(MLFLOW_S3_IGNORE_TLS)?.unwrap_or(false),
            access_key_id: settings.access_key_id,
            secret_access_key: settings.secret_access_key,
            session_token: settings.session_token,
            region: settings.region,
            role_credentials: [
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            ]
            .iter()
            .any(|v| env(v).is_some()),
            instance_metadata: on_ec2(),
        })
    }

    fn static_credentials(&self) -> bool {
        self.access_key_id.is_some() && self.secret_access_key.is_some()
    }

    fn cache_key(&self, bucket: &str) -> String {
        format!(
            "{bucket}\u{0}{:?}\u{0}{}\u{0}{:?}\u{0}{:?}\u{0}{:?}\u{0}{:?}\u{0}{}",
            self.endpoint,
            self.ignore_tls,
            self.region,
            self.access_key_id,
            self.secret_access_key,
            self.session_token,
            self.role_credentials
        )
    }

    fn build(&self, uri: &str, bucket: &str) -> Result<Arc<dyn ObjectStore>> {
        install_crypto_provider();
        let mut builder = if self.static_credentials() {
            let mut b = AmazonS3Builder::new()
                .with_access_key_id(self.access_key_id.clone().unwrap_or_default())
                .with_secret_access_key(self.secret_access_key.clone().unwrap_or_default());
            if let Some(t) = &self.session_token {
                b = b.with_token(t.clone());
            }
            b
        } else {
            // Role credentials: object_store reads the same AWS_* variables boto3 does.
            AmazonS3Builder::from_env()
        };
        builder = builder
            .with_bucket_name(bucket)
            .with_region(self.region.clone().unwrap_or_else(|| "us-east-1".into()))
            .with_client_options(client_options(self.ignore_tls))
            .with_retry(retry_config());
        if let Some(e) = &self.endpoint {
            builder = builder
                .with_endpoint(e.clone())
                .with_allow_http(e.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        let store = builder.build().map_err(|e| {
            Error::InvalidParameter(format!(
                "cannot configure S3 access for {uri}: {e} (check {MLFLOW_S3_ENDPOINT_URL}, \
                 AWS_DEFAULT_REGION and the AWS credentials)"
            ))
        })?;
        Ok(Arc::new(store))
    }
}

/// The repository of an `s3://` artifact URI, configured from MLflow's and AWS's variables
/// (see the [module docs](self)).
pub fn open_s3_repository(uri: &str) -> Result<ObjectStoreArtifactRepository> {
    open_s3_repository_with(uri, &S3Config::from_env()?)
}

/// The repository of an `s3://` artifact URI with explicit settings. Fails at once, without a
/// request, when no credentials can be had.
pub fn open_s3_repository_with(
    uri: &str,
    config: &S3Config,
) -> Result<ObjectStoreArtifactRepository> {
    let loc = parse_s3_uri(uri)?;
    if !config.static_credentials() && !config.role_credentials && !config.instance_metadata {
        return Err(Error::InvalidParameter(format!(
            "no AWS credentials found for {uri}: {CREDENTIALS_HINT}{}",
            if config.endpoint.is_none() {
                "; for MinIO or another S3-compatible service also set MLFLOW_S3_ENDPOINT_URL"
            } else {
                ""
            }
        )));
    }
    let context = StoreContext {
        kind: "S3",
        endpoint: config.endpoint.clone().unwrap_or_default(),
        endpoint_var: MLFLOW_S3_ENDPOINT_URL,
        credentials_hint: CREDENTIALS_HINT,
    };
    let store = cached_store(format!("s3\u{0}{}", config.cache_key(&loc.bucket)), || {
        config.build(uri, &loc.bucket)
    })?;
    Ok(ObjectStoreArtifactRepository::new(
        uri.trim(),
        store,
        &loc.prefix,
        context,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::ArtifactRepository as _;

    #[test]
    fn parses_s3_uris() {
        assert_eq!(
            parse_s3_uri("s3://bkt/a/b/1/run/artifacts/").unwrap(),
            S3Location {
                bucket: "bkt".into(),
                prefix: "a/b/1/run/artifacts".into()
            }
        );
        assert_eq!(parse_s3_uri("s3://bkt").unwrap().prefix, "");
        assert!(parse_s3_uri("s3:///x").is_err());
        assert!(parse_s3_uri("gs://b/x").is_err());
    }

    #[test]
    fn missing_credentials_fail_at_once_naming_the_variables() {
        let err = open_s3_repository_with("s3://bkt/x", &S3Config::default()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("AWS_ACCESS_KEY_ID"), "{text}");
        assert!(text.contains("MLFLOW_S3_ENDPOINT_URL"), "{text}");
    }

    #[test]
    fn unreachable_endpoint_is_reported_naming_the_variable() {
        // A port nothing listens on: connection refused, retried twice, then a clear error.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let config = S3Config {
            endpoint: Some(format!("http://127.0.0.1:{port}")),
            access_key_id: Some("k".into()),
            secret_access_key: Some("s".into()),
            ..S3Config::default()
        };
        let repo = open_s3_repository_with("s3://bkt/x", &config).unwrap();
        let err = repo.list("").unwrap_err().to_string();
        assert!(err.contains("MLFLOW_S3_ENDPOINT_URL"), "{err}");
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
        let err = repo.read_range("a.txt", 0, 10).unwrap_err().to_string();
        assert!(err.contains("cannot reach S3"), "{err}");
        assert!(
            !format!("{config:?}").contains("\"s\""),
            "secrets are not printed"
        );
    }

    #[test]
    fn reads_profiles_like_boto3() {
        let text = "[default]\naws_access_key_id = A\naws_secret_access_key=B\n\n\
                    [profile dev]\nregion = eu-west-1\n# comment\n";
        let d = ini_section(text, "default").unwrap();
        assert_eq!(d.get("aws_access_key_id").map(String::as_str), Some("A"));
        assert_eq!(
            d.get("aws_secret_access_key").map(String::as_str),
            Some("B")
        );
        let dev = ini_section(text, "profile dev").unwrap();
        assert_eq!(dev.get("region").map(String::as_str), Some("eu-west-1"));
        assert!(ini_section(text, "other").is_none());
    }
}
