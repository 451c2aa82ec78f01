//! Every environment variable mlscope reads, in one place (the table is also in
//! `docs/ENVIRONMENT.md`).
//!
//! `MLFLOW_*` variables mean what they mean to MLflow's Python client; `MLSCOPE_*` ones are
//! mlscope's own. Code reads a variable through its constant here, so a grep for the constant
//! finds every reader, and through the parsers below, so a bad value is an error that names the
//! variable (as MLflow's are) instead of being silently ignored.
//!
//! | variable | read by | meaning |
//! |---|---|---|
//! | [`MLFLOW_TRACKING_URI`] | fluent API, CLI, viewer, artifact URIs | the tracking store |
//! | [`MLFLOW_EXPERIMENT_NAME`], [`MLFLOW_EXPERIMENT_ID`] | fluent API | the active experiment |
//! | [`MLFLOW_RUN_ID`] | fluent API | resume this run in `start_run` |
//! | [`MLFLOW_RUN_CONTEXT`] | run context | extra tags (JSON object) for new runs |
//! | [`MLFLOW_TRACKING_USERNAME`], [`MLFLOW_TRACKING_PASSWORD`], [`MLFLOW_TRACKING_TOKEN`] | REST store | credentials; the username is also the run's user |
//! | [`MLFLOW_TRACKING_INSECURE_TLS`], [`MLFLOW_TRACKING_SERVER_CERT_PATH`], [`MLFLOW_TRACKING_CLIENT_CERT_PATH`] | HTTP transport | TLS |
//! | [`MLFLOW_HTTP_REQUEST_TIMEOUT`], [`MLFLOW_HTTP_REQUEST_MAX_RETRIES`], [`MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR`], [`MLFLOW_HTTP_REQUEST_BACKOFF_JITTER`], [`MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER`] | HTTP transport | timeouts and retries |
//! | [`MLFLOW_TRUNCATE_LONG_VALUES`] | validation | truncate over-long param/tag values instead of refusing them |
//! | [`MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH`] | SQLite store | longest experiment artifact location |
//! | [`MLFLOW_SERVER_ARTIFACT_ROOT`] (`_MLFLOW_SERVER_ARTIFACT_ROOT`) | SQLite store | artifact root of new experiments |
//! | [`MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING`], [`MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL`], [`MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING`], [`MLFLOW_SYSTEM_METRICS_NODE_ID`] | system metrics | the monitor |
//! | [`MLFLOW_ENABLE_ASYNC_LOGGING`] | tracking | `log_*` calls are asynchronous |
//! | [`MLSCOPE_ASYNC_LOGGING_QUEUE_SIZE`] | tracking | capacity of the asynchronous logging queue |
//! | [`MLSCOPE_SQLITE_BUSY_TIMEOUT_MS`] | SQLite store | how long one SQLite statement waits for a lock |
//! | [`MLSCOPE_SQLITE_WRITE_TIMEOUT_MS`] | SQLite store | how long a write keeps retrying a locked database |
//! | [`MLSCOPE_READ_ONLY`] | CLI binary | open the viewer read-only |
//! | [`MLSCOPE_SERVER_POLL_SECS`] | viewer | polling interval for tracking servers |
//! | [`MLSCOPE_VIEWER_TIMINGS`], [`MLSCOPE_VIEWER_TRACE`] | viewer | diagnostics on stderr |
//! | [`MLSCOPE_NO_INDEX`], [`MLSCOPE_INDEX_DIR`] | file store (CLI, viewer) | the persistent run index |
//!
//! `HOME` (for `~/.mlflow/credentials`) and `LOGNAME`/`USER`/`LNAME`/`USERNAME` (the run's user,
//! as Python's `getpass.getuser()`) are read too; they are not MLflow's.

use crate::error::{Error, Result};

