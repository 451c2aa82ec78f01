//! Errors, with the MLflow error code each one maps to.

use std::fmt;
use std::path::PathBuf;

/// MLflow's error codes (`databricks_pb2.ErrorCode`), as carried by REST errors and `MlflowException`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// A parameter value was invalid (bad key, over-long value, changed param, bad filter…).
    InvalidParameterValue,
    /// The experiment, run or other entity does not exist.
    ResourceDoesNotExist,
    /// An entity with that name or id already exists.
    ResourceAlreadyExists,
    /// The operation is not allowed in the entity's current state (e.g. logging to a deleted run).
    InvalidState,
    /// The request was malformed.
    BadRequest,
    /// The store content is damaged or an I/O operation failed.
    InternalError,
    /// A tracking server refused the request for want of (valid) credentials (HTTP 401).
    Unauthenticated,
    /// A tracking server refused the request to these credentials (HTTP 403).
    PermissionDenied,
    /// A tracking server asked the client to slow down (HTTP 429).
    RequestLimitExceeded,
    /// A tracking server is briefly unable to answer (HTTP 503).
    TemporarilyUnavailable,
}

impl ErrorCode {
    /// The code as MLflow spells it, e.g. `RESOURCE_DOES_NOT_EXIST`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidParameterValue => "INVALID_PARAMETER_VALUE",
            ErrorCode::ResourceDoesNotExist => "RESOURCE_DOES_NOT_EXIST",
            ErrorCode::ResourceAlreadyExists => "RESOURCE_ALREADY_EXISTS",
            ErrorCode::InvalidState => "INVALID_STATE",
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::PermissionDenied => "PERMISSION_DENIED",
            ErrorCode::RequestLimitExceeded => "REQUEST_LIMIT_EXCEEDED",
            ErrorCode::TemporarilyUnavailable => "TEMPORARILY_UNAVAILABLE",
        }
    }

    /// Parses MLflow's spelling of a code; unknown codes map to `InternalError`.
    pub fn parse(code: &str) -> ErrorCode {
        match code {
            "INVALID_PARAMETER_VALUE" => ErrorCode::InvalidParameterValue,
            "RESOURCE_DOES_NOT_EXIST" | "NOT_FOUND" => ErrorCode::ResourceDoesNotExist,
            "RESOURCE_ALREADY_EXISTS" => ErrorCode::ResourceAlreadyExists,
            "INVALID_STATE" => ErrorCode::InvalidState,
            "BAD_REQUEST" => ErrorCode::BadRequest,
            "UNAUTHENTICATED" => ErrorCode::Unauthenticated,
            "PERMISSION_DENIED" => ErrorCode::PermissionDenied,
            "REQUEST_LIMIT_EXCEEDED" => ErrorCode::RequestLimitExceeded,
            "TEMPORARILY_UNAVAILABLE" => ErrorCode::TemporarilyUnavailable,
            _ => ErrorCode::InternalError,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every error mlscope returns. Messages name what was wrong; paths and URIs come last.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A caller-supplied value was rejected (MLflow's `INVALID_PARAMETER_VALUE`).
    #[error("INVALID_PARAMETER_VALUE: {0}")]
    InvalidParameter(String),
    /// The named entity does not exist (`RESOURCE_DOES_NOT_EXIST`).
    #[error("RESOURCE_DOES_NOT_EXIST: {0}")]
    NotFound(String),
    /// The entity already exists (`RESOURCE_ALREADY_EXISTS`).
    #[error("RESOURCE_ALREADY_EXISTS: {0}")]
    AlreadyExists(String),
    /// The entity is in a state that forbids the operation (`INVALID_STATE`).
    #[error("INVALID_STATE: {0}")]
    InvalidState(String),
    /// Store content could not be understood.
    #[error("INTERNAL_ERROR: {message}: {}", path.display())]
    Corrupt {
        /// What was wrong with the content.
        message: String,
        /// The file or directory holding it.
        path: PathBuf,
    },
    /// An I/O operation failed.
    #[error("INTERNAL_ERROR: {action}: {source}: {}", path.display())]
    Io {
        /// What mlscope was doing, e.g. "cannot write run meta".
        action: String,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A database operation failed. `kind` says why in a form callers can match on; `source`
    /// is SQLite's own error when there is one.
    #[error("INTERNAL_ERROR: {message}")]
    Database {
        /// Why: the database stayed locked, is read-only, or something else.
        kind: DatabaseErrorKind,
        /// What failed and where, in words.
        message: String,
        /// SQLite's error (a `rusqlite::Error`), when SQLite reported one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
    /// An error reported by a remote server or otherwise carrying an explicit MLflow code.
    #[error("{code}: {message}")]
    Mlflow {
        /// MLflow's error code.
        code: ErrorCode,
        /// The message.
        message: String,
    },
}

impl Error {
    /// The MLflow error code for this error.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Error::InvalidParameter(_) => ErrorCode::InvalidParameterValue,
            Error::NotFound(_) => ErrorCode::ResourceDoesNotExist,
            Error::AlreadyExists(_) => ErrorCode::ResourceAlreadyExists,
            Error::InvalidState(_) => ErrorCode::InvalidState,
            Error::Corrupt { .. } | Error::Io { .. } | Error::Database { .. } => {
                ErrorCode::InternalError
            }
            Error::Mlflow { code, .. } => *code,
        }
    }

    /// Shorthand for an [`Error::Io`].
    pub fn io(action: impl Into<String>, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action: action.into(),
            path: path.into(),
            source,
        }
    }

    /// Shorthand for an [`Error::Database`] without an underlying SQLite error.
    pub fn database(kind: DatabaseErrorKind, message: impl Into<String>) -> Self {
        Error::Database {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The kind of a database error, `None` for every other error.
    pub fn database_kind(&self) -> Option<DatabaseErrorKind> {
        match self {
            Error::Database { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// Shorthand for an [`Error::Corrupt`].
    pub fn corrupt(message: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Error::Corrupt {
            message: message.into(),
            path: path.into(),
        }
    }
}

/// Why a database operation failed ([`Error::Database`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DatabaseErrorKind {
    /// Other connections kept the database locked until the write timeout ran out; nothing was
    /// written. Retrying later may succeed.
    Locked,
    /// The database file or its directory cannot be written.
    ReadOnly,
    /// Any other database failure.
    Other,
}

/// `Result` with mlscope's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A problem found while reading a store that did not stop the read: the damaged
/// run, experiment or line was skipped and everything else was returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreWarning {
    /// Where the problem is (a file or directory path, or a database row description).
    pub location: String,
    /// What is wrong, in words a user understands.
    pub message: String,
}

impl StoreWarning {
    /// Creates a warning.
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        StoreWarning {
            location: location.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for StoreWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.location)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_mlflow_spelling() {
        for code in [
            ErrorCode::InvalidParameterValue,
            ErrorCode::ResourceDoesNotExist,
            ErrorCode::ResourceAlreadyExists,
            ErrorCode::InvalidState,
            ErrorCode::BadRequest,
            ErrorCode::InternalError,
            ErrorCode::Unauthenticated,
            ErrorCode::PermissionDenied,
            ErrorCode::RequestLimitExceeded,
            ErrorCode::TemporarilyUnavailable,
        ] {
            assert_eq!(ErrorCode::parse(code.as_str()), code);
        }
        assert_eq!(
            ErrorCode::parse("NOT_FOUND"),
            ErrorCode::ResourceDoesNotExist
        );
        assert_eq!(ErrorCode::parse("SOMETHING_NEW"), ErrorCode::InternalError);
    }

    #[test]
    fn server_errors_show_their_code_once() {
        let e = Error::Mlflow {
            code: ErrorCode::Unauthenticated,
            message: "the tracking server refused the request".into(),
        };
        assert_eq!(e.error_code(), ErrorCode::Unauthenticated);
        assert_eq!(
            e.to_string(),
            "UNAUTHENTICATED: the tracking server refused the request"
        );
    }
}