/// The tracking URI (`./mlruns`, `sqlite:///mlflow.db`, `http://host:5000`).
pub const MLFLOW_TRACKING_URI: &str = "MLFLOW_TRACKING_URI";
/// Name of the experiment the fluent API logs to when none was set.
pub const MLFLOW_EXPERIMENT_NAME: &str = "MLFLOW_EXPERIMENT_NAME";
/// Id of the experiment the fluent API logs to when none was set.
pub const MLFLOW_EXPERIMENT_ID: &str = "MLFLOW_EXPERIMENT_ID";
/// A run `start_run` resumes.
pub const MLFLOW_RUN_ID: &str = "MLFLOW_RUN_ID";
/// Extra tags for new runs, a JSON object.
pub const MLFLOW_RUN_CONTEXT: &str = "MLFLOW_RUN_CONTEXT";
/// Basic-auth user of a tracking server; also the user recorded on runs.
pub const MLFLOW_TRACKING_USERNAME: &str = "MLFLOW_TRACKING_USERNAME";
/// Basic-auth password of a tracking server.
pub const MLFLOW_TRACKING_PASSWORD: &str = "MLFLOW_TRACKING_PASSWORD";
/// Bearer token of a tracking server.
pub const MLFLOW_TRACKING_TOKEN: &str = "MLFLOW_TRACKING_TOKEN";
/// Skip TLS certificate verification (`true`/`false`).
pub const MLFLOW_TRACKING_INSECURE_TLS: &str = "MLFLOW_TRACKING_INSECURE_TLS";
/// PEM file of the CA (or server certificate) to trust.
pub const MLFLOW_TRACKING_SERVER_CERT_PATH: &str = "MLFLOW_TRACKING_SERVER_CERT_PATH";
/// PEM file with the client certificate and its key (mutual TLS).
pub const MLFLOW_TRACKING_CLIENT_CERT_PATH: &str = "MLFLOW_TRACKING_CLIENT_CERT_PATH";
/// Seconds an HTTP request may take.
pub const MLFLOW_HTTP_REQUEST_TIMEOUT: &str = "MLFLOW_HTTP_REQUEST_TIMEOUT";
/// Retries of a failed HTTP request (0 to 10).
pub const MLFLOW_HTTP_REQUEST_MAX_RETRIES: &str = "MLFLOW_HTTP_REQUEST_MAX_RETRIES";
/// Exponential backoff factor between HTTP retries.
pub const MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: &str = "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR";
/// Random jitter added to the HTTP backoff.
pub const MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: &str = "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER";
/// Whether a server's `Retry-After` header is obeyed.
pub const MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER: &str = "MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER";
/// Truncate over-long param and tag values instead of refusing them.
pub const MLFLOW_TRUNCATE_LONG_VALUES: &str = "MLFLOW_TRUNCATE_LONG_VALUES";
/// Longest experiment artifact location in a SQL store (default 2048).
pub const MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH: &str = "MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH";
/// The artifact root MLflow's server passes to the stores created in its process.
pub const MLFLOW_SERVER_ARTIFACT_ROOT: &str = "_MLFLOW_SERVER_ARTIFACT_ROOT";
/// Turn system metrics logging on or off for every run.
pub const MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING: &str = "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING";
/// Seconds between two system metrics samples.
pub const MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL: &str = "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL";
/// System metrics samples aggregated into one logged step.
pub const MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING: &str =
    "MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING";
/// Node id inserted in system metric keys.
pub const MLFLOW_SYSTEM_METRICS_NODE_ID: &str = "MLFLOW_SYSTEM_METRICS_NODE_ID";
/// Make the fluent `log_*` calls asynchronous.
pub const MLFLOW_ENABLE_ASYNC_LOGGING: &str = "MLFLOW_ENABLE_ASYNC_LOGGING";
/// Capacity of the asynchronous logging queue (operations).
pub const MLSCOPE_ASYNC_LOGGING_QUEUE_SIZE: &str = "MLSCOPE_ASYNC_LOGGING_QUEUE_SIZE";
/// Milliseconds one SQLite statement waits for a lock held by another connection
/// (`PRAGMA busy_timeout`; default 20,000, MLflow's value).
pub const MLSCOPE_SQLITE_BUSY_TIMEOUT_MS: &str = "MLSCOPE_SQLITE_BUSY_TIMEOUT_MS";
/// Milliseconds a SQLite write keeps retrying while the database stays locked (default
/// 120,000).
pub const MLSCOPE_SQLITE_WRITE_TIMEOUT_MS: &str = "MLSCOPE_SQLITE_WRITE_TIMEOUT_MS";
/// Open the viewer without allowing changes (any value but empty or `0`).
pub const MLSCOPE_READ_ONLY: &str = "MLSCOPE_READ_ONLY";
/// Seconds between two polls of a tracking server in the viewer.
pub const MLSCOPE_SERVER_POLL_SECS: &str = "MLSCOPE_SERVER_POLL_SECS";
/// Print the viewer's frame timings on stderr.
pub const MLSCOPE_VIEWER_TIMINGS: &str = "MLSCOPE_VIEWER_TIMINGS";
/// Print the viewer worker's requests on stderr.
pub const MLSCOPE_VIEWER_TRACE: &str = "MLSCOPE_VIEWER_TRACE";
/// Turn off the persistent run index of file stores (any value but empty or `0`).
pub const MLSCOPE_NO_INDEX: &str = "MLSCOPE_NO_INDEX";
/// Folder of the persistent run indexes (default `$XDG_CACHE_HOME/mlscope/index`).
pub const MLSCOPE_INDEX_DIR: &str = "MLSCOPE_INDEX_DIR";

/// The value of `name`, `None` when unset, not Unicode, or blank.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Whether `name` is set to something other than empty or `0` (switches like
/// [`MLSCOPE_READ_ONLY`]).
pub fn flag(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Parses an MLflow boolean environment variable (`true`, `false`, `1`, `0`, any case); unset
/// or empty is `None`, anything else an error, as in MLflow.
pub fn bool_var(name: &str) -> Result<Option<bool>> {
    match std::env::var(name) {
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) => match v.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(Error::InvalidParameter(format!(
                "{name} value must be one of ['true', 'false', '1', '0'] (case-insensitive), but got {v}"
            ))),
        },
        Err(_) => Ok(None),
    }
}

/// Parses a numeric environment variable; unset or blank is `None`, anything unparsable an
/// error naming the variable.
pub fn parse_var<T: std::str::FromStr>(name: &str) -> Result<Option<T>> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => v.trim().parse().map(Some).map_err(|_| {
            Error::InvalidParameter(format!("{name} must be a number, but got '{v}'"))
        }),
        Err(_) => Ok(None),
    }
}

/// A numeric setting that must never fail an operation: the parsed value of `name`, or
/// `default` when unset or unparsable.
pub fn parse_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}
